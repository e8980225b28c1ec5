"""Multihash functions under Kubo's rules: the names ``--hash`` knows, the ones it can compute,
and the ones it allows (boxo verifcid: no insecure function, no digest under 20 bytes, none
over 128, identity up to 128 bytes).

Kubo 0.43.1 computes a hash before it checks it, so its refusals come in this order: a name
go-multihash does not know is ``unrecognized``; one Kubo cannot compute is an ``unknown
multihash code``; one it computes but does not allow is ``potentially insecure`` (md5,
murmur3, shake-128, blake2b under 160 bits: a 1-byte digest makes collisions trivial).

Hashing is the hot path of every import, so a :class:`HashFunction` hands out
hashlib-style objects whose ``update`` releases the GIL on large buffers.

>>> get("sha2-256").code, get("blake3").code, get("keccak-256").code
(18, 30, 27)
>>> get("sha2-256").digest(b"").hex()[:12]
'1220e3b0c442'
>>> get("blake2b-8")
Traceback (most recent call last):
casengine.errors.InvalidOption: potentially insecure hash functions not allowed
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from ..errors import InvalidCid, InvalidOption
from . import varint

IDENTITY = 0x00
#: boxo verifcid's bounds on digest lengths.
MIN_DIGEST = 20
MAX_DIGEST = 128
MAX_IDENTITY = 128
_BLAKE2B, _BLAKE2S = 0xB200, 0xB240


@dataclass(frozen=True)
class HashFunction:
    """A multihash function: its multicodec name and code, and a hashlib-like constructor."""

    name: str
    code: int
    new: Callable[[], "hashlib._Hash"]
    size: int

    @property
    def prefix(self) -> bytes:
        """The multihash header (code, digest length) that precedes every digest."""
        return varint.encode(self.code) + varint.encode(self.size)

    def digest(self, *parts: bytes | memoryview) -> bytes:
        """Multihash (header + digest) of the concatenation of parts, without concatenating them."""
        h = self.new()
        for p in parts:
            h.update(p)
        return self.prefix + h.digest()


class Identity(HashFunction):
    """The identity "hash": the multihash holds the block itself, at most MAX_IDENTITY bytes."""

    def digest(self, *parts: bytes | memoryview) -> bytes:
        data = b"".join(parts)
        if len(data) > MAX_IDENTITY:
            raise InvalidOption(f"digest too large: identity digest got {len(data)} bytes, maximum {MAX_IDENTITY}")
        return b"\x00" + varint.encode(len(data)) + data


class _Sized:
    """A hashlib-like object whose digest is *size* bytes of an extendable-output function."""

    def __init__(self, h, size: int):
        self._h, self._size = h, size

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest(self._size)


class _Double:
    """sha2-256 of sha2-256 (dbl-sha2-256)."""

    def __init__(self):
        self._h = hashlib.sha256()

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return hashlib.sha256(self._h.digest()).digest()


def _keccak(bits: int) -> Callable[[], object]:
    def new() -> object:
        from Crypto.Hash import keccak  # pycryptodome: the standard library has SHA-3, not Keccak
        return keccak.new(digest_bits=bits)
    return new


def _blake2(kind: str, bits: int) -> Callable[[], object]:
    ctor = hashlib.blake2b if kind == "b" else hashlib.blake2s
    return lambda: ctor(digest_size=bits // 8)


_FUNCTIONS: dict[str, HashFunction] = {}   # what casengine computes, as Kubo names it


def _register(name: str, code: int, new: Callable[[], object], size: int) -> None:
    _FUNCTIONS[name] = HashFunction(name, code, new, size)


def _blake3():
    """Imported at first use: most runs never hash with it (start-up time)."""
    import blake3

    return blake3.blake3(max_threads=1)


_FUNCTIONS["identity"] = Identity("identity", IDENTITY, lambda: None, 0)
_register("sha1", 0x11, hashlib.sha1, 20)
_register("sha2-256", 0x12, hashlib.sha256, 32)
_register("sha2-512", 0x13, hashlib.sha512, 64)
_register("sha3-512", 0x14, hashlib.sha3_512, 64)
_register("sha3-384", 0x15, hashlib.sha3_384, 48)
_register("sha3-256", 0x16, hashlib.sha3_256, 32)
_register("sha3-224", 0x17, hashlib.sha3_224, 28)
_register("shake-256", 0x19, lambda: _Sized(hashlib.shake_256(), 64), 64)
_register("keccak-256", 0x1B, _keccak(256), 32)
_register("keccak-512", 0x1D, _keccak(512), 64)
_register("dbl-sha2-256", 0x56, _Double, 32)
_register("blake3", 0x1E, _blake3, 32)
for _bits in range(MIN_DIGEST * 8, 513, 8):
    _register(f"blake2b-{_bits}", _BLAKE2B + _bits // 8, _blake2("b", _bits), _bits // 8)
_register("blake2s-256", _BLAKE2S + 32, _blake2("s", 256), 32)   # the only blake2s Kubo computes
_FUNCTIONS["sha3"] = _FUNCTIONS["sha3-512"]   # go-multihash's alias
SHA2_256 = _FUNCTIONS["sha2-256"]
_BY_CODE = {f.code: f for f in _FUNCTIONS.values() if f.code != IDENTITY}

#: Names go-multihash knows that Kubo computes but does not allow, and names it knows but
#: cannot compute (code -> its error), beyond those above.
_INSECURE = {"md5", "murmur3-x64-64", "shake-128", *(f"blake2b-{b}" for b in range(8, MIN_DIGEST * 8, 8))}
_UNCOMPUTABLE = {"keccak-224": 0x1A, "keccak-384": 0x1C, "x11": 0x1100, "sha2-256-trunc254-padded": 0x1012,
                 "poseidon-bls12_381-a2-fc1": 0xB401,
                 **{f"blake2s-{b}": _BLAKE2S + b // 8 for b in range(8, 256, 8)}}


def get(name: str) -> HashFunction:
    """The hash function Kubo's ``--hash NAME`` means, or InvalidOption in Kubo's words."""
    fn = _FUNCTIONS.get(name)
    if fn is not None:
        return fn
    if name in _UNCOMPUTABLE:
        code = _UNCOMPUTABLE[name]
        raise InvalidOption(f"unknown multihash code {code} ({code:#x}): no such hash registered")
    if name in _INSECURE:
        raise InvalidOption("potentially insecure hash functions not allowed")
    raise InvalidOption(f'unrecognized hash function: "{name}"')


def by_code(code: int) -> HashFunction | None:
    """The hash function with multicodec *code*, or None (identity is not a HashFunction)."""
    return _BY_CODE.get(code)


def allowed(code: int) -> bool:
    """Whether boxo's default allowlist accepts multihash *code* (computable here or not)."""
    return (code in _BY_CODE or code in (IDENTITY, 0x1A, 0x1C)
            or _BLAKE2B + MIN_DIGEST - 1 < code <= _BLAKE2B + 64 or _BLAKE2S + MIN_DIGEST - 1 < code <= _BLAKE2S + 32)


def check(multihash: bytes) -> None:
    """Kubo's check of a CID's multihash (boxo verifcid.ValidateCid): InvalidCid in its words."""
    code, p = varint.decode(multihash, 0, InvalidCid)
    length, _ = varint.decode(multihash, p, InvalidCid)
    if not allowed(code):
        raise InvalidCid("potentially insecure hash functions not allowed")
    name = "identity" if code == IDENTITY else (by_code(code).name if by_code(code) else hex(code))
    low, high = (0, MAX_IDENTITY) if code == IDENTITY else (MIN_DIGEST, MAX_DIGEST)
    if length < low:
        raise InvalidCid(f"digest too small: {name} digest got {length} bytes, minimum {low}")
    if length > high:
        raise InvalidCid(f"digest too large: {name} digest got {length} bytes, maximum {high}")
