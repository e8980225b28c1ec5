"""Crash safety and concurrency of the repository, with real processes and a real LMDB.

* ``casengine add`` of a large file is SIGKILLed at random moments; after each kill the store
  verifies clean and every pin covers a complete DAG; the add, re-run, succeeds.
* An add, a CAR import, a gc and a pin are SIGKILLed at random moments (bench/crash.py's own
  harness, 4 kills of each here, 200 in all there): after each the store opens, verifies
  clean, its byte counter agrees with its blocks, no pin points at an incomplete DAG, and every
  operation that reported success holds.
* Four processes add distinct and overlapping content (pinned or not, some unpinned again)
  while collections run back to back; all pinned content then reads back whole and verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench_scripts import bench_script

from casengine.dag.cid import Cid
from casengine.repo import RECURSIVE, Repo

TESTS = Path(__file__).resolve().parent
ENV = dict(os.environ, PYTHONPATH=str(TESTS.parent))
KILLS = 20


def add_cmd(repo: Path, path: Path) -> list[str]:
    # size-1024 chunks: 32k blocks, so an add spends its time in many batches and commits
    return [sys.executable, "-m", "casengine", "--repo", str(repo), "add", "-Q", "--chunker=size-1024", str(path)]


def sha256_of(chunks) -> str:
    h = hashlib.sha256()
    for piece in chunks:
        h.update(piece)
    return h.hexdigest()


def assert_consistent(repo_path: Path) -> list[Cid]:
    """The store verifies clean and every pin's DAG is there, every block verified; the pins."""
    with Repo(repo_path) as repo:
        assert list(repo.verify()) == []
        pins = [cid for cid, _ in repo.pins(RECURSIVE)]
        for root in pins:
            for _ in repo.exporter.walk(root):  # raises CidNotFound / CorruptBlock
                pass
        return pins


def test_sigkill_during_add_at_random_moments(tmp_path):
    data = tmp_path / "large.bin"
    data.write_bytes(random.Random(7).randbytes(32 << 20))
    start = time.monotonic()  # one clean add, elsewhere: the root, and how long an add lasts
    root = subprocess.run(add_cmd(tmp_path / "reference", data), env=ENV, capture_output=True, text=True,
                          check=True).stdout.strip()
    duration = time.monotonic() - start
    repo_path = tmp_path / "repo"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    killed = attempts = 0
    while killed < KILLS and attempts < 3 * KILLS:
        attempts += 1
        start = time.monotonic()
        proc = subprocess.Popen(add_cmd(repo_path, data), env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, duration))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        if proc.returncode == -signal.SIGKILL:
            killed += 1
        else:  # it finished first (re-adds of stored blocks are quicker): aim earlier from now on
            assert proc.returncode == 0 and out.strip() == root, err
            duration = time.monotonic() - start
        pins = assert_consistent(repo_path)
        assert pins in ([], [Cid.parse(root)])
        if attempts % 3 == 0:  # drop what the killed adds left, so the next ones write again
            with Repo(repo_path) as repo:
                for pin in pins:
                    repo.unpin(pin)
                repo.gc()
    assert killed >= KILLS, f"only {killed} of {attempts} adds were killed before they finished"
    out = subprocess.run(add_cmd(repo_path, data), env=ENV, capture_output=True, text=True, check=True).stdout
    assert out.strip() == root
    assert assert_consistent(repo_path) == [Cid.parse(root)]
    with Repo(repo_path) as repo:
        repo.gc()  # what the killed adds left behind goes; the pinned file stays whole
        assert sha256_of(repo.exporter.cat(root)) == hashlib.sha256(data.read_bytes()).hexdigest()
    assert assert_consistent(repo_path) == [Cid.parse(root)]


def test_sigkill_during_add_import_gc_and_pin(tmp_path):
    crash = bench_script("crash")
    seed = int.from_bytes(os.urandom(2), "big")  # moments differ from run to run anyway
    run = crash.crash(kills=16, seed=seed, work=tmp_path, log=lambda line: None)
    assert run.failures == [], f"seed {seed}\n{crash.report(run)}"
    assert all(run.kills(kind) >= 4 for kind in crash.KINDS), f"seed {seed}\n{crash.report(run)}"


def test_four_processes_add_while_gc_runs(tmp_path):
    rng = random.Random(11)
    shared = tmp_path / "shared"
    shared.mkdir()
    for i in range(3):
        (shared / f"s{i}").write_bytes(rng.randbytes(rng.choice([0, 1, 5000, 300_000, 1_500_000])))
    own = []
    for p in range(4):
        d = tmp_path / f"own{p}"
        d.mkdir()
        for i in range(2):  # each shares a prefix with a shared file: overlapping leaves too
            (d / f"o{i}").write_bytes((shared / "s2").read_bytes()[:rng.randrange(0, 1_000_000)] + rng.randbytes(200_000))
        own.append(d)
    repo_path = tmp_path / "repo"
    Repo(repo_path).close()
    adders = [subprocess.Popen([sys.executable, str(TESTS / "repo_worker.py"), "mix", str(repo_path), str(seed), "12",
                                str(shared), str(own[seed])], env=ENV, stdout=subprocess.PIPE, text=True)
              for seed in range(4)]
    collections = 0
    while any(p.poll() is None for p in adders) or collections < 3:
        subprocess.run([sys.executable, str(TESTS / "repo_worker.py"), "gc", str(repo_path)], env=ENV,
                       check=True, capture_output=True)
        collections += 1
    added: dict[str, str] = {}
    for p in adders:
        out, _ = p.communicate()
        assert p.returncode == 0
        added.update(json.loads(out))
    pins = assert_consistent(repo_path)
    assert pins, "some content should still be pinned"
    with Repo(repo_path) as repo:
        for root in pins:
            assert repo.exporter.read(root) == Path(added[str(root)]).read_bytes()
        repo.gc()
    assert assert_consistent(repo_path) == pins
