"""``add --nocopy``: leaves referenced in their files, not stored (Kubo's filestore).

Truth for CIDs and references: Kubo 0.43.1 itself (``ipfs add --nocopy`` into a repository with
Experimental.FilestoreEnabled, then ``ipfs filestore ls``), run offline in a private network
namespace; and Kubo 0.22's raw-leaf add (the ``kubo`` oracle, ``raw_leaves=True``).
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine import car
from casengine.errors import CorruptBlock, FileChanged, InvalidOption
from casengine.options import ImportOptions
from casengine.repo import Repo
from casengine.stores import filestore

from peers import kubo43 as kubo43_peer
from strategies import Content, contents, trees, write_tree

SPECS = {"size-262144": 262144, "size-1000": 1000, "size-7": 7, "rabin-64-128-256": 128, "buzhash": 131072,
         "rabin-16384-65536-131072": 65536}


class KuboFilestore:
    """Kubo 0.43.1 with its filestore on, in a repository whose root (the directory above it, as
    Kubo sets it) holds the files to add; every call runs offline in a private network namespace."""

    def __init__(self, base: Path):
        self.base, self.repo = base, base / "repo"
        self.ipfs("init", "--profile=test")
        self.ipfs("config", "--json", "Experimental.FilestoreEnabled", "true")

    def ipfs(self, *args: str) -> str:
        env = {**os.environ, "IPFS_PATH": str(self.repo), "IPFS_TELEMETRY": "off"}
        done = subprocess.run(["unshare", "--net", str(kubo43_peer.IPFS), *args], env=env, capture_output=True,
                              timeout=120)
        if done.returncode:
            raise RuntimeError(done.stderr.decode().strip())
        return done.stdout.decode()

    def add(self, path: Path, *flags: str) -> tuple[str, set[tuple[str, int, int]]]:
        """The root ``ipfs add --nocopy`` prints and the (cid, size, offset) references it recorded."""
        root = self.ipfs("add", "-Q", "--nocopy", *flags, str(path)).strip()
        rel = str(path.relative_to(self.base))
        refs = set()
        for line in self.ipfs("filestore", "ls").splitlines():
            cid, size, name, offset = line.split()
            if name == rel:
                refs.add((cid, int(size), int(offset)))
        self.ipfs("pin", "rm", root)     # start the next add from an empty filestore, as ours do
        self.ipfs("repo", "gc")
        return root, refs


@pytest.fixture(scope="session")
def kubo_fs(tmp_path_factory) -> KuboFilestore:
    if not kubo43_peer.installed():
        pytest.fail(f"Kubo {kubo43_peer.VERSION} is not built: {kubo43_peer.INSTALL}", pytrace=False)
    return KuboFilestore(tmp_path_factory.mktemp("kubo-filestore"))


def refs_of(repo: Repo, path: Path) -> set[tuple[str, int, int]]:
    return {(str(e.cid), e.ref.size, e.ref.offset) for e in filestore.entries(repo.store)
            if e.ref.path == str(path.resolve())}


def flags_for(opts: dict) -> list[str]:
    out = [f"--chunker={opts['chunker']}"]
    if opts.get("cid_version") is not None:
        out.append(f"--cid-version={opts['cid_version']}")
    if opts.get("trickle"):
        out.append("--trickle")
    if opts.get("hash"):
        out.append(f"--hash={opts['hash']}")
    return out


@settings(max_examples=40)
@given(data=st.data(), chunker=st.sampled_from(sorted(SPECS)), cid_version=st.sampled_from([None, 0, 1]),
       trickle=st.booleans(), hash=st.sampled_from([None, "blake3"]))
def test_nocopy_matches_kubo_043(kubo_fs, tmp_path_factory, data, chunker, cid_version, trickle, hash):
    """Truth: Kubo 0.43.1's own --nocopy add: the same root and the same (leaf, size, offset) references."""
    content: Content = data.draw(contents(SPECS[chunker]))
    opts = dict(chunker=chunker, cid_version=cid_version, trickle=trickle, hash=hash)
    path = kubo_fs.base / f"f-{os.urandom(8).hex()}"  # a new name: Kubo lists the references of each
    path.write_bytes(content.bytes())
    options = ImportOptions(nocopy=True, **{k: v for k, v in opts.items() if v is not None})
    try:
        kubo_root, kubo_refs = kubo_fs.add(path, *flags_for(opts))
    except RuntimeError as kubo_error:                  # refused: in Kubo's words
        with pytest.raises(InvalidOption) as ours:
            options.resolve()
        assert str(ours.value) in str(kubo_error)
        return
    with Repo(tmp_path_factory.mktemp("repo")) as repo:
        ref = repo.add(path, options)
        assert str(ref.cid) == kubo_root
        ours = {cid: (size, offset) for cid, size, offset in refs_of(repo, path)}
        theirs = {cid: (size, offset) for cid, size, offset in kubo_refs}
        assert {c: s for c, (s, _) in ours.items()} == {c: s for c, (s, _) in theirs.items()}
        blob = content.bytes()  # a leaf that repeats may be recorded at another of its places
        for cid, (size, offset) in ours.items():
            assert blob[offset:offset + size] == blob[theirs[cid][1]:theirs[cid][1] + size]
        assert repo.exporter.read(str(ref.cid)) == content.bytes()
        assert list(repo.verify()) == []


