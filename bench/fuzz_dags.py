"""Hostile DAGs for the tests and the fuzzer: hash-valid blocks of any shape, and a sandbox that
proves ``get`` stayed inside its output path.

:class:`DagBuilder` encodes dag-pb / UnixFS / dag-cbor / raw blocks directly (no importer, so a
node may say anything), names each by hashing it, and puts it into a block store; ``car()``
packs everything built into a CARv1 for ``casengine dag import``. :class:`Sandbox` is a
directory holding ``out`` (where ``get`` writes) beside ``outside/`` (a canary file and
directory that hostile symlinks point at); :meth:`Sandbox.snapshot` records the inode,
mtime, size, mode and link target of everything but ``out``, so any write outside shows.
:func:`hostile_dags` draws small DAGs whose nodes are chosen to break a reader.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from hypothesis import strategies as st
from multiformats import CID

from casengine import car
from casengine.dag import hamt, pb, unixfs
from casengine.dag.cid import DAG_CBOR, DAG_PB, RAW, Cid, CidBuilder
from casengine.dag.file import DagRef
from casengine.dag.multihash import SHA2_256
from casengine.dag.unixfs import DataType, UnixFSData
from casengine.errors import DecodeError
from casengine.stores.base import Blockstore
from casengine.stores.memory import MemoryStore

#: Names no file system entry may have, or that would escape: every one must be refused by get.
BAD_NAMES = ["..", ".", "/abs", "a/b", "", "a\0b", "x" * 256, "\u00e9" * 128]
#: Symlink targets pointing out of any output path (creating them is fine; following is not).
ESCAPING_TARGETS = ["..", "../outside", "../outside/canary.txt", "../../outside", "../../../../../../etc/passwd",
                    "/", "/etc"]


class DagBuilder:
    """Blocks built by hand, hashed (sha2-256) and put into *store*; ``blocks`` keeps them in order."""

    def __init__(self, store: Blockstore):
        self.store = store
        self.blocks: dict[Cid, bytes] = {}

    def block(self, codec: int, data: bytes) -> Cid:
        cid = Cid(1, codec, SHA2_256.digest(data))
        self._put(cid, data)
        return cid

    def _put(self, cid: Cid, data: bytes) -> None:
        self.store.put(cid, data)
        self.blocks[cid] = data

    def raw(self, data: bytes) -> Cid:
        return self.block(RAW, data)

    def pb(self, links: Iterable[tuple[str | None, Cid]], data: UnixFSData | bytes | None) -> Cid:
        """A dag-pb node: links in the order given (never sorted), Data encoded if it is UnixFSData."""
        if isinstance(data, UnixFSData):
            data = unixfs.encode(data)
        return self.block(DAG_PB, pb.encode(pb.PBNode([pb.PBLink(c, n, 1) for n, c in links], data)))

    def file(self, data: bytes | None = None, children: Iterable[tuple[Cid, int]] = (),
             blocksizes: list[int] | None = None, filesize: int | None = -1) -> Cid:
        """A UnixFS File node; blocksizes default to the children's sizes, filesize (-1) to the sum."""
        children = list(children)
        sizes = [size for _, size in children] if blocksizes is None else blocksizes
        if filesize == -1:
            filesize = len(data or b"") + sum(sizes)
        return self.pb([("", c) for c, _ in children], UnixFSData(DataType.FILE, data, filesize, sizes))

    def directory(self, entries: Iterable[tuple[str, Cid]]) -> Cid:
        return self.pb(entries, UnixFSData(DataType.DIRECTORY))

    def symlink(self, target: str | bytes) -> Cid:
        return self.pb([], UnixFSData(DataType.SYMLINK, os.fsencode(target)))

    def shard(self, links: Iterable[tuple[str, Cid]], fanout: int = 256, bitfield: int | None = None,
              hash_type: int | None = hamt.MURMUR3_X64_64) -> Cid:
        """A HAMT shard node with these exact link names (slot prefix included); the bitfield
        defaults to one bit per link, as many as a valid shard has."""
        links = list(links)
        if bitfield is None:
            bitfield = (1 << len(links)) - 1
        data = bitfield.to_bytes((bitfield.bit_length() + 7) // 8, "big") or None
        return self.pb(links, UnixFSData(DataType.HAMT_SHARD, data, hash_type=hash_type, fanout=fanout))

    def honest_shard(self, entries: dict[str, Cid], fanout: int = 256) -> Cid:
        """A HAMT as the importer writes it: what a reader must accept."""
        refs = {name: DagRef(cid, 1, 0) for name, cid in entries.items()}
        return hamt.write(refs, CidBuilder(1, SHA2_256), self._put, fanout).cid

    def cbor(self, value: object) -> Cid:
        import dag_cbor
        return self.block(DAG_CBOR, dag_cbor.encode(value))

    def car(self, roots: list[Cid]) -> bytes:
        """Every block built so far as a CARv1 with *roots*."""
        return b"".join(car.write(roots, self.blocks.items()))


@dataclass(frozen=True)
class Stat:
    inode: int
    mtime_ns: int
    size: int
    mode: int
    target: str | None


class Sandbox:
    """``root/out`` for get, beside ``root/outside/`` (a canary file and directory): anything
    written outside ``out`` changes :meth:`snapshot`."""

    def __init__(self, root: str | os.PathLike):
        self.root = os.fspath(root)
        self.out = os.path.join(self.root, "out")
        self.outside = os.path.join(self.root, "outside")
        os.makedirs(os.path.join(self.outside, "canary-dir"), exist_ok=True)
        with open(os.path.join(self.outside, "canary.txt"), "w") as f:
            f.write("must stay untouched\n")
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, Stat]:
        """Every path under the sandbox except ``out`` (never following symlinks)."""
        found: dict[str, Stat] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            if dirpath == self.root:
                dirnames[:] = [n for n in dirnames if n != "out"]
                filenames = [n for n in filenames if n != "out"]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                target = os.readlink(path) if os.path.islink(path) else None
                found[os.path.relpath(path, self.root)] = Stat(st.st_ino, st.st_mtime_ns, st.st_size,
                                                               st.st_mode, target)
        return found

    def leftovers(self) -> list[str]:
        """Temporary names a failed or finished get left anywhere in the sandbox."""
        return [os.path.join(d, n) for d, dirs, files in os.walk(self.root) for n in dirs + files
                if n.startswith(".casengine-")]

    def check(self, *, out_exists: bool | None = None) -> None:
        """AssertionError unless nothing outside ``out`` changed and no temporary file remains
        (and, if given, ``out`` exists or not)."""
        assert self.snapshot() == self.before, "something outside the output path changed"
        assert not self.leftovers(), f"temporary files left: {self.leftovers()}"
        if out_exists is not None:
            assert os.path.lexists(self.out) == out_exists, f"out exists: {os.path.lexists(self.out)}"

    def clear(self) -> None:
        """Remove ``out`` (never following symlinks) for the next round."""
        if os.path.isdir(self.out) and not os.path.islink(self.out):
            shutil.rmtree(self.out)
        elif os.path.lexists(self.out):
            os.unlink(self.out)


