"""CID profiles (IPIP-499): every CID that Kubo and IPIP-499 publish for `unixfs-v0-2015` and
`unixfs-v1-2025` comes out of casengine under that profile, and `kubo-0.22` is still Kubo 0.22
(the default, `kubo-0.43`, is proven against Kubo 0.43.1 in test_parity_*.py).

Sources (each vector names its own):
- KUBO: ipfs/kubo test/cli/cid_profiles_test.go at c626ee94 (chunk-size and +1 byte vectors).
- KUBO_OLD: the same file at 00fb95d6, where "over max links" was one whole chunk more.
- IPIP: ipfs/specs src/ipips/ipip-0499.md at 0188e10e, section "Test fixtures".
Inputs are made as Kubo's tests make them: a file is the ChaCha20 keystream with key
sha256(seed) and a zero nonce (test/cli/testutils/random_deterministic.go); a directory holds
files containing "x", named by keystream bytes mapped onto testutils.AlphabetEasy
(createDeterministicFiles in test/cli/add_test.go).

The Kubo 0.22 oracle (`kubo`) checks those inputs and the kubo-0.22 profile. It cannot take
the options Kubo added later (file/directory max links, fanout, the `block` estimate, `>`), so
for them the published CIDs are the truth, plus a few equivalences Kubo 0.22 can check.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from casengine.cli import main
from casengine.dag.cid import RAW, CidBuilder
from casengine.dag.directory import DirectoryWriter, ShardingRule
from casengine.dag.file import DagRef, put_block
from casengine.dag.multihash import SHA2_256
from casengine.dag.unixfs import DataType
from casengine.errors import InvalidOption
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.options import ImportOptions
from casengine.stores.memory import MemoryStore

from strategies import Content, trees, write_tree


KUBO = "kubo test/cli/cid_profiles_test.go@c626ee94"
KUBO_OLD = "kubo test/cli/cid_profiles_test.go@00fb95d6"
IPIP = "specs src/ipips/ipip-0499.md@0188e10e"
V0, V1 = "unixfs-v0-2015", "unixfs-v1-2025"
KIB, MIB = 1 << 10, 1 << 20


class Keystream(io.RawIOBase):
    """Kubo's DeterministicRandomReaderBytes(size, seed), produced as it is read (bounded memory)."""

    def __init__(self, seed: str, size: int):
        key = hashlib.sha256(seed.encode()).digest()
        self._cipher = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self._left)
        if n:
            self._cipher.update_into(bytes(n), memoryview(buf)[:n])
            self._left -= n
        return n


#: testutils.AlphabetEasy: 39 runes, "0" twice (names index it with byte % 39).
ALPHABET_EASY = "abcdefghijklmnopqrstuvwxyz01234567890-_"


def deterministic_dir(path: str, count: int, name_len: int, last_len: int, seed: str) -> str:
    """createDeterministicFiles: *count* files holding "x"; the last name has *last_len* runes."""
    os.makedirs(path)
    names = Keystream(seed, MIB)
    for i in range(count):
        raw = names.read(last_len if i == count - 1 else name_len)
        with open(os.path.join(path, "".join(ALPHABET_EASY[b % len(ALPHABET_EASY)] for b in raw)), "w") as f:
            f.write("x")
    assert len(os.listdir(path)) == count  # no name drawn twice
    return path


def cid_of(source: bytes | io.RawIOBase | str, profile: str = "kubo-0.22", **overrides) -> str:
    importer = Importer(None, ImportOptions.from_profile(profile, only_hash=True, **overrides))
    if isinstance(source, str):
        return str(importer.add_path(source).cid)
    return str((importer.add_bytes(source) if isinstance(source, bytes) else importer.add_stream(source)).cid)


def write_file(path: str, stream: io.RawIOBase) -> str:
    with open(path, "wb") as f:
        while block := stream.read(MIB):
            f.write(block)
    return path


# -- published file vectors --------------------------------------------------------------------------

