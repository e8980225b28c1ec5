"""Only-hash import of one large file: casengine vs real Kubo 0.22 and Kubo 0.43.1, same file, same run.

    python bench/import_throughput.py [--size-mib 1024] [--repeat 3] [--file PATH] [--busy]
                                      [--process | --process-only] [--no-kubo43]

Kubo 0.22 is libkubo (Kubo v0.22.0 compiled as a shared library, from PyPI): kubo-python's
unpatched AddFile for the defaults, the oracle (same compiled Kubo) for any other option.
Kubo 0.43.1 is warm too: a running offline daemon (tests/peers/kubo43) sent each add as the CLI
sends it, the file streamed over its unix socket (:class:`WarmKubo`). All read the same
page-cached file and are warmed by one untimed add of it. Then each side runs --repeat times,
the sides taking turns; the best time counts (machine noise only ever slows a run down), with
the run-to-run range and the ratio's range over the runs taken in turn. casengine runs in a
child process so its peak RSS is its own.

--busy measures everything twice: as is, then with a process spinning on the last CPU (the
"other core busy" case, for every side alike). --process adds whole-process rows: ``casengine
add -Q -n`` as a command (start-up included) against Kubo's warm adds, for the defaults, rabin
and buzhash.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests")]

from measure import ratio  # noqa: E402
from peers import kubo43  # noqa: E402
from peers.kubo43 import add as kubo_add_call, rpc  # noqa: E402

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
    """One file added by every side: every run's seconds, best of each side counts."""

    size: int
    cid: str
    ours: list[float]
    theirs: list[float]  # Kubo 0.22
    rss_mib: float
    kubo43: list[float] = field(default_factory=list)  # Kubo 0.43.1, when measured

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
        """casengine's best throughput over Kubo 0.22's (> 1: casengine is faster)."""
        return self.ours_mbs / self.kubo_mbs

    def runs(self, seconds: list[float]) -> str:
        return f"{self.mbs(min(seconds)):7.0f} MB/s ({round(self.mbs(max(seconds)))}-{round(self.mbs(min(seconds)))})"

    def line(self, label: str) -> str:
        text = (f"{label:16} casengine {self.runs(self.ours)}   Kubo 0.22 {self.runs(self.theirs)} "
                f"ratio {ratio(self.ours, self.theirs)}")
        if self.kubo43:
            text += f"   Kubo 0.43.1 {self.runs(self.kubo43)} ratio {ratio(self.ours, self.kubo43)}"
        text += f"   best of {len(self.ours)}"
        return text + (f"   casengine peak RSS {self.rss_mib:.0f} MiB" if self.rss_mib else "")


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


class WarmKubo:
    """Kubo 0.43.1's warm add: a running offline daemon (tests/peers/kubo43) that is sent each add as
    the CLI sends it, the file streamed over the API's unix socket as one multipart part
    (sendfile), so no process starts and nothing is held in memory on this side."""

    def __init__(self) -> None:
        if not kubo43.installed():
            raise SystemExit(f"Kubo {kubo43.VERSION} is not built: {kubo43.INSTALL}")
        self.daemon = kubo43.Daemon()
        self.daemon.start()

    def add(self, path: str, opts: dict) -> tuple[float, str]:
        """(seconds, root CID) of ``ipfs add --only-hash`` of the file at *path* with *opts* (this
        bench's vocabulary: chunker, cid_version, ...)."""
        query = urllib.parse.urlencode(kubo_add_call.params(opts, []))
        boundary = uuid.uuid4().hex
        part = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{urllib.parse.quote_plus(os.path.basename(path))}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(part) + os.path.getsize(path) + len(tail)
        head = (f"POST /api/v0/add?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n")
        answer = bytearray()
        t = time.perf_counter()
        with socket.socket(socket.AF_UNIX) as s, open(path, "rb") as f:
            s.connect(str(self.daemon.api_socket))
            s.sendall(head.encode() + part)
            s.sendfile(f)
            s.sendall(tail)
            while data := s.recv(1 << 16):
                answer += data
        seconds = time.perf_counter() - t
        status, _, payload, trailers = rpc.parse(bytes(answer))
        if status != 200 or "x-stream-error" in trailers:
            raise RuntimeError(f"Kubo {kubo43.VERSION} add failed: {status} {trailers} {payload[:300]!r}")
        return seconds, kubo_add_call.root(payload)

    def close(self) -> None:
        self.daemon.remove()


