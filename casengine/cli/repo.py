"""``casengine repo gc|stat|verify``: Kubo's ``ipfs repo`` lines (kubo core/commands/repo.go).

``stat`` prints Kubo's fields where casengine has them (NumObjects, RepoSize on disk, RepoPath,
Version) plus what a pin-aware store adds (NumPins, BlockBytes) and the filestore references of
``add --nocopy``, counted apart (References, ReferencedBytes: in their files, not in RepoSize),
and FreeBytes, the part of RepoSize that is free pages inside the data file; it has no
StorageMax. ``gc`` compacts the data file afterwards (:mod:`casengine.stores.compact`) when
enough is free and no other process has the repository open.
"""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import HASH_MISMATCH
from ..stores.compact import compact
from ..stores.lmdb import FORMAT
from .common import cid_text, emit, open_repo
from .files import tabulate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repo", help="the repository (like `ipfs repo`)")
    verbs = p.add_subparsers(dest="repo_verb", metavar="VERB", required=True)

    gc = verbs.add_parser("gc", help="remove every block no pin reaches")
    gc.add_argument("-q", "--quiet", action="store_true", help="print only the removed CIDs")
    gc.add_argument("--silent", action="store_true", help="print nothing")
    gc.add_argument("--stream-errors", action="store_true", help="accepted for Kubo compatibility")
    gc.set_defaults(func=repo_gc)

    stat = verbs.add_parser("stat", help="blocks, bytes and pins")
    stat.add_argument("-s", "--size-only", action="store_true", help="only RepoSize and FreeBytes")
    stat.add_argument("-H", "--human", action="store_true", help="sizes like 1.2 MB")
    stat.set_defaults(func=repo_stat)

    verify = verbs.add_parser("verify", help="re-hash every block; exit 1 if any is corrupt")
    verify.set_defaults(func=repo_verify)


def repo_gc(args: argparse.Namespace) -> int:
    prefix = "" if args.quiet else "removed "
    def removed(cid) -> None:
        if not args.silent:
            emit(args, {"Key": {"/": cid_text(args, cid)}}, f"{prefix}{cid_text(args, cid)}")

    with open_repo(args) as repo:
        repo.gc(removed)
        path = repo.path
    compact(path)  # gives the free pages back, unless another process has the repository open
    return 0


def human_bytes(n: int) -> str:
    """go-humanize's Bytes (SI units), as Kubo's ``--human`` prints sizes."""
    if n < 10:
        return f"{n} B"
    e = min(int(math.floor(math.log(n, 1000))), 6)
    value = math.floor(n / 1000 ** e * 10 + 0.5) / 10
    unit = ("B", "kB", "MB", "GB", "TB", "PB", "EB")[e]
    return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def repo_stat(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        st = repo.stat()
    fields: dict[str, int | str] = {"RepoSize": st.disk_bytes, "FreeBytes": st.free_bytes}
    if not args.size_only:
        fields = {"NumObjects": st.blocks, "NumPins": st.pins, **fields, "BlockBytes": st.bytes,
                  "References": st.references, "ReferencedBytes": st.referenced_bytes,
                  "RepoPath": st.path, "Version": f"casengine-lmdb@{FORMAT}"}
    size = human_bytes if args.human else str
    sizes = ("RepoSize", "FreeBytes", "BlockBytes", "ReferencedBytes")
    text = tabulate([[f"{k}:", size(v) if k in sizes else str(v)] for k, v in fields.items()])
    emit(args, fields, text.rstrip("\n"))
    return 0


#: How a corrupt block is repaired (a write of the block replaces a copy that fails its hash).
REPAIR = ("to repair a block, add its source again, `dag import` a CAR holding it or `block put` its "
          "bytes; pinned blocks need no unpin")


def repo_verify(args: argparse.Namespace) -> int:
    """Kubo's lines: ``N blocks processed.\r`` as blocks are hashed, one line per corrupt block,
    then the summary (with --json, Kubo's ``{"Msg", "Progress"}`` objects)."""
    corrupt, done = 0, 0

    def checked(n: int) -> None:
        nonlocal done
        if args.json:
            for i in range(done + 1, done + n + 1):
                emit(args, {"Msg": "", "Progress": i}, None)
        else:
            sys.stdout.write("".join(f"{i} blocks processed.\r" for i in range(done + 1, done + n + 1)))
        done += n

    with open_repo(args) as repo:
        for cid, problem in repo.verify(checked):
            corrupt += 1
            problem = "block in storage has different hash than requested" if problem == HASH_MISMATCH else problem
            message = f"block {cid} was corrupt ({problem})"
            emit(args, {"Msg": message, "Progress": 0}, message)
    sys.stdout.flush()
    if corrupt:
        print(f"Error: verify complete, {corrupt} blocks corrupt ({REPAIR})", file=sys.stderr)
        return 1
    emit(args, {"Msg": "verify complete, all blocks validated.", "Progress": 0}, "verify complete, all blocks validated.")
    return 0
