"""`casengine serve` as the gateway tests run it: a real process on 127.0.0.1 (port chosen by the
kernel), and HTTP clients for it and for Kubo's gateway on its unix socket."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest


class Served:
    """A running ``casengine serve --repo REPO --listen 127.0.0.1:0`` (stopped by :meth:`stop`)."""

    def __init__(self, repo: Path, *flags: str, listen: str = "127.0.0.1:0", env: dict | None = None,
                 argv: list[str] | None = None):
        cmd = argv or [sys.executable, "-m", "casengine", "serve", "--repo", str(repo), "--listen", listen, *flags]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                     env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            self.stop()
            pytest.fail(f"casengine serve did not start: {line!r} {self.proc.stderr.read().decode()[-2000:]}")
        self.url = line.split("listening on ", 1)[1].strip()
        self.host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)

    def conn(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class UnixHTTP(http.client.HTTPConnection):
    """HTTP over a unix socket (Kubo's gateway in the tests listens on one)."""

    def __init__(self, path: Path, timeout: float = 60):
        super().__init__("127.0.0.1", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def fetch(conn: http.client.HTTPConnection, url: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body); Host 127.0.0.1 (Kubo redirects `localhost` to a subdomain)."""
    conn.request(method, url, headers={"Host": "127.0.0.1", **(headers or {})})
    r = conn.getresponse()
    body = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


class CorruptingGateway:
    """A gateway in front of *upstream* that flips the last byte of every body it relays (a raw block
    no longer matches its CID; a CAR's last block does not): the attacker a client must refuse."""

    def __init__(self, upstream: str):
        import http.server
        import threading
        import urllib.request

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):   # noqa: N802 (http.server's name)
                req = urllib.request.Request(upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, headers, body = resp.status, resp.headers, bytearray(resp.read())
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers, bytearray(e.read())
                if status == 200 and len(body) > 8:
                    body[-1] ^= 0xFF
                self.send_response(status)
                for name in ("Content-Type", "Etag", "X-Ipfs-Roots"):
                    if headers.get(name):
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