FILES = [  # profile, content (bytes, or (size, seed) of keystream), CID, sources
    pytest.param(V0, b"hello world", "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD", (KUBO, IPIP),
                 id="v0-small-file"),
    pytest.param(V0, (256 * KIB, "chunk-v0-seed"), "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE", (KUBO,),
                 id="v0-file-at-chunk-size"),
    pytest.param(V0, (256 * KIB + 1, "chunk-v0-seed"), "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ", (KUBO,),
                 id="v0-file-over-chunk-size"),
    pytest.param(V0, (174 * 256 * KIB, "v0-seed"), "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2",
                 (KUBO, KUBO_OLD, IPIP), id="v0-file-at-max-links"),
    pytest.param(V0, (174 * 256 * KIB + 1, "v0-seed"), "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW", (KUBO,),
                 id="v0-file-over-max-links-by-a-byte"),
    pytest.param(V0, (175 * 256 * KIB, "v0-seed"), "QmepeWtdmS1hHXx1oZXsPUv6bMrfRRKfZcoPPU4eEfjnbf",
                 (KUBO_OLD, IPIP), id="v0-file-over-max-links-by-a-chunk"),
    pytest.param(V1, b"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", (KUBO, IPIP),
                 id="v1-small-file"),
    pytest.param(V1, (MIB, "chunk-v1-seed"), "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta", (KUBO,),
                 id="v1-file-at-chunk-size"),
    pytest.param(V1, (MIB + 1, "chunk-v1-seed"), "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
                 (KUBO,), id="v1-file-over-chunk-size"),
    pytest.param(V1, (1024 * MIB, "v1-2025-seed"), "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm",
                 (KUBO, KUBO_OLD, IPIP), id="v1-file-at-max-links"),
    pytest.param(V1, (1024 * MIB + 1, "v1-2025-seed"), "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe",
                 (KUBO,), id="v1-file-over-max-links-by-a-byte"),
    pytest.param(V1, (1025 * MIB, "v1-2025-seed"), "bafybeihmzokxxjqwxjcryerhp5ezpcog2wcawfryb2xm64xiakgm4a5jue",
                 (KUBO_OLD, IPIP), id="v1-file-over-max-links-by-a-chunk"),
]


def content_of(content) -> bytes | Keystream:
    return content if isinstance(content, bytes) else Keystream(content[1], content[0])


@pytest.mark.parametrize("profile,content,cid,sources", FILES)
def test_published_file_vectors(profile, content, cid, sources):
    """Files up to 1025 MiB, streamed from the keystream generator (never held in memory)."""
    assert cid_of(content_of(content), profile) == cid


@pytest.mark.parametrize("profile,content,cid,sources", [p for p in FILES if p.values[0] == V0])
def test_kubo_022_default_has_the_v0_file_dags(profile, content, cid, sources):
    """The profiles differ only in directories: every v0 file vector is also the default's CID."""
    assert cid_of(content_of(content)) == cid


# -- published directory vectors ---------------------------------------------------------------------

DIRS = [  # profile, (files, name length, last name length, seed), CID, root type, sources
    pytest.param(V0, (4096, 30, 30, "hamt-unixfs-v0-2015"), "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN",
                 DataType.DIRECTORY, (KUBO, IPIP), id="v0-dir-at-threshold"),
    pytest.param(V0, (4033, 31, 31, "hamt-unixfs-v0-2015"), "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP",
                 DataType.HAMT_SHARD, (KUBO, IPIP), id="v0-dir-over-threshold"),
    pytest.param(V1, (4766, 11, 21, "hamt-unixfs-v1-2025"),
                 "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4",
                 DataType.DIRECTORY, (KUBO, IPIP), id="v1-dir-at-threshold"),
    pytest.param(V1, (4766, 11, 22, "hamt-unixfs-v1-2025"),
                 "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu",
                 DataType.HAMT_SHARD, (KUBO, IPIP), id="v1-dir-over-threshold"),
]


@pytest.mark.parametrize("profile,spec,cid,root_type,sources", DIRS)
def test_published_directory_vectors(tmp_path, profile, spec, cid, root_type, sources):
    """Exactly at the 256 KiB threshold a directory stays basic, one byte over it is a HAMT; the
    estimate is name + CID bytes under v0 and the node's encoded size under v1."""
    root = deterministic_dir(str(tmp_path / "d"), *spec)
    store = MemoryStore()
    ref = Importer(store, ImportOptions.from_profile(profile)).add_path(root)
    assert str(ref.cid) == cid
    node = Exporter(store).node(ref.cid)
    assert node.type == root_type
    if root_type == DataType.DIRECTORY:  # the size checks of Kubo's test
        if profile == V1:
            assert len(node.block) == 262144
        else:
            assert sum(len(link.name) + len(bytes(link.cid)) for link in node.pb.links) == 262144


