"""The node conformance suite: every node subclasses :class:`NodeTests` and runs it against its
real peer (as :class:`StoreTests` in tests/test_stores.py is for block stores); the subclasses are
in tests/test_nodes.py and tests/test_nodes_gateway.py.

A subclass provides the ``node`` fixture (a node on its peer, real content goes in), the add
options its peer shares with Kubo (``options``), and two more nodes of its kind: one whose
peer never answers (``silent_node``) and one whose peer answers for other content or with
flipped bytes (``lying_node``, peers from tests/faulty). Every case compares with what
casengine's own engine gives for the same content: CIDs (``Importer(None)``), bytes,
listings, trees, CARs.

A read-only node (``read_only``: a gateway) is given content through ``writer``, its peer; each of
its write verbs is checked to be refused with RemoteError, leaving the peer's blocks and pins as
they were (:meth:`NodeTests.write`), and the reads go through the node itself.
"""
from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from faulty.rpc import FaultyKubo
from faulty.silent import SilentServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casengine import car
from casengine.dag.cid import Cid
from casengine.dag.unixfs import DataType
from casengine.errors import CasError, CidNotFound, CorruptBlock, PinError, RemoteError, RemoteTimeout
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.nodes.node import Node
from casengine.nodes.remote import block_cid
from casengine.options import ImportOptions
from casengine.routing.backends import NodeBackend
from casengine.stores.memory import MemoryStore

TIMEOUT = 0.5  # seconds a silent peer is given per call
MISSING = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p")  # a CID no test stores
SIZES = [0, 1, 1023, 1024, 262_143, 262_144, 262_145, 700_001]
#: Options every peer here implements as Kubo does (js-ipfs: RECIPE.md section 5).
SHARED_OPTIONS = [
    {}, {"cid_version": 1}, {"cid_version": 1, "raw_leaves": False}, {"raw_leaves": True},
    {"chunker": "size-1024"}, {"trickle": True}, {"trickle": True, "cid_version": 1}, {"hash": "sha2-512"},
]
#: What Kubo 0.43.1 adds to them (js-ipfs's rabin differs from Kubo's; it has no inline or buzhash).
KUBO_OPTIONS = SHARED_OPTIONS + [
    {"chunker": "rabin-512-1024-2048"}, {"chunker": "buzhash"}, {"hash": "blake3", "cid_version": 1},
    {"inline": True, "inline_limit": 64},
]
#: The verbs that write; a read-only node refuses each of them.
WRITES = ("add", "pin_add", "pin_rm", "block_put", "dag_import")
HYPOTHESIS = settings(max_examples=12, suppress_health_check=[*settings.default.suppress_health_check,
                                                              HealthCheck.differing_executors])  # one test, one node per subclass


def local_cid(source, options: ImportOptions = ImportOptions(), recursive: bool = True) -> Cid:
    """The CID casengine's engine gives *source* (hashing only)."""
    importer = Importer(None, options)
    if isinstance(source, bytes):
        return importer.add_bytes(source).cid
    return importer.add_path(source, recursive=recursive).cid


def tree_of(path: Path) -> dict[str, bytes | str | None]:
    out: dict[str, bytes | str | None] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        for d in dirnames:
            out[os.path.join(rel, d)] = None
        for f in filenames:
            full = os.path.join(dirpath, f)
            out[os.path.join(rel, f)] = os.readlink(full) if os.path.islink(full) else open(full, "rb").read()
    return out


def make_tree(root: Path, symlinks: bool) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden_size": 8}\n')
    (root / "weights.bin").write_bytes(random.Random(1).randbytes(1_100_000))
    (root / "sub" / "tokenizer.txt").write_text("a b c\n" * 500)
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    (root / "sub" / "nothing").mkdir()
    if symlinks:
        (root / "sub" / "link").symlink_to("../config.json")
    (root / ".hidden").write_text("skipped without --hidden\n")
    return root


