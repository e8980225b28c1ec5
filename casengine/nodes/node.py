"""The one protocol every node answers: the local repository and each remote tier alike.

CIDs travel as :class:`~casengine.dag.cid.Cid` (``add`` may return the text a remote printed
when it is no CID: the router then refuses it). A node that is not *trusted* is checked by its
caller: the CIDs it prints are recomputed locally, and content is read from its ``blocks``,
each block re-hashed, never from its own ``cat`` stream.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Protocol, runtime_checkable

from ..dag.cid import Cid
from ..exporter import Entry
from ..options import ImportOptions
from ..stores.base import Blockstore, Buffer

#: What ``add`` takes: bytes (one file, never wrapped) or a file system path.
Source = bytes | bytearray | memoryview | str | os.PathLike


@runtime_checkable
class Node(Protocol):
    """The verbs of ``ipfs``: add, cat, ls, get, pins, blocks, dag export/import, version."""

    #: Name shown in logs and selection records.
    name: str
    #: Whether its answers come from casengine's own importer and exporter (nothing to re-check).
    trusted: bool

    @property
    def blocks(self) -> Blockstore:
        """Its blocks, for read-through and verified reads."""

    def version(self) -> str:
        """The node's version; RemoteError if it cannot be reached (the router's probe)."""

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *,
            recursive: bool = True) -> Cid | str: ...

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[Buffer]: ...

    def ls(self, path: str | Cid) -> list[Entry]: ...

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        """Write the file or tree at *path* to *output_path*; nothing half-written on failure."""

    def pin_add(self, cid: Cid, recursive: bool = True) -> None: ...

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None: ...

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]: ...

    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid: ...

    def block_get(self, cid: Cid) -> bytes: ...

    def block_stat(self, cid: Cid) -> int: ...

    def dag_export(self, cid: Cid) -> Iterator[bytes]: ...

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]: ...
