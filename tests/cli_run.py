"""casengine's CLI run inside the test process, as the tests that compare its output call it."""
from __future__ import annotations

import os
import select
import time
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


def read_terminal(master: int, seconds: float = 60) -> tuple[bytes, bool]:
    """What a pseudo-terminal's other side showed until its last writer closed it, read for at most
    *seconds*; closes *master*. Returns the bytes and whether it closed in time."""
    shown, deadline = b"", time.monotonic() + seconds
    closed = False
    while select.select([master], [], [], max(0, deadline - time.monotonic()))[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            closed = True
            break
        if not chunk:
            closed = True
            break
        shown += chunk
    os.close(master)
    return shown, closed
