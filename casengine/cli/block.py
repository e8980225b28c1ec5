"""``casengine block put|get|stat|rm``: Kubo's ``ipfs block`` flags, lines and error texts
(kubo core/commands/block.go, core/coreiface/options/block.go, go-multihash Sum).

Unlike Kubo, ``put`` validates what it is told: the block must decode as its codec, as a
DAG walk decodes it (casengine.dag.links: an unknown codec is refused), and ``--pin`` pins
only a block whose links are all present (a pin always covers a complete DAG). The size
limit is checked before anything is stored.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from ..dag import multihash, varint
from ..car import BIG_BLOCK, BLOCK_LIMIT
from ..dag.cid import DAG_PB, Cid, codec_code
from ..dag.links import links
from ..errors import DecodeError, InvalidCid, InvalidOption
from .common import add_bool, add_gateway, cid_text, emit, open_repo, reader
from .pin import resolve_cid



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("block", help="raw blocks (like `ipfs block`)")
    verbs = p.add_subparsers(dest="block_verb", metavar="VERB", required=True)

    put = verbs.add_parser("put", help="store input as a block; print its CID")
    put.add_argument("files", nargs="*", metavar="DATA", help="files, one block each (default: stdin)")
    put.add_argument("--cid-codec", default="", help="multicodec of the CID (default raw)")
    put.add_argument("--mhtype", default="sha2-256", help="multihash function (default sha2-256)")
    put.add_argument("--mhlen", type=int, default=-1, help="multihash length (default: the function's)")
    add_bool(put, "--pin", default=False, help="pin the added block recursively (default false)")
    add_bool(put, "--allow-big-block", default=False, help="allow blocks over 2MiB")
    put.add_argument("-f", "--format", default="", help="legacy CID format (v0, protobuf, cbor, raw, ...)")
    put.set_defaults(func=block_put)

    get = verbs.add_parser("get", help="write a block's bytes to stdout")
    get.add_argument("cid", metavar="CID")
    add_gateway(get)
    get.set_defaults(func=block_get)

    stat = verbs.add_parser("stat", help="print a block's CID and size")
    stat.add_argument("cid", metavar="CID")
    stat.set_defaults(func=block_stat)

    rm = verbs.add_parser("rm", help="remove blocks (pinned ones are refused)")
    rm.add_argument("cids", nargs="+", metavar="CID")
    rm.add_argument("-f", "--force", action="store_true", help="ignore nonexistent blocks")
    rm.add_argument("-q", "--quiet", action="store_true", help="write minimal output")
    rm.set_defaults(func=block_rm)


def block_cid(data: bytes, cid_codec: str = "", mhtype: str = "sha2-256", mhlen: int = -1, fmt: str = "") -> Cid:
    """The CID Kubo 0.22 gives *data* for these ``block put`` options (CIDv1 raw by default)."""
    if fmt and cid_codec not in ("", "raw"):
        raise InvalidOption('unable to use "format" (deprecated) and a custom "cid-codec" at the same time')
    name = {"v0": "dag-pb", "protobuf": "dag-pb", "cbor": "dag-cbor"}.get(fmt, fmt) or cid_codec or "raw"
    try:
        codec = codec_code(name)
    except InvalidCid:
        raise InvalidOption(f"unknown multicodec: {name!r}") from None
    if fmt == "v0" and (mhtype != "sha2-256" or mhlen not in (-1, 32)):
        raise InvalidOption("only sha2-255-32 is allowed with CIDv0")
    if mhtype == "identity":
        if mhlen not in (-1, len(data)):
            raise InvalidOption(f"the length of the identity hash ({mhlen}) must be equal to "
                                f"the length of the data ({len(data)})")
        digest, code = data, multihash.IDENTITY
    else:
        try:
            fn = multihash.get(mhtype)
        except InvalidOption as e:
            if "unrecognized" in str(e):
                raise InvalidOption(f"unrecognized multihash function: {mhtype}") from None
            if "no such hash" in str(e):
                raise InvalidOption(f"invalid cid: {e}") from None
            raise
        h = fn.new()
        h.update(data)
        digest, code = h.digest(), fn.code
        if mhlen > len(digest):
            raise InvalidOption("requested length was too large for digest")
        if mhlen >= 0:
            digest = digest[:mhlen]
    mh = varint.encode(code) + varint.encode(len(digest)) + digest
    try:
        multihash.check(mh)
    except InvalidCid as e:
        raise InvalidOption(str(e)) from None
    return Cid(0 if fmt == "v0" else 1, DAG_PB if fmt == "v0" else codec, mh)


def _read_block(stream: BinaryIO, allow_big: bool) -> bytes:
    """The whole input; past the size limit it stops reading and fails (nothing is stored)."""
    data = stream.read() if allow_big else stream.read(BLOCK_LIMIT + 1)
    if len(data) > BLOCK_LIMIT and not allow_big:
        raise InvalidOption(BIG_BLOCK)
    return data


def block_put(args: argparse.Namespace) -> int:
    with open_repo(args, create=True) as repo:
        for name in args.files or ["-"]:
            if name == "-":
                data = _read_block(sys.stdin.buffer, args.allow_big_block)
            else:
                with open(name, "rb") as f:
                    data = _read_block(f, args.allow_big_block)
            cid = block_cid(data, args.cid_codec, args.mhtype, args.mhlen, args.format)
            try:
                links(cid, data)  # validates the block as its codec (what a pin's walk will decode)
            except DecodeError as e:
                raise DecodeError(f"block is not valid {cid.codec_name}: {e}") from None
            repo.put_block(cid, data, pin=args.pin)
            emit(args, {"Key": cid_text(args, cid), "Size": len(data)}, cid_text(args, cid))
    return 0


def block_get(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        ex = reader(args, repo)
        data = ex.store.get(resolve_cid(repo, args.cid, ex))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def block_stat(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        cid = resolve_cid(repo, args.cid)
        size = len(repo.store.get(cid))
    emit(args, {"Key": cid_text(args, cid), "Size": size}, f"Key: {cid_text(args, cid)}\nSize: {size}")
    return 0


def block_rm(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        cids = [resolve_cid(repo, c) for c in args.cids]
        results = repo.remove_blocks(cids, force=args.force)
    failed = False
    for cid, error in results:
        if error:
            failed = True
            if args.json:
                emit(args, {"Hash": cid_text(args, cid), "Error": error}, None)
            else:
                print(f"cannot remove {cid_text(args, cid)}: {error}", file=sys.stderr)
        elif not args.quiet:
            emit(args, {"Hash": cid_text(args, cid)}, f"removed {cid_text(args, cid)}")
    if failed:
        print("Error: some blocks not removed", file=sys.stderr)
        return 1
    return 0
