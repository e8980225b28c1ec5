"""How long each fault of a remote tier takes to surface, and what the router makes of it.

    python bench/faults.py [--timeout 5]

For each fault of the faulty Kubo RPC server and of the faulty KUBO_CMD (tests/faulty), every
router call in tests/faulty/scenario.py (cat, cat of a path, block_get, ls, get_to_path,
dag_export, pin, add_bytes, block_put) is made three ways, all calls of a way at once (one
thread and one repository each):

* tier: on the faulty tier alone; the typed errors it raised, and the seconds until they did;
* fallback: on the router with the faulty tier first and a local tier holding the content;
  every answer must be right and come from the local tier; the seconds it took;
* read-through: on the tiers select_backend() builds for a Kubo node (local reading through to
  it, then it), with the content only on the faulty peer; the reads must fail with a typed
  error; the seconds until they did.

After each fault every repository must hold only verified blocks of the content (and what the
local adds brought), with every pin whole. Exit status 1 if anything does not hold.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from faulty.kubo_cmd import MODES  # noqa: E402
from faulty.rpc import FAULTS, FaultyKubo  # noqa: E402
from faulty.scenario import Content, check_store, hold, make_content, router_ops  # noqa: E402

from casengine.errors import CasError  # noqa: E402
from casengine.ipfs_backend_router import (FallbackBackend, HuggingFaceCacheBackend, KuboCLIBackend,  # noqa: E402
                                           KuboRPCBackend, Selection)
from casengine.nodes.kubo_cli import KuboCLIStore  # noqa: E402
from casengine.nodes.kubo_rpc import KuboRPCStore  # noqa: E402
from casengine.stores.memory import MemoryStore  # noqa: E402

READS = {"cat", "cat path", "block_get", "ls", "get_to_path", "dag_export", "pin"}
FAULTY_CMD = ROOT / "tests" / "faulty" / "kubo_cmd.py"


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result or the exception raised)."""
    start = time.monotonic()
    try:
        result = call()
    except Exception as e:  # typed or not: the report says which
        result = e
    return time.monotonic() - start, result


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):5.2f} / {max(values):5.2f}"


class Bench:
    def __init__(self, work: Path, timeout: float):
        self.work = work
        self.timeout = timeout
        self.source = MemoryStore()
        self.content: Content = make_content(self.source, work / "content")
        self.failures: list[str] = []
        self._n = 0
        self._lock = threading.Lock()

    def fresh(self, name: str) -> Path:
        with self._lock:
            self._n += 1
            return self.work / f"{name}-{self._n}"

    def local(self, remote=None, *, holding: bool) -> HuggingFaceCacheBackend:
        backend = HuggingFaceCacheBackend(self.fresh("hf"), remote=remote)
        if holding:
            hold(backend.node.repo, self.content, self.source)
        return backend

    def run(self, label: str, fault: str, tier: Callable[[], Any], remote: Callable[[], Any]) -> None:
        """The three ways for one fault; one line of figures."""
        c = self.content
        ops, fresh = router_ops(c, self.fresh("out"))
        names = [name for name, _, _ in ops]

        def alone(op):
            name, call, _ = op
            return timed(lambda: call(tier()))

        def fallback(op):
            name, call, right = op
            local = self.local(holding=True)
            router = FallbackBackend([("kubo", tier()), ("local", local)], Selection(("kubo", "local")))
            took, result = timed(lambda: call(router))
            by = "kubo" if fault == "ok" else "local"
            ok = not isinstance(result, Exception) and right(result) and router.last_call.answered_by == by
            return took, ok, Path(local.node.repo.path)

        def through(op):
            name, call, _ = op
            local = self.local(remote(), holding=False)
            router = FallbackBackend([("local", local), ("kubo", tier())], Selection(("local", "kubo")))
            took, result = timed(lambda: call(router))
            as_expected = not isinstance(result, Exception) if fault == "ok" else isinstance(result, CasError)
            return took, as_expected, Path(local.node.repo.path)

        with ThreadPoolExecutor(len(ops)) as pool:
            tier_results = list(pool.map(alone, ops))
            fallback_results = list(pool.map(fallback, ops))
            read_ops = [op for op in ops if op[0] in READS]
            through_results = list(pool.map(through, read_ops))

        errors = sorted({type(r).__name__ for _, r in tier_results if isinstance(r, Exception)})
        untyped = [f"{n}: {r!r}" for n, (_, r) in zip(names, tier_results)
                   if isinstance(r, Exception) and not isinstance(r, CasError)]
        passed = [n for n, (_, r) in zip(names, tier_results) if not isinstance(r, Exception)]
        wrong = [n for n, (_, ok, _) in zip(names, fallback_results) if not ok]
        leaked = [op[0] for op, (_, expected, _) in zip(read_ops, through_results) if not expected]
        dirty = []
        for _, _, repo in fallback_results + through_results:
            try:
                check_store(repo, c.multihashes | fresh)
            except AssertionError as e:
                dirty.append(str(e))
        problems = ([f"untyped {u}" for u in untyped] + [f"tier answered {n}" for n in passed if fault != "ok"]
                    + [f"fallback wrong for {n}" for n in wrong] + [f"read-through unexpected for {n}" for n in leaked]
                    + dirty)
        self.failures += [f"{label} {fault}: {p}" for p in problems]
        print(f"{label:4} {fault:13} {', '.join(errors) or '-':38} {seconds([t for t, _ in tier_results])}   "
              f"{seconds([t for t, _, _ in fallback_results])}   {seconds([t for t, _, _ in through_results])}   "
              f"{'clean' if not dirty else 'DIRTY'}  {'ok' if not problems else 'FAIL'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=5.0, help="each remote call's timeout, seconds")
    args = parser.parse_args()
    logging.getLogger("casengine.router").setLevel(logging.ERROR)  # each fallback is counted, not logged
    with tempfile.TemporaryDirectory(prefix="casengine-faults-") as tmp:
        bench = Bench(Path(tmp), args.timeout)
        print(f"timeout {args.timeout:g} s; seconds: median / max over the router calls, all made at once")
        print(f"{'tier':4} {'fault':13} {'typed errors raised by the tier':38} {'tier alone':13}   "
              f"{'fallback':13}   {'read-through':13}   store  result")
        with FaultyKubo(bench.source) as server:
            for fault in FAULTS:
                server.fault(fault)
                bench.run("rpc", fault, lambda: KuboRPCBackend(server.url, timeout=args.timeout),
                          lambda: KuboRPCStore(server.url, timeout=args.timeout))
        for mode in MODES:
            cmd = f"{sys.executable} {FAULTY_CMD} --mode {mode}"
            bench.run("cli", mode, lambda: KuboCLIBackend(cmd, timeout=args.timeout),
                      lambda: KuboCLIStore(cmd, timeout=args.timeout))
    for failure in bench.failures:
        print("FAIL", failure)
    print(f"{len(FAULTS) + len(MODES)} faults, {len(bench.failures)} failures -> "
          f"{'OK' if not bench.failures else 'FAILED'}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
