"""Hostile DAGs: hash-valid blocks built by hand (bench/fuzz_dags.py) that lie about names, sizes,
types, codecs and shape, read back through the Exporter (over an LMDB repo or a memory store)
(the command line and a short fuzz run: test_hostile_cli.py).

Every case ends in a typed CasError (one line on stderr, exit 1, on the command line) or in a
correct result contained in the output path. "Contained" is checked on the whole area around
the output (bench/fuzz_dags.Sandbox): a sibling directory with a canary file and directory whose
inodes, mtimes, sizes and modes must not change, and no temporary file left anywhere.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from multiformats import CID

from casengine import car
from casengine.dag import hamt, pb, unixfs
from casengine.dag.cid import DAG_PB, RAW, Cid
from casengine.dag.multihash import SHA2_256
from casengine.dag.unixfs import DataType, UnixFSData
from casengine.errors import (CasError, CidNotFound, CorruptBlock, DagPbError, InvalidCid, NotADirectory,
                              UnixFSError, UnsafePath)
from casengine.exporter import MAX_DEPTH, Exporter
from casengine.gateway import carstream
from casengine.gateway.params import CarParams
from casengine.gateway.resolve import resolve
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from fuzz_dags import (BAD_NAMES, ESCAPING_TARGETS, MALFORMED_PB, DagBuilder, Sandbox, bad_shards,  # noqa: E402
                       directory_chain, files_under)


class CountingStore(MemoryStore):
    """A memory store that counts reads per block, to show what a traversal fetches."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[bytes] = Counter()

    def _get(self, multihash: bytes) -> bytes | None:
        self.reads[multihash] += 1
        return super()._get(multihash)


@pytest.fixture
def repo(tmp_path):
    with Repo(tmp_path / "repo") as r:
        yield r


@pytest.fixture
def dag(repo) -> DagBuilder:
    return DagBuilder(repo.store)


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path / "area")


def refused(ex: Exporter, root: Cid, sandbox: Sandbox, error: type[CasError], match: str | None = None) -> CasError:
    """get fails with *error*, leaving no output, no temporary file and the outside untouched."""
    with pytest.raises(error, match=match) as info:
        ex.get(root, sandbox.out)
    sandbox.check(out_exists=False)
    return info.value


# -- names -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_entry_names_are_refused(repo, dag, sandbox, name):
    leaf = dag.raw(b"payload")
    root = dag.directory([("ok", leaf), (name, leaf)])
    refused(repo.exporter, root, sandbox, UnsafePath, "directory entry name")
    assert [e.name for e in repo.exporter.ls(root)] == ["ok", name]   # listing them is harmless


@pytest.mark.parametrize("name", [n for n in BAD_NAMES if n], ids=repr)
def test_bad_entry_names_in_a_hamt_are_refused(repo, dag, sandbox, name):
    root = dag.honest_shard({"ok": dag.raw(b"1"), name: dag.raw(b"2")})
    refused(repo.exporter, root, sandbox, UnsafePath, "directory entry name")


def test_an_empty_name_in_a_hamt_reads_as_a_sub_shard(repo, dag, sandbox):
    root = dag.honest_shard({"ok": dag.raw(b"1"), "": dag.raw(b"2")})
    refused(repo.exporter, root, sandbox, UnixFSError, "not a shard")


def test_dot_entries_cannot_be_reached_by_path(repo, dag):
    """Paths are cleaned as Kubo cleans them (go-path Segments uses path.Clean), so entries
    named "." or ".." are never looked up."""
    inner = dag.directory([("f", dag.raw(b"inner"))])
    root = dag.directory([(".", inner), ("..", inner), ("d", inner)])
    ex = repo.exporter
    assert ex.resolve(f"{root}/.").cid == root
    assert ex.resolve(f"{root}/d/..").cid == root
    assert ex.read(f"/ipfs/{root}/d/./../d/f") == b"inner"
    with pytest.raises(InvalidCid, match="above its root"):
        ex.resolve(f"{root}/..")
    with pytest.raises(InvalidCid):
        ex.resolve("")


