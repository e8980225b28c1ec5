"""Hugging Face cache snapshots in and out of casengine, offline.

``add_snapshot`` finds a repo's snapshot with huggingface_hub's own cache scanner and adds its
files (the blobs the snapshot's symlinks point to) as one UnixFS directory: the CID is the one
``ipfs add -r --hidden`` gives a directory holding those files, and it is what is pinned, so the
printed CID is the handle for ``pin ls``/``pin rm``, gc and ``hf get``. What the directory cannot
hold (the commit hash, the refs naming it, which files are LFS objects) is a small dag-cbor
manifest kept beside it in the repository's metadata (not a block: gc never takes it). Repositories
written before kept the manifest as a pinned block linking the directory; ``hf get`` reads those,
and the next ``hf add`` moves them to this layout.

``restore_snapshot`` writes a directory DAG back in the cache layout huggingface_hub reads:
``blobs/<name>`` (an LFS file's sha256, else its git blob sha1, both computed from the bytes
written), ``snapshots/<commit>/<path>`` symlinks to ``../../blobs/<name>``, ``refs/<revision>``.
Without a manifest (a DAG that came from elsewhere), LFS files are those ``.gitattributes``
marks ``filter=lfs`` and the commit is derived from the CID.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from typing import Iterator

from .dag.cid import Cid
from .dag.file import DagRef
from .dag.unixfs import DataType
from .errors import CidNotFound, HFCacheError, InvalidOption, UnsafePath
from .exporter import Exporter, Node
from .fsutil import check_name
from .fsutil import discard, place, staging_dir
from .importer import Importer
from .options import ImportOptions
from .repo import Repo
from .stores.filestore import first_reference

_INDEX = b"hf-snapshots"  # LMDB db: directory CID bytes -> manifest (dag-cbor; before: a manifest block's CID)
_SHA256 = 64
_SHA1 = 40


@dataclass(frozen=True)
class Snapshot:
    """An added snapshot: the directory of its files (pinned) and what its manifest records."""

    cid: Cid
    repo_id: str
    commit: str
    refs: tuple[str, ...]


def hub_cache(cache_dir: str | os.PathLike | None = None) -> str:
    from huggingface_hub import constants

    return os.fspath(cache_dir) if cache_dir is not None else constants.HF_HUB_CACHE


def check_repo_id(repo_id: str) -> str:
    """huggingface_hub's own rule (``validate_repo_id``): no spaces, no ``..``, at most one '/'."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise InvalidOption(f"invalid repo id {repo_id!r}: {e}") from None
    return repo_id


def _find_revision(repo_id: str, revision: str | None, cache_dir: str, repo_type: str):
    from huggingface_hub import scan_cache_dir

    info = scan_cache_dir(cache_dir)
    repo = next((r for r in info.repos if r.repo_id == repo_id and r.repo_type == repo_type), None)
    if repo is None:
        raise HFCacheError(f"{repo_type} {repo_id} is not in the Hugging Face cache at {cache_dir}")
    wanted = revision or "main"
    for rev in repo.revisions:
        if rev.commit_hash == wanted or wanted in rev.refs:
            return repo, rev
    if revision is None and len(repo.revisions) == 1:
        return repo, next(iter(repo.revisions))
    raise HFCacheError(f"revision {wanted} of {repo_id} is not in the Hugging Face cache")


