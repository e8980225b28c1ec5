"""`casengine push CID --to cluster` against a real two-peer IPFS Cluster 1.1.0 (tests/peers/cluster):
the pin is allocated, replicated and pinned on both peers' Kubo 0.43.1 daemons, as those daemons
themselves say; and the cluster's refusals, a failed peer and a silent API are errors."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import peers
import pytest
from faulty.silent import SilentServer
from peers import cluster as cluster_peer
from peers.kubo43 import installed as kubo43_installed
from peers.kubo43.rpc import KuboError, call

from casengine import car
from casengine.cli import main
from casengine.dag.cid import Cid
from casengine.errors import InvalidOption, RemoteError, RemoteTimeout
from casengine.nodes.cluster import ClusterAPI
from casengine.options import ImportOptions
from casengine.repo import Repo


@pytest.fixture(scope="module")
def cluster() -> Iterator[cluster_peer.Cluster]:
    """Two cluster peers joined only to each other, each with its own offline Kubo 0.43.1."""
    peers.require(needs_x86_64=False, tools=("unshare", "setpriv", "nsenter", "ip", "ss"))
    for ok, what in ((kubo43_installed(), "bash tests/peers/kubo43/setup.sh"),
                     (cluster_peer.installed(), cluster_peer.INSTALL)):
        if not ok:
            pytest.fail(f"a peer is not built: {what}", pytrace=False)
    c = cluster_peer.Cluster()
    c.start()
    yield c
    c.remove()


class Local:
    """A casengine repository, open only while something is added or read (push opens it itself)."""

    def __init__(self, path) -> None:
        self.root = path

    def add(self, source, options: ImportOptions = ImportOptions()) -> Cid:
        with Repo(self.root) as r:
            return r.add(source, options).cid

    def car(self, cid: Cid) -> bytes:
        with Repo(self.root) as r:
            return b"".join(car.write([cid], r.exporter.walk(cid)))


@pytest.fixture
def repo(tmp_path) -> Local:
    return Local(tmp_path / "repo")


def tree(tmp_path, seed: bytes):
    d = tmp_path / "model"
    (d / "shards").mkdir(parents=True)
    (d / "config.json").write_bytes(b'{"seed": "%s"}' % seed.hex().encode())
    (d / "shards" / "w.bin").write_bytes(seed * (900_000 // len(seed)))   # several blocks
    return d


def push(capsys, repo: Local, *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo.root), "push", *args])
    out, err = capsys.readouterr()
    return code, out, err


def kubo_pins(peer: cluster_peer.Peer, cid: Cid) -> str | None:
    """The pin type the peer's own Kubo daemon reports for *cid*, None if it has none."""
    try:
        keys = json.loads(call(peer.kubo.api_socket, "pin/ls", params=[("arg", str(cid))]))["Keys"]
    except KuboError as e:
        assert "is not pinned" in str(e)
        return None
    return keys[str(cid)]["Type"]


def test_push_pins_on_both_peers_with_replication_2(cluster, repo, tmp_path, capsys):
    cid = repo.add(tree(tmp_path, os.urandom(16)))
    code, out, err = push(capsys, repo, str(cid), "--to", "cluster", "--cluster", cluster.peers[0].api,
                          "--replication", "2", "--name", "model-v1", "--json")
    assert code == 0, err
    answer = json.loads(out)
    ids = {p.id for p in cluster.peers}
    assert answer["Hash"] == str(cid) and answer["To"] == "ipfs-cluster" and set(answer["Peers"]) == ids
    # the cluster's own word, asked of the other peer: allocated to both, factor 2, pinned on both
    alloc = cluster.peers[1].rest("GET", f"/allocations/{cid}")
    assert set(alloc["allocations"]) == ids and alloc["name"] == "model-v1"
    assert alloc["replication_factor_min"] == alloc["replication_factor_max"] == 2
    status = cluster.peers[1].rest("GET", f"/pins/{cid}")["peer_map"]
    assert {p: s["status"] for p, s in status.items()} == {p: "pinned" for p in ids}
    # and each Kubo daemon's: pinned recursively, every block there (offline, so its own copy)
    exported = repo.car(cid)
    for peer in cluster.peers:
        assert kubo_pins(peer, cid) == "recursive"
        cat = call(peer.kubo.api_socket, "cat", args=[f"{cid}/shards/w.bin"])
        assert cat == (tmp_path / "model" / "shards" / "w.bin").read_bytes()
        assert call(peer.kubo.api_socket, "dag/export", args=[str(cid)]) == exported


def test_push_with_replication_1_pins_on_one_peer(cluster, repo, tmp_path, capsys):
    cid = repo.add(tree(tmp_path, os.urandom(16)), ImportOptions(cid_version=1))
    code, out, err = push(capsys, repo, str(cid), "--to", "cluster", "--cluster", cluster.peers[1].api,
                          "--replication", "1")
    assert code == 0, err
    assert out.startswith(f"pushed {cid} (") and "pinned on 1 peers" in out
    status = ClusterAPI(cluster.peers[0].api).status(cid)
    assert sorted(s.status for s in status.values()) == ["pinned", "remote"]
    pinned = {s.peer for s in status.values() if s.status == "pinned"}
    assert [kubo_pins(p, cid) for p in cluster.peers] == ["recursive" if p.id in pinned else None
                                                          for p in cluster.peers]


