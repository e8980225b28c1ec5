"""`casengine hf add` / `hf get`: a Hugging Face cache snapshot to a Kubo-identical directory DAG and
back into the cache layout huggingface_hub reads offline. The test builds its model repo itself."""
from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from casengine.cli import main
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
