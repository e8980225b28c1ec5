"""Reading back, casengine against SHA-256 and against Kubo 0.43.1, same run, same data.

    python bench/read.py [--size-mib 1024] [--files 100000] [--repeat 3] [--dir-repeat N] [--only cat,get,dir,car]

* cat: the whole file, every block hashed, into /dev/null: in-process (``Exporter.cat`` with
  views, as ``casengine cat`` reads) and as a whole ``casengine cat`` process, against one core
  of ``hashlib.sha256`` over the same bytes in 256 KiB pieces (the target: >= 1.5x) and against
  ``ipfs cat`` (Kubo 0.43.1, offline, no daemon). Beside them: two threads of plain hashlib over
  the same bytes, what the machine's two cores give right now (on a busy machine it is near
  one core, and so is any verified cat); two threads hashing the file as read from the page
  cache (preadv), the ceiling of any reader: bringing bytes from the page cache into a
  process costs ~0.15 ms/MiB here, a quarter of SHA-256's ~0.6, whether copied or mapped (a
  cat through LMDB's map pays page faults, py-lmdb touching every page of a block as it reads
  it, and the unmapping that keeps RSS flat); and the CPU each cat used: "cores" is CPU seconds
  over wall seconds, "main" the main thread's share (what the hashing threads cannot take over).
* get: ``casengine get`` vs ``ipfs get`` of the same file and of a directory of --files small
  files (a fresh output path each run).
* car: ``dag export`` of the file's DAG to a file (the two CARs must be identical) and ``dag
  import`` of that CAR into a fresh repo, both sides.

Runs alternate between the sides (interleaved repeats); each row gives the best MB/s, the
run-to-run range, the ratio of the best times and its range over the runs taken in turn, and
the load average while the row ran. Peak RSS is each child's own (bench/measure.py). Kubo's
repos are ``ipfs init --profile=test``; Kubo runs in ``unshare --net`` (it can reach nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT, os.path.join(ROOT, "tests")]

from measure import load, ratio, run_job, spread  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=ROOT, IPFS_TELEMETRY="off")
ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as for a user
CASENGINE = [sys.executable, "-m", "casengine"]
PIECE = 256 << 10


@dataclass
class Sample:
    """One timed run: wall seconds, peak RSS (MiB, 0: not measured), load average, CPU seconds."""

    seconds: float
    rss: int = 0
    load: float = 0.0
    cpu: float = 0.0
    main: float = 0.0  # CPU seconds of the main thread (in-process runs)


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
    """Best-of figures with their run-to-run range and the load average, and ratios."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def row(self, label: str, size: int, ours: list[Sample], theirs: list[Sample] | None = None,
            their_name: str = "Kubo 0.43.1", unit: str = "MB/s") -> None:
        scale = 1e6 if unit == "MB/s" else 1  # else *size* counts what *unit* does (files)

        def side(name: str, runs: list[Sample]) -> str:
            best = min(runs, key=lambda r: r.seconds)
            text = (f"{name} {size / best.seconds / scale:6.0f} {unit} "
                    f"({spread([size / r.seconds / scale for r in runs])}, {best.seconds:.2f} s")
            if best.rss:
                text += f", RSS {best.rss} MiB"
            if best.cpu:
                text += f", {best.cpu / best.seconds:.2f} cores"
            if best.main:
                text += f", main {best.main / best.cpu:.0%}"
            return text + ")"
        line = f"{label:32} {side('casengine', ours)}"
        if theirs:
            line += f"   {side(their_name, theirs)}   ratio {ratio([r.seconds for r in ours], [r.seconds for r in theirs])}"
        loads = [r.load for r in ours + (theirs or [])]
        line += f"   load {spread(loads, '{:.1f}')}"
        print(line, flush=True)
        self.rows.append(line)