# -- hypothesis: small hostile DAGs ----------------------------------------------------------------
NAMES = st.one_of(st.sampled_from(BAD_NAMES + ["a", "b", "a", "A", "x" * 255, "\u00e9" * 127, "-", "...", " ",
                                              "\n", "\udcff"]),
                  st.text(max_size=12))
TARGETS = st.one_of(st.sampled_from(ESCAPING_TARGETS + ["", "a\0b", "x" * 4096, "a", "sub/a"]),
                    st.text(max_size=20))
SIZES = st.one_of(st.integers(0, 64), st.sampled_from([2**63, 2**64 - 1, 2**32]))


@st.composite
def hostile_dags(draw: st.DrawFn, max_nodes: int = 7, max_links: int = 3) -> tuple[dict[Cid, bytes], Cid]:
    """(blocks, root): nodes built bottom-up, each linking to earlier ones (so blocks are shared)
    or to a CID that is not there; sizes, names, types and codecs chosen to mislead."""
    b = DagBuilder(MemoryStore())
    made: list[Cid] = [b.raw(draw(st.binary(max_size=16)))]
    missing = Cid(1, RAW, SHA2_256.digest(b"not in the store"))
    for _ in range(draw(st.integers(0, max_nodes))):
        kids = draw(st.lists(st.one_of(st.sampled_from(made), st.just(missing)), max_size=max_links))
        kind = draw(st.sampled_from(["raw", "file", "dir", "symlink", "shard", "cbor", "junk", "type"]))
        if kind == "raw":
            cid = b.raw(draw(st.binary(max_size=32)))
        elif kind == "file":   # sizes as an honest writer gives them, or any sizes at all
            data = draw(st.none() | st.binary(max_size=16))
            if draw(st.booleans()):
                cid = b.file(data, [(k, _size_of(b, k)) for k in kids])
            else:
                cid = b.file(data, [(k, 0) for k in kids], draw(st.lists(SIZES, min_size=len(kids),
                                                                         max_size=len(kids) + 1)),
                             draw(st.none() | SIZES))
        elif kind == "dir":
            cid = b.directory([(draw(NAMES), k) for k in kids])
        elif kind == "symlink":
            cid = b.symlink(draw(TARGETS))
        elif kind == "shard":
            fanout = draw(st.sampled_from([256, 16, 8, 0, 3, 512, 1 << 17]))
            width = len(f"{max(fanout, 1) - 1:X}")
            links = []
            for k in kids:
                slot = draw(st.integers(0, max(fanout, 1) - 1))
                tail = draw(st.none() | NAMES)   # None: a sub-shard link
                links.append((f"{slot:0{width}X}" + (tail or ""), k))
            bitfield = draw(st.none() | st.integers(0, 2**20))
            cid = b.shard(links, fanout, bitfield, draw(st.sampled_from([hamt.MURMUR3_X64_64, None, 0x12])))
        elif kind == "cbor":
            cid = b.cbor({"links": [CID.decode(bytes(k)) for k in kids], "n": draw(st.integers(-5, 5))})
        elif kind == "junk":
            cid = b.block(DAG_PB, draw(st.binary(max_size=24)))
        else:  # a UnixFS type where another is expected (Raw, Metadata, unknown numbers)
            cid = b.pb([(draw(NAMES), k) for k in kids], bytes([0x08, draw(st.sampled_from([0, 3, 6, 127]))]))
        made.append(cid)
    return b.blocks, made[-1]


