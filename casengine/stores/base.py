"""The one block store interface every store implements (memory, LMDB, remote tiers).

Blocks are keyed by multihash, as Kubo keys them, so the same bytes under CIDv0 and CIDv1
(or under dag-pb and raw) are stored once. Identity CIDs carry their block inside the CID
and are never stored. Reads are verified against the CID's hash unless the caller opts out;
a block a store keeps outside itself (a filestore reference into a file) is hashed on every
read, opt-out or not, and returned as :class:`Verified` so it is not hashed twice.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..dag.cid import RAW, Cid
from ..dag.links import links as block_links
from ..dag.multihash import by_code
from ..errors import CidNotFound, CorruptBlock

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

Buffer = bytes | bytearray | memoryview
_SHA2_256 = b"\x12\x20"  # the multihash header of a full sha2-256 digest


def verify(cid: Cid, block: Buffer) -> None:
    """Raise CorruptBlock unless *block* hashes to *cid*'s multihash.

    A digest shorter than the function's (``block put --mhlen``) is compared on its length.
    """
    mh = cid.multihash
    if mh[:2] == _SHA2_256 and len(mh) == 34:  # nearly every block: no multihash parsing on the hashing threads
        if hashlib.sha256(block).digest() != mh[2:]:
            raise CorruptBlock(cid)
        return
    if cid.is_identity:
        if bytes(block) != cid.digest:
            raise CorruptBlock(cid)
        return
    fn = by_code(cid.hash_code)
    if fn is None:
        raise CorruptBlock(cid, f"cannot verify hash function {cid.hash_code:#x}")
    want = cid.digest
    if len(want) > fn.size or fn.digest(block)[len(fn.prefix):len(fn.prefix) + len(want)] != want:
        raise CorruptBlock(cid)


class Verified(bytes):
    """A block its store has already hashed against the multihash it was read under."""


_POOL: ThreadPoolExecutor | None = None
#: Bytes of blocks a reader's worker thread hashes per task.
HASH_BATCH = 1 << 20


def _pool() -> ThreadPoolExecutor:
    """Threads that hash blocks being read and commit batches being written (hashlib and LMDB
    release the GIL), shared by every store in the process."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor  # at first use: it imports logging (start-up)

        _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="casengine-store")
    return _POOL


def _check_all(batch: list[tuple[Cid, Buffer]]) -> tuple[list[Buffer], CorruptBlock | None]:
    """The blocks of *batch* up to the first that does not verify, and that one's error."""
    good = []
    for cid, block in batch:
        if not isinstance(block, Verified):  # a filestore block is hashed as it is read
            try:
                verify(cid, block)
            except CorruptBlock as e:
                return good, e
        good.append(block)
    return good, None


def _hashing(blocks: Iterator[tuple[Cid, Buffer]]) -> Iterator[Future]:
    """Futures of the verified blocks, a batch of about HASH_BATCH bytes each (one task per
    block would spend more on the pool than on hashing 256 KiB)."""
    batch: list[tuple[Cid, Buffer]] = []
    size = 0
    for cid, block in blocks:
        batch.append((cid, block))
        size += len(block)
        if size >= HASH_BATCH or len(batch) >= 64:
            yield _pool().submit(_check_all, batch)
            batch, size = [], 0
    if batch:
        yield _pool().submit(_check_all, batch)


def _in_order(futures: Iterator[Future], ahead: int) -> Iterator:
    """The results of *futures*, in order, drawing up to *ahead* of them in advance."""
    pending: deque[Future] = deque()
    try:
        for fut in futures:
            pending.append(fut)
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:  # abandoned: drop what has not started, wait for what has (it may
            if not fut.cancel():  # be hashing a view that must not outlive its transaction)
                fut.exception()