class NodeTests:
    """What every node must do. Subclasses provide ``node``, ``options``, ``silent_node`` and
    ``lying_node``, and say which verbs reach the peer (``reaches_peer_for``); a read-only node
    also its ``writer``."""

    options: list[dict] = SHARED_OPTIONS
    #: The verbs that talk to the peer: each must fail within its deadline when the peer is silent.
    reaches_peer_for = ("version", "add", "cat", "ls", "get_to_path", "pin_add", "pin_rm", "pin_ls", "block_put",
                        "block_get", "block_stat", "dag_export", "dag_import")

    #: Whether the silent peer listens on a unix socket (as Kubo 0.43.1's API here) or on 127.0.0.1.
    silent_on_unix = True

    #: Whether the node stores nothing itself (content goes in through ``writer``, its peer).
    read_only = False

    @pytest.fixture
    def node(self) -> Node:
        raise NotImplementedError

    @pytest.fixture
    def writer(self, node) -> Node:
        """The node content goes in through: the node itself, or a read-only node's peer."""
        return node

    def write(self, node, writer, verb: str, *args, cids=(), **kwargs):
        """``node.verb(...)`` (a node or a NodeBackend); on a read-only node that call must be
        refused with RemoteError (not a timeout), the peer's blocks *cids* and its recursive pins
        unchanged, and the writer's answer is returned instead."""
        if not self.read_only:
            return getattr(node, verb)(*args, **kwargs)
        peer = writer.node if isinstance(writer, NodeBackend) else writer

        def state():
            return [peer.blocks.has(c) for c in cids], set(peer.pin_ls("recursive"))
        before = state()
        with pytest.raises(RemoteError) as refusal:
            getattr(node, verb)(*args, **kwargs)
        assert not isinstance(refusal.value, RemoteTimeout), refusal.value
        assert state() == before, f"a refused {verb} changed the peer"
        return getattr(writer, verb)(*args, **kwargs)

    def put(self, node, writer, source, options: ImportOptions = ImportOptions()) -> Cid:
        """*source* added (through the writer of a read-only node, whose own add leaves nothing)."""
        return self.write(node, writer, "add", source, options, cids=[local_cid(source, options)] * self.read_only)

    #: Whether the peer stores symlinks as Kubo does (js-ipfs's Kubo-RPC server does not).
    symlinks = True

    @pytest.fixture(scope="class")
    @classmethod
    def trees(cls, tmp_path_factory) -> dict[bool, Path]:
        """The same model tree with (True) and without (False) a symlink in it."""
        return {links: make_tree(tmp_path_factory.mktemp("tree") / "model", links) for links in (True, False)}

    @pytest.fixture
    def faulty(self):
        """The lying peer: a Kubo RPC server over a memory store, told how to lie by the case."""
        with FaultyKubo(MemoryStore()) as server:
            yield server

    @pytest.fixture
    def tree(self, trees) -> Path:
        return trees[self.symlinks]

    @pytest.fixture
    def silent(self, tmp_path_factory):
        server = SilentServer(tmp_path_factory.mktemp("silent") / "api.sock" if self.silent_on_unix else None)
        yield server
        server.close()

    @pytest.fixture
    def work(self, tmp_path) -> Path:
        """An empty directory for outputs (a test checks nothing else appears in it)."""
        (tmp_path / "work").mkdir()
        return tmp_path / "work"

    def check_kept(self, node: Node) -> None:
        """After a lying peer: what the node keeps of its own is sound (remotes keep nothing here)."""

    def silent_node(self, silent: SilentServer, tmp_path: Path) -> Node:
        """A node of this kind whose peer accepts connections and never answers."""
        raise NotImplementedError

    def lying_node(self, faulty: FaultyKubo, tmp_path: Path) -> Node:
        """A node of this kind whose peer answers for other content (*faulty* is set to do so)."""
        raise NotImplementedError

    # -- the verbs, each compared with casengine's own engine ---------------------------------------
    def test_is_a_node_with_a_version(self, node):
        assert isinstance(node, Node)
        assert isinstance(node.version(), str) and node.version()

    @HYPOTHESIS
    @given(size=st.sampled_from(SIZES) | st.integers(0, 600_000), seed=st.integers(0, 2**32), data=st.data())
    def test_add_gives_the_local_engines_cid(self, node, writer, size, seed, data):
        opts = ImportOptions(**data.draw(st.sampled_from(self.options)), pin=data.draw(st.booleans()))
        content = random.Random(seed).randbytes(size)
        cid = self.put(node, writer, content, opts)
        assert cid == local_cid(content, opts)
        assert b"".join(node.cat(cid)) == content

    def test_add_of_a_tree_gives_the_local_engines_cid(self, node, writer, tree):
        for opts in [ImportOptions(**o) for o in self.options] + [ImportOptions(hidden=True),
                                                                  ImportOptions(wrap_with_directory=True)]:
            for source in (tree, tree / "weights.bin"):
                cid = self.put(node, writer, source, opts)
                assert cid == local_cid(source, opts) and node.blocks.has(cid), (source, opts)

    def test_cat_with_offset_and_length(self, node, writer, tree):
        root = self.put(node, writer, tree)
        data = (tree / "weights.bin").read_bytes()
        for offset, length in [(0, None), (5, 10), (262_140, 300_000), (len(data) - 3, None), (7, 0),
                               (len(data), None), (len(data) + 10, 5)]:
            got = b"".join(node.cat(f"{root}/weights.bin", offset, length))
            assert got == data[offset:None if length is None else offset + length], (offset, length)
        assert b"".join(node.cat(f"/ipfs/{root}/sub/tokenizer.txt")) == (tree / "sub" / "tokenizer.txt").read_bytes()

    def test_ls_lists_what_the_local_exporter_lists(self, node, writer, tree):
        root = self.put(node, writer, tree)
        store = MemoryStore()
        assert Importer(store).add_path(tree).cid == root
        for path in (root, f"{root}/sub"):
            want = Exporter(store).ls(path)
            got = node.ls(path)
            assert [(e.name, e.cid, e.type) for e in got] == [(e.name, e.cid, e.type) for e in want]
            assert {e.name: e.size for e in got if e.type == DataType.FILE} == \
                {e.name: e.size for e in want if e.type == DataType.FILE}

    def test_get_to_path_writes_the_tree(self, node, writer, tree, work):
        root = self.put(node, writer, tree, ImportOptions(hidden=True))
        node.get_to_path(root, work / "out")
        assert tree_of(work / "out") == tree_of(tree)
        node.get_to_path(f"/ipfs/{root}/sub/tokenizer.txt", work / "one.txt")
        assert (work / "one.txt").read_bytes() == (tree / "sub" / "tokenizer.txt").read_bytes()
        node.get_to_path(f"{root}/sub", work / "out")  # a directory merges into an existing one
        assert (work / "out" / "tokenizer.txt").read_bytes() == (tree / "sub" / "tokenizer.txt").read_bytes()
        assert sorted(os.listdir(work)) == ["one.txt", "out"]  # no staging directory left behind

    def test_pins(self, node, writer):
        cid = self.put(node, writer, os.urandom(300_000), ImportOptions(pin=False))
        assert cid not in dict(node.pin_ls("recursive"))
        self.write(node, writer, "pin_add", cid)
        assert dict(writer.pin_ls("recursive"))[cid] == "recursive"
        self.write(node, writer, "pin_rm", cid)
        assert cid not in dict(writer.pin_ls("recursive"))
        with pytest.raises(RemoteError if self.read_only else PinError):
            node.pin_rm(cid)

    def test_blocks(self, node, writer):
        data = os.urandom(1000)
        raw = self.write(node, writer, "block_put", data, cids=[block_cid(data, "raw", "sha2-256")])
        assert raw == block_cid(data, "raw", "sha2-256")
        assert node.block_get(raw) == data and node.block_stat(raw) == 1000
        assert node.blocks.get(raw) == data and node.blocks.has(raw)
        cbor = self.write(node, writer, "block_put", b"\xa1aa\x01", "dag-cbor")
        assert cbor.codec_name == "dag-cbor" and node.block_get(cbor) == b"\xa1aa\x01"

    def test_dag_export_is_the_local_car_and_import_pins_its_roots(self, node, writer):
        store = MemoryStore()
        big = Importer(store).add_bytes(os.urandom(600_000)).cid
        assert self.put(node, writer, Exporter(store).read(big)) == big
        assert b"".join(node.dag_export(big)) == b"".join(car.write([big], Exporter(store).walk(big)))
        fresh = Importer(store, ImportOptions(cid_version=1)).add_bytes(os.urandom(400_000)).cid
        chunks = [b"".join(car.write([fresh], Exporter(store).walk(fresh)))]
        assert self.write(node, writer, "dag_import", chunks, cids=[fresh]) == [fresh]
        assert dict(writer.pin_ls("recursive"))[fresh] == "recursive"
        assert b"".join(node.cat(fresh)) == Exporter(store).read(fresh)

    def test_the_router_backend_answers_every_call_over_it(self, node, writer, tree, work):
        b, w = NodeBackend(node), NodeBackend(writer)
        cid = self.write(b, w, "add_path", str(tree), chunker="size-4096",
                         cids=[local_cid(tree, ImportOptions(chunker="size-4096"))] * self.read_only)
        assert Cid.parse(cid) == local_cid(tree, ImportOptions(chunker="size-4096"))
        assert b.ls(cid) == ["config.json", "sub", "weights.bin"]
        assert b.cat(f"{cid}/config.json") == (tree / "config.json").read_bytes()
        b.get_to_path(cid, output_path=str(work / "o"))
        assert (work / "o" / "weights.bin").read_bytes() == (tree / "weights.bin").read_bytes()
        assert b.block_get(self.write(b, w, "block_put", b"x")) == b"x"
        self.write(b, w, "unpin", cid)
        self.write(b, w, "pin", cid)
        assert car.CarReader(iter_io(b.dag_export(cid))).roots == [Cid.parse(cid)]
        hello = self.write(b, w, "add_bytes", b"hello world\n")
        assert Cid.parse(hello) == Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")

    # -- failures --------------------------------------------------------------------------------------
    def test_not_found(self, node, writer, tree, work):
        calls = [lambda: b"".join(node.cat(MISSING)), lambda: node.ls(MISSING), lambda: node.block_get(MISSING),
                 lambda: node.block_stat(MISSING), lambda: b"".join(node.dag_export(MISSING)),
                 lambda: node.get_to_path(MISSING, work / "o")]
        for call in calls:
            with pytest.raises(CidNotFound):
                call()
        assert not node.blocks.has(MISSING)
        root = self.put(node, writer, tree)
        with pytest.raises(CidNotFound):
            b"".join(node.cat(f"{root}/no-such-name"))
        with pytest.raises(CidNotFound):
            node.get_to_path(f"{root}/sub/no-such-name", work / "o")
        assert os.listdir(work) == []
        b = NodeBackend(node)
        for name in ("cat", "block_get", "ls", "dag_export"):
            with pytest.raises(RuntimeError, match="CID not found"):
                getattr(b, name)(str(MISSING))
        with pytest.raises(RuntimeError, match="CID not found"):
            b.cat("definitely not a cid")

    def test_nothing_half_written_when_a_block_is_missing(self, node, writer, tmp_path, work):
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        for name in ("a.bin", "sub/b.bin", "sub/c.bin"):
            (src / name).write_bytes(os.urandom(600_000))  # content no other test has given the node
        store = MemoryStore()
        root = Importer(store, ImportOptions(cid_version=1)).add_path(src).cid
        leaves = [c for c, _ in Exporter(store).walk(root) if c.codec_name == "raw"]
        gone = leaves[len(leaves) // 2]
        partial = b"".join(car.write([root], ((c, b) for c, b in Exporter(store).walk(root) if c != gone)))
        self.write(node, writer, "dag_import", [partial], pin_roots=False, cids=[root])
        out = work / "out"
        with pytest.raises(CasError):
            node.get_to_path(root, out)
        with pytest.raises(CasError):
            NodeBackend(node).get_to_path(str(root), output_path=str(out))
        assert os.listdir(work) == []
        with pytest.raises(CasError):
            NodeBackend(node).dag_export(str(root))

    def test_no_call_outlives_its_deadline(self, silent, tmp_path):
        node = self.silent_node(silent, tmp_path)
        cid, block = MISSING, block_cid(b"b", "raw", "sha2-256")
        calls = {"version": node.version, "add": lambda: node.add(b"x" * 2_000_000),
                 "cat": lambda: b"".join(node.cat(cid)), "ls": lambda: node.ls(cid),
                 "get_to_path": lambda: node.get_to_path(cid, tmp_path / "o"), "pin_add": lambda: node.pin_add(cid),
                 "pin_rm": lambda: node.pin_rm(cid), "pin_ls": lambda: list(node.pin_ls()),
                 "block_put": lambda: node.block_put(b"b"), "block_get": lambda: node.block_get(cid),
                 "block_stat": lambda: node.block_stat(cid), "dag_export": lambda: b"".join(node.dag_export(cid)),
                 "dag_import": lambda: node.dag_import(car.write([block], [(block, b"b")]))}
        for name in self.reaches_peer_for:
            with pytest.raises(RemoteTimeout):
                calls[name]()
        for name in WRITES if self.read_only else ():  # refused, not sent to the peer
            with pytest.raises(RemoteError) as refusal:
                calls[name]()
            assert not isinstance(refusal.value, RemoteTimeout), (name, refusal.value)
        assert not (tmp_path / "o").exists()

    @pytest.mark.parametrize("mode", ["wrong", "corrupt"])
    def test_corrupt_or_lying_answers_are_refused(self, faulty, tmp_path, mode):
        data = os.urandom(300_000)
        cid = Importer(faulty.store).add_bytes(data).cid
        leaf = next(c for c, _ in Exporter(faulty.store).walk(cid) if c != cid)
        faulty.fault(mode)
        node = self.lying_node(faulty, tmp_path)
        with pytest.raises(CorruptBlock):
            node.block_get(leaf)
        b = NodeBackend(node)
        with pytest.raises(CasError):
            b.cat(str(cid))
        if mode == "wrong" and not node.trusted:  # it prints another CID for the content, or refuses
            with pytest.raises(RemoteError, match=None if self.read_only else "but the content's CID is"):
                b.add_bytes(data)
        self.check_kept(node)


def iter_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)

