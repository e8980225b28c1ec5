"""The local repository (LMDB, casengine's own importer and exporter) as a node."""

from __future__ import annotations

import os
import threading
from typing import Iterator

from .. import car
from ..dag.cid import Cid
from ..exporter import Entry, Exporter
from ..options import ImportOptions
from ..repo import Repo, default_path
from ..stores.tiered import TieredStore
from .remote import RemoteTier, Source, block_cid

_REPOS: dict[str, Repo] = {}
_REPOS_LOCK = threading.Lock()


def shared_repo(path: str | os.PathLike | None = None) -> Repo:
    """The process's one open Repo at *path* (LMDB allows one environment per file per process)."""
    key = os.path.realpath(os.fspath(path) if path is not None else default_path())
    with _REPOS_LOCK:
        if key not in _REPOS:
            _REPOS[key] = Repo(key)
        return _REPOS[key]


class LocalNode:
    """The LMDB repository with a node's verbs; a missing block is read through from *remote*."""

    name = "local"

    def __init__(self, repo: Repo, remote: RemoteTier | None = None):
        self.repo = repo
        self.remote = remote
        self.store = TieredStore(repo.store, remote) if remote is not None else repo.store
        self.exporter = Exporter(self.store)

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid:
        return self.repo.add(source, options, recursive=recursive).cid

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[memoryview]:
        return self.exporter.cat(path, offset, length)

    def ls(self, path: str | Cid) -> list[Entry]:
        return self.exporter.ls(path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        self.exporter.get(path, output_path)

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        if self.remote is not None:  # fetch (and keep) whatever is missing before pinning
            for _ in self.exporter.walk(cid) if recursive else [self.store.get(cid)]:
                pass
        self.repo.pin(cid, recursive)

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        self.repo.unpin(cid, recursive)

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        return self.repo.pins(kind)

    def block_put(self, data: bytes, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        cid = block_cid(data, codec, hash)
        self.repo.store.put(cid, data)
        return cid

    def get(self, cid: Cid) -> bytes:
        return self.store.get(cid)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        return car.write([cid], self.exporter.walk(cid))