def test_pin_through_the_rest_api_once_the_blocks_are_there(cluster, repo, tmp_path, capsys):
    """POST /pins/{cid}: the blocks put on peer0's Kubo by `push --api`; peer0 alone is asked for."""
    cid = repo.add(tree(tmp_path, os.urandom(16)))
    api = ClusterAPI(cluster.peers[0].api)
    code, out, err = push(capsys, repo, str(cid), "--to", "cluster", "--cluster", api.api,
                          "--api", cluster.peers[0].kubo.api, "--replication", "2")
    # peer1's Kubo has no copy and no way to fetch one (offline): the cluster says so, and so does push
    assert code == 1 and "not pinned on peer1: pin_error" in err, err
    assert kubo_pins(cluster.peers[0], cid) == "recursive"
    assert api.status(cid)[cluster.peers[0].id].status == "pinned"
    api.unpin(cid)
    again = api.pin(cid, replication=-1, name="everywhere")   # every peer: no allocations listed
    assert again.cid == cid and again.replication_min == again.replication_max == -1
    api.unpin(cid)


def test_the_clusters_refusal_is_the_error(cluster, repo, tmp_path, capsys):
    cid = repo.add(tree(tmp_path, os.urandom(16)))
    code, out, err = push(capsys, repo, str(cid), "--to", "cluster", "--cluster", cluster.peers[0].api,
                          "--replication", "3")
    assert code == 1 and out == "" and err.startswith("Error: ") and "not enough peers to allocate" in err, err
    assert [kubo_pins(p, cid) for p in cluster.peers] == [None, None]


def test_what_push_refuses_before_calling(cluster, repo, tmp_path, capsys):
    loose = repo.add(b"not pinned", ImportOptions(pin=False))
    code, _, err = push(capsys, repo, str(loose), "--to", "cluster", "--cluster", cluster.peers[0].api)
    assert code == 1 and "is not pinned here" in err
    pinned = repo.add(b"pinned")
    code, _, err = push(capsys, repo, str(pinned), "--to", "cluster", "--cluster", cluster.peers[0].api,
                        "--replication", "0")
    assert code == 1 and "replication factor 0" in err
    code, _, err = push(capsys, repo, str(pinned), "--to", "kubo", "--replication", "2")
    assert code == 1 and "are for --to cluster" in err
    with pytest.raises(InvalidOption):
        ClusterAPI("ftp://127.0.0.1:9094")


def test_a_missing_or_silent_cluster_is_an_error(repo, tmp_path, capsys):
    pinned = repo.add(b"pinned")
    code, _, err = push(capsys, repo, str(pinned), "--to", "cluster", "--cluster", f"/unix{tmp_path}/none.sock")
    assert code == 1 and err.startswith("Error: ") and "POST /add" in err
    with pytest.raises(RemoteError):
        ClusterAPI(f"/unix{tmp_path}/none.sock").version()
    silent = SilentServer(tmp_path / "silent.sock")
    try:
        api = ClusterAPI(silent.api, timeout=0.3)
        for call_it in (api.version, api.peers, lambda: api.status(pinned), lambda: api.pin(pinned),
                        lambda: api.add_car([b"x"])):
            with pytest.raises(RemoteTimeout):
                call_it()
    finally:
        silent.close()


def test_the_cluster_answers_version_and_peers(cluster):
    api = ClusterAPI(cluster.peers[0].api)
    assert api.version() == cluster_peer.VERSION
    seen = api.peers()
    assert {p["id"] for p in seen} == {p.id for p in cluster.peers} and not any(p["error"] for p in seen)
    # the same cluster as ipfs-cluster-ctl sees it from the host namespace, over the unix socket
    assert {p["id"] for p in cluster.peers[1].ctl("peers", "ls")} == {p.id for p in cluster.peers}


def test_the_cluster_is_loopback_only(cluster):
    """Its namespace has a loopback and nothing else; the peers listen on 127.0.0.1 (and unix sockets)
    only and know no address but each other's."""
    netns = f"--net=/proc/{cluster.netns.pid}/ns/net"
    links = subprocess.run(["nsenter", netns, "ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
    assert os.stat(f"/proc/{cluster.netns.pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    listening = subprocess.run(["nsenter", netns, "ss", "-Hltun"], capture_output=True, text=True, check=True)
    local = {line.split()[4] for line in listening.stdout.splitlines()}
    assert local == {f"127.0.0.1:{p.port}" for p in cluster.peers}
    for peer in ClusterAPI(cluster.peers[0].api).peers():
        assert all(a.startswith("/ip4/127.0.0.1/") for a in peer["addresses"] + peer["cluster_peers_addresses"])
        assert peer["ipfs"]["addresses"] == []   # the Kubo daemons have no swarm addresses
