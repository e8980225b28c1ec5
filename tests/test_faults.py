"""Faults from remote tiers, with real sockets and real processes (tests/faulty):

* a Kubo RPC server on 127.0.0.1 that serves real blocks and corrupts them, truncates or cuts
  its bodies, trickles a byte per second, fails with Kubo's error envelope, hangs up, or never
  answers (tests/faulty/rpc.py);
* a KUBO_CMD that hangs, trickles, prints garbage, prints a wrong CID, or exits 1
  (tests/faulty/kubo_cmd.py).

For every fault: the tier raises a typed error (a CasError) within its timeout, the router
falls back to the next tier and records why, and nothing unverified (nor anything that is not
the content asked for) enters the local LMDB store, as ``casengine repo verify`` confirms.
How long each failure takes to surface is measured by bench/faults.py, not asserted here.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from faulty.kubo_cmd import MODES
from faulty.rpc import FAULTS, FaultyKubo
from faulty.scenario import Content, check_store, hold, make_content, router_ops

from casengine import ipfs_backend_router as router
from casengine.dag.cid import Cid
from casengine.errors import CasError, RemoteTimeout
from casengine.ipfs_backend_router import (FallbackBackend, HuggingFaceCacheBackend, KuboCLIBackend, KuboRPCBackend,
                                           Selection)
from casengine.nodes.kubo_cli import KuboCLIStore
from casengine.nodes.kubo_rpc import KuboRPCStore
from casengine.stores.memory import MemoryStore

TIMEOUT = 0.5  # seconds each remote call is given when the fault is a slow one
SLACK = 10.0   # a never-answering peer fails a call within TIMEOUT per tier tried + SLACK
SLOW = {"trickle", "trickle-body", "silent", "hang"}
FAULTY_CMD = Path(__file__).resolve().parent / "faulty" / "kubo_cmd.py"
ENV = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
READS = ("cat", "cat path", "block_get", "ls", "get_to_path", "dag_export", "pin")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = MemoryStore()
    content = make_content(store, tmp_path_factory.mktemp("content"))
    with FaultyKubo(store) as server:
        yield server, content


@pytest.fixture
def server(served) -> FaultyKubo:
    server, _ = served
    yield server
    server.fault("ok")


@pytest.fixture
def content(served) -> Content:
    return served[1]


def timeout_for(mode: str) -> float:
    """Short for the faults that are slow; generous for the others, so they fail by what they
    answer and not by a timeout on a busy machine."""
    return TIMEOUT if mode in SLOW else 60.0


def faulty_cmd(mode: str, *extra: str) -> str:
    return shlex.join([sys.executable, str(FAULTY_CMD), "--mode", mode, *extra])


def local_with(path: Path, content: Content, source: MemoryStore, remote=None) -> HuggingFaceCacheBackend:
    """A local tier holding (and pinning) the content, its blocks copied from the server's store."""
    backend = HuggingFaceCacheBackend(path, remote=remote)
    hold(backend.node.repo, content, source)
    return backend


def repo_path(backend: HuggingFaceCacheBackend) -> Path:
    return Path(backend.node.repo.path)


def assert_repo_verify(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "casengine", "--repo", str(path), "repo", "verify"], env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "all blocks validated" in done.stdout, done.stdout + done.stderr


