"""HAMT-sharded UnixFS directories (boxo ipld/unixfs/hamt), written and read.

A shard node is dag-pb with UnixFS type HAMTShard; Data holds the occupancy bitfield
(big-endian, leading zero bytes trimmed), hashType murmur3-x64-64 and the fanout. Each
link is named by its slot in upper-case hex (2 digits for fanout 256), followed by the
entry name for a value or by nothing for a sub-shard. The slot at depth d is taken from
the d-th group of log2(fanout) bits of the name's hash, most significant bits first.
With inserts only, the tree is the same whatever the insertion order, so it is built
from the final set of entries.

>>> hash_key("hello").hex()
'cbd8a7b341bd9b02'
"""

from __future__ import annotations

from typing import Iterator

import mmh3

from ..errors import UnixFSError
from . import pb, unixfs
from .cid import DAG_PB, CidBuilder
from .file import BlockSink, DagRef, put_block
from .meta import Stat
from .unixfs import DataType

# Hash-affecting constants (boxo v0.11): changing them changes CIDs.
DEFAULT_FANOUT = 256
MURMUR3_X64_64 = 0x22


def hash_key(name: str) -> bytes:
    """murmur3-x64-64 of the name: the first 64-bit half (h1) of murmur3 x64_128, big-endian."""
    return mmh3.mmh3_x64_128_digest(pb.name_bytes(name))[7::-1]


def _slot_bits(fanout: int) -> int:
    """log2(fanout); boxo wants a power of two that is a multiple of 8 (we also cap it at 2**16)."""
    if fanout < 8 or fanout > 1 << 16 or fanout & (fanout - 1):
        raise UnixFSError(f"HAMT fanout must be a power of two from 8 to 65536, got {fanout}")
    return fanout.bit_length() - 1


def slot_of(digest: bytes, depth: int, bits: int) -> int:
    """The *depth*-th group of *bits* bits of *digest*, most significant first."""
    total = len(digest) * 8
    start = depth * bits
    if start + bits > total:
        raise UnixFSError("HAMT deeper than its hash allows (hash collision)")
    return (int.from_bytes(digest, "big") >> (total - start - bits)) & ((1 << bits) - 1)


def _prefix(slot: int, fanout: int) -> str:
    width = len(f"{fanout - 1:X}")
    return f"{slot:0{width}X}"


def shard_data(bitfield: int, fanout: int, stat: Stat | None = None) -> bytes:
    nbytes = (bitfield.bit_length() + 7) // 8
    data = unixfs.UnixFSData(DataType.HAMT_SHARD, data=bitfield.to_bytes(nbytes, "big") or None,
                             hash_type=MURMUR3_X64_64, fanout=fanout)
    return unixfs.encode(stat.on(data) if stat else data)


def write(entries: dict[str, DagRef], builder: CidBuilder, sink: BlockSink | None,
          fanout: int = DEFAULT_FANOUT, stat: Stat | None = None) -> DagRef:
    """Write *entries* as a HAMT and return its root; *stat* (mode, mtime) goes on the root only,
    as boxo's Shard.SetStat does."""
    bits = _slot_bits(fanout)
    keyed = [(hash_key(name), name, ref) for name, ref in entries.items()]
    return _write_level(keyed, 0, bits, fanout, builder, sink, stat)


def _write_level(keyed: list[tuple[bytes, str, DagRef]], depth: int, bits: int, fanout: int,
                 builder: CidBuilder, sink: BlockSink | None, stat: Stat | None = None) -> DagRef:
    slots: dict[int, list[tuple[bytes, str, DagRef]]] = {}
    for item in keyed:
        slots.setdefault(slot_of(item[0], depth, bits), []).append(item)
    links, bitfield = [], 0
    for slot in sorted(slots):
        bitfield |= 1 << slot
        members = slots[slot]
        if len(members) == 1:
            _, name, ref = members[0]
            links.append(pb.PBLink(ref.cid, _prefix(slot, fanout) + name, ref.tsize))
        else:
            child = _write_level(members, depth + 1, bits, fanout, builder, sink)
            links.append(pb.PBLink(child.cid, _prefix(slot, fanout), child.tsize))
    block = pb.encode(pb.PBNode(links, shard_data(bitfield, fanout, stat)))
    return put_block(builder, sink, DAG_PB, block, sum(link.tsize for link in links))


# -- reading --------------------------------------------------------------------------------------

def check_shard(node: pb.PBNode, fs: unixfs.UnixFSData) -> int:
    """Validate a shard node against its own header; return its fanout."""
    if fs.hash_type != MURMUR3_X64_64:
        raise UnixFSError(f"unsupported HAMT hash type {fs.hash_type}")
    fanout = fs.fanout or 0
    _slot_bits(fanout)
    bitfield = int.from_bytes(fs.data or b"", "big")
    if bitfield.bit_count() != len(node.links) or bitfield >> fanout:
        raise UnixFSError("HAMT bitfield does not match the shard's links")
    width = len(_prefix(0, fanout))
    for link in node.links:
        name = link.name or ""
        if len(name) < width or not all(c in "0123456789ABCDEF" for c in name[:width]):
            raise UnixFSError(f"HAMT link name {name!r} lacks a slot prefix")
    return fanout


def child_for(node: pb.PBNode, fs: unixfs.UnixFSData, name: str, depth: int) -> tuple[pb.PBLink, bool] | None:
    """The link in this shard (at *depth*) that leads to *name*: (link, is_subshard), or None."""
    fanout = check_shard(node, fs)
    width = len(_prefix(0, fanout))
    want = _prefix(slot_of(hash_key(name), depth, _slot_bits(fanout)), fanout)
    for link in node.links:
        if link.name[:width] == want:
            if len(link.name) == width:
                return link, True
            return (link, False) if link.name[width:] == name else None
    return None


def entries(node: pb.PBNode, fs: unixfs.UnixFSData) -> Iterator[tuple[str | None, pb.PBLink]]:
    """(name, link) for values in this shard, (None, link) for sub-shards, in link order."""
    fanout = check_shard(node, fs)
    width = len(_prefix(0, fanout))
    for link in node.links:
        yield (link.name[width:] if len(link.name) > width else None), link
