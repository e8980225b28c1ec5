"""``casengine hf add`` / ``hf get``: Hugging Face cache snapshots by CID, offline."""

from __future__ import annotations

import argparse

from .. import hf
from ..dag.cid import Cid
from .common import add_bool, emit, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("hf", help="Hugging Face cache snapshots (add, get)")
    verbs = group.add_subparsers(dest="hf_verb", metavar="VERB", required=True)

    p = verbs.add_parser("add", help="add a cached snapshot as a directory; print `added <cid> <repo>`")
    p.add_argument("repo_id", metavar="REPO_ID")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    add_bool(p, "--nocopy", help="keep the files' bytes only in the cache's blobs (filestore references, "
                                 "raw leaves: the CIDs of `ipfs add -r --hidden --nocopy`)")
    _common(p)
    p.set_defaults(func=add)

    p = verbs.add_parser("get", help="restore a snapshot directory into the cache; print its path")
    p.add_argument("cid", metavar="CID")
    p.add_argument("repo_id", metavar="REPO_ID")
    p.add_argument("--revision", help="also point this ref at the restored commit")
    _common(p)
    p.set_defaults(func=get)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo-type", default="model", choices=("model", "dataset", "space"))
    p.add_argument("--cache-dir", help="Hugging Face hub cache (default: $HF_HUB_CACHE or $HF_HOME/hub)")


def add(args: argparse.Namespace) -> int:
    with open_repo(args, create=True) as repo:
        snap = hf.add_snapshot(repo, args.repo_id, args.revision, cache_dir=args.cache_dir, repo_type=args.repo_type,
                               nocopy=bool(args.nocopy))
    emit(args, {"Name": args.repo_id, "Hash": str(snap.cid), "Commit": snap.commit}, f"added {snap.cid} {args.repo_id}")
    return 0


def get(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        cid = Cid.parse(args.cid)
        path = hf.restore_snapshot(repo.exporter, cid, args.repo_id, manifest=hf.manifest_for(repo, cid),
                                   revision=args.revision, cache_dir=args.cache_dir, repo_type=args.repo_type)
    emit(args, {"Path": path, "Hash": str(cid)}, path)
    return 0
