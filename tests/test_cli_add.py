"""`casengine add/cat/get/ls` speak Kubo's spellings and print Kubo's lines.

Expected lines come from Kubo's own tests (t0040-add-and-cat.sh) or from the ordering rules
of Kubo's adder (files as added, then directories deepest first, by name).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_run import run

HELLO = "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH"  # t0040: "Hello Worlds!\n"


@pytest.fixture
def repo(cli_repo):
    return cli_repo



def test_add_prints_kubo_lines_and_cat_reads_back(repo, tmp_path, capsys):
    f = tmp_path / "hello.txt"
    f.write_bytes(b"Hello Worlds!\n")
    assert run(capsys, "add", str(f)) == (0, f"added {HELLO} hello.txt\n", "")
    assert run(capsys, "add", "-q", str(f))[1] == f"{HELLO}\n"
    assert run(capsys, "add", "--quieter", str(f))[1] == f"{HELLO}\n"
    code, out, _ = run(capsys, "cat", HELLO)
    assert out == "Hello Worlds!\n"
    assert run(capsys, "cat", "--offset", "10", HELLO)[1] == "ds!\n"
    assert run(capsys, "cat", "--offset=5", "--length", "15", HELLO, HELLO, HELLO)[1] == " Worlds!\nHello "
    assert run(capsys, "cat", "--offset", "16", HELLO, HELLO)[1] == "llo Worlds!\n"
    assert run(capsys, "cat", "-l", "0", HELLO)[1] == ""
    code, out, err = run(capsys, "cat", "--length", "-102", HELLO)
    assert code == 1 and err.startswith("Error: ") and "negative length" in err and out == ""


def test_recursive_add_order_and_wrap(repo, tmp_path, capsys):
    d = tmp_path / "d"
    (d / "b").mkdir(parents=True)
    (d / "c").mkdir()
    (d / "a").write_text("a")
    (d / "b" / "x").write_text("x")
    (d / ".hidden").write_text("h")
    code, out, _ = run(capsys, "add", "-r", str(d))
    names = [line.split(" ", 2)[2] for line in out.splitlines()]
    assert code == 0 and names == ["d/a", "d/b/x", "d/b", "d/c", "d"]
    code, out, _ = run(capsys, "add", "-r", "-H", "-w", str(d))
    names = [line.split(" ", 2)[2] if line.count(" ") == 2 else "" for line in out.splitlines()]
    assert names == ["d/.hidden", "d/a", "d/b/x", "d/b", "d/c", "d", ""]
    code, out, err = run(capsys, "add", str(d))
    assert code == 1 and err == f"Error: '{d}' is a directory, use the '-r' flag to specify directories\n"


def test_add_dot_names_the_current_directory(repo, tmp_path, capsys, monkeypatch):
    """t0040: `ipfs add -r .` (and `./`) in test_current_dir ends with that directory's line."""
    d = tmp_path / "test_current_dir"
    (d / "hello").mkdir(parents=True)
    (d / "hey").write_bytes(b"Hey\n")
    (d / "hello" / "world").write_bytes(b"World\n")
    monkeypatch.chdir(d)
    for arg in (".", "./"):
        out = run(capsys, "add", "-r", arg)[1]
        assert out.splitlines()[-1] == "added QmZQWnfcqJ6hNkkPvrY9Q5X39GP3jUnUbAV4AbmbbR3Cb1 test_current_dir"


def test_symlink_argument_is_added_as_a_symlink(repo, tmp_path, capsys):
    """go-ipfs-cmds lstat()s each argument: a symlink given on the command line is stored as a
    UnixFS symlink, not followed (Kubo's --dereference-args is gone)."""
    (tmp_path / "target").write_bytes(b"data")
    os.symlink("target", tmp_path / "link")
    cid = run(capsys, "add", "-Q", str(tmp_path / "link"))[1].strip()
    from casengine.repo import Repo
    with Repo() as r:
        assert r.exporter.resolve(cid).type.name == "SYMLINK"


def test_bool_and_valued_flag_spellings(repo, tmp_path, capsys):
    f = tmp_path / "f"
    f.write_bytes(b"x" * 1000)
    v1 = run(capsys, "add", "-Q", "--cid-version=1", str(f))[1]
    assert run(capsys, "add", "-Q", "--cid-version", "1", str(f))[1] == v1
    assert run(capsys, "add", "-Q", "--cid-version=1", "--raw-leaves", str(f))[1] == v1
    assert run(capsys, "add", "-Q", "--cid-version=1", "--raw-leaves=true", str(f))[1] == v1
    pb = run(capsys, "add", "-Q", "--cid-version=1", "--raw-leaves=false", str(f))[1]
    assert pb != v1 and pb.startswith("bafybei")
    assert run(capsys, "add", "-Q", "-s", "size-10", str(f))[1] == run(capsys, "add", "-Q", "--chunker=size-10", str(f))[1]
    code, _, err = run(capsys, "add", "--chunker=size-0", str(f))
    assert code == 1 and err == "Error: chunker size must be greater than 0\n"


def test_only_hash_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CASENGINE_REPO", str(tmp_path / "never"))
    f = tmp_path / "hello.txt"
    f.write_bytes(b"Hello Worlds!\n")
    assert run(capsys, "add", "-n", str(f))[1] == f"added {HELLO} hello.txt\n"
    assert not (tmp_path / "never").exists()


def test_stdin_get_and_ls(repo, tmp_path, capsys):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-m", "casengine", "add"], input=b"IPFS\n", env=env,
                         capture_output=True, check=True).stdout.decode()
    # t0040: "IPFS\n" is QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w; stdin is named by its CID
    assert out == "added QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w\n"
    out = subprocess.run([sys.executable, "-m", "casengine", "add", "-w", "--stdin-name", "file.txt"], input=b"IPFS\n",
                         env=env, capture_output=True, check=True).stdout.decode().splitlines()
    # t0040: `ipfs add -w --stdin-name file.txt | head -n1`, then cat /ipfs/<wrapper>/file.txt
    assert out[0] == "added QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w file.txt"
    assert run(capsys, "cat", f"/ipfs/{out[1].split()[1]}/file.txt")[1] == "IPFS\n"
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "f.txt").write_bytes(b"12345")
    os.symlink("f.txt", d / "link")
    root = run(capsys, "add", "-r", "-Q", str(d))[1].strip()
    code, out, _ = run(capsys, "ls", "-v", root)
    lines = out.splitlines()
    assert lines[0].split() == ["Hash", "Size", "Name"]
    assert [line.split()[1:] for line in lines[1:]] == [["5", "f.txt"], ["5", "link"], ["-", "sub/"]]  # Kubo 0.43.1: a symlink's target length
    out_dir = tmp_path / "out"
    assert run(capsys, "get", root, "-o", str(out_dir))[0] == 0
    assert (out_dir / "f.txt").read_bytes() == b"12345" and os.readlink(out_dir / "link") == "f.txt"
    assert (out_dir / "sub").is_dir()
    code, _, err = run(capsys, "cat", f"{root}/missing")
    assert code == 1 and "CID not found" in err


@pytest.mark.parametrize("cid_version", ["0", "1"])
def test_ls_of_a_file_sizes_its_blocks_by_their_file_bytes(repo, tmp_path, capsys, cid_version):
    """Kubo's rule, from its source (core/coreapi/unixfs.go processLink, without --size): a dag-pb
    child is sized by its UnixFS filesize, a raw one by its link; not the cumulative Tsize."""
    f = tmp_path / "f.bin"
    f.write_bytes(os.urandom(2 * 262144 + 1000))
    root = run(capsys, "add", "-Q", "--pin=false", f"--cid-version={cid_version}", str(f))[1].strip()
    lines = run(capsys, "ls", root)[1].splitlines()
    assert [line.split()[1:] for line in lines] == [["262144"], ["262144"], ["1000"]]
    if cid_version == "1":  # raw leaves: sized by their links, never read (a missing one does not matter)
        assert run(capsys, "block", "rm", lines[0].split()[0])[0] == 0
        assert run(capsys, "ls", root)[1].splitlines() == lines
