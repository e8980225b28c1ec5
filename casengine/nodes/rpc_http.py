"""HTTP to a Kubo RPC API, every wait charged to the call's :class:`Deadline`.

http.client with three changes: connect, each send and each receive draw on one deadline (a
silent or trickling peer cannot hold a call), Kubo's ``X-Stream-Error`` trailer is kept
(http.client reads trailers only to drop them), and a response is a read()-able stream whose
errors are typed.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from ..errors import InvalidOption
from .deadline import Deadline

#: Bytes handed to the socket per wait when sending (each piece gets what is left of the deadline).
SEND_PIECE = 64 << 10


@dataclass(frozen=True)
class ApiAddress:
    """Where a Kubo RPC API listens: a TCP host and port, or a unix socket (*unix*, its path)."""

    host: str
    port: int
    unix: str | None = None


def parse_api(api: str) -> ApiAddress:
    """The address of an API given as Kubo's ``--api`` spells it (``/ip4|ip6|dns/HOST/tcp/PORT``,
    ``/unix/PATH``) or as a URL (``http://host:port``, ``host:port``)."""
    text = api.strip()
    if text.startswith("/unix/"):
        return ApiAddress("127.0.0.1", 80, text[len("/unix"):])  # a multiaddr's /unix/ takes the rest as path
    if text.startswith("/"):
        parts = text.split("/")
        if len(parts) >= 5 and parts[1] in ("ip4", "ip6", "dns", "dns4", "dns6") and parts[3] == "tcp":
            return ApiAddress(parts[2], int(parts[4]))
        raise InvalidOption(f"unsupported API multiaddr {api!r} (want /ip4/HOST/tcp/PORT or /unix/PATH)")
    url = urlsplit(text if "://" in text else f"http://{text}")
    if url.scheme != "http" or not url.hostname:
        raise InvalidOption(f"unsupported API address {api!r} (want http://HOST:PORT)")
    return ApiAddress(url.hostname, url.port or 5001)


class TimedSocket(socket.socket):
    """A socket whose every wait is charged to its call's :class:`Deadline`."""

    deadline: Deadline

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        def recv(seconds: float) -> int:
            self.settimeout(seconds)
            return socket.socket.recv_into(self, buffer, nbytes, flags)
        return self.deadline.wait(recv, moved=lambda n: n)

    def sendall(self, data, flags: int = 0) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), SEND_PIECE):
            piece = view[start:start + SEND_PIECE]

            def send(seconds: float) -> int:
                self.settimeout(seconds)
                socket.socket.sendall(self, piece, flags)
                return len(piece)
            self.deadline.wait(send, moved=lambda n: n)


class Response(http.client.HTTPResponse):
    """A response that keeps Kubo's ``X-Stream-Error`` trailer (http.client reads trailers only to
    drop them): the error of a command whose output had already begun to stream."""

    stream_error: str | None = None

    def _read_and_discard_trailer(self) -> None:
        while True:
            line = self.fp.readline(http.client._MAXLINE + 1)
            if len(line) > http.client._MAXLINE:
                raise http.client.LineTooLong("trailer line")
            if line in (b"\r\n", b"\n", b""):
                return
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "x-stream-error":
                self.stream_error = value.strip()


class Connection(http.client.HTTPConnection):
    """An HTTP connection whose connect, writes and reads all draw on one :class:`Deadline`."""

    response_class = Response

    def __init__(self, address: ApiAddress, deadline: Deadline):
        super().__init__(address.host, address.port, timeout=deadline.timeout)
        self.address = address
        self.deadline = deadline

    def connect(self) -> None:
        sock = self.deadline.wait(self._unix if self.address.unix else
                                  lambda seconds: socket.create_connection((self.host, self.port), seconds))
        self.sock = TimedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.sock.deadline = self.deadline
        if sock.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _unix(self, seconds: float) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(seconds)
            sock.connect(self.address.unix)
        except BaseException:
            sock.close()
            raise
        return sock


class Reader:
    """A response as a read()-able stream whose errors are typed (for tarfile)."""

    def __init__(self, resp: http.client.HTTPResponse, wrap: Callable[[BaseException], BaseException]):
        self.resp, self.wrap = resp, wrap

    def read(self, n: int = -1) -> bytes:
        try:
            return self.resp.read(n)
        except BaseException as e:
            raise self.wrap(e) from None
