"""Chunkers: where a byte stream is cut into leaves (boxo's ``chunker`` package).

A :class:`Chunker` looks at a whole buffer at once and yields cut offsets, so the per-byte
work happens inside ``range`` or native code, never in a Python loop. Every chunker here
cuts a chunk using only that chunk's own bytes, which lets the reader resume at the last
cut with a new buffer.

>>> list(from_spec("size-4").cuts(memoryview(b"abcdefghij"), final=True))
[4, 8, 10]
>>> from_spec("size-0")
Traceback (most recent call last):
...
casengine.errors.ChunkerSpecError: chunker size must be greater than 0
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Iterator

from ..errors import ChunkerSpecError

# Hash-affecting constants (boxo chunker v0.11): changing any of them changes CIDs.
DEFAULT_BLOCK_SIZE = 262144
#: boxo's BlockSizeLimit, the largest leaf: 1 MiB in Kubo up to 0.39, 2 MiB since 0.40.
LEGACY_BLOCK_SIZE_LIMIT = 1048576
BLOCK_SIZE_LIMIT = 2097152


def chunk_size_limit(block_size_limit: int) -> int:
    """The largest ``size-N`` or rabin max Kubo takes: the block limit up to Kubo 0.39; since 0.40
    256 bytes under it, left for protobuf framing (boxo ChunkOverheadBudget)."""
    return block_size_limit if block_size_limit <= LEGACY_BLOCK_SIZE_LIMIT else block_size_limit - 256


class Chunker(ABC):
    """Cuts buffers into chunks. Subclasses set :attr:`max_size` and implement :meth:`cuts`."""

    #: No chunk is longer than this; a reader must offer at least this many bytes unless final.
    max_size: int

    @abstractmethod
    def cuts(self, data: memoryview, final: bool) -> Iterator[int]:
        """Yield increasing end offsets of the successive chunks that start at offset 0 of *data*.

        Stop before a chunk whose end depends on bytes beyond *data*; when *final* is true,
        *data* is the rest of the stream and the last offset yielded is ``len(data)``
        (nothing is yielded for empty data).
        """


class FixedSize(Chunker):
    """``size-N``: chunks of exactly N bytes, the last one shorter."""

    def __init__(self, size: int = DEFAULT_BLOCK_SIZE):
        if size <= 0:
            raise ChunkerSpecError("chunker size must be greater than 0")
        self.size = self.max_size = size

    def cuts(self, data: memoryview, final: bool) -> Iterator[int]:
        n = len(data)
        yield from range(self.size, n + 1, self.size)
        if final and n % self.size:
            yield n

    def __repr__(self) -> str:
        return f"FixedSize({self.size})"


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(s: str) -> str:
    """Go's strconv.Quote, which Atoi's error text applies to the input."""
    out = []
    for c in s:
        if c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _atoi(s: str) -> int:
    """Go's strconv.Atoi, with its error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ChunkerSpecError(f"strconv.Atoi: parsing {go_quote(s)}: invalid syntax")
    v = int(s)
    if not -(1 << 63) <= v < 1 << 63:
        raise ChunkerSpecError(f"strconv.Atoi: parsing {go_quote(s)}: value out of range")
    return v


def _labelled(part: str, label: str, error: str) -> int:
    sub = part.split(":")
    if len(sub) > 1 and sub[0] != label:
        raise ChunkerSpecError(error)
    return _atoi(sub[-1])


def _too_big(limit: int) -> ChunkerSpecError:
    return ChunkerSpecError(f"chunker parameters may not exceed the maximum chunk size of {limit}")


def _rabin(spec: str, block_limit: int) -> Chunker:
    from .rabin import Rabin

    limit = chunk_size_limit(block_limit)
    parts = spec.split("-")
    if len(parts) == 1:
        return Rabin.with_average(DEFAULT_BLOCK_SIZE, block_limit=block_limit)
    if len(parts) == 2:
        avg = _atoi(parts[1])
        if int(avg * 1.5) > limit:
            raise _too_big(limit)
        return Rabin.with_average(avg, block_limit=block_limit)
    if len(parts) == 4:
        lo = _labelled(parts[1], "min", "first label must be min")
        if lo < 16:
            raise ChunkerSpecError("rabin min must be greater than 16")
        avg = _labelled(parts[2], "avg", "second label must be avg")
        hi = _labelled(parts[3], "max", "final label must be max")
        if lo >= avg:
            raise ChunkerSpecError("incorrect format: rabin-min must be smaller than rabin-avg")
        if avg >= hi:
            raise ChunkerSpecError("incorrect format: rabin-avg must be smaller than rabin-max")
        if hi > limit:
            raise _too_big(limit)
        return Rabin(lo, avg, hi, block_limit=block_limit)
    raise ChunkerSpecError("incorrect format (expected 'rabin' 'rabin-[avg]' or 'rabin-[min]-[avg]-[max]'")


def from_spec(spec: str | None, block_limit: int = LEGACY_BLOCK_SIZE_LIMIT) -> Chunker:
    """Parse a ``--chunker`` value exactly as boxo's ``chunk.FromString`` does in the Kubo whose
    largest block is *block_limit*: 1 MiB is Kubo 0.22 (names matched by prefix, ``size-N`` read
    from its second field); 2 MiB is Kubo 0.43.1 (the name before the first ``-`` looked up in
    boxo's registry of size, rabin and buzhash; ``size-N`` exactly two fields), with its limits."""
    if spec in (None, "", "default"):
        return FixedSize(DEFAULT_BLOCK_SIZE)
    if block_limit > LEGACY_BLOCK_SIZE_LIMIT:
        name = spec.partition("-")[0]
        if name == "size" and len(spec.split("-")) != 2:
            raise ChunkerSpecError("incorrect chunker string format (expected size-{size})")
        if name == "buzhash":
            spec = "buzhash"          # boxo's parseBuzhashString ignores the rest
        elif name not in ("size", "rabin"):
            raise ChunkerSpecError(f"unrecognized chunker option: {spec}")
    if spec.startswith("size-"):
        size = _atoi(spec.split("-")[1])
        if size <= 0:
            raise ChunkerSpecError("chunker size must be greater than 0")
        if size > chunk_size_limit(block_limit):
            raise _too_big(chunk_size_limit(block_limit))
        return FixedSize(size)
    if spec.startswith("rabin"):
        return _rabin(spec, block_limit)
    if spec == "buzhash":
        from .buzhash import Buzhash

        return Buzhash()
    raise ChunkerSpecError(f"unrecognized chunker option: {spec}")