def add_snapshot(repo: Repo, repo_id: str, revision: str | None = None, *,
                 cache_dir: str | os.PathLike | None = None, repo_type: str = "model",
                 nocopy: bool = False) -> Snapshot:
    """Add the cached snapshot of *repo_id* at *revision* (default ``main``) and pin it; with
    *nocopy*, its files' bytes stay only in the cache's blobs (filestore references, raw leaves)."""
    check_repo_id(repo_id)
    hub = hub_cache(cache_dir)
    cached, rev = _find_revision(repo_id, revision, hub, repo_type)
    blobs = os.path.realpath(os.path.join(cached.repo_path, "blobs"))
    importer = Importer(repo.store, ImportOptions(hidden=True, nocopy=nocopy))
    files: dict[str, bool] = {}  # path -> is an LFS object

    def walk(directory: str, rel: str) -> DagRef:
        writer = importer.directory_writer()
        with os.scandir(directory) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    writer.add(entry.name, walk(entry.path, path))
                    continue
                real = os.path.realpath(entry.path)
                if entry.is_symlink() and os.path.dirname(real) != blobs:
                    raise UnsafePath(f"{path} in the snapshot points outside the repo's blobs: {real}")
                writer.add(entry.name, importer.add_file(real))
                files[path] = len(os.path.basename(real)) == _SHA256
        return writer.finish()

    with repo.writing():  # no collection between writing the blocks and pinning them
        root = walk(os.fspath(rev.snapshot_path), "")
        importer.flush()
        repo.pin(root.cid)
    manifest = _manifest(repo_id, repo_type, rev.commit_hash, sorted(rev.refs), files, root.cid)
    index = repo.store.db(_INDEX)  # opened outside the transaction: opening one inside it deadlocks
    _upgrade_index(repo, index)
    repo.store.write(lambda txn: txn.put(bytes(root.cid), manifest, db=index))
    return Snapshot(root.cid, repo_id, rev.commit_hash, tuple(sorted(rev.refs)))


def _manifest(repo_id: str, repo_type: str, commit: str, refs: list[str], files: dict[str, bool],
              root: Cid) -> bytes:
    import dag_cbor
    from multiformats import CID

    return dag_cbor.encode({"repo_id": repo_id, "repo_type": repo_type, "commit": commit, "refs": refs,
                            "lfs": sorted(p for p, lfs in files.items() if lfs), "files": CID.decode(bytes(root))})


def _upgrade_index(repo: Repo, index) -> None:
    """Move manifests of the earlier layout (a pinned block, its CID in the index) into the index,
    pinning the directory itself and unpinning the block, so the printed CID is the handle."""
    old = repo.store.read(lambda txn: [(k, v) for k, v in txn.cursor(index) if v[:1] == b"\x01"])
    for key, value in old:
        root, block_cid = Cid.from_bytes(key), Cid.from_bytes(value)
        with repo.writing():
            try:
                block = repo.store.get(block_cid)
                repo.pin(root)
            except CidNotFound:  # collected, or never complete: nothing to move
                continue
            repo.store.write(lambda txn: txn.put(key, block, db=index))
            if repo.pin_type(block_cid) is not None:
                repo.unpin(block_cid)


def manifest_for(repo: Repo, cid: Cid) -> dict | None:
    """The manifest ``add_snapshot`` recorded for directory *cid*, if any (either layout)."""
    import dag_cbor

    index = repo.store.db(_INDEX)
    value = repo.store.read(lambda txn: txn.get(bytes(cid), db=index))
    if value is None:
        return None
    if value[:1] == b"\x01":  # the earlier layout: the CID of a manifest block
        try:
            value = repo.store.get(Cid.from_bytes(value))
        except CidNotFound:
            return None
    return dag_cbor.decode(value)