@pytest.mark.parametrize("profile,cid", [(V0, "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"),
                                         (V1, "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354")])
def test_published_empty_directory(tmp_path, profile, cid):
    """IPIP-499 "Additional test vectors" (the UnixFS spec's empty directory CIDs)."""
    (tmp_path / "empty").mkdir()
    assert cid_of(str(tmp_path / "empty"), profile) == cid


def test_published_dirs_through_the_cli(tmp_path, capsys):
    root = deterministic_dir(str(tmp_path / "d"), 4766, 11, 21, "hamt-unixfs-v1-2025")
    assert main(["add", "-r", "-n", "-Q", "--profile", V1, root]) == 0
    assert capsys.readouterr().out == "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4\n"


# -- real Kubo 0.22: the inputs, the >= of kubo-0.22, and the > of the new profiles ------------------

def test_kubo_022_on_the_v0_directory_inputs(kubo, tmp_path):
    """Kubo 0.22 itself gives the published HAMT one byte over the threshold (so the inputs are
    Kubo's), but shards the directory exactly at it: that is the `>=` the kubo-0.22 profile
    keeps and unixfs-v0-2015 (Kubo 0.40) drops."""
    over = deterministic_dir(str(tmp_path / "over"), 4033, 31, 31, "hamt-unixfs-v0-2015")
    assert kubo.cid(over) == cid_of(over) == "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP"
    at = deterministic_dir(str(tmp_path / "at"), 4096, 30, 30, "hamt-unixfs-v0-2015")
    assert kubo.cid(at) == cid_of(at) == cid_of(at, V0, shard_threshold=1)
    assert cid_of(at, V0) == "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN"
    assert cid_of(at, shard_at_threshold=False) == cid_of(at, V0)


@pytest.mark.parametrize("size,cid", [(MIB, "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta"),
                                      (MIB + 1, "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64")])
def test_kubo_022_agrees_on_v1_files_below_174_chunks(kubo, tmp_path, size, cid):
    """Below 174 chunks the 1024-link width does not show: Kubo 0.22 with the profile's file flags
    gives the published v1 CIDs (a check of the keystream input by real Kubo)."""
    path = write_file(str(tmp_path / "f"), Keystream("chunk-v1-seed", size))
    assert kubo.cid(path, cid_version=1, chunker="size-1048576") == cid_of(path, V1) == cid


@settings(max_examples=40)
@given(count=st.integers(1, 300), name_len=st.integers(3, 40),
       delta=st.one_of(st.integers(-2, 2), st.integers(-5000, 5000)), profile=st.sampled_from([V0, "kubo-0.22"]))
def test_greater_than_threshold_is_kubo_022_at_threshold_plus_one(kubo, tmp_path_factory, count, name_len,
                                                                    delta, profile):
    """With the `links` estimate (whole bytes), "shard above t" is Kubo 0.22's "shard at t + 1";
    thresholds are drawn around the directory's own estimate, so `>` and `>=` both get tested."""
    root = tmp_path_factory.mktemp("gt") / "d"
    root.mkdir()
    names = [f"{i:x}".rjust(name_len, "n") for i in range(count)]
    for i, name in enumerate(names):
        (root / name).write_text(str(i))
    threshold = max(1, sum(len(name) + 34 for name in names) + delta)  # CIDv0: 34 bytes
    ours = cid_of(str(root), profile, cid_version=0, shard_threshold=threshold, shard_at_threshold=False)
    assert ours == kubo.cid(root, shard_threshold=threshold + 1)


@settings(max_examples=60)
@given(tree=trees(), opts=st.sampled_from([{}, {"cid_version": 1}, {"chunker": "size-7"},
                                           {"chunker": "size-3", "trickle": True}, {"raw_leaves": True}]))
