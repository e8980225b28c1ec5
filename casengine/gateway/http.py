"""A small HTTP/1.1 server on asyncio: keep-alive, streamed bodies, bounded cost per client.

Why asyncio and not ``ThreadingHTTPServer``: a stalled or slow client then costs a parked
coroutine and a bounded write buffer, not a thread, so hundreds can wait while a fixed pool of
threads does the block reads and hashing (bench/gateway.py measures both servers). The handler
is synchronous (LMDB, hashlib) and runs on that pool; a streamed body is pulled from it in
batches of about :data:`BATCH` bytes, each written and drained before the next is read, so a
response holds at most one batch plus the transport's buffer in memory.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, Iterable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

#: Bytes of a streamed body read ahead per trip to the worker threads.
BATCH = 256 << 10
#: The transport buffers at most this much before a write waits for the client.
HIGH_WATER = 256 << 10
#: Request line plus headers; a longer head is refused (431).
MAX_HEAD = 32 << 10
#: Seconds a client may take to send a request head, to stay idle between requests, and to
#: take one batch of a response; past them the connection is closed.
HEAD_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 60.0
#: Connections served at once; more wait in the listen backlog.
MAX_CONNECTIONS = 512


@dataclass
class Request:
    method: str
    target: str
    path: str                      # percent-decoded
    raw_path: str                  # as sent
    query: dict[str, list[str]]
    headers: dict[str, list[str]]  # lower-cased names, every value in order

    def header(self, name: str) -> str:
        """The first value of header *name* ("" if absent)."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    def arg(self, name: str) -> str:
        values = self.query.get(name)
        return values[0] if values else ""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes | memoryview] = b""
    length: int | None = None      # of an iterable body, when known (else chunked)
    #: Text appended (and the stream cut) when an iterable body fails midway, as Kubo does for CARs.
    truncated: str = ""

    def set(self, name: str, value: str) -> "Response":
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))
        return self


Handler = Callable[[Request], Response]


def parse_head(head: bytes) -> Request:
    """The request line and headers (ValueError if malformed)."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported protocol {version!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"malformed header line {line[:40]!r}")
        headers.setdefault(name.lower(), []).append(value.strip())
    headers.setdefault(":version", [version])
    parts = urlsplit(target)
    return Request(method, target, unquote(parts.path, errors="surrogateescape"), parts.path,
                   parse_qs(parts.query, keep_blank_values=True), headers)


class _Pump:
    """Pulls a body in batches of ~BATCH bytes on a worker thread. An error is raised only after
    the bytes produced before it were handed out, so a client gets everything up to the failure."""

    def __init__(self, body: Iterator[bytes | memoryview]):
        self.body = body
        self.error: BaseException | None = None

    def __call__(self) -> list | None:
        """The next batch of pieces, None at the end."""
        if self.error is not None:
            raise self.error
        pieces, size = [], 0
        try:
            for piece in self.body:
                pieces.append(piece)
                size += len(piece)
                if size >= BATCH:
                    break
        except Exception as e:
            if not pieces:
                raise
            self.error = e
        return pieces or None

    def close(self) -> None:
        if hasattr(self.body, "close"):
            self.body.close()


class Server:
    """Serves *handler* on a listening socket until :meth:`close`."""

    def __init__(self, handler: Handler, *, workers: int | None = None):
        self.handler = handler
        self.pool = ThreadPoolExecutor(max_workers=workers or max(4, 2 * (os.cpu_count() or 2)),
                                       thread_name_prefix="casengine-gateway")
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def start(self, host: str, port: int) -> asyncio.base_events.Server:
        return await asyncio.start_server(self._connection, host, port, limit=MAX_HEAD, backlog=1024)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self.slots:
            writer.transport.set_write_buffer_limits(high=HIGH_WATER)
            try:
                first = True
                while await self._one(reader, writer, HEAD_TIMEOUT if first else IDLE_TIMEOUT):
                    first = False
            except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort() if writer.transport.get_write_buffer_size() else writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wait: float) -> bool:
        """Serve one request; True to keep the connection for another."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
        except asyncio.LimitOverrunError:
            await self._send(writer, "HEAD", plain(431, "request header fields too large"), close=True)
            return False
        except asyncio.IncompleteReadError:
            return False
        try:
            request = parse_head(head[:-4])
        except ValueError as e:
            await self._send(writer, "GET", plain(400, f"malformed request: {e}"), close=True)
            return False
        keep = _keep_alive(request)
        if request.header("transfer-encoding") or request.header("content-length") not in ("", "0"):
            keep = False   # a body is never read: whatever follows could not be framed safely
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.pool, self._handle, request)
        await self._send(writer, request.method, response, close=not keep, pool=self.pool)
        return keep

    def _handle(self, request: Request) -> Response:
        try:
            return self.handler(request)
        except Exception as e:  # a bug must cost one response, not the server
            return plain(500, f"internal error: {type(e).__name__}: {e}")

    async def _send(self, writer: asyncio.StreamWriter, method: str, response: Response, *, close: bool,
                    pool: ThreadPoolExecutor | None = None) -> None:
        body = response.body
        streamed = not isinstance(body, (bytes, bytearray, memoryview))
        length = response.length if streamed else len(body)
        chunked = streamed and length is None and method != "HEAD"
        head = [f"HTTP/1.1 {response.status} {reason(response.status)}"]
        head += [f"{k}: {v}" for k, v in response.headers]
        head.append(f"Date: {formatdate(usegmt=True)}")
        if chunked:
            head.append("Transfer-Encoding: chunked")
        elif length is not None and response.status not in (204, 304):
            head.append(f"Content-Length: {length}")
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace"))
        if method == "HEAD" or response.status in (204, 304):
            if streamed and hasattr(body, "close"):
                body.close()
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
            return
        if not streamed:
            writer.write(body)
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
            return
        await self._stream(writer, _Pump(iter(body)), response, chunked, pool)

    async def _stream(self, writer: asyncio.StreamWriter, pump: _Pump, response: Response, chunked: bool,
                      pool: ThreadPoolExecutor | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await loop.run_in_executor(pool, pump)
                except Exception as e:
                    if not chunked:
                        raise ConnectionError("body failed after its length was sent") from e
                    # Kubo's way: the truncation text, then a proper end with the error as a trailer
                    text = response.truncated.encode()
                    error = " ".join(str(e).split()).encode("latin-1", "replace")
                    writer.write((b"%x\r\n%s\r\n" % (len(text), text) if text else b"") +
                                 b"0\r\nX-Stream-Error: %s\r\n\r\n" % error)
                    await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
                    return
                if data is None:
                    break
                if chunked:
                    writer.write(b"%x\r\n" % sum(map(len, data)))
                    data.append(b"\r\n")
                writer.writelines(data)
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        finally:
            await loop.run_in_executor(pool, pump.close)


def _keep_alive(request: Request) -> bool:
    connection = request.header("connection").lower()
    if request.header(":version") == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def plain(status: int, text: str) -> Response:
    """A text/plain answer as Go's http.Error writes it."""
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
                    (text + "\n").encode())




async def serve_forever(handler: Handler, host: str, port: int, ready: Callable[[str, int], None] | None = None,
                        workers: int | None = None) -> None:
    """Listen on *host*:*port* and serve until cancelled; *ready* gets the bound address."""
    server = Server(handler, workers=workers)
    listener = await server.start(host, port)
    try:
        sock = listener.sockets[0].getsockname()
        if ready:
            ready(sock[0], sock[1])
        async with listener:
            await listener.serve_forever()
    finally:
        server.pool.shutdown(wait=False, cancel_futures=True)