def kubo_add(path: str, opts: dict) -> dict:
    from peers import libkubo_default
    from peers.kubo_oracle import kubo as oracle

    t = time.perf_counter()
    cid = oracle.cid(path, **opts) if opts else libkubo_default.add(path)
    return {"cid": cid, "seconds": time.perf_counter() - t}


def compare(path: str, opts: dict, repeat: int, warm: WarmKubo | None = None) -> Comparison:
    """Add the page-cached file at *path* with *opts* on every side, runs alternating, each side
    warmed by one untimed add; the CIDs must agree. Kubo 0.43.1 only with *warm*."""
    child = CasengineChild(path, opts)
    sides = [child.add, lambda: kubo_add(path, opts)] + ([lambda: warm_add(warm, path, opts)] if warm else [])
    try:
        for add in sides:  # warm-up
            add()
        runs: list[list[dict]] = [[] for _ in sides]
        for _ in range(repeat):
            for add, into in zip(sides, runs):
                into.append(add())
        rss = child.close()
    finally:
        child.proc.kill()  # only does something if a run failed
        child.proc.wait()
    return checked(path, opts, runs, rss)


def checked(path: str, opts: dict, runs: list[list[dict]], rss: float) -> Comparison:
    """The Comparison of (casengine, Kubo 0.22[, Kubo 0.43.1]) runs, once every CID agrees."""
    cids = {r["cid"] for side in runs for r in side}
    if len(cids) != 1:
        raise RuntimeError(f"CID mismatch between casengine and Kubo on {path} with {opts}: {sorted(cids)}")
    seconds = [[r["seconds"] for r in side] for side in runs]
    return Comparison(os.path.getsize(path), cids.pop(), seconds[0], seconds[1], rss, *seconds[2:])


def warm_add(warm: WarmKubo, path: str, opts: dict) -> dict:
    seconds, cid = warm.add(path, opts)
    return {"cid": cid, "seconds": seconds}


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


def compare_process(path: str, opts: dict, repeat: int, warm: WarmKubo | None = None) -> Comparison:
    """Whole casengine processes against Kubo's warm adds, alternating; the CIDs must agree."""
    sides = [lambda: process_add(path, opts), lambda: kubo_add(path, opts)]
    sides += [lambda: warm_add(warm, path, opts)] if warm else []
    for add in sides:  # bytecode and page cache
        add()
    runs: list[list[dict]] = [[] for _ in sides]
    for _ in range(repeat):
        for add, into in zip(sides, runs):
            into.append(add())
    return checked(path, opts, runs, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--file", help="use this file instead of a generated random one")
    ap.add_argument("--busy", action="store_true", help="also measure with the last CPU kept busy")
    ap.add_argument("--process", action="store_true", help="also whole casengine processes (add -Q -n)")
    ap.add_argument("--process-only", action="store_true", help="only the whole-process rows")
    ap.add_argument("--no-kubo43", action="store_true", help="without Kubo 0.43.1's column")
    args = ap.parse_args()
    warm = None if args.no_kubo43 else WarmKubo()
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
                for label, opts in () if args.process_only else HEADLINES:
                    print(compare(path, opts, args.repeat, warm).line(label) + f"   load {os.getloadavg()[0]:.1f}{note}",
                          flush=True)
                for label, opts in PROCESS_ROWS if args.process or args.process_only else ():
                    print(compare_process(path, opts, args.repeat, warm).line(f"process {label}")
                          + f"   load {os.getloadavg()[0]:.1f}{note}", flush=True)
    finally:
        if warm:
            warm.close()
        if tmp:
            os.unlink(path)


if __name__ == "__main__":
    main()
