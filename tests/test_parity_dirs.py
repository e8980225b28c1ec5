"""Directory import parity with real Kubo (`ipfs add -r`): nesting, unicode names, empty
directories, dotfiles, symlinks, -w, and HAMT sharding on both sides of the threshold.

Truth: the `truth` fixture (tests/truths.py): each test body runs against Kubo 0.22 (the oracle,
casengine `--profile kubo-0.22`) and Kubo 0.43.1 (its defaults, or a profile applied in its repo,
with --max-directory-links and --max-hamt-fanout too). Both add directories like
`ipfs add -r --hidden`; for casengine's default (dotfiles skipped) the same tree is written
without its dotfiles for Kubo.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine.dag.directory import estimated_link_size
from casengine.errors import InvalidOption
from casengine.importer import Importer
from casengine.options import ImportOptions

from strategies import Content, trees, write_tree



def our_cid(path: str, profile: str = "kubo-0.22", **opts) -> str:
    return str(Importer(None, ImportOptions.from_profile(profile, only_hash=True, **opts)).add_path(path).cid)


def thresholds(truth, low: int = 1, high: int = 12000) -> st.SearchStrategy[int]:
    """HAMT thresholds: any for Kubo 0.22 (set per call); for Kubo 0.43.1, which reads it only at
    start-up (a daemon per value), a few values spread over the same range."""
    if truth.modern:
        return st.sampled_from(sorted({low, 100, 500, 2000, 5000, high}))
    return st.integers(low, high)


@st.composite
def directory_options(draw, truth) -> dict:
    """Kubo 0.43.1's directory flags (and HAMT threshold), including values it refuses."""
    opts: dict = {}
    if not truth.modern:
        return opts
    if draw(st.integers(0, 2)) == 0:
        opts["max_directory_links"] = draw(st.sampled_from([-1, 0, 1, 2, 3]))
    if draw(st.integers(0, 2)) == 0:
        opts["max_hamt_fanout"] = draw(st.sampled_from([0, 7, 8, 16, 64, 256, 1024, 2048]))
    if draw(st.integers(0, 2)) == 0:
        opts["shard_threshold"] = draw(st.sampled_from([1, 100, 300]))
    return opts


_counter = iter(range(10**9))


def fresh(tmp_path, name: str = "root") -> str:
    """A new directory path per hypothesis example (the tmp_path fixture is shared by examples)."""
    return os.path.join(tmp_path, str(next(_counter)), name)


@settings(max_examples=250)
@given(data=st.data(), tree=trees(), hidden=st.booleans(), wrap=st.booleans(),
       opts=st.sampled_from([{}, {"cid_version": 1}, {"chunker": "size-100", "trickle": True},
                             {"hash": "blake3"}, {"inline": True}, {"raw_leaves": True}, {"hash": "sha2-512"}]))
def test_random_trees_match_kubo(truth, tmp_path, data, tree, hidden, wrap, opts):
    profile = data.draw(st.sampled_from(truth.profiles), "profile")
    opts = {**opts, **data.draw(directory_options(truth), "directory options")}
    ours, theirs = fresh(tmp_path), fresh(tmp_path)
    write_tree(ours, tree)
    write_tree(theirs, tree, skip_hidden=not hidden)
    error = truth.error(theirs, profile, wrap_with_directory=wrap, **opts)
    if error is not None:
        with pytest.raises(InvalidOption) as e:
            our_cid(ours, truth.ours(profile), hidden=hidden, wrap_with_directory=wrap, **opts)
        assert str(e.value) == error
    else:
        assert our_cid(ours, truth.ours(profile), hidden=hidden, wrap_with_directory=wrap, **opts) == \
            truth.cid(theirs, profile, wrap_with_directory=wrap, **opts)


