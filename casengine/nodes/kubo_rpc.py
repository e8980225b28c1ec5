"""A Kubo node over its HTTP RPC API (``/api/v0``) as a remote tier.

Speaks Kubo 0.22's RPC as Kubo documents it and copes with js-ipfs's Kubo-RPC server, the
other implementation of the same API: CIDs it prints in base58btc are parsed as CIDs, sizes
may be numbers or strings, and ``block/put`` gets ``format`` beside ``cid-codec`` for raw
blocks (js-ipfs reads only the former). Request bodies (multipart uploads) and response
bodies are streamed. Every call has a :class:`~casengine.nodes.deadline.Deadline`: no peer
can hold one for ever, silent or trickling. An answer that is not what the command prints
(cut short, not JSON, missing its fields) is a RemoteError, like any other failure of the node,
and so is a stream that Kubo ends early with an ``X-Stream-Error`` trailer.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from typing import Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import quote, urlencode

from ..dag.cid import Cid
from ..errors import CasError, CidNotFound, InvalidOption, PinError, RemoteError, RemoteTimeout
from ..exporter import Entry
from ..fsutil import discard, place, staging_dir
from ..options import ImportOptions
from ..stores.base import Buffer
from .deadline import Deadline
from .kubo_words import CHUNK, NOT_FOUND, NOT_PINNED, add_args, flag, ls_entries, parse_cid, root_cid
from .node import Source
from .remote import RemoteTier, block_cid, check_listed, parsing
from .rpc_http import Connection, Reader, parse_api
from .tar import extract_tar
from .upload import Multipart, upload_parts

T = TypeVar("T")

DEFAULT_API = "http://127.0.0.1:5001"
DEFAULT_TIMEOUT = 60.0
PAST_THE_END = re.compile(r"Offset must be less than the file size")


class KuboRPCStore(RemoteTier):
    """Blocks and UnixFS verbs of the node whose RPC API listens at *api* (``$KUBO_API``)."""

    name = "kubo-rpc"

    def __init__(self, api: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.api = api or os.environ.get("KUBO_API") or DEFAULT_API
        self.address = parse_api(self.api)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KuboRPCStore({self.api!r})"

    # -- transport ---------------------------------------------------------------------------------
    def _open(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: Multipart | None = None,
              arg: object = None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """POST /api/v0/*cmd*; a 200 response, or the node's error raised as a typed error."""
        url = f"/api/v0/{cmd}?{urlencode(list(args), quote_via=quote)}"
        conn = Connection(self.address, Deadline(self.timeout, f"{self.api} {cmd}"))
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

    def _call(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: Multipart | None = None,
              arg: object = None) -> bytes:
        return b"".join(self._stream(cmd, args, body, arg))

    def _answer(self, cmd: str, read: Callable[[Any], T], args: Iterable[tuple[str, str]] = (),
                body: Multipart | None = None, arg: object = None) -> T:
        """*read* applied to the JSON value *cmd* answers (RemoteError if it is not what Kubo sends)."""
        data = self._call(cmd, args, body, arg)
        with parsing(f"{self.api} {cmd}"):
            return read(json.loads(data))

    def _stream(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: Multipart | None = None,
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

    def _json_lines(self, cmd: str, args: Iterable[tuple[str, str]] = (), body: Multipart | None = None,
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
        for line in self._json_lines("add", args.items(), Multipart(parts)):
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
        try:
            yield from self._stream("cat", args, arg=path)
        except RemoteError as e:
            if not PAST_THE_END.search(str(e)):
                raise  # js-ipfs refuses an offset at or past the end, where Kubo answers nothing

    def ls(self, path: str | Cid) -> list[Entry]:
        root_cid(path)
        return self._answer("ls", ls_entries, [("arg", str(path)), ("resolve-type", "true"), ("size", "true")],
                            arg=path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        """``/get``'s tar stream unpacked beside *output_path*, then moved into place."""
        root_cid(path)
        stage = staging_dir(output_path)
        try:
            conn, resp = self._open("get", [("arg", str(path))], arg=path)
            try:
                entry = extract_tar(Reader(resp, lambda e: self._wrap("get", e)), stage, "content")
            finally:
                conn.close()
            place(entry, output_path)
        finally:
            discard(stage)

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        self._answer("pin/add", lambda answer: check_listed(f"{self.api} pin/add", cid, answer["Pins"]),
                     [("arg", str(cid)), ("recursive", flag(recursive))], arg=cid)

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        self._answer("pin/rm", lambda answer: check_listed(f"{self.api} pin/rm", cid, answer["Pins"]),
                     [("arg", str(cid)), ("recursive", flag(recursive))], arg=cid)

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
                           Multipart([("block", "application/octet-stream", (bytes(data),))]))
        return self._check(cid, got)

    def block_stat(self, cid: Cid) -> int:
        return self._answer("block/stat", lambda answer: int(answer["Size"]), [("arg", str(cid))], arg=cid)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        yield from self._stream("dag/export", [("arg", str(cid))], arg=cid)

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        roots = []
        body = Multipart([("dag.car", "application/octet-stream", chunks)])
        for line in self._json_lines("dag/import", [("pin-roots", flag(pin_roots))], body):
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
