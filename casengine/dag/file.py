"""The blocks of one UnixFS file DAG: leaves (hashed in parallel) and parent nodes.

Leaves are encoded exactly as boxo's DagBuilderHelper does: raw blocks, or dag-pb nodes
holding a UnixFS message of the layout's leaf type (File for balanced, Raw for trickle).
A dag-pb leaf is ``head + chunk + tail``, so it is hashed from the three pieces without
copying the chunk; a copy is made only when the block is going to be stored.
"""

from __future__ import annotations

import os
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

from ..chunker.reader import Window
from . import pb, unixfs, varint
from .cid import DAG_PB, RAW, Cid, CidBuilder
from .meta import Stat
from .unixfs import DataType

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

Buffer = bytes | bytearray | memoryview
#: Where finished blocks go (a store's batch writer), or None when only hashing.
BlockSink = Callable[[Cid, Buffer], None]
#: Where raw leaves go instead of the block sink when they are referenced, not stored
#: (``--nocopy``): told each leaf's CID and size, in file order.
LeafSink = Callable[[Cid, int], None]


class DagRef(NamedTuple):
    """A finished node as its parent links it: CID, cumulative size (Tsize), file bytes below it."""

    cid: Cid
    tsize: int
    filesize: int


def put_block(builder: CidBuilder, sink: BlockSink | None, codec: int, block: bytes,
              children_tsize: int = 0, filesize: int = 0) -> DagRef:
    """Hash a finished block, hand it to the sink, and describe it for its parent's link."""
    cid = builder.sum(codec, (block,), len(block))
    if sink:
        sink(cid, block)
    return DagRef(cid, len(block) + children_tsize, filesize)


class FileWriter:
    """Encodes and hashes the nodes of a file DAG and hands their blocks to a sink."""

    def __init__(self, builder: CidBuilder, raw_leaves: bool, leaf_type: DataType, sink: BlockSink | None,
                 leaf_sink: LeafSink | None = None):
        self.builder = builder
        self.raw_leaves = raw_leaves
        self.sink = sink
        self.leaf_sink = leaf_sink if raw_leaves and sink else None
        self._type_field = bytes([0x08, int(leaf_type)])

    def leaf(self, chunk: memoryview) -> tuple[DagRef, Buffer | None]:
        """Encode one chunk; thread-safe (touches no shared state). Returns the block only if kept."""
        n = len(chunk)
        if self.raw_leaves:
            cid = self.builder.sum(RAW, (chunk,), n)
            return DagRef(cid, n, n), (bytes(chunk) if self.sink and not self.leaf_sink else None)
        size_varint = varint.encode(n)
        inner = self._type_field + b"\x12" + size_varint
        tail = b"\x18" + size_varint
        head = b"\x0a" + varint.encode(len(inner) + n + len(tail)) + inner
        size = len(head) + n + len(tail)
        cid = self.builder.sum(DAG_PB, (head, chunk, tail), size)
        return DagRef(cid, size, n), (b"".join((head, chunk, tail)) if self.sink else None)

    def leaves_of(self, window: Window) -> list[tuple[DagRef, Buffer | None]]:
        try:
            return [self.leaf(c) for c in window.chunks]
        finally:
            window.release()

    def empty_leaf(self) -> DagRef:
        """The single node of an empty file (boxo: NewLeafNode(nil, TFile))."""
        if self.raw_leaves:
            return put_block(self.builder, self.sink, RAW, b"")
        return self.parent([])

    def parent(self, children: list[DagRef]) -> DagRef:
        """A UnixFS File node linking *children* (Data: filesize and blocksizes)."""
        filesize = sum(c.filesize for c in children)
        data = unixfs.encode(unixfs.UnixFSData(DataType.FILE, filesize=filesize,
                                               blocksizes=[c.filesize for c in children]))
        block = pb.encode(pb.PBNode([pb.PBLink(c.cid, "", c.tsize) for c in children], data))
        return put_block(self.builder, self.sink, DAG_PB, block, sum(c.tsize for c in children), filesize)


class HoldRoot:
    """A sink that passes on every block but the latest one, which is a layout's root: boxo sets
    a file's mode and mtime on its root before storing it, so the bare root is never stored."""

    def __init__(self, sink: BlockSink | None):
        self.sink = sink
        self.last: tuple[Cid, bytes] | None = None

    def __call__(self, cid: Cid, block: Buffer) -> None:
        if self.last is not None and self.sink:
            self.sink(*self.last)
        self.last = (cid, bytes(block))

    def root_with(self, ref: DagRef, builder: CidBuilder, stat: Stat) -> DagRef:
        """Store the held root *ref*, rewritten with *stat* (a raw root stays as it is, as in boxo)."""
        cid, block = self.last
        assert cid == ref.cid, "the root is the last block a layout writes"
        if cid.codec != DAG_PB:
            if self.sink:
                self.sink(cid, block)
            return ref
        node = pb.decode(block)
        data = unixfs.encode(stat.on(unixfs.decode(node.data)))
        return put_block(builder, self.sink, DAG_PB, pb.encode(pb.PBNode(node.links, data)),
                         ref.tsize - len(block), ref.filesize)


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Hash threads shared by all imports: hashlib releases the GIL, so leaves hash in parallel."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor  # at first use: it imports logging (start-up)

        _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="casengine-hash")
    return _POOL


def encode_leaves(writer: FileWriter, windows: Iterator[Window], depth: int = 4) -> Iterator[DagRef]:
    """Leaves of all windows, in order; up to *depth* windows hash in parallel ahead of the caller.

    Blocks go to the writer's sink from this (the caller's) thread, so sinks need no locking.
    """
    first = next(windows, None)
    if first is None:
        return
    second = next(windows, None)
    if second is None:  # small input: no thread hand-off
        batches = iter([writer.leaves_of(first)])
    else:
        batches = _parallel(writer, first, second, windows, depth)
    for batch in batches:
        for ref, block in batch:
            if block is not None:
                writer.sink(ref.cid, block)
            elif writer.leaf_sink:
                writer.leaf_sink(ref.cid, ref.filesize)
            yield ref


def _parallel(writer: FileWriter, first: Window, second: Window, windows: Iterator[Window], depth: int):
    pool = _pool()
    pending = deque([pool.submit(writer.leaves_of, first), pool.submit(writer.leaves_of, second)])
    try:
        for window in windows:
            pending.append(pool.submit(writer.leaves_of, window))
            while len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:  # abandoned early (error or close): let in-flight windows finish
            if not fut.cancel():
                fut.exception()
