"""Content identifiers.

:class:`Cid` is a small immutable value built from bytes on the hot path (the
``multiformats`` CID object costs ~100 µs to build, a leaf costs less than that to hash);
text forms are ``multiformats`` multibase around the binary form: CIDv0 in bare base58btc,
CIDv1 in base32 like Kubo. Any codec or hash code is carried, known or not (as go-cid does),
so a CID read from a hostile block can always be printed and parsed back.

>>> c = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
>>> c.version, c.codec_name, c.hash_name
(0, 'dag-pb', 'sha2-256')
>>> str(c.to_v1())
'bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby'
>>> Cid.parse(bytes(c)) == c
True
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Iterable

from ..errors import InvalidCid
from . import varint
from .multihash import IDENTITY, HashFunction

DAG_PB = 0x70
RAW = 0x55
DAG_CBOR = 0x71
DAG_JSON = 0x0129
#: Longest CID text accepted: a 1 KiB binary CID in base2 (Kubo's identity CIDs hold <= 128 bytes).
MAX_TEXT = 8 * 1024 + 1


@lru_cache(maxsize=None)
def codec_name(code: int) -> str:
    from multiformats import multicodec  # its table costs ~35 ms to load: only when a name is asked for

    try:
        return multicodec.get(code=code).name
    except KeyError:
        return hex(code)


@lru_cache(maxsize=None)
def codec_code(name: str) -> int:
    from multiformats import multicodec

    try:
        return multicodec.get(name).code
    except KeyError:
        raise InvalidCid(f"unknown codec {name!r}") from None


def refuse_names(path: str) -> None:
    """An ``/ipns/`` path is a name, which casengine does not resolve (no IPNS, no DNSLink): say so."""
    if path.startswith("/ipns/"):
        raise InvalidCid(f"{path}: IPNS names are not resolved here; give a CID or /ipfs/CID/path")


def content_path(text: str) -> str:
    """A CID or path argument as Kubo 0.43 takes it (boxo path.NewPathFromURI): ``ipfs://CID/p``,
    ``ipfs:CID/p`` (the scheme in any case) and ``/ipfs/CID/p`` all mean ``CID/p``; IPNS names
    (``ipns://``, ``/ipns/``) are refused."""
    for ns in ("ipfs", "ipns", "ipld"):
        if len(text) > len(ns) and text[len(ns)] == ":" and text[:len(ns)].lower() == ns:
            rest = text[len(ns) + 1:]
            text = f"/{ns}/{rest[2:] if rest.startswith('//') else rest}"
            break
    refuse_names(text)
    return text[6:] if text.startswith("/ipfs/") else text


def _multibase_name(text: str, shown: str) -> str:
    from multiformats import multibase

    try:
        return multibase.from_str(text).name
    except KeyError:
        raise InvalidCid(f"invalid CID {shown}: {text[0]!r} is no multibase prefix (a CIDv0 is 46 base58btc "
                         "characters starting Qm, a CIDv1 usually base32 starting b)") from None


class Cid:
    """A CID: version, codec and multihash; hashable, ordered by binary form."""

    __slots__ = ("version", "codec", "multihash", "_bytes")

    def __init__(self, version: int, codec: int, multihash: bytes):
        if version == 0 and (codec != DAG_PB or multihash[:2] != b"\x12\x20" or len(multihash) != 34):
            raise InvalidCid("CIDv0 must be dag-pb with a sha2-256 multihash")
        if version not in (0, 1):
            raise InvalidCid(f"unsupported CID version {version}")
        self.version = version
        self.codec = codec
        self.multihash = bytes(multihash)
        self._bytes = self.multihash if version == 0 else b"\x01" + varint.encode(codec) + self.multihash

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "Cid":
        """Decode a binary CID that fills *data* exactly."""
        cid, end = cls.read(data, 0)
        if end != len(data):
            raise InvalidCid("trailing bytes after CID")
        return cid

    @classmethod
    def read(cls, data: bytes | memoryview, pos: int) -> tuple["Cid", int]:
        """Decode a binary CID starting at *pos*; return it and the position after it."""
        data = bytes(data)
        if data[pos:pos + 2] == b"\x12\x20":
            end = pos + 34
            if end > len(data):
                raise InvalidCid("truncated CIDv0")
            return cls(0, DAG_PB, data[pos:end]), end
        version, p = varint.decode(data, pos, InvalidCid)
        if version != 1:
            raise InvalidCid(f"unsupported CID version {version}")
        codec, p = varint.decode(data, p, InvalidCid)
        mh_start = p
        _, p = varint.decode(data, p, InvalidCid)
        size, p = varint.decode(data, p, InvalidCid)
        end = p + size
        if end > len(data):
            raise InvalidCid("truncated multihash")
        return cls(1, codec, data[mh_start:end]), end

    @classmethod
    def parse(cls, value: "str | bytes | Cid") -> "Cid":
        """Parse a CID given as text (any multibase), binary, or a Cid; InvalidCid otherwise."""
        if isinstance(value, Cid):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_bytes(value)
        if not isinstance(value, str):
            raise InvalidCid(f"not a CID: {value!r}")
        text = content_path(value.strip())
        if len(text) > MAX_TEXT:  # base58 decodes in quadratic time: refuse before, not after
            raise InvalidCid(f"invalid CID {text[:40]!r}...: longer than {MAX_TEXT} characters")
        shown = repr(value[:100])
        if not text:
            raise InvalidCid(f"invalid CID {shown}: empty")
        base = "base58btc" if len(text) == 46 and text.startswith("Qm") else "base32"  # go-cid's rule for v0
        try:
            if base == "base58btc":
                raw = _base58_decode(text)
            elif _BASE32.fullmatch(text):
                raw = base64.b32decode(text[1:].upper() + "=" * (-(len(text) - 1) % 8))
            else:
                base = _multibase_name(text, shown)
                from multiformats import multibase

                raw = multibase.decode(text)
        except InvalidCid as e:
            if str(e).startswith("invalid CID"):
                raise
            raise InvalidCid(f"invalid CID {shown}: not valid {base} ({e})") from None
        except Exception:  # multiformats and binascii raise several unrelated types
            raise InvalidCid(f"invalid CID {shown}: not valid {base}") from None
        try:
            return cls.from_bytes(raw)
        except InvalidCid as e:
            raise InvalidCid(f"invalid CID {shown}: its {base} bytes are not a CID ({e})") from None

    # -- properties ---------------------------------------------------------------------------
    def __bytes__(self) -> bytes:
        return self._bytes

    @property
    def hash_code(self) -> int:
        return varint.decode(self.multihash, 0)[0]

    @property
    def digest(self) -> bytes:
        """The hash digest without the multihash header (for identity CIDs: the inline block)."""
        _, p = varint.decode(self.multihash, 0)
        _, p = varint.decode(self.multihash, p)
        return self.multihash[p:]

    @property
    def is_identity(self) -> bool:
        return self.multihash[0] == IDENTITY

    @property
    def codec_name(self) -> str:
        return codec_name(self.codec)

    @property
    def hash_name(self) -> str:
        from .multihash import by_code
        fn = by_code(self.hash_code)
        return fn.name if fn else ("identity" if self.is_identity else hex(self.hash_code))

    def to_v1(self) -> "Cid":
        return self if self.version == 1 else Cid(1, self.codec, self.multihash)

    def encode(self, base: str | None = None) -> str:
        """Text form: base58btc for v0, base32 for v1 unless *base* names another multibase."""
        return _encode(self._bytes, self.version, base)

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"Cid({self.encode()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cid) and self._bytes == other._bytes

    def __lt__(self, other: "Cid") -> bool:
        return self._bytes < other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)


