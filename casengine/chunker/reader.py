"""Read a stream into reusable windows and cut each window into chunks.

Memory stays bounded: a handful of windows of a few MiB are recycled for the whole stream,
whatever its size, and chunks are memoryviews into them (no copy). A window is reused only
after the consumer releases it, so its chunks stay valid while other threads hash them.
"""

from __future__ import annotations

import io
import os
import stat
from typing import BinaryIO, Iterator

from . import Chunker, FixedSize

WINDOW = 4 << 20


class Window:
    """Chunks cut from one read buffer; call :meth:`release` when they are no longer used."""

    __slots__ = ("chunks", "nbytes", "_reader", "_buffer")

    def __init__(self, reader: "WindowReader", buffer: bytearray, chunks: list[memoryview], nbytes: int):
        self._reader, self._buffer = reader, buffer
        self.chunks = chunks
        self.nbytes = nbytes

    def release(self) -> None:
        self.chunks = []
        if self._buffer is not None and len(self._buffer) == self._reader.window:
            self._reader._free.append(self._buffer)
        self._buffer = None


class WindowReader:
    """Iterate over :class:`Window` objects covering *stream* in order."""

    def __init__(self, stream: BinaryIO, chunker: Chunker, window: int = WINDOW):
        size = max(window, 4 * chunker.max_size)
        if isinstance(chunker, FixedSize):  # whole chunks per window: nothing carried over
            size = max(chunker.size, size // chunker.size * chunker.size)
        self.stream, self.chunker, self.window = stream, chunker, size
        # Bytes expected (regular files): a small file gets a buffer its size, not a whole window,
        # and once they are all read a one-byte probe finds the end, instead of a fresh window.
        self._left = _bytes_left(stream)
        self._free: list[bytearray] = []
        self._carry = b""
        self._eof = False

    def _fill(self, buf: bytearray) -> int:
        """Put the carried tail then fresh bytes into *buf*; return how many bytes it holds.
        Sets ``_eof`` when the stream has no more."""
        view = memoryview(buf)
        n = len(self._carry)
        view[:n] = self._carry
        self._carry = b""
        readinto = getattr(self.stream, "readinto", None)
        while n < len(buf):
            if readinto is not None:
                got = readinto(view[n:])
            else:  # a stream with read() only
                data = self.stream.read(len(buf) - n)
                got = len(data)
                view[n:n + got] = data
            if not got:
                self._eof = True
                return n
            n += got
            if self._left is not None:
                self._left -= got
        if self._left is not None and self._left <= 0:
            probe = self.stream.read(1)
            if probe:  # the file grew: read on, in whole windows
                self._carry, self._left = probe, None
            else:
                self._eof = True
        return n

    def _wanted(self) -> int:
        """Size for a new buffer: a window, or less when fewer bytes are left (last pieces, small files)."""
        if self._left is None:
            return self.window
        return min(self.window, len(self._carry) + self._left)

    def __iter__(self) -> Iterator[Window]:
        while not self._eof:
            buf = self._free.pop() if self._free else bytearray(self._wanted())
            n = self._fill(buf)
            view = memoryview(buf)[:n]
            chunks, start = [], 0
            for end in self.chunker.cuts(view, final=self._eof):
                chunks.append(view[start:end])
                start = end
            if start < n:  # an incomplete chunk: read on from it in the next window
                self._carry = bytes(view[start:])
            if chunks or n:
                yield Window(self, buf, chunks, start)
            elif len(buf) == self.window:  # a smaller buffer (a file that said it was empty) cannot hold a window
                self._free.append(buf)


def _bytes_left(stream: BinaryIO) -> int | None:
    """How many bytes a regular file or in-memory stream still holds, or None if unknowable."""
    try:
        if isinstance(stream, io.BytesIO):
            return len(stream.getbuffer()) - stream.tell()
        st = os.fstat(stream.fileno())
        return st.st_size - stream.tell() if stat.S_ISREG(st.st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None
