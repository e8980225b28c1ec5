"""UnixFS 1.5 metadata (mode and mtime) as ``ipfs add`` stores it, by Kubo 0.43.1's rules.

What Kubo does (kubo core/coreunix/add.go, boxo ipld/unixfs and files, read for these facts):

* ``--mode`` is a Go ``os.FileMode``; only its permission bits and Go's setuid, setgid and
  sticky bits become the stored 12-bit mode (``files.ModePermsToUnixPerms``), so
  ``--mode=04755`` stores 0755 and ``--mode=0o20000000`` stores 04000.
* ``--preserve-mode`` stores the entry's own permission bits, setuid/setgid/sticky included.
* A file with no permission bit left stores no mode; a directory stores one (0) whenever its
  Go mode is non-zero, as a preserved directory's always is (``os.ModeDir``).
* Symlinks never get a mode, only an mtime. ``--mtime=0`` means no mtime; a preserved mtime
  is always stored (even the epoch).

>>> s = Stat.explicit(mode=0o4755, mtime=5, nsecs=0)
>>> s.file_mode, s.dir_mode, s.mtime
(493, 493, UnixTime(seconds=5, nanos=None))
>>> Stat.explicit(mode=0o1000, mtime=0, nsecs=0).file_mode is None
True
>>> Stat.explicit(mode=0o1000, mtime=0, nsecs=0).dir_mode
0
"""

from __future__ import annotations

import os
import stat as st
from dataclasses import dataclass, replace

from .unixfs import DataType, UnixFSData, UnixTime

_GO_SETUID, _GO_SETGID, _GO_STICKY = 1 << 23, 1 << 22, 1 << 20
NS = 1_000_000_000


def go_perms(go_mode: int) -> int:
    """boxo files.ModePermsToUnixPerms: Go FileMode -> the 12 Unix permission bits."""
    return ((go_mode & (_GO_SETUID | _GO_SETGID)) >> 12) | ((go_mode & _GO_STICKY) >> 11) | (go_mode & 0o777)


def unix_time(total_ns: int) -> UnixTime:
    """Go's time.Unix(0, total_ns) as UnixFS stores it: floor seconds, nanos only when non-zero."""
    seconds, nanos = divmod(total_ns, NS)
    return UnixTime(seconds, nanos or None)


def stored_mtime_ns(data: UnixFSData | None) -> int | None:
    """A node's mtime as ``ipfs get`` reads it (boxo FSNode.ModTime): None when absent or when its
    nanoseconds are out of range, which boxo treats as no time."""
    t = data.mtime if data is not None else None
    if t is None or (t.nanos is not None and not 1 <= t.nanos <= NS - 1):
        return None
    return t.seconds * NS + (t.nanos or 0)


def stored_mode(data: UnixFSData | None) -> int | None:
    """A node's permission bits as ``ipfs get`` and ``ls`` read them (the low 12 bits; 0 is none)."""
    return (data.mode & 0o7777) or None if data is not None and data.mode is not None else None


@dataclass(frozen=True)
class Stat:
    """The metadata one entry gets: *go_mode* non-zero means a mode was given (Kubo tests the Go
    mode, not the stored bits), *perms* the bits stored, *mtime* None when absent."""

    go_mode: int = 0
    perms: int = 0
    mtime: UnixTime | None = None

    @classmethod
    def explicit(cls, mode: int, mtime: int, nsecs: int) -> "Stat":
        """``--mode``/``--mtime``/``--mtime-nsecs`` (0 = not given, as in Kubo)."""
        return cls(mode, go_perms(mode), unix_time(mtime * NS + nsecs) if mtime else None)

    def preserved(self, s: os.stat_result, mode: bool, mtime: bool) -> "Stat":
        """With ``--preserve-mode``/``--preserve-mtime``, the entry's own values replace these."""
        out = self
        if mode:
            perms = st.S_IMODE(s.st_mode)
            go_mode = perms | (1 << 31 if st.S_ISDIR(s.st_mode) else 1 << 27 if st.S_ISLNK(s.st_mode) else 0)
            out = replace(out, go_mode=go_mode, perms=perms)
        if mtime:
            out = replace(out, mtime=unix_time(s.st_mtime_ns))
        return out

    @property
    def file_mode(self) -> int | None:
        """A file root's stored mode (boxo FSNode.SetMode: nothing when no bit is left)."""
        return self.perms or None

    @property
    def dir_mode(self) -> int | None:
        """A directory's or HAMT root's stored mode (boxo pbDataAddStat: whenever mode != 0)."""
        return self.perms if self.go_mode else None

    @property
    def empty(self) -> bool:
        return not self.go_mode and self.mtime is None

    def on(self, data: UnixFSData) -> UnixFSData:
        """*data* with this metadata, as the importer stores it for the node's type."""
        if data.type == DataType.SYMLINK:
            return replace(data, mtime=self.mtime)
        mode = self.dir_mode if data.type in (DataType.DIRECTORY, DataType.HAMT_SHARD) else self.file_mode
        return replace(data, mode=mode, mtime=self.mtime)
