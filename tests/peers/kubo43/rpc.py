"""Kubo's RPC API (/api/v0, POST only) over its unix socket: one request per connection, the whole
answer read, with the X-Stream-Error trailer that Kubo sends when a stream fails after it began
(http.client reads trailers only to throw them away, so this speaks HTTP/1.1 itself).  A body is
sent only after Kubo's `100 Continue`: Kubo answers a refused option before reading the body and
then closes, and a body pushed at it regardless would end in a connection reset, not its answer;
one it refuses halfway (an option checked at the first file) is answered all the same."""
from __future__ import annotations

import json
import socket
import threading
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
    if body:
        head.append("Expect: 100-continue")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        raw = bytearray()
        sender = None
        if body:
            while b"\r\n\r\n" not in raw and (data := s.recv(1 << 16)):
                raw += data
            if raw.startswith(b"HTTP/1.1 100"):
                raw = bytearray(raw.partition(b"\r\n\r\n")[2])
                # sent while the answer is read: Kubo streams an event per file as it reads the body
                sender = threading.Thread(target=send, args=(s, body), daemon=True)
                sender.start()
        try:
            while data := s.recv(1 << 16):
                raw += data
        except ConnectionResetError:
            if not raw:
                raise   # else: Kubo closed on the rest of a body it refused, after its answer
        if sender is not None:
            sender.join(timeout)
    status, headers, payload, trailers = parse(bytes(raw))
    if "x-stream-error" in trailers:
        raise KuboError(trailers["x-stream-error"])
    if status != 200:
        try:
            raise KuboError(json.loads(payload)["Message"])
        except (ValueError, KeyError):
            raise KuboError(f"HTTP {status}: {payload.decode(errors='replace').strip()}") from None
    return payload


def send(s: socket.socket, body: bytes) -> None:
    try:
        s.sendall(body)
    except OSError:
        pass   # Kubo refused after reading part of it (its answer is waiting), or hung up


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
