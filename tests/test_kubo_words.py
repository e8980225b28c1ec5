"""What a Kubo user sees, side by side with real Kubo 0.43.1's CLI on the same input: error
texts, escaped names, spellings of flags and output lines (issue 17)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import pytest

from casengine.dag.cid import Cid
from casengine.repo import Repo
from cli_run import read_terminal, run as ours

ROOT = Path(__file__).resolve().parents[1]
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
def repo(cli_repo):
    return cli_repo




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


@pytest.mark.parametrize("text, says", [
    ("bad", "invalid CID 'bad': its base32 bytes are not a CID"),
    ("", "invalid CID '': empty"),
    ("QmXXX", "invalid CID 'QmXXX': 'Q' is no multibase prefix (a CIDv0 is 46 base58btc characters "
              "starting Qm, a CIDv1 usually base32 starting b)"),
    ("bafyabc", "invalid CID 'bafyabc': not valid base32"),
    ("Qm0" + "a" * 43, "invalid CID 'Qm0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': not valid base58btc"),
    ("zzzz", "invalid CID 'zzzz': its base58btc bytes are not a CID"),
])
def test_an_invalid_cid_says_what_is_wrong(repo, capsys, text, says):
    """Not the multibase library's text (issue 17 item 11)."""
    Repo(repo).close()
    for argv in (["cat", text], ["pin", "ls", text], ["block", "stat", text], ["dag", "export", text]):
        code, out, err = ours(capsys, *argv)
        assert code == 1 and says in err and err.count("\n") == 1, (argv, err)
        assert "multibase" not in err.replace("no multibase prefix", "") and "padding" not in err


@pytest.mark.parametrize("path", ["/ipns/example.com", "/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8/a"])
def test_ipns_names_are_said_not_to_be_resolved(repo, capsys, path):
    Repo(repo).close()
    for argv in (["cat", path], ["ls", path], ["get", path], ["pin", "add", path], ["block", "get", path]):
        code, out, err = ours(capsys, *argv)
        assert (code, err) == (1, f"Error: {path}: IPNS names are not resolved here; give a CID or /ipfs/CID/path\n")


def test_garbage_given_to_dag_import_is_not_a_car(repo, tmp_path, capsys):
    for garbage in (b"garbage\n", b"\x01\x02", b"{\"roots\": []}", b"\xff" * 20):
        path = tmp_path / "x.car"
        path.write_bytes(garbage)
        code, out, err = ours(capsys, "dag", "import", str(path))
        assert code == 1 and err.startswith(f"Error: {path} is not a CAR file ("), (garbage, err)


def test_json_of_push_and_cat(repo, tree, kubo43, kubo_cli, capsysbinary):
    """--json on every verb (issue 17 item 9): push prints one object; cat prints the bytes, as
    Kubo's cat does with --enc=json."""
    code, out, _ = ours(capsysbinary, "add", "-Q", "-r", str(tree))
    root = out.decode().strip()
    code, out, err = ours(capsysbinary, "push", root, "--to", "kubo", "--api", kubo43.api, "--json")
    assert (code, err) == (0, b"") and json.loads(out) == {"Hash": root, "Blocks": 4, "To": "kubo-rpc"}
    kubo_cli.cli("add", "-r", str(tree))
    for flag in ("--json", "--enc=json"):
        assert ours(capsysbinary, "cat", f"{root}/a.txt", flag) == kubos(kubo_cli, "cat", f"{root}/a.txt", "--enc=json")


def test_ls_flags_as_kubo_spells_them(repo, tree, kubo_cli, capsysbinary):
    """`-s` is --stream in Kubo (sizes are --size), --resolve-type is accepted (issue 17 item 10);
    byte for byte: entries sorted by name (a HAMT's too), and --stream lists each entry as Kubo's
    walk meets it, padded by a tabwriter of its own (columns at least 10 wide)."""
    hamt = tree / "many"
    hamt.mkdir()
    for i in range(60):
        (hamt / f"file-{i}-{i * 7919:x}.txt").write_bytes(b"%d\n" % i)
    (tree / "tab\tname").write_bytes(b"t")
    flags = ["-r", "--max-directory-links=8", "--pin=false"]  # Kubo's add -n would not shard
    root = ours(capsysbinary, "add", "-Q", *flags, str(tree))[1].decode().strip()
    assert kubo_cli.cli("add", "-Q", *flags, str(tree)).stdout.decode().strip() == root
    many = f"{root}/many"
    with Repo(repo) as r:
        assert r.exporter.resolve(many).type.name == "HAMT_SHARD"
    for argv in (["-s", root], ["--stream", root], ["--size=false", root], ["--resolve-type=false", root],
                 ["-v", "-s", root], ["-s", "-l", root], ["-s", "-v", "-l", root], ["-s", "--size=false", root],
                 ["-s", root, f"{root}/sub", root], ["-s", "-v", f"{root}/sub", root, root, many],
                 [root, f"{root}/sub"], [many], ["-s", many], ["-v", "-l", many], ["-s", "-v", many, root]):
        assert ours(capsysbinary, "ls", *argv) == kubos(kubo_cli, "ls", *argv), argv