@settings(max_examples=60)
@given(content=contents(1000), cid_version=st.sampled_from([None, 0, 1]))
def test_nocopy_matches_kubo_022_raw_leaves(kubo, tmp_path_factory, content: Content, cid_version):
    """Truth: Kubo 0.22's add with --raw-leaves (what --nocopy implies) and the same chunker."""
    base = tmp_path_factory.mktemp("f")
    path = base / "f"
    path.write_bytes(content.bytes())
    with Repo(base / "repo") as repo:
        ours = repo.add(path, ImportOptions(nocopy=True, chunker="size-1000", cid_version=cid_version)).cid
    assert str(ours) == kubo.cid(str(path), raw_leaves=True, chunker="size-1000", cid_version=cid_version)


def test_nocopy_with_raw_leaves_false_is_refused_as_kubo_does(kubo_fs, tmp_path):
    path = kubo_fs.base / "refused"
    path.write_bytes(b"x" * 10)
    with pytest.raises(RuntimeError) as kubo_error:
        kubo_fs.add(path, "--raw-leaves=false")
    with pytest.raises(InvalidOption) as ours:
        ImportOptions(nocopy=True, raw_leaves=False).resolve()
    assert str(ours.value) in str(kubo_error.value)


@pytest.fixture
def added(tmp_path):
    """A repository holding a 1 MiB + 5 file by reference, pinned."""
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom((1 << 20) + 5))
    repo = Repo(tmp_path / "repo")
    root = repo.add(path, ImportOptions(nocopy=True)).cid
    yield repo, path, root
    repo.close()


def test_references_are_not_copies_and_reads_verify(added):
    repo, path, root = added
    assert repo.store.size() < 1000                       # only the root node is stored
    assert repo.stat().references == 5 and repo.stat().referenced_bytes == path.stat().st_size
    assert repo.exporter.read(str(root)) == path.read_bytes()
    assert repo.exporter.read(str(root), offset=300_000, length=10) == path.read_bytes()[300_000:300_010]


@pytest.mark.parametrize("damage, status", [
    (lambda p: p.open("r+b").write(b"\xff" * 3) and None, "changed"),
    (lambda p: os.truncate(p, 100_000), "changed"),
    (lambda p: p.unlink(), "no-file"),
])
def test_a_changed_source_is_caught_on_the_next_read(added, damage, status):
    repo, path, root = added
    first = next(e for e in filestore.entries(repo.store) if e.ref.offset == 0)
    damage(path)
    with pytest.raises(FileChanged) as caught:
        repo.exporter.read(str(root))
    err = caught.value
    assert isinstance(err, CorruptBlock) and err.status == status and err.path == str(path)
    assert str(path) in str(err) and str(first.cid) in str(err)
    if status == "changed":
        assert "data in file did not match" in str(err)
    with pytest.raises(FileChanged):                       # an unverified read is still verified
        repo.store.get(first.cid, verified=False)
    bad = {str(cid): problem for cid, problem in repo.verify()}
    assert str(first.cid) in bad and bad[str(first.cid)].startswith(status)
    statuses = {e.status for e in filestore.entries(repo.store, verify=True)}
    assert status in statuses


