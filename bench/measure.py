"""What every bench here shares: whole-process runs with each child's own peak RSS, the load
average, and figures as best, run-to-run range and ratio.

A child's peak RSS from wait4 is not its own when a big process starts it: Linux records the
RSS high-water mark of the memory the child leaves behind at exec, and a child started by
vfork (Python's subprocess, posix_spawn) leaves the parent's, so every child of a bench that
once held a 1 GiB buffer "peaked" at 1 GiB (bench/read.py printed the same RSS for casengine and
Kubo). :func:`run` therefore starts children from a small helper process that holds nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Sequence

#: Runs the commands it is sent (one JSON line each) and answers with their seconds and wait4 peak RSS.
HELPER = r"""
import json, os, subprocess, sys, tempfile, time
for line in sys.stdin:
    job = json.loads(line)
    with tempfile.TemporaryFile() as err, open(job["stdin"] or os.devnull, "rb") as fin, \
            open(job["stdout"] or os.devnull, "wb") as fout:
        t = time.perf_counter()
        proc = subprocess.Popen(job["argv"], stdin=fin, stdout=fout, stderr=err, env=job["env"])
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        err.seek(0)
        print(json.dumps({"seconds": seconds, "rss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
                          "code": os.waitstatus_to_exitcode(status),
                          "stderr": err.read()[-4000:].decode(errors="replace")}), flush=True)
"""
_helper: subprocess.Popen | None = None


def load() -> float:
    return os.getloadavg()[0]


def run(argv: Sequence[str], *, stdout: str | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> tuple[float, int]:
    """(seconds, peak RSS MiB) of one child process, its stdin and stdout the files at those paths
    (default /dev/null); it must succeed. The RSS is the child's own (see the module's doc)."""
    out = run_job(argv, stdout=stdout, stdin=stdin, env=env)
    return out["seconds"], out["rss_kib"] // 1024


def run_job(argv: Sequence[str], *, stdout: str | None = None, stdin: str | None = None,
            env: dict[str, str] | None = None) -> dict:
    """As :func:`run`, the helper's whole answer (also ``cpu``: user + system seconds)."""
    global _helper
    if _helper is None or _helper.poll() is not None:
        _helper = subprocess.Popen([sys.executable, "-c", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True, cwd=tempfile.gettempdir())
    _helper.stdin.write(json.dumps({"argv": list(argv), "stdout": stdout, "stdin": stdin,
                                    "env": dict(env if env is not None else os.environ)}) + "\n")
    _helper.stdin.flush()
    line = _helper.stdout.readline()
    if not line:
        raise RuntimeError(f"the bench's process helper died running {list(argv)}")
    out = json.loads(line)
    if out["code"]:
        raise RuntimeError(f"{list(argv)} failed ({out['code']}): {out['stderr']}")
    return out


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """The run-to-run range of *values*, as ``lo-hi`` (one value: itself)."""
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"


def ratio(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """Their time over ours (> 1: casengine is faster) for the best runs, and the range over the
    runs taken in turn (run i of each side, so a burst of noise weighs on both)."""
    best = min(theirs) / min(ours)
    pairs = [t / o for o, t in zip(ours, theirs)]
    return f"{best:.2f}x ({spread(pairs, '{:.2f}')})"