def test_the_router_says_trying_the_next_tier_only_when_there_is_one(tmp_path, caplog):
    """Issue 17 item 11: the last tier's failure was also followed by "trying the next tier"."""
    from casengine.errors import CidNotFound
    from casengine.nodes.local import LocalNode
    from casengine.routing.backends import NodeBackend
    from casengine.routing.fallback import FallbackBackend, Selection

    with Repo(tmp_path / "a") as a, Repo(tmp_path / "b") as b:
        router = FallbackBackend([("first", NodeBackend(LocalNode(a))), ("second", NodeBackend(LocalNode(b)))],
                                 Selection(("first", "second")))
        with caplog.at_level("WARNING"), pytest.raises(CidNotFound):
            router.cat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and warnings[0].endswith("; trying the next tier")
    assert warnings[1].startswith("cat on tier second failed") and "next tier" not in warnings[1]


def at_terminal(argv: list[str], env: dict, typed: bytes = b"", cwd=None) -> tuple[int, bytes]:
    """Exit code and what a terminal (80 columns, no echo) shows while *argv* runs with stdin,
    stdout and stderr on it, after *typed* and Ctrl-D were typed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    mode = termios.tcgetattr(slave)
    mode[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, mode)
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    os.write(master, typed + b"\x04")
    shown, closed = read_terminal(master)
    if not closed and proc.poll() is None:
        proc.kill()
        pytest.fail(f"{argv} still waits at the terminal after 60 s; it showed {shown!r}")
    return proc.wait(timeout=60), shown


def ours_at_terminal(repo: Path, *argv: str, typed: bytes = b"", cwd=None) -> tuple[int, bytes]:
    env = dict(os.environ, CASENGINE_REPO=str(repo), PYTHONPATH=str(ROOT))
    env.pop("CASENGINE_DISABLE_PROGRESS_BARS", None)
    return at_terminal([sys.executable, "-m", "casengine", *argv], env, typed, cwd)


def kubos_at_terminal(kubo_cli: OfflineKubo, *argv: str, typed: bytes = b"", cwd=None) -> tuple[int, bytes]:
    return at_terminal(["unshare", "--net", str(KUBO), "--offline", *argv], kubo_cli.env, typed, cwd)


def test_add_with_no_argument_at_a_terminal_reads_it_as_kubo(repo, kubo_cli):
    """Kubo says it reads stdin and one Ctrl-D ends it (casengine waited for a second one: its
    buffered stdin read past the terminal's only empty read); the file is named by its CID."""
    for argv in (["add"], ["add", "-"], ["add", "--pin=false", "-"]):
        for typed in (b"hello\n", b""):
            code, shown = kubos_at_terminal(kubo_cli, *argv, typed=typed)
            assert code == 0 and shown.startswith(b"ipfs: Reading from /dev/stdin; send Ctrl-d to stop.\r\n")
            code, mine = ours_at_terminal(repo, *argv, typed=typed)
            assert code == 0 and mine.startswith(b"casengine: Reading from /dev/stdin; send Ctrl-d to stop.\r\n")
            added = re.findall(rb"added Qm\w+ Qm\w+\r\n", shown)
            assert len(added) == 1 and added[0] in mine, (argv, typed, shown, mine)


def test_quiet_turns_the_bar_off_at_a_terminal_as_in_kubo(repo, tmp_path, kubo_cli):
    """-q, -Q and --silent: no bar at a terminal unless -p is given (Kubo's add PreRun)."""
    (tmp_path / "f.txt").write_bytes(b"words\n")
    for flags in (["-q"], ["-Q"], ["--silent"], ["-q", "-p=false"], ["-Q", "--pin=false"]):
        theirs = kubos_at_terminal(kubo_cli, "add", *flags, "f.txt", cwd=tmp_path)
        assert ours_at_terminal(repo, "add", *flags, "f.txt", cwd=tmp_path) == theirs, flags
    for flags in (["-q", "-p"], ["-Q", "--progress=true"], []):  # a bar, then the same lines
        code, shown = kubos_at_terminal(kubo_cli, "add", *flags, "f.txt", cwd=tmp_path)
        code2, mine = ours_at_terminal(repo, "add", *flags, "f.txt", cwd=tmp_path)
        assert code == code2 == 0 and b"6 B / 6 B" in shown and b"add: 100%" in mine, flags
        lines = re.findall(rb"(?:added )?Qm\w+(?: f.txt)?\r\n", shown)
        assert len(lines) == 1 and lines[0] in mine, (flags, shown, mine)


def test_bool_flags_take_values_short_or_long_as_kubo(repo, tree, kubo_cli, capsysbinary, monkeypatch):
    """go-ipfs-cmds: `-p=false`, `-r=true`, `--recursive=false` on any bool, in strconv.ParseBool's
    spellings (T, 0, True); argparse refused a value after a short flag or a switch."""
    monkeypatch.chdir(tree.parent)
    for argv in (["add", "-p=false", "tree/a.txt"], ["add", "-n=false", "tree/a.txt"], ["add", "-Q", "-r=true", "tree"],
                 ["add", "-Q", "-w=false", "tree/a.txt"], ["add", "-Q", "-H=false", "-r=1", "tree"],
                 ["add", "--recursive=false", "-Q", "tree/a.txt"], ["add", "-r=0", "-Q", "tree"],
                 ["add", "-Q=false", "--quiet=True", "tree/a.txt"], ["add", "--pin=T", "-t=F", "-Q", "tree/a.txt"],
                 ["add", "-n=true", "-Q=true", "-r=t", "tree"], ["ls", "-s=false", "-v=true", "--size=0",
                                                                 "QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D"]):
        assert ours(capsysbinary, *argv) == kubos(kubo_cli, *argv), argv
    for argv in (["add", "--pin=yes", "tree/a.txt"], ["add", "-p=maybe", "tree/a.txt"]):
        code, _, err = kubos(kubo_cli, *argv)
        mine = ours(capsysbinary, *argv)
        assert code == 1 and mine[0] == 2 and err.removeprefix(b"Error: ").rstrip() in mine[2], (argv, mine)


def test_cat_progress_as_kubo(repo, tmp_path, kubo_cli, capsysbinary):
    """cat -p/--progress[=BOOL]: a bar only for 8 MiB or more (Kubo's progressBarMinSize)."""
    (tmp_path / "big").write_bytes(os.urandom((8 << 20) + 5))
    (tmp_path / "small").write_bytes(b"small\n")
    cids = [kubo_cli.cli("add", "-Q", str(tmp_path / n)).stdout.decode().strip() for n in ("big", "small")]
    assert [ours(capsysbinary, "add", "-Q", str(tmp_path / n))[1].decode().strip() for n in ("big", "small")] == cids
    big, small = cids
    for argv, bar in ((["-p", big], True), (["--progress", small, big], True), (["-p=false", big], False),
                      (["-p", small], False), (["-p", "-l", "100", big], False), (["-p", "-o", "5", big], True),
                      (["-p", "-o", "6", big], False)):
        code, out, err = ours(capsysbinary, "cat", *argv)
        theirs = kubos(kubo_cli, "cat", *argv)
        assert (code, out) == theirs[:2] and bool(err) == bool(theirs[2]) == bar, argv


def _without_times(tar: bytes) -> bytes:
    """*tar* with each entry's mtime and checksum fields zeroed (for entries whose time is made up)."""
    import io
    import tarfile

    out = bytearray(tar)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        for m in t.getmembers():
            out[m.offset_data - 512 + 136:m.offset_data - 512 + 156] = bytes(20)
    return bytes(out)


def _written(where: Path, made_up_times: bool) -> dict[str, bytes]:
    """The files in *where*: a tar as is (times zeroed if made up), a gzip's header and its content."""
    import gzip

    out = {}
    for f in sorted(where.iterdir()):
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            out[f.name + " header"], data = data[:10], gzip.decompress(data)
        out[f.name] = _without_times(data) if made_up_times and b"ustar\x0000" in data[:512] else data
    return out


def test_get_archive_and_compress_as_kubo(repo, tmp_path, kubo_cli, capsysbinary, monkeypatch):
    """get -a/--archive, -C/--compress, -l/--compression-level (issue 17 item 10): the same file
    names and lines, the tar byte for byte (USTAR, a long path split into prefix and name, PAX for
    non-ASCII and overlong paths and a time before 1970), gzip's header and content."""
    d = tmp_path / "tree"
    deep = d / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / ("f" * 90)).write_bytes(b"deep\n")
    (d / "ünï.txt").write_bytes(b"u\n")
    (d / "tab\tname").write_bytes(b"t\n")
    (d / "big.bin").write_bytes(os.urandom(600_000))
    (d / "empty").mkdir()
    (d / "link").symlink_to("big.bin")
    roots = []
    hamt = d / "many"  # a HAMT: get walks it depth first, in link order
    hamt.mkdir()
    for i in range(60):
        (hamt / f"file-{i}").write_bytes(b"%d\n" % i)
    for meta in (["--mtime=1700000000", "--mode=0750", "--max-directory-links=8", "--pin=false"],
                 ["--mtime=-5", "--mtime-nsecs=600000000", "--max-directory-links=8", "--max-hamt-fanout=8",
                  "--pin=false"], []):
        theirs = kubo_cli.cli("add", "-Q", "-r", *meta, str(d)).stdout.decode().strip()
        assert ours(capsysbinary, "add", "-Q", "-r", *meta, str(d))[1].decode().strip() == theirs
        roots.append(theirs)
    for n, root in enumerate(roots):
        for argv in (["-a", root], ["-a", "-C", root, "-o", "z"], ["-a", "-C", "-l", "1", root, "-o", "one"],
                     ["-a", "-C", "-l=9", root, "-o", "nine.tar"], ["-C", f"{root}/big.bin"],
                     ["-C", f"{root}/link"], ["-a", f"{root}/link"], ["-a", "-o", "x.tar.gz", f"{root}/tab\tname"],
                     ["-C", "-o", "y.tar", f"{root}/ünï.txt"], ["-C", root], ["-C", "-l", "0", f"{root}/big.bin"],
                     ["-C", "-l", "10", f"{root}/big.bin"], ["-l", "3", f"{root}/big.bin", "-o", "plain"],
                     ["-a", f"{root}/{'d' * 60}", "-o", "sub"], ["--archive=true", "--compress=false", root]):
            mine, kubo = tmp_path / f"mine-{n}", tmp_path / f"kubo-{n}"
            for where in mine, kubo:
                shutil.rmtree(where, ignore_errors=True)
                where.mkdir()
            theirs = kubos(kubo_cli, "get", *argv, cwd=kubo)
            monkeypatch.chdir(mine)
            assert ours(capsysbinary, "get", *argv) == theirs, argv
            assert _written(mine, n == 2) == _written(kubo, n == 2), argv


