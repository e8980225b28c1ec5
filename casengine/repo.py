"""A casengine repository: the LMDB block store under ``$HF_HOME/casengine`` plus pins and GC.

Pins follow Kubo's pinner: recursive and direct pins keyed by CID; a recursive pin replaces
a direct one; a recursive pin is only recorded once its whole DAG is present.

Adds and pins take the GC lock shared, ``gc`` takes it exclusive, across processes: a
collection waits for the adds in flight (whose blocks no pin reaches yet, up to the moment
their pin is written) and adds wait for a collection. A waiting collection stops new adds
from starting (a turnstile), so a stream of adds cannot starve it. An add records its pin
only after all its blocks are committed, so a crash leaves at worst unpinned blocks, never a
pin on an incomplete DAG; a returned add is durable (see :mod:`casengine.stores.lmdb`).
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator

from .dag import multihash
from .dag.cid import RAW, Cid
from .dag.file import DagRef
from .dag.links import depth_first
from .errors import CasError, CidNotFound, InvalidOption, NoRepository, PinError
from .importer import AddedCallback, Importer
from .options import ImportOptions, check_pin_name
from .stores import filestore
from .stores.lmdb import LmdbStore

if TYPE_CHECKING:
    from .exporter import Exporter

RECURSIVE, DIRECT, INDIRECT = "recursive", "direct", "indirect"
PIN_KINDS = ("all", DIRECT, INDIRECT, RECURSIVE)
_PIN_CODES = {RECURSIVE: b"r", DIRECT: b"d"}
_PIN_NAMES = {v: k for k, v in _PIN_CODES.items()}
#: Blocks deleted per write transaction by ``gc``.
GC_BATCH = 4096


def hf_home() -> str:
    """``$HF_HOME``, defaulting to ~/.cache/huggingface as huggingface_hub does."""
    return os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")


def default_path() -> str:
    """``$CASENGINE_REPO``, else ``$HF_HOME/casengine``."""
    return os.environ.get("CASENGINE_REPO") or os.path.join(hf_home(), "casengine")


@dataclass(frozen=True)
class RepoStat:
    blocks: int
    bytes: int          # stored block bytes
    pins: int           # recursive and direct pins
    disk_bytes: int     # what the store's files occupy on disk
    path: str
    references: int = 0         # filestore references (add --nocopy), not counted in blocks
    referenced_bytes: int = 0   # bytes they point at in their files (not on the repo's disk)
    free_bytes: int = 0         # of disk_bytes, free pages inside the data file (compaction gives them back)


class Repo:
    """Block store, pins and garbage collection in one directory, shared safely by processes."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True):
        """Open the repository at *path*; without *create*, NoRepository if there is none."""
        self.path = os.fspath(path) if path is not None else default_path()
        if not create and not os.path.exists(os.path.join(self.path, "data.mdb")):
            raise NoRepository(f"no casengine repository at {self.path}")
        self.store = LmdbStore(self.path)
        self._pins = self.store.db(b"pins")
        self._held = threading.local()  # how deep this thread is in the shared GC lock

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Repo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def exporter(self) -> "Exporter":
        from .exporter import Exporter  # not at import: an add has no use for it (start-up time)

        return Exporter(self.store)

    def writing(self):
        """Hold off garbage collection while writing blocks that no pin reaches yet (an add, an
        import): everything written inside survives until the caller pins it or leaves."""
        return self._gc_lock(exclusive=False)

    @contextmanager
    def _gc_lock(self, exclusive: bool) -> Iterator[None]:
        """Shared: blocks written inside are safe from a collection until released. Exclusive: no
        one else is inside. The shared lock nests within a thread (an import that pins inside it)."""
        depth = getattr(self._held, "depth", 0)
        if depth:
            if exclusive:
                raise CasError("garbage collection inside an add or pin of the same repo would wait forever")
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth = depth
            return
        with ExitStack() as files:
            gate = files.enter_context(open(os.path.join(self.path, "gc.turnstile"), "a+b"))
            lock = files.enter_context(open(os.path.join(self.path, "gc.lock"), "a+b"))
            if exclusive:
                fcntl.flock(gate, fcntl.LOCK_EX)  # from here on, new shared users wait
                fcntl.flock(lock, fcntl.LOCK_EX)  # for the ones inside to leave
                yield
                return
            fcntl.flock(gate, fcntl.LOCK_SH)
            fcntl.flock(lock, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0

    # -- adding -----------------------------------------------------------------------------------
    def add(self, source: "str | os.PathLike | Iterable[str | os.PathLike] | bytes | BinaryIO",
            options: ImportOptions = ImportOptions(), on_added: AddedCallback | None = None,
            recursive: bool = True) -> DagRef:
        """Import paths, bytes or a stream; pin the root (unless ``pin=False``) once it is committed."""
        importer = Importer(None if options.only_hash else self.store, options, on_added)
        with self.writing():
            if isinstance(source, (bytes, bytearray, memoryview)):
                ref = importer.add_bytes(source)
            elif hasattr(source, "read"):
                ref = importer.add_stream(source)
            elif isinstance(source, (str, os.PathLike)):
                ref = importer.add_path(source, recursive=recursive)
            else:
                ref = importer.add_paths(source, recursive=recursive)
            if not options.only_hash:
                if options.pin:
                    self._write_pin(ref.cid, RECURSIVE, options.pin_name or "")
                self.store.durable()
        return ref

    def put_block(self, cid: Cid, block: bytes, pin: bool = False) -> None:
        """Store one block (``block put``); with *pin*, pin it recursively (its links must be present)."""
        if not pin:
            self.store.put(cid, block)
            self.store.durable()
            return
        with self.writing():
            self.store.put(cid, block)
            self.pin(cid)

    # -- pins -------------------------------------------------------------------------------------
    # The pins table: CID bytes -> a type byte (r, d), then the pin's name in UTF-8 (Kubo 0.37+'s
    # pin names). A pin written before names existed is the type byte alone: no name.
    def _write_pin(self, cid: Cid, kind: str, name: str = "") -> None:
        value = _PIN_CODES[kind] + name.encode()
        self.store.write(lambda txn: txn.put(bytes(cid), value, db=self._pins))

    def _pin_values(self) -> dict[Cid, bytes]:
        def read(txn) -> dict[Cid, bytes]:
            with txn.cursor(self._pins) as cur:
                return {Cid.from_bytes(k): bytes(v) for k, v in cur}
        return self.store.read(read)

    def _pin_table(self) -> dict[Cid, str]:
        return {cid: _PIN_NAMES[v[:1]] for cid, v in self._pin_values().items()}

    def pin_names(self) -> dict[Cid, str]:
        """The name of each recursive or direct pin ("" when it has none)."""
        return {cid: v[1:].decode() for cid, v in self._pin_values().items()}

    def dag_blocks(self, cid: Cid) -> Iterator[Cid]:
        """Every CID of the DAG under *cid* (each once); CidNotFound if a block is missing.

        Raw blocks have no links: they are checked for presence, not read; the store answers the
        links of the others (an identity CID's from the CID itself, UnixFS leaves in LMDB from
        their first byte).
        """
        def visit(c: Cid) -> tuple[Cid, list[Cid]]:
            if c.codec != RAW:
                return c, self.store.links(c)
            if not self.store.has(c):
                raise CidNotFound(c)
            return c, []
        return depth_first(cid, visit)

    def pin(self, cid: Cid, recursive: bool = True, name: str = "") -> None:
        """Pin *cid* directly, or recursively (everything below it must be present), under *name*
        (pinning again replaces the name, as Kubo's pinner does)."""
        check_pin_name(name)
        with self.writing():
            if recursive:
                for c in self.dag_blocks(cid):
                    multihash.check(c.multihash)  # as Kubo's blockservice: no insecure or oversized hash
                self._write_pin(cid, RECURSIVE, name)  # replaces a direct pin, as Kubo's pinner does
            else:
                if self._pin_table().get(cid) == RECURSIVE:
                    raise PinError(f"pin: {cid} already pinned recursively")
                if not self.store.has(cid):
                    raise CidNotFound(cid)
                self._write_pin(cid, DIRECT, name)
            self.store.durable()

    def unpin(self, cid: Cid, recursive: bool = True) -> None:
        """Remove a pin (Kubo's rules: a recursive pin goes only with *recursive*)."""
        def rm(txn) -> None:
            code = txn.get(bytes(cid), db=self._pins)
            if code is None:
                raise PinError("not pinned or pinned indirectly")
            if _PIN_NAMES[bytes(code[:1])] == RECURSIVE and not recursive:
                raise PinError(f"{cid} is pinned recursively")
            txn.delete(bytes(cid), db=self._pins)
        self.store.write(rm)
        self.store.durable()

    def pins(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        """(cid, type) for pins of *kind*: all, recursive, direct or indirect (Kubo's ``pin ls -t``).

        Recursive pins first, then direct, then the blocks below recursive pins, each CID once.
        """
        if kind not in PIN_KINDS:
            raise InvalidOption(f"invalid type '{kind}', must be one of {{direct, indirect, recursive, all}}")
        table = self._pin_table()
        listed: set[Cid] = set()
        for wanted in (RECURSIVE, DIRECT):
            for cid, k in sorted(table.items()):
                if k == wanted and kind in ("all", k):
                    listed.add(cid)
                    yield cid, k
        if kind in ("all", INDIRECT):
            listed.update(table)
            for root, k in sorted(table.items()):
                if k == RECURSIVE:
                    for c in self.dag_blocks(root):
                        if c not in listed:
                            listed.add(c)
                            yield c, INDIRECT

    def pinned(self, cid: Cid, kind: str = "all") -> tuple[str, Cid | None] | None:
        """How *cid* is pinned, as Kubo's ``pin ls CID`` checks it: (type, None) for a recursive or
        direct pin, (indirect, root) when a recursive pin's DAG holds it; None if not pinned."""
        if kind not in PIN_KINDS:
            raise InvalidOption(f"invalid type '{kind}', must be one of {{direct, indirect, recursive, all}}")
        table = self._pin_table()
        own = table.get(cid)
        if own is not None and kind in ("all", own):
            return own, None
        if kind in ("all", INDIRECT):
            for root, k in sorted(table.items()):
                if k == RECURSIVE and root != cid and cid in self.dag_blocks(root):
                    return INDIRECT, root
        return None

    def pin_type(self, cid: Cid) -> str | None:
        """recursive, direct, indirect, or None: how *cid* is pinned."""
        found = self.pinned(cid)
        return found[0] if found else None

    def pinned_blocks(self, cids: list[Cid]) -> dict[Cid, str]:
        """Why each of *cids* may not be removed, in Kubo's words ("pinned: recursive", "pinned:
        direct", "pinned via ROOT"). Matched by multihash: the store keeps one copy of a block
        whatever CID names it, so removing it under any name would break the pin."""
        wanted = {c.multihash: c for c in cids}
        why: dict[Cid, str] = {}
        table = self._pin_table()
        for pinned, k in table.items():
            if pinned.multihash in wanted:
                why.setdefault(wanted[pinned.multihash], f"pinned: {k}")
        for root, k in sorted(table.items()):
            if k == RECURSIVE and len(why) < len(wanted):
                for c in self.dag_blocks(root):
                    if c.multihash in wanted:
                        why.setdefault(wanted[c.multihash], f"pinned via {root}")
        return why

    # -- collection and checks ---------------------------------------------------------------------
    def live_multihashes(self) -> set[bytes]:
        """Multihashes some pin reaches."""
        live: set[bytes] = set()
        for cid, kind in self._pin_table().items():
            if kind == DIRECT:
                live.add(cid.multihash)
            else:
                live.update(c.multihash for c in self.dag_blocks(cid))
        return live

    def remove_references(self, multihashes: list[bytes]) -> set[bytes]:
        """Drop the filestore references among *multihashes* that no pin reaches (``filestore
        verify --remove-bad-blocks``); return them. A pinned one stays: dropping it would break
        its pin, where Kubo drops it and warns."""
        with self._gc_lock(exclusive=True):
            live = self.live_multihashes()
            dropped = {mh for mh in multihashes if mh not in live}
            self.store.delete_references(sorted(dropped))
            self.store.durable()
        return dropped

    def gc(self, on_removed: Callable[[Cid], None] | None = None) -> int:
        """Delete every block no pin reaches, GC_BATCH per transaction; report each (as the raw
        CIDv1 Kubo prints) to *on_removed*; return how many were removed."""
        removed = 0
        with self._gc_lock(exclusive=True):
            live = self.live_multihashes()
            batch: list[Cid] = []
            for mh in self.store.multihashes():
                if mh not in live:
                    batch.append(Cid(1, RAW, mh))
                    if len(batch) == GC_BATCH:
                        removed += self._remove(batch, on_removed)
                        batch = []
            removed += self._remove(batch, on_removed)
            self.store.durable()
        return removed

    def _remove(self, batch: list[Cid], on_removed: Callable[[Cid], None] | None) -> int:
        n = self.store.delete_many(batch)
        if on_removed:
            for cid in batch:
                on_removed(cid)
        return n

    def remove_blocks(self, cids: list[Cid], force: bool = False) -> list[tuple[Cid, str | None]]:
        """``block rm``: (cid, None) for each block removed, (cid, why not) for the others.

        Pinned blocks are refused (under the exclusive GC lock, so no pin is being made on them
        meanwhile); a missing block is an error unless *force*.
        """
        out: list[tuple[Cid, str | None]] = []
        with self._gc_lock(exclusive=True):
            refused = self.pinned_blocks(cids)
            for cid in cids:
                if cid in refused:
                    out.append((cid, refused[cid]))
                elif self.store.delete(cid) or force:
                    out.append((cid, None))
                else:
                    out.append((cid, f"ipld: could not find {cid}"))
            self.store.durable()
        return out

    def verify(self, checked: Callable[[int], None] | None = None) -> Iterator[tuple[Cid, str]]:
        """(cid, problem) for every stored block whose bytes do not match its multihash, then
        for every filestore reference whose file no longer holds its block (*checked* is told how
        many were checked). Writing a block again replaces a corrupt copy, pinned or not: add its
        source again, import a CAR holding it, or ``block put`` its bytes."""
        yield from self.store.corrupt(checked)
        for entry in filestore.entries(self.store, verify=True):
            if entry.status != filestore.OK:
                yield entry.cid, f"{entry.status}: {entry.message}"
            if checked:
                checked(1)

    def stat(self) -> RepoStat:
        refs = [ref.size for _, ref in self.store.references()]
        return RepoStat(len(self.store), self.store.size(), len(self._pin_table()),
                        self.store.disk_usage(), self.path, len(refs), sum(refs), self.store.free_bytes())
