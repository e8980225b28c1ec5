"""How much each of Kubo's chunkers deduplicates a set of revisions (files or model directories).

Every path is cut with each chunker exactly as ``add`` cuts it, and each chunk named by the
multihash of its raw leaf (what ``--raw-leaves``/``--nocopy`` stores; a dag-pb leaf wraps the same
bytes, so it dedups alike). Per chunker: bytes in all, bytes unique (what a store keeps), and
for each path the bytes it adds that the paths before it lacked. Adding with the recommended
spec gives Kubo's CIDs because it is one of Kubo's own chunkers.

>>> report = analyse([b"a" * 300_000, b"a" * 300_000 + b"b"], ["size-262144"])
>>> report.results[0].new, report.recommended
([300000, 37857], 'size-262144')
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

from .chunker import from_spec
from .chunker.reader import WindowReader
from .dag import multihash
from .dag.cid import CidBuilder
from .dag.file import FileWriter, encode_leaves
from .dag.unixfs import DataType

#: The chunkers compared, Kubo's default first: fixed 256 KiB and 1 MiB (the unixfs-v1-2025
#: profile), buzhash, rabin at Kubo's default sizes, and two small rabin specs (~64 KiB, Xet's
#: chunk size, and ~16 KiB).
SPECS = ("size-262144", "size-1048576", "buzhash", "rabin", "rabin-16384-65536-131072",
         "rabin-4096-16384-65536")
#: What one more block costs beyond its bytes, for the recommendation: its link in a parent
#: node (~40 bytes), its key and record in the store (~100 bytes).
BLOCK_OVERHEAD = 140
#: A spec within this fraction of the cheapest is as good; the first such in SPECS is recommended
#: (bigger chunks: fewer blocks, faster adds and reads).
TOLERANCE = 0.01


@dataclass
class ChunkerResult:
    spec: str
    total: int = 0                     # bytes of every path
    unique: int = 0                    # bytes of distinct chunks
    chunks: int = 0                    # chunks cut
    unique_chunks: int = 0
    new: list[int] = field(default_factory=list)   # per path: bytes of chunks no earlier path had
    seconds: float = 0.0

    @property
    def shared(self) -> int:
        return self.total - self.unique

    @property
    def cost(self) -> int:
        """Bytes a store would hold: unique chunks plus each one's overhead."""
        return self.unique + BLOCK_OVERHEAD * self.unique_chunks

    def json(self, sizes: list[int]) -> dict:
        return {"chunker": self.spec, "bytes": self.total, "unique_bytes": self.unique,
                "shared_bytes": self.shared, "chunks": self.chunks, "unique_chunks": self.unique_chunks,
                "avg_chunk": self.total // self.chunks if self.chunks else 0,
                "new_bytes": self.new, "new_fraction": [n / s if s else 0.0 for n, s in zip(self.new, sizes)],
                "seconds": round(self.seconds, 3),
                "mb_per_s": round(self.total / self.seconds / 1e6, 1) if self.seconds else None}


@dataclass
class Report:
    paths: list[str]
    sizes: list[int]
    results: list[ChunkerResult]

    @property
    def recommended(self) -> str:
        best = min(r.cost for r in self.results)
        return next(r.spec for r in self.results if r.cost <= best * (1 + TOLERANCE))

    def json(self) -> dict:
        return {"paths": self.paths, "sizes": self.sizes, "chunkers": [r.json(self.sizes) for r in self.results],
                "recommended": self.recommended}


Source = str | os.PathLike | bytes


def files_of(source: Source) -> list[str]:
    """A file, or every regular file under a directory, in byte order of their relative paths."""
    path = os.fspath(source)
    if not os.path.isdir(path):
        return [path]
    found = [os.path.join(root, name) for root, _, names in os.walk(path) for name in names]
    return sorted((f for f in found if os.path.isfile(f) and not os.path.islink(f)),
                  key=lambda f: os.fsencode(os.path.relpath(f, path)))


def _streams(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
        return
    for name in files_of(source):
        with open(name, "rb", buffering=0) as f:
            yield f


def _chunk_digests(stream: BinaryIO, spec: str) -> Iterator[tuple[bytes, int]]:
    """(multihash, size) of each raw leaf *spec* cuts from *stream*, hashed in parallel."""
    writer = FileWriter(CidBuilder(1, multihash.SHA2_256), True, DataType.FILE, None)
    for ref in encode_leaves(writer, iter(WindowReader(stream, from_spec(spec)))):
        yield ref.cid.multihash, ref.filesize


def analyse(sources: Iterable[Source], specs: Iterable[str] = SPECS) -> Report:
    """Cut every source with every spec; the sources are revisions, in order."""
    sources = list(sources)
    names = [os.fspath(s) if not isinstance(s, (bytes, bytearray, memoryview)) else f"<{len(s)} bytes>"
             for s in sources]
    results = []
    sizes: list[int] = []
    for spec in specs:
        from_spec(spec)  # a bad spec fails before any reading
        result, seen = ChunkerResult(spec), set()
        started = time.perf_counter()
        for source in sources:
            new = 0
            for stream in _streams(source):
                for digest, size in _chunk_digests(stream, spec):
                    result.total += size
                    result.chunks += 1
                    if digest not in seen:
                        seen.add(digest)
                        new += size
                        result.unique_chunks += 1
            result.new.append(new)
        result.seconds = time.perf_counter() - started
        result.unique = sum(result.new)
        results.append(result)
        if not sizes:
            sizes = [_size(s) for s in sources]
    return Report(names, sizes, results)


def _size(source: Source) -> int:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    return sum(os.path.getsize(f) for f in files_of(source))
