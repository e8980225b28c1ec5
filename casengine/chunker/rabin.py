"""``rabin``: Kubo 0.22's Rabin-fingerprint chunker (boxo/chunker/rabin.go over
github.com/whyrusleeping/chunker@fe64bd25879f), cut for cut.

What Kubo does, per chunk (the chunker is reset at every cut, so a chunk's end depends only on
its own bytes and on where the stream ends):

* the first ``min - 16`` bytes are skipped, then bytes are slid through a 16-byte window whose
  fingerprint is the window read as a polynomial over GF(2), modulo :data:`POLYNOMIAL`;
* the chunk ends at the first length ``p >= min`` where ``fingerprint & mask == 0`` or
  ``p == max``, with ``mask = 2**floor(log2(avg)) - 1``; a hit on the stream's last byte ends
  the chunk there, and a stream ending before a cut makes the rest one (possibly short) chunk;
* when ``min < 16`` (only ``rabin-AVG`` with AVG < 48 gets there) the skip count underflows:
  Kubo never cuts, the whole file is one chunk, and files over 1 MiB fail with
  "object size limit exceeded" — reproduced here as :class:`BlockSizeLimitExceeded`.

Because the fingerprint at ``p`` is a pure function of the 16 bytes before ``p``, the scan is a
search for the first hit in a range. Measured on 256 MiB of random bytes (2.6 GHz EPYC, see
``bench/chunkers.py``): the C helper ``_cdc`` (four interleaved rolling lanes, since one lane is
bound by the latency of its chain of table loads) cuts at ~1.7 GB/s, 9x Kubo's whole
``add --only-hash`` (184 MB/s). Without it, numpy computes each fingerprint as an XOR of 16
per-position table lookups in 64 KiB blocks: 60-80 MB/s, under Kubo, which is why the C helper
is the default and the numpy path only a fallback (a per-byte Python loop is ~100x slower still).
"""

from __future__ import annotations

import sys
from typing import Callable, Iterator

from ..errors import BlockSizeLimitExceeded
from . import LEGACY_BLOCK_SIZE_LIMIT, Chunker

try:
    from . import _cdc
except ImportError:  # no compiler at install time: numpy fallback
    _cdc = None

# Hash-affecting constants (whyrusleeping/chunker as used by boxo v0.11): changing any changes CIDs.
POLYNOMIAL = 17437180132763653  # boxo chunk.IpfsRabinPoly, degree 53
WINDOW = 16  # whyrusleeping/chunker windowSize

_DEGREE = POLYNOMIAL.bit_length() - 1
_SHIFT = _DEGREE - 8  # the 8 bits above the degree index the reduction table
_BLOCK = 1 << 16  # numpy fallback: positions fingerprinted per step


def _polymod(x: int) -> int:
    """x mod POLYNOMIAL, both read as polynomials over GF(2)."""
    while x.bit_length() > _DEGREE:
        x ^= POLYNOMIAL << (x.bit_length() - 1 - _DEGREE)
    return x


# Reduction table (mod[b] cancels the top byte b and adds its remainder) and the table that
# removes the byte leaving the window (out[b] = b * x^(8*(WINDOW-1)) mod POLYNOMIAL).
_MOD = [_polymod(b << _DEGREE) | (b << _DEGREE) for b in range(256)]
_OUT = [_polymod(b << 8 * (WINDOW - 1)) for b in range(256)]
_C_TABLES = b"".join(v.to_bytes(8, sys.byteorder) for v in _MOD + _OUT)  # as C uint64[512]


class Rabin(Chunker):
    """``rabin-MIN-AVG-MAX``. ``native=None`` uses the C helper when built, else numpy."""

    def __init__(self, min_size: int, avg: int, max_size: int, *, native: bool | None = None,
                 block_limit: int = LEGACY_BLOCK_SIZE_LIMIT):
        self.params = (min_size, avg, max_size)
        self.block_limit = block_limit
        self.min_size = min_size
        # Go: sizeMask = 1<<uint(math.Log2(avg)) - 1; log2(0) = -Inf converts to a shift >= 64.
        self.mask = (1 << (avg.bit_length() - 1)) - 1 if avg else (1 << 64) - 1
        self.degenerate = min_size < WINDOW
        # Kubo cuts at the first p >= min with a hit or p >= max: max below min means min.
        self._hi = max(min_size, max_size)
        self.max_size = block_limit + 1 if self.degenerate else self._hi
        if native is None:
            native = _cdc is not None
        if native and _cdc is None:
            raise ImportError("casengine.chunker._cdc is not built (install with a C compiler)")
        self.native = native
        self._scan: Callable[[memoryview, int, int], int] = self._scan_c if native else _numpy_scanner(self.mask)

    @classmethod
    def with_average(cls, avg: int, *, native: bool | None = None,
                     block_limit: int = LEGACY_BLOCK_SIZE_LIMIT) -> "Rabin":
        """boxo ``NewRabin``: min = avg/3, max = avg + avg/2."""
        return cls(avg // 3, avg, avg + avg // 2, native=native, block_limit=block_limit)

    def _scan_c(self, data: memoryview, lo: int, hi: int) -> int:
        return _cdc.rabin_scan(data, lo, hi, self.mask, _C_TABLES, _SHIFT, WINDOW)

    def cuts(self, data: memoryview, final: bool) -> Iterator[int]:
        n = len(data)
        if self.degenerate:  # Kubo never cuts: the stream is one chunk, if it fits in a block
            if n > self.block_limit:
                raise BlockSizeLimitExceeded("object size limit exceeded")
            if final and n:
                yield n
            return
        start = 0
        while start < n:
            end = start + self._hi
            hit = self._scan(data, start + self.min_size, min(end, n))
            if hit >= 0:
                start = hit
            elif end <= n:
                start = end
            elif final:
                start = n
            else:
                return
            yield start

    def __repr__(self) -> str:
        return f"Rabin({', '.join(map(str, self.params))}, native={self.native})"


def _numpy_scanner(mask: int) -> Callable[[memoryview, int, int], int]:
    """Fallback scan: fingerprint & mask = XOR over window positions j of T_j[byte], where
    T_j[b] = (b * x^(8*(WINDOW-1-j)) mod POLYNOMIAL) & mask (the fingerprint is GF(2)-linear)."""
    try:
        import numpy as np
    except ImportError as e:
        raise ImportError("rabin chunking needs the C helper casengine.chunker._cdc or numpy") from e
    dtype = np.uint32 if mask < 1 << 32 else np.uint64
    tables = []
    for j in range(WINDOW):
        basis = [_polymod(1 << (i + 8 * (WINDOW - 1 - j))) & mask for i in range(8)]
        t = [0] * 256
        for b in range(1, 256):
            low = b & -b
            t[b] = t[b ^ low] ^ basis[low.bit_length() - 1]
        tables.append(np.array(t, dtype=dtype))

    def scan(data: memoryview, lo: int, hi: int) -> int:
        arr = np.frombuffer(data, dtype=np.uint8)
        for a in range(lo, hi + 1, _BLOCK):
            m = min(_BLOCK, hi + 1 - a)
            x = arr[a - WINDOW:a + m - 1].astype(np.intp)  # converted once, not by each take
            acc = tables[0].take(x[:m])
            for j in range(1, WINDOW):
                acc ^= tables[j].take(x[j:j + m])
            hits = np.flatnonzero(acc == 0)
            if hits.size:
                return a + int(hits[0])
        return -1

    return scan
