"""Blocks in LMDB: copy-on-write B+tree, one commit per batch, shared by processes, offline.

Durability, with the settings below (``sync`` on, ``metasync`` off):

* A committed transaction survives the death of the process (SIGKILL included): its pages
  are written to the file before the commit returns.
* Every commit flushes its data pages to disk before it writes its meta page, and the next
  commit (or :meth:`LmdbStore.durable`) flushes that meta page. After an OS crash or power
  loss the store is therefore intact and holds every transaction but possibly the last one
  (LMDB's "ACI without D" for ``MDB_NOMETASYNC``). Whatever must survive an OS crash on
  return calls :meth:`durable` after committing: a Repo does so when it records a pin, so a
  returned ``add`` is on disk. (As with any database, this holds if the disk honours flushes.)

Settings, as measured by bench/store.py and by hand on 1 GiB adds: no ``writemap``: a commit
writes its pages with pwrite (interleaved runs, each from a synced disk: 1.6 s per GiB against
2.1 s with ``writemap``, whose page faults on the growing file zero every page before it is
written; 1 KiB blocks put twice as fast, and the file is not sparse); ``readahead`` stays on;
batches of 64 MiB (smaller ones flush more often and were slower; 128 MiB was no faster and
holds twice the memory). Keys are multihashes, random, so LMDB's ``append`` does not apply; a
batch is written in key order instead.

The memory map grows by itself: a full map is doubled and the write retried, and a map
grown by another process is adopted, so no ``MapFullError`` reaches a caller. LMDB lets a
process open an environment once, so the stores of one process on one path share it.
"""

from __future__ import annotations

import os
import threading
from operator import itemgetter
from typing import Callable, Iterator, TypeVar

import lmdb

from ..dag import varint
from ..dag.cid import DAG_PB, RAW, Cid
from ..dag.links import links as block_links
from ..errors import CidNotFound, CorruptBlock, DecodeError, StoreError
from .base import Blockstore, Buffer, verify

T = TypeVar("T")

#: The layout of the environment (databases, keys, values); a store of another layout is refused.
FORMAT = 1
INITIAL_MAP_SIZE = 1 << 30
#: Named databases inside one LMDB environment (blocks plus whatever a Repo keeps beside them).
MAX_DBS = 8
#: Keys read per read transaction when listing a store: bounded memory, short-lived snapshots.
KEYS_PER_READ = 16384
#: Block bytes hashed per read transaction by :meth:`LmdbStore.corrupt`.
BYTES_PER_READ = 256 << 20


class _Env:
    """This process's one handle on an environment: LMDB operations run together through
    :meth:`enter`/:meth:`leave`; a map resize runs alone (py-lmdb invalidates transactions
    that are open in other threads when the map is resized)."""

    def __init__(self, env: lmdb.Environment):
        self.env = env
        self.users = 0
        self._cond = threading.Condition()
        self._active = 0
        self._resizing = False

    def enter(self) -> None:
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._active += 1

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            if self._resizing and not self._active:
                self._cond.notify_all()

    def resize(self, failed_at: int | None) -> None:
        """Double the map if it is still *failed_at* bytes; None: adopt another process's size."""
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._resizing = True
            try:
                while self._active:
                    self._cond.wait()
                size = self.env.info()["map_size"]
                if failed_at is None:
                    self.env.set_mapsize(0)
                elif size <= failed_at:
                    self.env.set_mapsize(size * 2)
            finally:
                self._resizing = False
                self._cond.notify_all()


_OPEN: dict[tuple[int, str], _Env] = {}   # (pid, real path) -> the environment
_OPEN_LOCK = threading.Lock()


def _open_env(path: str, map_size: int) -> _Env:
    """This process's one environment for *path* (opened on first use, then shared)."""
    key = (os.getpid(), os.path.realpath(path))
    with _OPEN_LOCK:
        handle = _OPEN.get(key)
        if handle is None:
            env = lmdb.open(path, map_size=map_size, max_dbs=MAX_DBS, writemap=False, metasync=False,
                            sync=True, max_readers=1024, readahead=True)
            env.reader_check()  # free the slots of readers that died (SIGKILL) without closing
            handle = _OPEN[key] = _Env(env)
        handle.users += 1
        return handle


