"""How much content addressing saves: bytes the pinned DAGs hold, counted as a store without
deduplication would hold them (every reference a copy), against the bytes of distinct blocks.

Sizes come from the stored blocks themselves, never from a DAG's declared Tsize (which a
hostile CAR could inflate), and each block is read once however often it is referenced. A
filestore reference (``add --nocopy``) is sized by its record, not read: its bytes are in its
file, so they are counted apart from the bytes the repository holds on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .dag.cid import RAW, Cid
from .dag.links import links
from .repo import DIRECT, RECURSIVE

if TYPE_CHECKING:
    from .repo import Repo


@dataclass(frozen=True)
class Usage:
    blocks: int          # blocks stored
    stored: int          # bytes stored (every block once, pinned or not)
    pins: int            # recursive and direct pins
    added: int           # bytes of the pinned DAGs, every reference to a block counted
    unique: int          # bytes of the distinct blocks the pins reach
    disk: int = 0        # bytes the repository's files take on disk
    references: int = 0  # filestore references (add --nocopy)
    referenced: int = 0  # bytes they point at, in their files

    @property
    def ratio(self) -> float:
        """added / unique: how many times over pinned content would be stored without dedup."""
        return self.added / self.unique if self.unique else 1.0


def _key(cid: Cid) -> tuple[int, bytes]:
    return cid.codec, cid.multihash


def usage(repo: "Repo") -> Usage:
    """Stored bytes, and what the pins would take without deduplication (CidNotFound if a
    pinned DAG is incomplete)."""
    dag: dict[tuple[int, bytes], int] = {}   # size of the DAG under a block, every reference counted
    block_size: dict[bytes, int] = {}        # distinct blocks reached, by multihash
    added = pins = 0
    for root, _ in repo.pins(RECURSIVE):
        pins += 1
        stack: list[tuple[Cid, list[Cid] | None]] = [(root, None)]
        while stack:  # iterative post-order: a block's size once its children's are known
            cid, children = stack[-1]
            if _key(cid) in dag:
                stack.pop()
            elif children is None:
                ref = repo.store.reference(cid.multihash) if cid.codec == RAW else None
                block = b"" if ref else repo.store.get(cid, verified=False)
                block_size[cid.multihash] = ref.size if ref else len(block)
                children = links(cid, block)
                stack[-1] = (cid, children)
                stack.extend((c, None) for c in children if _key(c) not in dag)
            else:
                stack.pop()
                dag[_key(cid)] = block_size[cid.multihash] + sum(dag[_key(c)] for c in children)
        added += dag[_key(root)]
    for cid, _ in repo.pins(DIRECT):
        pins += 1
        size = len(repo.store.get(cid, verified=False))
        block_size[cid.multihash] = size
        added += size
    st = repo.stat()
    return Usage(st.blocks, st.bytes, pins, added, sum(block_size.values()), st.disk_bytes, st.references,
                 st.referenced_bytes)
