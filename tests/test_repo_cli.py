"""The ``pin`` / ``block`` / ``repo`` / ``add --pin`` commands with Kubo's lines, errors and
``--json`` objects (texts from Kubo's source: core/commands/pin/pin.go and its help example,
core/commands/block.go, core/commands/repo.go)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from casengine.dag import multihash
from casengine.dag.cid import RAW, Cid
from casengine.repo import Repo
from cli_run import file_with, run

TESTS = Path(__file__).resolve().parent
HELLO = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"  # `echo "hello" | ipfs add -q`, pin.go's help


def test_pin_commands_as_in_kubos_help(cli_repo, tmp_path, capsys):
    """The session in Kubo's `ipfs pin ls --help` (core/commands/pin/pin.go), line for line."""
    hello = file_with(tmp_path, b"hello\n", "hello")
    assert run(capsys, "add", "-q", str(hello)) == (0, f"{HELLO}\n", "")
    assert run(capsys, "pin", "ls") == (0, f"{HELLO} recursive\n", "")
    assert run(capsys, "pin", "rm", HELLO) == (0, f"unpinned {HELLO}\n", "")
    assert run(capsys, "pin", "add", "-r=false", HELLO) == (0, f"pinned {HELLO} directly\n", "")
    assert run(capsys, "pin", "ls", "--type=direct") == (0, f"{HELLO} direct\n", "")
    assert run(capsys, "pin", "ls", HELLO) == (0, f"{HELLO} direct\n", "")


