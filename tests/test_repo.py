"""The repository: pins with Kubo's semantics, garbage collection, the GC lock across processes,
and the repository commands where they meet Kubo's behaviour (repair, compaction); their lines
and errors are in test_repo_cli.py.

Expected texts come from Kubo's source (core/commands/pin/pin.go and its help example,
core/commands/block.go, core/commands/repo.go, boxo pinning/pinner/dspinner); block CIDs and
pin/GC behaviour are also checked against a real Kubo-RPC server (js-ipfs, ``kubo_rpc``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casengine import car as car_module
from casengine.cli.block import block_cid
from casengine.dag import multihash
from casengine.dag.cid import RAW, Cid
from casengine.errors import CasError, CidNotFound, CorruptBlock, InvalidOption
from casengine.importer import Importer
from casengine.options import ImportOptions
from casengine.repo import GC_BATCH, PinError, Repo, default_path
from casengine.stores.memory import MemoryStore
from cli_run import file_with, run

from test_peers import rpc

TESTS = Path(__file__).resolve().parent
WORKER = [sys.executable, str(TESTS / "repo_worker.py")]


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    yield r
    r.close()


def reachable(repo: Repo, roots) -> set[bytes]:
    """Stored multihashes under *roots*, found independently of the repo (the exporter's DAG walk)."""
    return {cid.multihash for root in roots for cid, _ in repo.exporter.walk(root) if not cid.is_identity}


# -- paths ----------------------------------------------------------------------------------------
def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CASENGINE_REPO", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == str(tmp_path / ".cache" / "huggingface" / "casengine")
    monkeypatch.setenv("HF_HOME", "/data/hf")
    assert default_path() == "/data/hf/casengine"
    monkeypatch.setenv("CASENGINE_REPO", "/elsewhere")
    assert default_path() == "/elsewhere"


# -- pins -----------------------------------------------------------------------------------------
def test_add_pins_recursively_and_pin_false_does_not(repo, tmp_path):
    kept = repo.add(os.urandom(50_000), ImportOptions(chunker="size-4096")).cid
    loose = repo.add(os.urandom(50_000), ImportOptions(chunker="size-4096", pin=False)).cid
    assert list(repo.pins("recursive")) == [(kept, "recursive")]
    assert repo.pinned(loose) is None and repo.store.has(loose)
    garbage = reachable(repo, [loose]) - reachable(repo, [kept])
    removed: list[Cid] = []
    assert repo.gc(removed.append) == len(garbage) == 14  # 13 leaves and the root
    assert {c.multihash for c in removed} == garbage
    assert not repo.store.has(loose) and len(repo.exporter.read(kept)) == 50_000


def test_only_hash_stores_and_pins_nothing(repo):
    ref = repo.add(b"x" * 10_000, ImportOptions(only_hash=True))
    assert len(repo.store) == 0 and list(repo.pins()) == [] and not repo.store.has(ref.cid)


def test_pin_kinds_follow_kubos_pinner(repo):
    root = repo.add(os.urandom(20_000), ImportOptions(chunker="size-4096", pin=False)).cid
    leaf = next(c for c in repo.dag_blocks(root) if c != root)
    repo.pin(root, recursive=False)
    assert repo.pinned(root) == ("direct", None) and repo.pinned(leaf) is None
    repo.pin(root)                                            # recursive replaces direct
    assert list(repo.pins()) == [(root, "recursive")] + [(c, "indirect") for c in repo.dag_blocks(root) if c != root]
    assert repo.pinned(leaf) == ("indirect", root) and repo.pinned(leaf, "direct") is None
    with pytest.raises(PinError, match=f"^pin: {root} already pinned recursively$"):
        repo.pin(root, recursive=False)
    with pytest.raises(PinError, match=f"^{root} is pinned recursively$"):
        repo.unpin(root, recursive=False)
    with pytest.raises(PinError, match="^not pinned or pinned indirectly$"):
        repo.unpin(leaf)
    repo.unpin(root)
    with pytest.raises(PinError, match="^not pinned or pinned indirectly$"):
        repo.unpin(root)
    repo.pin(leaf, recursive=False)
    repo.unpin(leaf, recursive=False)                         # a direct pin goes either way
    assert list(repo.pins()) == []
    with pytest.raises(InvalidOption, match=r"^invalid type 'bogus', must be one of \{direct, indirect, recursive, all\}$"):
        list(repo.pins("bogus"))


def test_pins_are_per_cid_as_in_kubo(repo):
    data = os.urandom(1000)
    v0 = repo.add(data).cid
    v1 = repo.add(data, ImportOptions(cid_version=1, raw_leaves=False)).cid
    assert v0.multihash == v1.multihash and v0 != v1 and len(repo.store) == 1
    assert sorted(c for c, _ in repo.pins()) == sorted([v0, v1])
    repo.unpin(v0)
    assert repo.gc() == 0                                     # still pinned under its CIDv1


def test_a_recursive_pin_needs_the_whole_dag(repo):
    root = repo.add(os.urandom(30_000), ImportOptions(chunker="size-4096", pin=False)).cid
    missing = sorted(c for c in repo.dag_blocks(root) if c != root)[3]
    repo.store.delete(missing)
    with pytest.raises(CidNotFound, match=str(missing)):
        repo.pin(root)
    assert list(repo.pins()) == []                            # no partial pin
    repo.pin(root, recursive=False)                           # a direct pin needs only the root
    with pytest.raises(CidNotFound):
        repo.pin(Cid(1, RAW, multihash.SHA2_256.digest(b"nowhere")), recursive=False)


def test_blocks_under_a_pin_are_refused_by_multihash(repo):
    """A leaf linked as CIDv0 dag-pb is refused under any name (one copy serves every CID)."""
    root = repo.add(os.urandom(20_000), ImportOptions(chunker="size-4096")).cid
    leaf = next(c for c in repo.dag_blocks(root) if c != root)
    other_name = Cid(1, RAW, leaf.multihash)
    assert repo.remove_blocks([root, other_name, Cid(1, RAW, multihash.SHA2_256.digest(b"?"))]) == [
        (root, "pinned: recursive"), (other_name, f"pinned via {root}"),
        (Cid(1, RAW, multihash.SHA2_256.digest(b"?")), f"ipld: could not find {Cid(1, RAW, multihash.SHA2_256.digest(b'?'))}")]
    assert repo.store.has(leaf)


# -- garbage collection ---------------------------------------------------------------------------
@st.composite
def forests(draw):
    """Files that share content (so DAGs share blocks), each added with its own options and
    left unpinned, pinned recursively, or pinned directly."""
    pieces = draw(st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=4))
    files = []
    for _ in range(draw(st.integers(1, 6))):
        content = b"".join(draw(st.lists(st.sampled_from(pieces), max_size=6)))
        options = dict(chunker=draw(st.sampled_from(["size-16", "size-512", "size-1000", "size-4096"])),
                       cid_version=draw(st.sampled_from([0, 1])), raw_leaves=draw(st.sampled_from([None, False])),
                       inline=draw(st.booleans()))  # identity CIDs: in the DAG, never stored
        files.append((content, options, draw(st.sampled_from(["none", "recursive", "direct"]))))
    return files


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forests())
def test_gc_removes_exactly_what_no_pin_reaches(repo, files):
    for kind in ("recursive", "direct"):
        for cid, _ in list(repo.pins(kind)):
            repo.unpin(cid)
    repo.gc()
    recursive, direct = [], []
    for content, options, pin in files:
        cid = repo.add(content, ImportOptions(pin=False, **options)).cid
        if pin == "recursive":
            repo.pin(cid)
            recursive.append(cid)
        elif pin == "direct" and repo.pinned(cid) is None:
            repo.pin(cid, recursive=False)
            direct.append(cid)
    before = set(repo.store.multihashes())
    live = reachable(repo, recursive) | {c.multihash for c in direct if not c.is_identity}
    removed: list[Cid] = []
    assert repo.gc(removed.append) == len(removed)
    assert set(repo.store.multihashes()) == live
    assert {c.multihash for c in removed} == before - live and all(c.codec == RAW for c in removed)
    for cid in recursive:
        repo.exporter.read(cid)                              # whole and verified


