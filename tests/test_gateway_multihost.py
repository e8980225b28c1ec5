"""Three hosts in network namespaces this test makes, joined by veth pairs (addresses only inside
them, a private /24 per link, routed nowhere): host A runs `casengine serve`, host B a Kubo 0.43.1
daemon holding the same content, host C `casengine get` with both as gateways. A 256 MiB model
directory reaches C byte-identical although A is killed (SIGKILL) in the middle of sending it:
C falls over to B and finishes from there. A's link is rate-limited (tc tbf) so that the kill
lands mid-transfer whatever the machine's speed; no time is asserted.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casengine import car
from casengine.options import ImportOptions
from casengine.repo import Repo
from gateway_server import Served
import peers
from peers import kubo43 as kubo43_peer

MIB = 1 << 20


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=60)


class Hosts:
    """Namespaces A, B, C; links C-A (10.231.1.0/24) and C-B (10.231.2.0/24)."""

    def __init__(self) -> None:
        tag = f"ce{os.getpid() % 100000}"
        self.ns = {h: f"{tag}{h}" for h in "abc"}
        self.dev = {"a": f"{tag}a0", "b": f"{tag}b0", "ca": f"{tag}ca", "cb": f"{tag}cb"}
        for name in self.ns.values():
            ip("netns", "add", name)
        for far, net in (("a", 1), ("b", 2)):
            ip("link", "add", self.dev[far], "type", "veth", "peer", "name", self.dev["c" + far])
            ip("link", "set", self.dev[far], "netns", self.ns[far])
            ip("link", "set", self.dev["c" + far], "netns", self.ns["c"])
            ip("-n", self.ns[far], "addr", "add", f"10.231.{net}.1/24", "dev", self.dev[far])
            ip("-n", self.ns["c"], "addr", "add", f"10.231.{net}.2/24", "dev", self.dev["c" + far])
            ip("-n", self.ns[far], "link", "set", self.dev[far], "up")
            ip("-n", self.ns["c"], "link", "set", self.dev["c" + far], "up")
        for name in self.ns.values():
            ip("-n", name, "link", "set", "lo", "up")

    def run(self, host: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host], *argv]

    def tx_bytes(self, host: str) -> int:
        out = subprocess.run(self.run(host, "cat", f"/sys/class/net/{self.dev[host]}/statistics/tx_bytes"),
                             capture_output=True, check=True, timeout=30)
        return int(out.stdout)

    def remove(self) -> None:
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=60)


def model_dir(root: Path) -> None:
    rnd = random.Random(256)
    root.mkdir()
    (root / "config.json").write_text('{"architectures": ["BertModel"], "hidden_size": 768}\n')
    (root / "tokenizer.json").write_bytes(rnd.randbytes(MIB))
    for name, size in (("model-00001-of-00002.safetensors", 128 * MIB), ("model-00002-of-00002.safetensors", 127 * MIB)):
        with open(root / name, "wb") as f:
            for _ in range(size // (8 * MIB)):
                f.write(rnd.randbytes(8 * MIB))
            f.write(rnd.randbytes(size % (8 * MIB)))


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def hosts():
    peers.require(needs_x86_64=False, tools=("setpriv",))     # skips only where netns can never work (not root)
    if subprocess.run(["which", "ip", "tc"], capture_output=True).returncode:
        pytest.fail("ip and tc are missing: apt-get install iproute2", pytrace=False)
    if not kubo43_peer.installed():
        pytest.fail(f"Kubo {kubo43_peer.VERSION} is not built: {kubo43_peer.INSTALL}", pytrace=False)
    h = Hosts()
    yield h
    h.remove()


def test_model_reaches_c_from_a_then_b_when_a_dies_midway(hosts, tmp_path):
    model_dir(tmp_path / "model")
    with Repo(tmp_path / "a") as repo:
        root = repo.add(tmp_path / "model", ImportOptions(cid_version=1)).cid
        with open(tmp_path / "model.car", "wb") as f:
            for piece in car.export(repo.store, root):
                f.write(piece)
    with Repo(tmp_path / "c"):
        pass
    # host B: Kubo 0.43.1, offline, its gateway on B's address, its API on a unix socket
    kubo = kubo43_peer.Daemon(config={"Addresses.Gateway": "/ip4/10.231.2.1/tcp/8080"})
    a = None
    try:
        kubo.start(inside=hosts.run("b"))
        kubo.dag_import(tmp_path / "model.car", timeout=600)
        # host A: casengine serve, its link to C limited to 200 Mbit/s
        subprocess.run(hosts.run("a", "tc", "qdisc", "add", "dev", hosts.dev["a"], "root", "tbf", "rate", "200mbit",
                                 "burst", "256kb", "latency", "200ms"), check=True, capture_output=True)
        a = Served(tmp_path / "a", argv=hosts.run("a", sys.executable, "-m", "casengine", "serve", "--repo",
                                                   str(tmp_path / "a"), "--listen", "10.231.1.1:8080"))
        c = subprocess.Popen(hosts.run("c", sys.executable, "-m", "casengine", "get", "--repo", str(tmp_path / "c"),
                                       "--gateway", "http://10.231.1.1:8080", "--gateway", "http://10.231.2.1:8080",
                                       str(root), "-o", str(tmp_path / "out")),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while hosts.tx_bytes("a") < 48 * MIB and c.poll() is None:
            time.sleep(0.02)
        assert c.poll() is None, "C finished before A could be killed midway"
        os.killpg(a.proc.pid, signal.SIGKILL)      # A dies mid-transfer
        a.proc.wait()
        sent_by_a = hosts.tx_bytes("a")
        out, err = c.communicate(timeout=900)
        assert c.returncode == 0, err.decode()[-3000:]
        assert digests(tmp_path / "out") == digests(tmp_path / "model")
        assert sent_by_a < 250 * MIB                 # A did not send it all
        assert hosts.tx_bytes("b") > 64 * MIB        # B sent the rest
        with Repo(tmp_path / "c", create=False) as repo:
            assert list(repo.verify()) == []
    finally:
        if a is not None:
            a.stop()
        kubo.remove()
