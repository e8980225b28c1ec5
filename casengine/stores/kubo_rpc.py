"""A Kubo node over its HTTP RPC API (``/api/v0``) as a remote tier.

Speaks Kubo 0.22's RPC as Kubo documents it and copes with js-ipfs's Kubo-RPC server, the
other implementation of the same API: CIDs it prints in base58btc are parsed as CIDs, sizes
may be numbers or strings, and ``block/put`` gets ``format`` beside ``cid-codec`` for raw
blocks (js-ipfs reads only the former). Request bodies (multipart uploads) and response
bodies are streamed. Every call has a :class:`~casengine.stores.deadline.Deadline`: no peer
can hold one for ever, silent or trickling. An answer that is not what the command prints
(cut short, not JSON, missing its fields) is a RemoteError, like any other failure of the node,
and so is a stream that Kubo ends early with an ``X-Stream-Error`` trailer.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import stat
from typing import Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from ..dag.cid import Cid
from ..dag.unixfs import DataType
from ..errors import CasError, CidNotFound, InvalidCid, InvalidOption, RemoteError, RemoteTimeout
from ..exporter import Entry
from ..importer import _sorted_entries, is_hidden
from ..options import ImportOptions
from ..repo import PinError
from .base import Buffer
from .deadline import Deadline
from .tiered import RemoteTier, Source, block_cid, check_listed, discard, extract_tar, parsing, place, staging_dir

T = TypeVar("T")

DEFAULT_API = "http://127.0.0.1:5001"
DEFAULT_TIMEOUT = 60.0
CHUNK = 1 << 20
#: Bytes handed to the socket per wait when sending (each piece gets what is left of the deadline).
SEND_PIECE = 64 << 10
NOT_FOUND = re.compile(r"ENOENT|not found|no link named|could not resolve|does not exist", re.I)
NOT_PINNED = re.compile(r"not pinned|pinned indirectly|is pinned recursively", re.I)


def parse_api(api: str) -> tuple[str, int]:
    """(host, port) of ``http://host:port``, ``host:port`` or a ``/ip4|ip6|dns/HOST/tcp/PORT`` multiaddr."""
    text = api.strip()
    if text.startswith("/"):
        parts = text.split("/")
        if len(parts) >= 5 and parts[1] in ("ip4", "ip6", "dns", "dns4", "dns6") and parts[3] == "tcp":
            return parts[2], int(parts[4])
        raise InvalidOption(f"unsupported API multiaddr {api!r} (want /ip4/HOST/tcp/PORT)")
    url = urlsplit(text if "://" in text else f"http://{text}")
    if url.scheme != "http" or not url.hostname:
        raise InvalidOption(f"unsupported API address {api!r} (want http://HOST:PORT)")
    return url.hostname, url.port or 5001


def parse_cid(text: str) -> Cid | str:
    """A CID the node printed (base58btc CIDv1 included), or the text as given if it is none."""
    try:
        return Cid.parse(text)
    except InvalidCid:
        return text


def root_cid(path: str | Cid) -> Cid:
    """The CID a ``CID[/path]`` argument starts with; CidNotFound for text that is no CID."""
    if isinstance(path, Cid):
        return path
    text = path.strip()
    text = text[6:] if text.startswith("/ipfs/") else text
    try:
        return Cid.parse(text.split("/", 1)[0])
    except InvalidCid as e:
        raise CidNotFound(path, f"not a CID: {e}") from None


def add_args(options: ImportOptions) -> dict[str, str]:
    """``ipfs add`` options as Kubo's RPC (and CLI long flags) spell them; hidden is client-side."""
    default = ImportOptions()
    if options.max_links != default.max_links or options.shard_threshold != default.shard_threshold:
        raise InvalidOption("max_links and shard_threshold cannot be set through Kubo's add command")
    args = {"pin": _bool(options.pin)}
    if options.chunker != default.chunker:
        args["chunker"] = options.chunker
    if options.hash != default.hash:  # js-ipfs switches to CIDv1 when any hash is named
        args["hash"] = options.hash
    if options.cid_version is not None:
        args["cid-version"] = str(options.cid_version)
    if options.raw_leaves is not None:
        args["raw-leaves"] = _bool(options.raw_leaves)
    if options.trickle:
        args["trickle"] = "true"
    if options.inline:
        args["inline"] = "true"
        args["inline-limit"] = str(options.inline_limit)
    if options.wrap_with_directory:
        args["wrap-with-directory"] = "true"
    if options.only_hash:
        args["only-hash"] = "true"
    return args


