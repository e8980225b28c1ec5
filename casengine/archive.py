"""``ipfs get --archive``: a UnixFS DAG as the tar stream Kubo 0.43.1 writes.

Kubo hands the node to boxo's ``files.TarWriter`` (a directory's header, then its entries in link
order, depth first, a HAMT's too; modes and mtimes from UnixFS 1.5 metadata, else 0755/0644/0777 and the time
of writing) over Go's ``archive/tar`` with no format asked for, so each header is USTAR when USTAR
can hold it (a long ASCII path split into prefix and name) and PAX otherwise (non-ASCII or
overlong paths and link targets, sizes of 8 GiB or more, mtimes before 1970), with mtimes rounded
to the second, owner 0:0 and no user names; the archive ends with two zero blocks and no record
padding. Byte for byte the same as Kubo's but for the times it makes up.
"""

from __future__ import annotations

import os
import time
from contextlib import closing
from typing import TYPE_CHECKING, Iterator

from .dag.meta import stored_mode, stored_mtime_ns
from .dag.unixfs import DataType
from .errors import UnixFSError, UnsafePath
from .exporter import MAX_DEPTH
from .fsutil import check_name

if TYPE_CHECKING:
    from .exporter import Exporter, Node

BLOCK = 512
_NS = 1_000_000_000
_DEFAULT_MODES = {DataType.DIRECTORY: 0o755, DataType.HAMT_SHARD: 0o755, DataType.SYMLINK: 0o777}
_KINDS = {DataType.DIRECTORY: b"5", DataType.HAMT_SHARD: b"5", DataType.SYMLINK: b"2"}


def _ascii(s: bytes) -> bool:
    return all(0 < c < 0x80 for c in s)


def _fits_octal(x: int, size: int) -> bool:
    return 0 <= x < 1 << (size - 1) * 3


def _put_string(block: bytearray, at: int, size: int, s: bytes) -> None:
    """Go's formatter.formatString: *s* cut to the field, NUL-terminated when shorter, and an
    overlong path that the cut leaves ending in '/' NUL-terminated before its slashes."""
    block[at:at + min(len(s), size)] = s[:size]
    if len(s) > size and s[size - 1:size] == b"/":
        block[at + len(s[:size - 1].rstrip(b"/"))] = 0


def _put_octal(block: bytearray, at: int, size: int, x: int) -> None:
    """Go's formatter.formatOctal: zero-padded octal and a NUL; 0 when *x* does not fit."""
    _put_string(block, at, size, b"%0*o" % (size - 1, x if _fits_octal(x, size) else 0))


def _finish(block: bytearray) -> bytes:
    """The USTAR magic and the checksum (six octal digits, NUL, space), as Go's setFormat."""
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's splitUSTARPath: (prefix, name) of a long ASCII path, cut at a '/'."""
    length = len(name)
    if length <= 100 or not _ascii(name):
        return None
    if length > 156:
        length = 156
    elif name.endswith(b"/"):
        length -= 1
    i = name.rfind(b"/", 0, length)
    if i <= 0 or len(name) - i - 1 > 100 or len(name) - i - 1 == 0 or i > 155:
        return None
    return name[:i], name[i + 1:]


def pax_record(key: str, value: bytes) -> bytes:
    """Go's formatPAXRecord: ``"%d %s=%s\\n"`` whose length counts its own digits."""
    body = b" %s=%s\n" % (key.encode(), value)
    size = len(body) + len(str(len(body)))
    if len(str(size)) + len(body) != size:
        size = len(str(size)) + len(body)
    return b"%d" % size + body