def test_new_knobs_at_kubo_022_values_change_nothing(kubo, tmp_path_factory, tree, opts):
    """Giving every new option its Kubo 0.22 value explicitly is still Kubo 0.22 (files of up to
    3000 bytes in 3- and 7-byte chunks cross the 174-link boundary)."""
    root = str(tmp_path_factory.mktemp("knobs") / "t")
    write_tree(root, tree)
    explicit = dict(max_links=174, max_directory_links=0, max_hamt_fanout=256, shard_threshold=262144,
                    shard_estimate="links", shard_at_threshold=True)
    assert cid_of(root, "kubo-0.22", hidden=True, **explicit, **opts) == kubo.cid(root, **opts)


# -- explicit options override a profile, as flags override Kubo's Import.* config ------------------

def test_overrides_follow_kubos_config_rules(kubo, tmp_path):
    """Kubo (core/commands/add.go) takes a flag when given, else the Import.* value the profile set:
    so v1 + --raw-leaves=false is CIDv1 with dag-pb leaves, v0 + --cid-version=1 keeps dag-pb leaves
    (the profile sets UnixFSRawLeaves=false explicitly), v1 + --cid-version=0 keeps raw leaves."""
    data = Content(3 * MIB + 5, "random", 7).bytes()
    path = str(tmp_path / "f")
    with open(path, "wb") as f:
        f.write(data)
    big = dict(chunker="size-1048576")
    assert cid_of(data, V1, raw_leaves=False) == kubo.cid(path, cid_version=1, raw_leaves=False, **big)
    assert cid_of(data, V0, cid_version=1) == kubo.cid(path, cid_version=1, raw_leaves=False)
    assert cid_of(data, V1, cid_version=0) == kubo.cid(path, cid_version=0, raw_leaves=True, **big)
    # 3146 leaves: the width shows, and --max-file-links=174 brings back Kubo 0.22's DAG
    assert cid_of(data, V1, chunker="size-1000", max_links=174) == kubo.cid(path, cid_version=1, chunker="size-1000")
    assert cid_of(data, V1, chunker="size-1000") != cid_of(data, V1, chunker="size-1000", max_links=174)


def test_v0_profile_with_another_hash_is_refused_like_kubo(kubo, tmp_path):
    """unixfs-v0-2015 sets CidVersion=0, so --hash=blake3 fails as `--cid-version=0 --hash=blake3` does."""
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidOption) as e:
        cid_of(b"x", V0, hash="blake3")
    assert str(e.value) == kubo.error(tmp_path / "f", cid_version=0, hash="blake3")
    assert cid_of(b"x", "kubo-0.22", hash="blake3") == kubo.cid(tmp_path / "f", hash="blake3")


def test_profile_values_and_names():
    v1 = ImportOptions.from_profile(V1)
    assert (v1.cid_version, v1.raw_leaves, v1.chunker, v1.max_links, v1.max_hamt_fanout, v1.shard_threshold,
            v1.shard_estimate, v1.shard_at_threshold) == (1, True, "size-1048576", 1024, 256, 262144, "block", False)
    assert ImportOptions.from_profile() == ImportOptions.from_profile("kubo-0.43") == ImportOptions()
    old = ImportOptions.from_profile("kubo-0.22")
    assert (old.shard_at_threshold, old.block_size_limit) == (True, 1 << 20)
    assert old == ImportOptions(shard_at_threshold=True, block_size_limit=1 << 20)
    assert ImportOptions.from_profile("legacy-cid-v0") == ImportOptions.from_profile(V0)
    assert ImportOptions.from_profile(V1, chunker=None, pin=False).chunker == "size-1048576"
    with pytest.raises(InvalidOption, match="unknown profile 'unixfs-v2'"):
        ImportOptions.from_profile("unixfs-v2")


@pytest.mark.parametrize("opts,message", [
    ({"max_links": 1}, "max-file-links must be at least 2"),
    ({"max_hamt_fanout": 12}, "power of 2"), ({"max_hamt_fanout": 4}, "power of 2"),
    ({"max_hamt_fanout": 2048}, r"between 8 and 1024 \(got 2048\)"),
    ({"shard_threshold": -1}, "must be non-negative"),
    ({"shard_estimate": "bytes"}, "must be one of links, block, disabled"),
])
def test_bad_values_are_refused_before_anything_is_read(opts, message):
    with pytest.raises(InvalidOption, match=message):
        Importer(None, ImportOptions(**opts))


