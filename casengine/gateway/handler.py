"""``/ipfs/...`` requests answered as Kubo 0.43.1's gateway answers them: the trustless responses
(raw blocks, CARs, the ``bafkqaaa`` probe) and, unless the gateway is trustless-only (406), the
deserialized path gateway. Read-only: any verb but GET, HEAD and OPTIONS is refused (405)."""

from __future__ import annotations

import html

from .. import car
from ..errors import BadRequest, CasError, CidNotFound, PathNotFound
from ..exporter import Exporter
from ..stores.base import Blockstore
from . import carstream, unixfs
from .headers import CORS, IMMUTABLE, car_etag, disposition, field_safe, ipfs_uri
from .http import Request, Response, plain, reason
from .params import CAR, RAW, car_params, response_format
from .resolve import clean, missing, resolve, split

ALLOW = [("Allow", "GET"), ("Allow", "HEAD"), ("Allow", "OPTIONS")]
_UNSERVED = ("application/x-tar", "application/json", "application/cbor", "application/vnd.ipld.dag-json",
             "application/vnd.ipld.dag-cbor", "application/vnd.ipfs.ipns-record")


class Gateway:
    """The request handler over one block store (every block read is verified against its CID)."""

    def __init__(self, store: Blockstore, *, deserialized: bool = True):
        self.exporter = Exporter(store)
        self.deserialized = deserialized

    def __call__(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(200, CORS + ALLOW)
        if request.method not in ("GET", "HEAD"):
            out = plain(405, f"Method {request.method} not allowed: read only access")
            out.headers = CORS + ALLOW + out.headers
            return out
        try:
            out = self._get(request)
        except BadRequest as e:
            out = web_error(request, 400, str(e))
        except PathNotFound as e:
            out = web_error(request, 404, str(e))
        except CasError as e:
            out = web_error(request, 500, f"failed to resolve {request.path}: {e}")
        out.headers = CORS + out.headers
        return out

    def _get(self, request: Request) -> Response:
        path = request.path
        if not path.startswith("/ipfs/"):
            if path.startswith("/ipns/"):
                return plain(501, "casengine serve resolves /ipfs/ paths only (no IPNS or DNSLink)")
            return Response(404, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
                            b"404 page not found\n")
        if clean(request.raw_path) != request.raw_path:   # as Go's ServeMux: redirect to the clean URL
            query = request.target.partition("?")[2]
            where = clean(request.raw_path) + (f"?{query}" if query else "")
            return Response(307, [("Content-Type", "text/html; charset=utf-8"), ("Location", where)],
                            f'<a href="{where}">Temporary Redirect</a>.\n\n'.encode())
        path = clean(path)   # an escaped "." or ".." is cleaned here, as boxo's path.NewPath does
        root, segments = split(path)
        base = [("Ipfs-Uri", ipfs_uri(root, segments))]
        if field_safe(path):
            base.append(("X-Ipfs-Path", path))
        if request.header("cache-control") == "only-if-cached":
            try:
                resolve(self.exporter, path, root, segments)
            except PathNotFound:
                return web_error(request, 412, f'"{path}" not in local datastore')
            if request.method == "HEAD":
                return Response(200, base)
        try:
            fmt, accept = response_format(request)
        except BadRequest as e:
            raise BadRequest(f"error while processing the Accept header: {e}") from None
        trustless = fmt == CAR or (fmt == RAW and not segments)
        if not self.deserialized and not trustless:
            return web_error(request, 406, "only trustless requests are accepted on this gateway: "
                              "https://specs.ipfs.tech/http-gateways/trustless-gateway/")
        if fmt == CAR:
            return self._car(request, path, root, segments, base, accept)
        if fmt == RAW:
            return self._raw(request, path, root, segments, base)
        if fmt in _UNSERVED:
            return web_error(request, 501, f"{fmt} responses are not implemented by casengine serve: ask for "
                              "application/vnd.ipld.raw or application/vnd.ipld.car")
        if fmt:
            raise BadRequest("unsupported response format requested")
        resolved = resolve(self.exporter, path, root, segments)
        if _none_match(request, f'"{resolved.cid}"'):
            return Response(304, [("Etag", f'"{resolved.cid}"'), ("Cache-Control", IMMUTABLE)] + base)
        base.append(("X-Ipfs-Roots", ",".join(map(str, resolved.roots))))
        return unixfs.respond(self.exporter, request, resolved, base)

    def _raw(self, request: Request, path: str, root, segments, base) -> Response:
        if segments:
            resolved = resolve(self.exporter, path, root, segments)
            cid, roots, block = resolved.cid, resolved.roots, resolved.node.block
        else:   # one block, not decoded (bafkqaaa, the probe, is an empty identity block)
            cid, roots = root, [root]
            try:
                block = self.exporter.store.get(root)
            except CidNotFound:
                raise missing(path, root, []) from None
        etag = f'"{cid}.raw"'
        if _none_match(request, etag):
            return Response(304, [("Etag", etag), ("Cache-Control", IMMUTABLE)] + base)
        name = request.arg("filename") or f"{cid}.bin"
        headers = base + [("X-Ipfs-Roots", ",".join(map(str, roots))),
                          ("Content-Disposition", disposition(name)), ("Etag", etag), ("Cache-Control", IMMUTABLE),
                          ("Content-Type", RAW), ("X-Content-Type-Options", "nosniff"), ("Accept-Ranges", "bytes")]
        return Response(200, headers, block)

    def _car(self, request: Request, path: str, root, segments, base, accept) -> Response:
        params = car_params(request, accept)
        last = path.rstrip("/").rsplit("/", 1)[-1] if segments else ""
        name = request.arg("filename") or f"{root}{'_' + last if last else ''}.car"
        etag = car_etag(path, params, root)
        headers = base + [("Content-Disposition", disposition(name)), ("Cache-Control", IMMUTABLE), ("Etag", etag)]
        if _none_match(request, etag):
            return Response(304, headers)
        try:
            resolved = resolve(self.exporter, path, root, segments)
            roots, body = resolved.roots, carstream.body(self.exporter, resolved, params)
        except PathNotFound as e:
            if not segments:     # Kubo starts the CAR, then fails on the missing root block
                roots, body = [root], _failing(root, e)
            else:
                roots, body = [root], carstream.partial(root, e.loaded)
        headers += [("X-Ipfs-Roots", ",".join(map(str, roots))), ("Accept-Ranges", "none"),
                    ("Content-Type", params.content_type), ("X-Content-Type-Options", "nosniff")]
        return Response(200, headers, body, truncated=carstream.TRUNCATED)


def _failing(root, error: PathNotFound):
    yield car.header([root])
    raise CidNotFound(root, str(error))


def web_error(request: Request, status: int, text: str) -> Response:
    """An error answer: an HTML page for a client that accepts HTML (a browser), else plain text."""
    if "text/html" not in request.header("accept"):
        return plain(status, text)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{status} {reason(status)}</title></head>"
            f"<body><h1>{status} {reason(status)}</h1><pre>{html.escape(text)}</pre></body></html>\n")
    return Response(status, [("Content-Type", "text/html")], page.encode())


def _none_match(request: Request, etag: str) -> bool:
    """``If-None-Match`` holds *etag* (weakly compared) or ``*``."""
    header = request.header("if-none-match")
    if not header:
        return False
    strong = etag[2:] if etag.startswith("W/") else etag
    for item in header.split(","):
        item = item.strip()
        if item == "*" or (item[2:] if item.startswith("W/") else item) == strong:
            return True
    return False