def _size_of(b: DagBuilder, cid: Cid) -> int:
    """A child's size as an honest parent would declare it (0 for what is not a file)."""
    block = b.blocks.get(cid)
    if block is None:
        return 0
    if cid.codec == RAW:
        return len(block)
    try:
        fs = unixfs.decode(pb.decode(block).data)
    except DecodeError:
        return 0
    return (fs.filesize or 0) if fs.type == DataType.FILE else 0


def directory_chain(dag: DagBuilder, depth: int) -> Cid:
    node = dag.raw(b"bottom\n")
    for _ in range(depth):
        node = dag.directory([("d", node)])
    return node


def bad_shards(dag: DagBuilder) -> dict[str, tuple[Cid, str]]:
    leaf = dag.raw(b"1")
    slot = hamt.slot_of(hamt.hash_key("f"), 0, 8)
    good = f"{slot:02X}f"
    return {
        "fanout 0": (dag.shard([(good, leaf)], fanout=0), "fanout"),
        "fanout 3": (dag.shard([(good, leaf)], fanout=3), "fanout"),
        "fanout 2**17": (dag.shard([(good, leaf)], fanout=1 << 17), "fanout"),
        "bitfield with two bits": (dag.shard([(good, leaf)], bitfield=3), "bitfield"),
        "bitfield past the fanout": (dag.shard([("00f", leaf)], fanout=16, bitfield=1 << 20), "bitfield"),
        "no hash type": (dag.shard([(good, leaf)], hash_type=None), "hash type"),
        "sha2 hash type": (dag.shard([(good, leaf)], hash_type=0x12), "hash type"),
        "name without slot": (dag.shard([("f", leaf)]), "slot prefix"),
        "name with non-hex slot": (dag.shard([("zzf", leaf)]), "slot prefix"),
        "sub-shard that is a file": (dag.shard([(f"{slot:02X}", leaf)]), "not a shard"),
        "sub-shard that is a directory": (dag.shard([(f"{slot:02X}", dag.directory([("f", leaf)]))]), "not a shard"),
    }


MALFORMED_PB = {
    "not protobuf": b"\xff\xff",
    "truncated": bytes.fromhex("0a0308"),
    "data before links": bytes.fromhex("0a020801") + bytes.fromhex("1200"),
    "link without hash": bytes.fromhex("1202" + "1200"),
    "unknown field": bytes.fromhex("1a0100"),
    "non-minimal varint": bytes.fromhex("0a8200" + "0801"),
}


def files_under(path: str) -> dict[str, bytes | str]:
    """Relative path -> file bytes, or '-> target' for a symlink, of everything under *path*."""
    out: dict[str, bytes | str] = {}
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, path)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isfile(p):
                out[rel] = Path(p).read_bytes()
    return out