def timed(argv: list[str], env: dict[str, str], stdout: str | None = None) -> Sample:
    """A whole process, with its own peak RSS and its CPU time."""
    out = run_job(argv, env=env, stdout=stdout)
    return Sample(out["seconds"], out["rss_kib"] // 1024, load(), out["cpu"])


def sha256_threads(data: memoryview, threads: int) -> Sample:
    """hashlib.sha256 over *data* in 256 KiB pieces on *threads* threads (in memory)."""
    def work(lo: int, hi: int) -> None:
        for i in range(lo, hi, PIECE):
            hashlib.sha256(data[i:i + PIECE]).digest()
    return on_threads(work, len(data), threads)


def on_threads(work, size: int, threads: int) -> Sample:
    """*work(lo, hi)* over [0, *size*) cut into *threads* runs of whole pieces, one thread each, timed."""
    bounds = [size * k // threads // PIECE * PIECE for k in range(threads)] + [size]
    workers = [threading.Thread(target=work, args=(bounds[k], bounds[k + 1])) for k in range(threads)]
    cpu, t = cpu_seconds(), time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return Sample(time.perf_counter() - t, 0, load(), cpu_seconds() - cpu)


def pread_sha256(path: str, threads: int) -> Sample:
    """hashlib.sha256 of the file's 256 KiB pieces read from the page cache with preadv, on
    *threads* threads: what bringing the bytes in costs on top of hashing them, with no per-block
    Python beyond a read and a hash (the most any reader of this file could do here)."""
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size

    def work(lo: int, hi: int) -> None:
        buf = memoryview(bytearray(PIECE))
        for off in range(lo, hi, PIECE):
            hashlib.sha256(buf[:os.preadv(fd, [buf], off)]).digest()
    try:
        return on_threads(work, size, threads)
    finally:
        os.close(fd)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def exporter_cat(repo: str, cid: str) -> Sample:
    """A verified in-process cat (views, as `casengine cat` reads) into /dev/null."""
    from casengine.repo import Repo

    with Repo(repo) as r, open(os.devnull, "wb") as null:
        cpu, main, t = cpu_seconds(), time.thread_time(), time.perf_counter()
        with closing(r.exporter.cat(cid, views=True)) as pieces:
            for piece in pieces:
                null.write(piece)
        return Sample(time.perf_counter() - t, 0, load(), cpu_seconds() - cpu, time.thread_time() - main)


def make_dir(path: str, files: int) -> None:
    """*files* files of 100-1100 random bytes, 1000 per subdirectory."""
    for i in range(files):
        sub = os.path.join(path, f"d{i // 1000:03}")
        if i % 1000 == 0:
            os.makedirs(sub)
        data = os.urandom(100 + (i * 7919) % 1000)
        with open(os.path.join(sub, f"f{i:06}"), "wb") as f:
            f.write(data)


def bench_cat(t: Table, path: str, size: int, ours: Casengine, kubo: Kubo, cid: str, repeat: int) -> None:
    with open(path, "rb") as f:
        data = memoryview(f.read())
    sha, sha2, paged, inproc, proc, kcat = [], [], [], [], [], []
    for _ in range(repeat):
        sha.append(sha256_threads(data, 1))
        sha2.append(sha256_threads(data, 2))
        paged.append(pread_sha256(path, 2))
        inproc.append(exporter_cat(ours.repo, cid))
        proc.append(timed(ours.cmd("cat", cid), ENV))
        kcat.append(timed(kubo.cmd("cat", cid), kubo.env))
    del data
    t.row("sha256, one core (same bytes)", size, sha)
    t.row("sha256, two threads (in memory)", size, sha2, sha, "one core")
    t.row("page cache -> sha256, two threads", size, paged, sha, "one core")
    t.row("cat in-process (Exporter.cat)", size, inproc, sha, "sha256 1 core")
    t.row("cat in-process vs page cache", size, inproc, paged, "page cache 2 threads")
    t.row("cat, whole process", size, proc, kcat)
    t.row("cat, whole process vs one core", size, proc, sha, "sha256 1 core")


def bench_get(t: Table, label: str, size: int, ours: Casengine, kubo: Kubo, cid: str, work: str, repeat: int,
              unit: str = "MB/s") -> None:
    mine, theirs = [], []
    for i in range(repeat):
        for side, into, env in ((ours, mine, ENV), (kubo, theirs, kubo.env)):
            out = os.path.join(work, f"get-out-{i}")
            os.sync()
            into.append(timed(side.cmd("get", cid, "-o", out), env))
            shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
    t.row(f"get {label}", size, mine, theirs, unit=unit)


def bench_car(t: Table, size: int, ours: Casengine, kubo: Kubo, cid: str, work: str, repeat: int) -> None:
    exports: dict[str, list[Sample]] = {"casengine": [], "kubo": []}
    cars = {}
    for _ in range(repeat):
        for name, side, env in (("casengine", ours, ENV), ("kubo", kubo, kubo.env)):
            car = cars[name] = os.path.join(work, f"{name}.car")
            exports[name].append(timed(side.cmd("dag", "export", cid), env, stdout=car))
    digests = {name: hashlib.sha256(open(car, "rb").read()).hexdigest() for name, car in cars.items()}
    assert len(set(digests.values())) == 1, f"the CARs differ: {digests}"
    os.remove(cars["kubo"])
    t.row("dag export (to a file)", size, exports["casengine"], exports["kubo"])
    imports: dict[str, list[Sample]] = {"casengine": [], "kubo": []}
    for i in range(repeat):
        for name in imports:
            side = Casengine(work, f"imp-c{i}") if name == "casengine" else Kubo(work, f"imp-k{i}")
            env = ENV if name == "casengine" else side.env
            os.sync()
            imports[name].append(timed(side.cmd("dag", "import", cars["casengine"]), env))
            shutil.rmtree(side.repo if name == "casengine" else side.env["IPFS_PATH"])
    t.row("dag import (fresh repo)", size, imports["casengine"], imports["kubo"])
    os.remove(cars["casengine"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir-repeat", type=int, help="gets of the directory per side (default --repeat)")
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
            make_dir(tree, args.files)
            dcid = ours.out("add", "-Q", "-r", tree)
            assert kubo.out("add", "-Q", "-r", tree) == dcid, "casengine and Kubo disagree on the tree's CID"
            shutil.rmtree(tree)
            bench_get(t, f"{args.files} files", args.files, ours, kubo, dcid, work, args.dir_repeat or args.repeat,
                      "files/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
