"""`casengine hf add` / `hf get`: a Hugging Face cache snapshot to a Kubo-identical directory DAG and
back into the cache layout huggingface_hub reads offline. The test builds its model repo itself."""
from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from casengine.cli import main
from casengine.dag.cid import DAG_CBOR, Cid
from casengine.dag.multihash import SHA2_256
from casengine.options import ImportOptions
from casengine.repo import Repo

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n",
    "config.json": b'{"model_type": "bert", "hidden_size": 32}\n',
    "model.safetensors": bytes(range(256)) * 4000,
    "tokenizer/vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n",
    "tokenizer/pytorch_model.bin": b"\x00\x01" * 70_000,
}
LFS = {"model.safetensors", "tokenizer/pytorch_model.bin"}


def blob_name(path: str, data: bytes) -> str:
    """What the Hub names a blob: sha256 for LFS objects, the git blob sha1 otherwise."""
    if path in LFS:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def build_cached_repo(hub, repo_id: str = "tiny-org/tiny-bert", files: dict[str, bytes] = FILES) -> str:
    """The layout huggingface_hub's downloads leave: blobs/, snapshots/<commit>/ symlinks, refs/main."""
    storage = hub / f"models--{repo_id.replace('/', '--')}"
    (storage / "blobs").mkdir(parents=True)
    for path, data in files.items():
        name = blob_name(path, data)
        (storage / "blobs" / name).write_bytes(data)
        link = storage / "snapshots" / COMMIT / path
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("../" * (path.count("/") + 2) + f"blobs/{name}", link)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(COMMIT)
    return str(storage)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "hub"


def run(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.strip()


def test_add_then_get_restores_what_snapshot_download_finds(hub, tmp_path, capsys, kubo):
    from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download

    storage = build_cached_repo(hub)
    assert [r.repo_id for r in scan_cache_dir(hub).repos] == ["tiny-org/tiny-bert"]
    repo = str(tmp_path / "repo")
    out = run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub))
    assert out.startswith("added ") and out.endswith(" tiny-org/tiny-bert")
    cid = out.split()[1]

    plain = tmp_path / "plain"  # the same files as a plain directory: Kubo's CID for them
    for path, data in FILES.items():
        (plain / path).parent.mkdir(parents=True, exist_ok=True)
        (plain / path).write_bytes(data)
    assert cid == kubo.cid(plain)  # the oracle adds with -r --hidden, as `hf add` does

    shutil.rmtree(storage)
    snapshot = run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(hub))
    assert snapshot == os.path.join(storage, "snapshots", COMMIT)
    assert snapshot_download("tiny-org/tiny-bert", local_files_only=True, cache_dir=hub) == snapshot
    assert hf_hub_download("tiny-org/tiny-bert", "tokenizer/vocab.txt", local_files_only=True, cache_dir=hub) \
        == os.path.join(snapshot, "tokenizer", "vocab.txt")
    for path, data in FILES.items():
        link = os.path.join(snapshot, path)
        assert os.readlink(link) == "../" * (path.count("/") + 2) + f"blobs/{blob_name(path, data)}"
        assert open(link, "rb").read() == data
    assert sorted(os.listdir(os.path.join(storage, "blobs"))) == sorted(blob_name(p, d) for p, d in FILES.items())
    assert open(os.path.join(storage, "refs", "main")).read() == COMMIT
    info = scan_cache_dir(hub)
    assert not info.warnings
    (cached,) = info.repos
    assert {r.commit_hash for r in cached.revisions} == {COMMIT}

    again = run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(hub),
                "--revision", "v1.0")  # restoring over an existing snapshot, with one more ref
    assert again == snapshot and open(os.path.join(storage, "refs", "v1.0")).read() == COMMIT


def test_transformers_from_pretrained_finds_a_restored_snapshot(hub, tmp_path, capsys):
    """transformers' own offline loading (config and tokenizer; model weights would need torch, which
    the test environment does not install) reads a snapshot that `hf get` restored from the store."""
    import transformers
    files = {"config.json": b'{"model_type": "bert", "hidden_size": 32, "vocab_size": 5}\n',
             "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n",
             "tokenizer_config.json": b'{"tokenizer_class": "BertTokenizer", "do_lower_case": true}\n'}
    storage = build_cached_repo(hub, "tiny-org/bert-tok", files)
    repo = str(tmp_path / "repo")
    cid = run(capsys, "--repo", repo, "hf", "add", "tiny-org/bert-tok", "--cache-dir", str(hub)).split()[1]
    shutil.rmtree(storage)
    run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/bert-tok", "--cache-dir", str(hub))

    config = transformers.AutoConfig.from_pretrained("tiny-org/bert-tok", local_files_only=True, cache_dir=hub)
    assert (type(config).__name__, config.hidden_size) == ("BertConfig", 32)
    tokenizer = transformers.AutoTokenizer.from_pretrained("tiny-org/bert-tok", local_files_only=True,
                                                           cache_dir=hub)
    assert tokenizer("hello")["input_ids"] == [2, 4, 3]  # [CLS] hello [SEP] by the restored vocab.txt


def test_a_dag_without_manifest_is_restored_by_gitattributes(hub, tmp_path, capsys):
    """A directory that came from elsewhere (here: a plain `add -r -H`) has no recorded commit."""
    from huggingface_hub import snapshot_download

    plain = tmp_path / "plain"
    for path, data in FILES.items():
        (plain / path).parent.mkdir(parents=True, exist_ok=True)
        (plain / path).write_bytes(data)
    with Repo(tmp_path / "repo") as repo:
        cid = str(repo.add(plain, ImportOptions(hidden=True)).cid)
    snapshot = run(capsys, "--repo", str(tmp_path / "repo"), "hf", "get", cid, "someone/model",
                   "--cache-dir", str(hub))
    assert snapshot_download("someone/model", local_files_only=True, cache_dir=hub) == snapshot
    blobs = os.path.join(os.path.dirname(os.path.dirname(snapshot)), "blobs")
    assert sorted(os.listdir(blobs)) == sorted(blob_name(p, d) for p, d in FILES.items())


