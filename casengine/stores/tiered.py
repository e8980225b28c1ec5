"""The read-through store: the local store layered over another node's blocks.

:class:`TieredStore` reads through the local store to a remote one on a miss; a fetched block
is re-hashed before it is kept or returned, so a remote can never plant bad bytes locally.
The remote is any :class:`Blockstore` (a remote node's blocks, ``casengine.nodes``).
"""

from __future__ import annotations

from typing import Iterator

from ..dag.cid import RAW, Cid
from .base import Blockstore, Buffer, verify


class TieredStore(Blockstore):
    """*local* first; a miss is fetched from *remote*, re-hashed, kept locally and returned."""

    def __init__(self, local: Blockstore, remote: Blockstore):
        self.local = local
        self.remote = remote

    def _get(self, multihash: bytes) -> bytes | None:
        block = self.local._get(multihash)
        if block is not None:
            return block
        block = self.remote._get(multihash)
        if block is None:
            return None
        verify(Cid(1, RAW, multihash), block)  # CorruptBlock: neither kept nor returned
        self.local._put_many([(multihash, block)])
        return block

    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        self.local._put_many(items)

    def _has(self, multihash: bytes) -> bool:
        return self.local._has(multihash) or self.remote._has(multihash)

    def _delete(self, multihash: bytes) -> bool:
        return self.local._delete(multihash)

    def multihashes(self) -> Iterator[bytes]:
        return self.local.multihashes()

    def size(self) -> int:
        return self.local.size()
