"""casengine.ipfs_backend_router: the seed's API on real CIDs, tier selection, env vars, caching."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading

import pytest
from ipfs_kit_standin import make_module

from casengine import car
from casengine import ipfs_backend_router as router
from casengine.dag.cid import Cid
from casengine.errors import CorruptBlock, InvalidOption, TierUnavailable
from casengine.ipfs_backend_router import (FallbackBackend, HuggingFaceCacheBackend, IPFSBackend, IPFSKitBackend,
                                           KuboCLIBackend, KuboRPCBackend, LocalNode)
from casengine.nodes.remote import block_cid
from casengine.stores.memory import MemoryStore
from casengine.stores.tiered import TieredStore

ROUTER_ENV = ("IPFS_BACKEND", "ENABLE_IPFS_KIT", "IPFS_KIT_DISABLE", "ENABLE_HF_CACHE", "KUBO_CMD", "KUBO_API",
              "IPFS_ROUTER_CACHE", "CASENGINE_REPO", "ENABLE_IPFS_MODEL_STORAGE", "ENABLE_IPFS_MODEL_CACHE")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean router: HF_HOME in tmp_path, no ipfs_kit_py, no `ipfs` command, nothing cached."""
    for name in ROUTER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("KUBO_CMD", str(tmp_path / "no-such-ipfs"))
    monkeypatch.setitem(sys.modules, "ipfs_kit_py", None)  # import fails as if not installed
    router._get_default_backend_cached.cache_clear()
    router.set_default_ipfs_backend(None)
    yield monkeypatch
    router._get_default_backend_cached.cache_clear()
    router.set_default_ipfs_backend(None)


def test_quick_start_runs_as_written_with_kubo_identical_cids(env, tmp_path, kubo):
    """The seed README's Quick Start with `casengine` in place of `ipfs_accelerate_py`."""
    from casengine import ipfs_backend_router

    data = b"Hello, IPFS!"
    cid = ipfs_backend_router.add_bytes(data, pin=True)
    retrieved = ipfs_backend_router.cat(cid)
    assert retrieved == data
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(700_000))
    cid_file = ipfs_backend_router.add_path(str(model), pin=True)
    ipfs_backend_router.get_to_path(cid_file, output_path=str(tmp_path / "output.bin"))
    assert (tmp_path / "output.bin").read_bytes() == model.read_bytes()

    (tmp_path / "hello").write_bytes(data)
    assert cid == kubo.cid(tmp_path / "hello")  # real Kubo 0.22 (oracle), default options
    assert cid_file == kubo.cid(model)


def test_ls_reads_only_the_directory_not_its_entries(env, tmp_path):
    """The router's ls gives names, so no entry's block is fetched (over a remote tier, each would
    be a round trip): it answers with every entry's block gone."""
    b = HuggingFaceCacheBackend(tmp_path / "cache")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a" * 1000)
    root = Cid.parse(b.add_path(str(tree), pin=False))
    store = b.node.repo.store
    for link in b.node.exporter.node(root).pb.links:
        store.delete(link.cid)
    assert b.ls(str(root)) == ["a.txt", "sub"]


def test_backends_satisfy_the_protocol(env, tmp_path):
    assert isinstance(HuggingFaceCacheBackend(tmp_path / "c"), IPFSBackend)
    assert isinstance(KuboRPCBackend("http://127.0.0.1:9"), IPFSBackend)
    assert isinstance(KuboCLIBackend("ipfs"), IPFSBackend)
    assert isinstance(router.get_backend(), IPFSBackend)