def test_missing_repo_or_revision_is_an_error(hub, tmp_path, capsys):
    build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    assert main(["--repo", repo, "hf", "add", "nobody/nothing", "--cache-dir", str(hub)]) == 1
    assert "not in the Hugging Face cache" in capsys.readouterr().err
    assert main(["--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--revision", "v9", "--cache-dir", str(hub)]) == 1
    assert "revision v9" in capsys.readouterr().err
    assert run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--revision", COMMIT,
               "--cache-dir", str(hub)).startswith("added ")


def test_the_printed_cid_is_the_handle_for_pins_gc_and_get(hub, tmp_path, capsys):
    """`hf add` pins the directory it prints, nothing hidden: `pin ls`/`pin rm` take that CID, gc
    keeps the snapshot while it is pinned, and after `pin rm` + gc `hf get` names that CID
    (issue 17 item 8: a hidden manifest was pinned instead)."""
    storage = build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    cid = run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub)).split()[1]
    assert run(capsys, "--repo", repo, "pin", "ls", "--type=recursive") == f"{cid} recursive"
    run(capsys, "--repo", repo, "repo", "gc")
    shutil.rmtree(storage)
    assert run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(hub)) \
        == os.path.join(storage, "snapshots", COMMIT)  # the commit came back: the manifest survived gc
    assert run(capsys, "--repo", repo, "pin", "rm", cid) == f"unpinned {cid}"
    assert run(capsys, "--repo", repo, "pin", "ls") == ""
    run(capsys, "--repo", repo, "repo", "gc")
    with Repo(repo) as r:
        assert len(r.store) == 0
    assert main(["--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(tmp_path / "hub2")]) == 1
    assert capsys.readouterr().err == f"Error: CID not found: {cid}\n"


def test_a_repository_with_an_older_manifest_keeps_working(hub, tmp_path, capsys):
    """Repositories written before: a dag-cbor manifest block pinned recursively, indexed by the
    directory CID. `hf get` still reads its commit; the next `hf add` moves it to the new layout."""
    from casengine import hf

    storage = build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    cid = run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub)).split()[1]
    with Repo(repo) as r:  # rewrite it the way the earlier layout stored it
        root = Cid.parse(cid)
        index = r.store.db(b"hf-snapshots")
        block = r.store.read(lambda txn: txn.get(bytes(root), db=index))  # the manifest's dag-cbor
        block_cid = Cid(1, DAG_CBOR, SHA2_256.digest(block))
        r.store.put(block_cid, block)
        r.pin(block_cid)
        r.unpin(root)
        r.store.write(lambda txn: txn.put(bytes(root), bytes(block_cid), db=index))
    run(capsys, "--repo", repo, "repo", "gc")
    shutil.rmtree(storage)
    assert run(capsys, "--repo", repo, "hf", "get", cid, "tiny-org/tiny-bert", "--cache-dir", str(hub)) \
        == os.path.join(storage, "snapshots", COMMIT)
    assert run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub)).split()[1] == cid
    assert run(capsys, "--repo", repo, "pin", "ls", "--type=recursive") == f"{cid} recursive"
    with Repo(repo) as r:
        assert hf.manifest_for(r, Cid.parse(cid))["commit"] == COMMIT


@pytest.mark.parametrize("repo_id", ["bad id", "../../etc", "a/b/c", "org/..", "org/x-", "x" * 97])
def test_repo_ids_are_validated_as_huggingface_hub_does(hub, tmp_path, capsys, repo_id):
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    with pytest.raises(HFValidationError):
        validate_repo_id(repo_id)
    build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    cid = run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub)).split()[1]
    for argv in (["hf", "add", repo_id], ["hf", "get", cid, repo_id]):
        assert main(["--repo", repo, *argv, "--cache-dir", str(tmp_path / "other-hub")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: invalid repo id") and err.count("\n") == 1, err
    assert not (tmp_path / "other-hub").exists()


def test_a_symlink_in_a_snapshot_leaves_nothing_behind(hub, tmp_path, capsys):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "config.json").write_bytes(b"{}\n")
    (tree / "sub" / "link").symlink_to("../config.json")
    with Repo(tmp_path / "repo") as repo:
        cid = str(repo.add(tree, ImportOptions(hidden=True)).cid)
    assert main(["--repo", str(tmp_path / "repo"), "hf", "get", cid, "org/model", "--cache-dir", str(hub)]) == 1
    assert "sub/link is a symlink" in capsys.readouterr().err
    assert not hub.exists()


def test_json_output_of_hf_add_and_get(hub, tmp_path, capsys):
    """--json, as the README promises for every verb (issue 17 item 9)."""
    import json

    storage = build_cached_repo(hub)
    repo = str(tmp_path / "repo")
    added = json.loads(run(capsys, "--repo", repo, "hf", "add", "tiny-org/tiny-bert", "--cache-dir", str(hub), "--json"))
    assert set(added) == {"Name", "Hash", "Commit"} and added["Name"] == "tiny-org/tiny-bert" and added["Commit"] == COMMIT
    got = json.loads(run(capsys, "--repo", repo, "hf", "get", added["Hash"], "tiny-org/tiny-bert",
                         "--cache-dir", str(hub), "--json"))
    assert got == {"Path": os.path.join(storage, "snapshots", COMMIT), "Hash": added["Hash"]}
