"""Reading UnixFS back: resolve ``CID/a/b`` paths, ``cat`` with seeking, ``ls``, ``get``, block walks.

Nothing trusts what a DAG says about itself: sizes are checked against the bytes that
arrive (no allocation from a declared size), names are checked before they touch the file
system, and ``get`` writes only beneath its output path, never through a symlink.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass
from typing import Iterator

from . import ipldpath
from .dag import hamt, pb, unixfs
from .dag.cid import DAG_PB, RAW, Cid
from .dag.links import depth_first, links
from .dag.unixfs import DataType, UnixFSData
from .errors import CidNotFound, InvalidOption, IsADirectory, NotADirectory, UnixFSError, UnsafePath
from .dag.meta import stored_mode, stored_mtime_ns
from .fsutil import (DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, check_name, check_target, open_dir, remove,
                     restore_link_mtime, restore_meta)
from .progress import Progress, counting
from .stores.base import Blockstore

#: Deeper file DAGs and directory trees are refused: real ones are a handful of levels, hostile
#: ones could be anything (``get`` holds one open directory per level).
MAX_DEPTH = 256


@dataclass(frozen=True)
class Node:
    """A decoded block: a raw leaf (pb and fs None) or a dag-pb node with its UnixFS data."""

    cid: Cid
    block: bytes
    pb: pb.PBNode | None = None
    fs: UnixFSData | None = None

    @property
    def type(self) -> DataType:
        return DataType.RAW if self.fs is None else self.fs.type

    @property
    def is_dir(self) -> bool:
        return self.type in (DataType.DIRECTORY, DataType.HAMT_SHARD)

    @property
    def is_file(self) -> bool:
        return self.cid.codec == RAW or self.type in (DataType.FILE, DataType.RAW)

    def file_size(self) -> int:
        """Bytes of file content as the node declares them (checked when the content is read)."""
        if self.fs is None:
            return len(self.block)
        if self.fs.filesize is not None:
            return self.fs.filesize
        return len(self.fs.data or b"") + sum(self.fs.blocksizes)


@dataclass(frozen=True)
class Entry:
    """One directory entry, as ``ls`` shows it."""

    name: str
    cid: Cid
    size: int          # as Kubo's ls: file bytes for files, the UnixFS filesize field otherwise
    type: DataType | None   # None: a child that is not UnixFS (Kubo's ls shows type 0, size 0)
    target: str | None = None   # a symlink's target
    mode: int | None = None     # UnixFS 1.5 permission bits, None when not stored
    mtime_ns: int | None = None


class Exporter:
    """Reads UnixFS DAGs out of a block store (every block verified unless *verified* is False)."""

    def __init__(self, store: Blockstore, *, verified: bool = True):
        self.store = store
        self.verified = verified

    # -- nodes and paths --------------------------------------------------------------------------
    def node(self, cid: Cid) -> Node:
        return self._decode(cid, self.store.get(cid, verified=self.verified))

    def nodes(self, cids: list[Cid], *, views: bool = False) -> Iterator[Node]:
        """The nodes of *cids* in order, read ahead with their hashes checked on worker threads
        (with *views*, leaves may hold views into the store: see :meth:`cat`)."""
        for cid, block in zip(cids, self.store.get_many(cids, verified=self.verified, views=views)):
            yield self._decode(cid, block)

    @staticmethod
    def _decode(cid: Cid, block: bytes | memoryview) -> Node:
        if cid.codec == RAW:
            return Node(cid, block)
        if cid.codec != DAG_PB:
            raise UnixFSError(f"{cid} is {cid.codec_name}, not UnixFS (dag-pb or raw)")
        if isinstance(block, memoryview) and (data := pb.data_only(block)) is not None:
            return Node(cid, block, pb.PBNode([], data), unixfs.decode(data))  # a leaf: no copy
        node = pb.decode(block)
        return Node(cid, block, node, unixfs.decode(node.data))

    def resolve(self, path: "str | Cid | Node") -> Node:
        """The node at ``CID``, ``CID/a/b``, ``/ipfs/CID/a/b`` or ``ipfs://CID/a/b`` (a Node is returned as is)."""
        if isinstance(path, Node):
            return path
        if isinstance(path, Cid):
            return self.node(path)
        found = ipldpath.resolve(self, path)
        if found.unixfs:
            return found.node
        if found.rest:  # the path ends on a value inside a dag-cbor or dag-json block
            raise UnixFSError(f"unknown node type: {path} is a value inside {found.cid}, not a UnixFS node")
        return self.node(found.cid)  # not UnixFS: refused in the words every read uses

    def child(self, node: Node, name: str, path: object = None) -> Node:
        if not node.is_dir:
            raise NotADirectory(f"{node.cid} is not a directory (looking up {name!r})")
        link = None
        if node.type == DataType.DIRECTORY:
            link = next((lk for lk in node.pb.links if lk.name == name), None)
        else:
            shard, depth = node, 0
            while link is None:
                found = hamt.child_for(shard.pb, shard.fs, name, depth)
                if found is None:
                    break
                link, is_shard = found
                if is_shard:
                    shard, depth, link = self.sub_shard(link), depth + 1, None
        if link is None:
            raise CidNotFound(path or name, f'no link named "{name}" under {node.cid}')
        return self.node(link.cid)

    def links(self, node: Node) -> Iterator[tuple[str, pb.PBLink]]:
        """(name, link) of every entry of a directory, through all HAMT shards, in link order."""
        if node.type == DataType.DIRECTORY:
            for link in node.pb.links:
                yield link.name or "", link
            return
        for item in self.hamt_walk(node):
            if not isinstance(item, Node):
                yield item

    def sub_shard(self, link: pb.PBLink, seen: set[bytes] | None = None) -> Node:
        """The HAMT sub-shard *link* points to, refused unless it is one, and refused if *seen* (the
        shards one walk has met) holds it already: in a real HAMT each sits at its own hash prefix,
        and a shard tree that reuses one could list exponentially many entries."""
        if seen is not None:
            if link.cid.multihash in seen:
                raise UnixFSError(f"HAMT sub-shard {link.cid} is linked twice")
            seen.add(link.cid.multihash)
        sub = self.node(link.cid)
        if sub.type != DataType.HAMT_SHARD:
            raise UnixFSError(f"HAMT sub-shard {sub.cid} is not a shard")
        return sub

    def hamt_walk(self, node: Node) -> Iterator["tuple[str, pb.PBLink] | Node"]:
        """A HAMT directory's entries as (name, link) and its sub-shards as Nodes when reached,
        depth-first in link order (a sub-shard linked twice is refused: :meth:`sub_shard`)."""
        stack = [iter(hamt.entries(node.pb, node.fs))]
        shards: set[bytes] = set()
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            name, link = item
            if name is not None:
                yield name, link
                continue
            if len(stack) > 8 * 8:
                raise UnixFSError("HAMT nested deeper than its hash allows")
            sub = self.sub_shard(link, shards)
            yield sub
            stack.append(iter(hamt.entries(sub.pb, sub.fs)))

    # -- ls ---------------------------------------------------------------------------------------
    def named_links(self, path: "str | Cid") -> list[tuple[str, pb.PBLink]]:
        """What ``ls`` lists, without reading the children: a directory's (name, link) entries, or a
        file's child links with empty names."""
        node = self.resolve(path)
        if node.is_dir:
            return list(self.links(node))
        return [("", link) for link in node.pb.links] if node.pb is not None else []

    def ls(self, path: "str | Cid") -> list[Entry]:
        """Directory entries (sorted as stored), or a file's child blocks with empty names; each
        sized as Kubo's ls sizes it: a raw child by its link (not read, as in Kubo), a dag-pb
        child by its file bytes, read from the child."""
        out = []
        known: dict[Cid, tuple] = {}   # each child block read once
        for name, link in self.named_links(path):
            if link.cid.codec == RAW:
                known[link.cid] = (link.tsize or 0, DataType.RAW, None)
            elif link.cid.codec != DAG_PB:  # not UnixFS (dag-cbor, ...): listed unread, as Kubo lists it
                known[link.cid] = (0, None, None)
            elif link.cid not in known:
                child = self.node(link.cid)
                size = child.file_size() if child.is_file else (child.fs.filesize or 0)
                target = os.fsdecode(child.fs.data or b"") if child.type == DataType.SYMLINK else None
                if target is not None:  # boxo FSNode.FileSize of a symlink: its target's length
                    size = len(child.fs.data or b"")
                known[link.cid] = (size, child.type, target, stored_mode(child.fs), stored_mtime_ns(child.fs))
            out.append(Entry(name, link.cid, *known[link.cid]))
        return out

    # -- cat --------------------------------------------------------------------------------------
    def cat(self, path: "str | Cid | Node", offset: int = 0, length: int | None = None, *,
            views: bool = False) -> Iterator[memoryview]:
        """Stream the file's bytes [offset, offset+length); only the blocks that overlap are read.

        An offset at or past the end gives nothing, as in Kubo; a symlink's content is its target
        (Kubo's ``cat`` prints it). With *views*, pieces may be views into the store, valid only
        until the iterator ends, and nothing may be written to the store meanwhile: for a
        consumer that writes each piece out at once (``cat``, ``get``), it saves a copy of every
        block (:meth:`Blockstore.get_many`).
        """
        node = self.resolve(path)
        if node.is_dir:
            raise IsADirectory("this dag node is a directory")  # Kubo's ErrIsDir
        if node.type == DataType.SYMLINK:
            node = Node(node.cid, node.fs.data or b"")
        elif not node.is_file:
            raise UnixFSError(f"{node.cid} is {node.type.name.lower()}, not a file")
        if offset < 0:
            raise InvalidOption("cannot specify negative offset")
        if length is not None and length < 0:
            raise InvalidOption("cannot specify negative length")
        size = node.file_size()
        end = size if length is None else min(size, offset + length)
        if end > offset:
            yield from self._read(node, offset, end, 0, views)

    def _read(self, node: Node, lo: int, hi: int, depth: int, views: bool) -> Iterator[memoryview]:
        """Exactly the bytes [lo, hi) of *node*'s content, 0 <= lo < hi <= node.file_size().

        Exact by induction: every node's declared size must equal its data plus its blocksizes,
        and every child's own size the blocksize its parent gives it; UnixFSError where not.
        """
        if depth > MAX_DEPTH:
            raise UnixFSError(f"file DAG deeper than {MAX_DEPTH} levels")
        if node.fs is None:
            yield memoryview(node.block)[lo:hi]
            return
        if not node.is_file:
            raise UnixFSError(f"{node.cid} inside a file is a {node.type.name.lower()}")
        fs, links = node.fs, node.pb.links
        if len(fs.blocksizes) != len(links):
            raise UnixFSError(f"{node.cid}: {len(links)} links but {len(fs.blocksizes)} blocksizes")
        data = fs.data or b""
        if fs.filesize is not None and fs.filesize != len(data) + sum(fs.blocksizes):
            raise UnixFSError(f"{node.cid}: filesize disagrees with its data and blocksizes")
        pos = len(data)
        if lo < pos:
            yield memoryview(data)[lo:min(hi, pos)]
        if not links:  # a leaf: nothing more to read
            return
        wanted = []  # (link, start, end) of the children that overlap [lo, hi)
        for link, size in zip(links, fs.blocksizes):
            start, pos = pos, pos + size
            if pos <= lo:
                continue
            if start >= hi:
                break
            wanted.append((link, start, pos))
        children = self.nodes([link.cid for link, _, _ in wanted], views=views)
        with closing(children):  # ends the store's read transaction when *views*
            for (link, start, end), child in zip(wanted, children):
                if child.file_size() != end - start:
                    raise UnixFSError(f"{link.cid} holds {child.file_size()} bytes but {node.cid} declares {end - start}")
                yield from self._read(child, max(lo, start) - start, min(hi, end) - start, depth + 1, views)

    def read(self, path: "str | Cid", offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat(path, offset, length))

    # -- get --------------------------------------------------------------------------------------
    def get(self, path: "str | Cid", output_path: str | os.PathLike, progress: Progress | None = None) -> None:
        """Write the file, directory or symlink at *path* to *output_path* (file bytes told to *progress*).

        A file or a new directory tree is built beside *output_path* and renamed into place,
        so an error leaves nothing half-written. A directory merges into an existing
        directory, each file replaced atomically; a file given an existing directory goes
        inside it under the last name of *path* (as ``ipfs get`` does).
        """
        node = self.resolve(path)
        out = os.path.abspath(os.fspath(output_path))
        if not node.is_dir and os.path.isdir(out):  # like `cp file dir/`: keep the file's name
            out = os.path.join(out, check_name(str(path).rstrip("/").rsplit("/", 1)[-1]))
        parent, name = os.path.split(out)
        os.makedirs(parent, exist_ok=True)
        pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if node.is_dir and os.path.isdir(out) and not os.path.islink(out):
                dfd = open_dir(pfd, name)
                try:
                    self._write_tree(node, dfd, progress)
                finally:
                    os.close(dfd)
                return
            self._write_atomically(node, pfd, name, progress)
        finally:
            os.close(pfd)

    def _write_atomically(self, node: Node, dir_fd: int, name: str, progress: Progress | None) -> None:
        """Write *node* under a temporary name beside *name*, then rename it into place."""
        tmp = f".casengine-{os.urandom(8).hex()}.part"   # fixed length: any valid *name* fits beside it
        try:
            self._write_entry(node, dir_fd, tmp, progress)
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as e:
            remove(dir_fd, tmp)
            if e.filename != tmp:
                raise
            where = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)  # the user's path, not ours
            raise OSError(e.errno, e.strerror, where) from None
        except BaseException:
            remove(dir_fd, tmp)
            raise

    def _write_entry(self, node: Node, dir_fd: int, name: str, progress: Progress | None) -> None:
        if node.is_dir:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
            fd = open_dir(dir_fd, name)
            try:
                self._write_tree(node, fd, progress, fresh=True)
            finally:
                os.close(fd)
        elif node.type == DataType.SYMLINK:
            os.symlink(check_target(node.fs.data or b""), name, dir_fd=dir_fd)
            restore_link_mtime(dir_fd, name, stored_mtime_ns(node.fs))
        else:
            self._write_file(node, dir_fd, name, progress)

    def _write_tree(self, root: Node, root_fd: int, progress: Progress | None, fresh: bool = False) -> None:
        """Entries of *root* into the open directory *root_fd*: iterative, so depth cannot overflow.

        Each level holds its open directory and the names written in it so far (a second entry of
        the same name, say a directory after a symlink, is refused rather than merged or followed).
        Into an existing directory each file is replaced atomically; into a *fresh* one (a new
        tree being built under a temporary name, renamed into place whole) files are written
        where they go (a rename per file was a fifth of a get of many small files).
        """
        stack: list[tuple[Iterator[tuple[str, pb.PBLink]], int, set[str], Node]] = [
            (self.links(root), root_fd, set(), root)]
        try:
            while stack:
                links, fd, names, dir_node = stack[-1]
                item = next(links, None)
                if item is None:  # all written: now its mode and mtime, as Kubo's get defers them
                    restore_meta(fd, stored_mode(dir_node.fs), stored_mtime_ns(dir_node.fs), DEFAULT_DIR_MODE)
                    stack.pop()
                    if fd != root_fd:
                        os.close(fd)
                    continue
                name, link = item
                check_name(name)
                if name in names:
                    raise UnsafePath(f"duplicate directory entry {name!r}")
                names.add(name)
                child = self.node(link.cid)
                if child.is_dir:
                    if len(stack) >= MAX_DEPTH:
                        raise UnixFSError(f"directory tree deeper than {MAX_DEPTH} levels")
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    stack.append((self.links(child), open_dir(fd, name), set(), child))
                elif fresh:
                    self._write_entry(child, fd, name, progress)
                else:
                    self._write_atomically(child, fd, name, progress)
        finally:
            for _, fd, _, _ in stack:
                if fd != root_fd:
                    os.close(fd)

    def _write_file(self, node: Node, dir_fd: int, name: str, progress: Progress | None) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as f:
            with closing(self.cat(node, views=True)) as pieces:
                for piece in counting(pieces, progress, len):
                    f.write(piece)
            f.flush()
            restore_meta(fd, stored_mode(node.fs), stored_mtime_ns(node.fs), DEFAULT_FILE_MODE)

    # -- blocks -----------------------------------------------------------------------------------
    def walk(self, cid: Cid) -> Iterator[tuple[Cid, bytes]]:
        """Every block of the DAG under *cid*, depth-first pre-order, each once (dag export order).

        Follows dag-pb and dag-cbor links; raw blocks are leaves.
        """
        def visit(c: Cid) -> tuple[tuple[Cid, bytes], list[Cid]]:
            block = self.store.get(c, verified=self.verified)
            return (c, block), links(c, block)
        return depth_first(cid, visit)
