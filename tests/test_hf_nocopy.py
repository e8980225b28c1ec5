"""``hf add --nocopy``: the Hugging Face blob stays the only copy; ``hf get`` into the same cache
costs nothing, into another cache copies the bytes. Truth for the CID: the Kubo 0.22 oracle adding
the same files with -r --hidden --raw-leaves (what --nocopy implies)."""

from __future__ import annotations

import os
import shutil

from casengine.cli import main
from casengine.repo import Repo
from casengine.stores.filestore import entries

from test_hf import COMMIT, FILES, blob_name, build_cached_repo


def run(capsys, *argv) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out.strip()


def test_nocopy_snapshot_keeps_the_blobs_as_the_only_copy(tmp_path, monkeypatch, capsys, kubo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = tmp_path / "hub"
    storage = build_cached_repo(hub)
    blobs = os.path.join(storage, "blobs")
    repo = str(tmp_path / "repo")
    cid = run(capsys, "--repo", repo, "hf", "add", "--nocopy", "tiny-org/tiny-bert", "--cache-dir", str(hub)).split()[1]
    plain = tmp_path / "plain"
    for path, data in FILES.items():
        (plain / path).parent.mkdir(parents=True, exist_ok=True)
        (plain / path).write_bytes(data)
    assert cid == kubo.cid(plain, raw_leaves=True)
    with Repo(repo) as r:
        st = r.stat()
        assert st.references and st.bytes < 1000                             # directory and file nodes only
        assert {os.path.dirname(e.ref.path) for e in entries(r.store)} == {os.path.realpath(blobs)}

    before = {name: os.stat(os.path.join(blobs, name)) for name in os.listdir(blobs)}
    shutil.rmtree(os.path.join(storage, "snapshots"))
    snapshot = run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(hub))
    assert snapshot == os.path.join(storage, "snapshots", COMMIT)
    after = {name: os.stat(os.path.join(blobs, name)) for name in os.listdir(blobs)}
    assert {n: (s.st_ino, s.st_mtime_ns) for n, s in after.items()} == \
        {n: (s.st_ino, s.st_mtime_ns) for n, s in before.items()}             # not one blob rewritten
    for path, data in FILES.items():
        assert open(os.path.join(snapshot, path), "rb").read() == data

    other = tmp_path / "other-hub"                                          # another HF_HOME: copies
    copy = run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(other))
    for path, data in FILES.items():
        link = os.path.join(copy, path)
        assert open(link, "rb").read() == data and os.path.basename(os.readlink(link)) == blob_name(path, data)
        assert not os.path.samefile(link, os.path.join(snapshot, path))


def test_a_changed_blob_is_caught(tmp_path, monkeypatch, capsysbinary):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = tmp_path / "hub"
    storage = build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    cid = run(capsysbinary, "--repo", repo, "hf", "add", "--nocopy", "tiny-org/tiny-bert", "--cache-dir",
              str(hub)).split()[1].decode()
    blob = os.path.join(storage, "blobs", blob_name("model.safetensors", FILES["model.safetensors"]))
    with open(blob, "r+b") as f:
        f.seek(-1, os.SEEK_END)  # in the last leaf (the first three are alike: referenced once, further on)
        f.write(b"\x00")           # was 0xff
    assert main(["--repo", repo, "cat", f"{cid}/model.safetensors"]) == 1
    err = capsysbinary.readouterr().err.decode()
    assert "data in file did not match" in err and blob in err
    assert main(["--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(tmp_path / "x")]) == 1
