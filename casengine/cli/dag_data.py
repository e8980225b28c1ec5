"""``casengine dag get|put|resolve|stat``: IPLD data by path, with Kubo 0.43.1's flags and output
(kubo core/commands/dag/*.go): dag-json out by default, IPLD paths through any codec."""

from __future__ import annotations

import argparse
import sys

from .. import ipldpath
from ..car import BIG_BLOCK, BLOCK_LIMIT
from ..dag import cbor, dagjson, multihash
from ..dag.cid import DAG_CBOR, DAG_JSON, Cid, codec_code
from ..dag.links import CBOR, JSON, depth_first, links
from ..errors import InvalidCid, InvalidOption
from .common import CID_BASES, add_bool, cid_text, emit, open_repo, reader

_ENCODERS = {DAG_JSON: ipldpath.to_json, JSON: ipldpath.to_plain_json, DAG_CBOR: ipldpath.to_cbor,
             CBOR: ipldpath.to_cbor}


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("get", help="print the IPLD value at a path (dag-json by default)")
    p.add_argument("path", metavar="REF", help="CID or CID/path of the value to get")
    p.add_argument("--output-codec", default="dag-json", help="codec to print the value in (default dag-json)")
    p.set_defaults(func=get)

    p = verbs.add_parser("put", help="store IPLD values read from stdin or files, print their CIDs")
    p.add_argument("files", nargs="*", metavar="FILE", help="values to store (default: stdin)")
    p.add_argument("--store-codec", default="dag-cbor", help="codec the block is stored in (default dag-cbor)")
    p.add_argument("--input-codec", default="dag-json", help="codec the input is in (default dag-json)")
    add_bool(p, "--pin", default=False, help="pin the stored value recursively (default false)")
    p.add_argument("--hash", default="sha2-256", help="hash function (default sha2-256)")
    add_bool(p, "--allow-big-block", default=False, help="store blocks over 2MiB (default false)")
    p.set_defaults(func=put)

    p = verbs.add_parser("resolve", help="print the block a path ends in, and the rest of the path inside it")
    p.add_argument("path", metavar="REF", help="CID/path to resolve")
    p.set_defaults(func=resolve)

    p = verbs.add_parser("stat", help="blocks and bytes of DAGs")
    p.add_argument("roots", nargs="+", metavar="ROOT", help="CIDs or paths of the DAGs")
    add_bool(p, "--progress", default=True, help="(accepted for Kubo's sake; nothing is shown)")
    p.set_defaults(func=stat)


def _codec(name: str) -> int:
    try:
        return codec_code(name)
    except InvalidCid:
        raise InvalidOption(f"unknown multicodec: {name!r}") from None


def get(args: argparse.Namespace) -> int:
    codec = _codec(args.output_codec)
    if codec not in _ENCODERS:
        raise InvalidOption(f"invalid output codec: {args.output_codec} is not a dag-json, json, dag-cbor or cbor codec")
    with open_repo(args) as repo:
        found = ipldpath.resolve(reader(args, repo), args.path)
        value = found.value if found.rest else ipldpath.value(found.cid, repo.store.get(found.cid))
    sys.stdout.buffer.write(_ENCODERS[codec](value))
    sys.stdout.buffer.flush()
    return 0