def test_cli_flags(tmp_path, capsys):
    (tmp_path / "f").write_bytes(Content(5000, "random", 3).bytes())
    f = str(tmp_path / "f")

    def q(*flags: str) -> str:
        assert main(["add", "-n", "-Q", *flags, f]) == 0
        return capsys.readouterr().out.strip()

    assert q("--profile", V1, "--chunker=size-100", "--max-links=3") == cid_of(f, V1, chunker="size-100", max_links=3)
    assert q("--max-file-links=3", "-s", "size-100") == q("--max-links", "3", "--chunker", "size-100")
    assert q("--hamt-size-threshold=256KiB") == q("--hamt-size-threshold", "262144") == q()
    assert main(["add", "-n", "--max-hamt-fanout=100", f]) == 1
    assert "Error: HAMT fanout must be a power of 2, between 8 and 1024 (got 100)" in capsys.readouterr().err
    assert main(["add", "-n", "--profile=unixfs-v3", f]) == 2  # a usage error


# -- the directory knobs alone -----------------------------------------------------------------------

def directory(entries: dict[str, DagRef], rule: ShardingRule) -> DagRef:
    writer = DirectoryWriter(CidBuilder(1, SHA2_256), None, rule)
    for name, ref in entries.items():
        writer.add(name, ref)
    return writer.finish()


@st.composite
def directory_entries(draw) -> dict[str, DagRef]:
    """Entries with tsizes of every varint length, under CIDv0 and CIDv1 (raw) names."""
    names = draw(st.lists(st.text(min_size=1, max_size=30).filter(lambda n: "/" not in n), max_size=40, unique=True))
    out = {}
    for i, name in enumerate(names):
        ref = put_block(CidBuilder(draw(st.sampled_from([0, 1])), SHA2_256), None, RAW, name.encode() + bytes([i]))
        out[name] = DagRef(ref.cid, draw(st.integers(0, 2**40)), 0)
    return out


@settings(max_examples=200, deadline=None)
@given(entries=directory_entries())
def test_block_estimate_is_the_encoded_size(entries):
    """The `block` estimate (boxo linkSerializedSize + dataFieldSerializedSize) is the exact size
    of the basic directory block, so the v1 threshold compares real bytes."""
    writer = DirectoryWriter(CidBuilder(1, SHA2_256), None, ShardingRule(threshold=0, estimate="block"))
    for name, ref in entries.items():
        writer.add(name, ref)
    root = writer.finish()
    assert writer.estimated_size == root.tsize - sum(ref.tsize for ref in entries.values())


@settings(max_examples=50, deadline=None)
@given(entries=directory_entries(), limit=st.integers(0, 45), estimate=st.sampled_from(["links", "block", "disabled"]))
def test_max_directory_links(entries, limit, estimate):
    """More entries than max-directory-links shards (boxo checkMaxLinksExceeded), whatever the size;
    `disabled` ignores size; a threshold of 0 turns both off."""
    sharded = directory(entries, ShardingRule(threshold=1, estimate="links"))
    basic = directory(entries, ShardingRule(threshold=0))
    ours = directory(entries, ShardingRule(estimate=estimate, max_links=limit))
    assert ours == (sharded if 0 < limit < len(entries) else basic)
    assert directory(entries, ShardingRule(threshold=0, max_links=limit or 1)) == basic


@pytest.mark.parametrize("fanout", [8, 16, 64, 256, 1024])
def test_hamt_fanout_reads_back(tmp_path, fanout):
    """A HAMT of any allowed width: the root records it and the exporter finds every entry."""
    root = tmp_path / "d"
    root.mkdir()
    for i in range(300):
        (root / f"entry-{i:03d}").write_text(str(i))
    store = MemoryStore()
    ref = Importer(store, ImportOptions(max_hamt_fanout=fanout, shard_threshold=1)).add_path(root)
    exporter = Exporter(store)
    node = exporter.node(ref.cid)
    assert node.type == DataType.HAMT_SHARD and node.fs.fanout == fanout
    assert sorted(e.name for e in exporter.ls(str(ref.cid))) == sorted(os.listdir(root))
    assert exporter.read(f"{ref.cid}/entry-123") == b"123"
