"""``casengine push CID --to kubo``: copy a pinned DAG to a Kubo node (one streamed CAR import)."""

from __future__ import annotations

import argparse
import os
from typing import Iterator

from .. import car
from ..dag.cid import Cid
from ..errors import InvalidOption, RemoteError
from ..nodes.kubo_cli import KuboCLIStore
from ..nodes.kubo_rpc import KuboRPCStore
from ..nodes.remote import RemoteTier
from .common import emit, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="copy a pinned DAG to a Kubo node and pin it there")
    p.add_argument("cid", metavar="CID")
    p.add_argument("--to", required=True, choices=("kubo",), help="the tier to copy to")
    p.add_argument("--api", help="Kubo RPC API address (default: $KUBO_API; else the CLI, $KUBO_CMD)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without progress before giving up")
    p.set_defaults(func=run)


def tier_for(args: argparse.Namespace) -> RemoteTier:
    api = args.api or os.environ.get("KUBO_API", "").strip()
    return KuboRPCStore(api, timeout=args.timeout) if api else KuboCLIStore(timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    cid = Cid.parse(args.cid)
    tier = tier_for(args)
    with open_repo(args) as repo:
        if repo.pin_type(cid) is None:
            raise InvalidOption(f"{cid} is not pinned here: push copies pinned DAGs")
        count = [0]

        def blocks() -> Iterator[tuple[Cid, bytes]]:
            for item in repo.exporter.walk(cid):
                count[0] += 1
                yield item

        roots = tier.dag_import(car.write([cid], blocks()), pin_roots=True)
    if cid not in roots and cid.to_v1() not in [r.to_v1() for r in roots]:
        raise RemoteError(f"{tier.name} did not pin {cid} (roots: {', '.join(map(str, roots)) or 'none'})")
    emit(args, {"Hash": str(cid), "Blocks": count[0], "To": tier.name}, f"pushed {cid} ({count[0]} blocks) to {tier.name}")
    return 0
