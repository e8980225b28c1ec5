"""Every codec Kubo decodes is walked alike by pins, gc and export (issue 13, cases 1-3).

Blocks are made here; Kubo 0.43.1 (the kubo43 fixture: `ipfs dag import` then `ipfs dag export`)
says what an export must be, byte for byte, and the npm @ipld codecs (tests/ipld_walk.mjs) say
independently which blocks the pins reach, so which must survive gc.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from casengine import car
from casengine.dag import pb, varint
from casengine.dag.cid import DAG_CBOR, DAG_JSON, DAG_PB, RAW, Cid
from casengine.dag.links import CBOR, JSON, links
from casengine.errors import CidNotFound, DecodeError
from casengine.ipldpath import to_cbor as cbor_block
from casengine.repo import Repo
from peers.kubo43.rpc import call
from test_car import ipfs_car  # noqa: F401  (the fixture that finds npm ipfs-car's install)

TESTS = Path(__file__).parent


# -- blocks made here ---------------------------------------------------------------------------------
def cid_of(codec: int, block: bytes, version: int = 1, identity: bool = False) -> Cid:
    if identity:
        return Cid(1, codec, b"\x00" + varint.encode(len(block)) + block)
    return Cid(version, codec, b"\x12\x20" + hashlib.sha256(block).digest())


def json_block(value: object) -> bytes:
    """dag-json as go-ipld-prime writes it: keys sorted, no spaces, links as {"/": cid}."""
    def conv(v: object) -> object:
        if isinstance(v, Cid):
            return {"/": str(v)}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return json.dumps(conv(value), sort_keys=True, separators=(",", ":")).encode()


def pb_block(children: list[Cid], data: bytes) -> bytes:
    return pb.encode(pb.PBNode([pb.PBLink(c, "", 1) for c in children], data))


def car_of(roots: list[Cid], blocks: dict[Cid, bytes]) -> bytes:
    return b"".join(car.write(roots, ((c, b) for c, b in blocks.items() if not c.is_identity)))


def sections(data: bytes) -> list[Cid]:
    return [c for c, _ in car.CarReader(io.BytesIO(data))]


@pytest.fixture
def repo(tmp_path: Path):
    with Repo(tmp_path / "repo") as r:
        yield r


def imported(repo: Repo, roots: list[Cid], blocks: dict[Cid, bytes]) -> car.CarImport:
    result = car.import_car(repo, [io.BytesIO(car_of(roots, blocks))])
    assert not result.failed, result.pins
    return result


def kubo_export(kubo43, roots: list[Cid], blocks: dict[Cid, bytes], root: Cid) -> bytes:
    """What Kubo 0.43.1's `ipfs dag export ROOT` writes after `ipfs dag import` of these blocks."""
    body = (b'--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name="file"; '
            b'filename="in.car"\r\n\r\n' + car_of(roots, blocks) + b"\r\n--B--\r\n")
    sock = kubo43.daemon().api_socket
    call(sock, "dag/import", params=[("pin-roots", "false")], body=body, content_type="multipart/form-data; boundary=B")
    return call(sock, "dag/export", args=[str(root)])


# -- case 1: a dag-json root linking raw blocks ------------------------------------------------------
def test_dag_json_links_are_pinned_exported_and_kept_by_gc(repo, kubo43):
    leaves = {cid_of(RAW, b): b for b in (b"first child", b"second child")}
    one, two = leaves
    root_block = json_block({"a": one, "b": [two, {"c": "not a link"}]})
    root = cid_of(DAG_JSON, root_block)
    blocks = {root: root_block, **leaves, cid_of(RAW, b"garbage"): b"garbage"}
    imported(repo, [root], blocks)
    assert repo.gc() == 1
    assert all(repo.store.has(c) for c in (root, one, two))
    ours = b"".join(car.export(repo.store, root))
    assert sections(ours) == [root, one, two]
    assert ours == kubo_export(kubo43, [root], blocks, root)


