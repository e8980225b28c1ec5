"""Real clients of `casengine serve`, and casengine's gateway tier against real gateways.

- @helia/verified-fetch 8.0.4 (npm, Node 22, an HTTP-only Helia whose one source is the gateway
  under test) fetches files and paths and verifies every block; through a gateway that corrupts
  what it relays it fails instead of returning bytes.
- The gateway tier (`--gateway`, `$CASENGINE_GATEWAYS`, fsspec `ipfs://` and `cas://`, the router's
  read-through) reads from Kubo 0.43.1's gateway and from `casengine serve`, refuses a corrupting
  gateway (nothing corrupt is kept: `repo verify` is clean), and falls over past a gateway that
  refuses connections, one that never answers, and one that corrupts.
All on 127.0.0.1 or Kubo's unix socket.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import threading
from pathlib import Path

import fsspec
import pytest

from casengine import car
from casengine.cli import main
from casengine.errors import CasError
from casengine.nodes.gateway import GatewayTier
from casengine.options import ImportOptions
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore
from gateway_server import CorruptingGateway, Served
from peers import verified_fetch
from test_gateway import make_tree


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    base = tmp_path_factory.mktemp("gwclients")
    make_tree(base / "tree")
    with Repo(base / "repo") as repo:
        roots = {"v0": repo.add(base / "tree").cid,
                 "v1": repo.add(base / "tree", ImportOptions(cid_version=1)).cid,
                 "sharded": repo.add(base / "tree", ImportOptions(cid_version=1, shard_threshold=1000)).cid}
        (base / "v0.car").write_bytes(b"".join(car.export(repo.store, roots["v0"])))
    served = Served(base / "repo")
    yield base, roots, served
    served.stop()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_verified_fetch_reads_files_and_paths(content):
    base, roots, served = content
    files = {f"ipfs://{roots['v1']}/hello.txt": "hello.txt", f"ipfs://{roots['v0']}/big.bin": "big.bin",
             f"ipfs://{roots['sharded']}/hamt/file-123": "hamt/file-123",
             f"ipfs://{roots['v0']}/sub/deeper/blob": "sub/deeper/blob",
             f"ipfs://{roots['v1']}/sp%20ace%20%C3%BC.txt": "sp ace \u00fc.txt"}
    for got in verified_fetch.fetch(served.url, *files):
        assert got.get("status") == 200, got
        assert got["sha256"] == sha(base / "tree" / files[got["url"]]), got


def test_verified_fetch_refuses_a_corrupting_gateway(content):
    base, roots, served = content
    bad = CorruptingGateway(served.url)
    try:
        got, = verified_fetch.fetch(bad.url, f"ipfs://{roots['v0']}/sub/deeper/blob", seconds=20)
    finally:
        bad.stop()
    assert not (got.get("status") == 200 and got.get("sha256") == sha(base / "tree" / "sub/deeper/blob")), got
    assert "error" in got or got["status"] >= 400 or got["size"] == 0, got


def cli(*argv: str) -> int:
    return main(list(argv))


@pytest.mark.parametrize("which", ["kubo", "casengine"])
def test_tier_reads_through_kubo_and_casengine_gateways(content, kubo43, tmp_path, capsysbinary, which):
    base, roots, served = content
    if which == "kubo":
        kubo43.cli("dag", "import", "--pin-roots=false", str(base / "v0.car"))
        url = f"unix://{kubo43.gateway_socket}"
    else:
        url = served.url
    root = roots["v0"]
    repo = str(tmp_path / "repo")
    with Repo(repo):
        pass
    capsysbinary.readouterr()
    assert cli("cat", "--repo", repo, "--gateway", url, f"{root}/hello.txt") == 0
    assert capsysbinary.readouterr().out == b"hello world\n"
    assert cli("cat", "--repo", repo, "--gateway", url, "-o", "1000", "-l", "50", f"{root}/big.bin") == 0
    assert capsysbinary.readouterr().out == (base / "tree" / "big.bin").read_bytes()[1000:1050]
    assert cli("ls", "--repo", repo, "--gateway", url, f"{root}/sub") == 0
    assert b"data.json" in capsysbinary.readouterr().out
    assert cli("get", "--repo", repo, "--gateway", url, str(root), "-o", str(tmp_path / "out")) == 0
    for f in (base / "tree").rglob("*"):
        if f.is_file() and not f.is_symlink():
            assert sha(tmp_path / "out" / f.relative_to(base / "tree")) == sha(f)
    assert cli("pin", "add", "--repo", repo, "--gateway", url, str(root)) == 0
    assert cli("repo", "verify", "--repo", repo) == 0
    capsysbinary.readouterr()
    assert cli("dag", "export", "--repo", repo, str(root)) == 0     # all local now, and whole
    assert capsysbinary.readouterr().out == (base / "v0.car").read_bytes()


def test_tier_refuses_a_corrupting_gateway(content, tmp_path, monkeypatch, capsysbinary):
    base, roots, served = content
    bad = CorruptingGateway(served.url)
    try:
        repo = str(tmp_path / "repo")
        with Repo(repo):
            pass
        assert cli("cat", "--repo", repo, "--gateway", bad.url, f"{roots['v1']}/big.bin") == 1
        assert cli("get", "--repo", repo, "--gateway", bad.url, str(roots["v1"]), "-o", str(tmp_path / "o")) == 1
        assert not (tmp_path / "o").exists()
        with Repo(repo, create=False) as r:
            assert list(r.verify()) == []           # nothing corrupt was kept
            assert len(r.store) <= 2                # only what came through intact (identity-free)
        # the corrupting gateway first, a good one second: the good one's bytes, the bad one recorded
        monkeypatch.setenv("CASENGINE_GATEWAYS", f"{bad.url},{served.url}")
        capsysbinary.readouterr()
        assert cli("cat", "--repo", repo, f"{roots['v1']}/big.bin") == 0
        assert capsysbinary.readouterr().out == (base / "tree" / "big.bin").read_bytes()
        with Repo(repo, create=False) as r:
            assert list(r.verify()) == []
    finally:
        bad.stop()


@contextlib.contextmanager
def silent_server():
    """A socket that accepts connections and never answers."""
    sock = socket.create_server(("127.0.0.1", 0))
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(sock.accept()[0])
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        sock.close()


def test_tier_fails_over_past_refusing_silent_and_corrupting_gateways(content):
    base, roots, served = content
    closed = socket.create_server(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()                                   # nothing listens there any more
    bad = CorruptingGateway(served.url)
    try:
        with silent_server() as silent:
            tier = GatewayTier([dead, silent, bad.url, served.url], timeout=2)
            store = MemoryStore()
            assert tier.fetch_dag(roots["sharded"], store) > 0
            assert len(tier.failures) >= 3
            out = io.BytesIO()
            for piece in car.export(store, roots["sharded"]):
                out.write(piece)
            with Repo(served_repo(served), create=False) as r:
                assert out.getvalue() == b"".join(car.export(r.store, roots["sharded"]))
            # every gateway failing is an error, not an answer
            with pytest.raises(CasError):
                GatewayTier([dead, silent], timeout=1).get(roots["v1"])
    finally:
        bad.stop()


def served_repo(served: Served) -> str:
    return served.proc.args[served.proc.args.index("--repo") + 1]


def test_fsspec_and_router_read_through_gateways(content, tmp_path, monkeypatch):
    base, roots, served = content
    monkeypatch.setenv("CASENGINE_GATEWAYS", served.url)
    monkeypatch.setenv("CASENGINE_REPO", str(tmp_path / "fs"))
    with fsspec.open(f"ipfs://{roots['v1']}/sub/data.json") as f:
        assert f.read() == b'{"a": 1}'
    with fsspec.open(f"cas://{roots['v0']}/big.bin") as f:
        f.seek(2_000_000)
        assert f.read(10) == (base / "tree" / "big.bin").read_bytes()[2_000_000:2_000_010]
    fs = fsspec.filesystem("ipfs", gateways=[served.url], repo=str(tmp_path / "fs2"))
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{roots['v1']}/sub", detail=False)) == ["data.json", "deeper"]
    # the router: no Kubo, no ipfs_kit, the local tier reading through to the gateway
    from casengine.routing import fallback
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("IPFS_KIT_DISABLE", "1")
    monkeypatch.setenv("KUBO_CMD", str(tmp_path / "no-such-ipfs"))
    monkeypatch.delenv("KUBO_API", raising=False)
    backend = fallback.select_backend()
    hello = backend.cat(f"{roots['v0']}/hello.txt")
    assert hello == b"hello world\n"
