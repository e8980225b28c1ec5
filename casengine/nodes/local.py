"""The local repository (LMDB, casengine's own importer and exporter) as a node."""

from __future__ import annotations

import os
import threading
from typing import Iterable, Iterator

from .. import __version__, car
from ..dag.cid import Cid
from ..errors import PinError
from ..exporter import Entry, Exporter
from ..options import ImportOptions
from ..repo import Repo, default_path
from ..stores.base import Blockstore
from ..stores.tiered import TieredStore
from .node import Source
from .remote import ChunkReader, RemoteTier, block_cid

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
    trusted = True  # CIDs from casengine's importer, content re-hashed as it is read

    def __init__(self, repo: Repo, remote: RemoteTier | None = None):
        self.repo = repo
        self.remote = remote
        self.store = TieredStore(repo.store, remote) if remote is not None else repo.store
        self.exporter = Exporter(self.store)

    @property
    def blocks(self) -> Blockstore:
        return self.store

    def version(self) -> str:
        return __version__

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

    def block_get(self, cid: Cid) -> bytes:
        return self.store.get(cid)

    def block_stat(self, cid: Cid) -> int:
        return len(self.store.get(cid, verified=False))

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        return car.write([cid], self.exporter.walk(cid))

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        """``ipfs dag import`` of a CAR stream; PinError naming the roots that could not be pinned."""
        result = car.import_car(self.repo, [ChunkReader(chunks)], pin_roots=pin_roots)
        if result.failed:
            raise PinError("; ".join(f'pinning root "{cid}" FAILED: {result.pins[cid]}' for cid in result.failed))
        return result.roots
