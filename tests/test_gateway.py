"""`casengine serve` against Kubo 0.43.1's own gateway, on the same content (imported into Kubo as
a CAR casengine exported): for drawn paths, formats and CAR parameters, the same status codes,
byte-identical raw and CAR bodies, the same file bytes and Content-Type, and the same headers
(Etag, X-Ipfs-Roots, Content-Disposition, Cache-Control, Content-Range, Location). The truth is
Kubo's answer, fetched in the same test from the `kubo43` daemon's gateway socket.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import dag_cbor
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from multiformats import CID

from casengine import car
from casengine.dag.cid import DAG_CBOR, Cid, CidBuilder
from casengine.dag.multihash import get as hash_named
from casengine.options import ImportOptions
from casengine.repo import Repo
from gateway_server import Served, UnixHTTP, fetch

COMPARED = ("etag", "x-ipfs-roots", "content-disposition", "cache-control", "content-range", "location",
            "content-type", "accept-ranges")


def make_tree(root: Path, seed: int = 15) -> None:
    rnd = random.Random(seed)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "site").mkdir()
    (root / "hamt").mkdir()
    (root / "big.bin").write_bytes(rnd.randbytes(3_000_000))
    (root / "hello.txt").write_bytes(b"hello world\n")
    (root / "copy.txt").write_bytes(b"hello world\n")
    (root / "empty").write_bytes(b"")
    (root / "sub" / "data.json").write_bytes(b'{"a": 1}')
    (root / "sub" / "deeper" / "noext").write_bytes(b"plain text here\n")
    (root / "sub" / "deeper" / "blob").write_bytes(rnd.randbytes(5000))
    (root / "site" / "index.html").write_bytes(b"<html><body>hi</body></html>")
    (root / "sp ace \u00fc.txt").write_bytes(b"x\n")
    (root / "pic").write_bytes(b"\x89PNG\r\n\x1a\n" + rnd.randbytes(100))
    (root / "page").write_bytes(b"<!DOCTYPE html><html></html>")
    for name in ("a.css", "a.js", "a.svg", "a.wasm", "a.PNG", "a.md", "a.tar.gz", "a.safetensors", "a.py"):
        (root / name).write_bytes(b"content of " + name.encode())
    (root / "link").symlink_to("hello.txt")
    for i in range(300):
        (root / "hamt" / f"file-{i}").write_bytes(b"%d\n" % i)


PATHS = ["", "/", "/hello.txt", "/copy.txt", "/empty", "/sub", "/sub/", "/sub/data.json", "/sub/deeper/blob",
         "/sub/deeper/noext", "/big.bin", "/hamt", "/hamt/", "/hamt/file-7", "/hamt/file-299", "/hamt/nope",
         "/site", "/site/", "/site/index.html", "/nothere", "/big.bin/x", "/sp%20ace%20%C3%BC.txt", "/pic", "/page",
         "/a.css", "/a.js", "/a.svg", "/a.wasm", "/a.PNG", "/a.md", "/a.tar.gz", "/a.safetensors", "/a.py", "/link",
         "/sub/../hello.txt", "//hello.txt", "/sub/%2e%2e/hello.txt"]


@pytest.fixture(scope="module")
def both(kubo43, tmp_path_factory):
    """(roots, casengine serve, Kubo gateway connection factory) over the same blocks."""
    base = tmp_path_factory.mktemp("gw")
    make_tree(base / "tree")
    repo = Repo(base / "repo")
    roots = {}
    for name, opts in {"v0": ImportOptions(), "v1": ImportOptions(cid_version=1),
                       "v1sharded": ImportOptions(cid_version=1, shard_threshold=1000)}.items():
        roots[name] = repo.add(base / "tree", opts).cid
    node = dag_cbor.encode({"dir": CID.decode(bytes(roots["v1"])), "n": 1, "list": [CID.decode(bytes(roots["v0"]))]})
    cbor = CidBuilder(1, hash_named("sha2-256")).sum(DAG_CBOR, [node], len(node))
    repo.put_block(cbor, node, pin=True)
    roots["cbor"] = cbor
    cars = []
    for name, root in roots.items():
        cars.append(str(base / f"{name}.car"))
        with open(cars[-1], "wb") as f:
            for piece in car.export(repo.store, root):
                f.write(piece)
    repo.close()
    kubo43.cli("dag", "import", "--pin-roots=false", *cars)
    served = Served(base / "repo")
    served.repo = base / "repo"
    yield roots, served, lambda: UnixHTTP(kubo43.gateway_socket)
    served.stop()


def compare(both, method: str, url: str, headers: dict[str, str] | None = None) -> tuple:
    roots, served, kubo = both
    want = fetch(kubo(), url, method, headers)
    got = fetch(served.conn(), url, method, headers)
    assert got[0] == want[0], (url, headers, want[2][:300], got[2][:300])
    listing = "DirIndex" in want[1].get("etag", "")
    for name in COMPARED:
        if not (listing and name == "etag"):
            assert got[1].get(name) == want[1].get(name), (name, url, headers)
    if not listing and want[0] in (200, 206):     # error texts are not compared (CID decoders word them apart)
        assert got[2] == want[2], (url, headers, len(want[2]), len(got[2]))
    return want, got


def test_fixed_requests(both):
    """The requests the spec names, each once: the probe, raw, CAR, HEAD, ranges, errors."""
    roots, _, _ = both
    r0, r1 = roots["v0"], roots["v1"]
    for url in ["/ipfs/bafkqaaa?format=raw", "/ipfs/bafkqaaa", f"/ipfs/{r0}?format=raw", f"/ipfs/{r1}?format=car",
                f"/ipfs/{r0}/hello.txt", f"/ipfs/{r1}/sub/deeper/blob", "/ipfs/notacid?format=raw", "/", "/ipfs/",
                f"/ipfs/{r0}/..", f"/ipfs/{str(r0)[:-1]}a?format=raw", f"/ipfs/{str(r0)[:-1]}a?format=car",
                f"/ipfs/{roots['cbor']}?format=raw", f"/ipfs/{roots['cbor']}?format=car",
                f"/ipfs/{roots['cbor']}?format=car&dag-scope=entity", f"/ipfs/{roots['cbor']}",
                f"/ipfs/{roots['v1sharded']}/hamt?format=car&dag-scope=entity",
                f"/ipfs/{roots['v1sharded']}/hamt/file-123?format=car"]:
        compare(both, "GET", url)
        compare(both, "HEAD", url)
    for rng in ["bytes=0-4", "bytes=3-", "bytes=-5", "bytes=50-", "bytes=5-2", "bytes=x", "bytes=0-0", "bytes=11-11"]:
        compare(both, "GET", f"/ipfs/{r0}/hello.txt", {"Range": rng})
        compare(both, "GET", f"/ipfs/{r1}/big.bin", {"Range": rng})
    missing = f"/ipfs/{str(r0)[:-1]}a"
    compare(both, "GET", missing, {"Cache-Control": "only-if-cached"})
    compare(both, "HEAD", f"/ipfs/{r0}", {"Cache-Control": "only-if-cached"})
    for url in (f"/ipfs/{r0}/hello.txt?format=raw", f"/ipfs/{r0}/hello.txt", f"/ipfs/{r0}?format=car"):
        etag = fetch(both[1].conn(), url)[1]["etag"]
        want, got = compare(both, "GET", url, {"If-None-Match": etag})
        assert got[0] == 304
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        want, got = compare(both, method, f"/ipfs/{r0}")
        assert got[0] == 405


formats = st.sampled_from([
    ("format=raw", {}), ("format=car", {}), ("", {}), ("", {"Accept": "application/vnd.ipld.raw"}),
    ("", {"Accept": "application/vnd.ipld.car"}), ("", {"Accept": "application/vnd.ipld.car; version=1; dups=y"}),
    ("", {"Accept": "application/vnd.ipld.car;order=unk"}), ("format=car", {"Accept": "application/vnd.ipld.car; dups=y"}),
    ("", {"Accept": "text/html, application/vnd.ipld.raw"}), ("", {"Accept": "application/vnd.ipld.foo"}),
    ("format=bogus", {})])
bound = st.one_of(st.integers(-4_000_000, 4_000_000), st.sampled_from([0, 1, -1, 262143, 262144, 3_000_000]))


@st.composite
def requests(draw):
    root = draw(st.sampled_from(["v0", "v1", "v1sharded"]))
    path = draw(st.sampled_from(PATHS))
    fmt, headers = draw(formats)
    query = [fmt] if fmt else []
    if draw(st.booleans()):
        query.append("dag-scope=" + draw(st.sampled_from(["block", "entity", "all", "nope", ""])))
    if draw(st.booleans()):
        a = draw(bound)
        b = draw(st.one_of(bound.map(str), st.just("*")))
        query.append("entity-bytes=" + draw(st.sampled_from([f"{a}:{b}", f"{a}", "x:1", f"{a}:{b}:1"])))
    for key, values in (("car-dups", ["y", "n", "q"]), ("car-order", ["dfs", "unk", "random"]), ("car-version", ["1", "2"])):
        if draw(st.integers(0, 3)) == 0:
            query.append(f"{key}={draw(st.sampled_from(values))}")
    method = draw(st.sampled_from(["GET", "GET", "HEAD"]))
    return root, path, "&".join(query), headers, method


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_drawn_requests_like_kubo(both, req):
    root, path, query, headers, method = req
    url = f"/ipfs/{both[0][root]}{path}" + (f"?{query}" if query else "")
    compare(both, method, url, headers)


def test_trustless_only_answers_406_like_kubo(both, tmp_path):
    """With deserialized responses off (Kubo: Gateway.DeserializedResponses=false), a file or
    directory request is 406 and raw/CAR requests are served, on both."""
    from peers import kubo43 as kubo43_peer

    roots, served, _ = both
    daemon = kubo43_peer.Daemon(config={"Gateway.DeserializedResponses": False})
    strict = Served(served.repo, "--trustless")
    try:
        daemon.start()
        car_path = tmp_path / "x.car"
        with Repo(served.repo, create=False) as repo:
            car_path.write_bytes(b"".join(car.export(repo.store, roots["v0"])))
        subprocess.run([str(kubo43_peer.IPFS), "--api", daemon.api, "dag", "import", str(car_path)],
                       env=daemon.env, check=True, capture_output=True)
        r0 = roots["v0"]
        for url in (f"/ipfs/{r0}/hello.txt", f"/ipfs/{r0}", f"/ipfs/{r0}?format=raw", f"/ipfs/{r0}/hello.txt?format=raw",
                    f"/ipfs/{r0}/hello.txt?format=car", f"/ipfs/{r0}?format=car&dag-scope=block"):
            want = fetch(UnixHTTP(daemon.gateway_socket), url)
            got = fetch(strict.conn(), url)
            assert got[0] == want[0], url
            if want[0] == 200:
                assert got[2] == want[2]
        assert fetch(strict.conn(), f"/ipfs/{r0}/hello.txt")[0] == 406
    finally:
        strict.stop()
        daemon.remove()


def test_directory_listing_and_index(both):
    roots, served, _ = both
    status, headers, body = fetch(served.conn(), f"/ipfs/{roots['v0']}/")
    assert status == 200 and headers["content-type"] == "text/html"
    for name in ("hello.txt", "big.bin", "site", "sp%20ace%20%C3%BC.txt"):
        assert name.encode() in body
    status, headers, body = fetch(served.conn(), f"/ipfs/{roots['v1sharded']}/hamt/")
    assert status == 200 and body.count(b"<tr>") == 300 + 1   # the entries and ".."
    status, headers, body = fetch(served.conn(), f"/ipfs/{roots['v0']}/site/")
    assert (status, body) == (200, b"<html><body>hi</body></html>")
    assert json.loads(fetch(served.conn(), f"/ipfs/{roots['v0']}/sub/data.json")[2]) == {"a": 1}
    assert Cid.parse(headers["etag"].strip('"')) == Cid.parse(headers["x-ipfs-roots"].split(",")[-1])