class Blockstore(ABC):
    """Get / put / has / delete / iterate blocks by CID (stored by multihash)."""

    # -- what a store implements ----------------------------------------------------------------
    @abstractmethod
    def _get(self, multihash: bytes) -> bytes | None:
        """The stored bytes for *multihash*, or None."""

    @abstractmethod
    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        """Store (multihash, block) pairs, all or none (one batch/transaction where possible)."""

    @abstractmethod
    def _has(self, multihash: bytes) -> bool: ...

    @abstractmethod
    def _delete(self, multihash: bytes) -> bool:
        """Remove; return whether it was there."""

    @abstractmethod
    def multihashes(self) -> Iterator[bytes]:
        """Every stored multihash."""

    @abstractmethod
    def size(self) -> int:
        """Total bytes of stored blocks."""

    def _delete_many(self, multihashes: list[bytes]) -> int:
        """Remove many (one transaction where the store has them); return how many were there."""
        return sum(self._delete(mh) for mh in multihashes)

    def close(self) -> None:
        """Release resources; the default store holds none."""

    # -- the public interface, shared by all stores ----------------------------------------------
    def get(self, cid: Cid, *, verified: bool = True) -> bytes:
        """The block named *cid*; CidNotFound if absent, CorruptBlock if its bytes do not match."""
        if cid.is_identity:
            return cid.digest
        block = self._get(cid.multihash)
        if block is None:
            raise CidNotFound(cid)
        if verified and not isinstance(block, Verified):
            verify(cid, block)
        return block

    @contextmanager
    def _reader(self, views: bool) -> Iterator[Callable[[bytes], Buffer | None]]:
        """A function from multihash to stored bytes, as :meth:`_get`; with *views*, a store may
        answer with views of its own memory that stay valid only inside this context."""
        yield self._get

    def get_many(self, cids: Iterable[Cid], *, verified: bool = True, ahead: int = 4,
                 views: bool = False) -> Iterator[Buffer]:
        """The blocks of *cids*, in order, as :meth:`get` gives them; up to *ahead* batches of
        about HASH_BATCH bytes are read in advance and hashed on worker threads, so verified
        streaming uses every core.

        With *views*, a block may be a view into the store (no copy) that is valid only until
        the iterator ends (exhausted or closed): for a caller that writes each block out before
        it closes the iterator, and writes nothing to this store meanwhile (an LMDB store holds
        one read transaction, and defers map growth, until then).
        """
        with self._reader(views) as read:
            def fetch(cid: Cid) -> Buffer:
                if cid.is_identity:
                    return cid.digest
                block = read(cid.multihash)
                if block is None:
                    raise CidNotFound(cid)
                return block
            if not verified:
                for cid in cids:
                    yield fetch(cid)
                return

            for blocks, error in _in_order(_hashing(((cid, fetch(cid)) for cid in cids)), ahead):
                yield from blocks
                if error is not None:
                    raise error

    def links(self, cid: Cid) -> list[Cid]:
        """The CIDs the block named *cid* links to (read unverified); CidNotFound if it is absent.
        What pins and GC follow: a store may answer without reading the whole block."""
        return block_links(cid, self.get(cid, verified=False))

    def put(self, cid: Cid, block: Buffer) -> None:
        self.put_many([(cid, block)])

    def put_many(self, items: Iterable[tuple[Cid, Buffer]]) -> None:
        """Store many blocks in one batch (identity CIDs are skipped: the CID is the block)."""
        batch = [(cid.multihash, block) for cid, block in items if not cid.is_identity]
        if batch:
            self._put_many(batch)

    def has(self, cid: Cid) -> bool:
        return cid.is_identity or self._has(cid.multihash)

    def delete(self, cid: Cid) -> bool:
        return False if cid.is_identity else self._delete(cid.multihash)

    def delete_many(self, cids: Iterable[Cid]) -> int:
        """Remove many blocks in one batch; return how many were stored."""
        mhs = [cid.multihash for cid in cids if not cid.is_identity]
        return self._delete_many(mhs) if mhs else 0

    def iterate(self) -> Iterator[Cid]:
        """Stored blocks as CIDv1 raw CIDs: the store knows multihashes, not codecs (as Kubo)."""
        for mh in self.multihashes():
            yield Cid(1, RAW, mh)

    def corrupt(self, checked: Callable[[int], None] | None = None) -> Iterator[tuple[Cid, str]]:
        """(raw CID, problem) for every stored block whose bytes do not match its multihash;
        *checked* is told of the blocks checked."""
        for cid in self.iterate():
            block = self._get(cid.multihash)
            if block is None:  # removed meanwhile
                continue
            try:
                verify(cid, block)
            except CorruptBlock as e:
                yield cid, e.detail
            if checked:
                checked(1)

    def __iter__(self) -> Iterator[Cid]:
        return self.iterate()

    def __len__(self) -> int:
        return sum(1 for _ in self.multihashes())

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, Cid) and self.has(cid)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BatchWriter:
    """Collects blocks and writes them in batches (one transaction each for LMDB).

    A full batch is committed on a worker thread while the next one fills, so an import
    hashes and writes at the same time; at most two batches are held. :meth:`flush` returns
    once every block handed in is committed, and raises the error of any batch that failed.
    """

    def __init__(self, store: Blockstore, max_bytes: int = 8 << 20, max_blocks: int = 4096):
        self.store = store
        self.max_bytes, self.max_blocks = max_bytes, max_blocks
        self._items: list[tuple[Cid, Buffer]] = []
        self._bytes = 0
        self._writing: Future | None = None

    def __call__(self, cid: Cid, block: Buffer) -> None:
        self._items.append((cid, block))
        self._bytes += len(block)
        if self._bytes >= self.max_bytes or len(self._items) >= self.max_blocks:
            self._submit()

    def _take(self) -> list[tuple[Cid, Buffer]]:
        items, self._items, self._bytes = self._items, [], 0
        return items

    def _wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _submit(self) -> None:
        items = self._take()
        self._wait()
        self._writing = _pool().submit(self.store.put_many, items)

    def flush(self) -> None:
        self._wait()
        if self._items:
            self.store.put_many(self._take())
