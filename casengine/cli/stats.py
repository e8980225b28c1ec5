"""``casengine stats``: what deduplication saves in the repository."""

from __future__ import annotations

import argparse

from ..stats import usage
from .common import emit, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="show bytes added against bytes stored (deduplication)",
                       description="Show the bytes the pinned DAGs hold, counting every reference to a block "
                                   "as a store without deduplication would, against the bytes stored.")
    p.set_defaults(func=run)


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        u = usage(repo)
    emit(args, {"NumBlocks": u.blocks, "BytesStored": u.stored, "Pins": u.pins, "BytesAdded": u.added,
                "BytesUnique": u.unique, "DedupRatio": round(u.ratio, 4), "DiskBytes": u.disk,
                "References": u.references, "ReferencedBytes": u.referenced},
         f"NumBlocks:   {u.blocks}\n"
         f"BytesStored: {u.stored} ({human(u.stored)})\n"
         f"DiskBytes:   {u.disk} ({human(u.disk)}; the repository's files)\n"
         f"References:  {u.references} ({human(u.referenced)} in the files they point at; add --nocopy)\n"
         f"Pins:        {u.pins}\n"
         f"BytesAdded:  {u.added} ({human(u.added)}; pinned DAGs, every reference counted)\n"
         f"BytesUnique: {u.unique} ({human(u.unique)}; distinct blocks the pins reach)\n"
         f"DedupRatio:  {u.ratio:.2f}x (saved {human(u.added - u.unique)})")
    return 0
