"""The Kubo tiers against a real Kubo-RPC server: js-ipfs 0.66.1, offline, in a private network
namespace on 127.0.0.1 (fixture `kubo_rpc`), with `jsipfs` as KUBO_CMD for the CLI tier."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest
from ipfs_kit_standin import make_module

from casengine import car
from casengine import ipfs_backend_router as router
from casengine.dag.cid import Cid
from casengine.dag.unixfs import DataType
from casengine.errors import CidNotFound, PinError, RemoteError, RemoteTimeout
from casengine.importer import Importer
from casengine.ipfs_backend_router import HuggingFaceCacheBackend, KuboCLIBackend, KuboRPCBackend
from casengine.nodes.kubo_cli import KuboCLIStore
from casengine.nodes.kubo_rpc import KuboRPCStore
from casengine.options import ImportOptions
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore

# Options js-ipfs implements as Kubo does (RECIPE.md section 5: rabin differs, inline and buzhash absent).
SHARED_OPTIONS = [
    {},
    {"cid_version": 1},
    {"cid_version": 1, "raw_leaves": False},
    {"raw_leaves": True},
    {"chunker": "size-1024"},
    {"trickle": True},
    {"trickle": True, "cid_version": 1},
    {"hash": "sha2-512"},
    {"wrap_with_directory": True},
]
ORACLE_NAMES = {"wrap_with_directory": "wrap"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree") / "model"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden_size": 8}\n')
    (root / "weights.bin").write_bytes(os.urandom(1_100_000))
    (root / "sub" / "tokenizer.txt").write_text("a b c\n" * 500)
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    (root / "sub" / "nothing").mkdir()
    (root / ".hidden").write_text("skipped without --hidden\n")
    return root


def local_cid(source, **opts) -> Cid:
    importer = Importer(MemoryStore(), ImportOptions(**opts))
    if isinstance(source, bytes):
        return importer.add_bytes(source).cid
    return importer.add_path(source).cid


def test_rpc_add_gives_kubos_cids_for_every_shared_option(kubo_rpc, kubo, tree):
    rpc = KuboRPCStore(kubo_rpc.url)
    for opts in SHARED_OPTIONS:
        oracle_opts = {ORACLE_NAMES.get(k, k): v for k, v in opts.items()}
        for source in (tree / "weights.bin", tree / "sub"):
            got = rpc.add(source, ImportOptions(**opts))
            assert got == local_cid(source, **opts), (source, opts)
            assert str(got) == kubo.cid(source, **oracle_opts), (source, opts)
    assert rpc.add(b"hello world\n") == Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    # hidden is decided by the client, as `ipfs add` does: Kubo's CLI walks the files
    assert rpc.add(tree, ImportOptions(hidden=True)) == local_cid(tree, hidden=True)
    assert str(rpc.add(tree, ImportOptions(hidden=True))) == kubo.cid(tree)  # the oracle adds with --hidden
    assert rpc.add(tree) == local_cid(tree)


def test_rpc_cat_ls_get_match_the_local_exporter(kubo_rpc, tree, tmp_path):
    rpc = KuboRPCStore(kubo_rpc.api_multiaddr)
    root = rpc.add(tree)
    repo = Repo(tmp_path / "repo")
    assert repo.add(tree).cid == root
    ex = repo.exporter
    data = (tree / "weights.bin").read_bytes()
    for offset, length in [(0, None), (5, 10), (262_140, 300_000), (len(data) - 3, None), (7, 0)]:
        got = b"".join(rpc.cat(f"{root}/weights.bin", offset, length))
        assert got == data[offset:None if length is None else offset + length]
    assert [(e.name, e.cid, e.type) for e in rpc.ls(root)] == [(e.name, e.cid, e.type) for e in ex.ls(root)]
    assert {e.name: e.size for e in rpc.ls(root) if e.type == DataType.FILE} == \
        {e.name: e.size for e in ex.ls(root) if e.type == DataType.FILE}

    rpc.get_to_path(root, tmp_path / "out")
    ex.get(root, tmp_path / "expected")
    assert tree_of(tmp_path / "out") == tree_of(tmp_path / "expected")
    rpc.get_to_path(f"/ipfs/{root}/sub/tokenizer.txt", tmp_path / "one.txt")
    assert (tmp_path / "one.txt").read_bytes() == (tree / "sub" / "tokenizer.txt").read_bytes()
    rpc.get_to_path(f"{root}/sub", tmp_path / "out")  # a directory merges into an existing one
    assert (tmp_path / "out" / "tokenizer.txt").exists()


def tree_of(path) -> dict[str, bytes | None]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        for d in dirnames:
            out[os.path.join(rel, d)] = None
        for f in filenames:
            out[os.path.join(rel, f)] = open(os.path.join(dirpath, f), "rb").read()
    return out


def test_rpc_blocks_pins_and_dags(kubo_rpc, tmp_path):
    rpc = KuboRPCStore(kubo_rpc.url)
    raw = rpc.block_put(b"raw block")
    assert raw.codec_name == "raw" and rpc.get(raw) == b"raw block" and rpc.block_stat(raw) == 9
    cbor = rpc.block_put(b"\xa1aa\x01", "dag-cbor")
    assert cbor.codec_name == "dag-cbor" and rpc.get(cbor) == b"\xa1aa\x01"
    assert rpc.has(raw) and raw.multihash in set(rpc.multihashes()) and rpc.size() > 0
    assert rpc.delete(raw) and not rpc.has(raw) and not rpc.delete(raw)
    missing = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p")
    with pytest.raises(CidNotFound):
        rpc.get(missing)
    with pytest.raises(CidNotFound):
        list(rpc.cat(missing))

    cid = rpc.add(b"pinned\n" * 1000, ImportOptions(pin=False))
    assert cid not in dict(rpc.pin_ls("recursive"))
    rpc.pin_add(cid)
    assert dict(rpc.pin_ls("recursive"))[cid] == "recursive"
    rpc.pin_rm(cid)
    with pytest.raises(PinError):
        rpc.pin_rm(cid)

    # dag export is byte-identical to the local CAR writer (itself byte-identical to Kubo's)
    repo = Repo(tmp_path / "repo")
    big = repo.add(os.urandom(600_000)).cid
    assert rpc.add(repo.exporter.read(big)) == big
    assert b"".join(rpc.dag_export(big)) == b"".join(car.write([big], repo.exporter.walk(big)))
    # dag import: blocks only the local repo has, streamed as a CAR, then pinned remotely
    fresh = repo.add(os.urandom(400_000)).cid
    assert rpc.dag_import(car.write([fresh], repo.exporter.walk(fresh))) == [fresh]
    assert dict(rpc.pin_ls("recursive"))[fresh] == "recursive"
    assert b"".join(rpc.cat(fresh)) == repo.exporter.read(fresh)


def test_same_cid_through_local_rpc_and_cli_tiers_and_full_cli_coverage(kubo_rpc, kubo, tree, tmp_path):
    """One pass over every CLI verb (each jsipfs call costs ~2 s)."""
    cli = KuboCLIStore(kubo_rpc.jsipfs_cmd, timeout=60)
    rpc = KuboRPCStore(kubo_rpc.url)
    local = HuggingFaceCacheBackend(tmp_path / "hf")
    weights = tree / "weights.bin"
    assert cli.version()
    for opts in ({}, {"cid_version": 1, "chunker": "size-65536", "trickle": True}):
        c = cli.add(weights, ImportOptions(**opts))
        assert c == rpc.add(weights, ImportOptions(**opts)) == local.node.add(weights, ImportOptions(**opts))
        assert str(c) == kubo.cid(weights, **opts)
    root = cli.add(tree)
    assert root == rpc.add(tree) == Cid.parse(local.add_path(str(tree)))
    assert cli.add(b"hello world\n") == Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")

    data = weights.read_bytes()
    assert b"".join(cli.cat(f"{root}/weights.bin", 100, 1000)) == data[100:1100]
    assert [(e.name, e.cid, e.type) for e in cli.ls(root)] == [(e.name, e.cid, e.type) for e in rpc.ls(root)]
    cli.get_to_path(root, tmp_path / "got")
    local.get_to_path(str(root), output_path=str(tmp_path / "expected"))
    assert tree_of(tmp_path / "got") == tree_of(tmp_path / "expected")

    block = cli.block_put(b"cli block")  # --cid-codec first; jsipfs refuses it, --format is kept
    assert cli.get(block) == b"cli block" and cli.block_stat(block) == 9
    with pytest.raises(CidNotFound):
        cli.get(Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p"))
    cli.pin_add(block)
    assert dict(cli.pin_ls("recursive"))[block] == "recursive"
    cli.pin_rm(block)
    car_bytes = b"".join(cli.dag_export(root))
    assert car_bytes == b"".join(rpc.dag_export(root))
    assert cli.dag_import([car_bytes]) == [root]


def test_router_kubo_backends_answer_every_call(kubo_rpc, tree, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBO_API", kubo_rpc.url)
    b = KuboRPCBackend()
    cid = b.add_path(str(tree), chunker="size-4096")
    assert b.ls(cid) == ["config.json", "sub", "weights.bin"]
    assert b.cat(f"{cid}/config.json") == (tree / "config.json").read_bytes()
    b.get_to_path(cid, output_path=str(tmp_path / "o"))
    assert (tmp_path / "o" / "weights.bin").read_bytes() == (tree / "weights.bin").read_bytes()
    raw = b.block_put(b"x")
    assert b.block_get(raw) == b"x"
    b.unpin(cid)
    b.pin(cid)
    assert Cid.parse(cid) in [r for r in car.CarReader(_io(b.dag_export(cid))).roots]
    with pytest.raises(RuntimeError, match="CID not found"):
        b.cat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p")
    with pytest.raises(RuntimeError, match="CID not found"):
        b.cat("definitely not a cid")


def _io(data: bytes):
    import io
    return io.BytesIO(data)


def test_local_reads_through_to_kubo_and_keeps_what_it_fetched(kubo_rpc, tmp_path, monkeypatch):
    rpc = KuboRPCStore(kubo_rpc.url)
    payload = os.urandom(800_000)
    cid = rpc.add(payload)
    local = HuggingFaceCacheBackend(tmp_path / "hf", remote=rpc)
    assert local.cat(str(cid)) == payload  # every fetched block re-hashed, then kept
    local.pin(str(cid))
    kubo_rpc.stop()
    try:
        assert local.cat(str(cid)) == payload
        assert local.dag_export(str(cid)) == b"".join(car.write([cid], local.node.repo.exporter.walk(cid)))
    finally:
        kubo_rpc.start()


def test_fallback_when_the_server_stops_mid_test(kubo_rpc, tmp_path, monkeypatch):
    """Tiers ipfs_kit (a stand-in over the js-ipfs server), local, kubo (the same server)."""
    for name in ("IPFS_BACKEND", "ENABLE_IPFS_KIT", "IPFS_KIT_DISABLE", "ENABLE_HF_CACHE", "KUBO_CMD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("KUBO_API", kubo_rpc.url)
    monkeypatch.setitem(sys.modules, "ipfs_kit_py", make_module(lambda: KuboRPCStore(kubo_rpc.url, timeout=5)))
    router._get_default_backend_cached.cache_clear()
    try:
        b = router.get_backend()
        assert b.selection.tiers == ("ipfs_kit", "local", "kubo")
        on_server = b.add_bytes(b"stored while the server runs")
        assert b.last_call.answered_by == "ipfs_kit"

        kubo_rpc.stop()
        cid = b.add_bytes(b"stored after it stopped")
        assert b.last_call.answered_by == "local"
        assert [name for name, _ in b.last_call.passed_over] == ["ipfs_kit"]
        assert b.cat(cid) == b"stored after it stopped"
        with pytest.raises(RemoteError) as failed:
            b.cat(on_server)
        assert [name for name, _ in b.last_call.passed_over] == ["ipfs_kit", "local", "kubo"]
        assert "every tier" in str(failed.value)

        kubo_rpc.start()
        assert b.cat(on_server) == b"stored while the server runs"
        assert b.last_call.answered_by == "ipfs_kit"
    finally:
        router._get_default_backend_cached.cache_clear()
        kubo_rpc.start()


def test_push_copies_a_pinned_dag_to_kubo(kubo_rpc, tree, tmp_path):
    repo_dir = tmp_path / "repo"
    with Repo(repo_dir) as repo:
        cid = repo.add(tree, ImportOptions(cid_version=1)).cid
        loose = repo.add(b"not pinned", ImportOptions(pin=False)).cid
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    run = [sys.executable, "-m", "casengine", "--repo", str(repo_dir), "push"]
    done = subprocess.run(run + [str(cid), "--to", "kubo", "--api", kubo_rpc.url], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"pushed {cid} (")
    rpc = KuboRPCStore(kubo_rpc.url)
    assert dict(rpc.pin_ls("recursive"))[cid] == "recursive"
    assert b"".join(rpc.cat(f"{cid}/weights.bin")) == (tree / "weights.bin").read_bytes()
    refused = subprocess.run(run + [str(loose), "--to", "kubo", "--api", kubo_rpc.url], env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "is not pinned" in refused.stderr


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # held open, never read from or written to

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_no_rpc_call_can_hang_on_a_server_that_never_answers(silent, tree, tmp_path):
    rpc = KuboRPCStore(f"127.0.0.1:{silent.port}", timeout=0.5)
    cid = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    calls = [rpc.version, lambda: rpc.add(b"x" * 5_000_000), lambda: rpc.add(tree), lambda: list(rpc.cat(cid)),
             lambda: rpc.ls(cid), lambda: rpc.get_to_path(cid, tmp_path / "o"), lambda: rpc.pin_add(cid),
             lambda: rpc.pin_rm(cid), lambda: list(rpc.pin_ls()), lambda: rpc.block_put(b"b"),
             lambda: rpc.get(cid), lambda: rpc.has(cid), lambda: rpc.block_stat(cid), lambda: rpc.delete(cid),
             lambda: list(rpc.dag_export(cid)), lambda: rpc.dag_import([b"\x00" * 1000]),
             lambda: list(rpc.multihashes()), rpc.size]
    for call in calls:
        with pytest.raises(RemoteTimeout):
            call()
    assert not os.path.exists(tmp_path / "o")
    b = KuboRPCBackend(f"http://127.0.0.1:{silent.port}", timeout=0.5)
    for name, args, kwargs in [("add_bytes", (b"x",), {}), ("cat", (str(cid),), {}), ("pin", (str(cid),), {}),
                               ("unpin", (str(cid),), {}), ("block_put", (b"x",), {}),
                               ("block_get", (str(cid),), {}), ("add_path", (str(tree),), {}),
                               ("get_to_path", (str(cid),), {"output_path": str(tmp_path / "p")}),
                               ("ls", (str(cid),), {}), ("dag_export", (str(cid),), {})]:
        with pytest.raises(RemoteTimeout):
            getattr(b, name)(*args, **kwargs)


def test_no_cli_call_can_hang_on_a_command_that_never_answers(tmp_path):
    cli = KuboCLIBackend([sys.executable, "-c", "import time; time.sleep(600)"], timeout=0.5)
    for name, args in [("add_bytes", (b"x",)), ("cat", ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",)),
                       ("ls", ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",))]:
        with pytest.raises(RemoteTimeout):
            getattr(cli, name)(*args)


def test_a_cat_cut_short_is_an_error(tmp_path):
    """A real server on 127.0.0.1 that announces 100 bytes (Kubo's X-Content-Length) and sends 10."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def serve() -> None:
        conn, _ = sock.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Content-Length: 100\r\nContent-Length: 10\r\n\r\n0123456789")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        rpc = KuboRPCStore(f"127.0.0.1:{sock.getsockname()[1]}", timeout=5)
        with pytest.raises(RemoteError, match="10 bytes arrived of the 100 announced"):
            b"".join(rpc.cat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"))
    finally:
        thread.join()
        sock.close()
