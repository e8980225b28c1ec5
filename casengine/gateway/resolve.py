"""Content paths ``/ipfs/CID/a/b``: parsed and cleaned as Kubo's gateway does, then resolved one
segment at a time inside the DAG of their root, recording what a CAR response must carry (every
block read on the way, HAMT shards included) and the segment roots of ``X-Ipfs-Roots``.

A path never leaves its DAG: ``..`` is cleaned away before resolution (Kubo redirects to the
clean path), and each step follows only a link of the block before it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..dag import hamt
from ..dag.cid import DAG_PB, RAW, Cid
from ..dag.unixfs import DataType
from ..errors import BadRequest, CidNotFound, DecodeError, PathNotFound
from ..exporter import Exporter, Node


def missing(path: str, cid: Cid, loaded: list[tuple[Cid, bytes]]) -> PathNotFound:
    """The 404 of a block this store lacks, in Kubo's (offline) words."""
    return PathNotFound(f"failed to resolve {path}: block was not found locally (offline): ipld: could not find {cid}",
                    loaded)


def clean(path: str) -> str:
    """Go's path.Clean as its ServeMux applies it (a trailing slash kept)."""
    out = posixpath.normpath(path) if path else "/"
    if out.startswith("//"):
        out = "/" + out.lstrip("/")
    if path.endswith("/") and out != "/":
        out += "/"
    return out


def split(path: str) -> tuple[Cid, list[str]]:
    """``/ipfs/CID/a/b`` -> (CID, ["a", "b"]); BadRequest with Kubo's text where Kubo answers 400."""
    parts = path.split("/")
    if len(parts) < 3 or not parts[2]:
        raise BadRequest(f'invalid path "{path}": path does not have enough components')
    try:
        root = Cid.parse(parts[2])
    except DecodeError as e:
        raise BadRequest(f'invalid path "{path}": invalid cid: {e}') from None
    return root, [p for p in parts[3:] if p]


@dataclass
class Resolved:
    path: str                       # the content path as requested (cleaned)
    root: Cid                       # its first CID
    segments: list[str]
    node: Node | None = None        # the block the path ends at, decoded (None until read)
    roots: list[Cid] = field(default_factory=list)   # one per segment: X-Ipfs-Roots
    loaded: list[tuple[Cid, bytes]] = field(default_factory=list)

    @property
    def cid(self) -> Cid:
        return self.roots[-1]


def resolve(exporter: Exporter, path: str, root: Cid, segments: list[str]) -> Resolved:
    """Walk *segments* from *root*; PathNotFound (with the blocks read) where a block or a name is missing."""
    out = Resolved(path, root, segments, roots=[root])
    node = _load(exporter, root, out, path)
    for name in segments:
        if not node.is_dir or node.cid.codec != DAG_PB:
            raise PathNotFound(f'failed to resolve {path}: no link named "{name}" under {node.cid}', out.loaded)
        link = _lookup(exporter, node, name, out, path)
        if link is None:
            raise PathNotFound(f'failed to resolve {path}: no link named "{name}" under {node.cid}', out.loaded)
        node = _load(exporter, link, out, path)
        out.roots.append(link)
    out.node = node
    return out


def _load(exporter: Exporter, cid: Cid, out: Resolved, path: str) -> Node:
    try:
        node = exporter.node(cid) if cid.codec in (DAG_PB, RAW) else Node(cid, exporter.store.get(cid))
    except CidNotFound:
        raise missing(path, cid, out.loaded) from None
    out.loaded.append((cid, node.block))
    return node


def _lookup(exporter: Exporter, node: Node, name: str, out: Resolved, path: str) -> Cid | None:
    """The CID named *name* in the directory *node*, reading (and recording) the HAMT shards on the way."""
    if node.type == DataType.DIRECTORY:
        return next((lk.cid for lk in node.pb.links if lk.name == name), None)
    shard, depth = node, 0
    while True:
        found = hamt.child_for(shard.pb, shard.fs, name, depth)
        if found is None:
            return None
        link, is_shard = found
        if not is_shard:
            return link.cid
        shard, depth = _load(exporter, link.cid, out, path), depth + 1
        if shard.type != DataType.HAMT_SHARD:
            raise DecodeError(f"HAMT sub-shard {shard.cid} is not a shard")
