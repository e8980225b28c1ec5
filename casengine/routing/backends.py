"""The seed's backend API (CIDs as strings) over one node, checking what a remote node says."""

from __future__ import annotations

import io
import os
import shlex
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, runtime_checkable

from .. import car
from ..dag.cid import Cid
from ..dag.links import links
from ..errors import CidNotFound, DecodeError, RemoteError
from ..exporter import Exporter
from ..importer import Importer
from ..nodes.kubo_words import root_cid
from ..nodes.local import LocalNode, shared_repo
from ..nodes.node import Node, Source
from ..options import DEFAULT_PROFILE, ImportOptions
from ..repo import hf_home
from ..stores.base import Blockstore


@runtime_checkable
class IPFSBackend(Protocol):
    """What every backend answers; CIDs travel as strings."""

    def add_bytes(self, data: bytes, *, pin: bool = True) -> str: ...

    def cat(self, cid: str) -> bytes: ...

    def pin(self, cid: str) -> None: ...

    def unpin(self, cid: str) -> None: ...

    def block_put(self, data: bytes, *, codec: str = "raw") -> str: ...

    def block_get(self, cid: str) -> bytes: ...

    def add_path(self, path: str, *, recursive: bool = True, pin: bool = True,
                 chunker: Optional[str] = None) -> str: ...

    def get_to_path(self, cid: str, *, output_path: str) -> None: ...

    def ls(self, cid: str) -> list[str]: ...

    def dag_export(self, cid: str) -> bytes: ...


def options(profile: Optional[str], **overrides: Any) -> ImportOptions:
    """Import options from a profile (default: Kubo 0.22's) with the call's own values on top."""
    return ImportOptions.from_profile(profile or DEFAULT_PROFILE, **overrides)


def text(cid: Cid | str) -> str:
    """A CID in Kubo's text form; a string a tier printed that is no CID is returned as given."""
    return str(cid)


def verified_car(chunks: Iterable[bytes], root: Cid) -> bytes:
    """A CAR that holds *root* and every block it links to, each block hash-checked."""
    data = b"".join(chunks)
    have: set[bytes] = set()
    wanted: set[bytes] = {root.multihash}
    try:
        reader = car.CarReader(io.BytesIO(data))
        if reader.roots != [root]:
            raise RemoteError(f"dag export of {root} has roots {[str(r) for r in reader.roots]}")
        for cid, block in reader:
            have.add(cid.multihash)
            wanted.update(c.multihash for c in links(cid, block) if not c.is_identity)
    except DecodeError as e:
        raise RemoteError(f"dag export of {root} is not a valid CAR: {e}") from None
    if wanted - have:
        raise CidNotFound(root, f"dag export is missing {len(wanted - have)} block(s)")
    return data


