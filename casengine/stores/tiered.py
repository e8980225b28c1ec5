"""Remote tiers (another IPFS node) and the read-through store that layers the local store over one.

A :class:`RemoteTier` is a :class:`Blockstore` whose blocks live on another node (Kubo over
its RPC API or its CLI, ipfs_kit_py), plus the verbs such a node answers itself: ``add``,
``cat``, ``ls``, ``get``, pins, ``dag export``/``import``. A verb a tier has no native form
for is served from its blocks by the local :class:`Exporter`, every block re-hashed.

:class:`TieredStore` reads through the local store to a remote one on a miss; a fetched block
is re-hashed before it is kept or returned, so a remote can never plant bad bytes locally.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tarfile
from abc import abstractmethod
from contextlib import contextmanager
from typing import BinaryIO, Iterable, Iterator

from .. import car
from ..dag import multihash
from ..dag.cid import RAW, Cid, codec_code
from ..dag.multihash import by_code
from ..errors import CasError, CorruptBlock, DecodeError, RemoteError, UnsafePath
from ..exporter import Entry, Exporter, _open_dir, _remove, check_name
from ..options import ImportOptions
from .base import Blockstore, Buffer, verify

#: What ``add`` takes: bytes (one file, never wrapped) or a file system path.
Source = bytes | bytearray | memoryview | str | os.PathLike


class RemoteTier(Blockstore):
    """Another IPFS node: blocks by multihash (as Kubo keys them) plus the UnixFS verbs."""

    #: Name shown in logs and selection records.
    name = "remote"

    # -- what a tier implements -------------------------------------------------------------------
    @abstractmethod
    def version(self) -> str:
        """The node's version string; raises RemoteError if it cannot be reached (the probe)."""

    @abstractmethod
    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        """Store one block; return its CIDv1 (checked against the local hash of *data*)."""

    @abstractmethod
    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid | str:
        """``ipfs add`` on the node with Kubo's options; the root CID it prints."""

    @abstractmethod
    def pin_add(self, cid: Cid, recursive: bool = True) -> None: ...

    @abstractmethod
    def pin_rm(self, cid: Cid, recursive: bool = True) -> None: ...

    @abstractmethod
    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]: ...

    # -- verbs served from blocks unless a tier has a native form ----------------------------------
    def cat(self, path: str | Cid, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        yield from Exporter(self).cat(path, offset, length)

    def ls(self, path: str | Cid) -> list[Entry]:
        return Exporter(self).ls(path)

    def get_to_path(self, path: str | Cid, output_path: str | os.PathLike) -> None:
        Exporter(self).get(path, output_path)

    def dag_export(self, cid: Cid) -> Iterator[bytes]:
        yield from car.write([cid], Exporter(self).walk(cid))

    def dag_import(self, chunks: Iterable[bytes], *, pin_roots: bool = True) -> list[Cid]:
        """Store every block of a CAR stream (each hash-checked), then pin its roots."""
        reader = car.CarReader(_ChunkReader(chunks))
        for cid, block in reader:
            self.put(cid, block)
        if pin_roots:
            for root in reader.roots:
                self.pin_add(root)
        return reader.roots

    # -- Blockstore over block_put / block get -----------------------------------------------------
    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        for mh, block in items:
            fn = by_code(Cid(1, RAW, mh).hash_code)
            if fn is None:
                raise RemoteError(f"{self.name}: cannot put a block hashed with {mh[:2].hex()}")
            self.block_put(block, "raw", fn.name)

    def _has(self, multihash: bytes) -> bool:
        return self._get(multihash) is not None

    @staticmethod
    def _check(cid: Cid, got: Cid | str) -> Cid:
        """The CID the node printed for a block put must name the bytes sent."""
        if not isinstance(got, Cid) or got.multihash != cid.multihash:
            raise CorruptBlock(cid, f"the node stored it as {got}")
        return cid


@contextmanager
def parsing(what: str) -> Iterator[None]:
    """Read a node's answer: one that is not what its command prints (not JSON, a field missing,
    no CID where one belongs) is a RemoteError, a failure of the node like any other, so the
    router tries the next tier instead of crashing on a KeyError."""
    try:
        yield
    except DecodeError as e:
        raise RemoteError(f"{what}: unexpected answer ({e})") from None
    except CasError:
        raise
    except (ValueError, LookupError, TypeError, AttributeError) as e:
        raise RemoteError(f"{what}: unexpected answer ({type(e).__name__}: {e})") from None


def check_listed(what: str, cid: Cid, printed: Iterable[str]) -> None:
    """A pin answer must name *cid* (in any base or version): success alone proves nothing."""
    for text in printed:
        try:
            if Cid.parse(text).multihash == cid.multihash:
                return
        except DecodeError:
            continue
    raise RemoteError(f"{what}: the answer does not name {cid}")


def block_cid(data: Buffer, codec: str, hash: str) -> Cid:
    """The CIDv1 ``ipfs block put --cid-codec CODEC --mhtype HASH`` gives *data*."""
    return Cid(1, codec_code(codec), multihash.get(hash).digest(data))


class TieredStore(Blockstore):
    """*local* first; a miss is fetched from *remote*, re-hashed, kept locally and returned."""

    def __init__(self, local: Blockstore, remote: Blockstore):
        self.local = local
        self.remote = remote

    def _get(self, multihash: bytes) -> bytes | None:
        block = self.local._get(multihash)
        if block is not None:
            return block
        block = self.remote._get(multihash)
        if block is None:
            return None
        verify(Cid(1, RAW, multihash), block)  # CorruptBlock: neither kept nor returned
        self.local._put_many([(multihash, block)])
        return block

    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        self.local._put_many(items)

    def _has(self, multihash: bytes) -> bool:
        return self.local._has(multihash) or self.remote._has(multihash)

    def _delete(self, multihash: bytes) -> bool:
        return self.local._delete(multihash)

    def multihashes(self) -> Iterator[bytes]:
        return self.local.multihashes()

    def size(self) -> int:
        return self.local.size()


class _ChunkReader:
    """A read()-able view of an iterable of byte chunks (a CAR arriving in pieces)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


# -- placing what a node wrote (CLI ``get``, RPC tar stream) where the caller asked -----------------
def staging_dir(output_path: str | os.PathLike) -> str:
    """A fresh private directory beside *output_path* (same file system: renames are atomic)."""
    out = os.path.abspath(os.fspath(output_path))
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, f".casengine-get-{secrets.token_hex(6)}")
    os.mkdir(path, 0o700)
    return path


def place(entry: str, output_path: str | os.PathLike) -> None:
    """Move the finished *entry* to *output_path* as ``Exporter.get`` would write it.

    A new path is renamed into place; a directory merges into an existing directory (each
    file replaced atomically); a file given an existing directory goes inside it.
    """
    out = os.path.abspath(os.fspath(output_path))
    is_dir = os.path.isdir(entry) and not os.path.islink(entry)
    if os.path.isdir(out) and not os.path.islink(out):
        if not is_dir:
            out = os.path.join(out, os.path.basename(entry))
        else:
            for name in os.listdir(entry):
                place(os.path.join(entry, name), os.path.join(out, name))
            os.rmdir(entry)
            return
    os.replace(entry, out)


def extract_tar(stream: BinaryIO, dest_dir: str, name: str) -> str:
    """Unpack an ``ipfs get`` tar stream into *dest_dir*/*name*; return that path.

    The first member is the root (Kubo names it by the path's last element, js-ipfs by the
    whole path); every other member must lie beneath it. Only directories, regular files and
    symlinks are made, each path component checked, never through a symlink.
    """
    root_fd = os.open(dest_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    root_name: str | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if root_name is None:
                    root_name, parts = member.name.rstrip("/"), [name]
                elif member.name.startswith(root_name + "/"):
                    parts = [name] + member.name[len(root_name) + 1:].rstrip("/").split("/")
                else:
                    raise UnsafePath(f"tar member {member.name!r} outside {root_name!r}")
                _extract_member(tar, member, root_fd, [check_name(p) for p in parts])
    except tarfile.TarError as e:
        raise RemoteError(f"bad tar stream from the node: {e}") from None
    finally:
        os.close(root_fd)
    if root_name is None:
        raise RemoteError("the node sent an empty tar stream")
    return os.path.join(dest_dir, name)


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root_fd: int, parts: list[str]) -> None:
    fds = []
    try:
        fd = root_fd
        for part in parts[:-1]:
            fd = _open_dir(fd, part)
            fds.append(fd)
        last = parts[-1]
        if member.isdir():
            os.mkdir(last, 0o755, dir_fd=fd)
        elif member.issym():
            os.symlink(member.linkname, last, dir_fd=fd)
        elif member.isfile():
            src = tar.extractfile(member)
            out = os.open(last, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
            with os.fdopen(out, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
        else:
            raise UnsafePath(f"tar member {member.name!r} is neither file, directory nor symlink")
    finally:
        for fd in reversed(fds):
            os.close(fd)


def discard(path: str) -> None:
    """Remove a staging directory and whatever is left in it (never following symlinks)."""
    parent, name = os.path.split(path)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _remove(fd, name)
    finally:
        os.close(fd)