# -- the RPC tier itself ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_every_rpc_call_fails_typed_or_answers_right(server, content, mode, tmp_path):
    """All the tier's calls at once against each fault: a CasError or a right answer, never
    another exception, and a verified read never returns other bytes."""
    rpc = KuboRPCStore(server.url, timeout=timeout_for(mode))
    server.fault(mode)
    calls = {
        "version": rpc.version,
        "get": lambda: rpc.get(content.block),
        "get unverified": lambda: rpc.get(content.block, verified=False),
        "has": lambda: rpc.has(content.block),
        "block_stat": lambda: rpc.block_stat(content.block),
        "block_put": lambda: rpc.block_put(b"put by the test"),
        "delete": lambda: rpc.delete(Cid.parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")),
        "cat": lambda: b"".join(rpc.cat(content.file)),
        "cat range": lambda: b"".join(rpc.cat(content.file, 1000, 5000)),
        "ls": lambda: rpc.ls(content.tree),
        "add": lambda: rpc.add(b"added by the test"),
        "pin_add": lambda: rpc.pin_add(content.file),
        "pin_ls": lambda: list(rpc.pin_ls()),
        "multihashes": lambda: list(rpc.multihashes()),
        "size": rpc.size,
        "dag_export": lambda: b"".join(rpc.dag_export(content.file)),
        "dag_import": lambda: rpc.dag_import([content.car]),
    }

    def outcome(call):
        try:
            return call()
        except CasError as e:
            return e
        except Exception as e:  # the bug this test looks for
            return ("untyped", e)

    with ThreadPoolExecutor(len(calls)) as pool:
        results = dict(zip(calls, pool.map(outcome, calls.values())))
    untyped = {name: repr(r[1]) for name, r in results.items() if isinstance(r, tuple)}
    assert untyped == {}
    failed = {name: r for name, r in results.items() if isinstance(r, CasError)}
    if mode == "ok":
        assert failed == {}
    elif mode in ("corrupt", "wrong", "garbage"):  # a whole answer, but not the right one
        assert "get" in failed
    else:  # nothing whole arrives: no call may pass a part of an answer for the whole
        assert set(failed) == set(calls) - {"version"}
    if mode in SLOW:
        assert all(isinstance(r, RemoteTimeout) for r in failed.values())


# -- the router: a faulty tier first, then the local one ---------------------------------------------------
@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_router_falls_back_from_a_faulty_rpc_tier(server, content, mode, tmp_path):
    local = local_with(tmp_path / "hf", content, server.store)
    backend = FallbackBackend([("kubo", KuboRPCBackend(server.url, timeout=timeout_for(mode))), ("local", local)],
                              Selection(("kubo", "local")))
    server.fault(mode)
    ops, fresh = router_ops(content, tmp_path)
    for name, call, right in ops:
        result = call(backend)
        assert right(result), (mode, name)
        record = backend.last_call
        if mode == "ok":
            assert record.answered_by == "kubo", (name, record)
        else:
            assert record.answered_by == "local", (mode, name, record)
            (tier, why), = record.passed_over
            assert tier == "kubo" and why, (mode, name, record)
    check_store(repo_path(local), content.multihashes | fresh)
    assert_repo_verify(repo_path(local))


# -- the router: only the faulty server has the content ------------------------------------------------------
def tiers_over(remote_tier, remote_backend, hf: Path) -> FallbackBackend:
    """The tiers select_backend() builds for a Kubo node: local (reading through to it), then it."""
    return FallbackBackend([("local", HuggingFaceCacheBackend(hf, remote=remote_tier)), ("kubo", remote_backend)],
                           Selection(("local", "kubo")))


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_nothing_unverified_enters_the_store_reading_through_a_faulty_rpc_tier(server, content, mode, tmp_path):
    t = timeout_for(mode)
    backend = tiers_over(KuboRPCStore(server.url, timeout=t), KuboRPCBackend(server.url, timeout=t), tmp_path / "hf")
    server.fault(mode)
    ops, _ = router_ops(content, tmp_path)
    for name, call, right in ops:
        if name not in READS:
            continue
        if mode == "ok":
            assert right(call(backend)), name
            assert backend.last_call.answered_by == "local"
            continue
        with pytest.raises(CasError):
            call(backend)
        record = backend.last_call
        assert record.answered_by is None and [t for t, _ in record.passed_over] == ["local", "kubo"], record
        assert all(why for _, why in record.passed_over), record
    stored = check_store(tmp_path / "hf" / "casengine", content.multihashes)
    assert (stored == len(content.multihashes)) == (mode == "ok")
    assert_repo_verify(tmp_path / "hf" / "casengine")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("get-", ".get-"))] or mode == "ok"


