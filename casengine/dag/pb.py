"""dag-pb (PBNode / PBLink) codec, strict in the way the dag-pb spec asks.

Encoding writes the canonical form Kubo writes: links (Hash, Name, Tsize) before Data.
Decoding rejects anything else: unknown fields, wrong wire types, fields out of order or
repeated, a link without Hash, truncated or over-long varints.

>>> node = PBNode([PBLink(Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"), "a", 20)], b"\\x08\\x01")
>>> decode(encode(node)) == node
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DagPbError, InvalidCid
from . import varint
from .cid import Cid

# field keys: (field number << 3) | wire type
_LINKS = 0x12     # PBNode.Links, field 2, length-delimited
_DATA = 0x0A      # PBNode.Data, field 1, length-delimited
_HASH = 0x0A      # PBLink.Hash, field 1, length-delimited
_NAME = 0x12      # PBLink.Name, field 2, length-delimited
_TSIZE = 0x18     # PBLink.Tsize, field 3, varint


@dataclass(frozen=True, slots=True)
class PBLink:
    cid: Cid
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: list[PBLink] = field(default_factory=list)
    data: bytes | None = None


def name_bytes(name: str) -> bytes:
    """Names are file names: keep undecodable bytes (surrogateescape) so they round-trip."""
    return name.encode("utf-8", "surrogateescape")


def encode_link(link: PBLink) -> bytes:
    h = bytes(link.cid)
    out = [b"\x0a", varint.encode(len(h)), h]
    if link.name is not None:
        n = name_bytes(link.name)
        out += [b"\x12", varint.encode(len(n)), n]
    if link.tsize is not None:
        out += [b"\x18", varint.encode(link.tsize)]
    return b"".join(out)


def encode(node: PBNode) -> bytes:
    out = []
    for link in node.links:
        lb = encode_link(link)
        out += [b"\x12", varint.encode(len(lb)), lb]
    if node.data is not None:
        out += [b"\x0a", varint.encode(len(node.data)), node.data]
    return b"".join(out)


def _bytes_field(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = varint.decode(buf, pos, DagPbError)
    end = pos + n
    if end > len(buf):
        raise DagPbError("length-delimited field runs past the end of the block")
    return buf[pos:end], end


def _decode_link(buf: bytes) -> PBLink:
    pos, last = 0, 0
    cid: Cid | None = None
    name: str | None = None
    tsize: int | None = None
    while pos < len(buf):
        key, pos = varint.decode(buf, pos, DagPbError)
        fieldno = key >> 3
        if fieldno <= last:
            raise DagPbError("PBLink fields out of order or repeated")
        last = fieldno
        if key == _HASH:
            raw, pos = _bytes_field(buf, pos)
            try:
                cid = Cid.from_bytes(raw)
            except InvalidCid as e:
                raise DagPbError(f"PBLink Hash is not a CID: {e}") from None
        elif key == _NAME:
            raw, pos = _bytes_field(buf, pos)
            name = raw.decode("utf-8", "surrogateescape")
        elif key == _TSIZE:
            tsize, pos = varint.decode(buf, pos, DagPbError)
        else:
            raise DagPbError(f"unexpected PBLink field key {key:#x}")
    if cid is None:
        raise DagPbError("PBLink without Hash")
    return PBLink(cid, name, tsize)


def data_only(block: bytes | memoryview) -> memoryview | None:
    """The Data field of a block that is exactly one Data field (key, length varint, that many
    bytes), as a view of it: a UnixFS leaf, read without copying; None for any other block
    (canonical dag-pb puts links first, so such a block has none; :func:`decode` judges the rest)."""
    if len(block) < 2 or block[0] != _DATA:
        return None
    view = memoryview(block)
    try:
        size, start = varint.decode(view[:11], 1, DagPbError)
    except DagPbError:
        return None
    return view[start:] if start + size == len(view) else None


def decode(block: bytes | memoryview) -> PBNode:
    """Decode a dag-pb block; DagPbError if it is not in canonical, valid form."""
    buf = bytes(block)
    links: list[PBLink] = []
    data: bytes | None = None
    pos = 0
    while pos < len(buf):
        if data is not None:
            raise DagPbError("PBNode field after Data")
        key, pos = varint.decode(buf, pos, DagPbError)
        if key == _LINKS:
            raw, pos = _bytes_field(buf, pos)
            links.append(_decode_link(raw))
        elif key == _DATA:
            data, pos = _bytes_field(buf, pos)
        else:
            raise DagPbError(f"unexpected PBNode field key {key:#x}")
    return PBNode(links, data)
