"""``casengine serve``: the repository over HTTP as an IPFS gateway (read-only)."""

from __future__ import annotations

import argparse

from .common import open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the repository as a read-only IPFS HTTP gateway",
                       description="Serve /ipfs/CID[/PATH] over HTTP: trustless raw blocks and CARs "
                                   "(?format=raw|car, Accept: application/vnd.ipld.raw|car) and, unless "
                                   "--trustless, files and directory listings, as Kubo's gateway does.")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:8080; port 0 picks a free one)")
    p.add_argument("--trustless", action="store_true",
                   help="answer only trustless requests (raw blocks and CARs); others get 406")
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    from ..gateway import parse_listen, serve as run

    parse_listen(args.listen)   # a bad address is a usage error before the repository is opened

    def ready(host: str, port: int) -> None:
        where = f"[{host}]" if ":" in host else host
        print(f"Gateway server listening on http://{where}:{port}", flush=True)

    with open_repo(args) as repo:
        try:
            run(repo.store, args.listen, deserialized=not args.trustless, ready=ready)
        except KeyboardInterrupt:
            pass
    return 0
