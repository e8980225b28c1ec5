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

import io
import logging
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, runtime_checkable

from . import car
from .dag.cid import Cid
from .dag.links import links
from .errors import (CasError, CidNotFound, CorruptBlock, DecodeError, InvalidOption, RemoteError, StoreError,
                     TierUnavailable)
from .exporter import Entry, Exporter
from .importer import Importer
from .options import DEFAULT_PROFILE, ImportOptions
from .repo import Repo, default_path
from .stores.ipfs_kit import IPFSKitStore
from .stores.kubo_cli import KuboCLIStore
from .stores.kubo_rpc import KuboRPCStore, root_cid
from .stores.tiered import RemoteTier, Source, TieredStore, block_cid

logger = logging.getLogger("casengine.router")

#: Seconds a Kubo RPC endpoint gets to answer the selection probe.
PROBE_TIMEOUT = 3.0
TIER_ORDER = ("ipfs_kit", "local", "kubo")


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


# -- the local repository as a node ----------------------------------------------------------------
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


# -- backends ----------------------------------------------------------------------------------------
def _options(profile: Optional[str], **overrides: Any) -> ImportOptions:
    """Import options from a profile (default: Kubo 0.22's) with the call's own values on top."""
    return ImportOptions.from_profile(profile or DEFAULT_PROFILE, **overrides)


def _given(**kwargs: Any) -> dict[str, Any]:
    """Only the keyword arguments that were given: a registered seed-style backend may not know them."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _text(cid: Cid | str) -> str:
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
    """The router's API over one node (the local repository or a remote tier)."""

    backend_name = "node"

    def __init__(self, node: Any):
        self.node = node
        # file content comes from the node's blocks, each re-hashed (a remote's cat cannot be checked)
        self.exporter: Exporter = Exporter(node) if isinstance(node, RemoteTier) else node.exporter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.node!r})"

    def _add(self, source: Source, options: ImportOptions, recursive: bool = True) -> str:
        cid = self.node.add(source, options, recursive=recursive)
        if isinstance(self.node, RemoteTier):
            importer = Importer(None, options)  # hashes only: the CID Kubo gives this content
            bare = isinstance(source, (bytes, bytearray, memoryview))
            expected = importer.add_bytes(source).cid if bare else importer.add_path(source, recursive=recursive).cid
            if cid != expected:
                raise RemoteError(f"{self.node.name} add printed {cid}, but the content's CID is {expected}")
        return _text(cid)

    def add_bytes(self, data: bytes, *, pin: bool = True, profile: Optional[str] = None) -> str:
        return self._add(bytes(data), _options(profile, pin=pin))

    def cat(self, cid: str) -> bytes:
        root_cid(cid)
        return self.exporter.read(cid)

    def pin(self, cid: str) -> None:
        self.node.pin_add(_cid(cid))

    def unpin(self, cid: str) -> None:
        self.node.pin_rm(_cid(cid))

    def block_put(self, data: bytes, *, codec: str = "raw") -> str:
        return _text(self.node.block_put(bytes(data), codec))

    def block_get(self, cid: str) -> bytes:
        return self.node.get(_cid(cid))

    def add_path(self, path: str, *, recursive: bool = True, pin: bool = True, chunker: Optional[str] = None,
                 profile: Optional[str] = None) -> str:
        return self._add(path, _options(profile, pin=pin, chunker=chunker), recursive)

    def get_to_path(self, cid: str, *, output_path: str) -> None:
        root_cid(cid)
        self.exporter.get(cid, output_path)

    def ls(self, cid: str) -> list[str]:
        root_cid(cid)
        return [name for name, _ in self.exporter.named_links(cid)]  # names only: no child is read

    def dag_export(self, cid: str) -> bytes:
        root = _cid(cid)
        return verified_car(self.node.dag_export(root), root)


def _cid(text: str | Cid) -> Cid:
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

    def __init__(self, cache_dir: str | os.PathLike | None = None, *, remote: RemoteTier | None = None):
        path = os.path.join(os.fspath(cache_dir), "casengine") if cache_dir is not None else None
        super().__init__(LocalNode(shared_repo(path), remote))


class KuboRPCBackend(NodeBackend):
    """A Kubo node over its HTTP RPC API at *api* (default ``$KUBO_API``, else 127.0.0.1:5001)."""

    backend_name = "kubo_rpc"

    def __init__(self, api: str | None = None, **kwargs: Any):
        super().__init__(KuboRPCStore(api, **kwargs))


class KuboCLIBackend(NodeBackend):
    """A Kubo node through its command line *cmd* (default ``$KUBO_CMD``, else ``ipfs``)."""

    backend_name = "kubo"

    def __init__(self, cmd: str | list[str] | None = None, **kwargs: Any):
        super().__init__(KuboCLIStore(cmd, **kwargs))


class IPFSKitBackend(NodeBackend):
    """ipfs_kit_py (imported here, not before), or the given *kit* instance."""

    backend_name = "ipfs_kit"

    def __init__(self, kit: Any = None, *, metadata: dict | None = None):
        super().__init__(IPFSKitStore(kit, metadata=metadata))


