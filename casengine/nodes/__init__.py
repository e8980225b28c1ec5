"""Nodes: whatever answers IPFS verbs (add, cat, ls, get, pins, blocks, dag export/import).

The local node is casengine's own repository; the remote ones are Kubo (RPC or CLI) and
ipfs_kit_py, each also a :class:`~casengine.stores.base.Blockstore` of its blocks for
read-through. The router (``casengine.ipfs_backend_router``) composes them.
"""
