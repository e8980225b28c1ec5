"""Kubo's words, shared by every node that talks to Kubo or speaks like it: ``ipfs add``'s
flags as its RPC and CLI spell them, CIDs as nodes print them, and the texts of its errors."""

from __future__ import annotations

import re

from ..dag.cid import Cid
from ..dag.unixfs import DataType
from ..errors import CidNotFound, InvalidCid, InvalidOption
from ..exporter import Entry
from ..options import ImportOptions

#: Bytes read from a node's answer at a time.
CHUNK = 1 << 20
NOT_FOUND = re.compile(r"ENOENT|not found|could not find|no link named|could not resolve|does not exist", re.I)
NOT_PINNED = re.compile(r"not pinned|pinned indirectly|is pinned recursively", re.I)


def parse_cid(text: str) -> Cid | str:
    """A CID the node printed (base58btc CIDv1 included), or the text as given if it is none."""
    try:
        return Cid.parse(text)
    except InvalidCid:
        return text


def root_cid(path: str | Cid) -> Cid:
    """The CID a ``CID[/path]`` argument starts with; CidNotFound for text that is no CID."""
    if isinstance(path, Cid):
        return path
    text = path.strip()
    text = text[6:] if text.startswith("/ipfs/") else text
    try:
        return Cid.parse(text.split("/", 1)[0])
    except InvalidCid as e:
        raise CidNotFound(path, f"not a CID: {e}") from None


def add_args(options: ImportOptions) -> dict[str, str]:
    """``ipfs add`` options as Kubo's RPC (and CLI long flags) spell them; hidden is client-side."""
    default = ImportOptions()
    if options.max_links != default.max_links or options.shard_threshold != default.shard_threshold:
        raise InvalidOption("max_links and shard_threshold cannot be set through Kubo's add command")
    args = {"pin": flag(options.pin)}
    if options.chunker != default.chunker:
        args["chunker"] = options.chunker
    if options.hash != default.hash:  # js-ipfs switches to CIDv1 when any hash is named
        args["hash"] = options.hash
    if options.cid_version is not None:
        args["cid-version"] = str(options.cid_version)
    if options.raw_leaves is not None:
        args["raw-leaves"] = flag(options.raw_leaves)
    if options.trickle:
        args["trickle"] = "true"
    if options.inline:
        args["inline"] = "true"
        args["inline-limit"] = str(options.inline_limit)
    if options.wrap_with_directory:
        args["wrap-with-directory"] = "true"
    if options.only_hash:
        args["only-hash"] = "true"
    return args


def flag(value: bool) -> str:
    return "true" if value else "false"


def ls_entries(answer: dict) -> list[Entry]:
    """The entries of ``ls``'s JSON answer (RPC, or the CLI's ``--enc=json``); a parsing error is
    the caller's to turn into RemoteError (``nodes.remote.parsing``)."""
    out = []
    for link in ((answer.get("Objects") or [{}])[0].get("Links") or []):
        kind = DataType(int(link.get("Type", 2)))
        out.append(Entry(link.get("Name", ""), Cid.parse(link["Hash"]), int(link.get("Size") or 0), kind,
                         (link.get("Target") or None) if kind == DataType.SYMLINK else None))
    return out
