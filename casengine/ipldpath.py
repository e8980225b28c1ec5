"""IPLD paths as Kubo resolves ``/ipfs/CID/a/b/...``: UnixFS names in dag-pb directories (HAMT
shards included), map keys and list indexes in dag-cbor and dag-json, links followed wherever
they lead. What cat, ls, get, fsspec and the router read goes through :func:`resolve`.

A path may end inside a block (``CID/list/0`` naming an integer): :class:`Resolved` then holds
the last block's CID and the segments left inside it, as ``ipfs dag resolve`` prints them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dag import cbor, dagjson, pb
from .dag.cid import DAG_CBOR, DAG_JSON, DAG_PB, RAW, Cid, content_path
from .dag.links import CBOR, JSON
from .errors import CidNotFound, DecodeError, InvalidCid

if TYPE_CHECKING:
    from .exporter import Exporter, Node


@dataclass
class Resolved:
    """Where a path leads: the last block reached, the segments left inside it, and what is there:
    a UnixFS node (a dag-pb or raw block reached whole) or an IPLD value (any other codec)."""

    cid: Cid
    rest: list[str] = field(default_factory=list)
    value: object = None
    node: "Node | None" = None

    @property
    def unixfs(self) -> bool:
        return self.node is not None


def split(path: str) -> tuple[Cid, list[str]]:
    """The root CID and the cleaned segments of ``CID/a/b``, ``/ipfs/CID/a/b`` or ``ipfs://CID/a/b``
    (go-path's path.Clean: empty and '.' segments dropped, '..' taken back)."""
    text = content_path(path.strip())
    root, *parts = text.lstrip("/").split("/")
    names: list[str] = []
    for part in parts:
        if part == "..":
            if not names:
                raise InvalidCid(f"invalid path {path!r}: '..' above its root CID")
            names.pop()
        elif part not in ("", "."):
            names.append(part)
    return Cid.parse(root), names


def value(cid: Cid, block: bytes) -> object:
    """A block as IPLD's data model sees it (links as Cid, bytes as bytes): what ``dag get`` prints."""
    if cid.codec == DAG_CBOR:
        return cbor.decode(block)
    if cid.codec == DAG_JSON:
        return dagjson.decode(block)
    if cid.codec == CBOR:
        return cbor.decode(block, allow_links=False)
    if cid.codec == JSON:
        return dagjson.decode(block, allow_links=False)
    if cid.codec == RAW:
        return bytes(block)
    if cid.codec == DAG_PB:
        node = pb.decode(block)
        out: dict[str, object] = {}
        if node.data is not None:
            out["Data"] = node.data
        out["Links"] = [{"Hash": lk.cid, **({"Name": lk.name} if lk.name is not None else {}),
                         **({"Tsize": lk.tsize} if lk.tsize is not None else {})} for lk in node.links]
        return out
    raise DecodeError(f"could not choose a decoder: no decoder registered for multicodec code {cid.codec} "
                      f"({cid.codec:#x})")


def resolve(exporter: "Exporter", path: "str | Cid") -> Resolved:
    """Follow *path* from its root CID, reading each block it passes through once."""
    root, names = (path, []) if isinstance(path, Cid) else split(path)
    try:
        here = _block(exporter, root)
    except CidNotFound:
        raise CidNotFound(path) from None
    for name in names:
        if here.unixfs:
            child = exporter.child(here.node, name, path)
            here = Resolved(child.cid, node=child)
            continue
        here.value = _step(here.value, name)
        here.rest.append(name)
        if isinstance(here.value, Cid):
            here = _block(exporter, here.value)
    return here


def _block(exporter: "Exporter", cid: Cid) -> Resolved:
    """A block reached whole: its UnixFS node (dag-pb, raw) or its IPLD value (other codecs)."""
    if cid.codec in (DAG_PB, RAW):
        return Resolved(cid, node=exporter.node(cid))
    return Resolved(cid, value=value(cid, exporter.store.get(cid, verified=exporter.verified)))


def _step(value: object, name: str) -> object:
    """One segment into a value: a map key or a list index, in Kubo's words when there is none."""
    if isinstance(value, dict):
        if name not in value:
            raise CidNotFound(name, f'key not found: "{name}"')
        return value[name]
    if isinstance(value, list):
        try:
            index = int(name)
        except ValueError:
            raise CidNotFound(name, f'invalid segment for lookup on a list: "{name}": strconv.ParseInt: '
                                    f'parsing "{name}": invalid syntax') from None
        if not 0 <= index < len(value):
            raise CidNotFound(name, f'key not found: "{name}"')
        return value[index]
    raise CidNotFound(name, f'cannot traverse a {type(value).__name__} with segment "{name}"')


def to_json(value: object) -> bytes:
    """dag-json as Kubo's ``dag get`` writes it: keys sorted, no spaces, links and bytes as ``{"/": ...}``."""
    def conv(v: object) -> object:
        if isinstance(v, Cid):
            return {"/": str(v)}
        if isinstance(v, (bytes, bytearray)):
            return {"/": {"bytes": base64.b64encode(v).decode().rstrip("=")}}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return json.dumps(conv(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogateescape")


def to_plain_json(value: object) -> bytes:
    """The json codec as go-ipld-prime writes it: tab-indented, keys in their order, a final newline."""
    return json.dumps(value, indent="\t", ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"


def to_cbor(value: object) -> bytes:
    """Canonical dag-cbor of a data-model value (links as tag 42)."""
    import dag_cbor
    from multiformats import CID

    def conv(v: object) -> object:
        if isinstance(v, Cid):
            return CID.decode(bytes(v))
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    try:
        return dag_cbor.encode(conv(value))
    except Exception as e:  # the dag_cbor package raises its own hierarchy
        raise DecodeError(f"cannot encode as dag-cbor: {e}") from None
