"""The windowed reader: every byte once, in order, whatever the stream and wherever windows end."""

from __future__ import annotations

import io
import os

import pytest

from casengine.chunker import from_spec
from casengine.chunker.reader import WindowReader


class ReadOnly:
    """A stream with read() only (no readinto, no fileno), like some wrapped sockets."""

    def __init__(self, data: bytes, step: int = 7919):
        self._buf, self._step = io.BytesIO(data), step

    def read(self, n: int) -> bytes:
        return self._buf.read(min(n, self._step))


def read_all(stream, spec: str, window: int) -> tuple[bytes, int]:
    chunks, windows = [], 0
    for w in WindowReader(stream, from_spec(spec), window):
        windows += 1
        chunks += [bytes(c) for c in w.chunks]
        w.release()
    return b"".join(chunks), windows


@pytest.mark.parametrize("spec", ["size-1000", "size-4096", "rabin-64-128-256", "buzhash"])
@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 1])
def test_every_byte_once_at_window_edges(tmp_path, spec, size):
    data = os.urandom(size * (200 if spec == "buzhash" else 1))
    path = tmp_path / "f"
    path.write_bytes(data)
    with open(path, "rb", buffering=0) as f:
        assert read_all(f, spec, 4096)[0] == data
    assert read_all(io.BytesIO(data), spec, 4096)[0] == data
    assert read_all(ReadOnly(data), spec, 4096)[0] == data


def test_a_file_of_exactly_one_window_needs_one_window(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(os.urandom(4096))
    with open(path, "rb", buffering=0) as f:
        assert read_all(f, "size-1024", 4096)[1] == 1


def test_a_file_that_grows_while_read_is_read_to_its_end(tmp_path):
    data = os.urandom(50_000)
    path = tmp_path / "f"
    path.write_bytes(data[:1000])
    with open(path, "rb", buffering=0) as f:
        reader = iter(WindowReader(f, from_spec("size-1000"), 4096))
        with open(path, "ab") as g:
            g.write(data[1000:])
        got = b"".join(bytes(c) for w in reader for c in w.chunks)
    assert got == data


@pytest.mark.parametrize("path", ["/proc/version", "/proc/filesystems"])
def test_a_file_that_reports_size_0_but_has_bytes_is_read_whole(path):
    """procfs files stat as regular files of size 0 (issue 17 item 2: the 0-byte first buffer
    went to the free list and was reused for the bytes that followed)."""
    with open(path, "rb") as f:
        expected = f.read()
    assert expected and os.stat(path).st_size == 0
    with open(path, "rb", buffering=0) as f:
        assert read_all(f, "size-262144", 4096)[0] == expected
