"""CAR files (Content Addressable aRchives): CARv1 written as ``ipfs dag export`` writes it, v1/v2 read.

A CARv1 is a varint-framed dag-cbor header ``{"roots": [...], "version": 1}`` followed by
varint-framed ``CID bytes + block`` sections. Export walks the DAG depth-first, each block
once, streaming; import checks every block's hash before it is stored, and pins a root
only once its whole DAG is present (``ipfs dag import``'s rules).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator

from .dag import cbor, multihash, varint
from .dag.cid import Cid
from .dag.links import links
from .errors import CarError, CasError, CidNotFound, DecodeError, InvalidOption
from .exporter import Exporter
from .progress import Progress, counting
from .stores.base import BatchWriter, Blockstore, verify

if TYPE_CHECKING:
    from .repo import Repo

_V2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")
#: Sections and headers larger than these are refused instead of allocated (go-car v2's
#: DefaultMaxAllowedSectionSize and DefaultMaxAllowedHeaderSize; Kubo's own blocks are <= 2 MiB).
MAX_SECTION = 8 << 20
MAX_HEADER = 32 << 20
#: Kubo 0.43.1's SoftBlockLimit (the bitswap spec's 2 MiB): `block put` and `dag import` refuse
#: bigger blocks unless --allow-big-block.
BLOCK_LIMIT = 2 << 20
BIG_BLOCK = ("produced block is over 2MiB: big blocks can't be exchanged with other peers. consider using "
             "UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override")

Source = str | os.PathLike | BinaryIO


def header(roots: Iterable[Cid]) -> bytes:
    """The varint-framed dag-cbor header ``{"roots": [...], "version": 1}`` (keys in dag-cbor order),
    for roots of any codec and hash."""
    links = [cbor.head(6, cbor.LINK_TAG) + _bytes(b"\x00" + bytes(r)) for r in roots]
    body = (cbor.head(5, 2) + _text("roots") + cbor.head(4, len(links)) + b"".join(links)
            + _text("version") + cbor.head(0, 1))
    return varint.encode(len(body)) + body


def _bytes(data: bytes) -> bytes:
    return cbor.head(2, len(data)) + data


def _text(text: str) -> bytes:
    data = text.encode()
    return cbor.head(3, len(data)) + data


def section(cid: Cid, block: bytes) -> bytes:
    c = bytes(cid)
    return varint.encode(len(c) + len(block)) + c + block


def write(roots: list[Cid], blocks: Iterable[tuple[Cid, bytes]]) -> Iterator[bytes]:
    """The CARv1 byte stream, piece by piece."""
    yield header(roots)
    for cid, block in blocks:
        yield section(cid, block)


def export(store: Blockstore, root: Cid, progress: Progress | None = None) -> Iterator[bytes]:
    """``ipfs dag export ROOT``: the DAG's CARv1, blocks depth-first each once, every block verified.

    A missing root raises CidNotFound here, before anything is produced; a block missing
    further down raises it mid-stream, after the pieces before it (as Kubo fails).
    """
    if not store.has(root):
        raise CidNotFound(root)
    return counting(write([root], Exporter(store).walk(root)), progress, len)


class CarReader:
    """Iterate over the (CID, block) sections of a CARv1 or CARv2 stream; ``roots`` is read first.

    ``offset`` counts the bytes consumed so far (for progress).
    """

    def __init__(self, stream: BinaryIO, *, verify_blocks: bool = True):
        self.stream = stream
        self.verify_blocks = verify_blocks
        self.offset = 0
        self._remaining: int | None = None
        first = self._read_varint()
        if first is None:
            raise CarError("empty CAR file")
        head = self._read_header(first)
        if varint.encode(first) + head == _V2_PRAGMA:
            self._open_v2()
            start = self.offset
            first = self._read_varint()
            if first is None:
                raise CarError("CARv2 without a CARv1 payload")
            head = self._read_header(first)
            self._remaining -= self.offset - start
        self.roots = self._parse_header(head)

    def _read_header(self, n: int) -> bytes:
        if n > MAX_HEADER:
            raise CarError(f"CAR header of {n} bytes exceeds the {MAX_HEADER} byte limit")
        return self._read_exact(n)

    def _read_exact(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise CarError("truncated CAR file")
        self.offset += n
        return data

    def _read_varint(self) -> int | None:
        """A varint from the stream, or None at a clean end of file."""
        buf = bytearray()
        while True:
            b = self.stream.read(1)
            if not b:
                if buf:
                    raise CarError("truncated varint in CAR file")
                return None
            buf += b
            self.offset += 1
            if b[0] < 0x80:
                return varint.decode(bytes(buf), 0, CarError)[0]
            if len(buf) > 9:
                raise CarError("varint too long in CAR file")

    def _open_v2(self) -> None:
        fixed = self._read_exact(40)
        offset = int.from_bytes(fixed[16:24], "little")
        size = int.from_bytes(fixed[24:32], "little")
        skip = offset - len(_V2_PRAGMA) - 40
        if skip < 0:
            raise CarError("CARv2 data offset inside its header")
        while skip:  # read through the padding in bounded pieces: the offset is the file's word only
            skip -= len(self._read_exact(min(skip, 1 << 20)))
        self._remaining = size

    @staticmethod
    def _parse_header(head: bytes) -> list[Cid]:
        try:
            value = cbor.decode(head)
        except DecodeError as e:
            raise CarError(f"invalid CAR header: {e}") from None
        if (not isinstance(value, dict) or type(value.get("version")) is not int or value["version"] != 1
                or not isinstance(value.get("roots"), list)):
            raise CarError("CAR header is not {roots: [...], version: 1}")
        if not all(isinstance(r, Cid) for r in value["roots"]):
            raise CarError("CAR header root that is not a CID link")
        return value["roots"]

    def __iter__(self) -> Iterator[tuple[Cid, bytes]]:
        while self._remaining is None or self._remaining > 0:
            start = self.offset
            n = self._read_varint()
            if n is None:
                if self._remaining:
                    raise CarError("CARv2 payload shorter than its header says")
                return
            if n == 0:  # some writers pad with zero-length sections
                continue
            if n > MAX_SECTION:
                raise CarError(f"CAR section of {n} bytes exceeds the {MAX_SECTION} byte limit")
            data = self._read_exact(n)
            if self._remaining is not None:
                self._remaining -= self.offset - start
            try:
                cid, end = Cid.read(data, 0)
            except DecodeError as e:
                raise CarError(f"invalid CID in CAR section: {e}") from None
            block = data[end:]
            if self.verify_blocks:
                verify(cid, block)
            yield cid, block


@dataclass
class CarImport:
    """What ``dag import`` did: roots declared by the headers (first seen first), blocks stored,
    and for each root tried, Kubo's ``PinErrorMsg`` ("" when pinned)."""

    roots: list[Cid] = field(default_factory=list)
    blocks: int = 0
    bytes: int = 0
    pins: dict[Cid, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[Cid]:
        return [cid for cid, error in self.pins.items() if error]


def _open(source: Source) -> tuple[BinaryIO, bool]:
    if hasattr(source, "read"):
        return source, False
    return open(source, "rb"), True


def load(store: Blockstore, sources: Iterable[Source], progress: Progress | None = None, *,
         allow_big_block: bool = False) -> CarImport:
    """Store every block of every CAR in *sources* (hash-checked, decoded as its codec says, written
    in batches); pin nothing. As Kubo, a block over BLOCK_LIMIT (unless *allow_big_block*), of a
    hash function Kubo does not allow, or that does not decode fails the import at that block.

    A bad CAR raises before its remaining blocks are read; blocks already stored stay (they are
    valid, and unpinned).
    """
    result = CarImport()
    seen: set[Cid] = set()
    batch = BatchWriter(store)
    for source in sources:
        stream, owned = _open(source)
        try:
            try:
                reader = CarReader(stream, verify_blocks=False)
            except CarError as e:  # its start is no CAR header: garbage, or another format
                name = os.fspath(source) if owned else getattr(source, "name", "the stream")
                raise CarError(f"{name} is not a CAR file ({e})") from None
            for root in reader.roots:
                if root not in seen:
                    seen.add(root)
                    result.roots.append(root)
            done = 0
            for cid, block in reader:
                try:
                    if len(block) > BLOCK_LIMIT and not allow_big_block:
                        raise InvalidOption(BIG_BLOCK)
                    links(cid, block)  # Kubo decodes every block it imports: none is taken for a leaf
                    multihash.check(cid.multihash)
                    verify(cid, block)
                except (DecodeError, InvalidOption) as e:
                    raise CarError(f'import failed at block "{cid}": {e}') from None
                batch(cid, block)
                result.blocks += 1
                result.bytes += len(block)
                if progress:
                    progress(reader.offset - done)
                    done = reader.offset
        finally:
            if owned:
                stream.close()
    batch.flush()
    return result


def import_car(repo: "Repo", sources: Iterable[Source], *, pin_roots: bool = True,
               progress: Progress | None = None, allow_big_block: bool = False) -> CarImport:
    """``ipfs dag import``: store the blocks of all *sources*, then pin each root whose DAG is complete.

    The GC lock is held throughout, so no block imported here is collected before its root is
    pinned. A root whose DAG is incomplete (or not there at all) is not pinned; its error is in
    ``pins``. Pins are only tried after every CAR was read well, so a bad CAR pins nothing.
    """
    with repo.writing():
        result = load(repo.store, sources, progress, allow_big_block=allow_big_block)
        if pin_roots:
            for root in result.roots:
                try:
                    repo.pin(root)
                    result.pins[root] = ""
                except CasError as e:
                    result.pins[root] = str(e)
    return result