@settings(max_examples=60)
@given(data=st.data(), count=st.integers(1, 400), name_len=st.integers(1, 40), cid_version=st.sampled_from([0, 1]))
def test_sharding_threshold_matches_kubo(truth, tmp_path, data, count, name_len, cid_version):
    """Random directory sizes against random thresholds, sub-shards included; for Kubo 0.43.1 under
    each profile too (unixfs-v1-2025 estimates the encoded block, not names + CIDs)."""
    profile = data.draw(st.sampled_from(truth.profiles), "profile")
    threshold = data.draw(thresholds(truth), "threshold")
    root = fresh(tmp_path)
    os.makedirs(root)
    for i in range(count):
        with open(os.path.join(root, f"{i:x}".rjust(name_len, "n")[-max(name_len, 3):]), "w") as f:
            f.write(str(i))
    assert our_cid(root, truth.ours(profile), cid_version=cid_version, shard_threshold=threshold) == \
        truth.cid(root, profile, cid_version=cid_version, shard_threshold=threshold)


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_exact_threshold_is_sharded_in_kubo_0431_only_above(kubo43, tmp_path, delta):
    """Kubo 0.43.1 shards when the link estimate passes the threshold (>), casengine's default."""
    root = fresh(tmp_path)
    os.makedirs(root)
    for i in range(20):
        with open(os.path.join(root, f"file{i:02d}"), "w") as f:
            f.write("x")
    threshold = 20 * (len("file00") + 34) + delta   # each link: name + 34 CIDv0 bytes
    ours = str(Importer(None, ImportOptions(only_hash=True, shard_threshold=threshold)).add_path(root).cid)
    assert ours == kubo43.cid(root, shard_threshold=threshold)
    assert (ours == our_cid(root, shard_threshold=1)) == (delta < 0)


def test_kubo_0431_only_hash_drops_the_directory_flags(kubo43, tmp_path):
    """Kubo 0.43.1's quirk that Kubo0431 (tests/truths.py) works around: `ipfs add -n` ignores
    --max-directory-links and --max-hamt-fanout, `ipfs add` does not; casengine's -n gives the
    CID of what `ipfs add` stores."""
    root = fresh(tmp_path)
    write_tree(root, {f"f{i}": Content(i, "random", i) for i in range(5)})
    for flags in ({"max_directory_links": 2}, {"max_directory_links": 2, "max_hamt_fanout": 8}):
        stored = kubo43.cid(root, only_hash=False, **flags)
        assert kubo43.cid(root, **flags) == kubo43.cid(root) != stored
        assert str(Importer(None, ImportOptions(only_hash=True, **flags)).add_path(root).cid) == stored


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_exact_threshold_is_sharded_in_kubo_022(kubo, tmp_path, delta):
    """Kubo 0.22 shards when the link estimate reaches the threshold (>=), not only above it."""
    root = fresh(tmp_path)
    os.makedirs(root)
    paths = []
    for i in range(20):
        paths.append(os.path.join(root, f"file{i:02d}"))
        with open(paths[-1], "w") as f:
            f.write("x")
    # each link: len(name) + 34 (CIDv0); every file holds "x", so every CID has the same length
    estimate = sum(len(os.path.basename(p)) + 34 for p in paths)
    threshold = estimate + delta
    ours = our_cid(root, shard_threshold=threshold)
    assert ours == kubo.cid(root, shard_threshold=threshold)
    sharded = our_cid(root, shard_threshold=1)
    assert (ours == sharded) == (delta <= 0)


def test_estimate_counts_name_bytes_and_cid_bytes():
    from casengine.dag.cid import Cid
    from casengine.dag.file import DagRef
    ref = DagRef(Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"), 20, 12)
    assert estimated_link_size("é", ref) == 2 + 34


def test_wrap_several_paths_and_nested_empty_dirs(truth, tmp_path):
    base = fresh(tmp_path, "base")
    write_tree(base, {"a": {"b": {"c": {}}}, "f": Content(10, "random", 1), ".h": Content(3, "zeros", 0)})
    assert our_cid(base, truth.ours(None), hidden=True) == truth.cid(base)
    options = ImportOptions.from_profile(truth.ours(None), only_hash=True, wrap_with_directory=True, hidden=True)
    wrapped = str(Importer(None, options).add_paths([os.path.join(base, "a"), os.path.join(base, "f")]).cid)
    both = fresh(tmp_path, "both")
    write_tree(both, {"a": {"b": {"c": {}}}, "f": Content(10, "random", 1)})
    assert wrapped == truth.cid(both)


def test_hundred_thousand_entries_shard_like_kubo(truth, tmp_path):
    """One directory of 100k entries (a multi-level HAMT), as for a dataset of small files."""
    root = fresh(tmp_path)
    os.makedirs(root)
    for i in range(100_000):
        with open(os.path.join(root, f"sample-{i:06d}.json"), "w") as f:
            f.write('{"i": %d}' % (i % 97))
    for profile in truth.profiles[:1] + truth.profiles[2:]:   # unixfs-v0-2015 shards as Kubo's defaults do
        assert our_cid(root, truth.ours(profile)) == truth.cid(root, profile)
    assert our_cid(root, truth.ours(None), cid_version=1) == truth.cid(root, cid_version=1)
