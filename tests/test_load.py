"""Load (issue 7, item 4), the small version CI runs: 4 processes x 200 mixed operations (add, cat,
pin, unpin, gc) on one LMDB repository, by bench/load.py's own generator (the full run is
``python bench/load.py``: 4 x 2,000). 0 errors; every pin the workers hold is there and nothing
else; all pinned content reads back as added and the store verifies; after unpin + gc the store
is back to its baseline (blocks and bytes, the byte counter agreeing with the blocks)."""
from __future__ import annotations

from bench_scripts import bench_script

load = bench_script("load")


def test_four_processes_of_mixed_operations_on_one_repo(tmp_path):
    result = load.run(workers=4, ops=200, seed=7, repo_path=tmp_path / "repo")
    assert result.errors == [], load.report(result)
    assert result.problems == [], load.report(result)
    assert sum(map(len, result.latency.values())) == 4 * 200
    assert all(result.latency[name] for name, _ in load.OPS), "every kind of operation ran"
    assert result.loaded.blocks > result.baseline.blocks and result.pins > 0
    assert (result.after.blocks, result.after.bytes) == (result.baseline.blocks, result.baseline.bytes)
