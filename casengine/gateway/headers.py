"""Response headers as Kubo's gateway writes them: Etags (a CAR's carries an xxhash64 of its path and
parameters), Content-Disposition, Ipfs-Uri, X-Ipfs-Roots, the immutable Cache-Control and CORS."""

from __future__ import annotations

import re
import struct
from urllib.parse import quote

from ..dag.cid import Cid
from .params import CarParams

IMMUTABLE = "public, max-age=29030400, immutable"
#: What Kubo's gateway sends on every answer (its default Gateway.HTTPHeaders for CORS).
CORS = [("Access-Control-Allow-Headers", v) for v in ("Content-Type", "Range", "User-Agent", "X-Requested-With")] + \
       [("Access-Control-Allow-Methods", v) for v in ("GET", "HEAD", "OPTIONS")] + \
       [("Access-Control-Allow-Origin", "*")] + \
       [("Access-Control-Expose-Headers", v) for v in ("Content-Length", "Content-Range", "Ipfs-Uri",
                                                        "X-Chunked-Output", "X-Ipfs-Roots", "X-Stream-Output")]

_P1, _P2, _P3, _P4, _P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
                           0x27D4EB2F165667C5)
_M = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 (what Go's cespare/xxhash computes); only ever run on a short path and parameters."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed, (seed - _P1) & _M]
        while i + 32 <= n:
            lanes = struct.unpack_from("<4Q", data, i)
            v = [_round(a, b) for a, b in zip(v, lanes)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
        for lane in v:
            h = ((h ^ _round(0, lane)) * _P1 + _P4) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, struct.unpack_from("<Q", data, i)[0]), 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (struct.unpack_from("<I", data, i)[0] * _P1 & _M), 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * _P5 & _M), 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = h * _P2 & _M
    h ^= h >> 29
    h = h * _P3 & _M
    return h ^ (h >> 32)


def _base32hex(value: int) -> str:
    """Go's strconv.FormatUint(value, 32)."""
    digits = "0123456789abcdefghijklmnopqrstuv"
    out = ""
    while True:
        value, r = divmod(value, 32)
        out = digits[r] + out
        if not value:
            return out


def car_etag(path: str, params: CarParams, root: Cid) -> str:
    """A CAR's weak Etag: its root, and a hash of the resolved path and the parameters that shape it."""
    text = path.encode("utf-8", "surrogateescape")
    if params.scope != "all":
        text += b"\x00scope=" + params.scope.encode()
    if params.order != "dfs":
        text += b"\x00order=" + params.order.encode()
    if params.dups:
        text += b"\x00dups=y"
    if params.has_range and (params.range_from != 0 or params.range_to is not None):
        text += b"\x00range=" + struct.pack("<Q", params.range_from & _M)
        if params.range_to is not None:
            text += struct.pack("<Q", params.range_to & _M)
    return f'W/"{root}.car.{_base32hex(xxh64(text))}"'


def path_escape(text: str) -> str:
    """Go's url.PathEscape."""
    return quote(text.encode("utf-8", "surrogateescape"), safe="$&+,;=:@~")


def disposition(name: str, kind: str = "attachment") -> str:
    ascii_name = re.sub(r"[^\x00-\x7f]", "_", name)
    return f"{kind}; filename=\"{path_escape(ascii_name)}\"; filename*=UTF-8''{path_escape(name)}"


def ipfs_uri(root: Cid, rest: list[str]) -> str:
    """The ``Ipfs-Uri`` header: ipfs://CIDv1-base32/each/segment/escaped."""
    out = f"ipfs://{root.to_v1().encode('base32')}"
    for seg in rest:
        if seg in (".", ".."):
            out += "/" + ("%2E" if seg == "." else "%2E%2E")
        else:
            out += "/" + quote(seg.encode("utf-8", "surrogateescape"), safe="-._~")
    return out


def field_safe(text: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" for c in text)
