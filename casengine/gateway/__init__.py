"""``casengine serve``: a read-only IPFS HTTP gateway over the local store.

The trustless gateway (ipfs/specs http-gateways/trustless-gateway.md: raw blocks, CARs) and the
deserialized path gateway (path-gateway.md: files, directories), answering as Kubo 0.43.1's gateway
does, so Kubo, Helia's verified-fetch and casengine's own gateway tier can read from it.
"""

from __future__ import annotations

import asyncio
import sys
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
    _return_freed_blocks()
    main = serve_forever(Gateway(store, deserialized=deserialized), host, port, ready, workers)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _return_freed_blocks() -> None:
    """Give blocks (256 KiB and up) their own mappings, unmapped when freed (glibc ``mallopt``).

    glibc raises its mmap threshold when such a buffer is freed, so later blocks come from the
    worker threads' arenas and stay resident after their clients stall or go: 48 stalled clients
    left 225-243 MiB resident where their read-ahead is about 160; with the threshold fixed, 175.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-3, 128 << 10)   # M_MMAP_THRESHOLD (fixed: no dynamic raise)
    except (OSError, AttributeError):      # not glibc
        pass
