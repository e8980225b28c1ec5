"""Smoke tests for the real peers (tests/peers): each answers, agrees on known CIDs, and is
confined to a network namespace whose only interface is a loopback."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from peers import jsipfs, libkubo_default
from peers.fixtures import Kubo, Kubo43, KuboRPC
from peers.kubo43 import rpc as kubo43_rpc
from peers.kubo_oracle import kubo as oracle

HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
HELLO_V1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"


def interfaces(pid: int) -> list[str]:
    """Network interfaces visible to pid (its network namespace's /proc/net/dev)."""
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return [line.split(":")[0].strip() for line in lines]


def assert_isolated(pid: int) -> None:
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert interfaces(pid) == ["lo"]


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    p = tmp_path / "hello.txt"
    p.write_bytes(HELLO)
    return p


def test_oracle_hello_world(kubo: Kubo, hello: Path) -> None:
    assert kubo.cid(hello) == HELLO_V0
    assert kubo.cid(hello, cid_version=1) == HELLO_V1


def test_oracle_reports_kubo_errors(kubo: Kubo, hello: Path) -> None:
    assert kubo.error(hello, chunker="size-0") == "chunker size must be greater than 0"
    assert kubo.error(hello, hash="sha2-512", cid_version=0) == "CIDv0 only supports sha2-256"
    assert kubo.error(hello, hash="sha2-512") is None          # Kubo moves to CIDv1 by itself


def odd_tree(root: Path) -> Path:
    """Unicode, spaces, dotfiles, a symlink, an empty directory, a mode with the setgid bit."""
    (root / "sub" / "déjà vu").mkdir(parents=True)
    (root / ".hidden").write_bytes(b"dotfiles are added too\n")
    (root / "sub" / "a+b&c=d%.txt").write_bytes(HELLO)
    (root / "sub" / "déjà vu" / "b.bin").write_bytes(os.urandom(70_000))
    (root / "link → a").symlink_to("sub/a+b&c=d%.txt")
    (root / "empty-dir").mkdir()
    os.chmod(root / "sub", 0o2750)
    os.utime(root / ".hidden", ns=(0, 1_234_567_891_000_000_123))
    return root


def test_libkubo_default_agrees_with_oracle(kubo: Kubo, hello: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 262144 + 1))          # four chunks: a balanced tree
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    tree = odd_tree(tmp_path / "tree")
    assert kubo.default_cid(hello) == HELLO_V0
    for path in (big, empty, tree, tree / "sub"):
        assert kubo.default_cid(path) == kubo.cid(path), path


def test_kubo_workers_are_isolated(kubo: Kubo, hello: Path) -> None:
    kubo.cid(hello)
    kubo.default_cid(hello)
    for pid in (oracle.ORACLE.alive(), libkubo_default.worker().alive()):
        assert pid is not None
        assert_isolated(pid)