def restore_snapshot(exporter: Exporter, cid: Cid, repo_id: str, *, manifest: dict | None = None,
                     revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                     repo_type: str = "model") -> str:
    """Write directory *cid* into the Hugging Face cache as *repo_id*; return the snapshot path.
    The whole tree is checked before anything is written (a symlink in it leaves nothing behind)."""
    check_repo_id(repo_id)
    root = exporter.resolve(cid)
    if not root.is_dir:
        raise HFCacheError(f"{cid} is not a directory: a snapshot is a directory of files")
    for _ in _files(exporter, root, ""):
        pass
    if manifest is not None:
        commit, refs, lfs = manifest["commit"], list(manifest["refs"]), set(manifest["lfs"])
    else:
        commit, refs = hashlib.sha1(bytes(cid)).hexdigest(), ["main"]
        lfs = _lfs_by_gitattributes(exporter, root)
    if revision is not None and revision not in refs:
        refs.append(revision)
    storage = os.path.join(hub_cache(cache_dir), f"{repo_type}s--{repo_id.replace('/', '--')}")
    blobs = os.path.join(storage, "blobs")
    os.makedirs(blobs, exist_ok=True)
    snapshot = os.path.join(storage, "snapshots", commit)
    stage = staging_dir(snapshot)
    try:
        for path, node in _files(exporter, root, ""):
            name = _write_blob(exporter, node, blobs, path in lfs)
            link = os.path.join(stage, *path.split("/"))
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("../" * (path.count("/") + 2) + f"blobs/{name}", link)
        place(stage, snapshot)
    finally:
        if os.path.lexists(stage):
            discard(stage)
    for ref in refs:
        _write_atomic(os.path.join(storage, "refs", *ref.split("/")), commit.encode())
    return snapshot


def _files(exporter: Exporter, node: Node, rel: str) -> Iterator[tuple[str, Node]]:
    """(path, node) of every file under directory *node* (names checked; symlinks refused)."""
    stack = [(rel, node)]
    while stack:
        prefix, directory = stack.pop()
        for name, link in exporter.links(directory):
            path = f"{prefix}/{check_name(name)}" if prefix else check_name(name)
            child = exporter.node(link.cid)
            if child.is_dir:
                stack.append((path, child))
            elif child.type == DataType.SYMLINK:
                raise UnsafePath(f"{path} is a symlink: a snapshot holds files only")
            else:
                yield path, child


def _write_blob(exporter: Exporter, node: Node, blobs: str, lfs: bool) -> str:
    """Stream the file into ``blobs/``, named by sha256 (LFS) or git blob sha1 of its bytes. A
    file added with nocopy from this very ``blobs/`` is only read and hashed: its blob is there
    already, and writing nothing costs nothing."""
    ref = first_reference(exporter.store, node.cid) if hasattr(exporter.store, "reference") else None
    if ref is not None and os.path.dirname(ref.path) == os.path.realpath(blobs):
        digest = _blob_digest(node, lfs)
        for piece in exporter.cat(node.cid):
            digest.update(piece)
        name = digest.hexdigest()
        if os.path.isfile(os.path.join(blobs, name)) and os.path.getsize(os.path.join(blobs, name)) == node.file_size():
            return name
    digest = _blob_digest(node, lfs)
    tmp = os.path.join(blobs, f".casengine-{secrets.token_hex(6)}.incomplete")
    try:
        with open(tmp, "xb") as f:
            for piece in exporter.cat(node.cid):
                digest.update(piece)
                f.write(piece)
        name = digest.hexdigest()
        os.replace(tmp, os.path.join(blobs, name))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return name


def _blob_digest(node: Node, lfs: bool):
    """How the Hub names a blob: sha256 of an LFS object, else the git blob sha1."""
    return hashlib.sha256() if lfs else hashlib.sha1(b"blob %d\0" % node.file_size())


def _lfs_by_gitattributes(exporter: Exporter, root: Node) -> set[str]:
    """Paths ``.gitattributes`` in the DAG marks ``filter=lfs`` (patterns as git matches them)."""
    try:
        text = exporter.read(exporter.child(root, ".gitattributes").cid).decode("utf-8", "replace")
    except CidNotFound:
        return set()
    patterns = [line.split()[0] for line in text.splitlines() if "filter=lfs" in line.split()[1:]]
    return {path for path, _ in _files(exporter, root, "")
            if any(fnmatch.fnmatch(path if "/" in p else path.rsplit("/", 1)[-1], p) for p in patterns)}


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.casengine-{secrets.token_hex(4)}"
    with open(tmp, "xb") as f:
        f.write(data)
    os.replace(tmp, path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
