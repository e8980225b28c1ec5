"""CAR export and import against the tools people use: Kubo, js-ipfs's Kubo-RPC server, npm ipfs-car.

Truths: Kubo v0.22's stored blocks (the `kubo` oracle with only_hash=False, framed by
peers/kubo_oracle/dag.py as `ipfs dag export` frames them), the js-ipfs server's own
`/api/v0/dag/export` and `/api/v0/dag/import` (`kubo_rpc`), and npm ipfs-car 3.1.0 run offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from casengine import car
from casengine.car import CarError, CarReader
from casengine.cli import main
from casengine.dag.cid import Cid
from casengine.errors import CidNotFound, CorruptBlock
from casengine.options import ImportOptions
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore

import peers
from peers import jsipfs
from peers.kubo_oracle import dag as kubo_dag
from peers.kubo_oracle import kubo as oracle

TESTS = Path(__file__).resolve().parent
IPFS_CAR_DIR = TESTS / "peers" / "ipfs-car"
IPFS_CAR_INSTALL = "bash tests/peers/ipfs-car/setup.sh"


# -- the content: a multi-level DAG ------------------------------------------------------------------
def make_tree(root: Path) -> Path:
    """A directory with a sub-directory, a 2-level file (200 leaves of 1 KiB: more than 174 links),
    an empty file and a file sharing chunks with another (so the DAG has repeated blocks)."""
    d = root / "tree"
    (d / "sub" / "deeper").mkdir(parents=True)
    rnd = os.urandom(200 * 1024 + 17)
    (d / "big.bin").write_bytes(rnd)
    (d / "sub" / "again.bin").write_bytes(rnd[: 50 * 1024])   # same leading chunks as big.bin
    (d / "sub" / "deeper" / "empty").write_bytes(b"")
    (d / "hello.txt").write_bytes(b"hello world\n")
    return d


OPTS = dict(chunker="size-1024")


def files_of(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def read_tree(repo: Repo, root: str, names: list[str]) -> dict[str, bytes]:
    return {n: repo.exporter.read(f"{root}/{n}") for n in names}


@pytest.fixture
def repo(tmp_path):
    with Repo(tmp_path / "repo") as r:
        yield r


def cli(repo: Repo, *argv: str) -> int:
    """Run the CLI on *repo*, closed meanwhile (LMDB opens an environment once per process)."""
    repo.close()
    try:
        return main(["--repo", repo.path, *argv])
    finally:
        repo.__init__(repo.path)


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path)


def export_bytes(repo: Repo, root: Cid | str) -> bytes:
    return b"".join(car.export(repo.store, Cid.parse(str(root))))


# -- Kubo ------------------------------------------------------------------------------------------
def kubo_car(path: Path, out: Path, **opts) -> tuple[str, bytes]:
    """Kubo adds and stores *path*; its blocks are written as the CAR `ipfs dag export` writes."""
    cid = oracle.cid(path, only_hash=False, **opts)
    subprocess.run([sys.executable, kubo_dag.__file__, "car", cid, str(out)], check=True,
                   env=dict(os.environ, KUBO_ORACLE_RUN=oracle.RUN))
    return cid, out.read_bytes()


def test_export_is_byte_identical_to_kubo(kubo, repo, tree, tmp_path):
    cid, expected = kubo_car(tree, tmp_path / "kubo.car", **OPTS)
    ref = repo.add(tree, ImportOptions(**OPTS))
    assert str(ref.cid) == cid
    assert export_bytes(repo, cid) == expected


@pytest.mark.parametrize("opts", [dict(cid_version=1), dict(cid_version=0, raw_leaves=True, trickle=True)])
def test_kubo_car_imports_pins_and_reads_back(kubo, repo, tree, tmp_path, opts):
    cid, data = kubo_car(tree, tmp_path / "kubo.car", **OPTS, **opts)
    result = car.import_car(repo, [io.BytesIO(data)])
    assert [str(r) for r in result.roots] == [cid] and result.pins == {Cid.parse(cid): ""}
    assert repo.pin_type(Cid.parse(cid)) == "recursive"
    expected = files_of(tree)
    assert read_tree(repo, cid, list(expected)) == expected
    assert export_bytes(repo, cid) == data          # and it exports back the same bytes
    assert repo.gc() == 0                            # everything imported is reachable from the pin


# -- js-ipfs (Kubo RPC) ------------------------------------------------------------------------------
def multipart(parts: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "casengine" + os.urandom(8).hex()
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{urllib.parse.quote(name, safe='/')}\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in parts)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def rpc(server, endpoint: str, parts: list[tuple[str, bytes]] | None = None, **params) -> bytes:
    body, ctype = multipart(parts) if parts else (b"", "application/octet-stream")
    query = urllib.parse.urlencode(params, doseq=True)
    req = urllib.request.Request(f"{server.url}/api/v0/{endpoint}?{query}", data=body, method="POST",
                                 headers={"Content-Type": ctype})
    with jsipfs.LOCAL.open(req, timeout=120) as resp:
        return resp.read()


def test_our_car_imports_into_js_ipfs_and_exports_back_identical(kubo_rpc, repo, tree):
    ref = repo.add(tree, ImportOptions(**OPTS))
    ours = export_bytes(repo, ref.cid)
    out = [json.loads(line) for line in rpc(kubo_rpc, "dag/import", [("tree.car", ours)]).splitlines()]
    assert out == [{"Root": {"Cid": {"/": str(ref.cid)}, "PinErrorMsg": ""}}]
    for name, data in files_of(tree).items():
        assert rpc(kubo_rpc, "cat", arg=f"/ipfs/{ref.cid}/{name}") == data
    assert rpc(kubo_rpc, "dag/export", arg=str(ref.cid)) == ours


def test_js_ipfs_car_imports_into_casengine(kubo_rpc, repo, tree):
    parts = [(f"tree/{name}", data) for name, data in files_of(tree).items()]
    added = [json.loads(line) for line in rpc(kubo_rpc, "add", parts, **{"cid-version": 1, "chunker": "size-1024",
                                                                          "cid-base": "base32"}).splitlines()]
    root = next(a["Hash"] for a in added if a["Name"] == "tree")
    theirs = rpc(kubo_rpc, "dag/export", arg=root)
    result = car.import_car(repo, [io.BytesIO(theirs)])
    assert result.pins == {Cid.parse(root): ""}
    expected = files_of(tree)
    assert read_tree(repo, root, list(expected)) == expected
    assert export_bytes(repo, root) == theirs


# -- npm ipfs-car ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def ipfs_car() -> list[str]:
    """argv prefix running npm ipfs-car offline (its own network namespace: it can reach nothing)."""
    peers.require(needs_x86_64=False, tools=("unshare",))
    key = hashlib.sha256(b"".join((IPFS_CAR_DIR / f).read_bytes()
                                  for f in ("package.json", "package-lock.json"))).hexdigest()[:16]
    base = Path(os.environ.get("IPFS_CAR_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "casengine-peers" / "ipfs-car")
    cli = base / key / "node_modules" / ".bin" / "ipfs-car"
    if not os.access(cli, os.X_OK):
        pytest.fail(f"npm ipfs-car is not installed ({cli} missing): {IPFS_CAR_INSTALL}", pytrace=False)
    return ["unshare", "--net", str(cli)]


def test_ipfs_car_pack_imports_and_reads_back(ipfs_car, repo, tree, tmp_path, capsys):
    out = tmp_path / "packed.car"
    subprocess.run([*ipfs_car, "pack", str(tree), "--output", str(out)], check=True, capture_output=True)
    root = subprocess.run([*ipfs_car, "roots", str(out)], check=True, capture_output=True, text=True).stdout.split()
    assert len(root) == 1
    code = cli(repo, "dag", "import", "--stats", str(out))
    lines = capsys.readouterr().out.splitlines()
    with open(out, "rb") as f:
        sizes = [len(block) for _, block in CarReader(f)]
    assert code == 0 and lines == [f"Pinned root\t{root[0]}\tsuccess", f"Imported {len(sizes)} blocks ({sum(sizes)} bytes)"]
    expected = files_of(tree)
    # ipfs-car wraps what it packs: the directory's entries sit under the root
    assert read_tree(repo, root[0], list(expected)) == expected


def test_ipfs_car_stdout_car_has_no_roots_blocks_still_import(ipfs_car, repo, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom((3 << 20) + 5))      # ipfs-car cuts 1 MiB chunks: a root and 4 leaves
    packed = subprocess.run([*ipfs_car, "pack", str(big), "--no-wrap"], check=True, capture_output=True).stdout
    result = car.import_car(repo, [io.BytesIO(packed)])
    assert result.roots == [] and result.pins == {} and result.blocks == 5
    # piped, ipfs-car cannot rewrite its header: the root is the last block (as `ipfs-car roots` finds it)
    root = list(CarReader(io.BytesIO(packed)))[-1][0]
    assert repo.exporter.read(root) == big.read_bytes()


def test_our_car_unpacks_with_ipfs_car(ipfs_car, repo, tree, tmp_path):
    ref = repo.add(tree, ImportOptions(cid_version=1, **OPTS))
    ours = tmp_path / "ours.car"
    ours.write_bytes(export_bytes(repo, ref.cid))
    out = tmp_path / "unpacked"
    subprocess.run([*ipfs_car, "unpack", str(ours), "--output", str(out)], check=True, capture_output=True)
    assert files_of(out) == files_of(tree)


# -- import rules ------------------------------------------------------------------------------------
def blocks_of(repo: Repo, root: Cid) -> list[tuple[Cid, bytes]]:
    return list(repo.exporter.walk(root))


@pytest.fixture
def source(tmp_path, tree) -> tuple[Cid, list[tuple[Cid, bytes]]]:
    """A multi-level DAG's root and blocks (in export order), from a scratch repository."""
    with Repo(tmp_path / "source") as src:
        ref = src.add(tree, ImportOptions(**OPTS))
        return ref.cid, blocks_of(src, ref.cid)


