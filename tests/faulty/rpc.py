"""A Kubo RPC server on 127.0.0.1 that serves real blocks and misbehaves on demand.

It answers ``POST /api/v0/CMD`` as Kubo 0.22 does (JSON bodies, streamed outputs chunked with
an ``X-Stream-Error`` trailer, ``X-Content-Length`` on ``cat``, errors as HTTP 500 with Kubo's
``{"Message", "Code", "Type": "error"}`` envelope) for the commands casengine's Kubo RPC tier
sends: version, block/get|stat|put|rm, cat, ls, add (one file), pin/add|rm|ls, refs/local,
repo/stat, dag/export|import. Content comes from a real casengine block store.

Each command may be given a fault (:data:`FAULTS`); ``version`` is spared unless named, so the
server is probed, selected as the Kubo tier, and then fails the calls that matter.
"""
from __future__ import annotations

import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from casengine import car
from casengine.dag.cid import Cid
from casengine.errors import CasError, CidNotFound
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.nodes.remote import block_cid
from casengine.options import ImportOptions
from casengine.stores.base import Blockstore

#: Every way the server can fail a command, as a peer (or the network) really fails.
FAULTS = {
    "ok": "answers correctly",
    "corrupt": "flips one byte in the middle of the body",
    "wrong": "a well-formed answer for other content (another block, another CID, other bytes)",
    "garbage": "200 OK with a body that is not what the command prints",
    "truncate": "Content-Length of the whole body, half of it sent, connection closed",
    "cut": "chunked body cut mid-way: half sent, connection closed, no last chunk",
    "stream-error": "chunked body ended early with Kubo's X-Stream-Error trailer",
    "trickle-body": "headers at once, then the body one byte per second",
    "trickle": "the whole response, status line included, one byte per second",
    "error500": "HTTP 500 with Kubo's error envelope",
    "hangup": "reads the request, closes the connection without a word",
    "silent": "accepts the connection and never answers",
}
STREAMED = {"block/get", "cat", "dag/export", "add", "refs/local", "block/rm", "dag/import"}
KUBO_VERSION = {"Version": "0.22.0", "Commit": "", "Repo": "14", "System": "amd64/linux", "Golang": "go1.19.10"}
OTHER_CID = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")  # "hello world\n": other content


class KuboError(Exception):
    """What the handler answers as Kubo's error envelope."""


