"""``casengine serve``: a read-only IPFS HTTP gateway over the local store.

The trustless gateway (ipfs/specs http-gateways/trustless-gateway.md: raw blocks, CARs) and the
deserialized path gateway (path-gateway.md: files, directories), answering as Kubo 0.43.1's gateway
does, so Kubo, Helia's verified-fetch and casengine's own gateway tier can read from it.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from ..stores.base import Blockstore

DEFAULT_LISTEN = "127.0.0.1:8080"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(store: Blockstore, listen: str = DEFAULT_LISTEN, *, deserialized: bool = True,
          ready: Callable[[str, int], None] | None = None, workers: int | None = None) -> None:
    """Serve *store* on *listen* until interrupted (uvloop's event loop when it is installed)."""
    from .handler import Gateway
    from .http import serve_forever

    host, port = parse_listen(listen)
    main = serve_forever(Gateway(store, deserialized=deserialized), host, port, ready, workers)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