def car_bytes(roots: list[Cid], blocks) -> bytes:
    return b"".join(car.write(roots, blocks))


def test_incomplete_dag_is_not_pinned_and_the_cli_says_so(repo, source, capsys):
    root, blocks = source
    data = car_bytes([root], blocks[:-1])              # the last leaf is missing
    result = car.import_car(repo, [io.BytesIO(data)])
    assert result.failed == [root] and "CID not found" in result.pins[root]
    assert repo.pin_type(root) is None                 # no pin on a DAG that is not all there
    assert len(repo.store) == len({c.multihash for c, _ in blocks[:-1]})  # the blocks themselves are kept
    path = Path(repo.path) / "partial.car"
    path.write_bytes(data)
    assert cli(repo, "dag", "import", str(path)) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f'Error: pinning root "{root}" FAILED: CID not found') and err.count("\n") == 1
    assert cli(repo, "--json", "dag", "import", str(path)) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["Root"]["Cid"] == {"/": str(root)} and json.loads(out)["Root"]["PinErrorMsg"]
    assert err == "Error: unable to pin all roots: 1 out of 1 failed\n"


def test_dag_split_over_two_cars_is_pinned_after_both(repo, source, tmp_path):
    root, blocks = source
    first, second = tmp_path / "1.car", tmp_path / "2.car"
    first.write_bytes(car_bytes([root], blocks[: len(blocks) // 2]))
    second.write_bytes(car_bytes([], blocks[len(blocks) // 2:]))
    result = car.import_car(repo, [first, second])
    assert result.pins == {root: ""} and repo.pin_type(root) == "recursive"


def test_a_corrupt_block_stops_the_import_before_any_pin(repo, source):
    root, blocks = source
    cid, block = blocks[3]
    bad = blocks[:3] + [(cid, block[:-1] + bytes([block[-1] ^ 1]))] + blocks[4:]
    with pytest.raises(CorruptBlock):
        car.import_car(repo, [io.BytesIO(car_bytes([root], bad))])
    assert list(repo.pins()) == [] and not repo.store.has(cid)


@pytest.mark.parametrize("cut", [1, 5, 60, -1])
def test_truncated_car_is_refused(repo, source, cut):
    root, blocks = source
    data = car_bytes([root], blocks)
    with pytest.raises(CarError):
        car.import_car(repo, [io.BytesIO(data[:cut])])
    assert list(repo.pins()) == []


def test_pin_roots_false_stores_without_pinning(repo, source, tmp_path, capsys):
    root, blocks = source
    path = tmp_path / "x.car"
    path.write_bytes(car_bytes([root], blocks))
    assert cli(repo, "dag", "import", "--pin-roots=false", "--stats", str(path)) == 0
    total = sum(len(b) for _, b in blocks)
    assert capsys.readouterr().out == f"Imported {len(blocks)} blocks ({total} bytes)\n"
    assert list(repo.pins()) == [] and repo.exporter.read(f"{root}/hello.txt") == b"hello world\n"
    assert cli(repo, "dag", "import", "--silent", str(path)) == 0
    assert capsys.readouterr().out == "" and repo.pin_type(root) == "recursive"


def carv2(v1: bytes) -> bytes:
    """Wrap a CARv1 as CARv2 by the spec's layout (pragma, 40-byte header, payload; no index)."""
    pragma = bytes.fromhex("0aa16776657273696f6e02")
    offset = len(pragma) + 40 + 7                   # 7 bytes of padding a writer may leave
    head = bytes(16) + offset.to_bytes(8, "little") + len(v1).to_bytes(8, "little") + bytes(8)
    return pragma + head + bytes(7) + v1 + b"\x00" * 5   # trailing bytes (an index) are not payload


def test_carv2_imports(repo, source):
    root, blocks = source
    result = car.import_car(repo, [io.BytesIO(carv2(car_bytes([root], blocks)))])
    assert result.pins == {root: ""} and result.blocks == len(blocks)


def test_export_streams_and_fails_on_a_missing_root_before_writing(repo, source, capsys):
    root, blocks = source
    with pytest.raises(CidNotFound):
        car.export(repo.store, root)
    assert cli(repo, "dag", "export", str(root)) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"Error: CID not found: {root}\n"


def test_cli_export_equals_api_export(repo, tree, tmp_path):
    ref = repo.add(tree, ImportOptions(**OPTS))
    expected = export_bytes(repo, ref.cid)
    repo.close()
    proc = subprocess.run([sys.executable, "-m", "casengine", "--repo", str(tmp_path / "repo"), "dag", "export",
                           str(ref.cid)], capture_output=True, env=dict(os.environ, PYTHONPATH=str(TESTS.parent)))
    assert proc.returncode == 0 and proc.stdout == expected and proc.stderr == b""


def test_export_reports_progress_and_reader_counts_bytes(source):
    root, blocks = source
    store = MemoryStore()
    store.put_many(blocks)
    seen: list[int] = []
    data = b"".join(car.export(store, root, seen.append))
    assert sum(seen) == len(data)
    got: list[int] = []
    into = MemoryStore()
    result = car.load(into, [io.BytesIO(data)], got.append)
    assert sum(got) == len(data) and result.blocks == len(blocks)
