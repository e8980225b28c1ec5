"""File DAG layouts: how leaves are grouped under parent nodes (boxo importer/balanced, trickle).

Both consume leaves as a stream, so a file of any size needs memory only for the open
nodes on the current path (at most max_links references per level).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

from ..errors import InvalidOption
from .file import DagRef, FileWriter
from .unixfs import DataType

# Hash-affecting constants (boxo v0.11 helpers.DefaultLinksPerBlock, trickle depthRepeat):
# changing them changes CIDs. The file DAG width is an option (--max-file-links).
DEFAULT_MAX_LINKS = 174
TRICKLE_DEPTH_REPEAT = 4


class Layout(ABC):
    #: UnixFS type boxo gives dag-pb leaves in this layout.
    leaf_type: DataType

    #: the narrowest node this layout can build
    min_links = 1

    def __init__(self, max_links: int = DEFAULT_MAX_LINKS):
        if max_links < self.min_links:
            raise InvalidOption(f"max-file-links must be at least {self.min_links}, got {max_links}")
        self.max_links = max_links

    @abstractmethod
    def build(self, leaves: Iterator[DagRef], writer: FileWriter) -> DagRef:
        """Link all *leaves* into one DAG and return its root."""


class Balanced(Layout):
    """Every internal node full except along the right edge; one leaf alone is the root.

    boxo builds it top-down, deepening the root as data arrives; grouping bottom-up in
    runs of max_links, and closing a level only when more data follows, gives the same tree.
    """

    leaf_type = DataType.FILE
    min_links = 2   # with 1, boxo deepens the tree forever (Kubo 0.43.1 hangs on --max-file-links=1)

    def build(self, leaves: Iterator[DagRef], writer: FileWriter) -> DagRef:
        levels: list[list[DagRef]] = [[]]
        for leaf in leaves:
            self._push(levels, 0, leaf, writer)
        if not levels[0]:
            return writer.empty_leaf()
        depth = 0
        while depth < len(levels) - 1 or len(levels[depth]) > 1:
            node, levels[depth] = writer.parent(levels[depth]), []
            self._push(levels, depth + 1, node, writer)
            depth += 1
        return levels[depth][0]

    def _push(self, levels: list[list[DagRef]], depth: int, ref: DagRef, writer: FileWriter) -> None:
        if depth == len(levels):
            levels.append([])
        level = levels[depth]
        if len(level) == self.max_links:  # full, and more follows: close it one level up
            self._push(levels, depth + 1, writer.parent(level), writer)
            levels[depth] = level = []
        level.append(ref)


class _Lookahead:
    """An iterator that can tell whether anything is left (boxo's db.Done())."""

    _END = object()

    def __init__(self, it: Iterator[DagRef]):
        self._it = it
        self._next = next(it, self._END)

    def done(self) -> bool:
        return self._next is self._END

    def take(self) -> DagRef:
        item, self._next = self._next, next(self._it, self._END)
        return item


class Trickle(Layout):
    """boxo's trickle DAG: a layer of leaves, then repeated subtrees of growing depth."""

    leaf_type = DataType.RAW

    def __init__(self, max_links: int = DEFAULT_MAX_LINKS, depth_repeat: int = TRICKLE_DEPTH_REPEAT):
        super().__init__(max_links)
        self.depth_repeat = depth_repeat

    def build(self, leaves: Iterator[DagRef], writer: FileWriter) -> DagRef:
        return self._fill(_Lookahead(leaves), writer, max_depth=None)

    def _fill(self, it: _Lookahead, writer: FileWriter, max_depth: int | None) -> DagRef:
        children: list[DagRef] = []
        while len(children) < self.max_links and not it.done():
            children.append(it.take())
        depth = 1
        while (max_depth is None or depth < max_depth) and not it.done():
            for _ in range(self.depth_repeat):
                if it.done():
                    break
                children.append(self._fill(it, writer, depth))
            depth += 1
        return writer.parent(children)