def test_gc_drops_only_unreachable_references(added, tmp_path):
    repo, path, root = added
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(600_000))
    loose = repo.add(other, ImportOptions(nocopy=True, pin=False)).cid
    assert repo.stat().references == 8
    repo.gc()
    st = repo.stat()
    assert st.references == 5 and not repo.store.has(loose)   # the pinned file's references stay
    assert repo.exporter.read(str(root)) == path.read_bytes()
    repo.unpin(root)
    repo.gc()
    assert repo.stat().references == 0 and repo.stat().blocks == 0


def test_a_block_stored_both_ways(added):
    repo, path, root = added
    first = next(e for e in filestore.entries(repo.store) if e.ref.offset == 0)
    block = path.read_bytes()[:262144]
    repo.put_block(first.cid, block)                       # a copy is stored beside the reference
    assert list(repo.store.duplicates()) == [first.cid.multihash]
    path.write_bytes(b"\0" * 10)                           # the file changes: the copy still serves
    assert repo.store.get(first.cid) == block
    repo.add(io.BytesIO(block), ImportOptions(nocopy=True, raw_leaves=True))  # a stream: stored
    assert repo.store.delete(first.cid) and not repo.store.has(first.cid)      # both go
    assert list(repo.store.duplicates()) == []


def test_dag_export_sends_the_real_bytes(added, tmp_path):
    """The CAR of a --nocopy add is the CAR of the same file stored (the same CIDs, the same bytes)."""
    repo, path, root = added
    with Repo(tmp_path / "copy") as copy:
        assert copy.add(path, ImportOptions(raw_leaves=True)).cid == root
        expected = b"".join(car.export(copy.store, root))
    exported = b"".join(car.export(repo.store, root))
    assert exported == expected and len(exported) > path.stat().st_size