def _close_env(handle: _Env) -> None:
    with _OPEN_LOCK:
        handle.users -= 1
        if handle.users == 0:
            del _OPEN[next(k for k, h in _OPEN.items() if h is handle)]
            handle.env.close()


class LmdbStore(Blockstore):
    """Blocks keyed by multihash in the ``blocks`` database of the LMDB environment at *path*."""

    def __init__(self, path: str | os.PathLike, *, map_size: int = INITIAL_MAP_SIZE):
        self.path = os.fspath(path)
        try:
            os.makedirs(self.path, exist_ok=True)
            self._handle = _open_env(self.path, map_size)
        except (OSError, lmdb.Error) as e:
            raise StoreError(f"cannot open block store at {self.path}: {e}") from e
        self.env = self._handle.env
        self._closed = False
        self.blocks = self.db(b"blocks")
        self._meta = self.db(b"meta")
        self._check_format()

    def _check_format(self) -> None:
        """Record the layout in a new store; refuse a store written in another layout."""
        def check(txn: lmdb.Transaction) -> bytes:
            if not txn.put(b"format", str(FORMAT).encode(), db=self._meta, overwrite=False):
                return txn.get(b"format", db=self._meta)
            return str(FORMAT).encode()
        found = self.write(check)
        if found != str(FORMAT).encode():
            self.close()
            raise StoreError(f"block store at {self.path} has format {found.decode(errors='replace')}; "
                             f"this casengine reads format {FORMAT}")

    def db(self, name: bytes):
        """Another named database in the same environment (pins, roots, metadata)."""
        return self.write(lambda txn: self.env.open_db(name, txn=txn))

    # -- transactions that survive map growth ----------------------------------------------------
    def write(self, fn: Callable[[lmdb.Transaction], T], *, buffers: bool = False) -> T:
        """Run *fn* in one write transaction; grow the map and retry if it is full (with
        *buffers*, values are views valid only inside)."""
        while True:
            handle = self._handle
            handle.enter()
            try:
                size = self.env.info()["map_size"]
                with self.env.begin(write=True, buffers=buffers) as txn:
                    return fn(txn)
            except lmdb.MapFullError:
                resize: int | None = size
            except lmdb.MapResizedError:
                resize = None  # another process grew it: adopt its size
            except lmdb.Error as e:
                raise StoreError(f"block store write failed: {e}") from e
            finally:
                handle.leave()
            handle.resize(resize)

    def read(self, fn: Callable[[lmdb.Transaction], T], *, buffers: bool = False) -> T:
        """Run *fn* in one read transaction (with *buffers*, values are views valid only inside)."""
        while True:
            handle = self._handle
            handle.enter()
            try:
                with self.env.begin(buffers=buffers) as txn:
                    return fn(txn)
            except lmdb.MapResizedError:
                pass
            except lmdb.Error as e:
                raise StoreError(f"block store read failed: {e}") from e
            finally:
                handle.leave()
            handle.resize(None)

    def durable(self) -> None:
        """Flush what is committed to disk, so it survives an OS crash (see the module doc)."""
        self._handle.enter()
        try:
            self.env.sync(True)
        except lmdb.Error as e:
            raise StoreError(f"block store sync failed: {e}") from e
        finally:
            self._handle.leave()

    # -- Blockstore -------------------------------------------------------------------------------
    def _get(self, multihash: bytes) -> bytes | None:
        return self.read(lambda txn: txn.get(multihash, db=self.blocks))

    def links(self, cid: Cid) -> list[Cid]:
        """A dag-pb block that is one Data field has no links (canonical dag-pb puts links first):
        UnixFS leaves are answered from their header, without reading them whole; anything
        else is decoded in full (so malformed blocks raise DagPbError)."""
        if cid.codec != DAG_PB or cid.is_identity:
            return super().links(cid)

        def read(txn: lmdb.Transaction) -> list[Cid]:
            value = txn.get(cid.multihash, db=self.blocks)
            if value is None:
                raise CidNotFound(cid)
            if _data_only(value):
                return []
            return block_links(cid, bytes(value))
        return self.read(read, buffers=True)

    def _add_bytes(self, txn: lmdb.Transaction, delta: int) -> None:
        """Keep the total of stored block bytes beside the blocks, in the same transaction."""
        if delta:
            total = int.from_bytes(txn.get(b"bytes", b"", db=self._meta), "big") + delta
            txn.put(b"bytes", total.to_bytes(8, "big"), db=self._meta)

    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        items = sorted(items, key=itemgetter(0))  # key order: each B-tree page touched once

        def put(txn: lmdb.Transaction) -> None:
            added = 0
            for mh, block in items:
                if txn.put(mh, block, db=self.blocks, overwrite=False):
                    added += len(block)
            self._add_bytes(txn, added)
        self.write(put)

    def _has(self, multihash: bytes) -> bool:
        def has(txn: lmdb.Transaction) -> bool:
            with txn.cursor(self.blocks) as cur:
                return cur.set_key(multihash)
        return self.read(has)

    def _delete(self, multihash: bytes) -> bool:
        return self._delete_many([multihash]) == 1

    def _delete_many(self, multihashes: list[bytes]) -> int:
        def delete(txn: lmdb.Transaction) -> int:
            removed = freed = 0
            with txn.cursor(self.blocks) as cur:
                for mh in sorted(multihashes):
                    if cur.set_key(mh):
                        freed += len(cur.value())  # a view: the block is not copied
                        cur.delete()
                        removed += 1
            self._add_bytes(txn, -freed)
            return removed
        return self.write(delete, buffers=True)

    def _chunks(self, limit: Callable[[int, int], bool], fn: Callable[[bytes, memoryview], T]) -> Iterator[list[T]]:
        """fn(key, value view) for every block, in key order, in read transactions that end when
        *limit*(entries, bytes) says so; each transaction's results are yielded after it ends."""
        after: bytes | None = None
        while True:
            def read(txn: lmdb.Transaction) -> tuple[list[T], bytes | None]:
                out: list[T] = []
                n = size = 0
                with txn.cursor(self.blocks) as cur:
                    more = cur.set_range(after) if after is not None else cur.first()
                    if more and after is not None and cur.key() == after:
                        more = cur.next()
                    while more and not limit(n, size):
                        key, value = bytes(cur.key()), cur.value()
                        out.append(fn(key, value))
                        n, size = n + 1, size + len(value)
                        last = key
                        more = cur.next()
                return out, (last if more else None)
            out, after = self.read(read, buffers=True)
            yield out
            if after is None:
                return

    def multihashes(self) -> Iterator[bytes]:
        """Every key, read in bounded transactions (keys added or removed meanwhile may or may
        not be seen; a key present throughout is seen exactly once)."""
        for keys in self._chunks(lambda n, _: n >= KEYS_PER_READ, lambda key, _: key):
            yield from keys

    def corrupt(self) -> Iterator[tuple[Cid, str]]:
        """Hash every block in place in the map (no copies), a bounded batch per transaction."""
        def check(key: bytes, value: memoryview) -> tuple[Cid, str] | None:
            cid = Cid(1, RAW, key)
            try:
                verify(cid, value)
            except CorruptBlock as e:
                return cid, e.detail
            return None
        for results in self._chunks(lambda n, size: size >= BYTES_PER_READ, check):
            yield from (r for r in results if r is not None)

    def __len__(self) -> int:
        return self.read(lambda txn: txn.stat(self.blocks)["entries"])

    def size(self) -> int:
        return self.read(lambda txn: int.from_bytes(txn.get(b"bytes", b"", db=self._meta), "big"))

    def disk_usage(self) -> int:
        """Bytes the environment's files occupy on disk."""
        total = 0
        for name in ("data.mdb", "lock.mdb"):
            try:
                total += os.stat(os.path.join(self.path, name)).st_blocks * 512
            except FileNotFoundError:
                pass
        return total

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _close_env(self._handle)


def _data_only(block: memoryview) -> bool:
    """Whether *block* is exactly one dag-pb Data field (key, length varint, that many bytes)."""
    if len(block) < 2 or block[0] != 0x0A:
        return False
    try:
        size, end = varint.decode(bytes(block[1:11]), 0)
    except DecodeError:
        return False
    return 1 + end + size == len(block)
