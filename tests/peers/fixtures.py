"""The objects the `kubo` and `kubo_rpc` fixtures (tests/conftest.py) hand to tests."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from . import end, jsipfs, kubo43, libkubo_default
from .kubo43 import add as kubo43_add
from .kubo43.rpc import KuboError, call
from .kubo_oracle import kubo as oracle

StrPath = str | os.PathLike[str]


class Kubo:
    """Kubo v0.22.0's answers for `ipfs add --only-hash [-r --hidden]`.

    cid/error ask the oracle, which takes any add option; default_cid asks kubo-python's
    own, unpatched libkubo build (default options only), a second truth for the defaults.
    Options, as in `ipfs add`: cid_version (None/0/1), raw_leaves (None/bool), chunker
    ("size-N", "rabin[-AVG|-MIN-AVG-MAX]", "buzhash"), trickle, hash (name or multihash
    code), inline, inline_limit, wrap (-w), shard_threshold (bytes; Kubo 0.22 shards at >=).
    """

    def cid(self, path: StrPath, **opts: Any) -> str:
        """The CID Kubo prints; raises oracle.KuboError (Kubo's text) if Kubo rejects opts."""
        return oracle.cid(path, **opts)

    def error(self, path: StrPath, **opts: Any) -> str | None:
        """Kubo's error text if it rejects these options (e.g. "chunker size must be
        greater than 0"), None if it accepts them."""
        try:
            oracle.cid(path, **opts)
        except oracle.KuboError as e:
            return str(e)
        return None

    def default_cid(self, path: StrPath) -> str:
        """The CID Kubo prints with its default options, from kubo-python's libkubo."""
        if libkubo_default.library() is None:
            pytest.fail(f"kubo-python is not installed: {libkubo_default.INSTALL}", pytrace=False)
        return libkubo_default.add(path)


class KuboRPC:
    """A js-ipfs 0.66.1 Kubo-RPC server (offline core mode) on 127.0.0.1, owned by this test
    process.  stop()/restart() keep the port, so url and api_multiaddr stay valid."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL; the API is under /api/v0 (POST only, like Kubo)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.port}"

    @property
    def jsipfs_cmd(self) -> list[str]:
        """argv prefix for the jsipfs CLI talking to this server (run it in the host netns)."""
        return [str(jsipfs.cli()), "--api", self.api_multiaddr]

    @property
    def pid(self) -> int | None:
        """pid of the daemon (node, in its own network namespace), None if stopped."""
        return self.proc.pid if self.running and self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if not self.running:
            self.proc, self.port = jsipfs.start(self.repo, self.port)

    def stop(self) -> None:
        if self.proc is not None:
            end(self.proc, 10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Kubo43:
    """Kubo 0.43.1: offline daemons owned by this test process (started on first use), their RPC
    API and gateway on unix sockets, and the same binary as a CLI.

    cid/error answer `ipfs add -Q -n [-r --hidden]` with the opts of `Kubo` (shard_threshold is
    Import.UnixFSHAMTDirectorySizeThreshold, which Kubo 0.43.1 shards *above*) plus max_file_links,
    max_directory_links, max_hamt_fanout, and any other add flags in `flags` ("--name[=value]").
    profile: a repo where `ipfs config profile apply PROFILE` was run.  Each (profile,
    shard_threshold) has a daemon of its own (Kubo reads both only at start-up); the calls go over
    the RPC API as the CLI makes them, or through the CLI itself for flags the CLI applies."""

    ipfs = kubo43.IPFS
    version = kubo43.VERSION
    #: daemons kept running at once; the least recently used beyond it is stopped (its repo kept)
    RUNNING = 6

    def __init__(self) -> None:
        self.daemons: dict[tuple[str | None, int | None], kubo43.Daemon] = {}   # least recent first

    def daemon(self, profile: str | None = None, shard_threshold: int | None = None) -> kubo43.Daemon:
        """The running daemon for this repo setup (started now if need be)."""
        key = (profile, shard_threshold)
        if key not in self.daemons:
            if profile is not None and profile not in kubo43.PROFILES:
                raise ValueError(f"profile must be one of {kubo43.PROFILES}")
            config = {} if shard_threshold is None else {
                "Import.UnixFSHAMTDirectorySizeThreshold": f"{shard_threshold}B"}
            self.daemons[key] = kubo43.Daemon(profile, config)
        daemon = self.daemons.pop(key)
        self.daemons[key] = daemon
        running = [d for d in self.daemons.values() if d.running and d is not daemon]
        for old in running[:max(0, len(running) + 1 - self.RUNNING)]:
            old.stop()
        daemon.start()
        return daemon

    @property
    def api(self) -> str:
        """The default daemon's API, as Kubo's --api spells it (/unix/...)."""
        return self.daemon().api

    @property
    def gateway_socket(self) -> Path:
        """The default daemon's gateway (send Host: 127.0.0.1; `localhost` redirects to a subdomain)."""
        return self.daemon().gateway_socket

    @property
    def repo(self) -> Path:
        return self.daemon().repo

    def cli(self, *args: str, input: bytes | None = None, check: bool = True,
            env: dict[str, str] | None = None, daemon: kubo43.Daemon | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        """`ipfs --api <default daemon> *args` in the host namespace, output captured."""
        daemon = daemon or self.daemon()
        return subprocess.run([str(self.ipfs), "--api", daemon.api, *args], input=input,
                              capture_output=True, check=check, timeout=timeout,
                              env=dict(daemon.env, **(env or {})))

    def cid(self, path: StrPath, *, profile: str | None = None, flags: tuple[str, ...] = (),
            only_hash: bool = True, **opts: Any) -> str:
        """The CID `ipfs add -Q -n [-r --hidden]` prints; KuboError (Kubo's words) if refused.
        only_hash=False: `ipfs add --pin=false`, the blocks stored in the daemon's repo."""
        daemon = self.daemon(profile, opts.pop("shard_threshold", None))
        path = Path(os.path.abspath(path))
        if kubo43_add.needs_cli(flags):
            argv = ["add", "-Q", *(["-r", "--hidden"] if path.is_dir() else []),
                    *(f"--{k}={v}" for k, v in kubo43_add.params(opts, (), only_hash)), *flags, str(path)]
            out = self.cli(*argv, check=False, daemon=daemon)
            if out.returncode:
                lines = out.stderr.decode(errors="replace").splitlines() or [f"exit status {out.returncode}"]
                raise KuboError(lines[0].removeprefix("Error: "))
            return out.stdout.decode().strip()
        query = kubo43_add.params(opts, flags, only_hash)
        deref = "--dereference-symlinks" in flags
        body, ctype = kubo43_add.body(path, deref)
        return kubo43_add.root(call(daemon.api_socket, "add", params=query, body=body, content_type=ctype))

    def error(self, path: StrPath, **kw: Any) -> str | None:
        """Kubo's message if it refuses this add, None if it accepts it."""
        try:
            self.cid(path, **kw)
        except KuboError as e:
            return str(e)
        return None

    def stop(self) -> None:
        for daemon in self.daemons.values():
            daemon.remove()
        self.daemons.clear()
