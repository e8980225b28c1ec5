"""``casengine dedup``: bytes unique and shared between revisions under each Kubo chunker.

Truth for the claim that the recommended chunker keeps Kubo's CIDs: the Kubo 0.22 oracle adding
the revision with that --chunker.
"""

from __future__ import annotations

import json
import os
import random

from casengine.cli import main
from casengine.dedup import SPECS, analyse
from casengine.importer import Importer
from casengine.options import ImportOptions


def model(tensors: list[bytes], header: bytes) -> bytes:
    """A safetensors-like file: 8-byte header length, header, tensor bytes."""
    return len(header).to_bytes(8, "little") + header + b"".join(tensors)


def revisions(tmp_path):
    """A 12 MiB base of 48 tensors, and a revision whose header grew by 136 bytes (shifting every
    tensor) and whose every tenth tensor was retrained."""
    rng = random.Random(7)
    tensors = [rng.randbytes(256 << 10) for _ in range(48)]
    base = model(tensors, b'{"__metadata__":{"format":"pt"}}')
    changed = [rng.randbytes(len(t)) if i % 10 == 0 else t for i, t in enumerate(tensors)]
    rev = model(changed, b'{"__metadata__":{"format":"pt","note":"' + b"x" * 136 + b'"}}')
    (tmp_path / "a").write_bytes(base)
    (tmp_path / "b").write_bytes(rev)
    return tmp_path / "a", tmp_path / "b"


def test_content_defined_chunkers_survive_a_shifted_header(tmp_path, kubo):
    a, b = revisions(tmp_path)
    report = analyse([a, b])
    new = {r.spec: r.new[1] / report.sizes[1] for r in report.results}
    assert [r.spec for r in report.results] == list(SPECS)
    assert new["size-262144"] > 0.99 and new["size-1048576"] > 0.99   # every fixed chunk shifted
    assert 0.10 <= new[report.recommended] <= 0.15                    # a tenth changed: ~that much is new
    assert report.recommended not in ("size-262144", "size-1048576")
    for r in report.results:
        assert r.new[0] == report.sizes[0] and r.total == sum(report.sizes) and r.unique == sum(r.new)
        assert r.chunks >= r.unique_chunks > 0 and r.seconds > 0
    ours = Importer(None, ImportOptions(only_hash=True, chunker=report.recommended)).add_path(b).cid
    assert str(ours) == kubo.cid(str(b), chunker=report.recommended)


def test_one_file_without_repeats_keeps_the_default(tmp_path):
    (tmp_path / "f").write_bytes(os.urandom(3 << 20))
    assert analyse([tmp_path / "f"]).recommended == "size-262144"


def test_directories_are_revisions_and_json_names_the_recommendation(tmp_path, capsys):
    a, b = revisions(tmp_path)
    for name, src in (("r1", a), ("r2", b)):
        (tmp_path / name / "sub").mkdir(parents=True)
        os.link(src, tmp_path / name / "sub" / "model.safetensors")
        (tmp_path / name / "config.json").write_text('{"layers": 6}')
    assert main(["dedup", "--json", "-s", "size-262144", "-s", "rabin-16384-65536-131072",
                 str(tmp_path / "r1"), str(tmp_path / "r2")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recommended"] == "rabin-16384-65536-131072"
    assert [c["chunker"] for c in out["chunkers"]] == ["size-262144", "rabin-16384-65536-131072"]
    assert out["sizes"] == [a.stat().st_size + 13, b.stat().st_size + 13]
    assert out["chunkers"][0]["new_fraction"][1] > 0.99
    assert main(["dedup", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("chunker") and "recommended: --chunker=" in text
    assert main(["dedup", "-s", "size-0", str(a)]) == 1
