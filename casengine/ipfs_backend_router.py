"""A drop-in for ``ipfs_accelerate_py.ipfs_backend_router`` that stores real, Kubo-identical CIDs.

Change ``from ipfs_accelerate_py import ipfs_backend_router`` to ``from casengine import
ipfs_backend_router`` and the same calls (``add_bytes``, ``cat``, ``pin``, ``unpin``,
``block_put``, ``block_get``, ``add_path``, ``get_to_path``, ``ls``, ``dag_export``) work on
real CIDs instead of ``"bafy" + sha256hex`` cache keys.

Tiers, in order of preference, each probed before it is used:

* ``ipfs_kit``: ipfs_kit_py, imported only now, never downloading binaries or starting daemons;
* ``local``: casengine's LMDB repository under ``$HF_HOME/casengine`` (reads through to Kubo);
* ``kubo``: a Kubo node over its RPC API (``$KUBO_API``) or else its CLI (``$KUBO_CMD``).

A call that fails on one tier (unreachable, timed out, the CID is not there, or the tier's
answer does not match the CID) goes to the next one with a logged warning;
``backend.selection`` says which tiers are in use and why the others were passed over,
``backend.last_call`` which tier answered the last call and which failed first.

Nothing a remote tier says is taken on trust: content is read from its blocks, each re-hashed
(a node's own ``cat`` or ``get`` stream cannot be checked against the CID asked for), a CAR it
exports is checked block by block, and the CID it prints for an ``add`` must be the one
casengine computes for the same content.

Environment (as the seed documents it): ``IPFS_BACKEND`` forces a registered backend
(built in: ``ipfs_kit``, ``hf_cache`` alias ``local``, ``kubo``, ``kubo_rpc``, ``kubo_cli``);
``ENABLE_IPFS_KIT`` (default true), ``IPFS_KIT_DISABLE``, ``ENABLE_HF_CACHE`` (default true),
``KUBO_CMD`` (default ``ipfs``), ``KUBO_API``, ``HF_HOME``, ``IPFS_ROUTER_CACHE`` (default 1:
the selected backend is reused while these variables are unchanged).
"""

from __future__ import annotations

import importlib
import os
from collections import namedtuple
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Optional

from .errors import InvalidOption
from .routing import given

if TYPE_CHECKING:
    from .routing.backends import HuggingFaceCacheBackend, IPFSBackend, IPFSKitBackend

#: The parts the router is built from, by the module that defines each: imported when a name is first
#: asked for (PEP 562) or a call needs it, so ``import casengine.router`` loads no store, importer,
#: exporter or client (start-up time).
_PARTS = {
    **dict.fromkeys(("IPFSBackend", "NodeBackend", "HuggingFaceCacheBackend", "KuboRPCBackend", "KuboCLIBackend",
                     "IPFSKitBackend", "verified_car"), "routing.backends"),
    **dict.fromkeys(("LocalNode", "shared_repo"), "nodes.local"),
    **dict.fromkeys(("FallbackBackend", "Selection", "CallRecord", "PROBE_TIMEOUT", "TIER_ORDER", "kit_tier",
                     "kubo_backend", "local_tier", "select_backend", "truthy"), "routing.fallback"),
}

__all__ = [  # the seed's names and the parts they are built from
    "IPFSBackend", "NodeBackend", "HuggingFaceCacheBackend", "KuboRPCBackend", "KuboCLIBackend", "IPFSKitBackend",
    "LocalNode", "shared_repo", "verified_car", "FallbackBackend", "Selection", "CallRecord", "PROBE_TIMEOUT",
    "TIER_ORDER", "kubo_backend", "select_backend", "truthy", "ProviderInfo", "register_ipfs_backend",
    "set_default_ipfs_backend", "get_backend", "add_bytes", "cat", "pin", "unpin", "block_put", "block_get",
    "add_path", "get_to_path", "ls", "dag_export",
]


def __getattr__(name: str) -> object:
    """A part of the router (:data:`_PARTS`), imported now and kept."""
    where = _PARTS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"casengine.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PARTS))


def _part(name: str):
    """A part by name, from this module's globals once loaded (so a test's monkeypatch of it holds)."""
    return globals()[name] if name in globals() else __getattr__(name)


# -- the seed's module-level API --------------------------------------------------------------------------
ProviderFactory = Callable[[], "IPFSBackend"]
ProviderInfo = namedtuple("ProviderInfo", "name factory")
ProviderInfo.__doc__ = "A backend selectable as ``IPFS_BACKEND=name``: its *factory* makes it."

_PROVIDER_REGISTRY: dict[str, ProviderInfo] = {}
_DEFAULT_BACKEND_OVERRIDE: IPFSBackend | None = None


def register_ipfs_backend(name: str, factory: ProviderFactory) -> None:
    """Make *factory* selectable as ``IPFS_BACKEND=name``."""
    if not name or not name.strip():
        raise ValueError("Backend name must be non-empty")
    _PROVIDER_REGISTRY[name] = ProviderInfo(name, factory)


def _builtin(part: str) -> ProviderFactory:
    """A built-in backend's factory, importing its class only when it is made."""
    def make(*args: object, **kwargs: object) -> IPFSBackend:
        return _part(part)(*args, **kwargs)

    make.__name__ = make.__qualname__ = part
    return make


