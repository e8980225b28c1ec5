"""UnixFS 1.5 metadata and the other `ipfs add` flags since Kubo 0.22 (--preserve-mode,
--preserve-mtime, --mode, --mtime, --mtime-nsecs, --empty-dirs, --dereference-symlinks, the
2 MiB block limit), against real Kubo 0.43.1.

Truth: Kubo 0.43.1 from the `kubo43` fixture: `ipfs add -r --hidden --pin=false` over its RPC
API, sent as the CLI sends it (each entry's mode and mtime included). Not `-n`: Kubo 0.43.1's
`add -n` fails on any directory holding a symlink once metadata is on ("ipld: could not find
<the symlink's CID>"; its only-hash MFS root cannot read back the symlink node), while the real
add succeeds, and casengine's `-n` gives the real add's CID. Refusals are compared word for word.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine.chunker import BLOCK_SIZE_LIMIT
from casengine.errors import CasError
from casengine.importer import Importer
from casengine.options import ImportOptions

from peers.kubo43 import add as kubo43_add
from peers.kubo43.rpc import KuboError, call
from strategies import Content, trees, write_tree

#: casengine's options for each Kubo 0.43.1 repo the fixture has (None: Kubo's implicit defaults,
#: which imply raw leaves with CIDv1 as 0.22's do, shard only above the threshold, 2 MiB blocks).
PROFILE = {None: ("kubo-0.22", dict(shard_at_threshold=False, block_size_limit=BLOCK_SIZE_LIMIT)),
           "unixfs-v0-2015": ("unixfs-v0-2015", {}), "unixfs-v1-2025": ("unixfs-v1-2025", {})}
#: --mode values: plain, setuid/setgid/sticky in POSIX spelling (Kubo drops them) and in Go's
#: FileMode bits (Kubo keeps them), bits with no permission left, a type bit, decimal 755.
MODES = [0o644, 0o755, 0o600, 0o4755, 0o2750, 0o1777, 0o1000, (1 << 23) | 0o750, (1 << 22) | (1 << 20) | 0o700,
         0o100644, 755, 0o7777, 1 << 31, 1]
#: modes given to the files on disk (--preserve-mode)
DISK_MODES = [0o644, 0o755, 0o600, 0o000, 0o4755, 0o2711, 0o1777, 0o7777, 0o444, 0o321]
MTIMES = st.one_of(st.sampled_from([0, 1, -1, 10**9, 2**31, -(2**31), 2**40]), st.integers(-(2**40), 2**40))

_counter = iter(range(10**9))


def fresh(tmp_path, name: str = "root") -> str:
    return os.path.join(tmp_path, str(next(_counter)), name)


def paths_of(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for name, value in tree.items():
        out.append(prefix + name)
        if isinstance(value, dict):
            out += paths_of(value, prefix + name + "/")
    return out


def stamp(root: str, rel: str, mode: int, mtime_ns: int) -> None:
    """Give one entry (a symlink itself, not its target) a mode and an mtime."""
    path = os.path.join(root, rel) if rel else root
    if not os.path.lexists(path):
        return
    if not os.path.islink(path):
        os.chmod(path, mode)
    os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def ours(path: str, profile: tuple[str, dict] | str, **opts) -> str:
    name, defaults = (profile, {}) if isinstance(profile, str) else profile
    options = ImportOptions.from_profile(name, only_hash=True, **{**defaults, **opts})
    return str(Importer(None, options).add_path(path).cid)


def kubo_add(kubo43, path: str, profile: str | None, flags: tuple[str, ...], **opts) -> str:
    """The root CID of Kubo's real add (unpinned), or "refused: <Kubo's words>"."""
    daemon = kubo43.daemon(profile, opts.pop("shard_threshold", None))
    query = [(k, v) for k, v in kubo43_add.params(opts, flags) if k != "only-hash"] + [("pin", "false")]
    body, ctype = kubo43_add.body(Path(path), "--dereference-symlinks" in flags)
    try:
        return kubo43_add.root(call(daemon.api_socket, "add", params=query, body=body, content_type=ctype))
    except KuboError as e:
        return f"refused: {e}"
    except ConnectionError:  # refused before it read the body: ask the CLI for its words
        try:
            return kubo43.cid(path, profile=profile, flags=(*flags, "--stdin-name=unused"), **opts)
        except KuboError as e:
            return f"refused: {e}"