# -- case 2: CIDv0 and CIDv1 twins of one block --------------------------------------------------------
def test_twins_are_both_exported_as_kubo_exports_them(repo, kubo43, tmp_path, ipfs_car):  # noqa: F811
    leaf = pb_block([], b"\x08\x02\x12\x03abc\x18\x03")   # a UnixFS file "abc"
    v0, v1 = cid_of(DAG_PB, leaf, 0), cid_of(DAG_PB, leaf, 1)
    directory = pb.encode(pb.PBNode([pb.PBLink(v0, "a", len(leaf)), pb.PBLink(v1, "b", len(leaf))], b"\x08\x01"))
    root = cid_of(DAG_PB, directory)
    blocks = {root: directory, v0: leaf, v1: leaf}
    imported(repo, [root], blocks)
    ours = b"".join(car.export(repo.store, root))
    assert sections(ours) == [root, v0, v1]
    assert ours == kubo_export(kubo43, [root], blocks, root)
    assert repo.gc() == 0 and len(repo.store) == 2    # one stored copy serves both CIDs
    path = tmp_path / "twins.car"
    path.write_bytes(ours)
    unpacked = tmp_path / "out"
    subprocess.run([*ipfs_car, "unpack", str(path), "--output", str(unpacked)], check=True, capture_output=True)
    assert (unpacked / "a").read_bytes() == (unpacked / "b").read_bytes() == b"abc"
    raw_twin = cid_of(RAW, leaf)   # and a raw CID of the same bytes, linked from dag-cbor
    top = cbor_block({"v0": v0, "v1": v1, "raw": raw_twin})
    imported(repo, [cid_of(DAG_CBOR, top)], {cid_of(DAG_CBOR, top): top})
    assert sections(b"".join(car.export(repo.store, cid_of(DAG_CBOR, top))))[1:] == [v0, v1, raw_twin]


# -- case 3: Filecoin-style dag-cbor: text strings that are not UTF-8 -----------------------------------
def test_dag_cbor_with_non_utf8_text_is_walked(repo, kubo43):
    child = b"a block below a Filecoin-style node"
    child_cid = cid_of(RAW, child)
    link = b"\xd8\x2a\x58" + bytes([len(bytes(child_cid)) + 1]) + b"\x00" + bytes(child_cid)
    top = b"\xa2\x61a" + link + b"\x61b\x62\xff\xfe"       # {"a": link, "b": text "\xff\xfe"}
    root = cid_of(DAG_CBOR, top)
    blocks = {root: top, child_cid: child}
    imported(repo, [root], blocks)
    assert repo.gc() == 0 and repo.store.has(child_cid)
    ours = b"".join(car.export(repo.store, root))
    assert ours == kubo_export(kubo43, [root], blocks, root)


@pytest.mark.parametrize("codec, block, message", [
    (0x300001, b"zz", "could not choose a decoder: no decoder registered for multicodec code 3145729 (0x300001)"),
    (DAG_CBOR, b"\xa2\x61a\x01\x61a\x02", 'duplicate map key "a"'),
    (DAG_CBOR, b"\x9f\x01\xff", "cbor: indefinite-length encoding rejected"),
    (DAG_CBOR, b"\x18\x01", "cbor: integer not minimally encoded"),
    (DAG_CBOR, b"\xa1\x01\x01", "unexpected uint token while expecting map key"),
    (DAG_CBOR, b"\xd8\x2a\x42\x01\x55", "invalid multibase on IPLD link"),
    (DAG_CBOR, b"\xf6\x00", "unexpected content after end of cbor object"),
    (DAG_CBOR, b"\xc1\x41\x00", "unhandled cbor tag 1"),
    (CBOR, cbor_block({"a": cid_of(RAW, b"x")}), "unhandled cbor tag 42"),
    (DAG_JSON, b'{"a":1,"a":2}', 'cannot repeat map key "a"'),
    (DAG_JSON, b'{"a":1}x', "unexpected content after end of json object"),
    (DAG_JSON, b"123456789012345678901234567890",
     'strconv.ParseInt: parsing "123456789012345678901234567890": value out of range'),
    (DAG_JSON, b"[" * 2000 + b"]" * 2000, "message structure exceeded maximum nesting depth"),
])
def test_undecodable_blocks_fail_the_import_with_kubos_words(repo, kubo43, tmp_path, codec, block, message):
    cid = cid_of(codec, block)
    data = car_of([cid], {cid: block})
    path = tmp_path / "bad.car"
    path.write_bytes(data)
    theirs = kubo43.cli("dag", "import", str(path), check=False)
    assert theirs.returncode == 1 and theirs.stderr.decode() == f'Error: import failed at block "{cid}": {message}\n'
    with pytest.raises(DecodeError, match=f'import failed at block "{cid}": '):
        car.import_car(repo, [io.BytesIO(data)])
    assert str(pytest.raises(DecodeError, links, cid, block).value) == message
    assert dict(repo.pins()) == {}


