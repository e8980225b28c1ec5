"""ipfs_kit_py as a remote tier, imported lazily and only when this tier is selected.

ipfs_kit_py is never a dependency: it is AGPL, its PyPI release does not import, and its
normal start-up downloads Kubo binaries and starts daemons. So the import happens here, at
construction, with binary downloads and daemon auto-start forced off, and *any* failure of
the import or of the kit's construction (SyntaxError and IndentationError included) becomes
:class:`TierUnavailable`. Kit methods answer either values or ``{"success": ..}`` dicts;
both are read. Verbs the kit has no method for are served from its blocks (``RemoteTier``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Iterator

from ..dag.cid import Cid
from ..errors import CasError, CidNotFound, PinError, RemoteError, TierUnavailable
from ..options import ImportOptions
from ..stores.base import Buffer
from .kubo_words import NOT_FOUND, NOT_PINNED, parse_cid, root_cid
from .node import Source
from .remote import RemoteTier, block_cid

#: Forced on every kit we construct: no binary downloads, no daemons started behind our back.
SAFE_METADATA = {"auto_download_binaries": False, "auto_start_daemons": False, "skip_dependency_check": True}


def load_kit(metadata: dict | None = None) -> Any:
    """Import ipfs_kit_py and build its ``ipfs_kit``; TierUnavailable on any failure."""
    try:
        module = importlib.import_module("ipfs_kit_py")
        factory = getattr(module, "ipfs_kit")
    except (Exception, SystemExit) as e:  # SyntaxError/IndentationError are Exceptions too
        raise TierUnavailable(f"ipfs_kit_py cannot be imported: {type(e).__name__}: {e}") from None
    meta = {"role": "leecher", **(metadata or {}), **SAFE_METADATA}
    try:
        return factory(metadata=meta, auto_start_daemons=False)
    except (Exception, SystemExit) as e:
        raise TierUnavailable(f"ipfs_kit_py could not start: {type(e).__name__}: {e}") from None


class IPFSKitStore(RemoteTier):
    """Blocks and UnixFS verbs through an ``ipfs_kit`` instance (built safely unless given)."""

    name = "ipfs_kit"

    def __init__(self, kit: Any = None, *, metadata: dict | None = None):
        self.kit = kit if kit is not None else load_kit(metadata)
        if not callable(getattr(self.kit, "ipfs_cat", None)):
            raise TierUnavailable("ipfs_kit_py's kit has no ipfs_cat: not a usable ipfs_kit")

    def _call(self, method: str, *args: Any, what: object = None, **kwargs: Any) -> Any:
        fn = getattr(self.kit, method, None)
        if not callable(fn):
            raise RemoteError(f"ipfs_kit_py has no {method}")
        try:
            result = fn(*args, **kwargs)
        except CasError:  # casengine's own errors, from a kit built on casengine
            raise
        except Exception as e:
            raise self._error(method, f"{type(e).__name__}: {e}", what) from None
        if isinstance(result, dict) and result.get("success") is False:
            raise self._error(method, str(result.get("error") or "failed"), what)
        return result

    @staticmethod
    def _error(method: str, message: str, what: object) -> Exception:
        if method.startswith("ipfs_pin") and NOT_PINNED.search(message):
            return PinError(message)
        if what is not None and NOT_FOUND.search(message):
            return CidNotFound(what, message)
        return RemoteError(f"ipfs_kit_py {method}: {message}")

    @staticmethod
    def _cid(method: str, result: Any) -> Cid | str:
        text = (result.get("cid") or result.get("Hash") or result.get("Key")) if isinstance(result, dict) else result
        if not isinstance(text, str) or not text:
            raise RemoteError(f"ipfs_kit_py {method}: no CID in {result!r:.80}")
        return parse_cid(text)

    @staticmethod
    def _bytes(method: str, result: Any) -> bytes:
        if isinstance(result, dict):
            result = next((result[k] for k in ("data", "content") if result.get(k) is not None), None)
        if isinstance(result, str):
            result = result.encode()
        if not isinstance(result, (bytes, bytearray, memoryview)):
            raise RemoteError(f"ipfs_kit_py {method}: no bytes in the answer")
        return bytes(result)

    # -- RemoteTier ------------------------------------------------------------------------------------
    def version(self) -> str:
        module = importlib.import_module(type(self.kit).__module__.split(".")[0])
        return str(getattr(module, "__version__", "unknown"))

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid | str:
        opts = {"pin": options.pin, "chunker": options.chunker, "hash": options.hash,
                "cid_version": options.cid_version, "raw_leaves": options.raw_leaves, "trickle": options.trickle,
                "only_hash": options.only_hash}
        opts = {k: v for k, v in opts.items() if v is not None}
        if isinstance(source, (bytes, bytearray, memoryview)):
            return self._cid("ipfs_add_bytes", self._call("ipfs_add_bytes", bytes(source), **opts))
        path = os.fspath(source)
        opts.update(wrap_with_directory=options.wrap_with_directory, hidden=options.hidden)
        if os.path.isdir(path) and callable(getattr(self.kit, "ipfs_add_path", None)):
            return self._cid("ipfs_add_path", self._call("ipfs_add_path", path, recursive=recursive, **opts))
        return self._cid("ipfs_add_file", self._call("ipfs_add_file", path, recursive=recursive, **opts))

    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        root_cid(path)
        data = self._bytes("ipfs_cat", self._call("ipfs_cat", str(path), what=path))
        yield data[offset:None if length is None else offset + length]

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        self._call("ipfs_pin_add", str(cid), recursive=recursive, what=cid)

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        self._call("ipfs_pin_rm", str(cid), recursive=recursive, what=cid)

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        result = self._call("ipfs_pin_ls", type=kind)
        pins = (result.get("pins") or result.get("Keys") or {}) if isinstance(result, dict) else {}
        for text, info in pins.items():
            cid = parse_cid(text)
            if isinstance(cid, Cid):
                yield cid, info.get("Type", "") if isinstance(info, dict) else str(info)

    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        cid = block_cid(data, codec, hash)
        return self._check(cid, self._cid("ipfs_block_put", self._call("ipfs_block_put", bytes(data), codec=codec)))

    # -- Blockstore ------------------------------------------------------------------------------------
    def _get(self, multihash: bytes) -> bytes | None:
        cid = Cid(1, 0x55, multihash)
        try:
            return self._bytes("ipfs_block_get", self._call("ipfs_block_get", str(cid), what=cid))
        except CidNotFound:
            return None

    def _delete(self, multihash: bytes) -> bool:
        raise RemoteError("ipfs_kit_py has no block removal")

    def multihashes(self) -> Iterator[bytes]:
        raise RemoteError("ipfs_kit_py cannot list its blocks")

    def size(self) -> int:
        raise RemoteError("ipfs_kit_py does not report its size")
