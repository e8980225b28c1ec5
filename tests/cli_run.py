"""casengine's CLI run inside the test process, as the tests that compare its output call it."""
from __future__ import annotations

from pathlib import Path

from casengine.cli import main


def run(capture, *argv: str) -> tuple:
    """``casengine ARGV...``: (exit code, stdout, stderr) as *capture* took them (capsys: text,
    capsysbinary: bytes)."""
    code = main(list(argv))
    out, err = capture.readouterr()
    return code, out, err


def file_with(tmp_path: Path, data: bytes, name: str = "f.bin") -> Path:
    """A file *name* under *tmp_path* holding *data*."""
    p = tmp_path / name
    p.write_bytes(data)
    return p
