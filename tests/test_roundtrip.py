"""Export equals input: for every option combination, files and trees come back byte-identical,
and `cat` with offset/length equals slicing (reading only the blocks a range needs)."""

from __future__ import annotations

import os
import subprocess
from contextlib import closing

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from casengine.errors import InvalidOption, IsADirectory
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.options import ImportOptions
from casengine.stores.lmdb import LmdbStore
from casengine.stores.memory import MemoryStore

from strategies import add_options, chunk_size, contents, trees, write_tree



class CountingStore(MemoryStore):
    """A memory store that counts reads, to show which blocks a read touched."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def _get(self, multihash: bytes):
        self.reads += 1
        return super()._get(multihash)


def accepted(opts: dict) -> ImportOptions | None:
    try:
        options = ImportOptions(**opts)
        options.resolve()
        return options
    except InvalidOption:
        return None


@settings(max_examples=400)
@given(data=st.data(), opts=add_options(chunk_sizes=(1, 3, 16, 1000, 262144)))
def test_files_round_trip_and_slice(data, opts):
    options = accepted(opts)
    if options is None:
        return
    blob = data.draw(contents(min(chunk_size(opts["chunker"]), 1000))).bytes()
    store = MemoryStore()
    root = Importer(store, options).add_bytes(blob).cid
    ex = Exporter(store)
    assert ex.read(root) == blob
    offset = data.draw(st.integers(0, len(blob)))
    length = data.draw(st.one_of(st.none(), st.integers(0, len(blob) + 5)))
    assert ex.read(root, offset, length) == blob[offset:None if length is None else offset + length]


@settings(max_examples=100)
@given(data=st.data(), opts=add_options(chunk_sizes=(1, 3, 16, 1000, 262144)))
def test_cat_from_store_views_equals_slicing(tmp_path_factory, data, opts):
    """cat(views=True) out of LMDB: leaves read as views of the map, decoded from their header."""
    options = accepted(opts)
    if options is None:
        return
    blob = data.draw(contents(min(chunk_size(opts["chunker"]), 1000))).bytes()
    with LmdbStore(tmp_path_factory.mktemp("lmdb")) as store:
        root = Importer(store, options).add_bytes(blob).cid
        offset = data.draw(st.integers(0, len(blob)))
        length = data.draw(st.one_of(st.none(), st.integers(0, len(blob) + 5)))
        with closing(Exporter(store).cat(root, offset, length, views=True)) as pieces:
            got = b"".join(bytes(piece) for piece in pieces)  # each copied before the next
    assert got == blob[offset:None if length is None else offset + length]


@settings(max_examples=120)
@given(tree=trees(), opts=st.sampled_from([{}, {"cid_version": 1}, {"trickle": True, "chunker": "size-7"},
                                           {"inline": True, "shard_threshold": 60}, {"hash": "sha3-256"}]))
@example(tree={"0": {"0": "->a"}, "00": {"0": "->a"}}, opts={})  # sibling dirs reuse a closed dir's fd
def test_trees_round_trip(tmp_path_factory, tree, opts):
    base = tmp_path_factory.mktemp("tree")
    src, out = str(base / "src"), str(base / "out")
    write_tree(src, tree)
    store = MemoryStore()
    root = Importer(store, ImportOptions(hidden=True, **opts)).add_path(src).cid
    Exporter(store).get(root, out)
    diff = subprocess.run(["diff", "-r", "--no-dereference", src, out], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_range_read_touches_only_needed_blocks():
    blob = os.urandom(174 * 1000 * 3)
    store = CountingStore()
    root = Importer(store, ImportOptions(chunker="size-1000")).add_bytes(blob).cid
    store.reads = 0
    assert Exporter(store).read(root, 300_000, 1500) == blob[300_000:301_500]
    assert store.reads <= 1 + 1 + 3  # root, one level-1 node, at most three leaves


def test_cat_errors_are_typed_like_kubo(tmp_path):
    """Kubo's rules (t0040): negative offset or length fail, an offset at or past the end gives nothing."""
    store = MemoryStore()
    ex = Exporter(store)
    root = Importer(store).add_bytes(b"Hello Worlds!\n").cid
    with pytest.raises(InvalidOption, match="negative offset"):
        list(ex.cat(root, -1))
    with pytest.raises(InvalidOption, match="negative length"):
        list(ex.cat(root, 0, -102))
    assert ex.read(root, 100) == b""
    assert ex.read(root, 14) == b""
    assert ex.read(root, 5, 0) == b""
    assert ex.read(root, 10) == b"ds!\n"
    (tmp_path / "hello.txt").write_bytes(b"Hello Worlds!\n")
    wrapped = Importer(store, ImportOptions(wrap_with_directory=True)).add_path(tmp_path / "hello.txt").cid
    with pytest.raises(IsADirectory):
        list(ex.cat(wrapped))
    assert ex.read(f"/ipfs/{wrapped}/hello.txt") == b"Hello Worlds!\n"
