"""Unpacking the tar stream of a node's ``get`` (Kubo RPC ``/api/v0/get``), trusting none of it."""

from __future__ import annotations

import os
import shutil
import tarfile
from typing import BinaryIO

from ..errors import RemoteError, UnsafePath
from ..fsutil import check_name
from ..fsutil import open_dir


def extract_tar(stream: BinaryIO, dest_dir: str, name: str) -> str:
    """Unpack an ``ipfs get`` tar stream into *dest_dir*/*name*; return that path.

    The first member is the root (Kubo names it by the path's last element, js-ipfs by the
    whole path); every other member must lie beneath it. Only directories, regular files and
    symlinks are made, each path component checked, never through a symlink.
    """
    root_fd = os.open(dest_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    root_name: str | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if root_name is None:
                    root_name, parts = member.name.rstrip("/"), [name]
                elif member.name.startswith(root_name + "/"):
                    parts = [name] + member.name[len(root_name) + 1:].rstrip("/").split("/")
                else:
                    raise UnsafePath(f"tar member {member.name!r} outside {root_name!r}")
                _extract_member(tar, member, root_fd, [check_name(p) for p in parts])
    except tarfile.TarError as e:
        raise RemoteError(f"bad tar stream from the node: {e}") from None
    finally:
        os.close(root_fd)
    if root_name is None:
        raise RemoteError("the node sent an empty tar stream")
    return os.path.join(dest_dir, name)


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root_fd: int, parts: list[str]) -> None:
    fds = []
    try:
        fd = root_fd
        for part in parts[:-1]:
            fd = open_dir(fd, part)
            fds.append(fd)
        last = parts[-1]
        if member.isdir():
            os.mkdir(last, 0o755, dir_fd=fd)
        elif member.issym():
            os.symlink(member.linkname, last, dir_fd=fd)
        elif member.isfile():
            src = tar.extractfile(member)
            out = os.open(last, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
            with os.fdopen(out, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
        else:
            raise UnsafePath(f"tar member {member.name!r} is neither file, directory nor symlink")
    finally:
        for fd in reversed(fds):
            os.close(fd)
