"""This process's one handle per LMDB environment, shared by every store on the same path.

LMDB lets a process open an environment once, and py-lmdb invalidates the transactions open in
other threads when the map is resized; :class:`Env` lets LMDB operations run together and a
resize alone. :func:`release_map` keeps a long add's or read's resident memory flat.
"""

from __future__ import annotations

import os
import sys
import threading

import lmdb

from ..errors import StoreError
from .compact import hold_open

#: Named databases inside one LMDB environment (blocks plus whatever a Repo keeps beside them).
MAX_DBS = 8
_MADV_DONTNEED = 4  # Linux


class Env:
    """This process's one handle on an environment: LMDB operations run together through
    :meth:`enter`/:meth:`leave`; a map resize runs alone (py-lmdb invalidates transactions
    that are open in other threads when the map is resized). A thread already inside enters
    again without waiting for a pending resize, which waits for it (a read nested in a
    read, as a streaming get does, cannot deadlock against another thread's resize)."""

    def __init__(self, env: lmdb.Environment):
        self.env = env
        self.users = 0
        self.held = -1  # the fd holding env.lock shared while the environment is open
        self._cond = threading.Condition()
        self._active = 0
        self._resizing = False
        self._inside = threading.local()

    def enter(self) -> None:
        depth = getattr(self._inside, "depth", 0)
        with self._cond:
            while self._resizing and not depth:
                self._cond.wait()
            self._active += 1
        self._inside.depth = depth + 1

    def leave(self) -> None:
        self._inside.depth -= 1
        with self._cond:
            self._active -= 1
            if self._resizing and not self._active:
                self._cond.notify_all()

    def resize(self, failed_at: int | None) -> None:
        """Double the map if it is still *failed_at* bytes; None: adopt another process's size."""
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._resizing = True
            try:
                while self._active:
                    self._cond.wait()
                size = self.env.info()["map_size"]
                if failed_at is None:
                    self.env.set_mapsize(0)
                elif size <= failed_at:
                    self.env.set_mapsize(size * 2)
            finally:
                self._resizing = False
                self._cond.notify_all()


_OPEN: dict[tuple[int, str], Env] = {}   # (pid, real path) -> the environment
_OPEN_LOCK = threading.Lock()


def open_env(path: str, map_size: int) -> Env:
    """This process's one environment for *path* (opened on first use, then shared)."""
    key = (os.getpid(), os.path.realpath(path))
    with _OPEN_LOCK:
        handle = _OPEN.get(key)
        if handle is None:
            held = hold_open(path)  # no compaction while this process has it open
            try:
                env = lmdb.open(path, map_size=map_size, max_dbs=MAX_DBS, writemap=False, metasync=False,
                                sync=True, max_readers=1024, readahead=True)
            except BaseException:
                os.close(held)
                raise
            env.reader_check()  # free the slots of readers that died (SIGKILL) without closing
            handle = _OPEN[key] = Env(env)
            handle.held = held
        handle.users += 1
        return handle


def close_env(handle: Env) -> None:
    with _OPEN_LOCK:
        handle.users -= 1
        if handle.users == 0:
            del _OPEN[next(k for k, h in _OPEN.items() if h is handle)]
            handle.env.close()
            os.close(handle.held)


def release_map(handle: Env, path: str) -> None:
    """Drop this process's page-table entries for the memory map (Linux ``MADV_DONTNEED``).

    LMDB touches the first page of every large value it writes, and the kernel maps 64 KiB
    around each such fault, so without this a long add keeps a quarter of what it wrote
    resident (1 GiB of 256 KiB blocks: +216 MiB of RSS). On a shared file mapping nothing is
    lost: the pages stay in the page cache and on disk, and a later read faults them back
    in. It runs inside enter/leave, so no resize moves the map meanwhile.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    data = os.path.realpath(os.path.join(path, "data.mdb")).encode()
    handle.enter()
    try:
        with open("/proc/self/maps", "rb") as maps:  # LMDB reports no map address unless FIXEDMAP
            for line in maps:
                if line.rstrip().endswith(b" " + data):
                    lo, hi = (int(x, 16) for x in line.split(None, 1)[0].split(b"-"))
                    if libc.madvise(lo, hi - lo, _MADV_DONTNEED) != 0:
                        raise StoreError(f"madvise on the block store's map failed: "
                                         f"{os.strerror(ctypes.get_errno())}")
    finally:
        handle.leave()