@pytest.mark.parametrize("codec, block", [
    (DAG_CBOR, b"\xa2\x62bb\x01\x61a\x02"),                       # unsorted keys
    (DAG_CBOR, b"\xf9\x3c\x00"), (DAG_CBOR, b"\xfa\x3f\x80\x00\x00"),  # 16 and 32 bit floats
    (DAG_CBOR, b"\xf7"), (DAG_CBOR, b"\xc1\x01"),                   # undefined; a tag on an int
    (DAG_CBOR, b"\xa1\x61\xff\x01"),                               # a key that is not UTF-8
    (DAG_JSON, b'{"b":1,"a":2}'), (DAG_JSON, b' {"/":"bafkqabdunfxhs","x":1} '), (DAG_JSON, b'"\\ud800"'),
    (JSON, b'{"/":"not a link in plain json"}'), (CBOR, b"\xa1\x61a\x01"),
])
def test_blocks_kubo_accepts_are_accepted(repo, kubo43, tmp_path, codec, block):
    cid = cid_of(codec, block)
    path = tmp_path / "ok.car"
    path.write_bytes(car_of([cid], {cid: block}))
    assert kubo43.cli("dag", "import", str(path)).stdout.decode() == f"Pinned root\t{cid}\tsuccess\n"
    imported(repo, [cid], {cid: block})
    assert links(cid, block) == [] and repo.pin_type(cid) == "recursive"


def test_a_pin_through_an_identity_node_keeps_what_it_links(repo, kubo43):
    child = b"stored below an inline node"
    child_cid = cid_of(RAW, child)
    inline = cbor_block({"c": child_cid})
    inline_cid = cid_of(DAG_CBOR, inline, identity=True)
    top = json_block({"i": inline_cid})
    root = cid_of(DAG_JSON, top)
    blocks = {root: top, child_cid: child}
    imported(repo, [root], blocks)
    assert repo.gc() == 0 and repo.store.has(child_cid) and len(repo.store) == 2
    ours = b"".join(car.export(repo.store, root))
    assert sections(ours) == [root, inline_cid, child_cid]   # Kubo writes identity sections too
    assert ours == kubo_export(kubo43, [root], blocks, root)


def test_a_missing_child_of_any_codec_stops_the_pin(repo):
    child = cid_of(RAW, b"absent")
    for block, codec in ((json_block({"x": child}), DAG_JSON), (cbor_block([child]), DAG_CBOR)):
        cid = cid_of(codec, block)
        result = car.import_car(repo, [io.BytesIO(car_of([cid], {cid: block}))])
        assert result.failed == [cid]
        with pytest.raises(CidNotFound):
            repo.pin(cid)


# -- the property: pins, gc and export over DAGs of every codec --------------------------------------
@st.composite
def dags(draw):
    """(blocks, roots): a DAG drawn bottom-up over every codec, links naming earlier blocks by CIDv0
    or CIDv1 (twins), raw twins of dag-pb blocks, small blocks inlined as identity CIDs."""
    blocks: dict[Cid, bytes] = {}
    names: list[list[Cid]] = []           # each block's CIDs: the ways a parent may link it
    for i in range(draw(st.integers(1, 12))):
        kids = [draw(st.sampled_from(draw(st.sampled_from(names))))
                for _ in range(draw(st.integers(0, 4)))] if names else []
        codec = draw(st.sampled_from([RAW, DAG_PB, DAG_CBOR, DAG_JSON, JSON, CBOR] if not kids
                                     else [DAG_PB, DAG_CBOR, DAG_JSON]))
        salt = draw(st.binary(max_size=8))
        if codec == RAW:
            block = b"raw" + salt
        elif codec == DAG_PB:
            block = pb_block(kids, b"pb" + salt)
        elif codec in (DAG_CBOR, CBOR):
            block = cbor_block({"kids": kids, "n": i, "s": salt})
        else:
            block = json_block({"kids": kids, "n": i, "s": base64.b64encode(salt).decode()})
        if len(block) <= 100 and draw(st.booleans()) and draw(st.booleans()):
            cids = [cid_of(codec, block, identity=True)]
        else:
            cids = [cid_of(codec, block)]
            if codec == DAG_PB:
                cids.append(cid_of(DAG_PB, block, 0))
                if not kids:
                    cids.append(cid_of(RAW, block))
        for c in cids:
            blocks[c] = block
        names.append(cids)
    every = [c for cids in names for c in cids]
    roots = draw(st.lists(st.sampled_from(every), min_size=1, max_size=3, unique=True))
    return blocks, roots


