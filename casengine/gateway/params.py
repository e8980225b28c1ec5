"""What a request asks for: the response format (``?format=`` / ``Accept``), the CAR parameters and
byte ranges, parsed with the rules and error texts of Kubo 0.43.1's gateway (boxo v0.43.0), so a
client sees the same 400s from casengine as from Kubo."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequest
from .http import Request

RAW = "application/vnd.ipld.raw"
CAR = "application/vnd.ipld.car"
TAR = "application/x-tar"
JSON = "application/json"
CBOR = "application/cbor"
DAG_JSON = "application/vnd.ipld.dag-json"
DAG_CBOR = "application/vnd.ipld.dag-cbor"
IPNS_RECORD = "application/vnd.ipfs.ipns-record"
FORMATS = {"raw": RAW, "car": CAR, "tar": TAR, "json": JSON, "cbor": CBOR, "dag-json": DAG_JSON,
           "dag-cbor": DAG_CBOR, "ipns-record": IPNS_RECORD}
_ACCEPTED_PREFIXES = ("application/vnd.ipld", "application/vnd.ipfs", TAR, JSON, CBOR)
_INT64 = 1 << 63


def media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/sub; k=v`` -> ("type/sub", {k: v}) (Go's mime.ParseMediaType, enough of it)."""
    kind, *rest = value.split(";")
    kind = kind.strip().lower()
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+", kind):
        raise BadRequest(f"error while processing the Accept header: mime: {'no media type' if not kind else 'expected slash after first token'}")
    params = {}
    for item in rest:
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise BadRequest("error while processing the Accept header: mime: invalid media parameter")
        params[key.strip().lower()] = val.strip().strip('"')
    return kind, params


def response_format(request: Request) -> tuple[str, dict[str, str]]:
    """The format asked for and the Accept header's parameters for it ("" means deserialized)."""
    wanted = FORMATS.get(request.arg("format"), "")
    accepted, params = "", {}
    for header in request.headers.get("accept", []):
        for value in header.split(","):
            value = value.strip()
            if value.startswith(_ACCEPTED_PREFIXES):
                accepted, params = media_type(value)
                break
        if accepted:
            break
    if wanted:
        return wanted, (params if accepted == wanted else {})
    return accepted, params


def go_int(text: str) -> int:
    """Go's strconv.ParseInt(text, 10, 64), with its error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise BadRequest(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise BadRequest(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


@dataclass(frozen=True)
class CarParams:
    scope: str = "all"                 # block | entity | all
    order: str = "dfs"                 # dfs | unk
    dups: bool = False
    range_from: int = 0                # entity-bytes, Kubo's meaning (negative: from the end)
    range_to: int | None = None        # inclusive; None: to the end
    has_range: bool = False

    @property
    def content_type(self) -> str:
        return f"{CAR}; version=1; order={self.order}; dups={'y' if self.dups else 'n'}"


def car_params(request: Request, accept: dict[str, str]) -> CarParams:
    """``dag-scope``, ``entity-bytes``, ``car-version``, ``car-order``, ``car-dups`` (the query wins over
    the Accept header's ``version``/``order``/``dups``)."""
    q = request.query
    frm, to, has_range = 0, None, "entity-bytes" in q
    if has_range:
        try:
            frm, to = _entity_bytes(request.arg("entity-bytes"))
        except BadRequest as e:
            raise BadRequest(f"invalid application/vnd.ipld.car entity-bytes URL parameter: {e}") from None
    scope = request.arg("dag-scope") if "dag-scope" in q else "all"
    if scope not in ("block", "entity", "all"):
        raise BadRequest("unsupported application/vnd.ipld.car scope parameter")
    version = request.arg("car-version") or accept.get("version", "")
    order = request.arg("car-order") or accept.get("order", "")
    dups = request.arg("car-dups") or accept.get("dups", "")
    if version not in ("", "1"):
        raise BadRequest("unsupported application/vnd.ipld.car version: only version=1 is supported")
    if order not in ("", "dfs", "unk"):
        raise BadRequest("unsupported application/vnd.ipld.car order parameter")
    if dups not in ("", "y", "n"):
        raise BadRequest("unsupported application/vnd.ipld.car dups parameter")
    return CarParams(scope, order or "dfs", dups == "y", frm, to, has_range)


def _entity_bytes(text: str) -> tuple[int, int | None]:
    parts = text.split(":")
    if len(parts) != 2:
        raise BadRequest("range must have two numbers separated with ':'")
    frm = go_int(parts[0])
    if parts[1] == "*":
        return frm, None
    to = go_int(parts[1])
    if (frm >= 0 and to >= 0 and frm > to) or (frm < 0 and to < 0 and frm > to):
        raise BadRequest("cannot have an entity-bytes range where 'from' is after 'to'")
    return frm, to


def byte_ranges(header: str) -> list[tuple[int, int | None]]:
    """``Range: bytes=...`` as (from, to) pairs: from < 0 is a suffix length; to inclusive or None."""
    if not header.startswith("bytes="):
        raise BadRequest("invalid range request: invalid range")
    out = []
    for item in header[6:].split(","):
        item = item.strip(" \t")
        if not item:
            continue
        start, sep, end = item.partition("-")
        start, end = start.strip(" \t"), end.strip(" \t")
        if not sep or not (start or end):
            raise BadRequest("invalid range request: invalid range")
        try:
            if not start:
                if end.startswith("-") or go_int(end) < 0:
                    raise BadRequest("invalid range")
                out.append((-go_int(end), None))
                continue
            frm = go_int(start)
            stop = go_int(end) if end else None
            if stop is not None and (stop < 0 or frm > stop):
                raise BadRequest("invalid range")
            out.append((frm, stop))
        except BadRequest:
            raise BadRequest("invalid range request: invalid range") from None
    return out