def _bool(value: bool) -> str:
    return "true" if value else "false"


def upload_parts(path: str | os.PathLike, *, recursive: bool, hidden: bool) -> Iterator[tuple[str, str, Iterable[bytes]]]:
    """(name, content type, body chunks) of each entry of *path*, as ``ipfs add`` uploads them.

    Directories holding entries are implied by their entries' names (go-ipfs-files and js-ipfs
    both create them; js-ipfs refuses a directory part as the first part); empty ones are
    ``application/x-directory`` parts. Symlinks are ``application/symlink`` parts holding
    their target.
    """
    path = os.fspath(path)
    top = os.path.basename(os.path.normpath(path))
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode) and not recursive:
        raise InvalidOption(f"{path} is a directory, use the '-r' flag to specify directories")
    stack = [(top, path, st)]
    while stack:
        name, full, st = stack.pop()
        if stat.S_ISDIR(st.st_mode):
            entries = [e for e in _sorted_entries(full) if hidden or not is_hidden(e.name)]
            if not entries:
                yield name, "application/x-directory", ()
            stack.extend((f"{name}/{e.name}", e.path, e.stat(follow_symlinks=False)) for e in reversed(entries))
        elif stat.S_ISLNK(st.st_mode):
            yield name, "application/symlink", (os.fsencode(os.readlink(full)),)
        elif stat.S_ISREG(st.st_mode):
            yield name, "application/octet-stream", _file_chunks(full)
        else:
            raise InvalidOption(f"unrecognized file type for {full}: {stat.filemode(st.st_mode)}")


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def multipart(parts: Iterable[tuple[str, str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """A multipart/form-data body, streamed; names are %-escaped as go-ipfs-files expects."""
    for name, ctype, body in parts:
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quote(name, safe="")}"\r\n'
               f"Content-Type: {ctype}\r\n\r\n").encode()
        yield from body
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


class KuboRPCStore(RemoteTier):
    """Blocks and UnixFS verbs of the node whose RPC API listens at *api* (``$KUBO_API``)."""

    name = "kubo-rpc"

    def __init__(self, api: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.api = api or os.environ.get("KUBO_API") or DEFAULT_API
        self.host, self.port = parse_api(self.api)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KuboRPCStore({self.api!r})"

    # -- transport ---------------------------------------------------------------------------------
    def _open(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: "_Multipart | None" = None,
              arg: object = None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """POST /api/v0/*cmd*; a 200 response, or the node's error raised as a typed error."""
        url = f"/api/v0/{cmd}?{urlencode(list(args), quote_via=quote)}"
        conn = _Connection(self.host, self.port, Deadline(self.timeout, f"{self.api} {cmd}"))
        try:
            if body is None:
                conn.request("POST", url)
            else:
                conn.request("POST", url, body=iter(body),
                             headers={"Content-Type": f"multipart/form-data; boundary={body.boundary}"})
            conn.deadline.restart()  # the answer's own budget
            resp = conn.getresponse()
            if resp.status != 200:
                self._raise(cmd, resp, arg)
            return conn, resp
        except BaseException as e:
            conn.close()
            raise self._wrap(cmd, e) from None

    def _wrap(self, cmd: str, e: BaseException) -> BaseException:
        """Transport failures as RemoteError / RemoteTimeout; casengine's own errors unchanged."""
        if isinstance(e, CasError):
            return e
        if isinstance(e, TimeoutError):
            return RemoteTimeout(f"{self.api} {cmd}: no answer within {self.timeout:g} s")
        if isinstance(e, (OSError, http.client.HTTPException)):
            return RemoteError(f"{self.api} {cmd}: {e or type(e).__name__}")
        return e

    def _raise(self, cmd: str, resp: http.client.HTTPResponse, arg: object) -> None:
        text = resp.read(64 << 10).decode("utf-8", "replace")
        try:
            message = json.loads(text).get("Message") or text
        except (ValueError, AttributeError):
            message = text.strip() or resp.reason
        if resp.status == 404 and message in ("Not Found", "404 page not found"):
            raise RemoteError(f"{self.api} has no {cmd} command")
        if NOT_PINNED.search(message) and cmd.startswith("pin/"):
            raise PinError(message)
        if NOT_FOUND.search(message):
            raise CidNotFound(arg if arg is not None else cmd, message)
        raise RemoteError(f"{self.api} {cmd}: {message}")

    def _call(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: "_Multipart | None" = None,
              arg: object = None) -> bytes:
        return b"".join(self._stream(cmd, args, body, arg))

    def _answer(self, cmd: str, read: Callable[[Any], T], args: Iterable[tuple[str, str]] = (),
                body: "_Multipart | None" = None, arg: object = None) -> T:
        """*read* applied to the JSON value *cmd* answers (RemoteError if it is not what Kubo sends)."""
        data = self._call(cmd, args, body, arg)
        with parsing(f"{self.api} {cmd}"):
            return read(json.loads(data))

    def _stream(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: "_Multipart | None" = None,
                arg: object = None) -> Iterator[bytes]:
        conn, resp = self._open(cmd, args, body, arg)
        declared = resp.getheader("X-Content-Length")  # Kubo's cat says how much is coming
        got = 0
        try:
            while chunk := resp.read1(CHUNK):
                got += len(chunk)
                yield chunk
            if resp.length:  # read1 ends quietly when the peer closes early
                raise RemoteError(f"{self.api} {cmd}: the answer ended {resp.length} bytes short of its "
                                  "Content-Length")
            if resp.stream_error:  # Kubo's word for a stream that failed after it began
                message = f"{self.api} {cmd}: {resp.stream_error}"
                raise CidNotFound(arg, message) if NOT_FOUND.search(message) else RemoteError(message)
        except BaseException as e:
            raise self._wrap(cmd, e) from None
        finally:
            conn.close()
        if declared is not None and declared.isdigit() and got != int(declared):
            raise RemoteError(f"{self.api} {cmd}: {got} bytes arrived of the {declared} announced")

    def _json_lines(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: "_Multipart | None" = None,
                    arg: object = None) -> Iterator[dict]:
        buf = b""
        for chunk in self._stream(cmd, args, body, arg):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    yield self._line(cmd, line, arg)
        if buf.strip():
            yield self._line(cmd, buf, arg)

    def _line(self, cmd: str, line: bytes, arg: object) -> dict:
        try:
            value = json.loads(line)
        except ValueError:
            raise RemoteError(f"{self.api} {cmd}: unexpected output {line[:80]!r}") from None
        if not isinstance(value, dict):
            raise RemoteError(f"{self.api} {cmd}: unexpected output {line[:80]!r}")
        if value.get("Type") == "error" and "Message" in value:
            message = str(value["Message"])
            raise (CidNotFound(arg, message) if NOT_FOUND.search(message) else RemoteError(f"{self.api} {cmd}: {message}"))
        return value

    # -- RemoteTier ----------------------------------------------------------------------------------
    def version(self) -> str:
        return self._answer("version", lambda answer: str(answer["Version"]))

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid | str:
        args = add_args(options)
        args["progress"] = "false"
        if isinstance(source, (bytes, bytearray, memoryview)):
            args.pop("wrap-with-directory", None)  # bytes are one file, never wrapped (as locally)
            parts: Iterable = [("blob", "application/octet-stream", (bytes(source),))]
        else:
            parts = upload_parts(source, recursive=recursive, hidden=options.hidden)
        last = None
        for line in self._json_lines("add", args.items(), _Multipart(parts)):
            if "Hash" in line:
                last = line["Hash"]
        if last is None:
            raise RemoteError(f"{self.api} add: no root CID in the answer")
        return parse_cid(last)

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        root_cid(path)
        if offset < 0 or (length is not None and length < 0):
            raise InvalidOption("cannot specify negative offset or length")
        if length == 0:  # Kubo answers nothing, js-ipfs refuses length=0
            return
        args = [("arg", str(path)), ("offset", str(offset))]
        if length is not None:
            args.append(("length", str(length)))
        yield from self._stream("cat", args, arg=path)

    def ls(self, path: str | Cid) -> list[Entry]:
        root_cid(path)
        return self._answer("ls", _ls_entries, [("arg", str(path)), ("resolve-type", "true"), ("size", "true")],
                            arg=path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        """``/get``'s tar stream unpacked beside *output_path*, then moved into place."""
        root_cid(path)
        stage = staging_dir(output_path)
        try:
            conn, resp = self._open("get", [("arg", str(path))], arg=path)
            try:
                entry = extract_tar(_Reader(resp, self, "get"), stage, "content")
            finally:
                conn.close()
            place(entry, output_path)
        finally:
            discard(stage)

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        self._answer("pin/add", lambda answer: check_listed(f"{self.api} pin/add", cid, answer["Pins"]),
                     [("arg", str(cid)), ("recursive", _bool(recursive))], arg=cid)

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        self._answer("pin/rm", lambda answer: check_listed(f"{self.api} pin/rm", cid, answer["Pins"]),
                     [("arg", str(cid)), ("recursive", _bool(recursive))], arg=cid)

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        def read(answer: dict) -> list[tuple[Cid, str]]:
            listed = [(parse_cid(text), info.get("Type", "")) for text, info in (answer.get("Keys") or {}).items()]
            return [(cid, how) for cid, how in listed if isinstance(cid, Cid)]
        yield from self._answer("pin/ls", read, [("type", kind)])

    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        cid = block_cid(data, codec, hash)
        args = [("cid-codec", codec), ("mhtype", hash), ("pin", "false")]
        if codec == "raw":  # Kubo 0.22 takes the legacy `format` beside cid-codec; js-ipfs reads only it
            args.append(("format", "raw"))
        got = self._answer("block/put", lambda answer: parse_cid(answer["Key"]), args,
                           _Multipart([("block", "application/octet-stream", (bytes(data),))]))
        return self._check(cid, got)

    def block_stat(self, cid: Cid) -> int:
        return self._answer("block/stat", lambda answer: int(answer["Size"]), [("arg", str(cid))], arg=cid)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        yield from self._stream("dag/export", [("arg", str(cid))], arg=cid)

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        roots = []
        body = _Multipart([("dag.car", "application/octet-stream", chunks)])
        for line in self._json_lines("dag/import", [("pin-roots", _bool(pin_roots))], body):
            root = (line.get("Root") or {})
            if root.get("PinErrorMsg"):
                raise RemoteError(f"{self.api} dag/import: {root['PinErrorMsg']}")
            if "Cid" in root:
                with parsing(f"{self.api} dag/import"):
                    roots.append(Cid.parse(root["Cid"]["/"]))
        return roots

    # -- Blockstore -------------------------------------------------------------------------------
    def _get(self, multihash: bytes) -> bytes | None:
        cid = Cid(1, 0x55, multihash)
        try:
            return self._call("block/get", [("arg", str(cid))], arg=cid)
        except CidNotFound:
            return None

    def _delete(self, multihash: bytes) -> bool:
        cid = Cid(1, 0x55, multihash)
        for line in self._json_lines("block/rm", [("arg", str(cid))], arg=cid):
            error = line.get("Error")
            if error:
                if NOT_FOUND.search(error):
                    return False
                raise RemoteError(f"{self.api} block/rm: {error}")
        return True

    def multihashes(self) -> Iterator[bytes]:
        for line in self._json_lines("refs/local"):
            if line.get("Err"):
                raise RemoteError(f"{self.api} refs/local: {line['Err']}")
            with parsing(f"{self.api} refs/local"):
                yield Cid.parse(line["Ref"]).multihash

    def size(self) -> int:
        """RepoSize as the node reports it (its whole repo, not only block bytes)."""
        return self._answer("repo/stat", lambda answer: int(answer["RepoSize"]))


def _ls_entries(answer: dict) -> list[Entry]:
    """The entries of ``ls``'s answer (parsing errors become RemoteError in :meth:`KuboRPCStore._answer`)."""
    out = []
    for link in ((answer.get("Objects") or [{}])[0].get("Links") or []):
        cid = Cid.parse(link["Hash"])
        out.append(Entry(link.get("Name", ""), cid, int(link.get("Size") or 0), DataType(int(link.get("Type", 2)))))
    return out


class _TimedSocket(socket.socket):
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


class _Response(http.client.HTTPResponse):
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


class _Connection(http.client.HTTPConnection):
    """An HTTP connection whose connect, writes and reads all draw on one :class:`Deadline`."""

    response_class = _Response

    def __init__(self, host: str, port: int, deadline: Deadline):
        super().__init__(host, port, timeout=deadline.timeout)
        self.deadline = deadline

    def connect(self) -> None:
        sock = self.deadline.wait(lambda seconds: socket.create_connection((self.host, self.port), seconds))
        self.sock = _TimedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.sock.deadline = self.deadline
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Multipart:
    """A streamed multipart body that knows its boundary (http.client sends it chunked)."""

    def __init__(self, parts: Iterable[tuple[str, str, Iterable[bytes]]]):
        self.boundary = secrets.token_hex(16)
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        return multipart(self._parts, self.boundary)


class _Reader:
    """A response as a read()-able stream whose errors are typed (for tarfile)."""

    def __init__(self, resp: http.client.HTTPResponse, store: KuboRPCStore, cmd: str):
        self.resp, self.store, self.cmd = resp, store, cmd

    def read(self, n: int = -1) -> bytes:
        try:
            return self.resp.read(n)
        except BaseException as e:
            raise self.store._wrap(self.cmd, e) from None

