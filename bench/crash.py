"""Crashes: SIGKILL an add, a CAR import, a gc or a pin at a random moment, then check the store.

    python bench/crash.py [--kills 200] [--seed 0] [--keep DIR]

Each attempt runs one operation in a child process on one repository (the same one throughout):

* add: a fresh random file of 2-12 MiB in 1 KiB chunks (2,000-12,000 blocks, up to three
  batches), pinned;
* import: ``dag import`` of a CAR of such a file, made beforehand (the roots pinned);
* gc: a collection with 2-12 MiB of unpinned blocks to remove (several batches);
* pin: a recursive pin of such a DAG, added unpinned beforehand.

The child says "ready" once the repository is open and its input is prepared, and reports
success ("done ...") only after the call has returned. The parent kills it with SIGKILL at a
moment drawn uniformly from [0, 1.2 x the operation's expected duration] after "ready" (the
seconds per byte measured on the runs of its kind that finished, times its size; for gc, whose
time goes mostly to walking the pinned DAGs, the seconds the last collections took; each kill
stretches the next aim by 10%, so a kind whose runs grow longer is still reached to its end),
so kills land in every phase, and some runs finish first.

After every attempt, killed or not, the parent opens the repository and checks that
it opens, ``verify`` finds no corrupt block, the byte counter equals the bytes of the blocks,
every recursive pin reaches a whole DAG, and every operation that reported success holds (its
root pinned and whole; an add that just reported reads back as the bytes it added). What each killed
operation had done by then is recorded (add/import: none, some or all of its blocks stored,
or pinned; pin: pinned or not; gc: none, some or all of the garbage removed).

To keep checks quick, the harness itself unpins all but the last few successes and collects
now and then (that is not killed). Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from casengine import car  # noqa: E402
from casengine.dag.cid import RAW, Cid  # noqa: E402
from casengine.errors import CasError  # noqa: E402
from casengine.exporter import Exporter  # noqa: E402
from casengine.importer import Importer  # noqa: E402
from casengine.options import ImportOptions  # noqa: E402
from casengine.repo import RECURSIVE, Repo  # noqa: E402
from casengine.stores.memory import MemoryStore  # noqa: E402

KINDS = ("add", "import", "gc", "pin")
#: Successes the harness keeps pinned (and checks after every attempt); older ones it unpins.
KEEP = 4
#: Seconds a child may take to say "ready" or to finish.
PATIENCE = 120


def payload(seed: int) -> tuple[bytes, ImportOptions]:
    """The bytes and options of the DAG numbered *seed* (the same in parent and child)."""
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(2 << 20, 12 << 20))
    return data, ImportOptions(chunker="size-1024", cid_version=rng.choice([0, 1]))


# -- the child ----------------------------------------------------------------------------------------
def child(kind: str, repo_path: str, arg: str) -> None:
    repo = Repo(repo_path)
    if kind == "add":
        data, options = payload(int(arg))
    say("ready")
    if kind == "add":
        say("done", repo.add(data, options).cid)
    elif kind == "import":
        result = car.import_car(repo, [arg])
        if result.failed:
            raise CasError(f"import did not pin {result.failed}")
        say("done", *result.roots)
    elif kind == "gc":
        say("done", repo.gc())
    else:
        repo.pin(Cid.parse(arg))
        say("done", arg)


def say(*words: object) -> None:
    print(*words, flush=True)


# -- the parent ---------------------------------------------------------------------------------------
@dataclass
class Attempt:
    kind: str
    killed: bool
    moment: float   # seconds after "ready" the kill was sent (or the run took, if it finished)
    phase: str      # what the killed operation had done


@dataclass
class Run:
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def kills(self, kind: str | None = None) -> int:
        return sum(a.killed and kind in (None, a.kind) for a in self.attempts)


class Crasher:
    def __init__(self, work: Path, seed: int):
        self.work = work
        self.repo_path = work / "repo"
        self.rng = random.Random(seed)
        self.next_seed = seed * 100_000
        self.rate: dict[str, float] = {}  # seconds per byte of payload, by kind
        self.held: list[Cid] = []  # roots of the operations that reported success
        self.unreported: list[Cid] = []  # pinned by a killed operation before it could report
        self.run = Run()
        Repo(self.repo_path).close()

    def fresh_seed(self) -> int:
        self.next_seed += 1
        return self.next_seed

    # -- preparing an attempt, outside the child ----------------------------------------------------
    def prepare(self, kind: str) -> tuple[str, Cid, set[bytes], bytes | None, int]:
        """(the child's argument, the root it works on, the blocks it writes or removes, an add's sha,
        the payload's size)."""
        seed = self.fresh_seed()
        data, options = payload(seed)
        scratch = MemoryStore()
        root = Importer(scratch, options).add_bytes(data).cid
        blocks = set(scratch.multihashes())
        if kind == "add":
            return str(seed), root, blocks, hashlib.sha256(data).digest(), len(data)
        if kind == "import":
            path = self.work / "input.car"
            with open(path, "wb") as f:
                for piece in car.write([root], Exporter(scratch).walk(root)):
                    f.write(piece)
            return str(path), root, blocks, None, len(data)
        with Repo(self.repo_path) as repo:  # gc: garbage to remove; pin: a DAG to pin
            repo.add(data, ImportOptions(chunker=options.chunker, cid_version=options.cid_version, pin=False))
        return str(root), root, blocks, None, len(data)

    # -- one attempt --------------------------------------------------------------------------------
    def attempt(self, kind: str) -> None:
        arg, root, blocks, digest, size = self.prepare(kind)
        if kind == "gc":
            size = 1  # aimed by its duration, not by the size of its garbage
        before = self.present(blocks) if kind == "gc" else None
        proc = subprocess.Popen([sys.executable, __file__, "child", kind, str(self.repo_path), arg],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.readline(proc) != "ready":
            self.fail(f"{kind}: the child did not start: {proc.stderr.read()}")
            return
        start = time.monotonic()
        rate = self.rate.get(kind)  # unknown: let the first run finish and measure it
        try:
            proc.wait(timeout=PATIENCE if rate is None else self.rng.uniform(0, 1.2 * rate * size))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        moment = time.monotonic() - start
        out, err = proc.communicate(timeout=PATIENCE)
        killed = proc.returncode == -signal.SIGKILL
        if killed:
            self.rate[kind] *= 1.1
        done = out.split()
        if not killed:
            if proc.returncode != 0 or not done or done[0] != "done":
                self.fail(f"{kind}: the child failed (exit {proc.returncode}): {err.strip()[-500:]}")
                return
            rate = moment / size
            self.rate[kind] = rate if kind not in self.rate else 0.7 * self.rate[kind] + 0.3 * rate
            if kind in ("add", "import", "pin"):
                reported = Cid.parse(done[1])
                if reported != root:
                    self.fail(f"{kind}: reported {reported}, the content's root is {root}")
                self.held.append(root)
        phase = self.phase(kind, root, blocks, before) if killed else "finished"
        if phase == "pinned":
            self.unreported.append(root)
        self.run.attempts.append(Attempt(kind, killed, moment, phase))
        self.check(f"after {'killing' if killed else 'finishing'} {kind} at {moment:.3f} s",
                   digest if not killed else None)

    def readline(self, proc: subprocess.Popen) -> str:
        ready, _, _ = select.select([proc.stdout], [], [], PATIENCE)
        return proc.stdout.readline().strip() if ready else ""

    def present(self, blocks: set[bytes]) -> int:
        with Repo(self.repo_path) as repo:
            return sum(repo.store.has(Cid(1, RAW, mh)) for mh in blocks)

    def phase(self, kind: str, root: Cid, blocks: set[bytes], before: int | None) -> str:
        stored = self.present(blocks)
        with Repo(self.repo_path) as repo:
            pinned = repo.pinned(root, RECURSIVE) is not None
        if kind == "gc":
            return "none removed" if stored == before else "all removed" if stored == 0 else "some removed"
        if kind == "pin":
            return "pinned" if pinned else "not pinned"
        if pinned:
            return "pinned"
        return "no blocks" if stored == 0 else "all blocks, no pin" if stored == len(blocks) else "some blocks"

    # -- the checks ---------------------------------------------------------------------------------
    def check(self, when: str, added: bytes | None) -> None:
        """The store after an attempt; *added*: the sha-256 of the bytes an add just reported."""
        try:
            repo = Repo(self.repo_path)
        except CasError as e:
            self.fail(f"{when}: the store does not open: {e}")
            return
        with repo:
            corrupt = list(repo.verify())
            if corrupt:
                self.fail(f"{when}: {len(corrupt)} corrupt blocks")
            counted = sum(len(repo.store.get(Cid(1, RAW, mh), verified=False)) for mh in repo.store.multihashes())
            if counted != repo.store.size():
                self.fail(f"{when}: the byte counter says {repo.store.size()}, the blocks hold {counted}")
            for pin, _ in repo.pins(RECURSIVE):
                try:
                    for _ in repo.dag_blocks(pin):
                        pass
                except CasError as e:
                    self.fail(f"{when}: the pin {pin} points at an incomplete DAG: {e}")
            for root in self.held:  # pinned, and whole (the loop above walked every pin)
                if repo.pinned(root, RECURSIVE) is None:
                    self.fail(f"{when}: {root} reported success but is not pinned")
            if added is not None and hashlib.sha256(repo.exporter.read(self.held[-1])).digest() != added:
                self.fail(f"{when}: {self.held[-1]} does not read back as the bytes added")
            if len(self.held) > KEEP or len(self.run.attempts) % 10 == 0:
                for root in set(self.held[:-KEEP] + self.unreported) - set(self.held[-KEEP:]):
                    if repo.pinned(root, RECURSIVE) is not None:
                        repo.unpin(root)
                del self.held[:-KEEP]
                self.unreported.clear()
                repo.gc()

    def fail(self, message: str) -> None:
        self.run.failures.append(message)
        print("FAIL", message, flush=True)


def crash(kills: int, seed: int, work: Path, log=print) -> Run:
    """Attempts until *kills* SIGKILLs have landed, as many of each kind (at most 4x as many attempts)."""
    crasher = Crasher(work, seed)
    start = time.monotonic()
    per_kind = -(-kills // len(KINDS))
    for kind in KINDS:  # one finished run of each kind first: its duration aims the kills
        crasher.attempt(kind)
    for kind in KINDS:
        tries = 0
        while crasher.run.kills(kind) < per_kind and tries < 4 * per_kind:
            tries += 1
            crasher.attempt(kind)
        log(f"{kind}: {crasher.run.kills(kind)} kills in {tries} attempts")
    crasher.run.seconds = time.monotonic() - start
    return crasher.run


def report(run: Run) -> str:
    lines = [f"{run.kills()} SIGKILLs in {len(run.attempts)} attempts, {len(run.failures)} failed checks, "
             f"{run.seconds:.0f} s"]
    by_kind: dict[str, list[Attempt]] = defaultdict(list)
    for a in run.attempts:
        by_kind[a.kind].append(a)
    lines.append("kind    kills  finished  kill moments (s after ready)  what the killed operation had done")
    for kind in KINDS:
        attempts = by_kind[kind]
        killed = [a for a in attempts if a.killed]
        moments = sorted(a.moment for a in killed)
        phases = Counter(a.phase for a in killed)
        span = f"{moments[0]:.3f} - {moments[-1]:.3f}" if moments else "-"
        lines.append(f"{kind:6} {len(killed):6} {len(attempts) - len(killed):9}  {span:28}  "
                     + ", ".join(f"{n} {p}" for p, n in phases.most_common()))
    lines += [f"FAIL {f}" for f in run.failures]
    lines.append("OK" if not run.failures else "FAILED")
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:2] == ["child"]:
        child(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200, help="SIGKILLs in total, spread evenly over the kinds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casengine-crash-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run = crash(args.kills, args.seed, work)
    print(report(run))
    return 0 if not run.failures else 1


if __name__ == "__main__":
    sys.exit(main())
