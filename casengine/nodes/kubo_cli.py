"""A Kubo node through its command line (``$KUBO_CMD``, default ``ipfs``) as a remote tier.

Flags are spelled as Kubo spells them (``block put --cid-codec``, ``cat --offset/--length``);
output that is not what the command prints is a RemoteError.
``ls`` is served from the node's blocks: Kubo's text ``ls`` does not tell a symlink from a file
and escapes names (``--enc=json`` is ignored by ``ls``, Kubo 0.43.1).
Every call has a :class:`~casengine.nodes.deadline.Deadline` (bytes written and read are its
progress): a command that hangs or trickles is killed, with every process it started.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Iterable, Iterator

from ..dag.cid import Cid
from ..errors import CidNotFound, PinError, RemoteError
from ..fsutil import discard, place, staging_dir
from ..options import ImportOptions
from ..stores.base import Buffer
from .deadline import Deadline
from .kubo_words import CHUNK, NOT_FOUND, NOT_PINNED, add_args, parse_cid, root_cid
from .node import Source
from .remote import RemoteTier, block_cid, check_listed, parsing

DEFAULT_TIMEOUT = 60.0
#: Seconds between looks at a running command's progress.
POLL = 0.02


class KuboCLIStore(RemoteTier):
    """Blocks and UnixFS verbs through the ``ipfs`` command (*cmd* may carry global flags)."""

    name = "kubo-cli"

    def __init__(self, cmd: str | list[str] | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        cmd = cmd or os.environ.get("KUBO_CMD") or "ipfs"
        self.argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KuboCLIStore({shlex.join(self.argv)!r})"

    # -- running the command -------------------------------------------------------------------------
    def _stream(self, args: list[str], stdin: Iterable[bytes] | None = None, *, arg: object = None) -> Iterator[bytes]:
        """stdout of ``cmd args`` in pieces; typed errors from its exit status and stderr.

        stdout goes to a temporary file, not a pipe: node (jsipfs) exits before a pipe is
        drained and silently truncates what it printed (seen with ``dag export``).
        """
        if shutil.which(self.argv[0]) is None:
            raise RemoteError(f"{self.argv[0]}: command not found (set KUBO_CMD)")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            # a session of its own: a timeout kills the command's children too (KUBO_CMD may be a wrapper)
            proc = subprocess.Popen(self.argv + args, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                    stdout=out, stderr=err, start_new_session=True)
            fed = [0]
            writer = None
            if stdin is not None:
                writer = threading.Thread(target=_feed, args=(proc.stdin, stdin, fed), daemon=True)
                writer.start()
            try:
                deadline = Deadline(self.timeout, self._name(args))
                moved, last = 0, time.monotonic()
                while proc.poll() is None:
                    time.sleep(POLL)
                    if writer is not None and not writer.is_alive():  # all input is in:
                        deadline.restart()  # the output gets a budget of its own
                        writer = None
                    now = time.monotonic()
                    total = os.fstat(out.fileno()).st_size + os.fstat(err.fileno()).st_size + fed[0]
                    deadline.spent(now - last, total - moved)
                    moved, last = total, now
                    deadline.budget()  # RemoteTimeout once the command has used up its time
            finally:
                if proc.poll() is None:
                    _kill_group(proc)
                proc.wait()
                if writer is not None:
                    writer.join()
            if proc.returncode != 0:
                err.seek(0)
                self._raise(args, err.read().decode("utf-8", "replace").strip(), arg)
            out.seek(0)
            while chunk := out.read(CHUNK):
                yield chunk

    def _run(self, args: list[str], stdin: Iterable[bytes] | None = None, *, arg: object = None) -> bytes:
        return b"".join(self._stream(args, stdin, arg=arg))

    def _text(self, args: list[str], stdin: Iterable[bytes] | None = None, *, arg: object = None) -> str:
        return self._run(args, stdin, arg=arg).decode("utf-8", "replace")

    def _name(self, args: list[str]) -> str:
        return " ".join([os.path.basename(self.argv[0])] + [a for a in args[:2] if not a.startswith("-")])

    def _raise(self, args: list[str], stderr: str, arg: object) -> None:
        message = stderr.splitlines()[-1] if stderr else "failed"
        if NOT_PINNED.search(stderr) and args[0] == "pin":
            raise PinError(message)
        if NOT_FOUND.search(stderr):
            raise CidNotFound(arg if arg is not None else self._name(args), message)
        raise RemoteError(f"{self._name(args)}: {message}")

    # -- RemoteTier ------------------------------------------------------------------------------------
    def version(self) -> str:
        return self._text(["version"]).strip().rsplit(" ", 1)[-1]

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid | str:
        args = ["add", "-Q"] + [f"--{k}={v}" for k, v in add_args(options).items()]
        if isinstance(source, (bytes, bytearray, memoryview)):
            args = [a for a in args if not a.startswith("--wrap-with-directory")]  # bytes are never wrapped
            out = self._text(args, [bytes(source)])
        else:
            path = os.path.abspath(source)  # never mistaken for a flag (jsipfs mishandles `--`)
            if recursive and os.path.isdir(path):
                args.append("-r")
            if options.hidden:
                args.append("--hidden")
            out = self._text(args + [path])
        lines = out.split()
        if not lines:
            raise RemoteError(f"{self._name(args)}: printed no CID")
        return parse_cid(lines[-1])

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        root_cid(path)
        if length == 0:
            return
        args = ["cat", f"--offset={offset}"] + ([f"--length={length}"] if length is not None else [])
        yield from self._stream(args + [str(path)], arg=path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        """``ipfs get -o`` into a fresh directory beside *output_path*, then moved into place."""
        root_cid(path)
        stage = staging_dir(output_path)
        try:
            written = os.path.join(stage, "content")
            for _ in self._stream(["get", f"--output={written}", str(path)], arg=path):
                pass  # progress text only
            if not os.path.lexists(written):
                raise RemoteError(f"{self._name(['get'])}: wrote nothing for {path}")
            place(written, output_path)
        finally:
            discard(stage)

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        args = ["pin", "add", f"--recursive={'true' if recursive else 'false'}", str(cid)]
        check_listed(self._name(args), cid, self._text(args, arg=cid).split())  # "pinned CID recursively"

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        args = ["pin", "rm", f"--recursive={'true' if recursive else 'false'}", str(cid)]
        check_listed(self._name(args), cid, self._text(args, arg=cid).split())  # "unpinned CID"

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        out = self._text(["pin", "ls", f"--type={kind}"])
        with parsing(self._name(["pin", "ls"])):
            pins = [(Cid.parse(parts[0]), parts[1]) for parts in map(str.split, out.splitlines()) if len(parts) >= 2]
        yield from pins

    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        cid = block_cid(data, codec, hash)
        out = self._text(["block", "put", f"--cid-codec={codec}", f"--mhtype={hash}", "--pin=false"], [bytes(data)])
        return self._check(cid, parse_cid(out.strip()))

    def block_stat(self, cid: Cid) -> int:
        return self._field(["block", "stat", str(cid)], "Size", arg=cid)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        yield from self._stream(["dag", "export", str(cid)], arg=cid)

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        out = self._text(["dag", "import", f"--pin-roots={'true' if pin_roots else 'false'}"], chunks)
        roots = []
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0].lower() == "pinned root":
                if parts[2] != "success":
                    raise RemoteError(f"{self._name(['dag', 'import'])}: pinning {parts[1]}: {parts[2]}")
                with parsing(self._name(["dag", "import"])):
                    roots.append(Cid.parse(parts[1]))
        return roots

    # -- Blockstore ------------------------------------------------------------------------------------
    def _get(self, multihash: bytes) -> bytes | None:
        cid = Cid(1, 0x55, multihash)
        try:
            return self._run(["block", "get", str(cid)], arg=cid)
        except CidNotFound:
            return None

    def _delete(self, multihash: bytes) -> bool:
        cid = Cid(1, 0x55, multihash)
        try:
            self._run(["block", "rm", str(cid)], arg=cid)
        except CidNotFound:
            return False
        return True

    def multihashes(self) -> Iterator[bytes]:
        out = self._text(["refs", "local"])
        with parsing(self._name(["refs", "local"])):
            refs = [Cid.parse(line).multihash for line in out.split()]
        yield from refs

    def size(self) -> int:
        return self._field(["repo", "stat"], "RepoSize")

    def _field(self, args: list[str], name: str, *, arg: object = None) -> int:
        """The number on the ``NAME: VALUE`` line of the command's output."""
        for line in self._text(args, arg=arg).splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                with parsing(self._name(args)):
                    return int(value)
        raise RemoteError(f"{self._name(args)}: no {name} in the output")


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the command and every process of its session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _feed(pipe, chunks: Iterable[bytes], fed: list[int]) -> None:
    """Write *chunks* to the child's stdin, counting the bytes (a thread: the parent watches meanwhile)."""
    try:
        for chunk in chunks:
            pipe.write(chunk)
            fed[0] += len(chunk)
    except (BrokenPipeError, ValueError):
        pass  # the child stopped reading; its exit status says why
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass
