"""The command line people use: help on every verb, exit codes (0 ok, 1 error, 2 usage), one-line
errors unless --debug, --version, --json on every verb, progress bars only on a terminal, stats."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import casengine
from casengine.cli import build_parser, leaf_parsers, main
from casengine.errors import CidNotFound
from casengine.options import ImportOptions
from casengine.repo import Repo
from cli_run import read_terminal, run

ROOT = Path(__file__).resolve().parent.parent
MISSING = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"   # "hello world\n", never added here


@pytest.fixture
def repo(cli_repo):
    return cli_repo



def verbs() -> list[list[str]]:
    """argv of every verb, however deep (`dag import`), as the parser knows them."""
    out = []
    for leaf in leaf_parsers(build_parser()):
        out.append(leaf.prog.split()[1:])
    return out


def test_every_verb_has_help(capsys):
    found = verbs()
    assert {"add", "cat", "get", "ls", "stats"} <= {v[0] for v in found}
    assert ["dag", "export"] in found and ["dag", "import"] in found
    for argv in found:
        code, out, err = run(capsys, *argv, "--help")
        assert code == 0 and out.startswith(f"usage: casengine {' '.join(argv)}") and err == ""
        assert "--json" in out and "--debug" in out


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"casengine {casengine.__version__}\n", "")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["dag"], ["add", "--cid-version", "x"],
                                  ["add", "--pin=maybe"], ["cat"], ["dag", "export"]])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith("usage: casengine")


def test_errors_are_one_line_without_traceback_unless_debug(repo, capsys):
    Repo(repo).close()
    code, out, err = run(capsys, "cat", MISSING)
    assert (code, out, err) == (1, "", f"Error: CID not found: {MISSING}\n")
    code, out, err = run(capsys, "add", str(repo / "no-such-file"))
    assert code == 1 and err.count("\n") == 1 and err.startswith("Error: ") and "Traceback" not in err
    for argv in (["--debug", "cat", MISSING], ["cat", "--debug", MISSING]):
        with pytest.raises(CidNotFound):
            main(argv)


def test_unexpected_errors_are_one_line_too(repo, capsys, monkeypatch):
    from casengine.cli import files

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(files, "ls", boom)
    code, out, err = run(capsys, "ls", MISSING)
    assert code == 1 and err == "Error: RuntimeError: boom second line (run with --debug for a traceback)\n"


def test_json_output(repo, tmp_path, capsys):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_bytes(b"Hello Worlds!\n")
    os.symlink("a.txt", d / "sub" / "link")
    code, out, _ = run(capsys, "add", "-r", "--json", str(d))
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["Name"] for e in events] == ["d/a.txt", "d/sub/link", "d/sub", "d"]
    assert events[0] == {"Name": "d/a.txt", "Hash": "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH", "Size": "22"}
    root = events[-1]["Hash"]
    code, out, _ = run(capsys, "--json", "ls", root)
    assert json.loads(out) == {"Objects": [{"Hash": root, "Links": [
        {"Name": "a.txt", "Hash": events[0]["Hash"], "Size": 14, "Type": 2, "Target": ""},
        {"Name": "sub", "Hash": events[2]["Hash"], "Size": 0, "Type": 1, "Target": ""}]}]}
    code, out, _ = run(capsys, "ls", "--json", f"{root}/sub")
    assert json.loads(out)["Objects"][0]["Links"][0] | {"Hash": ""} == {
        "Name": "link", "Hash": "", "Size": 5, "Type": 4, "Target": "a.txt"}  # Kubo 0.43.1: its target's length
    target = tmp_path / "out"
    code, out, _ = run(capsys, "get", "--json", "-o", str(target), root)
    assert json.loads(out) == {"Path": str(target), "Hash": root} and (target / "a.txt").read_bytes() == b"Hello Worlds!\n"
    code, out, _ = run(capsys, "add", "--json", "-Q", str(d / "a.txt"))     # --json keeps every event
    assert [json.loads(line)["Name"] for line in out.splitlines()] == ["a.txt"]


def test_stats_shows_dedup(repo, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    blob = os.urandom(1 << 20)
    (d / "one.bin").write_bytes(blob)
    (d / "two.bin").write_bytes(blob)                  # the same content under another name
    code, out, _ = run(capsys, "add", "-r", "--json", str(d))
    tsize = int(json.loads(out.splitlines()[-1])["Size"])   # Kubo's cumulative size: counts both copies
    code, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert stats["BytesAdded"] == tsize and stats["Pins"] == 1
    assert stats["BytesUnique"] == stats["BytesStored"] < tsize / 1.9
    assert 1.9 < stats["DedupRatio"] < 2
    code, out, _ = run(capsys, "stats")
    assert code == 0 and f"BytesAdded:  {tsize}" in out and "DedupRatio:  2.00x" in out


# -- progress bars -----------------------------------------------------------------------------------
def cli(repo: Path, *argv: str, tty: bool, stdin: bytes = b"") -> tuple[int, bytes, str]:
    """Run casengine in a fresh process, stderr on a pseudo-terminal when *tty*; return code, stdout, stderr."""
    env = dict(os.environ, CASENGINE_REPO=str(repo), PYTHONPATH=str(ROOT), COLUMNS="100")
    env.pop("CASENGINE_DISABLE_PROGRESS_BARS", None)
    if not tty:
        p = subprocess.run([sys.executable, "-m", "casengine", *argv], input=stdin, capture_output=True,
                           env=env, timeout=120)
        return p.returncode, p.stdout, p.stderr.decode()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    p = subprocess.Popen([sys.executable, "-m", "casengine", *argv], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    out, _ = p.communicate(stdin, timeout=120)
    err, _ = read_terminal(master)
    return p.returncode, out, err.decode(errors="replace")


def is_bar(err: str, name: str) -> bool:
    return f"{name}: 100%" in err and "/s]" in err


def test_progress_bars_only_on_a_terminal(tmp_path):
    repo = tmp_path / "repo"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    code, out, err = cli(repo, "add", str(big), tty=True)
    assert code == 0 and is_bar(err, "add") and "3.00M/3.00M" in err
    cid = out.decode().split()[1]
    code, out, err = cli(repo, "add", "-Q", str(big), tty=True)  # as in Kubo, -q/-Q/--silent: no bar
    assert (code, out.decode().strip(), err) == (0, cid, "")
    code, out, err = cli(repo, "add", "-Q", str(big), tty=False)        # a pipe: silent
    assert (code, out.decode().strip(), err) == (0, cid, "")
    code, out, err = cli(repo, "add", "-Q", "--no-progress", str(big), tty=True)
    assert code == 0 and err == ""
    code, out, err = cli(repo, "add", "-Q", "--progress", str(big), tty=False)  # asked for: shown anyway
    assert code == 0 and is_bar(err, "add")
    code, _, err = cli(repo, "get", "-o", str(tmp_path / "copy"), cid, tty=True)
    assert code == 0 and is_bar(err, "get") and (tmp_path / "copy").read_bytes() == big.read_bytes()
    code, car_bytes, err = cli(repo, "dag", "export", cid, tty=True)
    assert code == 0 and "export: " in err and "/s]" in err
    (tmp_path / "x.car").write_bytes(car_bytes)
    code, out, err = cli(tmp_path / "other", "dag", "import", str(tmp_path / "x.car"), tty=True)
    assert code == 0 and is_bar(err, "import") and out.decode() == f"Pinned root\t{cid}\tsuccess\n"


READ_ONLY_VERBS = [["cat", MISSING], ["get", MISSING], ["ls", MISSING], ["pin", "ls"], ["pin", "rm", MISSING],
                   ["pin", "add", MISSING], ["block", "get", MISSING], ["block", "stat", MISSING],
                   ["block", "rm", MISSING], ["repo", "stat"], ["repo", "verify"], ["repo", "gc"],
                   ["dag", "export", MISSING], ["stats"], ["hf", "get", MISSING, "org/name"],
                   ["push", MISSING, "--to", "kubo"]]


@pytest.mark.parametrize("argv", READ_ONLY_VERBS, ids=" ".join)
def test_verbs_that_add_nothing_refuse_a_missing_repository(tmp_path, capsys, argv, monkeypatch):
    """A mistyped --repo is an error naming it, and creates nothing (issue 17 item 4)."""
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-repo"
    code, out, err = run(capsys, *argv, "--repo", str(missing))
    assert (code, out) == (1, "")
    assert err == f"Error: no casengine repository at {missing} (only add, block put, dag import and hf add create one)\n"
    assert not missing.exists() and not (tmp_path / MISSING).exists()


def test_verbs_that_add_create_the_repository(tmp_path, capsys):
    data = tmp_path / "f"
    data.write_bytes(b"hello world\n")
    for n, argv in enumerate([["add", "-Q", str(data)], ["block", "put", str(data)]]):
        where = tmp_path / f"new{n}"
        code, out, _ = run(capsys, *argv, "--repo", str(where))
        assert code == 0 and (where / "data.mdb").exists()
        assert run(capsys, "block", "stat", out.strip(), "--repo", str(where))[0] == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_get_stopped_by_a_signal_leaves_nothing_behind(repo, tmp_path, sig):
    """SIGTERM is handled as SIGINT: the partial file goes (issue 17 item 5: a hidden .part stayed)."""
    data = tmp_path / "big"
    data.write_bytes(os.urandom(3 << 20))
    with Repo(repo) as r:
        root = r.add(str(data), ImportOptions(chunker="size-65536")).cid
    out, gate = tmp_path / "out", tmp_path / "gate"
    out.mkdir()
    gate.mkdir()
    child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "repo_worker.py"), "get", str(gate),
                              "get", str(root), "-o", str(out / "restored"), "--repo", str(repo)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (gate / "ready").exists() and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None and any(p.name.endswith(".part") for p in out.iterdir())
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + sig and err == b""
    assert list(out.iterdir()) == []


def test_get_errors_name_the_users_paths(repo, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_bytes(b"a\n")
    root = run(capsys, "add", "-Q", "-r", str(tree))[1].strip()
    (tmp_path / "existing").write_bytes(b"x")
    (tmp_path / "e3" / "a.txt" / "inside").mkdir(parents=True)
    for argv, shown in ((["-o", "existing"], tmp_path / "existing"), (["-o", "e3"], tmp_path / "e3" / "a.txt")):
        code, out, err = run(capsys, "get", root, *argv)
        assert code == 1 and ".part" not in err and ".casengine" not in err
        assert err.startswith("Error: [Errno ") and err.endswith(f": '{shown}'\n") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli-repo", "e3", "existing", "tree"]
    assert os.listdir(tmp_path / "e3") == ["a.txt"] and os.listdir(tmp_path / "e3" / "a.txt") == ["inside"]


def readme_command_lines() -> list[list[str]]:
    """Each `casengine ...` command in the README's command list, placeholders filled in, the
    first of `a|b` alternatives taken, redirections dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in (l for l in section.splitlines() if l.startswith("    casengine ")):
        for command in line.split("#", 1)[0].replace(", casengine ", "; casengine ").split(";"):
            words = command.replace("[", " ").replace("]", " ").split()
            if not words or words[0] != "casengine":
                continue
            words = [w.split("|")[0] for w in words[1:]]
            cut = next((i for i, w in enumerate(words) if w in ("<", ">")), len(words))
            out.append([MISSING if w.startswith("<") else w for w in words[:cut]])
    return out


@pytest.mark.parametrize("argv", readme_command_lines(), ids=" ".join)
def test_the_readme_command_list_parses(argv, capsys):
    """Every spelling the README's command list shows is one the CLI takes (issue 17 item 10)."""
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"casengine {' '.join(argv)}: {capsys.readouterr().err.strip()} (exit {e.code})")
    assert callable(args.func)
