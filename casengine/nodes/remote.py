"""Remote tiers: another IPFS node (Kubo over its RPC API or its CLI, ipfs_kit_py).

A :class:`RemoteTier` is a :class:`Blockstore` whose blocks live on another node, plus the
verbs such a node answers itself: ``add``, ``cat``, ``ls``, ``get``, pins, ``dag
export``/``import``. A verb a tier has no native form for is served from its blocks by the
local :class:`Exporter`, every block re-hashed.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from contextlib import contextmanager
from typing import Iterable, Iterator

from .. import car
from ..dag import multihash
from ..dag.cid import RAW, Cid, codec_code
from ..dag.multihash import by_code
from ..errors import CasError, CorruptBlock, DecodeError, RemoteError
from ..exporter import Entry, Exporter
from ..options import ImportOptions
from ..stores.base import Blockstore, Buffer
from .node import Source

class RemoteTier(Blockstore):
    """Another IPFS node (a :class:`~casengine.nodes.node.Node`): blocks by multihash (as Kubo
    keys them) plus the UnixFS verbs. Its answers are checked by whoever uses them."""

    #: Name shown in logs and selection records.
    name = "remote"
    trusted = False

    @property
    def blocks(self) -> Blockstore:
        return self

    # -- what a tier implements -------------------------------------------------------------------
    @abstractmethod
    def version(self) -> str:
        """The node's version string; raises RemoteError if it cannot be reached (the probe)."""

    @abstractmethod
    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        """Store one block; return its CIDv1 (checked against the local hash of *data*)."""

    @abstractmethod
    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid | str:
        """``ipfs add`` on the node with Kubo's options; the root CID it prints."""

    @abstractmethod
    def pin_add(self, cid: Cid, recursive: bool = True) -> None: ...

    @abstractmethod
    def pin_rm(self, cid: Cid, recursive: bool = True) -> None: ...

    @abstractmethod
    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]: ...

    # -- verbs served from blocks unless a tier has a native form ----------------------------------
    def block_get(self, cid: Cid) -> bytes:
        return self.get(cid)

    def block_stat(self, cid: Cid) -> int:
        return len(self.get(cid))

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        yield from Exporter(self).cat(path, offset, length)

    def ls(self, path: str | Cid) -> list[Entry]:
        return Exporter(self).ls(path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        Exporter(self).get(path, output_path)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        yield from car.write([cid], Exporter(self).walk(cid))

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        """Store every block of a CAR stream (each hash-checked), then pin its roots."""
        reader = car.CarReader(ChunkReader(chunks))
        for cid, block in reader:
            self.put(cid, block)
        if pin_roots:
            for root in reader.roots:
                self.pin_add(root)
        return reader.roots

    # -- Blockstore over block_put / block get -----------------------------------------------------
    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        for mh, block in items:
            fn = by_code(Cid(1, RAW, mh).hash_code)
            if fn is None:
                raise RemoteError(f"{self.name}: cannot put a block hashed with {mh[:2].hex()}")
            self.block_put(block, "raw", fn.name)

    def _has(self, multihash: bytes) -> bool:
        return self._get(multihash) is not None

    @staticmethod
    def _check(cid: Cid, got: Cid | str) -> Cid:
        """The CID the node printed for a block put must name the bytes sent."""
        if not isinstance(got, Cid) or got.multihash != cid.multihash:
            raise CorruptBlock(cid, f"the node stored it as {got}")
        return cid


@contextmanager
def parsing(what: str) -> Iterator[None]:
    """Read a node's answer: one that is not what its command prints (not JSON, a field missing,
    no CID where one belongs) is a RemoteError, a failure of the node like any other, so the
    router tries the next tier instead of crashing on a KeyError."""
    try:
        yield
    except DecodeError as e:
        raise RemoteError(f"{what}: unexpected answer ({e})") from None
    except CasError:
        raise
    except (ValueError, LookupError, TypeError, AttributeError) as e:
        raise RemoteError(f"{what}: unexpected answer ({type(e).__name__}: {e})") from None


def check_listed(what: str, cid: Cid, printed: Iterable[str]) -> None:
    """A pin answer must name *cid* (in any base or version): success alone proves nothing."""
    for text in printed:
        try:
            if Cid.parse(text).multihash == cid.multihash:
                return
        except DecodeError:
            continue
    raise RemoteError(f"{what}: the answer does not name {cid}")


def block_cid(data: Buffer, codec: str, hash: str) -> Cid:
    """The CIDv1 ``ipfs block put --cid-codec CODEC --mhtype HASH`` gives *data*."""
    return Cid(1, codec_code(codec), multihash.get(hash).digest(data))


class ChunkReader:
    """A read()-able view of an iterable of byte chunks (a CAR arriving in pieces)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out
