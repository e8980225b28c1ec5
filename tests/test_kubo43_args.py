"""What Kubo 0.41-0.43 changed in how CIDs are printed and taken, and pin names: `--cid-base`
(a CIDv0 printed as CIDv1 in any base but base58btc), `ipfs://CID`, `ipfs:CID` and `/ipfs/CID`
arguments, `pin add --name`, `pin ls --names`, `add --pin-name`.

Truth: the Kubo 0.43.1 CLI of the `kubo43` fixture against its offline daemon; the outputs and
refusals are compared byte for byte.
"""

from __future__ import annotations

import pytest

from casengine.cli import main

from strategies import Content, write_tree


@pytest.mark.parametrize("base", ["base32", "base58btc", "base36", "base16upper", "z", "k", "base64url", "nope", ""])
def test_cid_base_prints_like_kubo(kubo43, tmp_path, base, capsys):
    """`add` and `ls` with --cid-base: Kubo 0.41+ prints a CIDv0 as CIDv1 in any base but base58btc;
    an unknown base is refused in Kubo's words."""
    d = tmp_path / "d"
    write_tree(str(d), {"a": Content(10, "random", 1), "s": {"b": Content(0, "zeros", 0)}})
    for version in ("0", "1"):
        kubo = kubo43.cli("add", "-n", "-r", f"--cid-version={version}", f"--cid-base={base}", str(d), check=False)
        code = main(["add", "-n", "-r", f"--cid-version={version}", f"--cid-base={base}", str(d)])
        out, err = capsys.readouterr()
        assert (code, out, err) == (kubo.returncode, kubo.stdout.decode(), kubo.stderr.decode())
    if base in ("nope", ""):
        return
    cid = kubo43.cli("add", "-Q", "-r", str(d)).stdout.decode().strip()
    repo = str(tmp_path / "repo")
    assert main(["add", "-Q", "-r", "--repo", repo, str(d)]) == 0
    capsys.readouterr()
    assert main(["ls", "--repo", repo, f"--cid-base={base}", cid]) == 0
    assert capsys.readouterr().out == kubo43.cli("ls", f"--cid-base={base}", cid).stdout.decode()


@pytest.mark.parametrize("form", ["{cid}", "/ipfs/{cid}", "ipfs://{cid}", "ipfs:{cid}", "IPFS://{cid}", "ipfs://{v1}"])
def test_uri_arguments_like_kubo(kubo43, tmp_path, form, capsysbinary):
    capsys = capsysbinary
    """Kubo 0.43: cat, ls, block stat and pin add take ipfs://CID and ipfs:CID as they take /ipfs/CID."""
    d = tmp_path / "d"
    write_tree(str(d), {"a": Content(1000, "random", 3), "s": {"b": Content(5, "random", 4)}})
    cid = kubo43.cli("add", "-Q", "-r", str(d)).stdout.decode().strip()
    repo = str(tmp_path / "repo")
    assert main(["add", "-Q", "-r", "--repo", repo, str(d)]) == 0
    capsys.readouterr()
    v1 = kubo43.cli("cid", "base32", cid).stdout.decode().strip()
    arg = form.format(cid=cid, v1=v1)
    for argv in (["cat", f"{arg}/a"], ["ls", arg], ["ls", f"{arg}/s"], ["block", "stat", arg], ["pin", "add", arg]):
        kubo = kubo43.cli(*argv, check=False)
        code = main([*argv, "--repo", repo])
        out, err = capsys.readouterr()
        assert (code, out, err) == (kubo.returncode, kubo.stdout, kubo.stderr), argv


def test_pin_names_like_kubo(kubo43, tmp_path, capsys):
    """`pin add --name`, `add --pin-name`, `pin ls --names` / `-n` and their refusals, as Kubo 0.43.1
    prints them (pins sorted: Kubo prints its map in any order)."""
    d = tmp_path / "d"
    write_tree(str(d), {"a": Content(100, "random", 5), "s": {"b": Content(7, "random", 6)}})
    repo = str(tmp_path / "repo")
    kubo = lambda *argv: kubo43.cli(*argv, check=False)  # noqa: E731

    def same(*argv: str, sort: bool = False) -> None:
        theirs = kubo(*argv)
        code = main([*argv, "--repo", repo])
        out, err = capsys.readouterr()
        got, want = out.splitlines(), theirs.stdout.decode().splitlines()
        if sort:
            got, want = sorted(got), sorted(want)
        assert (code, got, err) == (theirs.returncode, want, theirs.stderr.decode()), argv

    for name in ("model-v1", "é 名前", "x" * 256):
        same("add", "-r", "-Q", f"--pin-name={name}", str(d))
    same("add", "-Q", "--pin=false", "--pin-name=x", str(d / "a"))
    same("add", "-Q", "-n", "--pin-name=x", str(d / "a"))
    root = kubo("add", "-r", "-Q", "-n", str(d)).stdout.decode().strip()
    sub = kubo("add", "-Q", "-n", str(d / "a")).stdout.decode().strip()
    same("pin", "add", "--name=leaf", "-r=false", sub)
    # restrict the listings to this test's pins: Kubo's repo holds other tests' pins
    ours_pins = {root, sub}
    for argv in (["pin", "ls", "--names", "-t", "recursive"], ["pin", "ls", "--names", "-t", "direct"],
                 ["pin", "ls", "-n", "model", "-t", "recursive"], ["pin", "ls", "-t", "direct"]):
        theirs = [line for line in kubo(*argv).stdout.decode().splitlines() if line.split()[0] in ours_pins]
        assert main([*argv, "--repo", repo]) == 0
        assert sorted(capsys.readouterr().out.splitlines()) == sorted(theirs), argv
    same("pin", "ls", "--names", root)
    same("pin", "ls", "--names", "--enc=json", root)
    same("pin", "add", "--name=" + "y" * 256, root)
