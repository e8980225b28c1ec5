"""Deserialized responses of the path gateway: a UnixFS file's bytes (typed as Kubo types them, with
single byte ranges: 206 and 416), a directory's index.html or a listing, a symlink's target, and a
dag-cbor/dag-json block as its own media type."""

from __future__ import annotations

import html
import posixpath
from typing import Iterator

from ..dag.cid import DAG_CBOR, DAG_PB, RAW, Cid
from ..dag.unixfs import DataType
from ..errors import PathNotFound
from ..exporter import Exporter, Node
from . import mime
from .headers import IMMUTABLE, disposition, path_escape
from .http import Request, Response, plain
from .params import byte_ranges
from .resolve import Resolved, resolve

DAG_JSON = 0x0129
_CODEC_TYPES = {DAG_CBOR: "application/vnd.ipld.dag-cbor", DAG_JSON: "application/vnd.ipld.dag-json",
                0x0200: "application/json", 0x51: "application/cbor"}
LISTING_CACHE = "public, max-age=604800, stale-while-revalidate=2678400"


def respond(exporter: Exporter, request: Request, resolved: Resolved, base: list[tuple[str, str]]) -> Response:
    """The deserialized answer for a resolved path (headers in *base* already set by the caller)."""
    node = resolved.node
    if node.cid.codec not in (DAG_PB, RAW):
        return _codec(request, resolved, base)
    if node.is_dir:
        return _directory(exporter, request, resolved, base)
    if node.type == DataType.SYMLINK:
        target = node.fs.data or b""
        return _file(request, resolved, base, len(target), lambda lo, hi: iter([target[lo:hi]]), "inode/symlink")
    if not node.is_file:
        return plain(501, f"unsupported UnixFS type {node.type.name.lower()}")
    return _file(request, resolved, base, node.file_size(), lambda lo, hi: exporter.cat(node, lo, hi - lo),
                 None, exporter=exporter, node=node)


def _name(request: Request, resolved: Resolved) -> str:
    """The name a file is typed by: ``?filename=`` or the last path segment ("" for a bare CID)."""
    return request.arg("filename") or (resolved.segments[-1] if resolved.segments else "")


def _file(request: Request, resolved: Resolved, base: list[tuple[str, str]], size: int, read, ctype: str | None,
          *, exporter: Exporter | None = None, node: Node | None = None, etag_cid: Cid | None = None) -> Response:
    headers = list(base)
    headers.append(("Etag", f'"{etag_cid or resolved.cid}"'))
    headers.append(("Cache-Control", IMMUTABLE))
    if request.arg("filename"):
        kind = "attachment" if request.arg("download") == "true" else "inline"
        headers.append(("Content-Disposition", disposition(request.arg("filename"), kind)))
    ranges = byte_ranges(request.header("range")) if request.header("range") and request.method == "GET" else []
    if ctype is None:
        ctype = mime.by_extension(_name(request, resolved))
        if not ctype and (not ranges or ranges[0][0] == 0):
            head = b"".join(read(0, min(size, mime.SNIFF_BYTES))) if size else b""
            ctype = mime.sniff(head) if size else "text/plain"
        if ctype.startswith("text/html;"):
            ctype = "text/html"
    headers.append(("Content-Type", ctype))
    headers.append(("Accept-Ranges", "bytes"))
    if len(ranges) == 1:
        lo, hi = ranges[0]
        if lo < 0:
            lo = max(size + lo, 0)
            hi = size - 1
        elif hi is None or hi >= size:
            hi = size - 1
        if lo >= size or size == 0:    # as Go's http.Error leaves it: no Accept-Ranges, plain text
            headers = [h for h in headers if h[0] not in ("Content-Type", "Accept-Ranges")]
            headers += [("Content-Range", f"bytes */{size}"), ("Content-Type", "text/plain; charset=utf-8"),
                        ("X-Content-Type-Options", "nosniff")]
            return Response(416, headers, b"invalid range: failed to overlap\n")
        headers.append(("Content-Range", f"bytes {lo}-{hi}/{size}"))
        return Response(206, headers, read(lo, hi + 1), length=hi + 1 - lo)
    return Response(200, headers, read(0, size) if size else b"", length=size)


def _directory(exporter: Exporter, request: Request, resolved: Resolved, base: list[tuple[str, str]]) -> Response:
    if not request.raw_path.endswith("/") and request.arg("go-get") != "1":
        query = request.target.partition("?")[2]
        where = request.raw_path + "/" + (f"?{path_escape(query)}" if query else "")
        body = f'<a href="{html.escape(where)}">Moved Permanently</a>.\n\n'.encode()
        return Response(301, base + [("Content-Type", "text/html; charset=utf-8"), ("Location", where)], body)
    try:
        index = resolve(exporter, resolved.path.rstrip("/") + "/index.html", resolved.cid, ["index.html"])
    except PathNotFound:
        index = None
    if index is not None:
        if not index.node.is_file:
            return plain(422, "index.html could not be read: not a file")
        node = index.node
        return _file(request, resolved, base, node.file_size(), lambda lo, hi: exporter.cat(node, lo, hi - lo),
                     None if request.arg("filename") else "text/html", etag_cid=resolved.cid)
    if request.method == "HEAD":    # Kubo 0.43.1 answers a listing's HEAD with a bare 200
        return Response(200, [])
    headers = base + [("Content-Type", "text/html"), ("Etag", f'"DirIndex-casengine_CID-{resolved.cid}"'),
                      ("Cache-Control", LISTING_CACHE)]
    return Response(200, headers, _listing(exporter, request, resolved))


def _listing(exporter: Exporter, request: Request, resolved: Resolved) -> Iterator[bytes]:
    """An HTML index of the directory, streamed one entry at a time (HAMT shards read as they come)."""
    path = html.escape(resolved.path)
    yield (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{path}</title></head><body>\n"
           f"<h1>Index of {path}</h1>\n<p>{resolved.cid}</p>\n<table>\n").encode()
    if resolved.segments:
        yield b'<tr><td><a href="..">..</a></td><td></td><td></td></tr>\n'
    for name, link in exporter.links(resolved.node):
        href = html.escape(posixpath.join(request.raw_path, path_escape(name)))
        yield (f'<tr><td><a href="{href}">{html.escape(name)}</a></td><td>{link.cid}</td>'
               f"<td>{link.tsize or 0}</td></tr>\n").encode()
    yield b"</table>\n</body></html>\n"


def _codec(request: Request, resolved: Resolved, base: list[tuple[str, str]]) -> Response:
    """A dag-cbor/dag-json (or plain json/cbor) block, served as is under its codec's media type."""
    cid = resolved.cid
    ctype = _CODEC_TYPES.get(cid.codec)
    if ctype is None:
        return plain(500, f"content type not found for codec: {cid.codec_name}")
    ext = ".json" if ctype.endswith("json") else ".cbor"
    name = request.arg("filename") or f"{cid}{ext}"
    kind = "inline" if ext == ".json" and request.arg("download") != "true" else "attachment"
    headers = base + [("Etag", f'"{cid}.{ctype.rsplit(".", 1)[-1].rsplit("/", 1)[-1]}"'), ("Cache-Control", IMMUTABLE),
                      ("Content-Disposition", disposition(name, kind)), ("Content-Type", ctype),
                      ("X-Content-Type-Options", "nosniff"), ("Accept-Ranges", "bytes")]
    return Response(200, headers, resolved.node.block)