def test_a_tar_header_for_8_gib_or_more_is_pax_as_go_writes_it():
    """Sizes past USTAR's 11 octal digits go in a PAX record, the octal field left zero (Go's
    formatOctal), the extended header named dir/PaxHeaders.0/file."""
    import io
    import tarfile

    from casengine.archive import header

    blocks = header("d/ünï".encode(), b"0", 0o644, 8 << 30, 1700000000)
    assert blocks[:19] == b"d/PaxHeaders.0/n\0\0\0" and blocks[156:157] == b"x"
    assert blocks[512:512 + 35] == b"16 path=d/\xc3\xbcn\xc3\xaf\n19 size=8589934592\n"
    assert blocks[1024 + 124:1024 + 136] == b"00000000000\0"
    member = tarfile.open(fileobj=io.BytesIO(blocks + bytes(1024)), mode="r|").next()
    assert (member.name, member.size, member.mtime) == ("d/ünï", 8 << 30, 1700000000)


ODD_NAMES = ["tab\tname.txt", "back\\slash", 'qu"ote', "new\nline", "a\x01b", "del\x7f", "bell\a", "cr\r", "vt\v",
             "nb\u00a0sp", "zw\u200bsp", "emo\U0001F600ji", "ls\u2028ep", "e\u0301cute", "pri\ue000vate",
             "hi\U000e0001tag", "c1\x85", os.fsdecode(b"half\xe2\x82"), os.fsdecode(b"bad\xe2\x82\tbyte"),
             "ext\U00031350h", "sh\U0001fae8ake", "ka\U00011f00wi"]   # Unicode 15 (Go), not 14 (Python 3.11)


