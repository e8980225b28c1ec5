"""What ``ipfs add`` uploads: a file or tree as streamed multipart/form-data parts."""

from __future__ import annotations

import os
import secrets
import stat
from typing import Iterable, Iterator
from urllib.parse import quote

from ..errors import InvalidOption
from ..importer import is_hidden, sorted_entries
from .kubo_words import CHUNK


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
            entries = [e for e in sorted_entries(full) if hidden or not is_hidden(e.name)]
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


class Multipart:
    """A streamed multipart body that knows its boundary (http.client sends it chunked)."""

    def __init__(self, parts: Iterable[tuple[str, str, Iterable[bytes]]]):
        self.boundary = secrets.token_hex(16)
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        return multipart(self._parts, self.boundary)
