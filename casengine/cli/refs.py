"""``casengine refs [-r] [-u] [--max-depth N] [--format F] [-e]`` and ``refs local``: the links of
DAGs as Kubo 0.43.1's RefWriter prints them (kubo core/commands/refs.go): depth-first, every
edge unless ``-u``, links of every codec in document order."""

from __future__ import annotations

import argparse
from typing import Iterator

from .. import ipldpath
from ..dag import pb
from ..dag.cid import DAG_PB, Cid
from ..dag.links import links
from ..errors import InvalidOption
from .common import add_bool, cid_text, emit, open_repo, reader


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("refs", help="list the links of DAGs (like `ipfs refs`)",
                       description="List the CIDs that the blocks at the given paths link to.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="CIDs or paths; `refs local` lists every stored block")
    p.add_argument("--format", default="<dst>", help="print each edge with <src> <dst> <linkname> replaced")
    add_bool(p, "--edges", "-e", default=False, help='print "<src> -> <dst>" edges')
    add_bool(p, "--unique", "-u", default=False, help="print each CID once")
    add_bool(p, "--recursive", "-r", default=False, help="follow links all the way down")
    p.add_argument("--max-depth", type=int, default=-1, help="how deep to follow links (-1: no limit)")
    p.set_defaults(func=refs)


def refs(args: argparse.Namespace) -> int:
    if args.paths == ["local"]:  # Kubo's subcommand (no CID is spelled "local")
        return refs_local(args)
    if not args.paths:
        raise InvalidOption("argument \"ipfs-path\" is required")
    fmt = args.format
    if args.edges:
        if fmt != "<dst>":
            raise InvalidOption("using format argument with edges is not allowed")
        fmt = "<src> -> <dst>"
    depth = args.max_depth if args.recursive or args.max_depth >= 0 else 1
    if args.recursive and args.max_depth < 0:
        depth = -1
    with open_repo(args) as repo:
        ex = reader(args, repo)
        roots = [ipldpath.resolve(ex, p).cid for p in args.paths]

        def children(cid: Cid) -> list[tuple[Cid, str]]:
            block = ex.store.get(cid, verified=ex.verified)
            if cid.codec == DAG_PB:
                return [(lk.cid, lk.name or "") for lk in pb.decode(block).links]
            return [(c, "") for c in links(cid, block)]
        for root in roots:
            for src, dst, name in edges(root, children, depth, args.unique):
                text = fmt.replace("<src>", cid_text(args, src)).replace("<dst>", cid_text(args, dst))
                text = text.replace("<linkname>", name)
                emit(args, {"Ref": text, "Err": ""}, text)
    return 0


def edges(root: Cid, children, max_depth: int, unique: bool) -> Iterator[tuple[Cid, Cid, str]]:
    """(src, dst, link name) in Kubo's order: depth-first pre-order; with *unique*, a CID is printed
    once and its subtree pruned unless reached higher up than before (RefWriter.visit)."""
    seen: dict[Cid, int] = {}
    stack = [(root, 0, iter(children(root)))]
    while stack:
        src, depth, pending = stack[-1]
        nxt = next(pending, None)
        if nxt is None:
            stack.pop()
            continue
        dst, name = nxt
        child_depth = depth + 1
        if 0 <= max_depth < child_depth:
            continue
        at_max = max_depth >= 0 and child_depth == max_depth
        if unique:
            old = seen.get(dst)
            if old is not None and (max_depth < 0 or old <= child_depth):
                continue
            seen[dst] = child_depth
            if old is None:
                yield src, dst, name
        else:
            yield src, dst, name
        if not at_max:
            stack.append((dst, child_depth, iter(children(dst))))


def refs_local(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        for cid in repo.store.iterate():
            emit(args, {"Ref": cid_text(args, cid), "Err": ""}, cid_text(args, cid))
    return 0