def test_names_are_escaped_as_kubo_escapes_them(repo, tmp_path, kubo_cli, capsysbinary, monkeypatch):
    """EscNonPrint (issue 17 item 10): Go's strconv.Quote of a name with a backslash or an
    unprintable rune, without quotes, '"' as it is; bytes that are not UTF-8 are printable to Go
    (RuneError) and printed as they are, or as \\xNN inside a quoted name; in add's lines, ls and
    ls --stream; a 0xff byte starts (and the next ends) Go's tabwriter escape, whose tabs and
    newlines pass through unaligned."""
    d = tmp_path / "names"
    (d / "ff").mkdir(parents=True)
    for name in ODD_NAMES:
        (d / name).write_bytes(name.encode("utf-8", "surrogateescape"))
    (d / "ff" / os.fsdecode(b"bad\xffutf")).write_bytes(b"ff")
    for name in (b"b\xffopens", b"n\xffcloses"):
        (d / os.fsdecode(name)).write_bytes(name)
    monkeypatch.chdir(tmp_path)
    added = ours(capsysbinary, "add", "-r", "names")
    assert added == kubos(kubo_cli, "add", "-r", "names", cwd=tmp_path) and b"added " in added[1]
    root = added[1].split()[-2].decode()
    for argv in (["ls", root], ["ls", "-s", root], ["ls", "-v", "-s", f"{root}/ff", root], ["ls", f"{root}/ff"],
                 ["ls", "-v", f"{root}/ff", root, root], ["refs", "--format=<linkname>", root]):
        assert ours(capsysbinary, *argv) == kubos(kubo_cli, *argv), argv


