"""Giving disk space back after ``repo gc``: LMDB reuses the pages of deleted blocks but never
shrinks its file, so a compacted copy is written beside it and renamed over it.

Safe for other processes: every process that opens an environment holds ``env.lock`` shared
until it closes it (:func:`hold_open`), and a compaction runs only when it gets that lock
exclusively without waiting, that is when no process (this one included) has the repository
open. Readers and writers elsewhere are never moved under: while they hold the repository
open it is not compacted (``repo stat`` shows what is free inside), and one that opens it
meanwhile waits for the rename. LMDB's lock file is then reset by the next opener, which takes
its transaction id from the new file's meta page.

Crash-safe: the copy (LMDB's ``mdb_env_copy2`` with ``MDB_CP_COMPACT``, from one read
transaction) is written into ``compact.tmp/``, flushed to disk, and only then renamed over
``data.mdb`` (atomic), and the directory flushed. A crash before the rename leaves the old file
as it was (the next compaction removes the leftover copy); after it, the new one, complete.
"""

from __future__ import annotations

import fcntl
import os

import lmdb

ENV_LOCK = "env.lock"
TMP = "compact.tmp"
#: Compact when at least this many bytes, and this share of the file, are free pages.
MIN_FREE = 4 << 20
MIN_FREE_SHARE = 0.25


def hold_open(path: str) -> int:
    """Take ``env.lock`` shared for an environment about to be opened; close the returned fd
    after closing the environment. Waits while a compaction runs."""
    fd = os.open(os.path.join(path, ENV_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def free_bytes(env: lmdb.Environment) -> int:
    """Bytes of ``data.mdb`` that hold no live page (free pages, reused by later writes)."""
    with env.begin() as txn:
        stats = [txn.stat()]
        for name, _ in txn.cursor():  # the named databases are the keys of the main one
            stats.append(txn.stat(env.open_db(name, txn=txn, create=False)))
    used = sum(s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"] for s in stats) + 2  # + meta pages
    size = os.path.getsize(os.path.join(env.path(), "data.mdb"))
    return max(0, size - used * stats[0]["psize"])


def compact(path: str, *, force: bool = False) -> tuple[int, int] | None:
    """Rewrite ``data.mdb`` without its free pages if they are worth it (or *force*); return the
    file's size before and after, or None when not compacted (not worth it, or the repository
    is open in some process)."""
    from .lmdb_env import MAX_DBS

    data = os.path.join(path, "data.mdb")
    if not os.path.exists(data):
        return None
    fd = os.open(os.path.join(path, ENV_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        import shutil  # here, not at import: it imports bz2 and lzma (start-up time)

        tmp = os.path.join(path, TMP)
        shutil.rmtree(tmp, ignore_errors=True)  # left by a compaction that died
        before = os.path.getsize(data)
        env = lmdb.open(path, max_dbs=MAX_DBS, readahead=False)
        try:
            free = free_bytes(env)
            if not force and (free < MIN_FREE or free < before * MIN_FREE_SHARE):
                return None
            os.mkdir(tmp)
            env.copy(tmp, compact=True)
        finally:
            env.close()
        copy = os.path.join(tmp, "data.mdb")
        _fsync(copy)
        os.replace(copy, data)
        _fsync(path)
        os.rmdir(tmp)
        return before, os.path.getsize(data)
    finally:
        os.close(fd)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
