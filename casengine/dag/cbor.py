"""dag-cbor (and plain cbor) decoded as Kubo decodes it: go-ipld-prime's dagcbor over refmt.

Kubo is lenient where real data needs it and this decoder is too: text strings that are not
valid UTF-8 (Filecoin writes them; they come back as ``str`` with surrogate escapes, so the
bytes survive), unsorted map keys, 16/32-bit floats, ``undefined`` (read as null), tags on
anything but bytes (ignored). It refuses what Kubo refuses, in Kubo's words: indefinite
lengths, non-minimal heads, NaN and infinities, duplicate or non-text map keys, tags on bytes
other than 42, trailing bytes. Hostile input is bounded as in go-ipld-prime: 1024 levels of
nesting, an allocation budget of 10 MiB; the decoder is iterative (no recursion, linear time).

>>> decode(bytes.fromhex("a16161f5"))
{'a': True}
>>> decode(b"\\x81" * 2000 + b"\\x00")
Traceback (most recent call last):
casengine.errors.DecodeError: message structure exceeded maximum nesting depth
>>> decode(b"\\xa1\\x61a\\x62\\xff\\xfe")["a"].encode("utf-8", "surrogateescape")
b'\\xff\\xfe'
"""

from __future__ import annotations

import math
import struct

from ..errors import DecodeError, InvalidCid
from .cid import Cid

#: go-ipld-prime's limits (DecodeOptions defaults): nesting depth and allocation budget.
MAX_DEPTH = 1024
BUDGET = 10 * 1048576
LINK_TAG = 42
_MIN = {24: 24, 25: 1 << 8, 26: 1 << 16, 27: 1 << 32}
_FLOATS = {0xF9: (">e", 2), 0xFA: (">f", 4), 0xFB: (">d", 8)}
_KEY_TYPES = {0: "uint", 1: "int", 2: "bytes", 4: "array open", 5: "map open", 7: "bool"}


class _Frame:
    """An open list or map: its items so far, how many are still to come, a map's pending key."""

    __slots__ = ("items", "left", "key")

    def __init__(self, items: list | dict, left: int):
        self.items, self.left, self.key = items, left, None


def decode(data: bytes | memoryview, *, links: list[Cid] | None = None, allow_links: bool = True) -> object:
    """The value of a dag-cbor block (links as :class:`Cid`), appending each link in document
    order to *links*; DecodeError (Kubo's message) when Kubo would refuse the block.

    With *allow_links* False (the plain ``cbor`` codec), a tag 42 is refused as Kubo refuses it.
    """
    data = bytes(data)
    end = len(data)
    pos = 0
    budget = BUDGET
    stack: list[_Frame] = []
    while True:
        if pos >= end:
            raise DecodeError("unexpected EOF")
        ib = data[pos]
        pos += 1
        major, info = ib >> 5, ib & 0x1F
        tag = None
        if major == 6:
            tag, pos = _arg(data, pos, info)
            if pos >= end:
                raise DecodeError("unexpected EOF")
            ib = data[pos]
            pos += 1
            major, info = ib >> 5, ib & 0x1F
            if major == 6:
                raise DecodeError("unsupported multiple tags on a single data item")
        frame = stack[-1] if stack else None
        if frame is not None and type(frame.items) is dict and frame.key is None and major != 3:
            kind = "null" if ib in (0xF6, 0xF7) else "float" if ib in _FLOATS else _KEY_TYPES.get(major, "bool")
            raise DecodeError(f"unexpected {kind} token while expecting map key")
        if major == 7:
            value, pos = _simple(data, pos, ib)
            budget -= value is not None
        elif major in (2, 3):
            if info == 31:
                raise DecodeError("cbor: indefinite-length encoding rejected")
            n, pos = _arg(data, pos, info)
            if pos + n > end:
                raise DecodeError("unexpected EOF")
            raw = data[pos:pos + n]
            pos += n
            budget -= n
            if major == 3:
                value = raw.decode("utf-8", "surrogateescape")
            elif tag is None:
                value = raw
            elif tag != LINK_TAG or not allow_links:
                raise DecodeError(f"unhandled cbor tag {tag}")
            else:
                value = _link(raw)
                if links is not None:
                    links.append(value)
        elif major in (4, 5):
            if info == 31:
                raise DecodeError("cbor: indefinite-length encoding rejected")
            n, pos = _arg(data, pos, info)
            budget -= n
            if budget < 0:
                raise DecodeError("message structure demanded too many resources to process")
            if len(stack) >= MAX_DEPTH:
                raise DecodeError("message structure exceeded maximum nesting depth")
            new = _Frame([] if major == 4 else {}, n)
            if n:
                stack.append(new)
                continue
            value = new.items
        else:
            n, pos = _arg(data, pos, info)
            if major == 0:
                value = n
            elif n == 0xFFFFFFFFFFFFFFFF or n < 1 << 63:
                value = -1 - n   # Kubo wraps -2**64 to 0: it accepts it, so this accepts it too
            else:
                raise DecodeError("cbor: negative integer out of rage of int64 type")
            budget -= 1
        if budget < 0:
            raise DecodeError("message structure demanded too many resources to process")
        # a complete value: hand it to its container, closing every container it completes
        while True:
            if not stack:
                if pos != end:
                    raise DecodeError("unexpected content after end of cbor object")
                return value
            frame = stack[-1]
            if type(frame.items) is list:
                budget -= 4
                frame.items.append(value)
            elif frame.key is None:
                budget -= len(value) + 8
                if value in frame.items:
                    raise DecodeError(f"duplicate map key {_quote(value)}")
                frame.key = value
                break
            else:
                frame.items[frame.key] = value
                frame.key = None
            if budget < 0:
                raise DecodeError("message structure demanded too many resources to process")
            frame.left -= 1
            if frame.left:
                break
            stack.pop()
            value = frame.items