def test_gc_deletes_in_batches(repo):
    repo.store.put_many([(Cid(1, RAW, multihash.SHA2_256.digest(i.to_bytes(4, "big"))), i.to_bytes(4, "big"))
                         for i in range(3 * GC_BATCH + 5)])
    before = repo.store.env.info()["last_txnid"]
    assert repo.gc() == 3 * GC_BATCH + 5
    assert repo.store.env.info()["last_txnid"] - before == 4   # one write transaction per batch
    assert len(repo.store) == 0 and repo.store.size() == 0


def test_stat_and_verify(repo):
    root = repo.add(os.urandom(10_000), ImportOptions(chunker="size-4096")).cid
    st_ = repo.stat()
    assert (st_.blocks, st_.bytes, st_.pins) == (len(repo.store), repo.store.size(), 1) and st_.disk_bytes > st_.bytes
    assert list(repo.verify()) == []
    leaf = next(c for c in repo.dag_blocks(root) if c != root)
    repo.store.write(lambda txn: txn.put(leaf.multihash, b"rot", db=repo.store.blocks))
    assert [(c.multihash, why) for c, why in repo.verify()] == [(leaf.multihash, "bytes do not match the CID's hash")]
    with pytest.raises(CorruptBlock, match=str(leaf)):
        repo.exporter.read(root)


