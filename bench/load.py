"""Load: several processes run mixed operations (add, cat, pin, unpin, gc) on one repository.

    python bench/load.py [--workers 4] [--ops 2000] [--seed 0] [--keep DIR]

The repository starts with a pinned baseline (a directory and a file cut from a shared pool of
random bytes). Each worker process then runs --ops operations drawn at random:

* add (30%): a file (bytes) or a directory of 1-3 files (a path), pinned 3 times in 4, each file
  a chunk-aligned slice of the shared pool (so blocks are shared between workers and with the
  baseline) plus a tail of its own; random chunker, CID version and raw leaves;
* cat (30%): one of the files it holds pinned, read back whole, every block verified, compared
  with what it added (sha-256);
* pin (12%): a file inside one of its pinned directories, pinned recursively on its own;
* unpin (18%): one of its pins (a file or directory it may still reach through another pin);
* gc (10%): a full collection, while the others keep working.

A worker only reads and unpins what it pinned itself, so every operation has one right outcome:
any exception is an error. Afterwards: every pin the workers hold is in the repository and
nothing else is (besides the baseline), every pinned file reads back as added, ``verify`` finds
no corrupt block, and once the workers' pins are removed and a collection has run the store holds
exactly the baseline again (block count and bytes, and the byte counter agrees with the blocks).

Prints ops/s, per-operation latency (median, p99), errors, and the sizes at each stage.
Exit status 1 if anything does not hold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from casengine.dag.cid import RAW, Cid  # noqa: E402
from casengine.options import ImportOptions  # noqa: E402
from casengine.repo import Repo  # noqa: E402

POOL = 4 << 20
OPS = (("add", 30), ("cat", 30), ("pin", 12), ("unpin", 18), ("gc", 10))
CHUNKERS = ("size-4096", "size-16384", "size-262144")


def pool(seed: int) -> bytes:
    """The random bytes every file starts from (the same in every process)."""
    return random.Random(seed).randbytes(POOL)


def sha(chunks) -> str:
    h = hashlib.sha256()
    for piece in chunks:
        h.update(piece)
    return h.hexdigest()


def cut(rng: random.Random, shared: bytes) -> bytes:
    """A chunk-aligned slice of the pool and a tail only this file has."""
    start = rng.randrange(0, POOL // 4096) * 4096
    length = rng.choice([0, 1, 4, 16, 64]) * 4096
    return shared[start:start + length] + rng.randbytes(rng.randrange(1, 64 << 10))


# -- a worker process ----------------------------------------------------------------------------------
class Worker:
    """One process's operations; ``pins`` maps each CID it holds pinned to {name: sha-256} of
    its files ("" for a file's own CID)."""

    def __init__(self, repo_path: str, seed: int, base_seed: int, scratch: str):
        self.repo = Repo(repo_path)
        self.rng = random.Random(seed)
        self.shared = pool(base_seed)
        self.scratch = scratch
        self.pins: dict[str, dict[str, str]] = {}
        self.latency: dict[str, list[float]] = {name: [] for name, _ in OPS}
        self.errors: list[str] = []

    def options(self, pin: bool) -> ImportOptions:
        version = self.rng.choice([0, 1])
        return ImportOptions(chunker=self.rng.choice(CHUNKERS), cid_version=version, pin=pin,
                             raw_leaves=self.rng.choice([None, True, False]))

    def add(self) -> None:
        pin = self.rng.random() < 0.75
        if self.rng.random() < 0.5:
            data = cut(self.rng, self.shared)
            cid = self.repo.add(data, self.options(pin)).cid
            files = {"": sha([data])}
        else:
            top = Path(tempfile.mkdtemp(dir=self.scratch))
            files = {}
            for i in range(self.rng.randrange(1, 4)):
                data = cut(self.rng, self.shared)
                (top / f"f{i}.bin").write_bytes(data)
                files[f"f{i}.bin"] = sha([data])
            cid = self.repo.add(top, self.options(pin)).cid
            shutil.rmtree(top)
        if pin:
            self.pins[str(cid)] = files

    def cat(self) -> None:
        if not self.pins:
            return self.add()
        cid = self.rng.choice(sorted(self.pins))
        name = self.rng.choice(sorted(self.pins[cid]))
        got = sha(self.repo.exporter.cat(f"{cid}/{name}" if name else cid))
        if got != self.pins[cid][name]:
            raise AssertionError(f"{cid}/{name} reads back as other bytes")

    def pin(self) -> None:
        dirs = sorted(c for c, files in self.pins.items() if "" not in files)
        if not dirs:
            return self.add()
        top = self.rng.choice(dirs)
        name = self.rng.choice(sorted(self.pins[top]))
        cid = self.repo.exporter.resolve(f"{top}/{name}").cid
        self.repo.pin(cid)
        self.pins[str(cid)] = {"": self.pins[top][name]}

    def unpin(self) -> None:
        if not self.pins:
            return self.add()
        cid = self.rng.choice(sorted(self.pins))
        self.repo.unpin(Cid.parse(cid))
        del self.pins[cid]

    def gc(self) -> None:
        self.repo.gc()

    def run(self, ops: int) -> dict:
        names, weights = zip(*OPS)
        start = time.monotonic()
        for _ in range(ops):
            op = self.rng.choices(names, weights)[0]
            began = time.monotonic()
            try:
                getattr(self, op)()
            except Exception:  # every operation has one right outcome: anything raised is an error
                self.errors.append(f"{op}: {traceback.format_exc(limit=3)}")
            self.latency[op].append(time.monotonic() - began)
        return {"seconds": time.monotonic() - start, "pins": self.pins, "latency": self.latency,
                "errors": self.errors}


def worker_main(repo_path: str, seed: int, base_seed: int, ops: int, out: str) -> None:
    scratch = tempfile.mkdtemp(prefix="casengine-load-")
    try:
        result = Worker(repo_path, seed, base_seed, scratch).run(ops)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with open(out + ".tmp", "w") as f:
        json.dump(result, f)
    os.rename(out + ".tmp", out)


# -- the run ------------------------------------------------------------------------------------------
@dataclass
class Sizes:
    blocks: int
    bytes: int          # the store's byte counter
    block_bytes: int    # the bytes of the blocks, summed one by one

    def __str__(self) -> str:
        return f"{self.blocks} blocks, {self.bytes} bytes"


def sizes(repo: Repo) -> Sizes:
    total = sum(len(repo.store.get(Cid(1, RAW, mh), verified=False)) for mh in repo.store.multihashes())
    return Sizes(len(repo.store), repo.store.size(), total)


@dataclass
class Result:
    workers: int
    ops: int
    seconds: float
    errors: list[str]
    latency: dict[str, list[float]]
    baseline: Sizes
    loaded: Sizes           # when the workers are done
    after: Sizes            # after unpinning the workers' pins and a collection
    pins: int               # pins the workers held at the end
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.problems


def make_baseline(repo: Repo, base_seed: int, scratch: Path) -> set[Cid]:
    rng = random.Random(base_seed + 1)
    shared = pool(base_seed)
    top = scratch / "baseline"
    top.mkdir()
    for i in range(3):
        (top / f"b{i}.bin").write_bytes(cut(rng, shared))
    return {repo.add(top, ImportOptions(chunker="size-4096")).cid,
            repo.add(cut(rng, shared), ImportOptions(cid_version=1)).cid}


def run(workers: int, ops: int, seed: int, repo_path: Path) -> Result:
    """*workers* processes of *ops* operations each on a fresh repository at *repo_path*."""
    scratch = repo_path.parent / f"{repo_path.name}-scratch"
    scratch.mkdir(parents=True)
    with Repo(repo_path) as repo:
        baseline_pins = make_baseline(repo, seed, scratch)
        baseline = sizes(repo)
    outs = [scratch / f"worker{i}.json" for i in range(workers)]
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, __file__, "worker", str(repo_path), str(seed * 1000 + i + 1),
                               str(seed), str(ops), str(out)]) for i, out in enumerate(outs)]
    codes = [p.wait() for p in procs]
    seconds = time.monotonic() - start
    problems = [f"worker {i} exited with {code}" for i, code in enumerate(codes) if code]
    reports = [json.loads(out.read_text()) for out in outs if out.exists()]
    errors = [e for r in reports for e in r["errors"]]
    latency = {name: [t for r in reports for t in r["latency"][name]] for name, _ in OPS}
    held = {cid: files for r in reports for cid, files in r["pins"].items()}
    with Repo(repo_path) as repo:
        loaded = sizes(repo)
        pinned = {c for c, _ in repo.pins("recursive")} | {c for c, _ in repo.pins("direct")}
        expected = {Cid.parse(c) for c in held} | baseline_pins
        if pinned != expected:
            problems.append(f"pins differ from what the workers hold: {len(pinned - expected)} extra, "
                            f"{len(expected - pinned)} missing")
        for cid, files in held.items():
            for name, digest in files.items():
                if sha(repo.exporter.cat(f"{cid}/{name}" if name else cid)) != digest:
                    problems.append(f"{cid}/{name} does not read back as added")
        corrupt = list(repo.verify())
        if corrupt:
            problems.append(f"{len(corrupt)} corrupt blocks")
        for cid in held:
            repo.unpin(Cid.parse(cid))
        repo.gc()
        after = sizes(repo)
        if (after.blocks, after.bytes) != (baseline.blocks, baseline.bytes):
            problems.append(f"after unpin + gc the store holds {after}, the baseline was {baseline}")
        for label, s in (("baseline", baseline), ("loaded", loaded), ("after", after)):
            if s.bytes != s.block_bytes:
                problems.append(f"{label}: the byte counter says {s.bytes}, the blocks hold {s.block_bytes}")
    shutil.rmtree(scratch, ignore_errors=True)
    return Result(workers, ops, seconds, errors, latency, baseline, loaded, after, len(held), problems)


