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
batches of 8 MiB (the BatchWriter default; peak RSS of a 1 GiB add is about six batches
plus 30 MiB: 64 MiB batches held 400 MiB, 8 MiB hold ~100 MiB whatever the file size), and the
map's resident pages are dropped after each large batch (:meth:`LmdbStore.release_map`). Keys are multihashes, random, so LMDB's ``append`` does not apply; a
batch is written in key order instead.

Filestore references (``add --nocopy``, :mod:`casengine.stores.filestore`) live in the
``filestore`` database of the same environment, so they commit, pin and collect with the blocks.

The memory map grows by itself: a full map is doubled and the write retried, and a map
grown by another process is adopted, so no ``MapFullError`` reaches a caller. LMDB lets a
process open an environment once, so the stores of one process on one path share it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from operator import itemgetter
from typing import Callable, Iterator, TypeVar

import lmdb

from ..dag.cid import DAG_PB, RAW, Cid
from ..dag.links import links as block_links
from ..dag.pb import data_only
from ..errors import CidNotFound, CorruptBlock, StoreError
from .base import Blockstore, Buffer, verify
from .compact import free_bytes
from .filestore import FileRef, read_reference
from .lmdb_env import close_env, open_env, release_map

T = TypeVar("T")

#: The layout of the environment (databases, keys, values); a store of another layout is refused.
FORMAT = 1
INITIAL_MAP_SIZE = 1 << 30
#: Keys read per read transaction when listing a store: bounded memory, short-lived snapshots.
KEYS_PER_READ = 16384
#: Block bytes hashed per read transaction by :meth:`LmdbStore.corrupt`.
BYTES_PER_READ = 256 << 20
#: A put_many of at least this many bytes drops the map's resident pages afterwards (see
#: :meth:`LmdbStore.release_map`).
RELEASE_AFTER = 8 << 20
#: Reads drop the map's resident pages after this many bytes (RSS stays flat).
RELEASE_READ = 64 << 20