def test_cli_filestore_lines(tmp_path, capsys):
    from casengine.cli import main
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(600_000))
    repo = str(tmp_path / "repo")
    assert main(["--repo", repo, "add", "-Q", "--nocopy", str(path)]) == 0
    root = capsys.readouterr().out.strip()
    assert main(["--repo", repo, "filestore", "ls", "--file-order"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines] == [["262144", str(path), "0"], ["262144", str(path), "262144"],
                                                    ["75712", str(path), "524288"]]
    assert lines[2].split(" ", 1)[1].startswith(" 75712 ")      # Kubo's "%-50s %6d"
    with path.open("r+b") as f:
        f.seek(262144)
        f.write(b"!")
    assert main(["--repo", repo, "filestore", "verify", "--file-order"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line[:8] for line in out] == ["ok      ", "changed ", "ok      "]
    assert main(["--repo", repo, "filestore", "verify", "bafkqaaa"]) == 0
    assert capsys.readouterr().out == "missing bafkqaaa\n"
    assert main(["--repo", repo, "cat", root]) == 1
    err = capsys.readouterr().err
    assert "data in file did not match" in err and str(path) in err and out[1].split()[1] in err
    assert main(["--repo", repo, "repo", "verify"]) == 1
    assert "changed: data in file did not match" in capsys.readouterr().out
    assert main(["--repo", repo, "filestore", "dups"]) == 0 and capsys.readouterr().out == ""


def test_repository_grows_by_far_less_than_the_file(tmp_path):
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    with Repo(tmp_path / "repo") as repo:
        before = repo.stat().disk_bytes
        repo.add(path, ImportOptions(nocopy=True))
        grown = repo.stat().disk_bytes - before
    assert grown < path.stat().st_size / 100


def test_reference_encoding():
    ref = filestore.FileRef("/a/b c/é", 1 << 40, 262144)
    assert filestore.FileRef.decode(ref.encode()) == ref


def test_router_adds_by_reference_locally_and_by_copy_on_kubo(tmp_path, monkeypatch, kubo43):
    """The router's add_path(nocopy=True): the local repository references the file; a Kubo node
    is sent the bytes under the same CID (raw leaves); push sends the real bytes too."""
    from casengine import ipfs_backend_router as router
    path = tmp_path / "w.bin"
    path.write_bytes(os.urandom(700_000))
    local = router.HuggingFaceCacheBackend(tmp_path / "cache")
    cid = router.add_path(str(path), nocopy=True, backend=local)
    assert local.node.repo.stat().references == 3 and local.node.repo.store.size() < 1000
    assert local.cat(cid) == path.read_bytes()
    from casengine.cli import main
    assert main(["--repo", str(tmp_path / "cache" / "casengine"), "push", cid, "--to", "kubo",
                 "--api", kubo43.api]) == 0
    remote = router.KuboRPCBackend(kubo43.api)
    assert remote.cat(cid) == path.read_bytes()
    assert router.add_path(str(path), nocopy=True, backend=remote, pin=False) == cid


def test_remove_bad_blocks_keeps_pinned_references(tmp_path, capsys):
    from casengine.cli import main
    repo = str(tmp_path / "repo")
    pinned, loose = tmp_path / "pinned.bin", tmp_path / "loose.bin"
    pinned.write_bytes(os.urandom(300_000))
    loose.write_bytes(os.urandom(300_000))
    assert main(["--repo", repo, "add", "-Q", "--nocopy", str(pinned)]) == 0
    assert main(["--repo", repo, "add", "-Q", "--nocopy", "--pin=false", str(loose)]) == 0
    capsys.readouterr()
    pinned.unlink()
    loose.write_bytes(b"gone")
    assert main(["--repo", repo, "filestore", "verify", "--remove-bad-blocks", "--file-order"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [(line.split()[0], line.split()[-1]) for line in lines] == \
        [("changed", "remove"), ("changed", "remove"), ("no-file", "keep"), ("no-file", "keep")]
    assert main(["--repo", repo, "filestore", "ls"]) == 0
    assert {line.split()[2] for line in capsys.readouterr().out.splitlines()} == {str(pinned)}


def test_sigkilled_nocopy_adds_leave_no_pin_on_missing_references(tmp_path):
    """An add --nocopy SIGKILLed at random moments: the store opens and verifies, a pin covers only
    a whole DAG, and gc then leaves exactly the references the pins reach."""
    import random
    import signal
    import sys
    import time
    data = tmp_path / "large.bin"
    data.write_bytes(random.Random(3).randbytes(16 << 20))
    repo_path = tmp_path / "repo"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "casengine", "--repo", str(repo_path), "add", "-Q", "--nocopy",
           "--chunker=size-1024", str(data)]
    rng = random.Random(5)
    for _ in range(5):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        with Repo(repo_path) as repo:
            assert list(repo.verify()) == []
            for root, _ in repo.pins("recursive"):
                assert repo.exporter.read(str(root)) == data.read_bytes()
            repo.gc()
            reachable = {c.multihash for root, _ in repo.pins("recursive") for c in repo.dag_blocks(root)}
            assert {mh for mh, _ in repo.store.references()} <= reachable
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with Repo(repo_path) as repo:
        repo.gc()
        assert repo.stat().references == 16384 and repo.exporter.read(done.stdout.strip()) == data.read_bytes()


@settings(max_examples=15)
@given(tree=trees(max_leaves=8), cid_version=st.sampled_from([None, 1]))
def test_nocopy_trees_match_kubo_043(kubo_fs, tmp_path_factory, tree, cid_version):
    """Truth: Kubo 0.43.1's `add -r --hidden --nocopy` of the same tree (files, symlinks, empty dirs)."""
    root = kubo_fs.base / f"t-{os.urandom(8).hex()}"
    write_tree(str(root), tree)
    flags = ["-r", "--hidden"] + ([f"--cid-version={cid_version}"] if cid_version else [])
    kubo_root = kubo_fs.ipfs("add", "-Q", "--nocopy", *flags, str(root)).strip()
    kubo_fs.ipfs("pin", "rm", kubo_root)
    kubo_fs.ipfs("repo", "gc")
    with Repo(tmp_path_factory.mktemp("repo")) as repo:
        ours = repo.add(root, ImportOptions(nocopy=True, hidden=True, cid_version=cid_version)).cid
        assert str(ours) == kubo_root
        assert list(repo.verify()) == []
