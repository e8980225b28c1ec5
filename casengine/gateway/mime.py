"""The Content-Type Kubo's gateway gives a file: by the name's extension as Go's ``mime`` package maps
it (Go's built-in table, then the system's shared-mime-info globs, else its mime.types files), else
sniffed from the first bytes as gabriel-vasile/mimetype does for the common kinds (images, PDF,
archives, HTML, UTF-8 text; anything else is ``application/octet-stream``)."""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

#: Go 1.26's builtinTypesLower (mime/type.go): facts, the same on every system.
_GO_BUILTIN = dict(item.split(" ", 1) for item in (
    ".ai application/postscript|.apk application/vnd.android.package-archive|.apng image/apng|"
    ".avif image/avif|.bin application/octet-stream|.bmp image/bmp|.com application/octet-stream|"
    ".css text/css; charset=utf-8|.csv text/csv; charset=utf-8|.doc application/msword|"
    ".docx application/vnd.openxmlformats-officedocument.wordprocessingml.document|"
    ".ehtml text/html; charset=utf-8|.eml message/rfc822|.eps application/postscript|"
    ".exe application/octet-stream|.flac audio/flac|.gif image/gif|.gz application/gzip|"
    ".htm text/html; charset=utf-8|.html text/html; charset=utf-8|.ico image/vnd.microsoft.icon|"
    ".ics text/calendar; charset=utf-8|.jfif image/jpeg|.jpeg image/jpeg|.jpg image/jpeg|"
    ".js text/javascript; charset=utf-8|.json application/json|.m4a audio/mp4|"
    ".mjs text/javascript; charset=utf-8|.mp3 audio/mpeg|.mp4 video/mp4|.oga audio/ogg|.ogg audio/ogg|"
    ".ogv video/ogg|.opus audio/ogg|.pdf application/pdf|.pjp image/jpeg|.pjpeg image/jpeg|"
    ".png image/png|.ppt application/vnd.ms-powerpoint|"
    ".pptx application/vnd.openxmlformats-officedocument.presentationml.presentation|"
    ".ps application/postscript|.rdf application/rdf+xml|.rtf application/rtf|"
    ".shtml text/html; charset=utf-8|.svg image/svg+xml|.text text/plain; charset=utf-8|"
    ".tif image/tiff|.tiff image/tiff|.txt text/plain; charset=utf-8|.vtt text/vtt; charset=utf-8|"
    ".wasm application/wasm|.wav audio/wav|.webm audio/webm|.webp image/webp|"
    ".xbl text/xml; charset=utf-8|.xbm image/x-xbitmap|.xht application/xhtml+xml|"
    ".xhtml application/xhtml+xml|.xls application/vnd.ms-excel|"
    ".xlsx application/vnd.openxmlformats-officedocument.spreadsheetml.sheet|"
    ".xml text/xml; charset=utf-8|.xsl text/xml; charset=utf-8|.zip application/zip").split("|"))
_GLOBS = ("/usr/local/share/mime/globs2", "/usr/share/mime/globs2")
_TYPE_FILES = ("/etc/mime.types", "/etc/apache2/mime.types", "/etc/apache/mime.types", "/etc/httpd/conf/mime.types")
#: Bytes sniffed (mimetype's default read limit).
SNIFF_BYTES = 4096


def _with_charset(kind: str) -> str:
    return f"{kind}; charset=utf-8" if kind.startswith("text/") and "charset=" not in kind else kind


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], dict[str, str]]:
    """(exact, lower-cased) extension -> type, built as Go's mime package builds it on Linux."""
    exact = dict(_GO_BUILTIN)
    for path in _GLOBS:  # weight order: the first entry of an extension wins; Go stops at the first file
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    fields = line.rstrip("\n").split(":")
                    if len(fields) < 3 or not fields[0] or len(fields[2]) < 3:
                        continue
                    if fields[0][0] == "#" or not fields[2].startswith("*."):
                        continue
                    ext = fields[2][1:]
                    if any(c in ext for c in "?*[") or ext in exact:
                        continue
                    exact[ext] = _with_charset(fields[1])
            break
        except OSError:
            continue
    else:
        for path in _TYPE_FILES:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        fields = line.split()
                        if len(fields) <= 1 or fields[0].startswith("#"):
                            continue
                        for ext in fields[1:]:
                            if ext.startswith("#"):
                                break
                            exact["." + ext] = _with_charset(fields[0])
            except OSError:
                continue
    return exact, {k.lower(): v for k, v in exact.items()}


def by_extension(name: str) -> str:
    """Go's ``mime.TypeByExtension(path.Ext(name))`` ("" when unknown)."""
    ext = posixpath.splitext(name)[1] if "." in posixpath.basename(name) else ""
    if not ext:
        return ""
    exact, lower = _table()
    return exact.get(ext) or lower.get(ext.lower(), "")


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"), (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"), (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\xfd7zXZ\x00", "application/x-xz"), (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"\x00asm", "application/wasm"), (b"\x7fELF", "application/x-elf"),
)
_HTML = re.compile(rb"\s*<(!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE|TITLE|B|BODY|BR|P|!--)[ >]",
                   re.IGNORECASE)
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


def sniff(head: bytes) -> str:
    """The type mimetype detects for a file starting with *head* (its first SNIFF_BYTES bytes)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith((b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")) or not _BINARY.search(head[:SNIFF_BYTES]):
        if _HTML.match(head):
            return "text/html; charset=utf-8"
        return "text/plain; charset=utf-8"
    return "application/octet-stream"
