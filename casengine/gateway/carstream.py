"""The blocks of a trustless CAR response, in the order Kubo 0.43.1's gateway writes them.

First the blocks read resolving the path (so a client can verify every step from the root), then
by ``dag-scope``: ``block`` nothing more; ``all`` the whole DAG below the path's end, depth-first;
``entity`` a file's blocks (only those that ``entity-bytes`` needs), a HAMT directory's shards,
else nothing more. Each block once by multihash unless ``dups=y``; identity blocks are never
written (the CID holds them). Streamed: one block in memory at a time.
"""

from __future__ import annotations

from typing import Iterator

from .. import car
from ..dag.cid import DAG_PB, Cid
from ..dag.links import links
from ..dag.unixfs import DataType
from ..errors import UnixFSError
from ..exporter import MAX_DEPTH, Exporter, Node
from .params import CarParams
from .resolve import Resolved

EMPTY_ROOT = Cid.parse("bafkqaaa")
#: What Kubo appends to a CAR it cannot finish.
TRUNCATED = "\n\n[Gateway Error: CAR stream truncated, response is incomplete]"


def body(exporter: Exporter, resolved: Resolved, params: CarParams) -> Iterator[bytes]:
    """The CARv1 bytes for a path that resolved."""
    yield car.header([resolved.cid])
    yield from _sections(_blocks(exporter, resolved, params), params.dups)


def partial(root: Cid, loaded: list[tuple[Cid, bytes]]) -> Iterator[bytes]:
    """What Kubo answers for a path that does not resolve: the blocks that show it, under an empty root."""
    yield car.header([EMPTY_ROOT])
    yield from _sections(iter(loaded), False)


def _sections(blocks: Iterator[tuple[Cid, bytes]], dups: bool) -> Iterator[bytes]:
    seen: set[bytes] = set()
    for cid, block in blocks:
        if cid.is_identity:
            continue
        if not dups:
            if cid.multihash in seen:
                continue
            seen.add(cid.multihash)
        yield car.section(cid, block)


def _blocks(exporter: Exporter, resolved: Resolved, params: CarParams) -> Iterator[tuple[Cid, bytes]]:
    yield from resolved.loaded
    node = resolved.node
    if params.scope == "all":
        yield from _below(exporter, node.cid, node.block, params.dups)
    elif params.scope == "entity" and node.cid.codec == DAG_PB and node.fs is not None:
        if node.type == DataType.FILE:
            lo, hi = _entity_range(node.file_size(), params)
            if hi > lo:
                yield from _file_range(exporter, node, lo, hi, 0)
        elif node.type == DataType.HAMT_SHARD:
            yield from _shards(exporter, node)


def _below(exporter: Exporter, cid: Cid, block: bytes, dups: bool) -> Iterator[tuple[Cid, bytes]]:
    """Every block under *cid* (not itself), depth-first pre-order; each once unless *dups*. The
    children of a block are read ahead together and hashed on worker threads."""
    seen: set[bytes] = {cid.multihash}

    def children(cids: list[Cid]) -> Iterator[tuple[Cid, bytes]]:
        for c, data in zip(cids, exporter.store.get_many(cids, ahead=1)):   # ~1 MiB ahead per client
            if not dups:     # checked as each is reached: an earlier sibling's subtree may hold it
                if c.multihash in seen:
                    continue
                seen.add(c.multihash)
            yield c, data

    stack = [children(links(cid, block))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        yield item
        below = links(*item)
        if below:
            stack.append(children(below))


def _entity_range(size: int, params: CarParams) -> tuple[int, int]:
    """``entity-bytes`` as the bytes [lo, hi) of the file, with Kubo's reading of negative bounds."""
    if not params.has_range:
        return 0, size
    lo = params.range_from if params.range_from >= 0 else max(size + params.range_from, 0)
    if params.range_to is None:
        return lo, size
    to = params.range_to if params.range_to >= 0 else size + params.range_to
    if 1 + to - lo < 0:
        raise UnixFSError("tried to read less than zero bytes")
    return lo, min(size, 1 + to)


def _file_range(exporter: Exporter, node: Node, lo: int, hi: int, depth: int) -> Iterator[tuple[Cid, bytes]]:
    """The blocks below *node* that hold the bytes [lo, hi) of its content, in reading order."""
    if depth > MAX_DEPTH:
        raise UnixFSError(f"file DAG deeper than {MAX_DEPTH} levels")
    if node.fs is None:
        return
    pos = len(node.fs.data or b"")
    wanted = []
    for link, size in zip(node.pb.links, node.fs.blocksizes):
        start, pos = pos, pos + size
        if pos <= lo:
            continue
        if start >= hi:
            break
        wanted.append((link.cid, max(lo, start) - start, min(hi, pos) - start))
    for (cid, a, b), child in zip(wanted, exporter.nodes([c for c, _, _ in wanted])):
        yield cid, child.block
        yield from _file_range(exporter, child, a, b, depth + 1)


def _shards(exporter: Exporter, node: Node) -> Iterator[tuple[Cid, bytes]]:
    """Every sub-shard of a HAMT directory, depth-first (its entries' own blocks are not included)."""
    for item in exporter.hamt_walk(node):
        if isinstance(item, Node):
            yield item.cid, item.block
