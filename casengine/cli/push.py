"""``casengine push CID --to kubo|cluster``: copy a pinned DAG to a Kubo node (one streamed CAR
import), or pin it on an IPFS Cluster with a replication factor.

To a cluster the CAR goes to one peer's ``POST /add?format=car``, which sends the blocks to the
Kubo daemon of every peer the pin is allocated to and pins it there; with ``--api`` the blocks go
to that Kubo daemon (one of the cluster's) instead and the cluster is asked to pin the CID
(``POST /pins/{cid}``), its other peers fetching the blocks themselves. Either way push returns
once every allocated peer reports the pin ``pinned``.
"""

from __future__ import annotations

import argparse
import os
from typing import Iterator

from .. import car
from ..dag.cid import Cid
from ..errors import InvalidOption, RemoteError
from ..nodes.cluster import ClusterAPI
from ..nodes.kubo_cli import KuboCLIStore
from ..nodes.kubo_rpc import KuboRPCStore
from ..nodes.remote import RemoteTier
from .common import emit, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="copy a pinned DAG to a Kubo node or an IPFS Cluster and pin it there")
    p.add_argument("cid", metavar="CID")
    p.add_argument("--to", required=True, choices=("kubo", "cluster"), help="the tier to copy to")
    p.add_argument("--api", help="Kubo RPC API address (default: $KUBO_API; else the CLI, $KUBO_CMD); "
                                 "with --to cluster: a Kubo daemon of the cluster to put the blocks on")
    p.add_argument("--cluster", metavar="URL", help="IPFS Cluster REST API, a URL or /ip4/HOST/tcp/PORT or "
                                                    "/unix/PATH (default: $CLUSTER_API, else http://127.0.0.1:9094)")
    p.add_argument("--replication", type=int, metavar="N",
                   help="pin on N cluster peers, -1 for every peer (default: the cluster's own factors)")
    p.add_argument("--name", help="the pin's name in the cluster")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without progress before giving up")
    p.set_defaults(func=run)


def tier_for(args: argparse.Namespace) -> RemoteTier:
    api = args.api or os.environ.get("KUBO_API", "").strip()
    return KuboRPCStore(api, timeout=args.timeout) if api else KuboCLIStore(timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    cid = Cid.parse(args.cid)
    if args.to == "kubo" and (args.cluster or args.replication is not None or args.name):
        raise InvalidOption("--cluster, --replication and --name are for --to cluster")
    cluster = ClusterAPI(args.cluster, timeout=args.timeout) if args.to == "cluster" else None
    tier = tier_for(args) if cluster is None or args.api else None
    with open_repo(args) as repo:
        if repo.pin_type(cid) is None:
            raise InvalidOption(f"{cid} is not pinned here: push copies pinned DAGs")
        count = [0]

        def blocks() -> Iterator[tuple[Cid, bytes]]:
            for item in repo.exporter.walk(cid):
                count[0] += 1
                yield item

        if tier is not None:   # to a cluster: its pin on that Kubo daemon is the one the cluster makes there
            roots = tier.dag_import(car.write([cid], blocks()), pin_roots=True)
        else:
            root, allocations = cluster.add_car(car.write([cid], blocks()), replication=args.replication,
                                                name=args.name)
            roots = [root]
    if tier is not None and cid not in roots and cid.to_v1() not in [r.to_v1() for r in roots]:
        raise RemoteError(f"{tier.name} did not take {cid} (roots: {', '.join(map(str, roots)) or 'none'})")
    if cluster is None:
        emit(args, {"Hash": str(cid), "Blocks": count[0], "To": tier.name},
             f"pushed {cid} ({count[0]} blocks) to {tier.name}")
        return 0
    if tier is not None:
        allocations = cluster.pin(cid, replication=args.replication, name=args.name).allocations
    elif roots[0].to_v1() != cid.to_v1():
        raise RemoteError(f"{cluster.api} added {roots[0]}, not {cid}")
    status = cluster.wait_pinned(cid, allocations)
    pinned = [s for s in status.values() if s.status == "pinned"]
    emit(args, {"Hash": str(cid), "Blocks": count[0], "To": cluster.name, "Peers": [s.peer for s in pinned]},
         f"pushed {cid} ({count[0]} blocks) to {cluster.name}, pinned on {len(pinned)} peers: "
         + ", ".join(s.peername or s.peer for s in pinned))
    return 0
