"""What a Kubo user sees, side by side with real Kubo 0.43.1's CLI on the same input: error
texts, escaped names, spellings of flags and output lines (issue 17)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from casengine.cli import main

KUBO = Path(os.environ.get("KUBO43_HOME") or Path.home() / ".cache" / "casengine-peers" / "kubo-0.43.1") / "bin" / "ipfs"


class OfflineKubo:
    """Kubo 0.43.1's CLI on a private `init --profile=test` repo, `--offline`, in a network
    namespace of its own (a stand-in for the `kubo43` fixture's `cli`)."""

    def __init__(self) -> None:
        self.repo = Path(tempfile.mkdtemp(prefix="kubo43-cli-")) / "repo"
        self.env = dict(os.environ, IPFS_PATH=str(self.repo), IPFS_TELEMETRY="off")
        self.run("init", "--profile=test")
        for key, value in (("Bootstrap", "[]"), ("AutoConf.Enabled", "false"), ("Addresses.Swarm", "[]")):
            self.run("config", "--json", key, value)

    def run(self, *args: str, input: bytes | None = None, check: bool = True, cwd=None):
        return subprocess.run(["unshare", "--net", str(KUBO), *args], input=input, env=self.env, cwd=cwd,
                              capture_output=True, check=check, timeout=120)

    def cli(self, *args: str, input: bytes | None = None, check: bool = True, cwd=None):
        return self.run("--offline", *args, input=input, check=check, cwd=cwd)


@pytest.fixture(scope="module")
def kubo_cli() -> OfflineKubo:
    if not os.access(KUBO, os.X_OK):
        pytest.fail(f"Kubo 0.43.1 is not built ({KUBO} missing): bash tests/peers/kubo43/setup.sh", pytrace=False)
    return OfflineKubo()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("CASENGINE_REPO", str(tmp_path / "repo"))
    return tmp_path / "repo"


def ours(capsysbinary, *argv: str) -> tuple[int, bytes, bytes]:
    code = main(list(argv))
    out, err = capsysbinary.readouterr()
    return code, out, err


def kubos(kubo_cli: OfflineKubo, *argv: str, cwd=None) -> tuple[int, bytes, bytes]:
    """Kubo's exit code, stdout and stderr (without the usage text it adds to some errors)."""
    done = kubo_cli.cli(*argv, check=False, cwd=cwd)
    err = done.stderr.split(b"\n\nUSAGE\n")[0]
    return done.returncode, done.stdout, err.rstrip(b"\n") + b"\n" if err else b""


@pytest.fixture
def tree(tmp_path) -> Path:
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_bytes(b"hi\n")
    (d / "link").symlink_to("a.txt")
    return d


def test_cat_of_a_directory_or_symlink_as_kubo(repo, tree, kubo_cli, capsysbinary):
    """Kubo: "this dag node is a directory"; a symlink's content is its target."""
    code, out, _ = ours(capsysbinary, "add", "-Q", "-r", str(tree))
    root = out.decode().strip()
    assert kubo_cli.cli("add", "-Q", "-r", str(tree)).stdout.decode().strip() == root
    for path in (root, f"{root}/sub", f"{root}/link", f"/ipfs/{root}/link"):
        assert ours(capsysbinary, "cat", path) == kubos(kubo_cli, "cat", path), path


def test_two_arguments_of_one_name_are_refused_as_kubo(repo, tmp_path, kubo_cli, capsysbinary):
    """go-ipfs-cmds refuses a base name repeated from another directory and skips the same path
    given twice, with or without -w (issue 17 item 3: -w kept one of them silently)."""
    for rel in ("a/x.txt", "b/x.txt", "d1/d/f", "d2/d/g"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(rel.encode())
    for argv in (["-w", "a/x.txt", "b/x.txt"], ["a/x.txt", "b/x.txt"], ["-r", "-w", "d1/d", "d2/d"],
                 ["-Q", "-w", "a/x.txt", "./a/x.txt"], ["-w", "a/x.txt", "a/../a/x.txt", "b/x.txt"]):
        theirs = kubos(kubo_cli, "add", "-n", *argv, cwd=tmp_path)
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            assert ours(capsysbinary, "add", "-n", *argv) == theirs, argv
        finally:
            os.chdir(cwd)
