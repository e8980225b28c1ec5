"""The nodes of the conformance suite (tests/node_tests.py), each against its real peer.

Peers: casengine's repository (the local node); Kubo 0.43.1's daemon over its unix-socket RPC
API and through its CLI (fixture ``kubo43``); js-ipfs 0.66.1's Kubo-RPC server, kept for the
dialect of its answers (base58btc CIDv1, string sizes, the legacy ``format`` of block put);
the ipfs_kit_py stand-in over Kubo 0.43.1's RPC (a kit with no ls, get, dag export or import:
those verbs are served from its blocks). The gateway tier: tests/test_nodes_gateway.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ipfs_kit_standin import make_module
from node_tests import KUBO_OPTIONS, TIMEOUT, NodeTests

from casengine.nodes.ipfs_kit import IPFSKitStore
from casengine.nodes.kubo_cli import KuboCLIStore
from casengine.nodes.kubo_rpc import KuboRPCStore
from casengine.nodes.local import LocalNode
from casengine.repo import Repo

FAULTY_CMD = Path(__file__).resolve().parent / "faulty" / "kubo_cmd.py"


def kit_over(rpc: KuboRPCStore) -> IPFSKitStore:
    """The ipfs_kit node, its kit the stand-in over a Kubo RPC node."""
    return IPFSKitStore(make_module(lambda: rpc).ipfs_kit())


class TestLocalNode(NodeTests):
    """casengine's repository; its peer for read-through (silent or lying) is a Kubo RPC server."""

    options = KUBO_OPTIONS
    reaches_peer_for = ("cat", "ls", "get_to_path", "pin_add", "block_get", "block_stat", "dag_export")

    @pytest.fixture
    def node(self, tmp_path_factory):
        with Repo(tmp_path_factory.mktemp("repo")) as repo:
            yield LocalNode(repo)

    def silent_node(self, silent, tmp_path):
        return LocalNode(Repo(tmp_path / "silent-repo"), KuboRPCStore(silent.api, timeout=TIMEOUT))

    def lying_node(self, faulty, tmp_path):
        return LocalNode(Repo(tmp_path / "lied-to-repo"), KuboRPCStore(faulty.url, timeout=5))

    def check_kept(self, node):
        assert list(node.repo.store.corrupt()) == []  # only verified blocks were kept


class TestKuboRPCNodeOnKubo43(NodeTests):
    """Kubo 0.43.1's daemon, its RPC API on a unix socket (``/unix/...``, as Kubo's --api spells it)."""

    options = KUBO_OPTIONS

    @pytest.fixture
    def node(self, kubo43):
        return KuboRPCStore(kubo43.api)

    def silent_node(self, silent, tmp_path):
        return KuboRPCStore(silent.api, timeout=TIMEOUT)

    def lying_node(self, faulty, tmp_path):
        return KuboRPCStore(faulty.url, timeout=5)


class TestKuboCLINodeOnKubo43(NodeTests):
    """Kubo 0.43.1's ``ipfs`` command (the KUBO_CMD tier) against its daemon."""

    options = KUBO_OPTIONS
    #: the faulty command's nearest fault to flipped bytes is bytes that are not the block
    CMD_MODES = {"wrong": "wrong", "corrupt": "garbage"}

    @pytest.fixture
    def node(self, kubo43):
        return KuboCLIStore([str(kubo43.ipfs), "--api", kubo43.api])

    def silent_node(self, silent, tmp_path):
        return KuboCLIStore([sys.executable, "-c", "import time; time.sleep(600)"], timeout=TIMEOUT)

    def lying_node(self, faulty, tmp_path):
        mode = self.CMD_MODES[faulty.mode_for("cat")]
        return KuboCLIStore([sys.executable, str(FAULTY_CMD), "--mode", mode], timeout=30)


class TestKuboRPCNodeOnJsIpfs(NodeTests):
    """js-ipfs 0.66.1's Kubo-RPC server on 127.0.0.1: the other dialect of the same API."""

    silent_on_unix = False
    symlinks = False

    @pytest.fixture
    def node(self, kubo_rpc):
        return KuboRPCStore(kubo_rpc.url)

    def silent_node(self, silent, tmp_path):
        return KuboRPCStore(f"http://127.0.0.1:{silent.port}", timeout=TIMEOUT)

    def lying_node(self, faulty, tmp_path):
        return KuboRPCStore(faulty.url, timeout=5)


class TestIPFSKitNode(NodeTests):
    """The ipfs_kit_py stand-in's kit over Kubo 0.43.1's RPC: it has no ls, get, block stat, dag
    export or import of its own, so those verbs are served from its blocks."""

    options = [o for o in KUBO_OPTIONS if "inline" not in o]  # the kit's add takes no inline
    reaches_peer_for = tuple(v for v in NodeTests.reaches_peer_for if v != "version")  # the module's

    @pytest.fixture
    def node(self, kubo43):
        return kit_over(KuboRPCStore(kubo43.api))

    def silent_node(self, silent, tmp_path):
        return kit_over(KuboRPCStore(silent.api, timeout=TIMEOUT))

    def lying_node(self, faulty, tmp_path):
        return kit_over(KuboRPCStore(faulty.url, timeout=5))
