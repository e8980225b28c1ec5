"""The gateway tier (casengine/nodes/gateway.py) in the node conformance suite (tests/node_tests.py),
reading from ``casengine serve`` and from Kubo 0.43.1's gateway on its unix socket.

A gateway is read-only: content goes in through its peer (the served repository as a local
node, the Kubo daemon over its RPC API), reads go through the tier, and every write verb of the
tier is refused with RemoteError, leaving the peer as it was. Its silent peer never answers; its
lying peer (tests/faulty/gateway.py) relays the real gateway's answers with a byte flipped, or
its answers for other content.
"""
from __future__ import annotations

import http.client
import os

import pytest
from faulty.gateway import FaultyGateway
from gateway_server import Served, UnixHTTP
from node_tests import KUBO_OPTIONS, TIMEOUT, WRITES, NodeTests

from casengine.errors import CorruptBlock
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.nodes.gateway import GatewayTier
from casengine.nodes.kubo_rpc import KuboRPCStore
from casengine.nodes.local import LocalNode
from casengine.repo import Repo
from casengine.stores.memory import MemoryStore


class GatewayNodeTests(NodeTests):
    """The shared cases for a gateway tier on one gateway; subclasses give ``node``, ``writer``,
    ``faulty`` (a FaultyGateway in front of the real one) and the silent gateway's URL."""

    read_only = True
    options = KUBO_OPTIONS  # what the writer (casengine's repository, Kubo's RPC) adds as Kubo does
    reaches_peer_for = tuple(v for v in NodeTests.reaches_peer_for if v not in WRITES + ("pin_ls",))

    @staticmethod
    def tier(url: str, timeout: float = 30):
        tier = GatewayTier([url], timeout=timeout)
        yield tier
        tier.close()

    def silent_url(self, silent) -> str:
        raise NotImplementedError

    def silent_node(self, silent, tmp_path):
        return GatewayTier([self.silent_url(silent)], timeout=TIMEOUT)

    def lying_node(self, faulty, tmp_path):
        return GatewayTier([faulty.url], timeout=5)

    def test_lists_no_pins(self, node, writer):
        """pin ls, which a gateway cannot answer: nothing is pinned on it (its peer's pins are the peer's)."""
        cid = writer.add(b"pinned on the peer, not on the gateway\n")
        assert cid in dict(writer.pin_ls("recursive"))
        assert list(node.pin_ls()) == [] and list(node.pin_ls("recursive")) == []

    @pytest.mark.parametrize("mode", ["wrong", "corrupt"])
    def test_a_lying_gateways_car_is_refused(self, node, faulty, mode):
        """A whole DAG comes as one CAR (get and pin add with --gateway): a CAR for other content or
        with a flipped byte is refused (as are the blocks then asked one by one), what is kept is
        blocks of the DAG only, each intact; the next gateway's CAR then brings the DAG whole."""
        data = os.urandom(600_000)
        cid = Importer(faulty.store).add_bytes(data).cid
        dag = {c.multihash for c, _ in Exporter(faulty.store).walk(cid)}
        faulty.fault(mode)
        store = MemoryStore()
        with pytest.raises(CorruptBlock):
            GatewayTier([faulty.url], timeout=5).fetch_dag(cid, store)
        assert set(store.multihashes()) < dag and list(store.corrupt()) == []
        faulty.requests.clear()
        tier = GatewayTier([faulty.url, *node.urls], timeout=5)
        tier.fetch_dag(cid, store)
        assert set(store.multihashes()) == dag and Exporter(store).read(cid) == data
        assert [url for url, _ in tier.failures] == [faulty.url], tier.failures
        assert all("format=car" in path for path in faulty.requests), faulty.requests  # only its CAR was asked


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A repository (its local node, the writer) and ``casengine serve`` on it."""
    path = tmp_path_factory.mktemp("served") / "repo"
    with Repo(path) as repo:
        server = Served(path)
        yield LocalNode(repo), server
        server.stop()


class TestGatewayTierOnCasengineServe(GatewayNodeTests):
    """``casengine serve`` on 127.0.0.1, its repository written by this process as a local node."""

    silent_on_unix = False

    @pytest.fixture
    def node(self, served):
        yield from self.tier(served[1].url)

    @pytest.fixture
    def writer(self, served):
        return served[0]

    @pytest.fixture
    def faulty(self, served):
        server = served[1]
        with FaultyGateway(lambda: http.client.HTTPConnection(server.host, server.port, timeout=60),
                           served[0].blocks) as gateway:
            yield gateway

    def silent_url(self, silent):
        return f"http://127.0.0.1:{silent.port}"


class TestGatewayTierOnKubo43(GatewayNodeTests):
    """Kubo 0.43.1's gateway on its unix socket, its daemon written over the RPC API."""

    @pytest.fixture
    def node(self, kubo43):
        yield from self.tier(f"unix://{kubo43.gateway_socket}")

    @pytest.fixture
    def writer(self, kubo43):
        return KuboRPCStore(kubo43.api)

    @pytest.fixture
    def faulty(self, kubo43, writer):
        with FaultyGateway(lambda: UnixHTTP(kubo43.gateway_socket), writer.blocks) as gateway:
            yield gateway

    def silent_url(self, silent):
        return f"unix://{silent.sock.getsockname()}"
