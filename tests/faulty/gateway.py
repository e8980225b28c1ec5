"""A trustless gateway on 127.0.0.1 that relays a real gateway's answers and lies on demand.

It stands in front of ``casengine serve`` or Kubo's gateway (*connect* opens a connection to it)
and relays every ``GET``; its content is what the real gateway's peer holds (``store``, that
peer's blocks, where the tests put theirs). Faults, for every request but the ``bafkqaaa``
probe (so the tier still finds the gateway up):

* ``corrupt``: one byte in the middle of every 200 body flipped (a block no longer matches its
  CID, a CAR holds a corrupt block);
* ``wrong``: a well-formed answer for other content: the real gateway's answer for another CID
  (a block the peer holds) given for the CID asked.
"""
from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from casengine.importer import Importer
from casengine.stores.base import Blockstore

FAULTS = ("ok", "corrupt", "wrong")
PROBE = "/ipfs/bafkqaaa"


class FaultyGateway:
    """``url`` to give the gateway tier, ``fault(mode)`` to choose how it lies, ``store`` the
    real peer's blocks; a context manager (stopped on exit)."""

    def __init__(self, connect: Callable[[], http.client.HTTPConnection], store: Blockstore):
        self.connect, self.store = connect, store
        self.mode = "ok"
        self.requests: list[str] = []  # the path of every request
        #: what the lies are made of: a file the peer holds, not the content asked for
        self.other = Importer(store).add_bytes(b"other content: what a lying gateway answers with\n").cid
        handler = type("Handler", (_Handler,), {"gateway": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def fault(self, mode: str) -> None:
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}")
        self.mode = mode

    def mode_for(self, cmd: str) -> str:
        return self.mode

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultyGateway:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    gateway: FaultyGateway

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        gw = self.gateway
        gw.requests.append(self.path)
        mode = "ok" if self.path.startswith(PROBE) else gw.mode
        target = re.sub(r"^/ipfs/[^/?]+", f"/ipfs/{gw.other}", self.path) if mode == "wrong" else self.path
        conn = gw.connect()
        try:
            conn.request("GET", target, headers={"Host": "127.0.0.1", "Accept": self.headers.get("Accept", "*/*")})
            resp = conn.getresponse()
            status, ctype, body = resp.status, resp.getheader("Content-Type"), bytearray(resp.read())
        finally:
            conn.close()
        if status == 200 and mode == "corrupt" and body:
            body[len(body) // 2] ^= 0x01
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
