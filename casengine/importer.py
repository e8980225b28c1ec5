"""``ipfs add``: files, streams and directory trees into a block store, as Kubo builds them
(Kubo 0.22 by default; :mod:`casengine.options` profiles for today's Kubo).

bytes -> :mod:`casengine.chunker` (cut) -> :mod:`casengine.dag` (leaves, layout, directories)
-> :mod:`casengine.stores` (batched writes). With ``only_hash`` nothing is written.

>>> from casengine.stores.memory import MemoryStore
>>> str(Importer(MemoryStore()).add_bytes(b"hello world\\n").cid)
'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
"""

from __future__ import annotations

import io
import os
import stat
from typing import BinaryIO, Callable, Iterable, NamedTuple

from dataclasses import replace

from .chunker.reader import WindowReader
from .dag.directory import DirectoryWriter, symlink
from .dag.file import DagRef, FileWriter, HoldRoot, encode_leaves
from .dag.meta import Stat
from .errors import InvalidOption
from .options import ImportOptions
from .progress import Progress, counting, current
from .stores.base import BatchWriter, Blockstore
from .stores.filestore import ReferenceWriter

#: Called once per added file, symlink and directory with its path as Kubo prints it.
AddedCallback = Callable[[str, DagRef], None]


class NamedStream(NamedTuple):
    """A stream to add as one file entry (stdin); with name None it is named by its CID."""

    name: str | None
    stream: BinaryIO


def is_hidden(name: str) -> bool:
    """go-ipfs-files' rule: a name starting with '.' (but not '.' or '..')."""
    return name not in ("", ".", "..") and name[0] == "."


