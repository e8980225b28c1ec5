"""Reading back, casengine against one core of SHA-256 and against Kubo 0.43.1, same run, same data.

    python bench/read.py [--size-mib 1024] [--files 100000] [--repeat 3] [--only cat,get,dir,car]

* cat: the whole file, every block hashed, into /dev/null: in-process (``Exporter.cat`` with
  views, as ``casengine cat`` reads) and as a whole ``casengine cat`` process, against one core
  of ``hashlib.sha256`` over the same bytes in 256 KiB pieces (the target: >= 1.5x) and against
  ``ipfs cat`` (Kubo 0.43.1, offline, no daemon).
* get: ``casengine get`` vs ``ipfs get`` of the same file and of a directory of --files small
  files (a fresh output path each run).
* car: ``dag export`` of the file's DAG to a file (the two CARs must be identical) and ``dag
  import`` of that CAR into a fresh repo, both sides.

Runs alternate between the sides (interleaved repeats), best of --repeat, each with the load
average when it ran; peak RSS is each child's own (wait4). Kubo's repos are ``ipfs init
--profile=test``; Kubo runs in ``unshare --net`` (it can reach nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import closing

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
ENV = dict(os.environ, PYTHONPATH=ROOT, IPFS_TELEMETRY="off")
CASENGINE = [sys.executable, "-m", "casengine"]
PIECE = 256 << 10


def load() -> float:
    return os.getloadavg()[0]


def run(argv: list[str], *, stdout=None, stdin=None, env: dict | None = None) -> tuple[float, int]:
    """(seconds, peak RSS MiB) of one child process; it must succeed."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else subprocess.DEVNULL, stdin=stdin,
                            stderr=subprocess.PIPE, env=env or ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv} failed: {proc.stderr.read().decode(errors='replace')}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss // 1024


class Kubo:
    """Kubo 0.43.1 on a fresh offline repo of its own (no daemon: each command runs offline)."""

    def __init__(self, work: str, name: str):
        from peers.kubo43 import IPFS, installed

        if not installed():
            raise SystemExit("bench/read.py needs Kubo 0.43.1: bash tests/peers/kubo43/setup.sh")
        self.env = dict(ENV, IPFS_PATH=os.path.join(work, name))
        self.argv = ["unshare", "--net", str(IPFS)]
        subprocess.run(self.argv + ["init", "--profile=test"], env=self.env, check=True, capture_output=True)

    def cmd(self, *args: str) -> list[str]:
        return self.argv + list(args)

    def out(self, *args: str) -> str:
        return subprocess.run(self.cmd(*args), env=self.env, check=True, capture_output=True).stdout.decode().strip()


class Casengine:
    def __init__(self, work: str, name: str):
        self.repo = os.path.join(work, name)

    def cmd(self, *args: str) -> list[str]:
        return CASENGINE + ["--repo", self.repo, *args]

    def out(self, *args: str) -> str:
        return subprocess.run(self.cmd(*args), env=ENV, check=True, capture_output=True).stdout.decode().strip()


class Table:
    """Best-of figures with the load average beside each, and ratios."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def row(self, label: str, size: int, ours: list[tuple[float, int, float]],
            theirs: list[tuple[float, int, float]] | None, their_name: str = "Kubo 0.43.1") -> None:
        best = min(ours)
        line = (f"{label:34} casengine {size / best[0] / 1e6:6.0f} MB/s ({best[0]:6.2f} s, RSS {best[1]:4} MiB, "
                f"load {best[2]:4.1f})")
        if theirs:
            kbest = min(theirs)
            line += (f"   {their_name} {size / kbest[0] / 1e6:6.0f} MB/s ({kbest[0]:6.2f} s, RSS {kbest[1]:4} MiB, "
                     f"load {kbest[2]:4.1f})   ratio {kbest[0] / best[0]:5.2f}x")
        line += f"   runs s: {[round(r[0], 2) for r in ours]}" + (f" vs {[round(r[0], 2) for r in theirs]}" if theirs else "")
        print(line, flush=True)
        self.rows.append(line)


def sha256_one_core(path: str) -> float:
    """Seconds for one core of hashlib.sha256 over the file's bytes in 256 KiB pieces (in memory)."""
    with open(path, "rb") as f:
        data = memoryview(f.read())
    t = time.perf_counter()
    for i in range(0, len(data), PIECE):
        hashlib.sha256(data[i:i + PIECE]).digest()
    return time.perf_counter() - t


def exporter_cat(repo: str, cid: str) -> float:
    """Seconds for a verified in-process cat (views, as `casengine cat` reads) into /dev/null."""
    from casengine.repo import Repo

    with Repo(repo) as r, open(os.devnull, "wb") as null:
        t = time.perf_counter()
        with closing(r.exporter.cat(cid, views=True)) as pieces:
            for piece in pieces:
                null.write(piece)
        return time.perf_counter() - t


