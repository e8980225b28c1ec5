"""Kubo 0.43.1's command-line parsing and name escaping beside the real binary (issue 17 item 10),
with the helpers of test_kubo_words."""

from __future__ import annotations

from test_kubo_words import kubo_cli, kubos, ours, repo, tree  # noqa: F401 (fixtures)


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
