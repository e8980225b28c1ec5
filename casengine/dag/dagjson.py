"""dag-json (and plain json) decoded as Kubo decodes it (go-ipld-prime's dagjson).

A map that is exactly ``{"/": "<cid>"}`` is a link (a string that is not a CID is an error,
as in Kubo), exactly ``{"/": {"bytes": "<base64>"}}`` is bytes; any other map is a map.
Kubo's rules and words where they differ from Python's json: integers must fit int64, no
NaN/Infinity, no repeated map keys, unsorted keys are fine, bytes that are not UTF-8 are kept.
Nesting is bounded by the interpreter's recursion limit (the C scanner checks it).

>>> decode(b'{"b":[{"/":"bafkqabdunfxhs"}],"a":{"/":{"bytes":"aGk"}}}')
{'b': [Cid('bafkqabdunfxhs')], 'a': b'hi'}
>>> decode(b'{"/":"bafkqabdunfxhs"}', allow_links=False)
{'/': 'bafkqabdunfxhs'}
"""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import DecodeError, InvalidCid
from .cid import Cid

_INT64 = 1 << 63


def decode(data: bytes | memoryview, *, links: list[Cid] | None = None, allow_links: bool = True) -> object:
    """The value of a dag-json block (links as :class:`Cid`, appended in document order to
    *links*); with *allow_links* False (the plain ``json`` codec) ``{"/": ...}`` is a map."""
    def pairs(items: list[tuple[str, object]]) -> object:
        if allow_links and len(items) == 1 and items[0][0] == "/":
            value = items[0][1]
            if isinstance(value, str):
                try:
                    link = Cid.parse(value)
                except InvalidCid as e:
                    raise DecodeError(f"invalid cid: {e}") from None
                if links is not None:
                    links.append(link)
                return link
            if type(value) is dict and len(value) == 1 and isinstance(value.get("bytes"), str):
                return _bytes(value["bytes"])
        out: dict[str, object] = {}
        for key, value in items:
            if key in out:
                raise DecodeError(f'cannot repeat map key "{key}"')
            out[key] = value
        return out

    text = bytes(data).decode("utf-8", "surrogateescape")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=_int, parse_constant=_constant, strict=False)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            raise DecodeError("unexpected content after end of json object") from None
        raise DecodeError("unexpected EOF" if e.pos >= len(text.rstrip()) else f"{e.msg} at offset {e.pos}") from None
    except RecursionError:
        raise DecodeError("message structure exceeded maximum nesting depth") from None


def links(data: bytes | memoryview) -> list[Cid]:
    """The links of a dag-json block in document order."""
    out: list[Cid] = []
    decode(data, links=out)
    return out


def _int(text: str) -> int:
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise DecodeError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def _constant(text: str) -> float:
    raise DecodeError(f"invalid char while expecting start of value: {ord(text[0]):#x}")


def _bytes(text: str) -> bytes:
    """Unpadded standard base64 (padded accepted too), as go-ipld-prime reads it."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("illegal base64 data") from None
