"""Filestore references (``add --nocopy``): a leaf recorded as (file, offset, size) instead of a
copy, read back from the file and re-hashed on every read, as Kubo's filestore does
(boxo/filestore). Only raw leaves are referenced: their block is the file's bytes.

The references live in the block store's LMDB environment (:class:`~casengine.stores.lmdb.LmdbStore`),
so they commit, pin and collect with the blocks: an add records them before its pin, gc drops
the ones no pin reaches, and a block stored both ways is read from the copy first. A reference
names the absolute path, where Kubo's is relative to the directory above its repository.

A reference read that does not give the block raises :class:`~casengine.errors.FileChanged`
with Kubo's status word: ``changed`` (other bytes, or the file is shorter), ``no-file`` or
``error``; :func:`entries` gives Kubo's ``filestore ls``/``verify`` rows.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple

from ..dag import varint
from ..dag.cid import RAW, Cid
from ..errors import CorruptBlock, DecodeError, FileChanged, InvalidOption
from .base import Verified, verify

if TYPE_CHECKING:
    from .lmdb import LmdbStore

#: Kubo's statuses (boxo filestore.Status) and their numbers, as ``--enc=json`` prints them.
OK, ERROR, NO_FILE, CHANGED, OTHER, MISSING = "ok", "error", "no-file", "changed", "ERROR", "missing"
STATUS_CODES = {OK: 0, ERROR: 10, NO_FILE: 11, CHANGED: 12, OTHER: 20, MISSING: 30}


class FileRef(NamedTuple):
    """Where a leaf's bytes are: *size* bytes at *offset* of the file at absolute *path*."""

    path: str
    offset: int
    size: int

    def encode(self) -> bytes:
        return varint.encode(self.offset) + varint.encode(self.size) + os.fsencode(self.path)

    @classmethod
    def decode(cls, value: bytes | memoryview) -> "FileRef":
        value = bytes(value)
        offset, i = varint.decode(value, 0)
        size, i = varint.decode(value, i)
        return cls(os.fsdecode(value[i:]), offset, size)


def read_reference(multihash: bytes, ref: FileRef) -> Verified:
    """The block *ref* points at, hashed against *multihash*; FileChanged if the file no longer
    holds it (named by the leaf's raw CIDv1, the CID it was added under)."""
    cid = Cid(1, RAW, multihash)

    def fail(status: str, detail: str) -> FileChanged:
        return FileChanged(cid, ref.path, ref.offset, status, detail)
    try:
        fd = os.open(ref.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise fail(NO_FILE, f"open {ref.path}: no such file or directory") from None
    except OSError as e:
        raise fail(ERROR, f"open {ref.path}: {e.strerror}") from None
    try:
        parts, got = [], 0
        while got < ref.size:
            part = os.pread(fd, ref.size - got, ref.offset + got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except OSError as e:
        raise fail(ERROR, f"read {ref.path}: {e.strerror}") from None
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    changed = f"data in file did not match. {ref.path} offset {ref.offset}"
    if got < ref.size:
        raise fail(CHANGED, f"{changed} (the file ends before the block)")
    try:
        verify(cid, data)
    except CorruptBlock:
        raise fail(CHANGED, changed) from None
    return Verified(data)


class Entry(NamedTuple):
    """One row of ``filestore ls`` / ``verify``: status, the reference's raw CID, where it points
    (None when there is no reference), and the error text (empty when ok)."""

    status: str
    cid: Cid | None
    ref: FileRef | None
    message: str = ""

    def line(self) -> str:
        """Kubo's FormatLong: ``<cid padded to 50> <size padded to 6> <path> <offset>``."""
        if self.cid is None:
            return "<corrupt key>"
        if self.ref is None:
            return str(self.cid)
        return f"{str(self.cid):<50} {self.ref.size:>6} {self.ref.path} {self.ref.offset}"

    def json(self) -> dict:
        """Kubo's ListRes as ``--enc=json`` prints it."""
        ref = self.ref or FileRef("", 0, 0)
        return {"Status": STATUS_CODES[self.status], "ErrorMsg": self.message,
                "Key": {"/": str(self.cid) if self.cid else ""},
                "FilePath": ref.path, "Offset": ref.offset, "Size": ref.size}


def check(multihash: bytes, ref: FileRef) -> Entry:
    """Read and hash one reference: its status as ``filestore verify`` reports it."""
    cid = Cid(1, RAW, multihash)
    try:
        read_reference(multihash, ref)
    except FileChanged as e:
        return Entry(e.status, cid, ref, e.detail)
    return Entry(OK, cid, ref)


def entries(store: "LmdbStore", cids: Iterable[str] | None = None, *, verify: bool = False,
            file_order: bool = False) -> Iterator[Entry]:
    """Kubo's filestore listing: every reference (key order, or by path and offset with
    *file_order*), or the ones named by *cids* (each checked, as Kubo checks named ones)."""
    if cids is not None:
        for text in cids:
            try:
                cid = Cid.parse(text)
            except DecodeError as e:
                yield Entry(OTHER, None, None, f"{text}: {e}")
                continue
            ref = store.reference(cid.multihash)
            raw = Cid(1, RAW, cid.multihash)
            if ref is None:
                yield Entry(MISSING, raw, None, f"ipld: could not find {raw}")
            else:
                yield check(cid.multihash, ref)
        return
    refs: Iterable[tuple[bytes, FileRef]] = store.references()
    if file_order:
        refs = sorted(refs, key=lambda item: (item[1].path, item[1].offset, item[0]))
    for mh, ref in refs:
        yield check(mh, ref) if verify else Entry(OK, Cid(1, RAW, mh), ref)


def first_reference(store: "LmdbStore", cid: Cid) -> FileRef | None:
    """The reference of file DAG *cid*'s first leaf (where an ``add --nocopy`` read it), if
    that leaf is referenced; only the first node of each level is read."""
    while cid.codec != RAW:
        children = store.links(cid)
        if not children:
            return None  # a dag-pb leaf holds its bytes itself
        cid = children[0]
    return store.reference(cid.multihash)


class ReferenceWriter:
    """Collects the references of an add's leaves and records them in batches (one LMDB
    transaction each); :meth:`flush` returns once all are committed, as BatchWriter does for blocks.
    A leaf that repeats in a file is recorded where it occurs last (Kubo records the last of a batch)."""

    def __init__(self, store: "LmdbStore", max_refs: int = 4096):
        if not hasattr(store, "put_references"):
            raise InvalidOption("the filestore must be enabled to use nocopy: add into a casengine "
                                "repository, not a remote tier")
        self.store, self.max_refs = store, max_refs
        self._items: list[tuple[bytes, FileRef]] = []

    def for_file(self, path: str) -> "FileLeaves":
        return FileLeaves(self, os.path.abspath(path))

    def add(self, multihash: bytes, ref: FileRef) -> None:
        self._items.append((multihash, ref))
        if len(self._items) >= self.max_refs:
            self.flush()

    def flush(self) -> None:
        if self._items:
            items, self._items = self._items, []
            self.store.put_references(items)


class FileLeaves:
    """The leaf sink of one file: each leaf, handed over in file order, is referenced at the
    offset where the previous one ended."""

    def __init__(self, writer: ReferenceWriter, path: str):
        self.writer, self.path, self.offset = writer, path, 0

    def __call__(self, cid: Cid, size: int) -> None:
        if not cid.is_identity:  # an inlined leaf is its CID: nothing to record
            self.writer.add(cid.multihash, FileRef(self.path, self.offset, size))
        self.offset += size
