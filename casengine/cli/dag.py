"""``casengine dag export`` and ``dag import``: CAR files, with Kubo's flags and output lines."""

from __future__ import annotations

import argparse
import os
import sys

from .. import car
from ..dag.cid import Cid
from ..errors import InvalidCid
from ..progress import bar
from ..repo import PinError
from . import dag_data
from .common import add_bool, add_gateway, add_progress, cid_text, emit, open_repo, reader


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("dag", help="IPLD data and CAR files (like `ipfs dag`)",
                           description="Interact with IPLD DAGs: export them to, and import them from, CAR files.")
    verbs = group.add_subparsers(dest="dag_verb", metavar="VERB", required=True)
    dag_data.register(verbs)

    p = verbs.add_parser("export", help="stream a DAG as a CARv1 on stdout",
                         description="Stream the DAG under ROOT as a CARv1 on stdout, blocks in depth-first, "
                                     "first-seen order (byte-identical to `ipfs dag export`).")
    p.add_argument("root", metavar="ROOT", help="CID of the root to export recursively")
    add_gateway(p)
    add_progress(p)
    p.set_defaults(func=export)

    p = verbs.add_parser("import", help="import the blocks of CAR files and pin their roots",
                         description="Import all blocks of the CAR files (v1 or v2; every block's hash is "
                                     "checked), then pin each root named in their headers whose DAG is complete.")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".car files; none or '-' reads stdin")
    add_bool(p, "--pin-roots", default=True, help="pin the roots listed in the CAR headers (default true)")
    p.add_argument("--silent", action="store_true", help="print nothing")
    p.add_argument("--stats", action="store_true", help="print the number of blocks and bytes imported")
    add_bool(p, "--allow-big-block", default=False, help="import blocks over 2MiB (default false)")
    add_progress(p)
    p.set_defaults(func=import_)


def export(args: argparse.Namespace) -> int:
    try:
        root = Cid.parse(args.root)
    except InvalidCid as e:
        raise InvalidCid(f"unable to parse root specification (currently only bare CIDs are supported): {e}") from None
    out = sys.stdout.buffer
    with open_repo(args) as repo, bar("export", None, args.progress) as progress:
        for piece in car.export(reader(args, repo, whole=[str(root)]).store, root, progress):
            out.write(piece)
    out.flush()
    return 0


def import_(args: argparse.Namespace) -> int:
    paths = args.paths or ["-"]
    sources = [sys.stdin.buffer if p == "-" else p for p in paths]
    total = None if "-" in paths else sum(os.path.getsize(p) for p in paths)
    with open_repo(args, create=True) as repo, bar("import", total, args.progress) as progress:
        result = car.import_car(repo, sources, pin_roots=args.pin_roots, progress=progress,
                                 allow_big_block=args.allow_big_block)
    for root, error in result.pins.items():
        if args.silent:
            break
        if args.json:
            emit(args, {"Root": {"Cid": {"/": cid_text(args, root)}, "PinErrorMsg": error}}, None)
        elif error:  # Kubo's text output stops at the first root that failed
            raise PinError(f'pinning root "{cid_text(args, root)}" FAILED: {error}')
        else:
            emit(args, {}, f"Pinned root\t{cid_text(args, root)}\tsuccess")
    if result.failed:
        raise PinError(f"unable to pin all roots: {len(result.failed)} out of {len(result.pins)} failed")
    if args.stats and not args.silent:
        emit(args, {"Stats": {"BlockCount": result.blocks, "BlockBytesCount": result.bytes}},
             f"Imported {result.blocks} blocks ({result.bytes} bytes)")
    return 0