def compare(kubo43, path_ours: str, path_kubo: str, profile, opts: dict, flags: list[str], kubo_opts: dict) -> None:
    try:
        mine = ours(path_ours, PROFILE[profile], **opts)
    except CasError as e:
        mine = f"refused: {e}"
    assert mine == kubo_add(kubo43, path_kubo, profile, tuple(flags), **kubo_opts), (opts, flags, kubo_opts)


@st.composite
def metadata_flags(draw) -> tuple[dict, list[str]]:
    """(ImportOptions fields, the same as `ipfs add` flags)."""
    opts: dict = {}
    flags: list[str] = []
    for name in ("preserve_mode", "preserve_mtime"):
        if draw(st.booleans()):
            opts[name] = True
            flags.append(f"--{name.replace('_', '-')}")
    if draw(st.booleans()):
        opts["mode"] = draw(st.sampled_from(MODES))
        flags.append(f"--mode={opts['mode']:#o}".replace("0o", "0"))
    if draw(st.booleans()):
        opts["mtime"] = draw(MTIMES)
        flags.append(f"--mtime={opts['mtime']}")
        if draw(st.booleans()):
            opts["mtime_nsecs"] = draw(st.sampled_from([0, 1, 500_000_000, 999_999_999, 10**9]))
            flags.append(f"--mtime-nsecs={opts['mtime_nsecs']}")
    elif draw(st.integers(0, 7)) == 0:
        opts["mtime_nsecs"] = 5
        flags.append("--mtime-nsecs=5")
    return opts, flags