def header(name: bytes, kind: bytes, mode: int, size: int, mtime: int, linkname: bytes = b"") -> bytes:
    """The block(s) Go's ``tar.Writer.WriteHeader`` writes for one entry (Format unknown)."""
    pax: dict[str, bytes] = {}
    ustar = True
    split = None
    if not _ascii(name) or len(name) > 100:
        pax["path"] = name
        split = split_ustar(name)
        ustar = split is not None
    if not _ascii(linkname) or len(linkname) > 100:
        pax["linkpath"], ustar = linkname, False
    for key, value in (("size", size), ("mtime", mtime)):
        if not _fits_octal(value, 12):
            pax[key], ustar = b"%d" % value, False
    if ustar:
        prefix, name = split or (b"", name)
        return _main_block(name, kind, mode, size, mtime, linkname, prefix)
    if any(b"\0" in v for v in pax.values()):
        shown = "; ".join(f"{k} = {v!r}" for k, v in pax.items())
        raise UnsafePath(f"archive/tar: invalid PAX record: {shown}")
    data = b"".join(pax_record(k, pax[k]) for k in sorted(pax))
    head, _, tail = name.rpartition(b"/")
    pax_name = bytes(c for c in os.path.normpath(b"/".join([*([head] if head else []), b"PaxHeaders.0", tail]))
                     if 0 < c < 0x80)[:100].rstrip(b"/")
    block = bytearray(BLOCK)
    _put_string(block, 0, 100, pax_name)
    for at, width, value in ((100, 8, 0), (108, 8, 0), (116, 8, 0), (124, 12, len(data)), (136, 12, 0)):
        _put_octal(block, at, width, value)
    block[156:157] = b"x"
    main = _main_block(bytes(c for c in name if 0 < c < 0x80), kind, mode, size, mtime,
                       bytes(c for c in linkname if 0 < c < 0x80))
    return _finish(block) + data + bytes(-len(data) % BLOCK) + main


def _main_block(name: bytes, kind: bytes, mode: int, size: int, mtime: int, linkname: bytes,
                prefix: bytes = b"") -> bytes:
    block = bytearray(BLOCK)
    _put_string(block, 0, 100, name)
    for at, width, value in ((100, 8, mode), (108, 8, 0), (116, 8, 0), (124, 12, size), (136, 12, mtime),
                             (329, 8, 0), (337, 8, 0)):
        _put_octal(block, at, width, value)
    block[156:157] = kind
    _put_string(block, 157, 100, linkname)
    _put_string(block, 345, 155, prefix)
    return _finish(block)


def _seconds(node: "Node") -> int:
    """The entry's mtime as Go rounds it (to the nearest second, halves up); now when none is stored."""
    ns = stored_mtime_ns(node.fs)
    return ((time.time_ns() if ns is None else ns) + _NS // 2) // _NS


def _entries(ex: "Exporter", path: str, node: "Node") -> Iterator[tuple[str, "Node"]]:
    for name, link in ex.links(node):  # a HAMT depth first, as boxo's ForEachLink
        yield f"{path}/{check_name(name)}", ex.node(link.cid)


def tar_stream(ex: "Exporter", root: "Node", name: str) -> Iterator["bytes | memoryview"]:
    """The tar of *root* named *name* (and its entries *name*/...), piece by piece; file pieces
    may be views into the store, to be written out before the next is asked for."""
    stack = [iter([(name, root)])]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        path, node = item
        raw = path.encode("utf-8", "surrogateescape")
        mode = stored_mode(node.fs) or _DEFAULT_MODES.get(node.type, 0o644)
        if node.is_dir:
            if len(stack) > MAX_DEPTH:   # the depth get refuses (stack: the root's level, then one per directory)
                raise UnixFSError(f"directory tree deeper than {MAX_DEPTH} levels")
            yield header(raw, b"5", mode, 0, _seconds(node))
            stack.append(_entries(ex, path, node))
        elif node.type == DataType.SYMLINK:
            yield header(raw, b"2", mode, 0, _seconds(node), node.fs.data or b"")
        else:
            size = node.file_size()
            yield header(raw, b"0", mode, size, _seconds(node))
            with closing(ex.cat(node, views=True)) as pieces:
                yield from pieces
            yield bytes(-size % BLOCK)
    yield bytes(2 * BLOCK)
