"""Model storage by CID: the seed's ``ModelManager`` and ``ModelCache``, working on real CIDs.

``store_model_to_ipfs`` adds a model file or directory through the router (so whatever tier
is selected stores it) and records ``model_id -> CID`` in a small dag-cbor manifest
``{"version": 1, "models": {model_id: <link>}}``. The manifest is pinned recursively, which
keeps every recorded model alive; its CID is kept in one small file, replaced atomically
under a lock, so processes sharing it see each other's records.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
from collections import OrderedDict
from typing import Any

from . import ipfs_backend_router as router
from .errors import CasError
from .repo import default_path

logger = logging.getLogger("casengine.models")


def _enabled(flag: bool | None, env: str) -> bool:
    return router.truthy(os.environ.get(env)) if flag is None else bool(flag)


class ModelManager:
    """Stores model directories by CID and finds them again by model id."""

    def __init__(self, enable_ipfs: bool | None = None, *, backend: router.IPFSBackend | None = None,
                 deps: object = None, manifest_path: str | os.PathLike | None = None):
        self.enable_ipfs = _enabled(enable_ipfs, "ENABLE_IPFS_MODEL_STORAGE")
        self._backend = backend
        self._deps = deps
        self.manifest_path = os.fspath(manifest_path) if manifest_path else os.path.join(default_path(), "models.cid")

    @property
    def ipfs_backend(self) -> router.IPFSBackend | None:
        return router.get_backend(deps=self._deps, backend=self._backend) if self.enable_ipfs else None

    # -- the seed's API ---------------------------------------------------------------------------------
    def store_model_to_ipfs(self, model_path: str | os.PathLike, model_id: str | None = None) -> str | None:
        """Add the model file or directory (pinned); its CID, or None if storage is off or fails."""
        backend = self.ipfs_backend
        if backend is None:
            logger.warning("IPFS model storage is disabled (ENABLE_IPFS_MODEL_STORAGE)")
            return None
        try:
            cid = backend.add_path(os.fspath(model_path), recursive=True, pin=True)
            if model_id:
                self._record(backend, model_id, cid)
        except (CasError, OSError) as e:
            logger.error("storing model %s failed: %s", model_id or model_path, e)
            return None
        logger.info("stored model %s as %s", model_id or model_path, cid)
        return cid

    def retrieve_model_from_ipfs(self, cid: str | None, output_path: str | os.PathLike,
                                 model_id: str | None = None) -> bool:
        """Write the model *cid* (or, without one, the one recorded for *model_id*) to *output_path*."""
        backend = self.ipfs_backend
        if backend is None:
            logger.warning("IPFS model storage is disabled (ENABLE_IPFS_MODEL_STORAGE)")
            return False
        try:
            cid = cid or (self.cid_for(model_id) if model_id else None)
            if cid is None:
                logger.error("no CID given and none recorded for model %s", model_id)
                return False
            backend.get_to_path(cid, output_path=os.fspath(output_path))
        except (CasError, OSError) as e:
            logger.error("retrieving model %s failed: %s", model_id or cid, e)
            return False
        logger.info("retrieved model %s to %s", model_id or cid, output_path)
        return True

    # -- records ------------------------------------------------------------------------------------------
    @property
    def manifest_cid(self) -> str | None:
        try:
            with open(self.manifest_path) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def models(self) -> dict[str, str]:
        """Every recorded model id and its CID."""
        backend = self.ipfs_backend
        return self._read(backend, self.manifest_cid) if backend is not None else {}

    def cid_for(self, model_id: str) -> str | None:
        return self.models().get(model_id)

    @staticmethod
    def _read(backend: router.IPFSBackend, manifest: str | None) -> dict[str, str]:
        import dag_cbor

        if manifest is None:
            return {}
        value = dag_cbor.decode(backend.block_get(manifest))
        return {model_id: str(link) for model_id, link in value["models"].items()}

    def _record(self, backend: router.IPFSBackend, model_id: str, cid: str) -> None:
        """Write a new manifest with *model_id* -> *cid*, pin it, then drop the old one's pin."""
        import dag_cbor
        from multiformats import CID

        os.makedirs(os.path.dirname(self.manifest_path) or ".", exist_ok=True)
        with open(self.manifest_path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            old = self.manifest_cid
            models = {k: CID.decode(v) for k, v in self._read(backend, old).items()}
            models[model_id] = CID.decode(cid)
            new = backend.block_put(dag_cbor.encode({"version": 1, "models": models}), codec="dag-cbor")
            backend.pin(new)
            tmp = f"{self.manifest_path}.{secrets.token_hex(4)}"
            with open(tmp, "w") as f:
                f.write(new + "\n")
            os.replace(tmp, self.manifest_path)
            if old and old != new:
                backend.unpin(old)


class ModelCache:
    """Loaded models kept in memory (least recently used dropped past *max_size*), stored by CID."""

    def __init__(self, max_size: int = 10, enable_ipfs: bool | None = None, *,
                 backend: router.IPFSBackend | None = None, deps: object = None,
                 manifest_path: str | os.PathLike | None = None):
        self.max_size = max_size
        self.enable_ipfs = _enabled(enable_ipfs, "ENABLE_IPFS_MODEL_CACHE")
        self._manager = ModelManager(self.enable_ipfs, backend=backend, deps=deps, manifest_path=manifest_path)
        self._models: OrderedDict[str, Any] = OrderedDict()

    def get(self, model_id: str) -> Any | None:
        if model_id in self._models:
            self._models.move_to_end(model_id)
        return self._models.get(model_id)

    def put(self, model_id: str, model: Any) -> None:
        self._models[model_id] = model
        self._models.move_to_end(model_id)
        while len(self._models) > self.max_size:
            self._models.popitem(last=False)

    def __len__(self) -> int:
        return len(self._models)

    async def store_model_to_ipfs(self, model_id: str, model_path: str | os.PathLike) -> str | None:
        """Store the model's files (in a worker thread); its CID, or None."""
        return await asyncio.to_thread(self._manager.store_model_to_ipfs, model_path, model_id)

    async def retrieve_model_from_ipfs(self, cid: str, output_path: str | os.PathLike) -> bool:
        return await asyncio.to_thread(self._manager.retrieve_model_from_ipfs, cid, output_path)
