"""``casengine filestore ls|verify|dups``: the references ``add --nocopy`` records, in Kubo's
lines (kubo core/commands/filestore.go; boxo filestore ListRes.FormatLong, Status.Format)."""

from __future__ import annotations

import argparse
import sys

from ..dag.cid import RAW, Cid
from ..stores.filestore import MISSING, OK, OTHER, entries
from .common import emit, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("filestore", help="references into files made by `add --nocopy` (like `ipfs filestore`)")
    verbs = p.add_subparsers(dest="filestore_verb", metavar="VERB", required=True)

    ls = verbs.add_parser("ls", help="list references: <cid> <size> <path> <offset>")
    ls.add_argument("cids", nargs="*", metavar="CID", help="only these (each is checked)")
    ls.add_argument("--file-order", action="store_true", help="sort by the path of the backing file")
    ls.set_defaults(func=filestore_ls)

    verify = verbs.add_parser("verify", help="re-read and hash references: <status> <cid> <size> <path> <offset>")
    verify.add_argument("cids", nargs="*", metavar="CID", help="only these")
    verify.add_argument("--file-order", action="store_true", help="verify in the order of the backing files")
    verify.add_argument("--remove-bad-blocks", action="store_true",
                        help="drop the references that are not ok (a pinned one is kept: it would break its pin)")
    verify.set_defaults(func=filestore_verify)

    dups = verbs.add_parser("dups", help="list blocks that are both referenced and stored")
    dups.set_defaults(func=filestore_dups)


def filestore_ls(args: argparse.Namespace) -> int:
    failed = False
    with open_repo(args) as repo:
        for entry in entries(repo.store, args.cids or None, file_order=args.file_order):
            if args.json:
                emit(args, entry.json(), None)
            elif entry.message:  # Kubo prints a failed entry's error instead of its line
                failed = True
                print(entry.message, file=sys.stderr)
            else:
                emit(args, {}, entry.line())
    if failed:
        print("Error: errors while displaying some entries", file=sys.stderr)
    return 1 if failed else 0


def filestore_verify(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        found = entries(repo.store, args.cids or None, verify=True, file_order=args.file_order)
        removed: set[bytes] = set()
        if args.remove_bad_blocks:  # Kubo's rule: every status but ok and ERROR (and missing: nothing to drop)
            found = list(found)
            removed = repo.remove_references([e.cid.multihash for e in found if e.status not in (OK, OTHER, MISSING)])
        for entry in found:
            if entry.status == OTHER:
                print(entry.message, file=sys.stderr)
            line = f"{entry.status:<7} {entry.line()}"
            if args.remove_bad_blocks:
                line += " remove" if entry.cid and entry.cid.multihash in removed else " keep"
            emit(args, entry.json(), line)
    return 0


def filestore_dups(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        for mh in repo.store.duplicates():
            cid = str(Cid(1, RAW, mh))
            emit(args, {"Ref": cid, "Err": ""}, cid)
    return 0