def npm_reached(tmp_path: Path, ipfs_car_argv: list[str], roots: list[Cid], blocks: dict[Cid, bytes]) -> set[Cid]:
    """The CIDs the npm @ipld codecs reach from *roots* (tests/ipld_walk.mjs)."""
    modules = Path(ipfs_car_argv[-1]).parents[1]
    work = tmp_path / "walker"
    if not work.exists():
        work.mkdir()
        (work / "node_modules").symlink_to(modules)
        (work / "walk.mjs").write_bytes((TESTS / "ipld_walk.mjs").read_bytes())
    request = {"roots": [str(r) for r in roots],
               "blocks": {str(c): base64.b64encode(b).decode() for c, b in blocks.items() if not c.is_identity}}
    out = subprocess.run(["node", str(work / "walk.mjs")], input=json.dumps(request).encode(), check=True,
                         capture_output=True, timeout=120, env=dict(os.environ, NODE_OPTIONS="")).stdout
    return {Cid.parse(c) for c in json.loads(out)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=dags())
def test_gc_keeps_exactly_what_the_pins_reach_and_exports_equal_kubos(tmp_path_factory, kubo43, ipfs_car, drawn):  # noqa: F811
    blocks, roots = drawn
    tmp = tmp_path_factory.mktemp("dag")
    with Repo(tmp / "repo") as repo:
        imported(repo, roots, blocks)
        repo.gc()
        kept = set(repo.store.multihashes())
        reached = npm_reached(tmp_path_factory.getbasetemp(), ipfs_car, roots, blocks)
        assert kept == {c.multihash for c in reached if not c.is_identity}
        for root in roots:
            ours = b"".join(car.export(repo.store, root))
            assert ours == kubo_export(kubo43, roots, blocks, root)
            assert set(sections(ours)) <= reached


# -- case 4: ls of a UnixFS directory with children that are not UnixFS -------------------------------
def test_ls_lists_non_unixfs_children_as_kubo(tmp_path, kubo43, capsys, monkeypatch):
    from casengine.cli import main

    children = {cid_of(DAG_CBOR, b): b for b in [cbor_block({"not": "unixfs"})]}
    children.update({cid_of(DAG_JSON, b): b for b in [json_block({"a": 1})]})
    children[cid_of(RAW, b"raw file")] = b"raw file"
    names = dict(zip(children, "cjr"))
    directory = pb.encode(pb.PBNode([pb.PBLink(c, names[c], len(b)) for c, b in children.items()], b"\x08\x01"))
    root = cid_of(DAG_PB, directory)
    path = tmp_path / "dir.car"
    path.write_bytes(car_of([root], {root: directory, **children}))
    monkeypatch.setenv("CASENGINE_REPO", str(tmp_path / "repo"))
    assert main(["dag", "import", str(path)]) == 0
    kubo43.cli("dag", "import", str(path))
    capsys.readouterr()
    for flags in ([], ["-v"], ["--size=false"]):
        assert main(["ls", *flags, str(root)]) == 0
        assert capsys.readouterr().out == kubo43.cli("ls", *flags, str(root)).stdout.decode()
    assert main(["ls", "--json", str(root)]) == 0
    ours = json.loads(capsys.readouterr().out)
    theirs = json.loads(call(kubo43.daemon().api_socket, "ls", args=[str(root)]))
    for link in theirs["Objects"][0]["Links"]:  # UnixFS 1.5 metadata: not what this test is about
        link.pop("Mode"), link.pop("ModTime")
    assert ours == theirs
