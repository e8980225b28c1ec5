"""A peer that accepts connections and never answers, on 127.0.0.1 or on a unix socket."""
from __future__ import annotations

import socket
import threading
from pathlib import Path


class SilentServer:
    """Accepts connections and holds them open, never reading or writing. ``api`` is its
    address as Kubo's ``--api`` spells it (``/ip4/127.0.0.1/tcp/PORT`` or ``/unix/PATH``)."""

    def __init__(self, unix: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
        self.sock.bind(str(unix) if unix else ("127.0.0.1", 0))
        self.sock.listen(64)
        self.api = f"/unix{unix}" if unix else f"/ip4/127.0.0.1/tcp/{self.sock.getsockname()[1]}"
        self.port = None if unix else self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
