"""UnixFS directories and symlinks, as Kubo's MFS writes them during ``ipfs add -r``.

A :class:`DirectoryWriter` collects entries and decides at the end what to write: a basic
directory (one dag-pb node, links sorted by name bytes) or, when its :class:`ShardingRule`
says so, a HAMT (:mod:`casengine.dag.hamt`). Adds only ever grow a directory (a subdirectory's
link is replaced only by a bigger one), so deciding on the final entries gives the same result
as boxo's dynamic directory switching while entries arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidOption
from . import hamt, pb, unixfs, varint
from .cid import DAG_PB, CidBuilder
from .file import BlockSink, DagRef, put_block
from .meta import Stat
from .unixfs import DataType

# Hash-affecting constant (Kubo 0.22 Internal.UnixFSShardingSizeThreshold): 256 KiB.
DEFAULT_SHARD_THRESHOLD = 262144

#: Kubo's Import.UnixFSHAMTDirectorySizeEstimation values: name + CID bytes per link (Kubo's
#: only estimate up to 0.39), the basic node's exact serialized size, or size ignored.
SIZE_ESTIMATES = ("links", "block", "disabled")

NO_STAT = Stat()


def directory_data(stat: Stat = NO_STAT) -> bytes:
    return unixfs.encode(stat.on(unixfs.UnixFSData(DataType.DIRECTORY)))


def data_field_size(data: bytes) -> int:
    """What PBNode.Data adds to a block: key, length, the UnixFS message."""
    return 1 + len(varint.encode(len(data))) + len(data)


def symlink(builder: CidBuilder, sink: BlockSink | None, target: str, stat: Stat = NO_STAT) -> DagRef:
    """A UnixFS Symlink node whose Data is the link target, unresolved (with an mtime, never a mode)."""
    data = unixfs.encode(stat.on(unixfs.UnixFSData(DataType.SYMLINK, data=pb.name_bytes(target))))
    return put_block(builder, sink, DAG_PB, pb.encode(pb.PBNode([], data)))


def estimated_link_size(name: str, ref: DagRef) -> int:
    """boxo's "links" estimate of what a link costs in a directory node: name bytes + CID bytes."""
    return len(pb.name_bytes(name)) + len(bytes(ref.cid))


def serialized_link_size(name: str, ref: DagRef) -> int:
    """boxo's "block" estimate: the bytes the link adds to the encoded node (PBNode.Links entry)."""
    n = len(pb.encode_link(pb.PBLink(ref.cid, name, ref.tsize)))
    return 1 + len(varint.encode(n)) + n


@dataclass(frozen=True)
class ShardingRule:
    """When boxo's dynamic directory turns a basic directory into a HAMT, and the HAMT's width.

    A directory is sharded when it has more than *max_links* entries (0: no limit) or when its
    size *estimate* passes *threshold*: above it, or also at it with *at_threshold* (boxo up to
    Kubo 0.39 compared with ``>=``, Kubo 0.40 with ``>``). A threshold of 0 turns sharding off,
    the entry limit included, as in boxo.
    """

    threshold: int = DEFAULT_SHARD_THRESHOLD
    estimate: str = "links"
    at_threshold: bool = True
    max_links: int = 0
    fanout: int = hamt.DEFAULT_FANOUT

    def __post_init__(self) -> None:
        if self.estimate not in SIZE_ESTIMATES:
            raise InvalidOption(f"HAMT size estimation must be one of {', '.join(SIZE_ESTIMATES)}, "
                                f"got {self.estimate!r}")
        if self.threshold < 0:
            raise InvalidOption(f"HAMT size threshold must be non-negative, got {self.threshold}")
        if self.max_links < 0:
            raise InvalidOption(f"max-directory-links must be non-negative, got {self.max_links}")
        f = self.fanout
        if f < 8 or f > 1024 or f & (f - 1):  # Kubo's Import.UnixFSHAMTDirectoryMaxFanout rule
            raise InvalidOption(f"HAMT fanout must be a power of 2, between 8 and 1024 (got {f})")

    def base_size(self, data: bytes) -> int:
        """The estimate of an empty directory with UnixFS *data*: its Data field under "block"
        (mode and mtime included, as boxo counts them), nothing otherwise."""
        return data_field_size(data) if self.estimate == "block" else 0

    def link_size(self, name: str, ref: DagRef) -> int:
        if self.estimate == "block":
            return serialized_link_size(name, ref)
        return estimated_link_size(name, ref) if self.estimate == "links" else 0

    def shards(self, size: int, count: int) -> bool:
        """Whether a directory of *count* entries whose estimate is *size* is written as a HAMT.
        One with no entries never is: boxo decides as entries are added (Kubo 0.43.1 keeps an
        empty directory basic even when the `block` estimate of its node passes a tiny threshold)."""
        if self.threshold == 0 or count == 0:
            return False
        if 0 < self.max_links < count:
            return True
        if self.estimate == "disabled":
            return False
        return size > self.threshold or (self.at_threshold and size == self.threshold)


class DirectoryWriter:
    """Entries of one directory; :meth:`finish` writes it as the rule's Kubo would, with *stat*
    on the directory node (or on a HAMT's root)."""

    def __init__(self, builder: CidBuilder, sink: BlockSink | None, rule: ShardingRule = ShardingRule(),
                 stat: Stat = NO_STAT):
        self.builder, self.sink, self.rule, self.stat = builder, sink, rule, stat
        self.data = directory_data(stat)
        self.entries: dict[str, DagRef] = {}
        self.estimated_size = rule.base_size(self.data)

    def add(self, name: str, ref: DagRef) -> None:
        old = self.entries.get(name)
        if old is not None:
            self.estimated_size -= self.rule.link_size(name, old)
        self.entries[name] = ref
        self.estimated_size += self.rule.link_size(name, ref)

    def needs_sharding(self) -> bool:
        return self.rule.shards(self.estimated_size, len(self.entries))

    def finish(self) -> DagRef:
        if self.needs_sharding():
            return hamt.write(self.entries, self.builder, self.sink, self.rule.fanout, self.stat)
        names = sorted(self.entries, key=pb.name_bytes)
        links = [pb.PBLink(self.entries[n].cid, n, self.entries[n].tsize) for n in names]
        block = pb.encode(pb.PBNode(links, self.data))
        return put_block(self.builder, self.sink, DAG_PB, block, sum(link.tsize for link in links))