def test_every_call_of_the_local_backend(env, tmp_path, kubo):
    b = HuggingFaceCacheBackend(tmp_path / "cache")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a" * 1000)
    (tree / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    root = b.add_path(str(tree))
    assert root == kubo.cid(tree)
    assert b.ls(root) == ["a.txt", "sub"]
    assert b.ls(f"{root}/sub") == ["b.bin"]
    assert b.cat(f"{root}/a.txt") == b"a" * 1000
    b.get_to_path(root, output_path=str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert b.add_path(str(tree / "sub" / "b.bin"), chunker="size-1024") == kubo.cid(tree / "sub" / "b.bin",
                                                                                   chunker="size-1024")

    raw = b.block_put(b"block bytes")
    assert raw.startswith("bafkrei") and b.block_get(raw) == b"block bytes"
    cbor = b.block_put(b"\xa1aa\x01", codec="dag-cbor")
    assert Cid.parse(cbor).codec_name == "dag-cbor" and b.block_get(cbor) == b"\xa1aa\x01"

    exported = b.dag_export(root)
    repo = b.node.repo
    assert exported == b"".join(car.write([Cid.parse(root)], repo.exporter.walk(Cid.parse(root))))
    b.unpin(root)
    assert repo.pin_type(Cid.parse(root)) is None
    b.pin(root)
    assert repo.pin_type(Cid.parse(root)) == "recursive"


@pytest.mark.parametrize("call", ["cat", "pin", "block_get", "ls", "dag_export", "get_to_path"])
@pytest.mark.parametrize("text", ["not-a-cid", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5p"])
def test_not_found_is_a_runtime_error_saying_cid_not_found(env, tmp_path, call, text):
    kwargs = {"output_path": str(tmp_path / "o")} if call == "get_to_path" else {}
    with pytest.raises(RuntimeError, match="CID not found"):
        getattr(router, call)(text, **kwargs)


def test_selection_records_why_tiers_were_passed_over(env):
    b = router.get_backend()
    assert isinstance(b, FallbackBackend) and b.selection.tiers == ("local",)
    assert "ipfs_kit_py cannot be imported" in b.selection.passed_over["ipfs_kit"]
    assert "command not found" in b.selection.passed_over["kubo"]
    b.add_bytes(b"x")
    assert b.last_call.op == "add_bytes" and b.last_call.answered_by == "local"

    env.setenv("IPFS_KIT_DISABLE", "1")
    assert router.get_backend().selection.passed_over["ipfs_kit"] == "IPFS_KIT_DISABLE is set"
    env.delenv("IPFS_KIT_DISABLE")
    env.setenv("ENABLE_IPFS_KIT", "false")
    assert router.get_backend().selection.passed_over["ipfs_kit"] == "ENABLE_IPFS_KIT is false"
    env.setenv("ENABLE_HF_CACHE", "0")
    with pytest.raises(TierUnavailable, match="ENABLE_HF_CACHE is false"):
        router.get_backend()


def test_ipfs_backend_forces_a_registered_backend(env, tmp_path):
    env.setenv("IPFS_BACKEND", "local")
    assert isinstance(router.get_backend(), HuggingFaceCacheBackend)
    env.setenv("IPFS_BACKEND", "hf_cache")
    assert isinstance(router.get_backend(), HuggingFaceCacheBackend)
    env.setenv("IPFS_BACKEND", "kubo")
    assert isinstance(router.get_backend(), KuboCLIBackend)
    env.setenv("KUBO_API", "http://127.0.0.1:9")
    assert isinstance(router.get_backend(), KuboRPCBackend)
    env.setenv("IPFS_BACKEND", "nope")
    with pytest.raises(InvalidOption, match="known: .*hf_cache.*ipfs_kit.*kubo.*local"):
        router.get_backend()

    class Custom(HuggingFaceCacheBackend):
        pass

    router.register_ipfs_backend("custom", lambda: Custom(tmp_path / "custom"))
    try:
        env.setenv("IPFS_BACKEND", "custom")
        assert isinstance(router.get_backend(), Custom)
    finally:
        del router._PROVIDER_REGISTRY["custom"]
    with pytest.raises(ValueError, match="Backend name must be non-empty"):
        router.register_ipfs_backend(" ", lambda: Custom())


@dataclasses.dataclass
class RouterDeps:
    """Shaped like ipfs_accelerate_py.router_deps.RouterDeps: a mutable, unhashable dataclass."""

    ipfs_backend: object = None
    router_cache: dict = dataclasses.field(default_factory=dict)


def test_cache_follows_the_environment_and_accepts_unhashable_deps(env, tmp_path):
    first = router.get_backend()
    assert router.get_backend() is first
    deps = RouterDeps()
    with pytest.raises(TypeError):
        hash(deps)
    with_deps = router.get_backend(deps=deps)
    assert with_deps is router.get_backend(deps=deps) and with_deps is not first
    assert router._get_default_backend_cached(router._backend_cache_key(), deps) is with_deps
    env.setenv("HF_HOME", str(tmp_path / "other"))
    assert router.get_backend() is not first
    router._get_default_backend_cached.cache_clear()
    env.setenv("IPFS_ROUTER_CACHE", "0")
    assert router.get_backend() is not router.get_backend()

    injected = HuggingFaceCacheBackend(tmp_path / "injected")
    assert router.get_backend(deps=RouterDeps(ipfs_backend=injected)) is injected
    router.set_default_ipfs_backend(injected)
    assert router.get_backend() is injected and router._DEFAULT_BACKEND_OVERRIDE is injected
    explicit = HuggingFaceCacheBackend(tmp_path / "explicit")
    assert router.get_backend(backend=explicit) is explicit
    cid = router.add_bytes(b"to the explicit one", backend=explicit)
    assert router.cat(cid, backend=explicit) == b"to the explicit one"


def test_router_alias_is_the_same_module():
    from casengine import router as alias

    assert alias is router
    assert sys.modules["casengine.router"] is router


def test_importing_the_router_loads_only_its_own_modules(env):
    """Its parts (tiers, stores, importer, exporter, clients) load when a call needs them (start-up)."""
    code = ("import sys; before = set(sys.modules); import casengine.router; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())
    assert {m for m in loaded if m.startswith("casengine")} == {
        "casengine", "casengine.errors", "casengine.routing", "casengine.ipfs_backend_router", "casengine.router"}
    assert router.LocalNode.__module__ == "casengine.nodes.local"  # and each part is still there by name
    assert "select_backend" in dir(router) and router._PROVIDER_REGISTRY["kubo"].factory.__name__ == "kubo_backend"


def test_ipfs_kit_is_imported_lazily_and_only_when_selected(env, tmp_path):
    """ipfs_kit_py is tested through a stand-in (tests/ipfs_kit_standin.py), never installed."""
    env.delitem(sys.modules, "ipfs_kit_py")
    env.setenv("ENABLE_IPFS_KIT", "false")
    router.get_backend().add_bytes(b"x")
    assert "ipfs_kit_py" not in sys.modules


def test_an_ipfs_kit_py_that_fails_to_import_is_passed_over(env, tmp_path):
    """A real broken package on sys.path, failing like PyPI's 0.3.0 (IndentationError)."""
    pkg = tmp_path / "site" / "ipfs_kit_py"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("def ipfs_kit():\nreturn 1\n")
    env.delitem(sys.modules, "ipfs_kit_py")
    env.syspath_prepend(str(tmp_path / "site"))
    b = router.get_backend()
    assert b.selection.tiers == ("local",)
    assert "IndentationError" in b.selection.passed_over["ipfs_kit"]
    with pytest.raises(TierUnavailable, match="IndentationError"):
        IPFSKitBackend()


def test_ipfs_kit_stand_in_is_preferred_and_built_without_downloads_or_daemons(env, tmp_path, kubo):
    """Against a stand-in with ipfs_kit_py's method names (tests/ipfs_kit_standin.py), not the
    real package: its PyPI release does not import, and importing it would install Kubo."""
    kit_repo = LocalNode(router.shared_repo(tmp_path / "kit-repo"))
    module = make_module(lambda: kit_repo)
    env.setitem(sys.modules, "ipfs_kit_py", module)
    b = router.get_backend()
    assert b.selection.tiers == ("ipfs_kit", "local")
    (kit,) = module.created
    assert kit.metadata["auto_download_binaries"] is False and kit.metadata["auto_start_daemons"] is False
    assert kit.auto_start_daemons is False

    (tmp_path / "f").write_bytes(b"kit data\n" * 100)
    cid = b.add_path(str(tmp_path / "f"))
    assert cid == kubo.cid(tmp_path / "f") and b.last_call.answered_by == "ipfs_kit"
    assert b.cat(cid) == b"kit data\n" * 100
    raw = b.block_put(b"kit block")
    assert b.block_get(raw) == b"kit block"
    assert b.ls(cid) == []
    b.get_to_path(cid, output_path=str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"kit data\n" * 100
    assert b.dag_export(cid) == b"".join(car.write([Cid.parse(cid)], kit_repo.exporter.walk(Cid.parse(cid))))
    b.unpin(cid)
    b.pin(cid)

    local_only = b.backend("local").add_bytes(b"only in the local tier")
    assert b.cat(local_only) == b"only in the local tier"
    assert b.last_call.answered_by == "local"
    assert b.last_call.passed_over[0][0] == "ipfs_kit" and "CID not found" in b.last_call.passed_over[0][1]


def test_tiered_store_rehashes_what_the_remote_sends():
    local, remote = MemoryStore(), MemoryStore()
    good = block_cid(b"good", "raw", "sha2-256")
    bad = block_cid(b"expected", "raw", "sha2-256")
    remote.put(good, b"good")
    remote._put_many([(bad.multihash, b"tampered")])
    tiered = TieredStore(local, remote)
    assert tiered.get(good) == b"good" and local.has(good)
    with pytest.raises(CorruptBlock):
        tiered.get(bad)
    assert not local.has(bad)


def test_concurrent_first_use_shares_one_repo(env):
    """LMDB allows one environment per file per process: the router opens each repo once."""
    results, errors = [], []

    def use() -> None:
        try:
            results.append(HuggingFaceCacheBackend().add_bytes(b"same"))
        except Exception as e:  # pragma: no cover - the assertion below reports it
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1


def test_profile_selects_cid_settings_through_the_router(env, tmp_path):
    """IPIP-499 small-file vectors (Kubo test/cli/cid_profiles_test.go): the same bytes under each
    profile; a chunker given next to a profile overrides it."""
    b = HuggingFaceCacheBackend(tmp_path / "cache")
    assert router.add_bytes(b"hello world", backend=b) == "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
    assert router.add_bytes(b"hello world", profile="unixfs-v1-2025", backend=b) == \
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    (tmp_path / "f").write_bytes(b"x" * 3000)
    v1 = router.add_path(str(tmp_path / "f"), profile="unixfs-v1-2025", backend=b)
    small = router.add_path(str(tmp_path / "f"), profile="unixfs-v1-2025", chunker="size-1000", backend=b)
    assert v1.startswith("bafkrei") and small.startswith("bafybei")
    with pytest.raises(InvalidOption):
        router.add_bytes(b"x", profile="unixfs-v9", backend=b)


# -- the seed's private names that code written for it reaches into (issue 17 item 12) ----------------
def test_hf_cache_backend_cache_dir_is_the_seeds(env, tmp_path):
    assert HuggingFaceCacheBackend(str(tmp_path / "given"))._cache_dir == tmp_path / "given"
    assert HuggingFaceCacheBackend()._cache_dir == tmp_path / "hf"  # $HF_HOME, as the seed's default
    assert (tmp_path / "given" / "casengine").is_dir()


def test_kubo_cli_backend_cmd_is_the_command_line(env, tmp_path):
    assert KuboCLIBackend("ipfs --api /ip4/127.0.0.1/tcp/5001")._cmd == "ipfs --api /ip4/127.0.0.1/tcp/5001"
    assert KuboCLIBackend()._cmd == str(tmp_path / "no-such-ipfs")  # $KUBO_CMD


def test_get_ipfs_kit_backend_honours_the_switches(env, tmp_path):
    env.setitem(sys.modules, "ipfs_kit_py", make_module(lambda: LocalNode(router.shared_repo(tmp_path / "kit"))))
    assert isinstance(router._get_ipfs_kit_backend(), IPFSKitBackend)
    env.setenv("ENABLE_IPFS_KIT", "false")
    assert router._get_ipfs_kit_backend() is None
    env.setenv("ENABLE_IPFS_KIT", "true")
    env.setenv("IPFS_KIT_DISABLE", "1")
    assert router._get_ipfs_kit_backend() is None
    env.delenv("IPFS_KIT_DISABLE")
    env.setitem(sys.modules, "ipfs_kit_py", None)  # not installed
    assert router._get_ipfs_kit_backend() is None


def test_get_hf_cache_backend_honours_enable_hf_cache(env, tmp_path):
    backend = router._get_hf_cache_backend()
    assert isinstance(backend, HuggingFaceCacheBackend) and backend.node.repo.path == str(tmp_path / "hf" / "casengine")
    env.setenv("ENABLE_HF_CACHE", "false")
    assert router._get_hf_cache_backend() is None