# -- the GC lock across processes -----------------------------------------------------------------
def blocked_on_a_lock(pid: int) -> bool:
    """Whether *pid* waits for a flock (a "->" line of /proc/locks)."""
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "->" and parts[5] == str(pid):
            return True
    return False


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(WORKER + [str(a) for a in args], stdout=subprocess.PIPE, text=True)


def test_gc_waits_for_an_add_between_its_last_commit_and_its_pin(repo, tmp_path):
    garbage = repo.add(os.urandom(40_000), ImportOptions(chunker="size-4096", pin=False)).cid
    n_garbage = len(reachable(repo, [garbage]))
    data = os.urandom(300_000)
    gate = tmp_path / "gate"
    gate.mkdir()
    adder = spawn("add", repo.path, file_with(tmp_path, data), gate)
    wait_for((gate / "ready").exists, "the add to reach its pin")
    root = Cid.parse((gate / "ready").read_text())
    assert repo.pinned(root) is None and len(list(repo.dag_blocks(root))) > 70   # committed, unpinned
    collector = spawn("gc", repo.path)
    wait_for(lambda: blocked_on_a_lock(collector.pid), "the collection to wait for the add")
    (gate / "go").touch()
    assert adder.communicate(timeout=60)[0].strip() == str(root) and adder.returncode == 0
    assert int(collector.communicate(timeout=60)[0]) == n_garbage and collector.returncode == 0
    assert repo.pinned(root) == ("recursive", None) and repo.exporter.read(root) == data


def test_the_shared_lock_nests_within_a_thread(repo):
    """An import that pins inside its own hold of the lock (as dag import does) does not deadlock
    behind a collection that started waiting in between; a collection inside it is refused."""
    with repo._gc_lock(exclusive=False):
        collector = spawn("gc", repo.path)
        wait_for(lambda: blocked_on_a_lock(collector.pid), "the collection to wait")
        root = repo.add(b"nested" * 1000, ImportOptions(pin=False)).cid
        repo.pin(root)
        with pytest.raises(CasError, match="would wait forever"):
            repo.gc()
    assert int(collector.communicate(timeout=60)[0]) == 0 and collector.returncode == 0
    assert repo.pin_type(root) == "recursive"


