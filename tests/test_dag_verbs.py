"""IPLD paths and the dag/refs verbs next to Kubo 0.43.1's CLI (issue 13 case 5 and the verbs):
both import one CAR made here (dag-json -> dag-cbor -> UnixFS), then print the same things."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from casengine.dag import pb
from casengine.dag.cid import DAG_CBOR, DAG_JSON, DAG_PB, RAW, Cid
from test_ipld import car_of, cbor_block, cid_of, json_block

ROOT = Path(__file__).resolve().parent.parent

LEAF = pb.encode(pb.PBNode([], b"\x08\x02\x12\x02hi\x18\x02"))
FILE, RAWC = cid_of(DAG_PB, LEAF), cid_of(RAW, b"raw!")
DIR_BLOCK = pb.encode(pb.PBNode([pb.PBLink(FILE, "f", len(LEAF))], b"\x08\x01"))
DIR = cid_of(DAG_PB, DIR_BLOCK)
CB_BLOCK = cbor_block({"files": {"single": FILE, "dir": DIR}, "list": [1, RAWC, "s"], "n": 5, "b": b"xy"})
CB = cid_of(DAG_CBOR, CB_BLOCK)
JS_BLOCK = json_block({"c": CB, "x": [RAWC]})
JS = cid_of(DAG_JSON, JS_BLOCK)
BLOCKS = {JS: JS_BLOCK, CB: CB_BLOCK, FILE: LEAF, DIR: DIR_BLOCK, RAWC: b"raw!"}


@pytest.fixture(scope="module")
def both(kubo43, tmp_path_factory):
    """A casengine repository and Kubo's daemon, each holding BLOCKS (pinned from JS)."""
    tmp = tmp_path_factory.mktemp("verbs")
    path = tmp / "dag.car"
    path.write_bytes(car_of([JS], BLOCKS))
    kubo43.cli("dag", "import", str(path))
    repo = tmp / "repo"
    assert ours(None, repo, "dag", "import", str(path))[0] == 0
    return repo, kubo43


def ours(capsys, repo, *argv: str, input: bytes | None = None) -> tuple[int, bytes, str]:
    """`casengine --repo REPO argv...` as a process: its exit code, stdout bytes and stderr."""
    proc = subprocess.run([sys.executable, "-m", "casengine", "--repo", str(repo), *argv], input=input,
                          capture_output=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return proc.returncode, proc.stdout, proc.stderr.decode()


COMMANDS = [
    ["cat", f"{CB}/files/single"], ["cat", f"{JS}/c/files/dir/f"], ["cat", f"{JS}/x/0"], ["cat", f"/ipfs/{JS}/c/files/single"],
    ["ls", f"{JS}/c/files/dir"],
    ["dag", "get", str(CB)], ["dag", "get", f"{CB}/files"], ["dag", "get", f"{CB}/list/1"], ["dag", "get", f"{CB}/n"],
    ["dag", "get", f"{CB}/b"], ["dag", "get", str(JS)], ["dag", "get", str(DIR)], ["dag", "get", f"{DIR}/f"],
    ["dag", "get", str(RAWC)], ["dag", "get", "--output-codec=dag-cbor", str(CB)],
    ["dag", "get", "--output-codec=dag-cbor", f"{CB}/n"],
    ["dag", "resolve", f"{CB}/files/single"], ["dag", "resolve", f"{CB}/files"], ["dag", "resolve", f"{JS}/c/n"],
    ["dag", "resolve", f"{DIR}/f"], ["dag", "resolve", str(JS)],
    ["dag", "stat", str(JS)], ["dag", "stat", "--progress=false", str(JS), str(CB)],
    ["refs", str(JS)], ["refs", "-r", str(JS)], ["refs", "-r", "-u", str(JS)], ["refs", "-r", "--max-depth=1", str(JS)],
    ["refs", "-r", "--max-depth=2", "-u", str(JS)], ["refs", "-e", "-r", str(JS)],
    ["refs", "--format=<src> <dst> [<linkname>]", "-r", str(JS)], ["refs", str(DIR), str(CB)],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a).replace(str(JS), "JS").replace(str(CB), "CB"))
def test_verbs_print_what_kubo_prints(both, capsys, argv):
    repo, kubo43 = both
    theirs = kubo43.cli(*argv, check=False)
    code, out, err = ours(capsys, repo, *argv)
    assert theirs.returncode == 0, theirs.stderr
    assert (code, out) == (0, theirs.stdout)


@pytest.mark.parametrize("argv", [["dag", "stat", str(JS), str(CB)], ["dag", "resolve", f"{JS}/c/n"],
                                  ["refs", "-r", "-u", str(JS)]])
def test_verbs_json_as_kubos(both, capsys, argv):
    repo, kubo43 = both
    theirs = [json.loads(line) for line in kubo43.cli("--enc=json", *argv).stdout.splitlines()]
    code, out, _ = ours(capsys, repo, *argv, "--json")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == theirs


@pytest.mark.parametrize("argv", [[f"{CB}/nope"], [f"{CB}/list/5"], [f"{CB}/list/x"]])
def test_missing_path_segments_fail_with_kubos_reason(both, capsys, argv):
    repo, kubo43 = both
    theirs = kubo43.cli("cat", *argv, check=False).stderr.decode().strip().removeprefix("Error: ")
    code, _, err = ours(capsys, repo, "cat", *argv)
    assert code == 1 and theirs in err


def test_refs_local_lists_every_stored_block(both, capsys):
    repo, _ = both
    code, out, _ = ours(capsys, repo, "refs", "local")
    assert code == 0 and set(out.decode().split()) == {str(Cid(1, RAW, c.multihash)) for c in BLOCKS}


@pytest.mark.parametrize("value, flags", [
    (b'{"a":1,"l":[{"/":"%s"}]}' % str(RAWC).encode(), []),
    (b'{"b":{"/":{"bytes":"aGk"}},"a":[1,2]}', ["--store-codec=dag-json"]),
    (b'{"x":"y"}', ["--hash=blake3"]),
    (b'{"x":[true,null,-5]}', ["--input-codec=json", "--store-codec=json"]),
    (cbor_block({"k": RAWC}), ["--input-codec=dag-cbor"]),
    (b'{"l":{"/":"%s"}}' % str(RAWC).encode(), ["--pin"]),
])
def test_dag_put_stores_what_kubo_stores(both, capsys, value, flags):
    repo, kubo43 = both
    theirs = kubo43.cli("dag", "put", *flags, input=value)
    code, out, err = ours(capsys, repo, "dag", "put", *flags, input=value)
    assert (code, out) == (0, theirs.stdout), err
    cid = out.decode().strip()
    assert ours(capsys, repo, "block", "get", cid)[1] == kubo43.cli("block", "get", cid).stdout
