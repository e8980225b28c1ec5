"""Hostile input through the command line: a CAR of hostile roots imported with ``dag import``, then
``get`` and ``ls`` (one-line errors, nothing written outside the output); malformed CARs; a short
fuzz run of every target (bench/fuzz.py runs >= 100k inputs). The library-level cases are in
test_hostile.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casengine import car
from casengine.dag.cid import DAG_PB, Cid
from casengine.exporter import MAX_DEPTH
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import fuzz  # noqa: E402
from fuzz_dags import (ESCAPING_TARGETS, MALFORMED_PB, DagBuilder, Sandbox, bad_shards,  # noqa: E402
                       directory_chain, files_under)
from fuzz_targets import TARGETS  # noqa: E402


# -- the command line: a CAR of hostile roots, `dag import`, then `get` --------------------------------
def cli(repo: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "casengine", "--repo", str(repo), *argv], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)


def one_line_error(proc: subprocess.CompletedProcess, text: str) -> None:
    assert proc.returncode == 1, proc
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc
    assert text in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, dict[str, Cid]]:
    """One repository holding, through `casengine dag import`, a CAR of hostile roots."""
    tmp = tmp_path_factory.mktemp("hostile-cli")
    b = DagBuilder(MemoryStore())
    leaf = b.raw(b"payload\n")
    roots = {
        "bad name": b.directory([("ok", leaf), ("..", leaf)]),
        "NUL name": b.directory([("a\0b", leaf)]),
        "symlink then dir": b.directory([("x", b.symlink("../outside")), ("x", b.directory([("canary.txt", leaf)]))]),
        "deep chain": directory_chain(b, 100_000),
        "declared 2**63": b.directory([("f", b.file(children=[(leaf, 2**63)]))]),
        "dag-cbor entry": b.directory([("c", b.cbor({"a": 1}))]),
        "bad shard": bad_shards(b)["bitfield with two bits"][0],
        "escaping symlinks": b.directory([(f"l{i}", b.symlink(t)) for i, t in enumerate(ESCAPING_TARGETS)]),
    }
    path = tmp / "hostile.car"
    path.write_bytes(b.car(list(roots.values())))
    repo = tmp / "repo"
    proc = cli(repo, "dag", "import", str(path))
    assert proc.returncode == 0 and proc.stderr == "", proc
    assert proc.stdout.count("success") == len(roots)
    return repo, roots


CLI_REFUSALS = {
    "bad name": "refusing directory entry name '..'",
    "NUL name": "refusing directory entry name 'a\\x00b'",
    "symlink then dir": "duplicate directory entry 'x'",
    "deep chain": f"directory tree deeper than {MAX_DEPTH} levels",
    "declared 2**63": "holds 8 bytes but",
    "dag-cbor entry": "is dag-cbor, not UnixFS",
    "bad shard": "HAMT bitfield does not match",
}


@pytest.mark.parametrize("case", CLI_REFUSALS)
def test_cli_get_refuses_with_one_line(imported, tmp_path, case):
    repo, roots = imported
    sandbox = Sandbox(tmp_path / "area")
    one_line_error(cli(repo, "get", str(roots[case]), "-o", sandbox.out), CLI_REFUSALS[case])
    sandbox.check(out_exists=False)


def test_cli_get_archive_refuses_what_get_refuses_by_depth(imported, tmp_path):
    """get -a of the 100k-deep chain: refused at get's depth in one line, no archive left (it wrote a
    tar whose paths grew with the depth, quadratic in all: a 20k chain ran past 30 s)."""
    repo, roots = imported
    out = tmp_path / "area" / "deep"
    out.parent.mkdir()
    one_line_error(cli(repo, "get", "-a", str(roots["deep chain"]), "-o", str(out)), CLI_REFUSALS["deep chain"])
    assert os.listdir(out.parent) == []


def test_cli_get_writes_escaping_symlinks_as_symlinks(imported, tmp_path):
    repo, roots = imported
    sandbox = Sandbox(tmp_path / "area")
    proc = cli(repo, "get", str(roots["escaping symlinks"]), "-o", sandbox.out)
    assert proc.returncode == 0 and proc.stderr == "", proc
    sandbox.check(out_exists=True)
    assert files_under(sandbox.out) == {f"l{i}": f"-> {t}" for i, t in enumerate(ESCAPING_TARGETS)}


def test_cli_ls_shows_hostile_names_on_one_line_each(imported):
    repo, roots = imported
    proc = cli(repo, "ls", str(roots["NUL name"]))
    # Kubo's EscNonPrint: Go's strconv.Quote without the quotes
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1 and ' a\\x00b\n' in proc.stdout, proc


def test_cli_import_of_a_malformed_block_pins_nothing(tmp_path):
    b = DagBuilder(MemoryStore())
    bad = b.block(DAG_PB, MALFORMED_PB["data before links"])
    path = tmp_path / "bad.car"
    path.write_bytes(b.car([bad]))
    repo = tmp_path / "repo"
    # Kubo decodes every block it imports: the import fails at the block, before any pin
    one_line_error(cli(repo, "dag", "import", str(path)), f'import failed at block "{bad}": PBNode field after Data')
    with Repo(repo) as r:
        assert dict(r.pins()) == {} and not r.store.has(bad)
        r.store.put(bad, MALFORMED_PB["data before links"])  # as a block put without checks would
    sandbox = Sandbox(tmp_path / "area")
    one_line_error(cli(repo, "get", str(bad), "-o", sandbox.out), "PBNode field after Data")
    sandbox.check(out_exists=False)


@pytest.mark.parametrize("header", [
    {"roots": [2**40], "version": 1},         # bytes(2**40) would have allocated a terabyte
    {"roots": [-1], "version": 1},
    {"roots": [], "version": True},
], ids=["int root", "negative root", "bool version"])
def test_cli_import_of_a_bad_car_header(tmp_path, header):
    import dag_cbor
    from casengine.dag import varint
    body = dag_cbor.encode(header)
    path = tmp_path / "bad.car"
    path.write_bytes(varint.encode(len(body)) + body)
    one_line_error(cli(tmp_path / "repo", "dag", "import", str(path)), "CAR header")


@pytest.mark.parametrize("data", [
    bytes.fromhex("80808080808080808001"),                                     # header length 2**63
    car._V2_PRAGMA + bytes(16) + (2**62).to_bytes(8, "little") + bytes(16),   # CARv2 data offset 2**62
], ids=["header length 2**63", "v2 offset 2**62"])
def test_cars_that_declare_huge_lengths(tmp_path, data):
    """Declared lengths are bounded (header) or read through in pieces (v2 padding), never allocated."""
    path = tmp_path / "huge.car"
    path.write_bytes(data)
    with open(path, "rb") as f, pytest.raises(car.CarError):
        list(car.CarReader(f))


# -- a short fuzz run (bench/fuzz.py runs >= 100k inputs) ----------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_raises_only_typed_errors(tmp_path, target):
    result = fuzz.run(target, 300, 0, str(tmp_path))
    assert result.failures == [] and result.inputs == 300
