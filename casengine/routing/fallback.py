"""Tiers in order of preference, each probed first; a call that fails on one goes to the next."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import CasError, CidNotFound, CorruptBlock, RemoteError, StoreError, TierUnavailable
from ..nodes import gateways_from_env
from ..stores.base import Blockstore
from . import given
from .backends import HuggingFaceCacheBackend, IPFSBackend, IPFSKitBackend, KuboCLIBackend, KuboRPCBackend, NodeBackend

logger = logging.getLogger("casengine.router")

#: Seconds a Kubo RPC endpoint gets to answer the selection probe.
PROBE_TIMEOUT = 3.0
TIER_ORDER = ("ipfs_kit", "local", "kubo")


@dataclass(frozen=True)
class Selection:
    """Which tiers serve calls (in order) and why each other tier was passed over."""

    tiers: tuple[str, ...]
    passed_over: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = TIER_ORDER


@dataclass(frozen=True)
class CallRecord:
    """Which tier answered a call, and the tiers that failed it before (name, reason)."""

    op: str
    answered_by: str | None
    passed_over: tuple[tuple[str, str], ...] = ()


class FallbackBackend:
    """Tiers in order: each call goes to the first one that can answer it."""

    backend_name = "router"

    def __init__(self, tiers: list[tuple[str, IPFSBackend]], selection: Selection):
        self.tiers = tiers
        self.selection = selection
        self.last_call: CallRecord | None = None

    def __repr__(self) -> str:
        return f"FallbackBackend({[name for name, _ in self.tiers]})"

    def backend(self, name: str) -> IPFSBackend:
        return dict(self.tiers)[name]

    def _call(self, op: str, what: object, *args: Any, **kwargs: Any) -> Any:
        passed: list[tuple[str, str]] = []
        errors: list[CasError] = []
        for n, (name, backend) in enumerate(self.tiers, 1):
            try:
                result = getattr(backend, op)(*args, **kwargs)
            except (RemoteError, CidNotFound, CorruptBlock) as e:
                more = "; trying the next tier" if n < len(self.tiers) else ""  # only when there is one
                logger.warning("%s on tier %s failed (%s)%s", op, name, e, more)
                passed.append((name, str(e)))
                errors.append(e)
                continue
            self.last_call = CallRecord(op, name, tuple(passed))
            return result
        self.last_call = CallRecord(op, None, tuple(passed))
        detail = "; ".join(f"{name}: {reason}" for name, reason in passed)
        if errors and all(isinstance(e, CidNotFound) for e in errors):
            raise CidNotFound(what, f"on no tier: {detail}")
        raise RemoteError(f"{op} failed on every tier: {detail}")

    def add_bytes(self, data: bytes, *, pin: bool = True, profile: Optional[str] = None) -> str:
        return self._call("add_bytes", "data", data, pin=pin, **given(profile=profile))

    def cat(self, cid: str) -> bytes:
        return self._call("cat", cid, cid)

    def pin(self, cid: str) -> None:
        self._call("pin", cid, cid)

    def unpin(self, cid: str) -> None:
        self._call("unpin", cid, cid)

    def block_put(self, data: bytes, *, codec: str = "raw") -> str:
        return self._call("block_put", "data", data, codec=codec)

    def block_get(self, cid: str) -> bytes:
        return self._call("block_get", cid, cid)

    def add_path(self, path: str, *, recursive: bool = True, pin: bool = True, chunker: Optional[str] = None,
                 profile: Optional[str] = None, nocopy: bool = False) -> str:
        return self._call("add_path", path, path, recursive=recursive, pin=pin, chunker=chunker,
                          **given(profile=profile, nocopy=nocopy or None))

    def get_to_path(self, cid: str, *, output_path: str) -> None:
        self._call("get_to_path", cid, cid, output_path=output_path)

    def ls(self, cid: str) -> list[str]:
        return self._call("ls", cid, cid)

    def dag_export(self, cid: str) -> bytes:
        return self._call("dag_export", cid, cid)


def truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def kubo_backend() -> NodeBackend:
    """The Kubo tier: its RPC API when ``$KUBO_API`` is set, else its CLI (``$KUBO_CMD``)."""
    api = os.environ.get("KUBO_API", "").strip()
    return KuboRPCBackend(api) if api else KuboCLIBackend()


def probe_kubo() -> NodeBackend:
    api = os.environ.get("KUBO_API", "").strip()
    if api:  # here, and only the one probed: the router loads no client it does not use (start-up time)
        from ..nodes.kubo_rpc import KuboRPCStore

        probe = KuboRPCStore(api, timeout=PROBE_TIMEOUT)
    else:
        from ..nodes.kubo_cli import KuboCLIStore

        probe = KuboCLIStore(timeout=PROBE_TIMEOUT * 5)
    probe.version()
    return kubo_backend()


def kit_tier(passed: dict[str, str]) -> IPFSKitBackend | None:
    """The ipfs_kit tier, or None (disabled or unavailable: *passed* says why)."""
    if truthy(os.environ.get("IPFS_KIT_DISABLE")):
        passed["ipfs_kit"] = "IPFS_KIT_DISABLE is set"
    elif not truthy(os.environ.get("ENABLE_IPFS_KIT", "true")):
        passed["ipfs_kit"] = "ENABLE_IPFS_KIT is false"
    else:
        try:
            return IPFSKitBackend()
        except TierUnavailable as e:
            passed["ipfs_kit"] = str(e)
    return None


def local_tier(passed: dict[str, str], remote: Blockstore | None = None) -> HuggingFaceCacheBackend | None:
    """The local repository reading through to *remote*, or None (disabled or not openable)."""
    if not truthy(os.environ.get("ENABLE_HF_CACHE", "true")):
        passed["local"] = "ENABLE_HF_CACHE is false"
        return None
    try:
        return HuggingFaceCacheBackend(remote=remote)
    except StoreError as e:
        passed["local"] = str(e)
        return None


def gateway_tier(urls: list[str]) -> Blockstore:
    from ..nodes.gateway import GatewayTier  # here: only a router with gateways loads an HTTP client

    return GatewayTier(urls)


def select_backend() -> FallbackBackend:
    """Probe every tier (ipfs_kit -> local -> kubo) and chain those that answer."""
    passed: dict[str, str] = {}
    kit = kit_tier(passed)
    kubo = None
    try:
        kubo = probe_kubo()
    except RemoteError as e:
        passed["kubo"] = str(e)
    urls = gateways_from_env()  # read-through: to Kubo when it answers, else to the gateways of $CASENGINE_GATEWAYS
    remote = kubo.node.blocks if kubo is not None else gateway_tier(urls) if urls else None
    local = local_tier(passed, remote)
    tiers = [(name, b) for name, b in (("ipfs_kit", kit), ("local", local), ("kubo", kubo)) if b is not None]
    if not tiers:
        raise TierUnavailable("no IPFS backend is available: "
                              + "; ".join(f"{name}: {why}" for name, why in passed.items()))
    selection = Selection(tuple(name for name, _ in tiers), passed)
    logger.info("IPFS tiers in use: %s; passed over: %s", ", ".join(selection.tiers), passed or "none")
    return FallbackBackend(tiers, selection)