class NodeBackend:
    """The router's API over one :class:`~casengine.nodes.node.Node` (the local one or a remote)."""

    backend_name = "node"

    def __init__(self, node: Node):
        self.node = node
        # file content comes from the node's blocks, each re-hashed (a remote's cat cannot be checked)
        self.exporter = Exporter(node.blocks)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.node!r})"

    def _add(self, source: Source, options: ImportOptions, recursive: bool = True) -> str:
        if options.nocopy and not self.node.trusted:  # a remote node keeps a copy, same CIDs
            options = options.with_(nocopy=False, raw_leaves=True)
        cid = self.node.add(source, options, recursive=recursive)
        if not self.node.trusted:
            importer = Importer(None, options)  # hashes only: the CID Kubo gives this content
            bare = isinstance(source, (bytes, bytearray, memoryview))
            expected = importer.add_bytes(source).cid if bare else importer.add_path(source, recursive=recursive).cid
            if cid != expected:
                raise RemoteError(f"{self.node.name} add printed {cid}, but the content's CID is {expected}")
        return text(cid)

    def add_bytes(self, data: bytes, *, pin: bool = True, profile: Optional[str] = None) -> str:
        return self._add(bytes(data), options(profile, pin=pin))

    def cat(self, cid: str) -> bytes:
        root_cid(cid)
        return self.exporter.read(cid)

    def pin(self, cid: str) -> None:
        self.node.pin_add(cid_arg(cid))

    def unpin(self, cid: str) -> None:
        self.node.pin_rm(cid_arg(cid))

    def block_put(self, data: bytes, *, codec: str = "raw") -> str:
        return text(self.node.block_put(bytes(data), codec))

    def block_get(self, cid: str) -> bytes:
        return self.node.block_get(cid_arg(cid))

    def add_path(self, path: str, *, recursive: bool = True, pin: bool = True, chunker: Optional[str] = None,
                 profile: Optional[str] = None, nocopy: bool = False) -> str:
        return self._add(path, options(profile, pin=pin, chunker=chunker, nocopy=nocopy), recursive)

    def get_to_path(self, cid: str, *, output_path: str) -> None:
        root_cid(cid)
        self.exporter.get(cid, output_path)

    def ls(self, cid: str) -> list[str]:
        root_cid(cid)
        return [name for name, _ in self.exporter.named_links(cid)]  # names only: no child is read

    def dag_export(self, cid: str) -> bytes:
        root = cid_arg(cid)
        return verified_car(self.node.dag_export(root), root)


def cid_arg(text: str | Cid) -> Cid:
    """A bare CID argument; CidNotFound (text holds "CID not found") for paths and non-CIDs."""
    cid = root_cid(text)
    if not isinstance(text, Cid) and "/" in text.strip().removeprefix("/ipfs/").strip("/"):
        raise CidNotFound(text, "a CID is needed here, not a path")
    return cid


class HuggingFaceCacheBackend(NodeBackend):
    """casengine's local engine: LMDB under *cache_dir* (default ``$HF_HOME``) ``/casengine``.

    CIDs equal the ones ``ipfs add`` prints with Kubo's defaults. With *remote*, blocks
    missing locally are fetched from it, re-hashed and kept.
    """

    backend_name = "hf_cache"

    def __init__(self, cache_dir: str | os.PathLike | None = None, *, remote: Blockstore | None = None):
        path = os.path.join(os.fspath(cache_dir), "casengine") if cache_dir is not None else None
        super().__init__(LocalNode(shared_repo(path), remote))
        self.cache_dir = Path(cache_dir if cache_dir is not None else hf_home())

    @property
    def _cache_dir(self) -> Path:
        """The seed's name for :attr:`cache_dir` (code written for the seed reads it)."""
        return self.cache_dir


class KuboRPCBackend(NodeBackend):
    """A Kubo node over its HTTP RPC API at *api* (default ``$KUBO_API``, else 127.0.0.1:5001)."""

    backend_name = "kubo_rpc"

    def __init__(self, api: str | None = None, **kwargs: Any):
        from ..nodes.kubo_rpc import KuboRPCStore  # here: its HTTP client is loaded only by who uses it

        super().__init__(KuboRPCStore(api, **kwargs))


class KuboCLIBackend(NodeBackend):
    """A Kubo node through its command line *cmd* (default ``$KUBO_CMD``, else ``ipfs``)."""

    backend_name = "kubo"

    def __init__(self, cmd: str | list[str] | None = None, **kwargs: Any):
        from ..nodes.kubo_cli import KuboCLIStore

        super().__init__(KuboCLIStore(cmd, **kwargs))

    @property
    def _cmd(self) -> str:
        """The seed's name for the command line, as one string (code written for the seed reads it)."""
        return shlex.join(self.node.argv)


class IPFSKitBackend(NodeBackend):
    """ipfs_kit_py (imported here, not before), or the given *kit* instance."""

    backend_name = "ipfs_kit"

    def __init__(self, kit: Any = None, *, metadata: dict | None = None):
        from ..nodes.ipfs_kit import IPFSKitStore

        super().__init__(IPFSKitStore(kit, metadata=metadata))
