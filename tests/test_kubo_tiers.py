"""The Kubo tiers as the router uses them, against each real Kubo-RPC peer (fixture `peer`, one
test body for both): Kubo 0.43.1's offline daemon, its API on a unix socket (`/unix/...`, as
Kubo's --api spells it), and js-ipfs 0.66.1's server on 127.0.0.1 (a TCP address, and the other
dialect of the API). The nodes themselves (every verb, not found, timeouts, lying peers) are
proven by the NodeTests (tests/node_tests.py) in tests/test_nodes.py; here: the router's environment, read-through,
fallback when the peer stops, `casengine push`, and what no peer can be made to do."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable

import pytest
from faulty.silent import SilentServer
from ipfs_kit_standin import make_module

from casengine import car
from casengine import ipfs_backend_router as router
from casengine.dag.cid import Cid
from casengine.errors import RemoteError, RemoteTimeout
from casengine.ipfs_backend_router import HuggingFaceCacheBackend, KuboRPCBackend
from casengine.nodes.kubo_rpc import KuboRPCStore
from casengine.options import ImportOptions
from casengine.repo import Repo


@dataclass
class Peer:
    """A running Kubo-RPC server: its address as KUBO_API takes it, and how to stop and restart it."""

    name: str
    api: str
    stop: Callable[[], None]
    start: Callable[[], None]


@pytest.fixture(params=["kubo-0.43.1", "js-ipfs"])
def peer(request):
    if request.param == "kubo-0.43.1":
        daemon = request.getfixturevalue("kubo43").daemon()
        yield Peer(request.param, daemon.api, daemon.stop, daemon.start)
        daemon.start()
    else:
        server = request.getfixturevalue("kubo_rpc")
        yield Peer(request.param, server.url, server.stop, server.start)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree") / "model"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden_size": 8}\n')
    (root / "weights.bin").write_bytes(os.urandom(1_100_000))
    (root / "sub" / "tokenizer.txt").write_text("a b c\n" * 500)
    return root


def test_the_rpc_node_as_a_block_store(peer):
    """What a remote's blocks answer for read-through beyond get: delete, listing, size."""
    rpc = KuboRPCStore(peer.api)
    raw = rpc.block_put(os.urandom(64))
    assert rpc.has(raw) and raw.multihash in set(rpc.multihashes()) and rpc.size() > 0
    assert rpc.delete(raw) and not rpc.has(raw) and not rpc.delete(raw)


def test_router_kubo_backends_answer_every_call(peer, tree, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBO_API", peer.api)
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
    assert Cid.parse(cid) in car.CarReader(io.BytesIO(b.dag_export(cid))).roots
    with pytest.raises(RuntimeError, match="CID not found"):
        b.cat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p")
    with pytest.raises(RuntimeError, match="CID not found"):
        b.cat("definitely not a cid")


def test_local_reads_through_to_kubo_and_keeps_what_it_fetched(peer, tmp_path):
    rpc = KuboRPCStore(peer.api)
    payload = os.urandom(800_000)
    cid = rpc.add(payload)
    local = HuggingFaceCacheBackend(tmp_path / "hf", remote=rpc)
    assert local.cat(str(cid)) == payload  # every fetched block re-hashed, then kept
    local.pin(str(cid))
    peer.stop()
    assert local.cat(str(cid)) == payload
    assert local.dag_export(str(cid)) == b"".join(car.write([cid], local.node.repo.exporter.walk(cid)))


def test_fallback_when_the_server_stops_mid_test(peer, tmp_path, monkeypatch):
    """Tiers ipfs_kit (a stand-in over the peer), local, kubo (the same peer)."""
    for name in ("IPFS_BACKEND", "ENABLE_IPFS_KIT", "IPFS_KIT_DISABLE", "ENABLE_HF_CACHE", "KUBO_CMD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("KUBO_API", peer.api)
    monkeypatch.setitem(sys.modules, "ipfs_kit_py", make_module(lambda: KuboRPCStore(peer.api, timeout=5)))
    router._get_default_backend_cached.cache_clear()
    try:
        b = router.get_backend()
        assert b.selection.tiers == ("ipfs_kit", "local", "kubo")
        on_server = b.add_bytes(b"stored while the server runs")
        assert b.last_call.answered_by == "ipfs_kit"

        peer.stop()
        cid = b.add_bytes(b"stored after it stopped")
        assert b.last_call.answered_by == "local"
        assert [name for name, _ in b.last_call.passed_over] == ["ipfs_kit"]
        assert b.cat(cid) == b"stored after it stopped"
        with pytest.raises(RemoteError) as failed:
            b.cat(on_server)
        assert [name for name, _ in b.last_call.passed_over] == ["ipfs_kit", "local", "kubo"]
        assert "every tier" in str(failed.value)

        peer.start()
        assert b.cat(on_server) == b"stored while the server runs"
        assert b.last_call.answered_by == "ipfs_kit"
    finally:
        router._get_default_backend_cached.cache_clear()


def test_push_copies_a_pinned_dag_to_kubo(peer, tree, tmp_path):
    repo_dir = tmp_path / "repo"
    with Repo(repo_dir) as repo:
        cid = repo.add(tree, ImportOptions(cid_version=1)).cid
        loose = repo.add(b"not pinned", ImportOptions(pin=False)).cid
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    run = [sys.executable, "-m", "casengine", "--repo", str(repo_dir), "push"]
    done = subprocess.run(run + [str(cid), "--to", "kubo", "--api", peer.api], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"pushed {cid} (")
    rpc = KuboRPCStore(peer.api)
    assert dict(rpc.pin_ls("recursive"))[cid] == "recursive"
    assert b"".join(rpc.cat(f"{cid}/weights.bin")) == (tree / "weights.bin").read_bytes()
    refused = subprocess.run(run + [str(loose), "--to", "kubo", "--api", peer.api], env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "is not pinned" in refused.stderr


def test_no_router_call_can_hang_on_a_server_that_never_answers(tree, tmp_path):
    """Every seed call over a Kubo RPC backend whose server never answers: each node verb is
    proven by NodeTests; here the router's own steps (probe-free backends, CID checks) too."""
    silent = SilentServer()
    try:
        b = KuboRPCBackend(f"http://127.0.0.1:{silent.port}", timeout=0.5)
        cid = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        for name, args, kwargs in [("add_bytes", (b"x",), {}), ("cat", (cid,), {}), ("pin", (cid,), {}),
                                   ("unpin", (cid,), {}), ("block_put", (b"x",), {}), ("block_get", (cid,), {}),
                                   ("add_path", (str(tree),), {}),
                                   ("get_to_path", (cid,), {"output_path": str(tmp_path / "p")}),
                                   ("ls", (cid,), {}), ("dag_export", (cid,), {})]:
            with pytest.raises(RemoteTimeout):
                getattr(b, name)(*args, **kwargs)
        assert not (tmp_path / "p").exists()
    finally:
        silent.close()


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