# -- selection and fallback ----------------------------------------------------------------------------
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
        for name, backend in self.tiers:
            try:
                result = getattr(backend, op)(*args, **kwargs)
            except (RemoteError, CidNotFound, CorruptBlock) as e:
                logger.warning("%s on tier %s failed (%s); trying the next tier", op, name, e)
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
        return self._call("add_bytes", "data", data, pin=pin, **_given(profile=profile))

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
                 profile: Optional[str] = None) -> str:
        return self._call("add_path", path, path, recursive=recursive, pin=pin, chunker=chunker,
                          **_given(profile=profile))

    def get_to_path(self, cid: str, *, output_path: str) -> None:
        self._call("get_to_path", cid, cid, output_path=output_path)

    def ls(self, cid: str) -> list[str]:
        return self._call("ls", cid, cid)

    def dag_export(self, cid: str) -> bytes:
        return self._call("dag_export", cid, cid)


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def kubo_backend() -> NodeBackend:
    """The Kubo tier: its RPC API when ``$KUBO_API`` is set, else its CLI (``$KUBO_CMD``)."""
    api = os.environ.get("KUBO_API", "").strip()
    return KuboRPCBackend(api) if api else KuboCLIBackend()


def _probe_kubo() -> NodeBackend:
    api = os.environ.get("KUBO_API", "").strip()
    probe = KuboRPCStore(api, timeout=PROBE_TIMEOUT) if api else KuboCLIStore(timeout=PROBE_TIMEOUT * 5)
    probe.version()
    return kubo_backend()


def select_backend() -> FallbackBackend:
    """Probe every tier (ipfs_kit -> local -> kubo) and chain those that answer."""
    passed: dict[str, str] = {}
    kit = None
    if _truthy(os.environ.get("IPFS_KIT_DISABLE")):
        passed["ipfs_kit"] = "IPFS_KIT_DISABLE is set"
    elif not _truthy(os.environ.get("ENABLE_IPFS_KIT", "true")):
        passed["ipfs_kit"] = "ENABLE_IPFS_KIT is false"
    else:
        try:
            kit = IPFSKitBackend()
        except TierUnavailable as e:
            passed["ipfs_kit"] = str(e)
    kubo = None
    try:
        kubo = _probe_kubo()
    except RemoteError as e:
        passed["kubo"] = str(e)
    local = None
    if not _truthy(os.environ.get("ENABLE_HF_CACHE", "true")):
        passed["local"] = "ENABLE_HF_CACHE is false"
    else:
        try:
            local = HuggingFaceCacheBackend(remote=kubo.node if kubo is not None else None)
        except StoreError as e:
            passed["local"] = str(e)
    tiers = [(name, b) for name, b in (("ipfs_kit", kit), ("local", local), ("kubo", kubo)) if b is not None]
    if not tiers:
        raise TierUnavailable("no IPFS backend is available: "
                              + "; ".join(f"{name}: {why}" for name, why in passed.items()))
    selection = Selection(tuple(name for name, _ in tiers), passed)
    logger.info("IPFS tiers in use: %s; passed over: %s", ", ".join(selection.tiers), passed or "none")
    return FallbackBackend(tiers, selection)


# -- the seed's module-level API --------------------------------------------------------------------------
ProviderFactory = Callable[[], IPFSBackend]


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    factory: ProviderFactory


_PROVIDER_REGISTRY: dict[str, ProviderInfo] = {}
_DEFAULT_BACKEND_OVERRIDE: IPFSBackend | None = None


def register_ipfs_backend(name: str, factory: ProviderFactory) -> None:
    """Make *factory* selectable as ``IPFS_BACKEND=name``."""
    if not name or not name.strip():
        raise ValueError("Backend name must be non-empty")
    _PROVIDER_REGISTRY[name] = ProviderInfo(name, factory)


for _name, _factory in (("ipfs_kit", IPFSKitBackend), ("hf_cache", HuggingFaceCacheBackend),
                        ("local", HuggingFaceCacheBackend), ("kubo", kubo_backend),
                        ("kubo_rpc", KuboRPCBackend), ("kubo_cli", KuboCLIBackend)):
    register_ipfs_backend(_name, _factory)


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
        return select_backend()
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
    return get_backend(deps=deps, backend=backend).add_bytes(data, pin=pin, **_given(profile=profile))


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
             profile: Optional[str] = None, backend: IPFSBackend | None = None, deps: object = None) -> str:
    """Add a file or directory; *profile* as in :func:`add_bytes`, *chunker* overrides it."""
    return get_backend(deps=deps, backend=backend).add_path(path, recursive=recursive, pin=pin, chunker=chunker,
                                                            **_given(profile=profile))


def get_to_path(cid: str, *, output_path: str, backend: IPFSBackend | None = None, deps: object = None) -> None:
    get_backend(deps=deps, backend=backend).get_to_path(cid, output_path=output_path)


def ls(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> list[str]:
    return get_backend(deps=deps, backend=backend).ls(cid)


def dag_export(cid: str, *, backend: IPFSBackend | None = None, deps: object = None) -> bytes:
    return get_backend(deps=deps, backend=backend).dag_export(cid)