def links(data: bytes | memoryview) -> list[Cid]:
    """The links of a dag-cbor block in document order (what Kubo's DAG walk follows)."""
    out: list[Cid] = []
    decode(data, links=out)
    return out


def head(major: int, arg: int) -> bytes:
    """The shortest item head of *major* type with argument *arg* (as dag-cbor writes heads)."""
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise ValueError(f"cbor argument {arg} does not fit 64 bits")


def _arg(data: bytes, pos: int, info: int) -> tuple[int, int]:
    """The argument of an item head whose additional info is *info*, minimal as Kubo wants it."""
    if info < 24:
        return info, pos
    if info > 27:
        raise DecodeError(f"cbor: invalid additional information {info}")
    size = 1 << (info - 24)
    if pos + size > len(data):
        raise DecodeError("unexpected EOF")
    value = int.from_bytes(data[pos:pos + size], "big")
    if value < _MIN[info]:
        raise DecodeError("cbor: integer not minimally encoded")
    return value, pos + size


def _simple(data: bytes, pos: int, ib: int) -> tuple[object, int]:
    if ib == 0xF4:
        return False, pos
    if ib == 0xF5:
        return True, pos
    if ib in (0xF6, 0xF7):  # undefined is read as null, as Kubo reads it
        return None, pos
    if ib not in _FLOATS:
        raise DecodeError(f"invalid majorByte: {ib:#x}")
    fmt, size = _FLOATS[ib]
    if pos + size > len(data):
        raise DecodeError("unexpected EOF")
    value = struct.unpack(fmt, data[pos:pos + size])[0]
    if math.isnan(value):
        raise DecodeError("cbor: NaN float value rejected")
    if math.isinf(value):
        raise DecodeError("cbor: infinite float value rejected")
    return value, pos + size


def _link(raw: bytes) -> Cid:
    if not raw or raw[0] != 0:
        raise DecodeError("invalid multibase on IPLD link")
    try:
        return Cid.from_bytes(raw[1:])
    except InvalidCid as e:
        raise DecodeError(f"invalid cid: {e}") from None


def _quote(text: str) -> str:
    """A key as Go's %q prints it (enough for the keys real data holds)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
