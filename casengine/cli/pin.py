"""``casengine pin add|rm|ls``: Kubo's ``ipfs pin`` flags, lines and error texts
(kubo core/commands/pin/pin.go, boxo pinning/pinner/dspinner)."""

from __future__ import annotations

import argparse
from ..dag.cid import Cid, content_path
from ..errors import InvalidOption
from ..exporter import Exporter
from ..options import check_pin_name
from ..repo import PIN_KINDS, PinError, Repo
from .common import BoolFlagParser, add_bool, add_gateway, cid_text, emit, open_repo, parse_bool, reader


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pin", help="pin and unpin objects (like `ipfs pin`)")
    verbs = p.add_subparsers(dest="pin_verb", metavar="VERB", required=True)

    a = verbs.add_parser("add", help="pin objects to local storage")
    a.add_argument("paths", nargs="+", metavar="IPFS-PATH", help="CID or /ipfs/CID/path")
    _recursive(a, "recursively pin the object linked to by the specified object(s)")
    a.add_argument("-n", "--name", default="", help="a name for the pin(s), shown by `pin ls --names`")
    a.add_argument("--progress", action="store_true", help="accepted for Kubo compatibility; prints nothing")
    add_gateway(a)
    a.set_defaults(func=pin_add)

    r = verbs.add_parser("rm", help="remove pins")
    r.add_argument("paths", nargs="+", metavar="IPFS-PATH")
    _recursive(r, "recursively unpin the object linked to by the specified object(s)")
    r.set_defaults(func=pin_rm)

    ls = verbs.add_parser("ls", help="list pinned objects")
    ls.add_argument("paths", nargs="*", metavar="IPFS-PATH")
    ls.add_argument("-t", "--type", default="all", help='"direct", "indirect", "recursive" or "all" (default)')
    ls.add_argument("-q", "--quiet", action="store_true", help="print only the CIDs")
    ls.add_argument("-s", "--stream", action="store_true", help="with --json, one object per pin (text always streams)")
    add_bool(ls, "--names", help="also print each pin's name")
    ls.add_argument("-n", "--name", default="", help="only pins whose name contains this (implies --names)")
    ls.set_defaults(func=pin_ls)


def _recursive(parser: BoolFlagParser, help: str) -> None:
    parser.bool_flags |= {"-r", "--recursive"}
    parser.add_argument("-r", "--recursive", type=parse_bool, default=True, metavar="BOOL",
                        help=help + " (default true)")


def resolve_cid(repo: Repo, path: str, exporter: Exporter | None = None) -> Cid:
    """A CID argument, or the CID a ``CID/a/b`` path resolves to (as Kubo's ResolvePath)."""
    text = content_path(path.strip())
    if "/" not in text.strip("/"):
        return Cid.parse(text.strip("/"))
    return (exporter or repo.exporter).resolve(text).cid


def pin_add(args: argparse.Namespace) -> int:
    with open_repo(args) as repo, repo.writing():   # blocks fetched from gateways stay until pinned
        ex = reader(args, repo, whole=args.paths if args.recursive else ())
        check_pin_name(args.name)
        cids = [resolve_cid(repo, p, ex) for p in args.paths]
        for cid in cids:
            repo.pin(cid, recursive=args.recursive, name=args.name)
    how = "recursively" if args.recursive else "directly"
    emit(args, {"Pins": [cid_text(args, c) for c in cids]},
         "\n".join(f"pinned {cid_text(args, cid)} {how}" for cid in cids))
    return 0


def pin_rm(args: argparse.Namespace) -> int:
    removed = []
    with open_repo(args) as repo:
        for path in args.paths:
            cid = resolve_cid(repo, path)
            repo.unpin(cid, recursive=args.recursive)
            removed.append(cid)
    emit(args, {"Pins": [cid_text(args, c) for c in removed]},
         "\n".join(f"unpinned {cid_text(args, cid)}" for cid in removed))
    return 0


def pin_ls(args: argparse.Namespace) -> int:
    """Kubo's lines, or with --json its one ``{"Keys": {cid: {"Type": ...}}}`` object (with
    --stream, one ``{"Cid": ..., "Type": ...}`` per pin)."""
    check_pin_name(args.name)
    if args.type not in PIN_KINDS:
        raise InvalidOption(f"invalid type '{args.type}', must be one of {{direct, indirect, recursive, all}}")
    show_names = args.names or bool(args.name)
    with open_repo(args) as repo:
        names = repo.pin_names() if show_names else {}
        if args.paths:
            found = []
            for path in args.paths:  # all are checked before anything is printed, as in Kubo
                cid = resolve_cid(repo, path)
                how = repo.pinned(cid, args.type)
                if how is None:
                    raise PinError(f"path '{path}' is not pinned")
                found.append((cid, how[0] + (f" through {how[1]}" if how[1] else "")))
        else:
            found = repo.pins(args.type)
        keys = {}
        for cid, kind in found:
            name = names.get(cid, "") if kind in ("recursive", "direct") else ""
            if args.name and args.name not in name and not args.paths:
                continue
            text = cid_text(args, cid)
            if args.json and not args.stream:
                keys[text] = {"Type": kind, "Name": name}
            else:
                line = text if args.quiet else f"{text} {kind} {name}" if name else f"{text} {kind}"
                emit(args, {"Cid": text, **({"Name": name} if name else {}), "Type": kind}, line)
    if args.json and not args.stream:
        emit(args, {"Keys": keys}, None)
    return 0