def test_pin_command_spellings_and_errors(cli_repo, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_bytes(b"a" * 5000)
    root = run(capsys, "add", "-r", "-Q", "--pin=false", str(d))[1].strip()
    child = run(capsys, "add", "-n", "-Q", str(d / "a"))[1].strip()
    assert run(capsys, "pin", "ls") == (0, "", "")
    assert run(capsys, "pin", "add", "-r", f"/ipfs/{root}") == (0, f"pinned {root} recursively\n", "")
    assert run(capsys, "pin", "add", "--recursive=true", root)[1] == f"pinned {root} recursively\n"
    assert run(capsys, "pin", "ls", "-t", "indirect") == (0, f"{child} indirect\n", "")
    assert run(capsys, "pin", "ls", f"{root}/a") == (0, f"{child} indirect through {root}\n", "")
    assert run(capsys, "pin", "ls", "-q", "-t", "recursive") == (0, f"{root}\n", "")
    assert run(capsys, "pin", "ls", "--type", "recursive", child) == (1, "", f"Error: path '{child}' is not pinned\n")
    assert run(capsys, "pin", "ls", "-t", "some") == (
        1, "", "Error: invalid type 'some', must be one of {direct, indirect, recursive, all}\n")
    assert run(capsys, "pin", "add", "-r=false", root) == (1, "", f"Error: pin: {root} already pinned recursively\n")
    assert run(capsys, "pin", "rm", "--recursive=false", root) == (1, "", f"Error: {root} is pinned recursively\n")
    assert run(capsys, "pin", "rm", child) == (1, "", "Error: not pinned or pinned indirectly\n")
    assert run(capsys, "pin", "rm", root) == (0, f"unpinned {root}\n", "")
    code, out, err = run(capsys, "pin", "add", "QmNotACid")
    assert code == 1 and err.startswith("Error: invalid CID")


def test_add_pin_false_then_gc(cli_repo, tmp_path, capsys):
    f = file_with(tmp_path, os.urandom(600_000))
    cid = run(capsys, "add", "-Q", "--pin=false", str(f))[1].strip()
    assert run(capsys, "pin", "ls") == (0, "", "")
    code, out, _ = run(capsys, "repo", "gc")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4 and all(line.startswith("removed bafkrei") for line in lines)
    assert run(capsys, "cat", cid)[0] == 1
    assert run(capsys, "add", "-Q", str(f))[1].strip() == cid      # pinned this time
    assert run(capsys, "repo", "gc", "-q") == (0, "", "")
    with Repo(cli_repo) as repo:
        assert repo.exporter.read(cid) == f.read_bytes()


def test_block_commands(cli_repo, tmp_path, capsys):
    def put(data: bytes, *flags: str) -> tuple[int, str, str]:
        return run(capsys, "block", "put", *flags, str(file_with(tmp_path, data, "block")))

    env = dict(os.environ, PYTHONPATH=str(TESTS.parent))
    out = subprocess.run([sys.executable, "-m", "casengine", "block", "put"], input=b"abc", env=env,
                         capture_output=True, check=True).stdout.decode()  # from stdin
    abc = out.strip()
    assert abc == "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu"  # raw, sha2-256("abc")
    assert run(capsys, "block", "stat", abc) == (0, f"Key: {abc}\nSize: 3\n", "")
    assert run(capsys, "block", "get", abc)[1] == "abc"
    assert run(capsys, "block", "rm", abc) == (0, f"removed {abc}\n", "")
    assert run(capsys, "block", "rm", abc) == (
        1, "", f"cannot remove {abc}: ipld: could not find {abc}\nError: some blocks not removed\n")
    assert run(capsys, "block", "rm", "-f", abc) == (0, f"removed {abc}\n", "")
    assert put(b"abc", "--pin")[0] == 0
    assert run(capsys, "pin", "ls") == (0, f"{abc} recursive\n", "")
    assert run(capsys, "block", "rm", "-q", abc) == (
        1, "", f"cannot remove {abc}: pinned: recursive\nError: some blocks not removed\n")
    code, out, err = put(b"not dag-pb", "--cid-codec=dag-pb")
    assert code == 1 and out == "" and err.startswith("Error: ") and len(list(Repo(cli_repo).store.iterate())) == 1
    code, out, err = put(b"\xa1", "--cid-codec", "dag-cbor")
    assert code == 1 and err.startswith("Error: ") and "dag-cbor" in err
    import dag_cbor
    doc = dag_cbor.encode({"hello": [1, 2, 3]})
    assert put(doc, "--cid-codec=dag-cbor")[1].startswith("bafyrei")
    big = os.urandom((2 << 20) + 1)
    assert put(big) == (1, "", "Error: produced block is over 2MiB: big blocks can't be exchanged with other "
                               "peers. consider using UnixFS for automatic chunking of bigger files, or pass "
                               "--allow-big-block to override\n")
    assert put(big, "--allow-big-block")[0] == 0
    assert put(b"abc", "-f", "v0", "--mhtype", "sha2-512") == (1, "", "Error: only sha2-255-32 is allowed with CIDv0\n")
    assert put(b"abc", "-f", "v0", "--cid-codec", "dag-cbor")[2] == (
        'Error: unable to use "format" (deprecated) and a custom "cid-codec" at the same time\n')
    assert put(b"abc", "--mhtype", "nope") == (1, "", "Error: unrecognized multihash function: nope\n")
    assert put(b"abc", "--mhlen", "33") == (1, "", "Error: requested length was too large for digest\n")
    truncated = Cid(1, RAW, b"\x12\x14" + multihash.SHA2_256.digest(b"abc")[2:22])  # go-multihash: sum[:length]
    assert put(b"abc", "--mhlen", "20") == (0, f"{truncated}\n", "")
    assert run(capsys, "block", "get", str(truncated))[1] == "abc"                   # verified on its 20 bytes


def test_repo_commands(cli_repo, tmp_path, capsys):
    f = file_with(tmp_path, os.urandom(300_000))
    cid = run(capsys, "add", "-Q", str(f))[1].strip()
    code, out, _ = run(capsys, "repo", "stat")
    fields = dict(line.split(":", 1) for line in out.splitlines())
    assert code == 0 and list(fields) == ["NumObjects", "NumPins", "RepoSize", "FreeBytes", "BlockBytes", "References",
                                       "ReferencedBytes", "RepoPath", "Version"]
    assert fields["NumObjects"].strip() == "3" and fields["NumPins"].strip() == "1"
    with Repo(cli_repo) as repo:
        assert int(fields["BlockBytes"]) == repo.store.size() > 300_000
    assert out.splitlines()[0] == "NumObjects:      3"                # tabwriter: padded to the widest key
    assert run(capsys, "repo", "stat", "--size-only")[1].startswith("RepoSize: ")
    assert run(capsys, "repo", "verify") == (0, "1 blocks processed.\r2 blocks processed.\r3 blocks processed.\r"
                                                "verify complete, all blocks validated.\n", "")  # Kubo's lines
    with Repo(cli_repo) as repo:
        leaf = next(c for c in repo.dag_blocks(Cid.parse(cid)) if c != Cid.parse(cid))
        repo.store.write(lambda txn: txn.put(leaf.multihash, b"rot", db=repo.store.blocks))
    code, out, err = run(capsys, "repo", "verify")
    assert code == 1 and err.startswith("Error: verify complete, 1 blocks corrupt (to repair a block, ")
    assert f"block {Cid(1, RAW, leaf.multihash)} was corrupt (block in storage has different hash than requested)\n" in out


def test_each_verb_has_its_own_bool_flags(cli_repo, tmp_path, capsys):
    """`ls --stream` is a Kubo bool flag (a bare one means =true) but `pin ls --stream` a switch: once `ls`
    had registered its flags in this process, `pin ls --stream` was refused ('ignored explicit argument')."""
    hello = file_with(tmp_path, b"hello\n", "hello")
    run(capsys, "add", "-q", str(hello))
    assert run(capsys, "ls", "--stream=false", HELLO)[0] == 0
    assert run(capsys, "pin", "ls", "--stream") == (0, f"{HELLO} recursive\n", "")
    assert run(capsys, "pin", "add", "--recursive", HELLO)[0] == 0    # a bool of pin add, a switch of add
    assert run(capsys, "add", "-q", "--recursive", str(hello)) == (0, f"{HELLO}\n", "")


def test_json_objects_are_kubos(cli_repo, tmp_path, capsys):
    """With --json each verb prints the objects Kubo's --enc=json does (field names from its source)."""
    hello = file_with(tmp_path, b"hello\n", "hello")
    run(capsys, "add", "-q", str(hello))
    assert json.loads(run(capsys, "--json", "pin", "ls")[1]) == {"Keys": {HELLO: {"Type": "recursive", "Name": ""}}}
    assert json.loads(run(capsys, "pin", "ls", "--stream", "--json")[1]) == {"Cid": HELLO, "Type": "recursive"}
    assert json.loads(run(capsys, "pin", "rm", HELLO, "--json")[1]) == {"Pins": [HELLO]}
    assert json.loads(run(capsys, "pin", "add", HELLO, "--json")[1]) == {"Pins": [HELLO]}
    block = file_with(tmp_path, b"abc", "abc")
    key = "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu"
    assert json.loads(run(capsys, "--json", "block", "put", str(block))[1]) == {"Key": key, "Size": 3}
    assert json.loads(run(capsys, "--json", "block", "stat", key)[1]) == {"Key": key, "Size": 3}
    assert [json.loads(line) for line in run(capsys, "--json", "repo", "gc")[1].splitlines()] == [{"Key": {"/": key}}]
    stat = json.loads(run(capsys, "--json", "repo", "stat")[1])
    assert stat["NumObjects"] == 1 and stat["NumPins"] == 1 and stat["Version"] == "casengine-lmdb@1"
    assert [json.loads(line) for line in run(capsys, "--json", "repo", "verify")[1].splitlines()] == [
        {"Msg": "", "Progress": 1}, {"Msg": "verify complete, all blocks validated.", "Progress": 0}]
    assert json.loads(run(capsys, "--json", "block", "rm", "-f", key)[1]) == {"Hash": key}
