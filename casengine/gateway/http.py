"""A small HTTP/1.1 server on asyncio: keep-alive, streamed bodies, bounded cost per client.

Why asyncio and not ``ThreadingHTTPServer``: a stalled or slow client then costs a parked
coroutine and the batch it waits to take, not a thread, so hundreds can wait while a fixed pool
of threads does the block reads and hashing (bench/gateway.py measures both servers). The
handler is synchronous (LMDB, hashlib) and runs on that pool; a streamed body is pulled from it
in batches of about :data:`BATCH` bytes, each sent before the next is read, so a response holds
at most one batch. Sockets are used directly (``sock_recv``/``sock_sendall``), not streams: a
stream's transport copies every byte it cannot send at once into its buffer (Python 3.11),
where ``sock_sendall`` keeps a view of the block's own buffer.
"""
from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, Iterable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

#: Bytes of a streamed body read ahead per trip to the worker threads.
BATCH = 256 << 10
#: Pieces of a body shorter than this are joined into one send (CAR section headers, chunk framing).
SMALL = 16 << 10
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


class _HeadTooLarge(Exception):
    """A request head longer than MAX_HEAD."""


class Server:
    """Serves *handler* on a listening socket (:meth:`listen`, then :meth:`serve`)."""

    def __init__(self, handler: Handler, *, workers: int | None = None):
        self.handler = handler
        self.pool = ThreadPoolExecutor(max_workers=workers or max(4, 2 * (os.cpu_count() or 2)),
                                       thread_name_prefix="casengine-gateway")
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    @staticmethod
    def listen(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=1024)
        listener.setblocking(False)
        return listener

    async def serve(self, listener: socket.socket) -> None:
        """Accept connections until cancelled, at most MAX_CONNECTIONS served at once."""
        loop = asyncio.get_running_loop()
        connections: set[asyncio.Task] = set()
        while True:
            await self.slots.acquire()
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:          # out of descriptors, a connection reset before it was taken
                self.slots.release()
                await asyncio.sleep(0.05)
                continue
            except BaseException:
                self.slots.release()
                raise
            conn.setblocking(False)
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._connection(conn))
            connections.add(task)
            task.add_done_callback(connections.discard)

    async def _connection(self, conn: socket.socket) -> None:
        try:
            pending = bytearray()      # bytes received after the last head (a pipelined request)
            wait = HEAD_TIMEOUT
            while await self._one(conn, pending, wait):
                wait = IDLE_TIMEOUT
        except (OSError, TimeoutError):
            pass
        finally:
            conn.close()
            self.slots.release()

    async def _head(self, conn: socket.socket, pending: bytearray, wait: float) -> bytes | None:
        """The next request head (without its blank line); None if the client closed first."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(wait):
            while True:
                end = pending.find(b"\r\n\r\n")
                if end >= 0:
                    head = bytes(pending[:end])
                    del pending[:end + 4]
                    return head
                if len(pending) > MAX_HEAD:
                    raise _HeadTooLarge()
                data = await loop.sock_recv(conn, 64 << 10)
                if not data:
                    return None
                pending += data

    async def _one(self, conn: socket.socket, pending: bytearray, wait: float) -> bool:
        """Serve one request; True to keep the connection for another."""
        try:
            head = await self._head(conn, pending, wait)
        except _HeadTooLarge:
            await self._send(conn, "HEAD", plain(431, "request header fields too large"), close=True)
            return False
        if head is None:
            return False
        try:
            request = parse_head(head)
        except ValueError as e:
            await self._send(conn, "GET", plain(400, f"malformed request: {e}"), close=True)
            return False
        keep = _keep_alive(request)
        if request.header("transfer-encoding") or request.header("content-length") not in ("", "0"):
            keep = False   # a body is never read: whatever follows could not be framed safely
        response = await asyncio.get_running_loop().run_in_executor(self.pool, self._handle, request)
        await self._send(conn, request.method, response, close=not keep)
        return keep

    def _handle(self, request: Request) -> Response:
        try:
            return self.handler(request)
        except Exception as e:  # a bug must cost one response, not the server
            return plain(500, f"internal error: {type(e).__name__}: {e}")

    async def _send(self, conn: socket.socket, method: str, response: Response, *, close: bool) -> None:
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
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        if method == "HEAD" or response.status in (204, 304):
            if streamed and hasattr(body, "close"):
                body.close()
            await _send_all(conn, [head_bytes])
        elif not streamed:
            await _send_all(conn, [head_bytes, body])
        else:
            await _send_all(conn, [head_bytes])
            await self._stream(conn, _Pump(iter(body)), response, chunked)

    async def _stream(self, conn: socket.socket, pump: _Pump, response: Response, chunked: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await loop.run_in_executor(self.pool, pump)
                except Exception as e:
                    if not chunked:
                        raise ConnectionError("body failed after its length was sent") from e
                    # Kubo's way: the truncation text, then a proper end with the error as a trailer
                    text = response.truncated.encode()
                    error = " ".join(str(e).split()).encode("latin-1", "replace")
                    await _send_all(conn, [(b"%x\r\n%s\r\n" % (len(text), text) if text else b"") +
                                           b"0\r\nX-Stream-Error: %s\r\n\r\n" % error])
                    return
                if data is None:
                    break
                if chunked:
                    data = [b"%x\r\n" % sum(map(len, data)), *data, b"\r\n"]
                await _send_all(conn, data)
            if chunked:
                await _send_all(conn, [b"0\r\n\r\n"])
        finally:
            await loop.run_in_executor(self.pool, pump.close)


async def _send_all(conn: socket.socket, pieces: list) -> None:
    """Send *pieces* in order within WRITE_TIMEOUT: large ones straight from their buffers (no
    copy: sock_sendall keeps a view of what is left), runs of small ones joined into one send."""
    loop = asyncio.get_running_loop()
    small: list = []
    async with asyncio.timeout(WRITE_TIMEOUT):
        for piece in pieces:
            if len(piece) < SMALL:
                small.append(piece)
                continue
            if small:
                await loop.sock_sendall(conn, b"".join(small))
                small = []
            await loop.sock_sendall(conn, piece)
        if small:
            await loop.sock_sendall(conn, b"".join(small))


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
    listener = server.listen(host, port)
    try:
        bound = listener.getsockname()
        if ready:
            ready(bound[0], bound[1])
        await server.serve(listener)
    finally:
        listener.close()
        server.pool.shutdown(wait=False, cancel_futures=True)
