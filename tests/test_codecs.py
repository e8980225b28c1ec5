"""Codecs: round trips, Kubo's byte layout, and typed errors (never a crash) on malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine.dag import pb, unixfs, varint
from casengine.dag.cid import Cid
from casengine.dag.unixfs import DataType, UnixFSData, UnixTime
from casengine.errors import DagPbError, DecodeError, InvalidCid, UnixFSError
from casengine.exporter import Exporter
from casengine.stores.memory import MemoryStore

HELLO = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")

cids = st.sampled_from([HELLO, HELLO.to_v1(), Cid(1, 0x55, HELLO.multihash), Cid(1, 0x55, b"\x00\x03abc")])
links = st.builds(pb.PBLink, cids, st.one_of(st.none(), st.text(max_size=8)), st.one_of(st.none(), st.integers(0, 2**63)))
nodes = st.builds(pb.PBNode, st.lists(links, max_size=4), st.one_of(st.none(), st.binary(max_size=40)))
times = st.builds(UnixTime, st.integers(-2**63, 2**63 - 1), st.one_of(st.none(), st.integers(0, 999_999_999)))
fsdata = st.builds(UnixFSData, st.sampled_from(list(DataType)), st.one_of(st.none(), st.binary(max_size=20)),
                   st.one_of(st.none(), st.integers(0, 2**64 - 1)), st.lists(st.integers(0, 2**64 - 1), max_size=4),
                   st.one_of(st.none(), st.integers(0, 2**64 - 1)), st.one_of(st.none(), st.integers(0, 2**64 - 1)),
                   st.one_of(st.none(), st.integers(0, 2**32 - 1)), st.one_of(st.none(), times))


@given(nodes)
def test_dag_pb_round_trip(node):
    assert pb.decode(pb.encode(node)) == node


@given(fsdata)
def test_unixfs_round_trip(data):
    assert unixfs.decode(unixfs.encode(data)) == data


@given(st.builds(UnixFSData, st.just(DataType.FILE), st.binary(max_size=300), st.integers(0, 2**64 - 1),
                 st.lists(st.integers(0, 2**64 - 1), max_size=2), mode=st.one_of(st.none(), st.integers(0, 2**32 - 1))))
def test_file_leaves_round_trip_from_bytes_and_views(data):
    """Type, Data, Filesize alone (every file leaf Kubo writes) are read in one step, anything more
    field by field: both give what was encoded, from bytes and from a view."""
    block = unixfs.encode(data)
    assert unixfs.decode(block) == data == unixfs.decode(memoryview(block))


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(n):
    assert varint.decode(varint.encode(n), 0) == (n, len(varint.encode(n)))


def test_kubo_link_layout():
    """Kubo writes Hash, an empty Name, then Tsize, links before Data (seen in blocks Kubo stored)."""
    block = pb.encode(pb.PBNode([pb.PBLink(HELLO, "", 12)], b"\x08\x02"))
    assert block.hex() == "1228" + "0a22" + bytes(HELLO).hex() + "1200" + "180c" + "0a020802"


@pytest.mark.parametrize("bad,why", [
    (b"\x0a\x00\x12\x00", "field after Data"),
    (b"\x12\x00", "link without Hash"),
    (b"\x12\x04\x12\x00\x0a\x00", "link fields out of order"),
    (b"\x1a\x00", "unknown field"),
    (b"\x0a\x05ab", "runs past the end"),
    (b"\x0a\x80", "truncated varint"),
    (b"\x12\x03\x0a\x01\x00", "hash that is not a CID"),
    (b"\x0a\x80\x00", "non-minimal varint"),
])
def test_dag_pb_rejects(bad, why):
    with pytest.raises(DagPbError):
        pb.decode(bad)


@pytest.mark.parametrize("bad", [b"", b"\x08\x09", b"\x10\x01", b"\x0a\x00", b"\x08", b"\x08\x02\x12\x05ab",
                                 b"\x08\x02\x42\x00", b"\x08\x02\x15\x01"])
def test_unixfs_rejects(bad):
    with pytest.raises(UnixFSError):
        unixfs.decode(bad)


@settings(max_examples=3000)
@given(st.binary(max_size=300))
def test_decoders_raise_only_typed_errors(blob):
    for decode in (pb.decode, unixfs.decode, Cid.from_bytes):
        try:
            decode(blob)
        except DecodeError:
            pass


@settings(max_examples=1000)
@given(st.text(max_size=80))
def test_cid_parse_raises_only_invalid_cid(text):
    try:
        Cid.parse(text)
    except InvalidCid:
        pass


_CODECS = st.sampled_from([0x55, 0x70, 0x71, 0x0129, 0x0200, 0xB1])
_MULTIHASHES = st.one_of(st.binary(min_size=32, max_size=32).map(lambda d: b"\x12\x20" + d),
                         st.binary(max_size=60).map(lambda d: b"\x00" + bytes([len(d)]) + d),
                         st.binary(min_size=32, max_size=32).map(lambda d: b"\x1e\x20" + d))


@settings(max_examples=500)
@given(st.integers(0, 1), _CODECS, _MULTIHASHES)
def test_cid_text_equals_multiformats(version, codec, mh):
    """The stdlib base58btc/base32 forms casengine writes and reads equal the multiformats package's."""
    from multiformats import CID

    if version == 0 and (codec != 0x70 or mh[:2] != b"\x12\x20"):
        version = 1
    cid = Cid(version, codec, mh)
    theirs = CID.decode(bytes(cid))
    text = str(theirs) if version == 0 else theirs.encode("base32")
    assert str(cid) == text
    assert Cid.parse(text) == cid
    v1 = cid.to_v1()
    assert Cid.parse(v1.encode("base36")) == v1  # a base other than the two written without multiformats
    assert Cid.parse(CID.decode(bytes(v1)).encode("base58btc")) == v1


@settings(max_examples=1500)
@given(st.binary(max_size=200))
def test_exporter_on_garbage_blocks_raises_typed_errors(blob):
    """A hash-valid but malformed block (as from CAR import) yields a typed error, never a crash."""
    from casengine.dag.multihash import SHA2_256
    from casengine.errors import CasError
    store = MemoryStore()
    cid = Cid(0, 0x70, SHA2_256.digest(blob))
    store.put(cid, blob)
    ex = Exporter(store)
    for op in (lambda: ex.read(cid), lambda: ex.ls(cid), lambda: ex.read(cid, 1, 3)):
        try:
            op()
        except CasError:
            pass