def test_repo_gc_and_verify_lines_as_kubo(repo, tmp_path, capsysbinary):
    """repo gc --silent / -q / plain and repo verify's lines (progress, a corrupt block, the
    summary on stderr), against a Kubo repository of their own (gc and a corrupt block touch it)."""
    import base64

    kubo = OfflineKubo()
    (tmp_path / "loose.bin").write_bytes(os.urandom(600_000))  # three leaves and their root
    (tmp_path / "kept.txt").write_bytes(b"kept\n")
    monkey_cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert ours(capsysbinary, "add", "-Q", "kept.txt")[1] == kubos(kubo, "add", "-Q", "kept.txt")[1]
        for gc in (["--silent"], ["-q"], []):
            root = ours(capsysbinary, "add", "-Q", "--pin=false", "loose.bin")[1]
            assert kubos(kubo, "add", "-Q", "--pin=false", "loose.bin")[1] == root
            with Repo(repo) as r:  # as gc prints them: raw CIDv1s
                loose = {str(Cid(1, 0x55, c.multihash)).encode() for c in r.dag_blocks(Cid.parse(root.decode().strip()))}
            mine, theirs = ours(capsysbinary, "repo", "gc", *gc), kubos(kubo, "repo", "gc", *gc)
            assert mine[::2] == theirs[::2] == (0, b""), gc
            if gc == ["--silent"]:
                assert mine[1] == theirs[1] == b""
                continue
            prefix = b"" if gc else b"removed "
            assert set(mine[1].splitlines()) == {prefix + c for c in loose}, gc
            assert loose <= {line.removeprefix(prefix) for line in theirs[1].splitlines()}, gc  # and a block of its init
        root = ours(capsysbinary, "add", "-Q", "loose.bin")[1].decode().strip()
        assert kubos(kubo, "add", "-Q", "loose.bin")[1].decode().strip() == root
    finally:
        os.chdir(monkey_cwd)
    with Repo(repo) as r:
        leaf = next(c for c in r.dag_blocks(Cid.parse(root)) if c != Cid.parse(root))
        r.store.write(lambda txn: txn.put(leaf.multihash, b"rot", db=r.store.blocks))
    key = base64.b32encode(leaf.multihash).decode().rstrip("=")
    (kubo.repo / "blocks" / key[-3:-1] / f"{key}.data").write_bytes(b"rot")
    code, out, err = ours(capsysbinary, "repo", "verify")
    theirs = kubos(kubo, "repo", "verify")
    raw = str(Cid(1, 0x55, leaf.multihash)).encode()
    line = b"block " + raw + b" was corrupt (block in storage has different hash than requested)\n"
    assert code == theirs[0] == 1 and line in out and line in theirs[1]
    assert all(p.endswith(b" blocks processed.") for p in out.replace(line, b"").split(b"\r")[:-1])
    assert err.startswith(theirs[2].rstrip(b"\n") + b" (")  # with how to repair it


