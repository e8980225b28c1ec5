"""Kubo 0.43.1 (today's Kubo, built by setup.sh) as an offline daemon in a private network namespace,
its RPC API and gateway on unix sockets that the tests reach from the host namespace.

Every daemon gets a fresh `ipfs init --profile=test` repo with no bootstrap peers, no swarm
addresses, AutoConf off and telemetry off; it runs as `unshare --net ipfs daemon --offline`, so
it can reach nothing and nothing but the sockets reaches it.  The HAMT threshold and its size
estimation are read by Kubo only when a node starts (core/node/groups.go sets boxo's globals), so
a repo config that differs in them needs a daemon of its own: `Daemon` is one such daemon.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .. import end
from .rpc import KuboError, call

VERSION = "0.43.1"
HOME = Path(os.environ.get("KUBO43_HOME") or Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "casengine-peers" / f"kubo-{VERSION}")
IPFS = HOME / "bin" / "ipfs"
INSTALL = "bash tests/peers/kubo43/setup.sh"
ENV = {"IPFS_TELEMETRY": "off"}
PROFILES = ("unixfs-v0-2015", "unixfs-v1-2025")

__all__ = ["Daemon", "KuboError", "IPFS", "INSTALL", "VERSION", "installed", "PROFILES"]


def installed() -> bool:
    """The binary is there and is Kubo VERSION (setup.sh checks the recipe too)."""
    if not os.access(IPFS, os.X_OK):
        return False
    out = subprocess.run([str(IPFS), "version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == f"ipfs version {VERSION}"


class Daemon:
    """One offline Kubo daemon on its own repo: `profile` applied with `ipfs config profile apply`,
    then `config` (dotted Kubo keys -> JSON values) set in the repo before it starts."""

    def __init__(self, profile: str | None = None, config: dict[str, object] | None = None) -> None:
        self.profile, self.config = profile, dict(config or {})
        self.dir = Path(tempfile.mkdtemp(prefix="kubo43-"))   # short: unix socket paths <= 107 bytes
        self.repo = self.dir / "repo"
        self.api_socket, self.gateway_socket = self.dir / "api.sock", self.dir / "gw.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        """The API as Kubo's --api spells it."""
        return f"/unix{self.api_socket}"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, IPFS_PATH=str(self.repo), **ENV)

    @property
    def pid(self) -> int | None:
        """The daemon's pid (in its own network namespace), None if stopped."""
        return self.proc.pid if self.proc is not None and self.running else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def init(self) -> None:
        run = dict(env=self.env, check=True, capture_output=True, timeout=120)
        subprocess.run(["unshare", "--net", str(IPFS), "init", "--profile=test"], **run)
        if self.profile:
            subprocess.run(["unshare", "--net", str(IPFS), "config", "profile", "apply", self.profile], **run)
        path = self.repo / "config"
        cfg = json.loads(path.read_text())
        settings = {"Bootstrap": [], "AutoConf.Enabled": False, "Addresses.Swarm": [],
                    "Addresses.API": self.api, "Addresses.Gateway": f"/unix{self.gateway_socket}",
                    **self.config}
        for key, value in settings.items():
            *parents, last = key.split(".")
            node = cfg
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        path.write_text(json.dumps(cfg, indent=2))

    def start(self, timeout: float = 60, *, inside: Sequence[str] = ("unshare", "--net")) -> None:
        """Start it (its repo is made on first start) under the command prefix *inside*: a network
        namespace of its own by default, ``ip netns exec NS`` on a host of a multi-host test, ``()``
        where the caller is inside a namespace already. Returns when the API answers."""
        if self.running:
            return
        if not (self.repo / "config").exists():
            self.init()
        for sock in (self.api_socket, self.gateway_socket):
            sock.unlink(missing_ok=True)
        with open(self.dir / "daemon.log", "ab") as log:
            # setpriv: SIGTERM it if this process dies, even by SIGKILL (kept across unshare's exec)
            cmd = ["setpriv", "--pdeathsig", "TERM", *inside, str(IPFS), "daemon", "--offline"]
            self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                call(self.api_socket, "version", timeout=5)
                return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"Kubo {VERSION} daemon exited ({self.proc.returncode}):\n"
                                   + (self.dir / "daemon.log").read_text(errors="replace"))
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"Kubo {VERSION} daemon not ready after {timeout} s; see {self.dir}/daemon.log")
            time.sleep(0.05)

    def dag_import(self, car: Path, timeout: float = 3600) -> None:
        """``ipfs dag import --pin-roots=false CAR`` through the running daemon."""
        subprocess.run([str(IPFS), "--api", self.api, "dag", "import", "--pin-roots=false", str(car)],
                       env=self.env, check=True, capture_output=True, timeout=timeout)

    def stop(self, timeout: float = 20) -> None:
        """`shutdown` through the API, then SIGTERM / SIGKILL if it is still alive."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                call(self.api_socket, "shutdown", timeout=5)
                self.proc.wait(timeout)
            except (OSError, KuboError, subprocess.TimeoutExpired):
                end(self.proc, timeout)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