def rpc(server: KuboRPC, cmd: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(f"{server.url}/api/v0/{cmd}", data=body, headers=headers or {},
                                 method="POST")
    with jsipfs.LOCAL.open(req, timeout=30) as r:
        data: bytes = r.read()
    return data


def test_kubo_rpc_version_add_cat(kubo_rpc: KuboRPC) -> None:
    assert "Version" in json.loads(rpc(kubo_rpc, "version"))
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + HELLO + f"\r\n--{boundary}--\r\n".encode()
    added = json.loads(rpc(kubo_rpc, "add?pin=true", body,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"}))
    assert added["Hash"] == HELLO_V0
    assert rpc(kubo_rpc, f"cat?arg={HELLO_V0}") == HELLO


def test_kubo_rpc_cli_stop_restart(kubo_rpc: KuboRPC, hello: Path) -> None:
    add = subprocess.run(kubo_rpc.jsipfs_cmd + ["add", "-Q", str(hello)],
                         capture_output=True, text=True, timeout=60, check=True)
    assert add.stdout.strip() == HELLO_V0
    url = kubo_rpc.url
    kubo_rpc.stop()
    with pytest.raises(urllib.error.URLError):
        rpc(kubo_rpc, "version")
    kubo_rpc.restart()
    assert kubo_rpc.url == url
    cat = subprocess.run(kubo_rpc.jsipfs_cmd + ["cat", HELLO_V0],
                         capture_output=True, timeout=60, check=True)
    assert cat.stdout == HELLO


def test_kubo_rpc_daemon_is_isolated(kubo_rpc: KuboRPC) -> None:
    assert kubo_rpc.pid is not None
    assert_isolated(kubo_rpc.pid)


def test_kubo43_hello_world_and_errors(kubo43: Kubo43, hello: Path) -> None:
    assert kubo43.version == "0.43.1"
    assert kubo43.cli("version").stdout.decode().strip() == "ipfs version 0.43.1"
    assert kubo43.cid(hello) == HELLO_V0
    assert kubo43.cid(hello, cid_version=1) == HELLO_V1
    assert kubo43.cid(hello, profile="unixfs-v1-2025") == HELLO_V1
    assert kubo43.error(hello, chunker="size-0") == "chunker size must be greater than 0"
    assert kubo43.error(hello, hash="sha2-512", cid_version=0) == "CIDv0 only supports sha2-256"
    assert kubo43.error(hello, flags=("--max-hamt-fanout=7",)) == \
        "HAMT fanout must be a power of 2, between 8 and 1024 (got 7)"
    assert kubo43.error(hello, hash="sha2-512") is None


@pytest.mark.parametrize("flags", [(), ("--preserve-mode", "--preserve-mtime"), ("--wrap-with-directory",),
                                   ("--empty-dirs=false", "--cid-version=1", "--max-directory-links=2"),
                                   ("--dereference-symlinks",)])
def test_kubo43_rpc_add_is_the_cli_add(kubo43: Kubo43, tmp_path: Path, flags: tuple[str, ...]) -> None:
    """kubo43.cid sends what the CLI sends (names, modes, mtimes, symlinks): the same CID as the
    CLI, or the same error (Kubo 0.43.1 fails `--preserve-mode` on a symlink: "ipld: could not find")."""
    tree = odd_tree(tmp_path / "tree")
    for path in (tree, tree / "sub", tree / ".hidden", tree / "link → a"):
        cli = kubo43.cli("add", "-Q", "-n", "-r", "--hidden", *flags, str(path), check=False)
        if cli.returncode:
            error = cli.stderr.decode().splitlines()[0].removeprefix("Error: ")
            assert kubo43.error(path, flags=flags) == error, path
        else:
            assert kubo43.cid(path, flags=flags) == cli.stdout.decode().strip(), path


def get(sock: Path, target: str) -> tuple[int, bytes]:
    """GET target from an HTTP server on a unix socket (Host 127.0.0.1: no subdomain redirect)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(str(sock))
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        raw = b"".join(iter(lambda: s.recv(65536), b""))
    status, _, body, _ = kubo43_rpc.parse(raw)
    return status, body


def test_kubo43_daemons_are_isolated_and_reached_over_unix_sockets(kubo43: Kubo43, hello: Path) -> None:
    added = kubo43.cli("add", "-Q", "--cid-version=1", str(hello)).stdout.decode().strip()
    assert added == HELLO_V1
    assert kubo43.cli("cat", HELLO_V1).stdout == HELLO
    assert get(kubo43.gateway_socket, f"/ipfs/{HELLO_V1}?format=raw") == (200, HELLO)
    assert kubo43.api == f"/unix{kubo43.repo.parent}/api.sock"
    config = json.loads((kubo43.repo / "config").read_text())
    assert config["Bootstrap"] == [] and config["Addresses"]["Swarm"] == []
    assert config["AutoConf"]["Enabled"] is False
    kubo43.cid(hello, profile="unixfs-v0-2015", shard_threshold=1000)
    running = [daemon for daemon in kubo43.daemons.values() if daemon.running]
    assert len(running) >= 2
    for daemon in running:
        assert daemon.pid is not None
        assert_isolated(daemon.pid)
        assert Path(f"/proc/{daemon.pid}/environ").read_bytes().count(b"IPFS_TELEMETRY=off") == 1