def test_cid_base_and_upgrade_on_refs_and_dag_verbs_as_kubo(repo, tree, kubo_cli, capsysbinary, monkeypatch):
    """--cid-base and --upgrade-cidv0-in-output on refs, dag stat, dag put and dag resolve (which
    without --cid-base keeps the base of the path's own CID), as on add and ls (issue 17 item 10:
    refs and dag stat printed CIDv0 whatever was asked)."""
    roots = []
    for flags in ([], ["--cid-version=1"], ["--cid-version=1", "--cid-base=base36"]):
        root = ours(capsysbinary, "add", "-Q", "-r", *flags, str(tree))[1].decode().strip()
        assert kubo_cli.cli("add", "-Q", "-r", *flags, str(tree)).stdout.decode().strip() == root
        roots.append(root)
    (tree.parent / "doc.json").write_bytes(b'{"a": 1}')
    monkeypatch.chdir(tree.parent)
    for flags in (["--cid-base=b"], ["--upgrade-cidv0-in-output"], ["--upgrade-cidv0-in-output=false", "--cid-base=k"],
                  ["--cid-base=base58btc", "--upgrade-cidv0-in-output"], []):
        for argv in (["refs", "-r", roots[0]], ["refs", "-e", "-u", roots[1]], ["dag", "stat", roots[0], roots[2]],
                     ["dag", "stat", "--enc=json", roots[0]], ["dag", "put", "doc.json"], ["ls", roots[0]],
                     ["dag", "resolve", f"{roots[0]}/a.txt"], ["dag", "resolve", f"/ipfs/{roots[2]}/sub"],
                     ["dag", "resolve", "--enc=json", f"{roots[1]}/a.txt"], ["add", "-Q", "-r", "tree"]):
            assert ours(capsysbinary, *argv, *flags) == kubos(kubo_cli, *argv, *flags), (argv, flags)


def test_an_option_given_twice_is_refused_as_kubo(repo, tree, kubo_cli, capsysbinary, monkeypatch):
    """go-ipfs-cmds takes each option once, whatever its spellings (argparse let the last win)."""
    monkeypatch.chdir(tree.parent)
    for argv in (["add", "-Q", "-Q", "tree/a.txt"], ["add", "-Q", "--quieter", "tree/a.txt"],
                 ["add", "-rQ", "-r", "tree"], ["add", "-Qs", "size-10", "-s", "size-20", "tree/a.txt"],
                 ["add", "-n", "--only-hash=true", "tree/a.txt"], ["add", "--pin", "--pin=false", "tree/a.txt"],
                 ["cat", "-o", "1", "--offset", "2", "x"], ["cat", "-l1", "-l", "2", "x"],
                 ["pin", "ls", "-t=recursive", "--type", "recursive"]):
        code, _, err = kubos(kubo_cli, *argv)
        mine = ours(capsysbinary, *argv)
        assert code == 1 and err.startswith(b"Error: multiple values for option ") and mine[:2] == (2, b"")
        assert mine[2].endswith(err.removeprefix(b"Error: ")), (argv, mine)
    assert ours(capsysbinary, "add", "-Qssize-10", "tree/a.txt")[:2] == kubos(kubo_cli, "add", "-Qssize-10", "tree/a.txt")[:2]


def test_json_escapes_as_go_writes_them(repo, tmp_path, kubo_cli, capsysbinary):
    """--enc=json as Go's json.Encoder writes strings: <, >, & as \\u003c \\u003e \\u0026, U+2028 as
    \\u2028, and a byte that is not UTF-8 as \\ufffd (casengine wrote them as they were)."""
    d = tmp_path / "odd"
    d.mkdir()
    for name in ("l<t&g>.txt", os.fsdecode(b"bad\xffx\xe2\x80\xa8ls")):
        (d / name).write_bytes(b"x")
    root = ours(capsysbinary, "add", "-Q", "-r", str(d))[1].decode().strip()
    assert kubo_cli.cli("add", "-Q", "-r", str(d)).stdout.decode().strip() == root
    for argv in (["refs", "--format=<linkname> & <dst>", "--enc=json", root], ["refs", "-e", "--enc=json", root],
                 ["pin", "add", "--name", "a<b>&c", "--enc=json", root], ["pin", "ls", "--names", "--enc=json", root]):
        assert ours(capsysbinary, *argv) == kubos(kubo_cli, *argv), argv
