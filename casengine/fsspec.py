"""``cas://`` for fsspec: read UnixFS out of a casengine repository with pandas, datasets, dask...

Paths are ``cas://CID/dir/file`` (``/ipfs/CID/...`` works too); the root lists the pinned
DAGs. Reads go through :class:`~casengine.exporter.Exporter`, so a byte range fetches only
the blocks that overlap it and every block is hash-checked. The file system is
content-addressed: nothing is written at a path you choose, so ``put`` stores a local file or
tree and returns its CID, and writing modes are refused.

>>> import fsspec                                                    # doctest: +SKIP
>>> fsspec.open("cas://bafy.../data.csv").open().read(10)            # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from .dag.unixfs import DataType
from .errors import CidNotFound, InvalidCid, InvalidOption, IsADirectory, NotADirectory
from .exporter import Exporter, Node
from .options import ImportOptions
from .progress import reporting
from .repo import RECURSIVE, Repo, default_path
from .stores.tiered import TieredStore

#: Repositories opened by path, shared by every instance: LMDB allows one open per process.
_REPOS: dict[str, Repo] = {}
_REPOS_LOCK = threading.Lock()


class CASFileSystem(AbstractFileSystem):
    """UnixFS DAGs of a casengine repository as a read-only file tree, plus ``put`` to store.

    *repo* is a :class:`~casengine.repo.Repo`, a repository path, or None for the default
    (``$CASENGINE_REPO`` or ``$HF_HOME/casengine``, looked up at each call, so one cached
    instance follows the environment). A repository named by path is opened once per process
    and kept open; code that has its own open Repo should pass it.
    """

    protocol = "cas"
    root_marker = ""

    def __init__(self, repo: "Repo | str | os.PathLike | None" = None, gateways: "list[str] | None" = None,
                 **storage_options: Any):
        super().__init__(**storage_options)
        self._given = repo
        self._gateways = gateways
        self._tiers: dict[tuple[str, ...], Any] = {}

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def repo(self) -> Repo:
        if isinstance(self._given, Repo):
            return self._given
        path = os.path.abspath(default_path() if self._given is None else os.fspath(self._given))
        with _REPOS_LOCK:
            if path not in _REPOS:
                _REPOS[path] = Repo(path)
            return _REPOS[path]

    @property
    def exporter(self) -> Exporter:
        """Reads from the repository; with *gateways* (or ``$CASENGINE_GATEWAYS``) a block it lacks is
        fetched from them, verified and kept."""
        from .nodes import gateways_from_env

        urls = tuple(self._gateways if self._gateways is not None else gateways_from_env())
        if not urls:
            return Exporter(self.repo.store)
        from .nodes import gateway  # only with gateways: its HTTP client

        if urls not in self._tiers:
            self._tiers[urls] = gateway.GatewayTier(urls)
        return Exporter(TieredStore(self.repo.store, self._tiers[urls]))

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = super()._strip_protocol(path).lstrip("/")
        return path[5:] if path.startswith("ipfs/") else path

    @contextmanager
    def _lookup(self, path: str) -> Iterator[None]:
        """Errors of a path that is not there become the FileNotFoundError fsspec callers expect."""
        try:
            yield
        except (CidNotFound, InvalidCid, NotADirectory) as e:
            raise FileNotFoundError(f"{path}: {e}") from e
        except IsADirectory as e:
            raise IsADirectoryError(f"{path}: {e}") from e

    def _node(self, path: str) -> Node:
        path = self._strip_protocol(path)
        with self._lookup(path):
            if not path:
                raise CidNotFound(path, "the root of cas:// is a listing of pins, not a node")
            return self.exporter.resolve(path)

    @staticmethod
    def _details(name: str, node: Node, size: int | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"name": name, "cid": str(node.cid)}
        if node.is_dir:
            info.update(type="directory", size=0)
        elif node.type == DataType.SYMLINK:
            info.update(type="other", size=0, islink=True, destination=os.fsdecode(node.fs.data or b""))
        else:
            info.update(type="file", size=node.file_size() if size is None else size)
        return info

    # -- reading ----------------------------------------------------------------------------------
    def info(self, path, **kwargs) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "type": "directory", "size": 0}
        return self._details(path, self._node(path))

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        if not path:  # the root: every recursively pinned DAG
            ex = self.exporter
            out = [self._details(str(cid), ex.node(cid)) for cid, _ in self.repo.pins(RECURSIVE)]
        else:
            node = self._node(path)
            if not node.is_dir:
                out = [self._details(path, node)]
            else:
                ex = self.exporter
                with self._lookup(path):
                    out = [self._details(f"{path}/{name}", ex.node(link.cid)) for name, link in ex.links(node)]
        return out if detail else [o["name"] for o in out]

    def cat_file(self, path, start: int | None = None, end: int | None = None, **kwargs) -> bytes:
        """The bytes [start, end) (negative: from the end), read through the exporter's seek."""
        node = self._node(path)
        with self._lookup(path):
            if node.is_dir:
                raise IsADirectory("this dag node is a directory")
            size = node.file_size()
            start = 0 if start is None else (max(0, size + start) if start < 0 else start)
            end = size if end is None else (max(0, size + end) if end < 0 else min(end, size))
            return self.exporter.read(node, start, max(0, end - start))

    def ukey(self, path) -> str:
        """The CID: it changes exactly when the content does."""
        return str(self._node(path).cid)

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode != "rb":
            raise InvalidOption(f"cas:// opens files for reading only (mode {mode!r}): store files with put()")
        node = self._node(path)
        if node.is_dir:
            raise IsADirectoryError(path)
        return CASFile(self, self._strip_protocol(path), node, block_size=block_size,
                       cache_options=cache_options, **kwargs)

    # -- storing ----------------------------------------------------------------------------------
    def put(self, lpath, rpath=None, recursive=True, callback=None, **options) -> str:
        """Store the local file or directory *lpath* (pinned) and return its CID.

        *rpath* can only be the root (``""``, ``"cas://"``): where content lands is its CID.
        *options* are :class:`~casengine.options.ImportOptions` (``cid_version=1``...); an fsspec
        *callback* is told the bytes as they are hashed.
        """
        if rpath is not None and self._strip_protocol(rpath):
            raise InvalidOption(f"cas:// cannot store at a chosen path ({rpath!r}): put() returns the CID")
        if not isinstance(lpath, (str, os.PathLike)):
            raise InvalidOption("put() stores one local file or directory at a time")
        progress = callback.relative_update if callback is not None else None
        with reporting(progress):
            ref = self.repo.add(os.fspath(lpath), ImportOptions(**options), recursive=recursive)
        return str(ref.cid)



class CASFile(AbstractBufferedFile):
    """A UnixFS file opened for reading: each buffer fill reads just the blocks it covers."""

    def __init__(self, fs: CASFileSystem, path: str, node: Node, **kwargs: Any):
        self.node = node
        super().__init__(fs, path, mode="rb", size=node.file_size(), **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.exporter.read(self.node, start, end - start)


class IPFSFileSystem(CASFileSystem):
    """``ipfs://CID/path``: the same file system under the IPFS URL scheme (gateways as for cas://)."""

    protocol = "ipfs"