class FaultyKubo:
    """The server: ``url`` to point KUBO_API at, ``fault(mode, *commands)`` to choose how it fails."""

    def __init__(self, store: Blockstore, *, trickle_interval: float = 1.0):
        self.store = store
        self.trickle_interval = trickle_interval
        self.pins: dict[Cid, str] = {}
        self.requests: list[tuple[str, str]] = []  # (command, fault) of every request
        self._faults: dict[str, str] = {}
        self._closing = threading.Event()
        handler = type("Handler", (_Handler,), {"kubo": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fault(self, mode: str, *commands: str) -> None:
        """Fail *commands* (every one but ``version`` if none are named) with *mode*."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}")
        self._faults = {cmd: mode for cmd in commands} if commands else {"*": mode}

    def mode_for(self, cmd: str) -> str:
        return self._faults.get(cmd) or ("ok" if cmd == "version" else self._faults.get("*", "ok"))

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FaultyKubo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- correct answers -----------------------------------------------------------------------------
    def answer(self, cmd: str, args: dict[str, list[str]], body: bytes) -> tuple[bytes, dict[str, str]]:
        """(body, extra headers) Kubo would send, or KuboError."""
        arg = (args.get("arg") or [""])[0]
        try:
            handler = getattr(self, "_" + cmd.replace("/", "_"))
        except AttributeError:
            raise KuboError(f"unknown command {cmd!r} (the faulty server speaks only what casengine sends)")
        try:
            return handler(arg, args, body)
        except CidNotFound as e:  # as an offline Kubo words it
            raise KuboError(f"block was not found locally (offline): ipld: could not find {e.what}") from None
        except CasError as e:
            raise KuboError(str(e)) from None

    def _version(self, arg, args, body):
        return _json(KUBO_VERSION), {}

    def _block_get(self, arg, args, body):
        return self.store.get(Cid.parse(arg)), {}

    def _block_stat(self, arg, args, body):
        cid = Cid.parse(arg)
        return _json({"Key": str(cid), "Size": len(self.store.get(cid))}), {}

    def _block_put(self, arg, args, body):
        data = _multipart_files(body)[0][1]
        codec = (args.get("cid-codec") or args.get("format") or ["raw"])[0]
        cid = block_cid(data, codec, (args.get("mhtype") or ["sha2-256"])[0])
        self.store.put(cid, data)
        return _json({"Key": str(cid), "Size": len(data)}), {}

    def _block_rm(self, arg, args, body):
        cid = Cid.parse(arg)
        error = "" if self.store.delete(cid) else f"blockstore: block not found: {cid}"
        return _json({"Hash": str(cid), "Error": error}) + b"\n", {}

    def _cat(self, arg, args, body):
        offset = int((args.get("offset") or ["0"])[0])
        length = args.get("length")
        data = Exporter(self.store).read(arg, offset, int(length[0]) if length else None)
        return data, {"X-Content-Length": str(len(data))}

    def _ls(self, arg, args, body):
        ex = Exporter(self.store)
        node = ex.resolve(arg)
        links = [{"Name": e.name, "Hash": str(e.cid), "Size": e.size, "Type": int(e.type), "Target": e.target or ""}
                 for e in ex.ls(arg)]
        return _json({"Objects": [{"Hash": str(node.cid), "Links": links}]}), {}

    def _add(self, arg, args, body):
        files = _multipart_files(body)
        if len(files) != 1:
            raise KuboError("the faulty server adds one file per request")
        name, data = files[0]
        opts = {"chunker": args.get("chunker", ["size-262144"])[0], "trickle": args.get("trickle") == ["true"],
                "hash": args.get("hash", ["sha2-256"])[0], "pin": args.get("pin") != ["false"]}
        if "cid-version" in args:
            opts["cid_version"] = int(args["cid-version"][0])
        if "raw-leaves" in args:
            opts["raw_leaves"] = args["raw-leaves"] == ["true"]
        ref = Importer(self.store, ImportOptions(**opts)).add_bytes(data)
        if opts["pin"]:
            self.pins[ref.cid] = "recursive"
        return _json({"Name": name, "Hash": str(ref.cid), "Size": str(ref.tsize)}) + b"\n", {}

    def _pin_add(self, arg, args, body):
        cid = Cid.parse(arg)
        for _ in Exporter(self.store).walk(cid):
            pass
        self.pins[cid] = "recursive" if args.get("recursive") != ["false"] else "direct"
        return _json({"Pins": [str(cid)]}), {}

    def _pin_rm(self, arg, args, body):
        cid = Cid.parse(arg)
        if self.pins.pop(cid, None) is None:
            raise KuboError("not pinned or pinned indirectly")
        return _json({"Pins": [str(cid)]}), {}

    def _pin_ls(self, arg, args, body):
        return _json({"Keys": {str(c): {"Type": t} for c, t in self.pins.items()}}), {}

    def _refs_local(self, arg, args, body):
        return b"".join(_json({"Ref": str(c), "Err": ""}) + b"\n" for c in self.store.iterate()), {}

    def _repo_stat(self, arg, args, body):
        return _json({"RepoSize": self.store.size(), "StorageMax": 10 << 30, "NumObjects": len(self.store),
                      "RepoPath": "/faulty", "Version": "fs-repo@14"}), {}

    def _dag_export(self, arg, args, body):
        cid = Cid.parse(arg)
        return b"".join(car.write([cid], Exporter(self.store).walk(cid))), {}

    def _dag_import(self, arg, args, body):
        reader = car.CarReader(io.BytesIO(_multipart_files(body)[0][1]))
        for cid, block in reader:
            self.store.put(cid, block)
        out = b""
        for root in reader.roots:
            self.pins[root] = "recursive"
            out += _json({"Root": {"Cid": {"/": str(root)}, "PinErrorMsg": ""}}) + b"\n"
        return out, {}

    # -- wrong answers ----------------------------------------------------------------------------------
    @staticmethod
    def wrong(cmd: str, body: bytes) -> bytes:
        """A well-formed answer that names other content (add, block/put) or holds other bytes."""
        if cmd in ("add", "block/put"):
            answer = json.loads(body.splitlines()[-1])
            answer["Hash" if cmd == "add" else "Key"] = str(OTHER_CID)
            return _json(answer) + b"\n"
        return bytes(b ^ 0xFF for b in body)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _multipart_files(body: bytes) -> list[tuple[str, bytes]]:
    """(filename, content) of each part of a multipart/form-data body."""
    if not body.startswith(b"--"):
        raise KuboError("expected a multipart body")
    boundary = body[:body.index(b"\r\n")]
    files = []
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part[2:].partition(b"\r\n\r\n")
        name = head.split(b'filename="', 1)[-1].split(b'"', 1)[0].decode() if b"filename=" in head else ""
        files.append((name, content[:-2]))
    return files


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs when many calls come at once (1 s retries)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    kubo: FaultyKubo

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # Kubo's RPC answers only POST
        self._send_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def do_POST(self) -> None:
        self.close_connection = True
        url = urlsplit(self.path)
        cmd = url.path.removeprefix("/api/v0/")
        mode = self.kubo.mode_for(cmd)
        self.kubo.requests.append((cmd, mode))
        body = self._read_body()
        if mode == "silent":
            while not self.kubo._closing.wait(0.1):
                pass
            return
        if mode == "hangup":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            out, headers = self.kubo.answer(cmd, parse_qs(url.query), body)
        except KuboError as e:
            out, headers, status = _json({"Message": str(e), "Code": 0, "Type": "error"}), {}, 500
        else:
            status = 200
        if mode == "error500":
            out, headers, status = _json({"Message": f"{cmd}: the faulty server failed on purpose", "Code": 0,
                                          "Type": "error"}), {}, 500
        elif status == 200 and mode == "corrupt" and out:
            out = out[:len(out) // 2] + bytes([out[len(out) // 2] ^ 0x01]) + out[len(out) // 2 + 1:]
        elif status == 200 and mode == "wrong":
            out = self.kubo.wrong(cmd, out)
        elif status == 200 and mode == "garbage":
            out = b"<html><body>502 Bad Gateway</body></html>\n\x00\xff" * 3
        self._respond(cmd, mode, status, out, headers)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _respond(self, cmd: str, mode: str, status: int, out: bytes, headers: dict[str, str]) -> None:
        streamed = status == 200 and mode != "truncate" and (cmd in STREAMED or mode in ("cut", "stream-error"))
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Internal Server Error'}",
                "Content-Type: " + ("text/plain" if cmd in ("block/get", "cat", "dag/export") and status == 200
                                    else "application/json"),
                "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        half = out[:len(out) // 2]
        if streamed:
            head += ["Transfer-Encoding: chunked", "Trailer: X-Stream-Error", "X-Stream-Output: 1"]
            if mode == "cut":
                body = _chunk(half)
            elif mode == "stream-error":
                body = _chunk(half) + b"0\r\nX-Stream-Error: the faulty server cut the stream\r\n\r\n"
            else:
                body = _chunk(out) + b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(out) if mode != 'truncate' or out else 100}")
            body = half if mode == "truncate" else out
        wire = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        if mode == "trickle":
            self._trickle(wire)
        elif mode == "trickle-body":
            split = wire.index(b"\r\n\r\n") + 4
            self._send_all(wire[:split])
            self._trickle(wire[split:])
        else:
            self._send_all(wire)
        if mode in ("truncate", "cut"):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_all(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            pass  # the client gave up

    def _trickle(self, data: bytes) -> None:
        """One byte per interval, until all is sent, the client leaves, or the server closes."""
        for i in range(len(data)):
            try:
                self.connection.sendall(data[i:i + 1])
            except OSError:
                return
            if self.kubo._closing.wait(self.kubo.trickle_interval):
                return


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b""