@st.composite
def layout_options(draw) -> tuple[dict, dict]:
    """(ImportOptions fields, the same as kubo43.cid opts)."""
    opts: dict = {}
    if draw(st.booleans()):
        opts["cid_version"] = draw(st.sampled_from([0, 1]))
    if draw(st.integers(0, 2)) == 0:
        opts["raw_leaves"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        opts["trickle"] = True
    opts["chunker"] = draw(st.sampled_from(["size-262144", "size-100", "size-7"]))
    return opts, dict(opts)


@settings(max_examples=100)
@given(tree=trees(max_leaves=8), meta=metadata_flags(), layout=layout_options(), data=st.data(),
       wrap=st.booleans(), empty_dirs=st.booleans(),
       profile=st.sampled_from([None, None, "unixfs-v0-2015", "unixfs-v1-2025"]))
def test_trees_with_metadata_match_kubo(kubo43, tmp_path, tree, meta, layout, data, wrap, empty_dirs, profile):
    (opts, flags), (lopts, kopts) = meta, layout
    a, b = fresh(tmp_path), fresh(tmp_path)
    write_tree(a, tree)
    write_tree(b, tree)
    for rel in ["", *paths_of(tree)]:
        mode = data.draw(st.sampled_from(DISK_MODES), label=f"mode {rel!r}")
        ns = data.draw(st.integers(-(2**40), 2**40) | st.integers(0, 10**9), label=f"mtime_ns {rel!r}")
        for root in (a, b):
            stamp(root, rel, mode, ns)
    if not empty_dirs:
        flags.append("--empty-dirs=false")
    compare(kubo43, a, b, profile, dict(opts, **lopts, hidden=True, wrap_with_directory=wrap, empty_dirs=empty_dirs),
            flags, dict(kopts, wrap=wrap))


@settings(max_examples=50)
@given(content=st.builds(Content, st.sampled_from([0, 1, 99, 100, 101, 1000, 70000]),
                         st.sampled_from(["random", "zeros"]), st.integers(0, 2**32)),
       meta=metadata_flags(), layout=layout_options(), wrap=st.booleans(),
       disk_mode=st.sampled_from(DISK_MODES), disk_ns=st.integers(-(2**40), 2**40),
       profile=st.sampled_from([None, "unixfs-v1-2025"]))
def test_files_with_metadata_match_kubo(kubo43, tmp_path, content, meta, layout, wrap, disk_mode, disk_ns, profile):
    """A single file: metadata lands on its root, which metadata makes dag-pb (no raw leaves)."""
    (opts, flags), (lopts, kopts) = meta, layout
    paths = []
    for _ in range(2):
        path = fresh(tmp_path, "f.bin")
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(content.bytes())
        stamp(path, "", disk_mode, disk_ns)
        paths.append(path)
    compare(kubo43, paths[0], paths[1], profile, dict(opts, **lopts, wrap_with_directory=wrap), flags,
            dict(kopts, wrap=wrap))


@settings(max_examples=15)
@given(count=st.integers(30, 120), meta=metadata_flags(), disk_ns=st.integers(0, 2**34),
       estimate=st.sampled_from([None, "unixfs-v1-2025"]))
def test_hamt_root_carries_metadata_like_kubo(kubo43, tmp_path, count, meta, disk_ns, estimate):
    """A sharded directory: mode and mtime on the HAMT's root only; its threshold under "block"
    counts them."""
    opts, flags = meta
    a, b = fresh(tmp_path), fresh(tmp_path)
    for root in (a, b):
        write_tree(root, {f"entry-{i:04d}": Content(i % 5, "random", i) for i in range(count)})
        for i in range(count):
            stamp(root, f"entry-{i:04d}", 0o600 + i % 3, disk_ns + i)
        stamp(root, "", 0o750, disk_ns)
    threshold = 40 * count
    mine_opts = dict(opts, hidden=True, shard_threshold=threshold)
    try:
        mine = ours(a, PROFILE[estimate], **mine_opts)
    except CasError as e:
        mine = f"refused: {e}"
    assert mine == kubo_add(kubo43, b, estimate, tuple(flags), shard_threshold=threshold)


@pytest.mark.parametrize("profile", [None, "unixfs-v1-2025"])
def test_dereference_symlinks_matches_kubo(kubo43, tmp_path, profile):
    """Nested symlinks to files and directories become their targets' content."""
    trees_ = []
    for n in range(2):
        root = tmp_path / str(n) / "root"
        write_tree(str(root), {"a.txt": Content(300, "random", 1), "d": {"x": Content(5, "random", 2)}, "e": {}})
        os.symlink("a.txt", root / "link-file")
        os.symlink("d", root / "link-dir")
        os.symlink("../a.txt", root / "d" / "up")
        for i, rel in enumerate(["a.txt", "d", "d/x", "e", "link-file", "link-dir", "d/up", ""]):
            stamp(str(root), rel, 0o640 + i, (10**9 + i) * 10**9 + i)
        trees_.append(root)
    for flags in ((), ("--dereference-symlinks",)):
        opts = dict(hidden=True, dereference_symlinks=bool(flags))
        assert ours(str(trees_[0]), PROFILE[profile], **opts) == kubo43.cid(trees_[1], profile=profile, flags=flags)
    opts = dict(hidden=True, dereference_symlinks=True, preserve_mtime=True, preserve_mode=True, raw_leaves=False)
    flags = ("--dereference-symlinks", "--preserve-mtime", "--preserve-mode", "--raw-leaves=false")
    assert ours(str(trees_[0]), PROFILE[profile], **opts) == kubo_add(kubo43, str(trees_[1]), profile, flags)


@pytest.mark.parametrize("spec", ["size-1048576", "size-1048577", "size-2096896", "size-2096897",
                                  "rabin-16-1000-2096896", "rabin-16-1000-2096897", "rabin-1397930",
                                  "rabin-1397931"])
def test_two_mib_block_limit_matches_kubo(kubo43, tmp_path, spec):
    """Kubo 0.40+ takes chunks up to 2 MiB - 256 bytes; the kubo-0.22 profile keeps 1 MiB."""
    path = tmp_path / "big.bin"
    path.write_bytes(Content(2200000, "random", 7).bytes())
    try:
        mine = ours(str(path), PROFILE[None], chunker=spec)
    except CasError as e:
        mine = f"refused: {e}"
    try:
        theirs = kubo43.cid(path, chunker=spec)
    except KuboError as e:
        theirs = f"refused: {e}"
    assert mine == theirs
    if spec in ("size-1048577", "size-2096896"):
        with pytest.raises(CasError, match="maximum chunk size of 1048576"):
            ours(str(path), "kubo-0.22", chunker=spec)


def _tree_stat(root: str) -> dict[str, tuple[int, int]]:
    """{relative path: (mode bits, mtime ns)} of everything under *root*, symlinks themselves."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in ["", *dirs, *files] if base == root else [*dirs, *files]:
            path = os.path.join(base, name) if name else base
            st = os.lstat(path)
            mode = st.st_mode & 0o7777 if not os.path.islink(path) else None
            out[os.path.relpath(path, root)] = (mode, st.st_mtime_ns)
    return out


@settings(max_examples=10)
@given(tree=trees(max_leaves=6), meta=metadata_flags(), data=st.data())
def test_get_restores_and_ls_long_shows_metadata_like_kubo(kubo43, tmp_path, tree, meta, data):
    """`get` writes what Kubo's `ipfs get` writes (mode incl. setuid/setgid/sticky, else 0644 /
    0755; the stored mtime to the ns, symlinks' too; where none is stored both write "now") and
    `ls -l` prints Kubo's columns. Times stay within years 0-9999: Kubo's ls cannot encode others
    (Go's time.MarshalJSON refuses them)."""
    from casengine.cli import main
    from casengine.repo import Repo

    opts, flags = meta
    if opts.get("mtime_nsecs", 0) > 999_999_999 or (opts.get("mtime_nsecs") and not opts.get("mtime")) \
            or abs(opts.get("mtime", 0)) > 2**34:
        return
    a, b = fresh(tmp_path), fresh(tmp_path)
    write_tree(a, tree)
    write_tree(b, tree)
    for rel in ["", *paths_of(tree)]:
        mode = data.draw(st.sampled_from(DISK_MODES), label=f"mode {rel!r}")
        # not within a day of ls's six-month and next-day boundaries (now moves between the two ls)
        ns = data.draw(st.sampled_from([-(2**40) * 10**9 // 2**20, 10**17, 17 * 10**17 + 7, 2 * 10**18]), label="ns")
        for root in (a, b):
            stamp(root, rel, mode | 0o700 if not rel else mode, ns)
    cid = kubo_add(kubo43, b, None, tuple(flags))
    assert not cid.startswith("refused"), cid
    repo_dir = fresh(tmp_path, "repo")
    with Repo(repo_dir) as repo:
        ours_cid = str(repo.add(a, ImportOptions.from_profile("kubo-0.22", hidden=True, **opts)).cid)
    assert ours_cid == cid
    out_kubo, out_ours = fresh(tmp_path, "got"), fresh(tmp_path, "got")
    kubo43.cli("get", cid, "-o", out_kubo)
    assert main(["get", cid, "-o", out_ours, "--repo", repo_dir]) == 0
    mine, theirs = _tree_stat(out_ours), _tree_stat(out_kubo)
    if not (opts.get("mtime") or opts.get("preserve_mtime")):  # no mtime stored: both "now"
        mine, theirs = ({k: v[0] for k, v in d.items()} for d in (mine, theirs))
    assert mine == theirs
    kubo_ls = kubo43.cli("ls", "-l", "-v", cid).stdout.decode()
    import contextlib, io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["ls", "-l", "-v", cid, "--repo", repo_dir]) == 0
    assert buf.getvalue() == kubo_ls

