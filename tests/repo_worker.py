"""Child processes for the multi-process repository tests (tests/test_repo.py, tests/test_crash.py).

    python tests/repo_worker.py add REPO FILE [GATE]   add FILE; with GATE, stop between the last
                                                     block commit and the pin (see below)
    python tests/repo_worker.py hold REPO GATE       hold the GC lock shared until GATE/go exists
    python tests/repo_worker.py gc REPO              collect garbage; print how many blocks went
    python tests/repo_worker.py mix REPO SEED N DIR...  N rounds of adds (pinned or not) and unpins
                                                     of the files in the DIRs; print what it added
    python tests/repo_worker.py open REPO GATE       hold the repository open (no lock) until GATE/go exists
    python tests/repo_worker.py compact REPO GATE POINT  compact, stopping at POINT (copied: the
                                                     copy is on disk; renamed: it replaced data.mdb)
    python tests/repo_worker.py get GATE ARGV...     run the `casengine` command ARGV (a `get`),
                                                     stopping once the first file bytes are written

A gate is a directory: the worker creates GATE/ready (holding the root CID for ``add``) when
it reaches the point, then waits for the test to create GATE/go.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from casengine.dag.cid import Cid  # noqa: E402
from casengine.errors import PinError  # noqa: E402
from casengine.options import ImportOptions  # noqa: E402
from casengine.repo import Repo  # noqa: E402


def wait_at(gate: str, note: str = "") -> None:
    with open(os.path.join(gate, "ready.tmp"), "w") as f:
        f.write(note)
    os.rename(os.path.join(gate, "ready.tmp"), os.path.join(gate, "ready"))
    while not os.path.exists(os.path.join(gate, "go")):
        time.sleep(0.01)


def add(repo_path: str, path: str, gate: str | None = None) -> None:
    repo = Repo(repo_path)
    if gate:
        write_pin = repo._write_pin

        def gated(cid, kind, name=""):  # every block is committed; the pin is not written yet
            wait_at(gate, str(cid))
            write_pin(cid, kind, name)
        repo._write_pin = gated
    print(repo.add(path, ImportOptions(chunker="size-4096")).cid)


def hold(repo_path: str, gate: str) -> None:
    repo = Repo(repo_path)
    with repo._gc_lock(exclusive=False):
        wait_at(gate)


def gc(repo_path: str) -> None:
    print(Repo(repo_path).gc())


def mix(repo_path: str, seed: int, rounds: int, *dirs: str) -> None:
    """Adds of the files in *dirs* with varied options, some not pinned, some unpinned later
    (a pin is per CID, so another process may unpin what this one pinned, as in Kubo)."""
    rng = random.Random(seed)
    repo = Repo(repo_path)
    files = sorted(os.path.join(d, name) for d in dirs for name in os.listdir(d))
    added: dict[str, str] = {}
    for _ in range(rounds):
        path = rng.choice(files)
        options = ImportOptions(chunker=rng.choice(["size-1024", "size-4096", "size-262144"]),
                                cid_version=rng.choice([0, 1]), pin=rng.random() < 0.7)
        cid = repo.add(path, options).cid
        added[str(cid)] = path
        if rng.random() < 0.2:
            try:
                repo.unpin(Cid.parse(rng.choice(sorted(added))))
            except PinError:  # not pinned, or another process unpinned it first
                pass
    print(json.dumps(added))


def open_(repo_path: str, gate: str) -> None:
    with Repo(repo_path) as repo:
        assert len(repo.store) >= 0  # a read, as a reader in another process does
        wait_at(gate)


def compact(repo_path: str, gate: str, point: str) -> None:
    from casengine.stores import compact as module

    if point == "copied":
        fsync = module._fsync

        def gated(path: str) -> None:
            fsync(path)
            if path.endswith("data.mdb"):
                wait_at(gate)
        module._fsync = gated
    else:
        replace = os.replace

        def gated_replace(src: str, dst: str) -> None:
            replace(src, dst)
            wait_at(gate)
        module.os.replace = gated_replace
    print(module.compact(repo_path, force=True))


def get(gate: str, *argv: str) -> None:
    from casengine.cli import main
    from casengine.exporter import Exporter

    cat = Exporter.cat

    def gated(self, *args, **kwargs):  # the first piece is in the file being written
        for n, piece in enumerate(cat(self, *args, **kwargs)):
            yield piece
            if n == 0:
                wait_at(gate)
    Exporter.cat = gated
    sys.exit(main(list(argv)))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "get":
        get(*args)
    elif cmd == "mix":
        mix(args[0], int(args[1]), int(args[2]), *args[3:])
    else:
        {"add": add, "hold": hold, "gc": gc, "compact": compact, "open": open_}[cmd](*args)