class Importer:
    """Adds content to *store* with Kubo's options; every ``add_*`` returns the root's DagRef.

    Blocks are buffered and written in batches; :meth:`flush` (called by every ``add_*``)
    makes them durable before the root is returned, so a caller may pin it right away.
    *progress* is told the file bytes as they are chunked and hashed.
    """

    def __init__(self, store: Blockstore | None, options: ImportOptions = ImportOptions(),
                 on_added: AddedCallback | None = None, progress: Progress | None = None):
        self.options = options
        self.resolved = options.resolve()
        self._batch = BatchWriter(store) if store is not None and not options.only_hash else None
        # --nocopy: the leaves of files become references (streams are stored, as in Kubo)
        self._refs = ReferenceWriter(store) if self._batch and options.nocopy else None
        self.on_added = on_added or (lambda name, ref: None)
        self.progress = progress or current()

    @property
    def sink(self):
        return self._batch

    def flush(self) -> None:
        if self._batch:
            self._batch.flush()
        if self._refs:
            self._refs.flush()

    # -- files -----------------------------------------------------------------------------------
    def _file(self, stream: BinaryIO, path: str | None = None, stat: Stat | None = None) -> DagRef:
        """A file DAG of *stream*; with --nocopy, the leaves of a file at *path* are referenced;
        with metadata (*stat*, else the import's ``--mode``/``--mtime``) on its root."""
        r = self.resolved
        stat = r.stat if stat is None else stat
        hold = HoldRoot(self.sink) if not stat.empty else None
        refs = self._refs.for_file(path) if self._refs and path is not None else None
        writer = FileWriter(r.builder, r.raw_leaves, r.layout.leaf_type, hold or self.sink, refs)
        leaves = encode_leaves(writer, iter(WindowReader(stream, r.chunker)))
        ref = r.layout.build(counting(leaves, self.progress, lambda ref: ref.filesize), writer)
        return hold.root_with(ref, r.builder, stat) if hold else ref

    def _preserving(self) -> tuple[bool, bool]:
        """(mode, mtime) taken from each entry: ``--preserve-*``, unless ``--mode``/``--mtime``
        is given, which wins (boxo UnixfsAddOptions)."""
        o = self.options
        return bool(o.preserve_mode and not o.mode), bool(o.preserve_mtime and not o.mtime)

    def _stat(self, st: os.stat_result) -> Stat:
        """An entry's metadata: with ``--preserve-mode``/``--preserve-mtime``, its own values."""
        return self.resolved.stat.preserved(st, *self._preserving())

    def _wrapper_stat(self) -> Stat:
        """The -w directory's: Kubo preserves the mode and mtime of its argument list, which has none."""
        mode, mtime = self._preserving()
        stat = replace(self.resolved.stat, go_mode=0, perms=0) if mode else self.resolved.stat
        return replace(stat, mtime=None) if mtime else stat

    def add_stream(self, stream: BinaryIO) -> DagRef:
        """A file DAG of everything *stream* yields, read in bounded windows."""
        ref = self._file(stream)
        self.flush()
        return ref

    def add_bytes(self, data: bytes | bytearray | memoryview) -> DagRef:
        return self.add_stream(io.BytesIO(data))

    def add_file(self, path: str | os.PathLike) -> DagRef:
        """The file DAG of the regular file at *path* (with nocopy, its leaves referenced there)."""
        with open(path, "rb", buffering=0) as f:
            ref = self._file(f, os.fspath(path))
        self.flush()
        return ref

    # -- paths -----------------------------------------------------------------------------------
    def add_path(self, path: str | os.PathLike, *, recursive: bool = True) -> DagRef:
        """Add one file, symlink or (with *recursive*) directory, named by its base name."""
        return self.add_paths([path], recursive=recursive)

    def add_paths(self, paths: Iterable["str | os.PathLike | NamedStream"], *, recursive: bool = True) -> DagRef:
        """Add each path (or stream) as ``ipfs add`` does; with wrap_with_directory, all inside
        one directory. Returns the last root added (the wrapping directory when wrapping).
        """
        entries = _distinct([p if isinstance(p, NamedStream) else self._argument(os.fspath(p)) for p in paths])
        if not entries:
            raise InvalidOption("expected a file argument")
        for p in entries:  # Kubo checks every argument before adding anything
            if isinstance(p, str) and stat.S_ISDIR(os.lstat(p).st_mode) and not recursive:
                raise InvalidOption(f"'{os.path.normpath(p)}' is a directory, use the '-r' flag to specify directories")
        if self.options.wrap_with_directory:
            wrapper = self.directory_writer(self._wrapper_stat())
            dirs: list[tuple[str, DagRef]] = []
            for p in entries:
                entry = self._entry(p, dirs, top=False)
                if entry:
                    wrapper.add(*entry)
            ref = wrapper.finish()
            self._emit_dirs(dirs + [("", ref)])
            return ref
        ref = None
        for p in entries:
            dirs = []
            _, ref = self._entry(p, dirs, top=True)
            self._emit_dirs(dirs)
        return ref

    def _argument(self, path: str) -> str:
        """With --dereference-symlinks an argument is its resolved path, named by its target
        (go-ipfs-cmds EvalSymlinks)."""
        return os.path.realpath(path) if self.options.dereference_symlinks else path

    def _emit_dirs(self, dirs: list[tuple[str, DagRef]]) -> None:
        """Directories are reported after all files, deepest first (Kubo's outputDirs)."""
        self.flush()
        for name, ref in dirs:
            self.on_added(name, ref)

    def directory_writer(self, stat: Stat | None = None) -> DirectoryWriter:
        """A directory builder with this import's CID, sharding and sink settings, and *stat*
        (default: the import's ``--mode``/``--mtime``)."""
        r = self.resolved
        return DirectoryWriter(r.builder, self.sink, r.sharding, r.stat if stat is None else stat)

    def _lstat(self, path: str) -> os.stat_result:
        return os.stat(path) if self.options.dereference_symlinks else os.lstat(path)

    def _listing(self, path: str) -> list[os.DirEntry]:
        """The entries Kubo adds from directory *path*: hidden ones only with --hidden."""
        entries = sorted_entries(path)
        return entries if self.options.hidden else [e for e in entries if not is_hidden(e.name)]

    def _entry(self, path: "str | NamedStream", dirs: list[tuple[str, DagRef]],
               top: bool = True) -> tuple[str, DagRef] | None:
        """Add the tree at *path*; files are reported as added, directories collected in *dirs*.
        Returns the entry's name and root; None for an empty directory skipped by
        ``--empty-dirs=false`` (never the *top* one)."""
        if isinstance(path, NamedStream):
            ref = self._file(path.stream)
            name = path.name or str(ref.cid)  # Kubo names unnamed stdin by its CID
            self.on_added(name, ref)
            return name, ref
        name = _base_name(path)
        st = self._lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            ref = self._leaf_entry(path, st)
            self.on_added(name, ref)
            return name, ref
        listing = self._listing(path)
        if not listing and not top and not self.options.empty_dirs:
            return None
        # iterative post-order walk: no recursion limit on deep trees
        stack = [(name, self.directory_writer(self._stat(st)), iter(listing))]
        while True:
            rel, writer, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                ref = writer.finish()
                dirs.append((rel, ref))
                if not stack:
                    return name, ref
                stack[-1][1].add(os.path.basename(rel), ref)
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=self.options.dereference_symlinks)
            if stat.S_ISDIR(st.st_mode):
                listing = self._listing(entry.path)
                if listing or self.options.empty_dirs:
                    stack.append((child, self.directory_writer(self._stat(st)), iter(listing)))
                continue
            ref = self._leaf_entry(entry.path, st)
            writer.add(entry.name, ref)
            self.on_added(child, ref)

    def _leaf_entry(self, path: str, st: os.stat_result) -> DagRef:
        """A regular file or a symlink (stored as a UnixFS symlink, not followed)."""
        if stat.S_ISLNK(st.st_mode):
            return symlink(self.resolved.builder, self.sink, os.readlink(path), self._stat(st))
        if not stat.S_ISREG(st.st_mode):
            raise InvalidOption(f"unrecognized file type for {path}: {stat.filemode(st.st_mode)}")
        with open(path, "rb", buffering=0) as f:
            return self._file(f, path, self._stat(st))


def _distinct(entries: list["str | NamedStream"]) -> list["str | NamedStream"]:
    """go-ipfs-cmds' rule for arguments: one path given twice is added once, and two of one name
    from different directories are refused (they would be one entry of a wrapping directory)."""
    seen: dict[str, str] = {}
    out: list[str | NamedStream] = []
    for p in entries:
        if isinstance(p, str):
            clean = os.path.normpath(p)
            if clean == ".":
                clean = os.getcwd()
            where, name = os.path.dirname(clean) or ".", os.path.basename(clean)
            if name in seen:
                if seen[name] != where:
                    raise InvalidOption(f"file name {name} repeated under different import directories: "
                                        f"{where} and {seen[name]}")
                continue
            seen[name] = where
        out.append(p)
    return out


def sorted_entries(path: str) -> list[os.DirEntry]:
    """Directory entries in the order Go's os.ReadDir gives them: by name bytes."""
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


def _base_name(path: str) -> str:
    """The name Kubo gives a command-line argument: the last element of the cleaned path
    (``.`` and ``..`` name the directory they resolve to, as `ipfs add -r .` does)."""
    name = os.path.basename(os.path.normpath(path))
    return os.path.basename(os.path.realpath(path)) if name in (".", "..") else name
