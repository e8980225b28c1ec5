"""Kubo's RPC API (/api/v0, POST only) over its unix socket: one request per connection, the whole
answer read, with the X-Stream-Error trailer that Kubo sends when a stream fails after it began
(http.client reads trailers only to throw them away, so this speaks HTTP/1.1 itself)."""
from __future__ import annotations

import json
import socket
import urllib.parse
from collections.abc import Iterable
from pathlib import Path


class KuboError(RuntimeError):
    """Kubo refused; str(e) is Kubo's own message (what the CLI prints after "Error: ")."""


def call(sock_path: Path, cmd: str, args: Iterable[str] = (), params: Iterable[tuple[str, str]] = (),
         body: bytes = b"", content_type: str | None = None, timeout: float = 120) -> bytes:
    """POST /api/v0/cmd?arg=..&params; the body of a 200 answer, else KuboError(Kubo's message)."""
    query = urllib.parse.urlencode([("arg", a) for a in args] + list(params))
    head = [f"POST /api/v0/{cmd}?{query} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            f"Content-Length: {len(body)}"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while data := s.recv(1 << 16):
            chunks.append(data)
    status, headers, payload, trailers = parse(b"".join(chunks))
    if "x-stream-error" in trailers:
        raise KuboError(trailers["x-stream-error"])
    if status != 200:
        try:
            raise KuboError(json.loads(payload)["Message"])
        except (ValueError, KeyError):
            raise KuboError(f"HTTP {status}: {payload.decode(errors='replace').strip()}") from None
    return payload


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes, dict[str, str]]:
    """(status, headers, body, trailers) of one whole HTTP/1.1 response (chunked or not)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = fields(lines[1:])
    if headers.get("transfer-encoding", "").lower() != "chunked":
        return status, headers, rest, {}
    body, pos = [], 0
    while True:
        eol = rest.index(b"\r\n", pos)
        size = int(rest[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            break
        body.append(rest[pos:pos + size])
        pos += size + 2
    trailer = rest[pos:].decode("latin-1").split("\r\n")
    return status, headers, b"".join(body), fields(trailer)


def fields(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out