# The two text forms Kubo prints by default are written here with the standard library, so that
# printing a CID does not load `multiformats` (~60 ms at start-up); other bases go through it.
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_VALUES = {c: i for i, c in enumerate(_B58_ALPHABET)}
#: Multibase 'b' (base32, lower case, no padding) with only its own alphabet.
_BASE32 = re.compile(r"b[a-z2-7]+")


def _base58_encode(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58_ALPHABET[r])
    zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def _base58_decode(text: str) -> bytes:
    n = 0
    for c in text:
        try:
            n = n * 58 + _B58_VALUES[c]
        except KeyError:
            raise InvalidCid(f"invalid base58btc character {c!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


@lru_cache(maxsize=65536)
def _encode(raw: bytes, version: int, base: str | None) -> str:
    if version == 0:
        if base not in (None, "base58btc"):
            raise InvalidCid("a CIDv0 has only a base58btc form")
        return _base58_encode(raw)
    if base in (None, "base32"):
        return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")
    from multiformats import multibase

    try:
        return multibase.encode(raw, base)
    except KeyError:
        raise InvalidCid(f"unknown multibase {base!r}") from None


class CidBuilder:
    """Makes CIDs for new blocks the way boxo's (inline) CID builder does.

    Blocks no longer than *inline_limit* (when inlining) get an identity multihash and
    CIDv1; raw blocks always get CIDv1 (a CIDv0 cannot name a raw block).
    """

    __slots__ = ("version", "hash", "inline_limit")

    def __init__(self, version: int, hash: HashFunction, inline_limit: int | None = None):
        self.version = version
        self.hash = hash
        self.inline_limit = inline_limit

    def sum(self, codec: int, parts: Iterable[bytes | memoryview], size: int) -> Cid:
        """CID of the block made of *parts* (total *size* bytes) under *codec*."""
        if self.inline_limit is not None and size <= self.inline_limit:
            data = b"".join(parts)
            return Cid(1, codec, b"\x00" + varint.encode(len(data)) + data)
        mh = self.hash.digest(*parts)
        version = self.version if codec == DAG_PB else 1
        return Cid(version, codec, mh)