NAMES_AT_THE_LIMITS = ["x" * 255, "\u00e9" * 127 + "a", "-rf", "...", " ", "\n", "\udcff", "a\\b", "*"]


def test_names_at_the_limits_are_written(repo, dag, sandbox):
    """255 bytes (also of 2-byte characters, which once overflowed the temporary name), leading
    dashes, dots, spaces, newlines, undecodable bytes: all legal on Linux, written as named."""
    root = dag.directory([(n, dag.raw(n.encode("utf-8", "surrogateescape"))) for n in NAMES_AT_THE_LIMITS])
    repo.exporter.get(root, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {n: n.encode("utf-8", "surrogateescape") for n in NAMES_AT_THE_LIMITS}


def test_sibling_directories_may_hold_the_same_names(repo, dag, sandbox):
    """A name is a duplicate only within one directory (directory fds are reused after close)."""
    x = dag.raw(b"x")
    inner = dag.directory([("x", x)])
    root = dag.directory([("a", inner), ("b", inner), ("c", dag.directory([("x", inner)])), ("x", x)])
    repo.exporter.get(root, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {"a/x": b"x", "b/x": b"x", "c/x/x": b"x", "x": b"x"}


# -- duplicates and symlinks -------------------------------------------------------------------------
def _entry(dag: DagBuilder, kind: str, sandbox: Sandbox) -> Cid:
    return {
        "file": lambda: dag.raw(b"pwned\n"),
        "dir": lambda: dag.directory([("canary.txt", dag.raw(b"pwned\n")), ("new", dag.raw(b"pwned\n"))]),
        "symlink-rel": lambda: dag.symlink("../outside"),
        "symlink-abs": lambda: dag.symlink(sandbox.outside),
        "symlink-file": lambda: dag.symlink(os.path.join(sandbox.outside, "canary.txt")),
    }[kind]()


@pytest.mark.parametrize("first,second", [("symlink-rel", "dir"), ("symlink-abs", "dir"), ("symlink-file", "file"),
                                          ("symlink-abs", "file"), ("file", "file"), ("dir", "file"),
                                          ("file", "dir"), ("dir", "dir"), ("symlink-rel", "symlink-abs")])
def test_duplicate_names_are_refused(repo, dag, sandbox, first, second):
    """A symlink to the outside followed by a directory or file of the same name must not be
    written through; any second entry of a name is refused, whole get undone."""
    root = dag.directory([("before", dag.raw(b"1")), ("x", _entry(dag, first, sandbox)),
                          ("x", _entry(dag, second, sandbox))])
    refused(repo.exporter, root, sandbox, UnsafePath, "duplicate directory entry 'x'")


def test_duplicate_names_across_hamt_slots_are_refused(repo, dag, sandbox):
    leaf = dag.raw(b"1")
    slot = hamt.slot_of(hamt.hash_key("x"), 0, 8)
    root = dag.shard([(f"{slot:02X}x", dag.symlink(sandbox.outside)), (f"{(slot + 1) % 256:02X}x", dag.directory(
        [("canary.txt", leaf)]))], bitfield=(1 << slot) | (1 << (slot + 1) % 256))
    refused(repo.exporter, root, sandbox, UnsafePath, "duplicate directory entry 'x'")


def test_symlinks_pointing_outside_are_created_not_followed(repo, dag, sandbox):
    targets = ESCAPING_TARGETS + [sandbox.outside, os.path.join(sandbox.outside, "canary.txt")]
    root = dag.directory([(f"link{i}", dag.symlink(t)) for i, t in enumerate(targets)]
                         + [("z", dag.raw(b"after the links"))])
    repo.exporter.get(root, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {**{f"link{i}": f"-> {t}" for i, t in enumerate(targets)},
                                        "z": b"after the links"}


def test_a_root_symlink_is_written_as_a_symlink(repo, dag, sandbox):
    repo.exporter.get(dag.symlink(sandbox.outside), sandbox.out)
    sandbox.check(out_exists=True)
    assert os.readlink(sandbox.out) == sandbox.outside


def test_merging_never_follows_symlinks_already_in_the_output(repo, dag, sandbox):
    """get into an existing directory merges; symlinks found there are replaced (files) or
    refused (directories), never followed."""
    os.mkdir(sandbox.out)
    os.symlink(sandbox.outside, os.path.join(sandbox.out, "d"))
    os.symlink(os.path.join(sandbox.outside, "canary.txt"), os.path.join(sandbox.out, "f"))
    ex = repo.exporter
    with pytest.raises(UnsafePath, match="is a symlink"):
        ex.get(dag.directory([("d", dag.directory([("canary.txt", dag.raw(b"pwned\n"))]))]), sandbox.out)
    sandbox.check()
    ex.get(dag.directory([("f", dag.raw(b"replaced\n"))]), sandbox.out)
    sandbox.check()
    assert files_under(sandbox.out) == {"d": f"-> {sandbox.outside}", "f": b"replaced\n"}


@pytest.mark.parametrize("target", [b"", b"a\0b", b"x" * 4096], ids=["empty", "NUL", "4096 bytes"])
def test_symlink_targets_no_file_system_can_hold_are_refused(repo, dag, sandbox, target):
    root = dag.directory([("ok", dag.raw(b"1")), ("s", dag.symlink(target))])
    refused(repo.exporter, root, sandbox, UnsafePath, "symlink target")


# -- depth -------------------------------------------------------------------------------------------
def test_100k_deep_directory_chain(sandbox):
    """No recursion anywhere: walk and path resolution go all the way; get stops at MAX_DEPTH
    with a typed error and removes what it built."""
    store = MemoryStore()
    root = directory_chain(DagBuilder(store), 100_000)
    ex = Exporter(store)
    assert sum(1 for _ in ex.walk(root)) == 100_001
    assert ex.resolve(f"{root}/" + "/".join(["d"] * 1000)).type == DataType.DIRECTORY
    refused(ex, root, sandbox, UnixFSError, f"deeper than {MAX_DEPTH} levels")


def test_a_directory_chain_within_the_limit_is_written(repo, dag, sandbox):
    root = directory_chain(dag, MAX_DEPTH - 1)
    repo.exporter.get(root, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {"/".join(["d"] * (MAX_DEPTH - 1)): b"bottom\n"}


def test_100k_deep_file_chain(sandbox):
    store = MemoryStore()
    b = DagBuilder(store)
    node = b.raw(b"x")
    for _ in range(100_000):
        node = b.file(children=[(node, 1)])
    ex = Exporter(store)
    with pytest.raises(UnixFSError, match=f"deeper than {MAX_DEPTH} levels"):
        ex.read(node)
    refused(ex, node, sandbox, UnixFSError, f"deeper than {MAX_DEPTH} levels")
    assert sum(1 for _ in ex.walk(node)) == 100_001


def test_hamt_nested_past_its_hash(repo, dag, sandbox):
    """100 levels of sub-shards, each in the slot "f" hashes to (while the 8-byte hash lasts)."""
    digest = hamt.hash_key("f")
    node = dag.honest_shard({"f": dag.raw(b"1")})
    for depth in reversed(range(100)):
        node = dag.shard([(f"{digest[depth] if depth < len(digest) else 0:02X}", node)])
    with pytest.raises(UnixFSError, match="deeper than its hash"):
        repo.exporter.ls(node)
    with pytest.raises(UnixFSError, match="deeper than its hash"):
        repo.exporter.resolve(f"{node}/f")
    refused(repo.exporter, node, sandbox, UnixFSError, "deeper than its hash")


# -- shared blocks: each fetched once where the answer does not repeat them --------------------------
def file_lattice(b: DagBuilder, levels: int) -> Cid:
    """Each level links twice to the one below: 2**levels copies of the leaf b"ab"."""
    node, size = b.raw(b"ab"), 2
    for _ in range(levels):
        node, size = b.file(children=[(node, size), (node, size)]), 2 * size
    return node


def test_file_lattice_is_walked_once_per_block():
    store = CountingStore()
    b = DagBuilder(store)
    root = file_lattice(b, 61)     # declares 2**62 bytes, all of them real
    ex = Exporter(store)
    assert ex.resolve(root).file_size() == 2**62
    store.reads.clear()
    assert len(list(ex.walk(root))) == 62 and set(store.reads.values()) == {1}
    store.reads.clear()   # a range reads the one path down to it
    assert ex.read(root, offset=2**62 - 2) == b"ab" and len(store.reads) == 62 and set(store.reads.values()) == {1}
    store.reads.clear()
    blocks = list(car.CarReader(io.BytesIO(b"".join(car.export(store, root)))))
    assert len(blocks) == 62 and set(store.reads.values()) == {1}


def test_file_lattice_is_pinned_once_per_block(repo, monkeypatch):
    root = file_lattice(DagBuilder(repo.store), 61)
    reads: Counter[bytes] = Counter()  # pins look at a block through links() (has() for raw leaves)
    for name in ("links", "has"):
        real = getattr(repo.store, name)
        monkeypatch.setattr(repo.store, name, lambda cid, real=real: reads.update([cid.multihash]) or real(cid))
    repo.pin(root)
    assert len(reads) == 62 and set(reads.values()) == {1}


def test_directory_lattice(repo, dag, sandbox):
    """walk and ls read each block once; get writes the whole (exponential) tree it describes."""
    store = CountingStore()
    b = DagBuilder(store)
    node = b.raw(b"leaf")
    for _ in range(40):
        node = b.directory([("a", node), ("b", node)])
    ex = Exporter(store)
    store.reads.clear()
    assert len(list(ex.walk(node))) == 41 and set(store.reads.values()) == {1}
    store.reads.clear()
    assert len(ex.ls(node)) == 2 and sum(store.reads.values()) == 2
    small = dag.raw(b"leaf")
    for _ in range(6):
        small = dag.directory([("a", small), ("b", small)])
    repo.exporter.get(small, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {"/".join(p): b"leaf" for p in itertools.product("ab", repeat=6)}


def test_hamt_lattice_is_refused_not_expanded(sandbox):
    """Every slot of every level links the same sub-shard: 256**7 entries if listed naively."""
    store = CountingStore()
    b = DagBuilder(store)
    node = b.honest_shard({"f": b.raw(b"1")})
    for _ in range(7):
        node = b.shard([(f"{i:02X}", node) for i in range(256)])
    ex = Exporter(store)
    store.reads.clear()
    with pytest.raises(UnixFSError, match="linked twice"):
        ex.ls(node)
    assert sum(store.reads.values()) <= 9
    refused(ex, node, sandbox, UnixFSError, "linked twice")
    store.reads.clear()
    with pytest.raises(UnixFSError, match="linked twice"):   # the gateway's entity CAR of the shard
        b"".join(carstream.body(ex, resolve(ex, f"/ipfs/{node}", node, []), CarParams(scope="entity")))
    assert sum(store.reads.values()) <= 9


# -- sizes ---------------------------------------------------------------------------------------------
SIZE_LIES = {
    "blocksize above the child": dict(blocksizes=[20]),
    "blocksize below the child": dict(blocksizes=[5]),
    "2**63 declared": dict(blocksizes=[2**63]),
    "8 GiB declared": dict(blocksizes=[8 << 30]),
    "filesize 2**64-1": dict(filesize=2**64 - 1),
    "filesize below the data": dict(data=b"0123456789", filesize=3),
    "more blocksizes than links": dict(blocksizes=[10, 10]),
    "fewer blocksizes than links": dict(blocksizes=[], filesize=10),
}


@pytest.mark.parametrize("lie", SIZE_LIES)
def test_sizes_that_disagree_with_the_children(repo, dag, sandbox, lie):
    """Sizes are checked against the bytes that arrive; nothing is allocated or reserved from
    a declared size (no sparse file either: a failed get leaves no file at all)."""
    kw = dict(SIZE_LIES[lie])
    root = dag.file(kw.pop("data", None), [(dag.raw(b"0123456789"), 10)], **kw)
    ex = repo.exporter
    tracemalloc.start()
    try:
        with pytest.raises(UnixFSError):
            ex.read(root)
        with pytest.raises(UnixFSError):
            ex.read(root, offset=0, length=3)
        refused(ex, dag.directory([("f", root)]), sandbox, UnixFSError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_huge_honest_file_streams_only_what_is_asked(repo, dag):
    root = file_lattice(dag, 62)   # 2**63 bytes
    assert repo.exporter.read(root, offset=2**63 - 4, length=100) == b"abab"
    assert repo.exporter.read(root, offset=2**63) == b""


# -- codecs and types ----------------------------------------------------------------------------------
def test_wrong_codecs_and_types(repo, dag, sandbox):
    ex = repo.exporter
    cbor_dir = dag.cbor({"not": "unixfs"})
    cases = {
        "dag-cbor entry": (dag.directory([("c", cbor_dir)]), UnixFSError, "dag-cbor, not UnixFS"),
        "dag-pb without Data": (dag.directory([("n", dag.pb([], None))]), UnixFSError, "no Data"),
        "Metadata entry": (dag.directory([("m", dag.pb([], UnixFSData(DataType.METADATA)))]), UnixFSError,
                           "metadata, not a file"),
        "directory inside a file": (dag.file(children=[(dag.pb([], UnixFSData(DataType.DIRECTORY, filesize=1)), 1)]),
                                    UnixFSError, "inside a file is a directory"),
        "dag-cbor inside a file": (dag.file(children=[(cbor_dir, 1)]), UnixFSError, "not UnixFS"),
        "unknown codec entry": (dag.directory([("u", Cid(1, 0x300001, SHA2_256.digest(b"?")))]), CidNotFound, None),
        "unknown type number": (dag.directory([("t", dag.pb([], b"\x08\x09"))]), UnixFSError, "unknown UnixFS type"),
        "missing block": (dag.directory([("ok", dag.raw(b"1")), ("gone", Cid(1, RAW, SHA2_256.digest(b"gone")))]),
                          CidNotFound, None),
    }
    for name, (root, error, match) in cases.items():
        err = refused(ex, root, sandbox, error, match)
        assert str(err) and "\n" not in str(err), name
    unknown_codec = Cid(1, 0x300001, SHA2_256.digest(b"block"))
    repo.store.put(unknown_codec, b"block")
    assert "not UnixFS" in str(refused(ex, dag.directory([("u", unknown_codec)]), sandbox, UnixFSError))
    unverifiable = Cid(1, RAW, bytes([0x99, 0x77, 3]) + b"abc")
    repo.store.put(unverifiable, b"abc")
    refused(ex, dag.directory([("h", unverifiable)]), sandbox, CorruptBlock, "cannot verify")
    with pytest.raises(NotADirectory):
        ex.resolve(f"{dag.raw(b'raw')}/x")
    with pytest.raises(UnixFSError, match="not UnixFS"):
        ex.read(cbor_dir)
    assert [c for c, _ in ex.walk(dag.cbor({"l": [CID.decode(bytes(cbor_dir))]}))][1:] == [cbor_dir]


def test_identity_inlined_directory_is_read(repo, dag, sandbox):
    block = pb.encode(pb.PBNode([pb.PBLink(dag.raw(b"hi"), "f", 2)], unixfs.encode(UnixFSData(DataType.DIRECTORY))))
    inline = Cid(1, DAG_PB, b"\x00" + bytes([len(block)]) + block)
    repo.exporter.get(inline, sandbox.out)
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {"f": b"hi"}


def test_bad_hamt_shards(repo, dag, sandbox):
    ex = repo.exporter
    for name, (root, match) in bad_shards(dag).items():
        with pytest.raises(UnixFSError, match=match):
            ex.ls(root)
        with pytest.raises(UnixFSError, match=match):
            ex.resolve(f"{root}/f")
        refused(ex, root, sandbox, UnixFSError, match)


@pytest.mark.parametrize("case", MALFORMED_PB)
def test_malformed_protobuf(repo, dag, sandbox, case):
    bad = dag.block(DAG_PB, MALFORMED_PB[case])
    ex = repo.exporter
    for op in (lambda: ex.read(bad), lambda: ex.ls(bad), lambda: list(ex.walk(bad)), lambda: repo.pin(bad)):
        with pytest.raises(DagPbError):
            op()
    refused(ex, dag.directory([("ok", dag.raw(b"1")), ("bad", bad)]), sandbox, DagPbError)
    assert dict(repo.pins()) == {}