class LmdbStore(Blockstore):
    """Blocks keyed by multihash in the ``blocks`` database of the LMDB environment at *path*."""

    def __init__(self, path: str | os.PathLike, *, map_size: int = INITIAL_MAP_SIZE):
        self.path = os.fspath(path)
        try:
            os.makedirs(self.path, exist_ok=True)
            self._handle = open_env(self.path, map_size)
        except (OSError, lmdb.Error) as e:
            raise StoreError(f"cannot open block store at {self.path}: {e}") from e
        self.env = self._handle.env
        self._closed = False
        self._read_since_release = 0  # bytes read since the map's pages were last dropped (see _count_read)
        self.blocks = self.db(b"blocks")
        self._meta = self.db(b"meta")
        self.refs = self.db(b"filestore")  # multihash -> FileRef (see casengine.stores.filestore)
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

    @contextmanager
    def snapshot(self, *, buffers: bool = False) -> Iterator[lmdb.Transaction]:
        """One read transaction as a context (with *buffers*, values are views valid only inside);
        the map is not resized in this process until it ends."""
        while True:
            handle = self._handle
            handle.enter()
            try:
                txn = self.env.begin(buffers=buffers)
                break
            except lmdb.MapResizedError:
                handle.leave()
            except lmdb.Error as e:
                handle.leave()
                raise StoreError(f"block store read failed: {e}") from e
            handle.resize(None)
        try:
            yield txn
        except lmdb.Error as e:
            raise StoreError(f"block store read failed: {e}") from e
        finally:
            txn.abort()
            handle.leave()

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
        """The stored block, else the bytes a filestore reference points at (read and hashed
        outside the transaction)."""
        def get(txn: lmdb.Transaction) -> bytes | FileRef | None:
            block = txn.get(multihash, db=self.blocks)
            if block is None and (value := txn.get(multihash, db=self.refs)) is not None:
                return FileRef.decode(value)
            return block
        found = self.read(get)
        if isinstance(found, FileRef):
            return read_reference(multihash, found)
        if found is not None:
            self._count_read(len(found))
        return found

    def _count_read(self, size: int) -> None:
        """Drop the map's resident pages after every RELEASE_READ bytes read (copied or viewed),
        so a long read (cat, export, a pin's walk) stays flat; live views fault theirs back in."""
        self._read_since_release += size
        if self._read_since_release >= RELEASE_READ:
            self._read_since_release = 0
            self.release_map()

    def reference(self, multihash: bytes) -> FileRef | None:
        """The filestore reference recorded for *multihash*, if any."""
        value = self.read(lambda txn: txn.get(multihash, db=self.refs))
        return None if value is None else FileRef.decode(value)

    def references(self) -> Iterator[tuple[bytes, FileRef]]:
        """Every (multihash, reference), in key order, in bounded read transactions."""
        for refs in self._chunks(lambda n, _: n >= KEYS_PER_READ, lambda k, v: (k, FileRef.decode(v)), self.refs):
            yield from refs

    def put_references(self, items: list[tuple[bytes, FileRef]]) -> None:
        """Record leaves as references into their files, in one transaction. A block already
        stored keeps its copy (no reference, as Kubo's filestore skips blocks it has); an older
        reference is replaced (these bytes were just read and hashed)."""
        items = sorted(items, key=itemgetter(0))

        def put(txn: lmdb.Transaction) -> None:
            with txn.cursor(self.blocks) as cur:
                for mh, ref in items:
                    if not cur.set_key(mh):
                        txn.put(mh, ref.encode(), db=self.refs)
        self.write(put, buffers=True)

    def delete_references(self, multihashes: list[bytes]) -> int:
        """Drop these references (a stored copy of the block stays); return how many there were."""
        return self.write(lambda txn: sum(txn.delete(mh, db=self.refs) for mh in sorted(multihashes)))

    def duplicates(self) -> Iterator[bytes]:
        """Multihashes held both as a stored block and as a reference (``filestore dups``)."""
        for keys in self._chunks(lambda n, _: n >= KEYS_PER_READ, lambda k, _: k, self.refs):
            yield from self._stored(keys, True)

    def _stored(self, keys: list[bytes], stored: bool) -> list[bytes]:
        """The *keys* that are (or, with *stored* False, are not) in the blocks database."""
        def pick(txn: lmdb.Transaction) -> list[bytes]:
            with txn.cursor(self.blocks) as cur:
                return [k for k in keys if cur.set_key(k) == stored]
        return self.read(pick, buffers=True)

    @contextmanager
    def _reader(self, views: bool) -> Iterator[Callable[[bytes], Buffer | None]]:
        """With *views*: lookups in one read transaction, answered with views into the map."""
        if not views:
            yield self._get
            return
        with self.snapshot(buffers=True) as txn:
            def read(multihash: bytes) -> Buffer | None:
                block = txn.get(multihash, db=self.blocks)
                if block is None and (value := txn.get(multihash, db=self.refs)) is not None:
                    return read_reference(multihash, FileRef.decode(value))
                if block is not None:
                    self._count_read(len(block))
                return block
            yield read

    def links(self, cid: Cid) -> list[Cid]:
        """A dag-pb block that is one Data field has no links (canonical dag-pb puts links first):
        UnixFS leaves are answered from their header, without reading them whole; anything
        else is decoded in full (so malformed blocks raise DagPbError)."""
        if cid.codec != DAG_PB or cid.is_identity:
            return super().links(cid)

        def read(txn: lmdb.Transaction) -> tuple[list[Cid], int]:
            value = txn.get(cid.multihash, db=self.blocks)
            if value is None:
                raise CidNotFound(cid)
            if data_only(value) is not None:
                return [], len(value)
            return block_links(cid, bytes(value)), len(value)
        found, size = self.read(read, buffers=True)
        self._count_read(size)   # a pin's walk over a big file touches its pages too
        return found

    def _add_bytes(self, txn: lmdb.Transaction, delta: int) -> None:
        """Keep the total of stored block bytes beside the blocks, in the same transaction."""
        if delta:
            total = int.from_bytes(txn.get(b"bytes", b"", db=self._meta), "big") + delta
            txn.put(b"bytes", total.to_bytes(8, "big"), db=self._meta)

    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        items = sorted(items, key=itemgetter(0))  # key order: each B-tree page touched once

        def put(txn: lmdb.Transaction) -> int:
            added = written = 0
            for mh, block in items:
                written += len(block)
                if txn.put(mh, block, db=self.blocks, overwrite=False):
                    added += len(block)
                    continue
                # Other bytes under this hash fail it (these were just hashed): replace them. The byte
                # count already holds this block's size, counted when it was first written.
                if txn.get(mh, db=self.blocks) != block:  # a view: compared in place, not copied
                    txn.put(mh, block, db=self.blocks)
            self._add_bytes(txn, added)
            return written
        if self.write(put, buffers=True) >= RELEASE_AFTER:
            self.release_map()

    def release_map(self) -> None:
        """Drop this process's resident pages of the map (see :func:`.lmdb_env.release_map`)."""
        release_map(self._handle, self.path)

    def _has(self, multihash: bytes) -> bool:
        def has(txn: lmdb.Transaction) -> bool:
            with txn.cursor(self.blocks) as cur:
                return cur.set_key(multihash) or txn.get(multihash, db=self.refs) is not None
        return self.read(has, buffers=True)

    def _delete(self, multihash: bytes) -> bool:
        return self._delete_many([multihash]) == 1

    def _delete_many(self, multihashes: list[bytes]) -> int:
        def delete(txn: lmdb.Transaction) -> int:
            removed = freed = 0
            with txn.cursor(self.blocks) as cur:
                for mh in sorted(multihashes):
                    found = txn.delete(mh, db=self.refs)  # a reference goes with the block
                    if cur.set_key(mh):
                        freed += len(cur.value())  # a view: the block is not copied
                        cur.delete()
                        found = True
                    removed += found
            self._add_bytes(txn, -freed)
            return removed
        return self.write(delete, buffers=True)

    def _chunks(self, limit: Callable[[int, int], bool], fn: Callable[[bytes, memoryview], T],
                db=None) -> Iterator[list[T]]:
        """fn(key, value view) for every block (or entry of *db*), in key order, in read
        transactions that end when *limit*(entries, bytes) says so; each transaction's results
        are yielded after it ends."""
        after: bytes | None = None
        while True:
            def read(txn: lmdb.Transaction) -> tuple[list[T], bytes | None]:
                out: list[T] = []
                n = size = 0
                with txn.cursor(db or self.blocks) as cur:
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
        for keys in self._chunks(lambda n, _: n >= KEYS_PER_READ, lambda key, _: key, self.refs):
            yield from self._stored(keys, False)  # references without a copy: not seen above

    def corrupt(self, checked: Callable[[int], None] | None = None) -> Iterator[tuple[Cid, str]]:
        """Hash every block in place in the map (no copies), a bounded batch per transaction;
        *checked* is told how many blocks each batch held."""
        def check(key: bytes, value: memoryview) -> tuple[Cid, str] | None:
            cid = Cid(1, RAW, key)
            try:
                verify(cid, value)
            except CorruptBlock as e:
                return cid, e.detail
            return None
        for results in self._chunks(lambda n, size: size >= BYTES_PER_READ, check):
            yield from (r for r in results if r is not None)
            if checked:
                checked(len(results))

    def __len__(self) -> int:
        return self.read(lambda txn: txn.stat(self.blocks)["entries"])

    def size(self) -> int:
        return self.read(lambda txn: int.from_bytes(txn.get(b"bytes", b"", db=self._meta), "big"))

    def free_bytes(self) -> int:
        """Bytes of the data file in free pages: reused by later writes, given back by compaction."""
        self._handle.enter()
        try:
            return free_bytes(self.env)
        finally:
            self._handle.leave()

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
            close_env(self._handle)

