"""Start-up: ``casengine add`` of a tiny file against ``python3 -c "import json"``, same run.

    python bench/startup.py [--repeat 20]

Whole processes, interleaved (json, add -n, add into a repo, import casengine.router, json, ...),
best and median of --repeat each, with the load average; the ratio of bests is the figure
(target: <= 3x). Also lists what ``import casengine``, the router module, a first router call on
the local tier and a tiny ``casengine add`` import beyond the interpreter's start-up, and the
modules each loads that it could do without.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: As a user runs it: bytecode cached (PYTHONDONTWRITEBYTECODE, set in some sandboxes, would
#: make every run compile casengine's modules from source: ~30 ms of CPU on its own).
ENV = {k: v for k, v in dict(os.environ, PYTHONPATH=ROOT).items() if k != "PYTHONDONTWRITEBYTECODE"}
#: Modules each import has no use for until it talks to a remote node or runs another verb.
REMOTE = ("http", "ssl", "email", "urllib.request", "tarfile", "socket", "multiformats", "numpy", "asyncio")
#: What no verb's start needs (shutil pulls in bz2 and lzma: argparse asks it only for a width).
ARCHIVES = ("shutil", "bz2", "lzma")
#: The router's own modules: all that importing it needs (its parts load when a call needs them).
ROUTER = ("casengine", "casengine.errors", "casengine.routing", "casengine.ipfs_backend_router", "casengine.router")
#: (what, code run in a fresh interpreter, module prefixes it has no use for, modules it may load anyway).
CASES = (
    ("import casengine", "import casengine", REMOTE + ("casengine.",), ("casengine",)),
    ("import casengine.router", "import casengine.router", REMOTE + ARCHIVES + ("casengine.", "dataclasses", "logging"),
     ROUTER),
    ("router add_bytes + cat (local tier)",
     "from casengine import router\nrouter.cat(router.add_bytes(b'x'))",
     REMOTE + ("casengine.gateway", "casengine.cli", "casengine.nodes.kubo_rpc", "casengine.nodes.gateway",
               "casengine.nodes.rpc_http", "casengine.hf", "casengine.model_manager"), ()),
    ("casengine add (tiny)", None,
     REMOTE + ARCHIVES + ("casengine.nodes", "casengine.routing", "casengine.gateway", "casengine.car",
                          "casengine.cli.dag", "casengine.cli.files", "casengine.hf"), ()),
)


def seconds(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process: CPU time (user + system, wait4) is what a busy machine
    distorts least."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{argv} failed")
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime


def loaded(code: str, env: dict[str, str] = ENV) -> set[str]:
    """Modules in sys.modules after *code* runs in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"], env=env,
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="casengine-bench-startup-")
    try:
        tiny = os.path.join(work, "tiny")
        with open(tiny, "wb") as f:
            f.write(b"x")
        repo = os.path.join(work, "repo")
        cli = [os.path.join(os.path.dirname(sys.executable), "casengine")]  # the console script
        if not os.access(cli[0], os.X_OK):
            cli = [sys.executable, "-m", "casengine"]
        for argv in (cli + ["--repo", repo, "add", "-Q", tiny], cli + ["add", "-Q", "-n", tiny]):  # caches bytecode
            subprocess.run(argv, env=ENV, check=True, stdout=subprocess.DEVNULL)
        runs: dict[str, list[tuple[float, float]]] = {"json": [], "add -n": [], "add": [], "router": []}
        loads = []
        for _ in range(args.repeat):
            runs["json"].append(seconds([sys.executable, "-c", "import json"]))
            runs["add -n"].append(seconds(cli + ["add", "-Q", "-n", tiny]))
            runs["add"].append(seconds(cli + ["--repo", repo, "add", "-Q", tiny]))
            runs["router"].append(seconds([sys.executable, "-c", "import casengine.router"]))
            loads.append(os.getloadavg()[0])
        print(f"{os.cpu_count()} CPUs, load {min(loads):.1f}-{max(loads):.1f}, best and median of {args.repeat}, "
              f"interleaved")
        for kind, k in (("wall", 0), ("CPU", 1)):
            base = [r[k] for r in runs["json"]]
            for name, times in runs.items():
                ts = [r[k] for r in times]
                print(f"{kind:4} {name:7} best {min(ts) * 1e3:6.1f} ms  median {statistics.median(ts) * 1e3:6.1f} ms  "
                      f"ratio to json: bests {min(ts) / min(base):4.2f}x, medians "
                      f"{statistics.median(ts) / statistics.median(base):4.2f}x")
        plain = loaded("")
        alone = dict(ENV, HF_HOME=os.path.join(work, "hf"), KUBO_CMD=os.path.join(work, "no-ipfs"))  # no Kubo tier
        add = (f"import sys; sys.argv = ['casengine', '--repo', {repo!r}, 'add', '-Q', {tiny!r}]\n"
               "from casengine.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass")
        for what, code, unwanted, allowed in CASES:
            mods = loaded(code or add, alone)
            bad = sorted(m for m in mods - plain - set(allowed)
                         if any(m == u or m.startswith(u if u.endswith(".") else u + ".") for u in unwanted))
            print(f"{what}: {len(mods - plain)} modules beyond the interpreter's start-up; unneeded: {bad or 'none'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
