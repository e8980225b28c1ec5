"""Nodes: whatever answers IPFS verbs (add, cat, ls, get, pins, blocks, dag export/import).

The local node is casengine's own repository; the remote ones are Kubo (RPC or CLI) and
ipfs_kit_py, each also a :class:`~casengine.stores.base.Blockstore` of its blocks for
read-through. The router (``casengine.ipfs_backend_router``) composes them.
"""

import os

#: The trustless gateways a read goes through when the repository lacks a block, comma-separated.
GATEWAYS_ENV = "CASENGINE_GATEWAYS"


def gateways_from_env() -> list[str]:
    """The gateways of ``$CASENGINE_GATEWAYS`` (none if unset). Here, not in :mod:`.gateway`: asking
    loads no HTTP client."""
    return [u.strip() for u in os.environ.get(GATEWAYS_ENV, "").split(",") if u.strip()]