def test_a_waiting_gc_holds_back_new_adds(repo, tmp_path):
    """No starvation: once a collection waits, a new add waits behind it (the turnstile)."""
    gate = tmp_path / "gate"
    gate.mkdir()
    holder = spawn("hold", repo.path, gate)
    wait_for((gate / "ready").exists, "the holder to take the lock")
    collector = spawn("gc", repo.path)
    wait_for(lambda: blocked_on_a_lock(collector.pid), "the collection to wait")
    data = os.urandom(100_000)
    adder = spawn("add", repo.path, file_with(tmp_path, data))
    wait_for(lambda: blocked_on_a_lock(adder.pid), "the new add to wait behind the collection")
    (gate / "go").touch()
    for p in (holder, collector, adder):
        p.wait(timeout=60)
        assert p.returncode == 0
    root = Cid.parse(adder.stdout.read().strip())
    assert repo.pinned(root) == ("recursive", None) and repo.exporter.read(root) == data


# -- against a real Kubo-RPC server (js-ipfs) -----------------------------------------------------
def multipart(data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_block_put_cids_match_a_real_kubo_rpc_server(kubo_rpc):
    """js-ipfs takes the legacy ``format`` (not ``cid-codec``) and sha2-256/sha2-512 (RECIPE.md);
    it ignores ``mhlen``, whose truncation follows go-multihash's encodeHash (sum[:length])."""
    import dag_cbor
    node = Importer(store := MemoryStore()).add_bytes(b"x" * 300_000).cid
    cases = [(b"abc", "raw", "sha2-256", -1), (b"", "raw", "sha2-256", -1), (os.urandom(5000), "raw", "sha2-512", -1),
             (store.get(node), "v0", "sha2-256", -1),
             (store.get(node), "dag-pb", "sha2-512", -1), (dag_cbor.encode({"a": [1, b"2"]}), "dag-cbor", "sha2-256", -1)]
    for data, fmt, mhtype, mhlen in cases:
        body, headers = multipart(data)
        got = json.loads(rpc(kubo_rpc, f"block/put?format={fmt}&mhtype={mhtype}&mhlen={mhlen}", body, headers))
        assert Cid.parse(got["Key"]) == block_cid(data, "", mhtype, mhlen, fmt), (fmt, mhtype, mhlen)
        if fmt != "v0":  # Kubo's modern spelling gives the same CID
            assert block_cid(data, {"raw": "", "dag-pb": "dag-pb", "dag-cbor": "dag-cbor"}[fmt], mhtype, mhlen) \
                == Cid.parse(got["Key"])


def test_pins_and_gc_agree_with_a_real_kubo_rpc_server(kubo_rpc, repo):
    """The same adds, pins and unpins on both sides leave the same pins, and GC removes the same
    blocks (compared by multihash, on our blocks only: the server keeps its own, e.g. MFS)."""
    roots = []
    for data in (os.urandom(700_000), os.urandom(300_000), os.urandom(10)):
        body, headers = multipart(data)
        theirs = json.loads(rpc(kubo_rpc, "add?pin=true", body, headers))["Hash"]
        roots.append(repo.add(data).cid)
        assert Cid.parse(theirs) == roots[-1]
    ours = reachable(repo, roots)
    for root in roots[1:]:
        rpc(kubo_rpc, f"pin/rm?arg={root}")
        repo.unpin(root)
    rpc(kubo_rpc, f"pin/add?arg={roots[2]}&recursive=false")
    repo.pin(roots[2], recursive=False)
    for kind in ("recursive", "direct", "indirect"):
        keys = json.loads(rpc(kubo_rpc, f"pin/ls?type={kind}"))["Keys"]
        assert {Cid.parse(k).multihash for k in keys} & ours == {c.multihash for c, _ in repo.pins(kind)}, kind
    garbage = reachable(repo, roots[1:2])
    removed_theirs = {Cid.parse(json.loads(line)["Key"]["/"]).multihash
                      for line in rpc(kubo_rpc, "repo/gc").decode().splitlines() if line.strip()}
    removed_ours: set[bytes] = set()
    repo.gc(lambda c: removed_ours.add(c.multihash))
    assert removed_ours == removed_theirs & ours == garbage
    assert removed_ours.isdisjoint(repo.store.multihashes())


def test_writing_a_block_again_replaces_a_corrupt_copy(cli_repo, tmp_path, capsys):
    """A stored copy that fails its hash is replaced by the next write of the block: re-adding the
    source, importing a CAR holding it, or `block put` of its bytes (issue 17 item 7). Pinned blocks
    are repaired in place, no unpin needed; `repo verify` says so."""
    data = os.urandom(20_000)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    root = run(capsys, "add", "-Q", "--cid-version=1", "--chunker=size-4096", str(src))[1].strip()
    car = tmp_path / "f.car"
    with Repo(cli_repo) as repo:
        car.write_bytes(b"".join(car_module.export(repo.store, Cid.parse(root))))
        leaf = next(c for c in repo.dag_blocks(Cid.parse(root)) if c != Cid.parse(root))
        good_bytes = repo.store.size()

    def tamper() -> None:
        with Repo(cli_repo) as repo:
            repo.store.write(lambda txn: txn.put(leaf.multihash, b"rot", db=repo.store.blocks))
        code, out, err = run(capsys, "repo", "verify")
        assert code == 1 and f"block {leaf} was corrupt" in out
        assert "add its source again, `dag import` a CAR holding it or `block put` its bytes" in err

    for repair in (["add", "-Q", "--cid-version=1", "--chunker=size-4096", str(src)], ["dag", "import", str(car)]):
        tamper()
        assert run(capsys, *repair)[0] == 0
        assert run(capsys, "repo", "verify")[0] == 0
        with Repo(cli_repo) as repo:
            assert repo.exporter.read(root) == data
    tamper()
    with Repo(cli_repo) as repo:
        index = [c for c in repo.dag_blocks(Cid.parse(root)) if c != Cid.parse(root)].index(leaf)
    (tmp_path / "leaf").write_bytes(data[index * 4096:(index + 1) * 4096])
    assert run(capsys, "block", "put", str(tmp_path / "leaf"))[1].strip() == str(leaf)
    assert run(capsys, "repo", "verify")[0] == 0
    with Repo(cli_repo) as repo:
        assert repo.store.size() == good_bytes and repo.pin_type(Cid.parse(root)) == "recursive"


def test_pins_written_before_names_still_read(tmp_path):
    """A repository whose pins table holds the one-byte values of casengine before pin names
    (b"r", b"d") opens as before: same pins, no names; new pins keep their names."""
    with Repo(tmp_path / "r") as repo:
        old = repo.add(b"old pin").cid
        direct = repo.add(b"direct", ImportOptions(pin=False)).cid
        pins = repo.store.db(b"pins")
        repo.store.write(lambda txn: txn.put(bytes(old), b"r", db=pins))
        repo.store.write(lambda txn: txn.put(bytes(direct), b"d", db=pins))
    with Repo(tmp_path / "r") as repo:
        assert dict(repo.pins("recursive")) == {old: "recursive"} and dict(repo.pins("direct")) == {direct: "direct"}
        assert repo.pin_names() == {old: "", direct: ""}
        named = repo.add(b"named", ImportOptions(pin_name="weights")).cid
        repo.pin(old, name="é")
        assert repo.pin_names() == {old: "é", direct: "", named: "weights"}
        repo.unpin(direct, recursive=False)
        repo.unpin(named)
        assert dict(repo.pins("all")) == {old: "recursive"}


# -- giving disk space back -----------------------------------------------------------------------
def disk(path: Path) -> int:
    return (path / "data.mdb").stat().st_size


def test_gc_gives_disk_space_back_and_stat_says_what_is_free(cli_repo, tmp_path, capsys):
    """After gc the data file is about the live data plus a margin (issue 17 item 6: it stayed at
    its largest). `repo stat` shows the free pages inside; nothing pinned is lost."""
    keep = file_with(tmp_path, os.urandom(1 << 20), "keep")
    drop = file_with(tmp_path, os.urandom(24 << 20), "drop")
    kept = run(capsys, "add", "-Q", str(keep))[1].strip()
    run(capsys, "add", "-Q", "--pin=false", str(drop))
    grown = disk(cli_repo)
    assert grown > 25 << 20
    code, out, _ = run(capsys, "repo", "gc", "--silent")
    assert (code, out) == (0, "")
    assert disk(cli_repo) < 4 << 20  # 1 MiB live + LMDB's pages
    stat = dict(line.split(":", 1) for line in run(capsys, "repo", "stat")[1].splitlines())
    assert int(stat["FreeBytes"]) < 1 << 20 and int(stat["RepoSize"]) < 5 << 20
    assert run(capsys, "repo", "verify")[0] == 0
    with Repo(cli_repo) as repo:
        assert repo.exporter.read(kept) == keep.read_bytes() and repo.pin_type(Cid.parse(kept)) == "recursive"
        assert repo.store.size() == sum(len(repo.store.get(c)) for c in repo.store.iterate())
    code, out, _ = run(capsys, "repo", "stat", "-s")
    assert code == 0 and out.startswith("RepoSize:") and "FreeBytes:" in out and "NumObjects" not in out


def test_no_compaction_while_another_process_has_the_repository_open(cli_repo, tmp_path, capsys):
    """A process holding the repository open (a reader here) is never moved under: gc removes the
    blocks, the free pages stay until nobody else has it open, and `repo stat` reports them."""
    drop = file_with(tmp_path, os.urandom(24 << 20), "drop")
    run(capsys, "add", "-Q", "--pin=false", str(drop))
    gate = tmp_path / "gate"
    gate.mkdir()
    holder = spawn("open", str(cli_repo), str(gate))
    try:
        wait_for(lambda: (gate / "ready").exists(), "the holder to open the repository")
        assert run(capsys, "repo", "gc", "-q")[0] == 0
        assert disk(cli_repo) > 24 << 20
        stat = dict(line.split(":", 1) for line in run(capsys, "repo", "stat")[1].splitlines())
        assert int(stat["FreeBytes"]) > 23 << 20
    finally:
        (gate / "go").mkdir()
        assert holder.wait(timeout=60) == 0
    assert run(capsys, "repo", "gc")[0] == 0  # nothing left to remove; the file is compacted now
    assert disk(cli_repo) < 4 << 20


@pytest.mark.parametrize("point", ["copied", "renamed"])
def test_a_compaction_killed_midway_loses_nothing(cli_repo, tmp_path, capsys, point):
    keep = file_with(tmp_path, os.urandom(1 << 20), "keep")
    kept = run(capsys, "add", "-Q", str(keep))[1].strip()
    run(capsys, "add", "-Q", "--pin=false", str(file_with(tmp_path, os.urandom(24 << 20), "drop")))
    with Repo(cli_repo) as repo:
        repo.gc()
    gate = tmp_path / "gate"
    gate.mkdir()
    child = spawn("compact", str(cli_repo), str(gate), point)
    wait_for(lambda: (gate / "ready").exists(), f"the compaction to reach {point}")
    child.kill()
    child.wait(timeout=60)
    for _ in range(2):  # as the kill left it, then after a compaction that finishes
        with Repo(cli_repo) as repo:
            assert list(repo.verify()) == [] and repo.exporter.read(kept) == keep.read_bytes()
            assert list(repo.pins("recursive")) == [(Cid.parse(kept), "recursive")]
        run(capsys, "repo", "gc")
    assert disk(cli_repo) < 4 << 20 and not (cli_repo / "compact.tmp").exists()
