"""Go's ``text/tabwriter`` as Kubo's ``ls`` uses it (pad character ' ', no flags), so columns come
out as Kubo's do in every case: a cell ends at a tab, a line's last cell is not aligned, a column
block is a run of lines with a cell in that column, a line of one cell flushes, and the text
between two 0xff bytes is one escaped run (Kubo prints a name's bytes that are not UTF-8 as they
are, so a name holding 0xff escapes the rest of its listing: its tabs and newlines pass through).
"""

from __future__ import annotations

_ESCAPE = 0xFF
_ENDS = (ord("\t"), ord("\v"), ord("\n"), ord("\f"))


def _runes(data: bytes) -> int:
    """utf8.RuneCount: a byte that starts no valid sequence counts as one."""
    return len(data.decode("utf-8", "surrogateescape"))


class TabWriter:
    """``tabwriter.NewWriter(out, minwidth, _, padding, ' ', 0)``; :attr:`out` collects the bytes."""

    def __init__(self, minwidth: int, padding: int = 1):
        self.minwidth, self.padding = minwidth, padding
        self.out = bytearray()
        self._reset()

    def _reset(self) -> None:
        self.buf, self.pos, self.size, self.width = bytearray(), 0, 0, 0
        self.escaping = False
        self.lines: list[list[tuple[int, int]]] = [[]]
        self.widths: list[int] = []

    def _append(self, text: bytes) -> None:
        self.buf += text
        self.size += len(text)

    def _update_width(self) -> None:
        self.width += _runes(bytes(self.buf[self.pos:]))
        self.pos = len(self.buf)

    def _terminate_cell(self) -> int:
        self.lines[-1].append((self.size, self.width))
        self.size = self.width = 0
        return len(self.lines[-1])

    def _end_escape(self) -> None:
        self._update_width()
        self.width -= 2  # the two 0xff bytes take no room
        self.escaping = False

    def write(self, data: bytes) -> None:
        n = 0
        for i, ch in enumerate(data):
            if self.escaping:
                if ch == _ESCAPE:
                    self._append(data[n:i + 1])
                    n = i + 1
                    self._end_escape()
            elif ch in _ENDS:
                self._append(data[n:i])
                self._update_width()
                n = i + 1
                cells = self._terminate_cell()
                if ch in (ord("\n"), ord("\f")):
                    self.lines.append([])
                    if ch == ord("\f") or cells == 1:  # a lone cell cannot shape later lines
                        self.flush()
            elif ch == _ESCAPE:
                self._append(data[n:i])
                self._update_width()
                n = i
                self.escaping = True
        self._append(data[n:])

    def flush(self) -> bytes:
        """Write out what is buffered; return all output so far."""
        if self.size > 0:
            if self.escaping:
                self._end_escape()
            self._terminate_cell()
        self._format(0, 0, len(self.lines))
        self._reset()
        return bytes(self.out)

    def _format(self, pos: int, line0: int, line1: int) -> int:
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            pos = self._write_lines(pos, line0, this)
            line0, width = this, self.minwidth
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, self.lines[this][column][1] + self.padding)
                this += 1
            self.widths.append(width)
            pos = self._format(pos, line0, this)
            self.widths.pop()
            line0 = this
        return self._write_lines(pos, line0, line1)

    def _write_lines(self, pos: int, line0: int, line1: int) -> int:
        for i in range(line0, line1):
            for j, (size, width) in enumerate(self.lines[i]):
                self.out += self.buf[pos:pos + size]
                pos += size
                if j < len(self.widths):
                    self.out += b" " * (self.widths[j] - width)
            if i + 1 == len(self.lines):
                self.out += self.buf[pos:pos + self.size]
                pos += self.size
            else:
                self.out += b"\n"
        return pos