for _name, _factory in (("ipfs_kit", "IPFSKitBackend"), ("hf_cache", "HuggingFaceCacheBackend"),
                        ("local", "HuggingFaceCacheBackend"), ("kubo", "kubo_backend"),
                        ("kubo_rpc", "KuboRPCBackend"), ("kubo_cli", "KuboCLIBackend")):
    register_ipfs_backend(_name, _builtin(_factory))


def _get_ipfs_kit_backend(deps: object = None) -> IPFSKitBackend | None:
    """The seed's helper, kept for code written against it: the ipfs_kit tier, or None when
    ``IPFS_KIT_DISABLE`` is set, ``ENABLE_IPFS_KIT`` is false, or ipfs_kit_py is unavailable."""
    return _part("kit_tier")({})


def _get_hf_cache_backend() -> HuggingFaceCacheBackend | None:
    """The seed's helper: the local repository, or None when ``ENABLE_HF_CACHE`` is false."""
    return _part("local_tier")({})


def set_default_ipfs_backend(backend: IPFSBackend | None) -> None:
    """Every call without ``backend=`` uses *backend* (None: select again)."""
    global _DEFAULT_BACKEND_OVERRIDE
    _DEFAULT_BACKEND_OVERRIDE = backend


def _cache_enabled() -> bool:
    return os.environ.get("IPFS_ROUTER_CACHE", "1").strip() != "0"


def _backend_cache_key() -> tuple:
    names = ("IPFS_BACKEND", "ENABLE_IPFS_KIT", "IPFS_KIT_DISABLE", "ENABLE_HF_CACHE", "KUBO_CMD", "KUBO_API",
             "HF_HOME", "CASENGINE_REPO")
    return tuple(os.environ.get(n, "").strip() for n in names)


def _select() -> IPFSBackend:
    forced = os.environ.get("IPFS_BACKEND", "").strip()
    if not forced:
        return _part("select_backend")()
    if forced not in _PROVIDER_REGISTRY:
        raise InvalidOption(f"IPFS_BACKEND={forced!r} is not a registered backend; "
                            f"known: {', '.join(sorted(_PROVIDER_REGISTRY))}")
    return _PROVIDER_REGISTRY[forced].factory()


class _ByIdentity:
    """A cache key for any object, hashable or not (the seed's lru key crashed on RouterDeps)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.obj is self.obj


@lru_cache(maxsize=32)
def _cached_selection(cache_key: tuple, deps: _ByIdentity) -> IPFSBackend:
    """*deps* only tells entries apart: callers with their own container get their own backend."""
    return _select()


def _get_default_backend_cached(cache_key: tuple, deps: object = None) -> IPFSBackend:
    """The backend selected for *cache_key* (the environment) and *deps*, selected once."""
    return _cached_selection(cache_key, _ByIdentity(deps))


_get_default_backend_cached.cache_clear = _cached_selection.cache_clear  # type: ignore[attr-defined]
_get_default_backend_cached.cache_info = _cached_selection.cache_info  # type: ignore[attr-defined]


def get_backend(*, deps: object = None, backend: IPFSBackend | None = None) -> IPFSBackend:
    """*backend*, else the process default, else ``deps.ipfs_backend``, else the selected tiers."""
    if backend is not None:
        return backend
    if _DEFAULT_BACKEND_OVERRIDE is not None:
        return _DEFAULT_BACKEND_OVERRIDE
    injected = getattr(deps, "ipfs_backend", None)
    if injected is not None:
        return injected
    if _cache_enabled():
        return _get_default_backend_cached(_backend_cache_key(), deps)
    return _select()


def add_bytes(data: bytes, *, pin: bool = True, profile: Optional[str] = None, backend: IPFSBackend | None = None,
              deps: object = None) -> str:
    """Add *data* as one file; *profile* names CID settings (``unixfs-v1-2025``, ...), default Kubo 0.22's."""
    return get_backend(deps=deps, backend=backend).add_bytes(data, pin=pin, **given(profile=profile))


def cat(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> bytes:
    return get_backend(deps=deps, backend=backend).cat(cid)


def pin(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> None:
    get_backend(deps=deps, backend=backend).pin(cid)


def unpin(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> None:
    get_backend(deps=deps, backend=backend).unpin(cid)


def block_put(data: bytes, *, codec: str = "raw", backend: IPFSBackend | None = None, deps: object = None) -> str:
    return get_backend(deps=deps, backend=backend).block_put(data, codec=codec)


def block_get(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> bytes:
    return get_backend(deps=deps, backend=backend).block_get(cid)


def add_path(path: str, *, recursive: bool = True, pin: bool = True, chunker: Optional[str] = None,
             profile: Optional[str] = None, nocopy: bool = False, backend: IPFSBackend | None = None,
             deps: object = None) -> str:
    """Add a file or directory; *profile* as in :func:`add_bytes`, *chunker* overrides it; with
    *nocopy* the local repository references the files' bytes instead of storing them (a remote
    node stores them: the same CIDs)."""
    return get_backend(deps=deps, backend=backend).add_path(path, recursive=recursive, pin=pin, chunker=chunker,
                                                            **given(profile=profile, nocopy=nocopy or None))


def get_to_path(cid: str, *, output_path: str, backend: IPFSBackend | None = None, deps: object = None) -> None:
    get_backend(deps=deps, backend=backend).get_to_path(cid, output_path=output_path)


def ls(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> list[str]:
    return get_backend(deps=deps, backend=backend).ls(cid)


def dag_export(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> bytes:
    return get_backend(deps=deps, backend=backend).dag_export(cid)
