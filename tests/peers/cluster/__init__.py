"""IPFS Cluster 1.1.0 (built by setup.sh): a two-peer cluster on loopback in a network namespace of
its own, each cluster peer in front of its own offline Kubo 0.43.1 daemon.

The namespace is held by one `unshare --net` process that brings its loopback up (and has no other
interface); both `ipfs-cluster-service` daemons enter it (`nsenter --net`), listen for each other
on 127.0.0.1 only, with mDNS off, no relay, no bootstrap but each other (`peer_addresses`), and
CRDT consensus that trusts exactly the two of them. Their REST APIs listen on unix sockets and
reach their Kubo daemons' RPC APIs over unix sockets (each Kubo in its own `unshare --net`, as
tests/peers/kubo43 runs them), so tests in the host namespace reach the cluster through files and
nothing in it can reach anything else. The IPFS proxy and the pinning-service API are left out of
the configuration, so they are not started.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .. import end
from ..kubo43 import Daemon as Kubo

VERSION = "1.1.0"
HOME = Path(os.environ.get("CLUSTER_HOME") or Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "casengine-peers" / f"ipfs-cluster-{VERSION}")
SERVICE = HOME / "bin" / "ipfs-cluster-service"
CTL = HOME / "bin" / "ipfs-cluster-ctl"
INSTALL = "bash tests/peers/cluster/setup.sh"
PORTS = (9096, 9196)   # cluster swarm ports inside the namespace (its own, so they never clash)

__all__ = ["Cluster", "Peer", "CTL", "INSTALL", "SERVICE", "VERSION", "installed", "json_values", "rest"]


def installed() -> bool:
    """Both binaries are there and are IPFS Cluster VERSION (setup.sh checks the recipe too)."""
    for tool in (SERVICE, CTL):
        if not os.access(tool, os.X_OK):
            return False
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=60)
        if out.stdout.strip() != f"{tool.name} version {VERSION}":
            return False
    return True


def rest(sock: Path, method: str, path: str, timeout: float = 30, many: bool = False) -> object:
    """One REST API call over the peer's unix socket: the decoded JSON answer (*many*: the list of
    the JSON values it streams one after another), or RuntimeError with the status and body."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(str(sock))

    conn = Conn("127.0.0.1", timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read().decode()
    finally:
        conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {body.strip()}")
    values = json_values(body)
    if not many:
        return values[0] if values else None
    return values[0] if len(values) == 1 and isinstance(values[0], list) else values


def json_values(text: str) -> list[object]:
    """The JSON values of *text*, one after another (the REST API streams them, the ctl prints them)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


class Peer:
    """One cluster peer: its config directory, its Kubo daemon and its `ipfs-cluster-service`."""

    def __init__(self, base: Path, index: int) -> None:
        self.index = index
        self.dir = base / f"peer{index}"
        self.kubo = Kubo()
        self.api_socket = base / f"rest{index}.sock"
        self.port = PORTS[index]
        self.id = ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        """The REST API as a multiaddr (what `casengine push --cluster` and `ipfs-cluster-ctl --host` take)."""
        return f"/unix{self.api_socket}"

    @property
    def multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.port}/p2p/{self.id}"

    def init(self, secret: str) -> None:
        subprocess.run([str(SERVICE), "-c", str(self.dir), "init", "--consensus", "crdt",
                        "--datastore", "leveldb"], env=dict(os.environ, CLUSTER_SECRET=secret),
                       check=True, capture_output=True, timeout=60)
        self.id = json.loads((self.dir / "identity.json").read_text())["id"]

    def configure(self, peers: list[Peer]) -> None:
        path = self.dir / "service.json"
        cfg = json.loads(path.read_text())
        c = cfg["cluster"]
        c.update(peername=f"peer{self.index}", listen_multiaddress=[f"/ip4/127.0.0.1/tcp/{self.port}"],
                 mdns_interval="0s", enable_relay_hop=False, monitor_ping_interval="2s",
                 peer_watch_interval="1s",
                 peer_addresses=[p.multiaddr for p in peers if p is not self])
        cfg["consensus"]["crdt"]["trusted_peers"] = [p.id for p in peers]
        cfg["api"] = {"restapi": dict(cfg["api"]["restapi"], http_listen_multiaddress=self.api)}
        cfg["ipfs_connector"]["ipfshttp"].update(node_multiaddress=self.kubo.api, connect_swarms_delay="24h")
        for informer in cfg["informer"].values():
            informer["metric_ttl"] = "5s"
        cfg["monitor"]["pubsubmon"]["check_interval"] = "2s"
        path.write_text(json.dumps(cfg, indent=2))

    def start(self, netns: int) -> None:
        self.api_socket.unlink(missing_ok=True)
        with open(self.dir / "daemon.log", "ab") as log:
            cmd = ["setpriv", "--pdeathsig", "TERM", "nsenter", f"--net=/proc/{netns}/ns/net",
                   str(SERVICE), "-c", str(self.dir), "daemon"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def rest(self, method: str, path: str, timeout: float = 30, many: bool = False) -> object:
        return rest(self.api_socket, method, path, timeout, many)

    def ctl(self, *args: str, timeout: float = 60) -> list[object]:
        """What `ipfs-cluster-ctl --host <this peer's socket> --enc json ARGS` prints (host namespace)."""
        done = subprocess.run([str(CTL), "--host", self.api, "--enc", "json", *args], check=True,
                              capture_output=True, text=True, timeout=timeout)
        return json_values(done.stdout)

    def log(self) -> str:
        return (self.dir / "daemon.log").read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        if self.proc is not None:
            end(self.proc, timeout, signal.SIGINT)   # SIGINT: the daemon's own clean shutdown
        self.proc = None
        self.kubo.remove()


class Cluster:
    """Two cluster peers, each with its own Kubo daemon, joined only to each other."""

    def __init__(self, size: int = 2) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-"))   # short: unix socket paths <= 107 bytes
        self.peers = [Peer(self.dir, i) for i in range(size)]
        self.netns: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        """Kubo daemons, the namespace, both cluster peers; returns once each peer sees the other and
        has the other's free-space metric (what pin allocation needs)."""
        secret = secrets.token_hex(32)
        for peer in self.peers:
            peer.kubo.start()
            peer.init(secret)
        for peer in self.peers:
            peer.configure(self.peers)
        # holds the namespace; its loopback up, nothing else in it
        self.netns = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "unshare", "--net", "sh", "-c",
                                       "ip link set lo up && exec sleep infinity"], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.loopback_up():
            self.check(deadline, "the namespace's loopback is not up")
            time.sleep(0.02)
        for peer in self.peers:
            peer.start(self.netns.pid)
        while not self.ready():
            self.check(deadline, "the cluster peers do not see each other")
            time.sleep(0.2)

    def loopback_up(self) -> bool:
        out = subprocess.run(["nsenter", f"--net=/proc/{self.netns.pid}/ns/net", "ip", "-o", "link", "show", "lo"],
                             capture_output=True, text=True)
        return out.returncode == 0 and ",UP" in out.stdout

    def ready(self) -> bool:
        want = {p.id for p in self.peers}
        for peer in self.peers:
            try:
                seen = {p["id"] for p in peer.rest("GET", "/peers", many=True) if not p.get("error")}
                metrics = {m["peer"] for m in peer.rest("GET", "/monitor/metrics/freespace", many=True)}
            except (OSError, RuntimeError):
                return False
            if seen != want or metrics != want:
                return False
        return True

    def check(self, deadline: float, what: str) -> None:
        dead = [p for p in self.peers if p.proc is not None and p.proc.poll() is not None]
        if dead or time.monotonic() > deadline or (self.netns and self.netns.poll() is not None):
            logs = "\n".join(f"--- peer{p.index} ({p.id}):\n{p.log()[-4000:]}" for p in self.peers
                             if (p.dir / "daemon.log").exists())
            self.stop()
            raise RuntimeError(f"IPFS Cluster {VERSION}: {what}" + (" (a peer exited)" if dead else "")
                               + f"\n{logs}")

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()
        if self.netns is not None:
            self.netns.terminate()
            self.netns.wait()
            self.netns = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