def make_dir(path: str, files: int) -> int:
    """*files* files of 100-1100 random bytes, 1000 per subdirectory; returns the total bytes."""
    total = 0
    for i in range(files):
        sub = os.path.join(path, f"d{i // 1000:03}")
        if i % 1000 == 0:
            os.makedirs(sub)
        data = os.urandom(100 + (i * 7919) % 1000)
        with open(os.path.join(sub, f"f{i:06}"), "wb") as f:
            f.write(data)
        total += len(data)
    return total


def bench_cat(t: Table, path: str, size: int, ours: Casengine, kubo: Kubo, cid: str, repeat: int) -> None:
    sha, inproc, proc, kcat = [], [], [], []
    for _ in range(repeat):
        sha.append((sha256_one_core(path), 0, load()))
        inproc.append((exporter_cat(ours.repo, cid), 0, load()))
        proc.append((*run(ours.cmd("cat", cid)), load()))
        kcat.append((*run(kubo.cmd("cat", cid), env=kubo.env), load()))
    t.row("sha256, one core (same bytes)", size, sha, None)
    t.row("cat in-process (Exporter.cat)", size, inproc, sha, "sha256 1 core")
    t.row("cat, whole process", size, proc, kcat)
    t.row("cat, whole process vs one core", size, proc, sha, "sha256 1 core")


def bench_get(t: Table, label: str, size: int, ours: Casengine, kubo: Kubo, cid: str, work: str, repeat: int) -> None:
    mine, theirs = [], []
    for i in range(repeat):
        for side, into, env in ((ours, mine, ENV), (kubo, theirs, kubo.env)):
            out = os.path.join(work, f"get-out-{i}")
            os.sync()
            into.append((*run(side.cmd("get", cid, "-o", out), env=env), load()))
            shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
    t.row(f"get {label}", size, mine, theirs)


def bench_car(t: Table, size: int, ours: Casengine, kubo: Kubo, cid: str, work: str, repeat: int) -> None:
    exports: dict[str, list] = {"casengine": [], "kubo": []}
    cars = {}
    for _ in range(repeat):
        for name, side, env in (("casengine", ours, ENV), ("kubo", kubo, kubo.env)):
            car = cars[name] = os.path.join(work, f"{name}.car")
            with open(car, "wb") as f:
                exports[name].append((*run(side.cmd("dag", "export", cid), stdout=f, env=env), load()))
    digests = {name: hashlib.sha256(open(car, "rb").read()).hexdigest() for name, car in cars.items()}
    assert len(set(digests.values())) == 1, f"the CARs differ: {digests}"
    os.remove(cars["kubo"])
    t.row("dag export (to a file)", size, exports["casengine"], exports["kubo"])
    imports: dict[str, list] = {"casengine": [], "kubo": []}
    for i in range(repeat):
        for name in imports:
            side = Casengine(work, f"imp-c{i}") if name == "casengine" else Kubo(work, f"imp-k{i}")
            env = ENV if name == "casengine" else side.env
            os.sync()
            imports[name].append((*run(side.cmd("dag", "import", cars["casengine"]), env=env), load()))
            shutil.rmtree(side.repo if name == "casengine" else side.env["IPFS_PATH"])
    t.row("dag import (fresh repo)", size, imports["casengine"], imports["kubo"])
    os.remove(cars["casengine"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="cat,get,dir,car")
    args = ap.parse_args()
    only = set(args.only.split(","))
    work = tempfile.mkdtemp(prefix="casengine-bench-read-")
    try:
        path = os.path.join(work, "input.bin")
        with open(path, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        size = os.path.getsize(path)
        ours, kubo = Casengine(work, "repo"), Kubo(work, "kubo")
        cid = ours.out("add", "-Q", path)
        assert kubo.out("add", "-Q", path) == cid, "casengine and Kubo disagree on the file's CID"
        print(f"{size >> 20} MiB file {cid}, {os.cpu_count()} CPUs, load {load():.1f}", flush=True)
        t = Table()
        if "cat" in only:
            bench_cat(t, path, size, ours, kubo, cid, args.repeat)
        if "get" in only:
            bench_get(t, "file", size, ours, kubo, cid, work, args.repeat)
        if "car" in only:
            bench_car(t, size, ours, kubo, cid, work, args.repeat)
        os.remove(path)
        if "dir" in only:
            tree = os.path.join(work, "tree")
            total = make_dir(tree, args.files)
            dcid = ours.out("add", "-Q", "-r", tree)
            assert kubo.out("add", "-Q", "-r", tree) == dcid, "casengine and Kubo disagree on the tree's CID"
            shutil.rmtree(tree)
            bench_get(t, f"{args.files} files", total, ours, kubo, dcid, work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
