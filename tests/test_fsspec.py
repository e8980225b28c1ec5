"""``cas://`` through fsspec: listing, ranged reads that fetch only the blocks they need, buffered
files, ``put``, the ``fsspec.specs`` entry point with pandas, and fsspec's own abstract tests.

fsspec's abstract suite (fsspec.tests.abstract): AbstractGetTests runs, with its scenarios built
locally and stored by ``put`` (a content-addressed tree cannot be built by writing at paths);
test_get_directory_recursive, which builds its source with fs.mkdir/fs.touch, is restated that way.
The Copy, Put, Mv, Open and Pipe suites do not apply: each writes at a path the test chooses, and in
``cas://`` where content lands is its CID (writing modes raise InvalidOption, ``put`` returns the CID).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fsspec.tests.abstract import AbstractFixtures
from fsspec.tests.abstract.get import AbstractGetTests

from casengine.errors import InvalidOption
from casengine.fsspec import CASFileSystem
from casengine.options import ImportOptions
from casengine.repo import Repo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path):
    with Repo(tmp_path / "repo") as r:
        yield r


@pytest.fixture
def fs(repo):
    return CASFileSystem(repo, skip_instance_cache=True)


@pytest.fixture
def tree(tmp_path) -> Path:
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "data.csv").write_text("name,value\nalpha,1\nbeta,2\n")
    (d / "sub" / "big.bin").write_bytes(os.urandom(300 * 1024))
    os.symlink("data.csv", d / "link")
    return d


def test_ls_info_cat_and_missing_paths(fs, tree):
    cid = fs.put(str(tree), chunker="size-1024")
    assert cid == str(fs.repo.add(tree, ImportOptions(chunker="size-1024")).cid)
    names = fs.ls(f"cas://{cid}", detail=False)
    assert names == [f"{cid}/data.csv", f"{cid}/link", f"{cid}/sub"]
    info = {i["name"].rsplit("/", 1)[1]: i for i in fs.ls(cid)}
    assert info["data.csv"]["type"] == "file" and info["data.csv"]["size"] == 26
    assert info["sub"]["type"] == "directory"
    assert info["link"]["islink"] and info["link"]["destination"] == "data.csv"
    assert fs.info(f"/ipfs/{cid}/sub/big.bin")["size"] == 300 * 1024
    assert fs.cat_file(f"cas://{cid}/data.csv") == (tree / "data.csv").read_bytes()
    assert fs.ls(f"{cid}/data.csv", detail=False) == [f"{cid}/data.csv"]
    assert fs.isdir(f"{cid}/sub") and fs.isfile(f"{cid}/data.csv") and not fs.exists(f"{cid}/nope")
    assert fs.ukey(f"{cid}/data.csv") == info["data.csv"]["cid"]
    assert sorted(fs.find(cid)) == [f"{cid}/data.csv", f"{cid}/link", f"{cid}/sub/big.bin"]
    assert fs.ls("", detail=False) == [cid]            # the root lists pinned DAGs
    for missing in (f"{cid}/nope", f"{cid}/data.csv/below", "not-a-cid", f"{cid}/sub/nope/x"):
        with pytest.raises(FileNotFoundError):
            fs.info(missing)
    with pytest.raises(IsADirectoryError):
        fs.cat_file(f"{cid}/sub")


@pytest.mark.parametrize("start,end", [(None, None), (0, 10), (1000, 1100), (200_000, 200_100), (-50, None),
                                       (-2000, -1000), (307_000, 400_000), (5, 5), (10, 3)])
def test_cat_file_ranges_match_python_slices(fs, tree, start, end):
    cid = fs.put(str(tree / "sub" / "big.bin"), chunker="size-1024")
    data = (tree / "sub" / "big.bin").read_bytes()
    assert fs.cat_file(cid, start, end) == data[start:end]


def test_a_range_read_fetches_only_the_blocks_it_needs(fs, repo, tree, monkeypatch):
    cid = fs.put(str(tree / "sub" / "big.bin"), chunker="size-1024")
    # 300 leaves of 1 KiB under a root with two children (174 + 126 links): 303 blocks in all
    root = fs.exporter.resolve(cid)
    assert len(list(fs.exporter.walk(root.cid))) == 303
    second = root.pb.links[1].cid
    leaf = fs.exporter.node(second).pb.links[195 - 174].cid
    fetched = []  # every block read, one at a time or streamed (read-ahead included)
    real_get, real_get_many = repo.store.get, repo.store.get_many

    def get_many(cids, **kw):
        def drawn():
            for c in cids:
                fetched.append(c)
                yield c
        return real_get_many(drawn(), **kw)
    monkeypatch.setattr(repo.store, "get", lambda c, **kw: fetched.append(c) or real_get(c, **kw))
    monkeypatch.setattr(repo.store, "get_many", get_many)
    data = fs.cat_file(cid, 200_000, 200_100)           # inside leaf 195, under the second child
    assert data == (tree / "sub" / "big.bin").read_bytes()[200_000:200_100]
    assert fetched == [root.cid, second, leaf]


def test_open_reads_through_a_buffer_and_seeks(fs, tree):
    cid = fs.put(str(tree), chunker="size-1024")
    data = (tree / "sub" / "big.bin").read_bytes()
    with fs.open(f"cas://{cid}/sub/big.bin", block_size=4096) as f:
        assert f.size == len(data)
        f.seek(123_456)
        assert f.read(10_000) == data[123_456:133_456]
        f.seek(-10, 2)
        assert f.read() == data[-10:]
    with pytest.raises(InvalidOption):
        fs.open(f"{cid}/new.txt", "wb")
    with pytest.raises(IsADirectoryError):
        fs.open(f"{cid}/sub")


def test_put_stores_pins_and_refuses_a_chosen_path(fs, repo, tree):
    cid = fs.put(str(tree / "data.csv"), "cas://", cid_version=1)
    assert cid.startswith("bafk") and repo.pin_type(repo.exporter.resolve(cid).cid) == "recursive"
    with pytest.raises(InvalidOption):
        fs.put(str(tree / "data.csv"), "cas://somewhere/data.csv")
    with pytest.raises(FileNotFoundError):
        fs.put(str(tree / "missing"))


def test_put_reports_progress_to_an_fsspec_callback(fs, tree):
    from fsspec.callbacks import Callback

    cb = Callback()
    fs.put(str(tree / "sub" / "big.bin"), callback=cb)
    assert cb.value == 300 * 1024


def test_entry_point_fsspec_open_and_pandas(tmp_path, tree):
    """A fresh interpreter finds ``cas`` through the fsspec.specs entry point pyproject.toml declares
    (metadata written from it, as an install would), then fsspec.open and pandas read the CSV."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = meta["entry-points"]["fsspec.specs"]
    dist = tmp_path / "site" / f"casengine-{meta['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: casengine\nVersion: {meta['version']}\n")
    (dist / "entry_points.txt").write_text("[fsspec.specs]\n" + "".join(f"{k} = {v}\n" for k, v in spec.items()))
    repo_path = tmp_path / "repo"
    with Repo(repo_path) as r:
        cid = str(r.add(tree).cid)
    script = f"""
import fsspec, pandas
with fsspec.open("cas://{cid}/data.csv", "rt") as f:
    print(f.readline().strip())
df = pandas.read_csv("cas://{cid}/data.csv")
print(df["value"].sum(), list(df["name"]))
print(type(fsspec.filesystem("cas")).__module__)
"""
    env = dict(os.environ, CASENGINE_REPO=str(repo_path),
               PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["name,value", "3 ['alpha', 'beta']", "casengine.fsspec"]


# -- fsspec's own abstract tests -------------------------------------------------------------------
class TestCASGet(AbstractFixtures, AbstractGetTests):
    """fsspec's get tests on cas://: each scenario is built on the local disk and stored by put()."""

    @pytest.fixture
    def fs(self, tmp_path):
        with Repo(tmp_path / "abstract-repo") as r:
            yield CASFileSystem(r, skip_instance_cache=True)

    @pytest.fixture
    def fs_join(self):
        return lambda *parts: "/".join(parts)

    @pytest.fixture
    def fs_path(self):
        return ""

    def _stored(self, fs, tmp_path, build) -> str:
        from fsspec.implementations.local import LocalFileSystem

        local = tmp_path / "scenario"
        local.mkdir()
        return fs.put(build(LocalFileSystem(auto_mkdir=True), os.path.join, str(local)))

    @pytest.fixture
    def fs_bulk_operations_scenario_0(self, fs, tmp_path):
        return self._stored(fs, tmp_path, self._bulk_operations_scenario_0)

    @pytest.fixture
    def fs_glob_edge_cases_files(self, fs, tmp_path):
        return self._stored(fs, tmp_path, self._glob_edge_cases_files)

    @pytest.fixture
    def fs_dir_and_file_with_same_name_prefix(self, fs, tmp_path):
        return self._stored(fs, tmp_path, self._dir_and_file_with_same_name_prefix)

    @pytest.fixture
    def fs_10_files_with_hashed_names(self, fs, tmp_path):
        return self._stored(fs, tmp_path, self._10_files_with_hashed_names)

    def test_get_directory_recursive(self, fs, tmp_path, local_fs, local_join, local_target):
        """fsspec's test with its source stored by put() instead of fs.mkdir/fs.touch."""
        (tmp_path / "tree" / "src").mkdir(parents=True)
        (tmp_path / "tree" / "src" / "file").touch()
        src = fs.put(str(tmp_path / "tree")) + "/src"
        target = local_target

        assert not local_fs.exists(target)
        for loop in range(2):  # without a slash: the second get lands inside the target
            fs.get(src, target, recursive=True)
            assert local_fs.isfile(local_join(target, "file"))
            assert local_fs.exists(local_join(target, "src")) == (loop == 1)
        assert local_fs.isfile(local_join(target, "src", "file"))
        local_fs.rm(target, recursive=True)

        for _ in range(2):  # with a slash: the contents land in the target both times
            fs.get(src + "/", target, recursive=True)
            assert local_fs.isfile(local_join(target, "file"))
            assert not local_fs.exists(local_join(target, "src"))