# -- the CLI tier ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", sorted(MODES))
def test_router_falls_back_from_a_faulty_kubo_cmd(served, mode, tmp_path):
    source, content = served
    local = local_with(tmp_path / "hf", content, source.store)
    backend = FallbackBackend([("kubo", KuboCLIBackend(faulty_cmd(mode), timeout=timeout_for(mode))), ("local", local)],
                              Selection(("kubo", "local")))
    ops, fresh = router_ops(content, tmp_path)
    for name, call, right in ops:
        assert right(call(backend)), (mode, name)
        record = backend.last_call
        assert record.answered_by == "local", (mode, name, record)
        (tier, why), = record.passed_over
        assert tier == "kubo" and why, (mode, name, record)
    check_store(repo_path(local), content.multihashes | fresh)
    assert_repo_verify(repo_path(local))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_nothing_unverified_enters_the_store_reading_through_a_faulty_kubo_cmd(content, mode, tmp_path):
    cmd, t = faulty_cmd(mode), timeout_for(mode)
    backend = tiers_over(KuboCLIStore(cmd, timeout=t), KuboCLIBackend(cmd, timeout=t), tmp_path / "hf")
    ops, _ = router_ops(content, tmp_path)
    for name, call, _ in ops:
        if name in READS:
            with pytest.raises(CasError):
                call(backend)
            record = backend.last_call
            assert record.answered_by is None and [t for t, _ in record.passed_over] == ["local", "kubo"], record
    assert check_store(tmp_path / "hf" / "casengine", content.multihashes) == 0
    assert_repo_verify(tmp_path / "hf" / "casengine")


# -- never answering: the one bound in time -------------------------------------------------------------------------
def test_a_peer_that_never_answers_fails_each_call_within_the_timeout(server, content, tmp_path):
    """Behaviour, not speed: a call on a silent server or a hung command ends within the timeout
    of each tier it tries (two here) plus generous slack."""
    server.fault("silent")
    rpc = tiers_over(KuboRPCStore(server.url, timeout=TIMEOUT), KuboRPCBackend(server.url, timeout=TIMEOUT),
                     tmp_path / "rpc")
    cmd = faulty_cmd("hang")
    cli = tiers_over(KuboCLIStore(cmd, timeout=TIMEOUT), KuboCLIBackend(cmd, timeout=TIMEOUT), tmp_path / "cli")
    ops, _ = router_ops(content, tmp_path)
    for backend in (rpc, cli):
        for name, call, _ in ops:
            if name in READS:
                start = time.monotonic()
                with pytest.raises(CasError):
                    call(backend)
                assert time.monotonic() - start < 2 * TIMEOUT + SLACK, name


def test_a_trickling_version_probe_does_not_hold_up_selection(server, tmp_path, monkeypatch):
    """A server that answers `version` a byte per second is passed over, not waited for."""
    for name in ("IPFS_BACKEND", "ENABLE_HF_CACHE", "KUBO_CMD", "IPFS_KIT_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENABLE_IPFS_KIT", "false")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("KUBO_API", server.url)
    server.fault("trickle", "version")
    selection = router.select_backend().selection
    assert selection.tiers == ("local",)
    assert "slower than" in selection.passed_over["kubo"]


def test_a_timeout_ends_the_commands_whole_process_group(tmp_path):
    """KUBO_CMD may be a wrapper whose children would outlive it: the timeout kills them all."""
    pids = tmp_path / "pids"
    cli = KuboCLIStore(faulty_cmd("hang", "--pids", str(pids)), timeout=TIMEOUT)
    with pytest.raises(RemoteTimeout):
        cli.get(Cid.parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"))
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + SLACK
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid} outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"
