"""The block store conformance suite: every store subclasses :class:`StoreTests`.

In the manner of zarr-python's ``StoreTests``: a subclass provides a ``store`` fixture (an
empty store) and :meth:`StoreTests.tamper` (change a stored block's bytes behind the store's
back); every test here then runs against it. The memory and LMDB stores subclass it below;
remote tiers and the tiered store subclass it from their own test modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import closing

import lmdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casengine.dag import multihash
from casengine.dag.cid import DAG_CBOR, DAG_PB, RAW, Cid
from casengine.errors import CidNotFound, CorruptBlock, StoreError
from casengine.stores.base import BatchWriter, Blockstore, verify
from casengine.stores.lmdb import LmdbStore
from casengine.stores.memory import MemoryStore

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = dict(max_examples=40, suppress_health_check=[*settings.default.suppress_health_check,
                                                        HealthCheck.differing_executors])  # one test, one store per subclass


def raw(data: bytes, hash: str = "sha2-256") -> Cid:
    return Cid(1, RAW, multihash.get(hash).digest(data))


def v0(data: bytes) -> Cid:
    return Cid(0, DAG_PB, multihash.SHA2_256.digest(data))


def identity(data: bytes) -> Cid:
    return Cid(1, RAW, b"\x00" + bytes([len(data)]) + data)


class StoreTests:
    """What every Blockstore must do. Subclasses provide ``store`` and ``tamper``."""

    @pytest.fixture
    def store(self) -> Blockstore:
        raise NotImplementedError

    def tamper(self, store: Blockstore, cid: Cid, data: bytes) -> None:
        """Replace the stored bytes of *cid* with *data*, bypassing every check."""
        raise NotImplementedError

    # -- get / put / has ------------------------------------------------------------------------
    def test_put_then_get_returns_the_bytes(self, store):
        cid = raw(b"hello")
        store.put(cid, b"hello")
        assert store.get(cid) == b"hello"
        assert store.has(cid) and cid in store

    def test_missing_block_is_cid_not_found(self, store):
        cid = raw(b"absent")
        assert not store.has(cid) and cid not in store
        with pytest.raises(CidNotFound, match="CID not found") as e:
            store.get(cid)
        assert isinstance(e.value, LookupError) and str(cid) in str(e.value)

    def test_keyed_by_multihash_so_v0_and_v1_share_one_copy(self, store):
        data = b"\x0a\x02hi"
        store.put(v0(data), data)
        for cid in (v0(data), v0(data).to_v1(), raw(data)):
            assert store.get(cid) == data
        store.put(raw(data), data)
        assert len(store) == 1 and store.size() == len(data)

    def test_identity_blocks_are_never_stored(self, store):
        cid = identity(b"tiny")
        store.put(cid, b"tiny")
        assert store.get(cid) == b"tiny" and store.has(cid)
        assert len(store) == 0 and store.size() == 0 and list(store.iterate()) == []
        assert not store.delete(cid)

    def test_put_accepts_buffers(self, store):
        data = bytearray(b"x" * 1000)
        store.put_many([(raw(b"x" * 1000), memoryview(data)), (raw(b"y"), b"y")])
        assert store.get(raw(b"x" * 1000)) == b"x" * 1000 and store.get(raw(b"y")) == b"y"

    def test_empty_block(self, store):
        store.put(raw(b""), b"")
        assert store.get(raw(b"")) == b"" and len(store) == 1

    def test_other_hash_functions(self, store):
        for name in ("sha2-512", "blake3", "blake2b-256", "sha3-256"):
            data = name.encode() * 10
            store.put(raw(data, name), data)
            assert store.get(raw(data, name)) == data

    # -- delete / iterate / size ----------------------------------------------------------------
    def test_delete_and_delete_many(self, store):
        blocks = [os.urandom(100 + i) for i in range(10)]
        store.put_many([(raw(b), b) for b in blocks])
        assert store.delete(raw(blocks[0])) and not store.delete(raw(blocks[0]))
        assert store.delete_many([raw(b) for b in blocks[:5]] + [raw(b"never stored")]) == 4
        assert sorted(store.iterate()) == sorted(raw(b) for b in blocks[5:])
        assert store.size() == sum(map(len, blocks[5:]))
        with pytest.raises(CidNotFound):
            store.get(raw(blocks[1]))

    def test_iterate_yields_raw_cidv1_of_every_block(self, store):
        data = [b"a" * 10, b"\x0a\x00", b"c"]
        store.put_many([(raw(data[0]), data[0]), (v0(data[1]), data[1]), (raw(data[2], "blake3"), data[2])])
        assert sorted(store.iterate()) == sorted([raw(data[0]), raw(data[1]), raw(data[2], "blake3")])
        assert sorted(store) == sorted(store.iterate()) and len(store) == 3
        assert sorted(store.multihashes()) == sorted(c.multihash for c in store.iterate())

    @settings(**SETTINGS)
    @given(st.lists(st.tuples(st.sampled_from(["put", "delete"]), st.binary(max_size=300)), max_size=40))
    def test_agrees_with_a_dict(self, store, ops):
        model = {cid.multihash: store.get(cid) for cid in store.iterate()}
        for op, data in ops:
            cid = raw(data)
            if op == "put":
                store.put(cid, data)
                model[cid.multihash] = data
            else:
                assert store.delete(cid) == (model.pop(cid.multihash, None) is not None)
        assert sorted(store.multihashes()) == sorted(model)
        assert store.size() == sum(map(len, model.values())) and len(store) == len(model)
        for mh, data in model.items():
            assert store.get(Cid(1, RAW, mh)) == data

    def test_links_of_every_codec(self, store):
        import dag_cbor
        from multiformats import CID

        from casengine.dag import pb
        leaf = pb.encode(pb.PBNode([], b"\x08\x02\x12\x03abc\x18\x03"))
        node = pb.encode(pb.PBNode([pb.PBLink(v0(leaf), "", len(leaf)), pb.PBLink(raw(b"r"), "x", 1)], b"\x08\x01"))
        doc = dag_cbor.encode({"a": [CID.decode(str(v0(node)))], "b": {"c": CID.decode(str(raw(b"r")))}})
        cbor = Cid(1, DAG_CBOR, multihash.SHA2_256.digest(doc))
        store.put_many([(v0(leaf), leaf), (v0(node), node), (raw(b"r"), b"r"), (cbor, doc), (v0(b""), b"")])
        assert store.links(v0(node)) == [v0(leaf), raw(b"r")]
        assert store.links(v0(leaf)) == [] and store.links(raw(b"r")) == [] and store.links(v0(b"")) == []
        assert store.links(cbor) == [v0(node), raw(b"r")]
        with pytest.raises(CidNotFound):
            store.links(v0(b"\x0a\x00"))

    # -- verified reads ---------------------------------------------------------------------------
    def test_a_changed_byte_is_detected_on_the_next_read(self, store):
        data = os.urandom(5000)
        cid = v0(data)
        store.put(cid, data)
        assert store.get(cid) == data
        flipped = bytearray(data)
        flipped[1234] ^= 0x01
        self.tamper(store, cid, bytes(flipped))
        with pytest.raises(CorruptBlock) as e:
            store.get(cid)
        assert e.value.cid == cid and str(cid) in str(e.value)
        assert store.get(cid, verified=False) == bytes(flipped)  # the caller may opt out
        with pytest.raises(CorruptBlock):
            list(store.get_many([cid]))
        assert [(c.multihash, p) for c, p in store.corrupt()] == [(cid.multihash, "bytes do not match the CID's hash")]

    def test_get_many_keeps_order_and_verifies(self, store):
        blocks = [os.urandom(1000 + i) for i in range(30)]
        store.put_many([(raw(b), b) for b in blocks])
        cids = [raw(b) for b in blocks]
        assert list(store.get_many(cids)) == blocks
        assert list(store.get_many(cids[::-1], verified=False, ahead=1)) == blocks[::-1]
        with pytest.raises(CidNotFound):
            list(store.get_many(cids[:3] + [raw(b"missing")]))
        self.tamper(store, cids[17], b"not the block")
        got = []
        with pytest.raises(CorruptBlock) as e:
            for block in store.get_many(cids):
                got.append(block)
        assert e.value.cid == cids[17] and got == blocks[:17]

    def test_get_many_views_are_the_verified_blocks(self, store):
        """With views a store may answer from its own memory: the same bytes, as verified."""
        blocks = [os.urandom(100_000 + i) for i in range(30)]
        cids = [raw(b) for b in blocks] + [identity(b"id")]
        store.put_many(zip(cids, blocks))
        with closing(store.get_many(cids, views=True)) as got:
            assert [bytes(b) for b in got] == blocks + [b"id"]  # copied before the iterator ends
        self.tamper(store, cids[20], b"not the block")
        seen = 0
        with pytest.raises(CorruptBlock) as e:
            for block in store.get_many(cids, views=True):
                assert bytes(block) == blocks[seen]
                seen += 1
        assert e.value.cid == cids[20] and seen == 20

    def test_nothing_corrupt_in_a_good_store(self, store):
        store.put_many([(raw(b"ok"), b"ok"), (raw(b"ok", "blake3"), b"ok")])
        assert list(store.corrupt()) == []

    # -- batches -----------------------------------------------------------------------------------
    def test_batch_writer_writes_everything_by_flush(self, store):
        blocks = [os.urandom(300) for _ in range(100)]
        writer = BatchWriter(store, max_bytes=1000, max_blocks=7)
        for b in blocks:
            writer(raw(b), b)
        writer.flush()
        assert sorted(store.iterate()) == sorted(raw(b) for b in blocks)
        writer.flush()  # nothing pending: a no-op

    def test_batch_writer_reports_a_failed_batch(self, store):
        calls = []
        original = store.put_many

        def put_many(items):  # the store's own, failing on the second batch
            calls.append(len(items))
            if len(calls) == 2:
                raise StoreError("disk full")
            original(items)
        store.put_many = put_many
        writer = BatchWriter(store, max_blocks=2)
        with pytest.raises(StoreError, match="disk full"):
            for i in range(10):
                writer(raw(bytes([i])), bytes([i]))
            writer.flush()

    def test_threads_share_a_store(self, store):
        def work(seed: int) -> None:
            for i in range(50):
                data = f"{seed}-{i}".encode()
                store.put(raw(data), data)
                assert store.get(raw(data)) == data
        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store) == 200


def test_verify_accepts_truncated_digests_and_identity():
    data = b"abc"
    full = multihash.SHA2_256.digest(data)
    verify(Cid(1, RAW, b"\x12\x14" + full[2:22]), data)  # --mhlen 20
    with pytest.raises(CorruptBlock):
        verify(Cid(1, RAW, b"\x12\x14" + full[3:23]), data)
    with pytest.raises(CorruptBlock):  # longer than the function's digest: never valid
        verify(Cid(1, RAW, b"\x12\x21" + full[2:] + b"\x00"), data)
    verify(identity(data), data)
    with pytest.raises(CorruptBlock):
        verify(identity(data), b"abd")
    with pytest.raises(CorruptBlock, match="cannot verify"):
        verify(Cid(1, DAG_CBOR, b"\x1c\x30" + bytes(48)), data)  # keccak-384: Kubo allows it, not computable here


class TestMemoryStore(StoreTests):
    @pytest.fixture
    def store(self):
        return MemoryStore()

    def tamper(self, store, cid, data):
        store._blocks[cid.multihash] = data


class TestLmdbStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path):
        s = LmdbStore(tmp_path / "lmdb", map_size=1 << 20)  # tiny: every test also grows the map
        yield s
        s.close()

    def tamper(self, store, cid, data):
        """Overwrite the value in LMDB directly, as a bad disk or a stray writer would."""
        store.write(lambda txn: txn.put(cid.multihash, data, db=store.blocks))

    def test_a_flipped_byte_in_the_data_file_is_detected(self, store, tmp_path):
        data = os.urandom(100_000)
        cid = v0(data)
        store.put(cid, data)
        store.durable()
        path = tmp_path / "lmdb" / "data.mdb"
        with open(path, "r+b") as f:  # find the block's bytes in the file and flip one bit
            content = f.read()
            at = content.index(data[:4096]) + 54321
            f.seek(at)
            f.write(bytes([content[at] ^ 0x10]))
        with pytest.raises(CorruptBlock) as e:
            store.get(cid)
        assert e.value.cid == cid
        assert [c.multihash for c, _ in store.corrupt()] == [cid.multihash]

    def test_the_map_grows_by_itself(self, store):
        blocks = [os.urandom(256 << 10) for _ in range(40)]  # 10 MiB into a 1 MiB map
        for i in range(0, 40, 8):
            store.put_many([(raw(b), b) for b in blocks[i:i + 8]])
        assert store.env.info()["map_size"] >= 10 << 20
        assert list(store.get_many([raw(b) for b in blocks])) == blocks

    def test_map_growth_waits_for_open_views(self, store):
        """A writer that must grow the map waits while another thread reads views (a resize
        would unmap them), and the reader's nested reads do not wait for that writer."""
        blocks = [os.urandom(200_000) for _ in range(4)]
        cids = [raw(b) for b in blocks]
        store.put_many(zip(cids, blocks))
        views = store.get_many(cids, views=True)
        first = next(views)
        size = store.env.info()["map_size"]
        big = [os.urandom(256 << 10) for _ in range(8)]  # 2 MiB: more than the map holds
        writer = threading.Thread(target=store.put_many, args=([(raw(b), b) for b in big],))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and store.env.info()["map_size"] == size
        assert store.get(cids[1]) == blocks[1]  # a nested read in the reading thread goes ahead
        assert bytes(first) == blocks[0] and [bytes(b) for b in views] == blocks[1:]
        writer.join(30)
        assert not writer.is_alive() and store.env.info()["map_size"] > size
        assert all(store.get(raw(b)) == b for b in big)

    def test_one_environment_per_process_and_path(self, store, tmp_path):
        other = LmdbStore(tmp_path / "lmdb")  # LMDB refuses a second open: the two share one
        assert other.env is store.env
        other.put(raw(b"x"), b"x")
        other.close()
        assert store.get(raw(b"x")) == b"x"

    def test_a_map_grown_by_another_process_is_adopted(self, store, tmp_path):
        store.put(raw(b"before"), b"before")
        size = store.env.info()["map_size"]
        child = (f"import os, sys; sys.path.insert(0, {REPO_ROOT!r})\n"
                 "from casengine.stores.lmdb import LmdbStore\n"
                 "from casengine.dag import multihash\nfrom casengine.dag.cid import Cid\n"
                 f"s = LmdbStore({str(tmp_path / 'lmdb')!r}, map_size=1 << 20)\n"
                 "for i in range(16):\n"
                 "    b = os.urandom(1 << 20)\n"
                 "    s.put(Cid(1, 0x55, multihash.SHA2_256.digest(b)), b)\n")
        subprocess.run([sys.executable, "-c", child], check=True)
        assert len(store) == 17                     # reads past our old map end
        store.put(raw(b"after"), b"after")          # and writes
        assert store.env.info()["map_size"] > size and store.get(raw(b"before")) == b"before"

    def test_a_store_of_another_format_is_refused(self, store, tmp_path):
        store.write(lambda txn: txn.put(b"format", b"2", db=store._meta))
        with pytest.raises(StoreError, match="has format 2; this casengine reads format 1"):
            LmdbStore(tmp_path / "lmdb")
        store.put(raw(b"x"), b"x")  # the refusal closed only the new handle
        assert store.get(raw(b"x")) == b"x"

    def test_unopenable_path_is_a_store_error(self, tmp_path):
        (tmp_path / "file").write_bytes(b"")
        with pytest.raises(StoreError, match="cannot open block store"):
            LmdbStore(tmp_path / "file" / "sub")

    def test_writes_are_batched_one_transaction_per_batch(self, store):
        before = store.env.info()["last_txnid"]
        store.put_many([(raw(bytes([i, j])), bytes([i, j])) for i in range(10) for j in range(100)])
        assert store.env.info()["last_txnid"] - before == 1
        before = store.env.info()["last_txnid"]
        assert store.delete_many([raw(bytes([i, 0])) for i in range(10)]) == 10
        assert store.env.info()["last_txnid"] - before == 1


def test_lmdb_keeps_the_value_layout_readable_by_plain_lmdb(tmp_path):
    """The format is plain LMDB: a ``blocks`` database of multihash -> block bytes."""
    s = LmdbStore(tmp_path / "db")
    s.put(raw(b"plain"), b"plain")
    s.close()
    env = lmdb.open(str(tmp_path / "db"), max_dbs=8, readonly=True)
    with env.begin() as txn:
        assert txn.get(raw(b"plain").multihash, db=env.open_db(b"blocks", txn=txn, create=False)) == b"plain"
    env.close()