def resolve(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        found = ipldpath.resolve(reader(args, repo), args.path)
    rest = "/".join(found.rest)
    if getattr(args, "json", False):
        emit(args, {"Cid": {"/": str(found.cid)}, "RemPath": f"/{rest}" if rest else ""}, None)  # as Kubo: as is
    else:
        shown = cid_text(args, found.cid) if getattr(args, "cid_base", None) else _in_path_base(args.path, found.cid)
        sys.stdout.write(f"{shown}/{rest}" if rest else shown)
        sys.stdout.flush()
    return 0


def _in_path_base(path: str, cid: Cid) -> str:
    """*cid* as Kubo's dag resolve prints it without --cid-base (cmdenv.CidEncoderFromPath): in the
    base of the path's own CID, upgraded to CIDv1 if that is one; after a CIDv0, as is but a
    CIDv1 in base58btc."""
    parts = path.split("/", 3)
    root = Cid.parse(parts[0] if parts[0] else parts[2])
    if root.version == 0:
        return cid.encode() if cid.version == 0 else cid.encode("base58btc")
    return cid.to_v1().encode(CID_BASES[(parts[0] or parts[2])[0]])


def put(args: argparse.Namespace) -> int:
    store_codec, input_codec = _codec(args.store_codec), _codec(args.input_codec)
    decode = {DAG_JSON: dagjson.decode, JSON: lambda b: dagjson.decode(b, allow_links=False),
              DAG_CBOR: cbor.decode, CBOR: lambda b: cbor.decode(b, allow_links=False)}.get(input_codec)
    if decode is None or store_codec not in _ENCODERS:
        raise InvalidOption(f"cannot put {args.input_codec} as {args.store_codec}: "
                            "codecs are dag-json, json, dag-cbor and cbor")
    fn = multihash.get(args.hash)
    inputs = [sys.stdin.buffer.read()] if not args.files else [open(f, "rb").read() for f in args.files]
    with open_repo(args, create=True) as repo, repo.writing():
        for data in inputs:
            block = _ENCODERS[store_codec](decode(data))
            if len(block) > BLOCK_LIMIT and not args.allow_big_block:
                raise InvalidOption(BIG_BLOCK)
            cid = Cid(1, store_codec, fn.digest(block))
            links(cid, block)  # what a walk of it will decode
            repo.put_block(cid, block, pin=args.pin)
            emit(args, {"Cid": {"/": cid_text(args, cid)}}, cid_text(args, cid))
    return 0


def stat(args: argparse.Namespace) -> int:
    """Kubo's ``dag stat``: per DAG its blocks and bytes (each CID once), then a summary over all."""
    rows, seen = [], {}
    with open_repo(args) as repo:
        ex = reader(args, repo)
        for path in args.roots:
            root = ipldpath.resolve(ex, path).cid

            def visit(c: Cid) -> tuple[tuple[Cid, int], list[Cid]]:
                block = repo.store.get(c)
                return (c, len(block)), links(c, block)
            blocks = dict(depth_first(root, visit))
            rows.append((root, len(blocks), sum(blocks.values())))
            seen.update(blocks)
    total, unique = sum(r[2] for r in rows), sum(seen.values())
    ratio = total / unique if unique else 1
    if getattr(args, "json", False):
        emit(args, {"UniqueBlocks": len(seen), "TotalSize": unique,
                    **({"SharedSize": total - unique} if total - unique else {}),
                    "Ratio": round(ratio, 6) if ratio % 1 else int(ratio),
                    "DagStats": [{"Cid": cid_text(args, c), "Size": s, "NumBlocks": n} for c, n, s in rows]}, None)
        return 0
    width = len(cid_text(args, rows[0][0]))  # Kubo pads the header to the first CID
    out = ["", f"{'CID':<{width}}\t{'Blocks':<15}\tSize"]
    out += [f"{cid_text(args, c)}\t{n:<15}\t{s}" for c, n, s in rows]
    out += ["", "Summary", f"Total Size: {unique} ({_human(unique)})", f"Unique Blocks: {len(seen)}",
            f"Shared Size: {total - unique} ({_human(total - unique)})", f"Ratio: {ratio:.6f}", "", ""]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _human(n: int) -> str:
    """go-humanize's Bytes: SI units, one decimal under 10."""
    if n < 10:
        return f"{n} B"
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    exp = 0
    value = float(n)
    while value >= 1000 and exp < len(units) - 1:
        value /= 1000
        exp += 1
    return f"{value:.0f} {units[exp]}" if value >= 10 or exp == 0 else f"{value:.1f} {units[exp]}"
