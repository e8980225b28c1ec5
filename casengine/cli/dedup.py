"""``casengine dedup PATH [PATH...]``: what each of Kubo's chunkers would deduplicate across
revisions (files or model directories, oldest first), and the chunker to add them with."""

from __future__ import annotations

import argparse

from ..dedup import SPECS, analyse
from .common import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dedup", help="bytes unique and shared between revisions under each Kubo chunker",
                       description="Cut each PATH (a file or a directory: one revision, oldest first) with "
                                   "each chunker as `add` would, and show the bytes unique and shared, what each "
                                   "revision adds, the time taken, and the chunker recommended.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories, one revision each")
    p.add_argument("-s", "--chunker", action="append", metavar="SPEC",
                   help=f"a chunker to compare (repeatable; default: {', '.join(SPECS)})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = analyse(args.paths, args.chunker or SPECS)
    if args.json:
        emit(args, report.json(), None)
        return 0
    head = f"{'chunker':<26} {'chunks':>8} {'avg KiB':>8} {'unique MiB':>11} {'shared':>7} {'s':>6}  new per revision"
    lines = [head]
    for r in report.results:
        avg = r.total / r.chunks / 1024 if r.chunks else 0
        shared = r.shared / r.total if r.total else 0
        new = " ".join(f"{n / s:6.1%}" if s else "     -" for n, s in zip(r.new, report.sizes))
        lines.append(f"{r.spec:<26} {r.chunks:>8} {avg:>8.1f} {r.unique / 2**20:>11.2f} {shared:>7.1%} "
                     f"{r.seconds:>6.2f}  {new}")
    lines.append(f"recommended: --chunker={report.recommended}")
    emit(args, {}, "\n".join(lines))
    return 0
