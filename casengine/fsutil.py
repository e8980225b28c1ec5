"""Writing into the caller's file system safely: never through a symlink, nothing half-written.

Shared by the exporter (``get``), the Hugging Face cache writer and the remote nodes, which
unpack what a node sent into a private staging directory and only then move it into place.
"""

from __future__ import annotations

import os
import secrets
import stat

from .errors import UnsafePath


def open_dir(dir_fd: int, name: str) -> int:
    """Open an existing subdirectory, refusing to follow a symlink in its place."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as e:
        raise UnsafePath(f"{name!r} exists and is not a directory (or is a symlink): {e.strerror}") from None


def remove(dir_fd: int, name: str) -> None:
    """Remove a partial file or tree left by a failed write (never following symlinks)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        fd = open_dir(dir_fd, name)
        try:
            for child in os.listdir(fd):
                remove(fd, child)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def staging_dir(output_path: str | os.PathLike) -> str:
    """A fresh private directory beside *output_path* (same file system: renames are atomic)."""
    out = os.path.abspath(os.fspath(output_path))
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, f".casengine-get-{secrets.token_hex(6)}")
    os.mkdir(path, 0o700)
    return path


def place(entry: str, output_path: str | os.PathLike) -> None:
    """Move the finished *entry* to *output_path* as ``Exporter.get`` would write it.

    A new path is renamed into place; a directory merges into an existing directory (each
    file replaced atomically); a file given an existing directory goes inside it.
    """
    out = os.path.abspath(os.fspath(output_path))
    is_dir = os.path.isdir(entry) and not os.path.islink(entry)
    if os.path.isdir(out) and not os.path.islink(out):
        if not is_dir:
            out = os.path.join(out, os.path.basename(entry))
        else:
            for name in os.listdir(entry):
                place(os.path.join(entry, name), os.path.join(out, name))
            os.rmdir(entry)
            return
    os.replace(entry, out)


def discard(path: str) -> None:
    """Remove a staging directory and whatever is left in it (never following symlinks)."""
    parent, name = os.path.split(path)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        remove(fd, name)
    finally:
        os.close(fd)


#: What ``ipfs get`` gives an entry whose UnixFS node stores no mode (boxo files.UnixPermsOrDefault).
DEFAULT_FILE_MODE, DEFAULT_DIR_MODE = 0o644, 0o755


def restore_meta(fd: int, mode: int | None, mtime_ns: int | None, default_mode: int) -> None:
    """Give a written file or directory (open as *fd*) what Kubo's ``ipfs get`` restores (boxo tar
    extractor): the stored mode, setuid/setgid/sticky included (as Kubo's chmod does), else
    *default_mode*, whatever the umask; the stored mtime to the nanosecond, as atime too."""
    os.fchmod(fd, mode & 0o7777 if mode else default_mode)
    if mtime_ns is not None:
        os.utime(fd, ns=(mtime_ns, mtime_ns))


def restore_link_mtime(dir_fd: int, name: str, mtime_ns: int | None) -> None:
    """A symlink keeps only its stored mtime (the link itself; a symlink has no mode of its own)."""
    if mtime_ns is not None:
        os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


#: Linux's limit on a symlink target, terminating NUL included.
PATH_MAX = 4096


def check_name(name: str) -> str:
    """A directory entry name that is safe to create on a file system, or UnsafePath."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise UnsafePath(f"refusing directory entry name {name!r}")
    if len(os.fsencode(name)) > 255:
        raise UnsafePath(f"directory entry name longer than 255 bytes: {name[:40]!r}...")
    return name


def check_target(target: bytes) -> str:
    """A symlink target that a POSIX file system can hold (where it points is not checked:
    nothing is ever written through a symlink), or UnsafePath."""
    if not target or b"\0" in target or len(target) >= PATH_MAX:
        raise UnsafePath(f"refusing symlink target {target[:40]!r}{'...' if len(target) > 40 else ''} "
                         f"({len(target)} bytes): empty, with NUL, or not shorter than {PATH_MAX} bytes")
    return os.fsdecode(target)