def report(r: Result) -> str:
    total = r.workers * r.ops
    lines = [f"{r.workers} processes x {r.ops} operations = {total} in {r.seconds:.1f} s: "
             f"{total / r.seconds:.0f} ops/s, {len(r.errors)} errors",
             "op      count   median ms   p99 ms"]
    for name, _ in OPS:
        times = sorted(r.latency[name])
        if times:
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            lines.append(f"{name:6} {len(times):6}   {statistics.median(times) * 1000:9.1f}   {p99 * 1000:6.1f}")
    back = (r.after.blocks, r.after.bytes) == (r.baseline.blocks, r.baseline.bytes)
    lines += [f"baseline:             {r.baseline}",
              f"when the workers end: {r.loaded} ({r.pins} pins held by the workers)",
              f"after unpin + gc:     {r.after} -> {'back to the baseline' if back else 'NOT the baseline'}"]
    lines += [f"ERROR {e}" for e in r.errors[:20]] + [f"FAIL {p}" for p in r.problems]
    lines.append("OK" if r.ok else "FAILED")
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:2] == ["worker"]:
        repo_path, seed, base_seed, ops, out = sys.argv[2:]
        worker_main(repo_path, int(seed), int(base_seed), int(ops), out)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--ops", type=int, default=2000, help="operations per worker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="run in this (new) directory and keep the repository")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casengine-load-") as tmp:
        where = args.keep or Path(tmp)
        result = run(args.workers, args.ops, args.seed, where / "repo")
    print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
