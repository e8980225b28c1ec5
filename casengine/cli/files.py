"""``casengine cat``, ``get`` and ``ls``: reading UnixFS back out of the repository."""

from __future__ import annotations

import argparse
import errno
import gzip
import os
import sys
from contextlib import closing

from ..dag.unixfs import DataType
from ..errors import InvalidOption, IsADirectory
from ..progress import bar, counting
from .common import add_bool, add_gateway, add_progress, cid_text, emit, esc_name, open_repo, reader
from .longls import format_mode, format_mtime, walk_order
from .tabwriter import TabWriter

#: Kubo's ls JSON "Type": the UnixFS type number, HAMT shards shown as directories, raw leaves as files.
_LS_TYPES = {DataType.DIRECTORY: 1, DataType.HAMT_SHARD: 1, DataType.METADATA: 1, DataType.SYMLINK: 4}
CAT_BAR_MIN = 8 << 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cat", help="print a file's bytes (like `ipfs cat`)")
    p.add_argument("paths", nargs="+", metavar="CID[/PATH]")
    p.add_argument("-o", "--offset", type=int, default=0, help="byte offset to start at")
    p.add_argument("-l", "--length", type=int, default=None, help="maximum number of bytes")
    add_gateway(p)
    add_progress(p)
    p.set_defaults(func=cat)

    p = sub.add_parser("get", help="write a file or directory to disk (like `ipfs get`)")
    p.add_argument("path", metavar="CID[/PATH]")
    p.add_argument("-o", "--output", help="where to write (default: ./<last path element>)")
    add_bool(p, "--archive", "-a", help="write a tar archive (Kubo's, byte for byte but for made-up times)")
    add_bool(p, "--compress", "-C", help="gzip the output: the tar with -a, else the file's bytes")
    p.add_argument("-l", "--compression-level", type=int, metavar="1-9", help="gzip level (with -C; default 6)")
    add_gateway(p)
    add_progress(p)
    p.set_defaults(func=get)

    p = sub.add_parser("ls", help="list directory entries (like `ipfs ls`)")
    p.add_argument("paths", nargs="+", metavar="CID[/PATH]")
    p.add_argument("-v", "--headers", action="store_true", help="print table headers")
    add_bool(p, "--size", default=True, help="print sizes (default true)")
    add_bool(p, "--stream", "-s", help="accepted as Kubo spells it (entries are listed as they are read)")
    add_bool(p, "--resolve-type", default=True, help="accepted as Kubo spells it (types are always resolved)")
    add_gateway(p)
    add_bool(p, "--long", "-l", help="also print each entry's mode and modification time (UnixFS 1.5), '-' if none")
    p.set_defaults(func=ls)


def cat(args: argparse.Namespace) -> int:
    """Kubo's rules: offset and length apply to the files concatenated; a file the offset
    passes is skipped whole."""
    if args.offset < 0:
        raise InvalidOption("cannot specify negative offset")
    if args.length is not None and args.length < 0:
        raise InvalidOption("cannot specify negative length")
    out = sys.stdout.buffer
    with open_repo(args) as repo:
        # whole files come from gateways as one CAR each; a range reads through block by block
        ex = reader(args, repo, whole=args.paths if args.offset == 0 and args.length is None else ())
        nodes = [ex.resolve(path) for path in args.paths] if args.length != 0 else []  # Kubo: all first
        if any(n.is_dir for n in nodes):
            raise IsADirectory("this dag node is a directory")
        total = max(0, sum(n.file_size() for n in nodes) - args.offset)
        total = total if args.length is None else min(total, args.length)
        # Kubo's bar: only for 8 MiB or more (cat.go progressBarMinSize), when -p or at a terminal
        with bar("cat", total, args.progress if total >= CAT_BAR_MIN else False) as progress:
            offset, remaining = args.offset, args.length
            for node in nodes:
                if remaining == 0:
                    break
                size = node.file_size()
                if offset > size:
                    offset -= size
                    continue
                with closing(ex.cat(node, offset, remaining, views=True)) as pieces:
                    for piece in counting(pieces, progress, len):
                        out.write(piece)
                        if remaining is not None:
                            remaining -= len(piece)
                offset = 0
    out.flush()
    return 0


def get(args: argparse.Namespace) -> int:
    output = args.output or args.path.rstrip("/").rsplit("/", 1)[-1]
    level = args.compression_level if args.compression_level is not None else 6
    if args.compress and not 1 <= level <= 9:
        raise InvalidOption("compression level must be between 1 and 9")
    if args.archive or args.compress:
        return get_archive(args, output, level if args.compress else None)
    with open_repo(args) as repo:
        ex = reader(args, repo, whole=[args.path])
        node = ex.resolve(args.path)
        # a directory's total is estimated from its links' Tsize (block bytes, a little over)
        total = sum(lk.tsize or 0 for lk in node.pb.links) if node.is_dir else node.file_size()
        emit(args, {"Path": os.path.abspath(output), "Hash": cid_text(args, node.cid)}, f"Saving file(s) to {output}")
        with bar("get", total, args.progress) as progress:
            ex.get(args.path, output, progress)
    return 0


def get_archive(args: argparse.Namespace, output: str, level: int | None) -> int:
    """Kubo's ``get -a`` (a tar, see :mod:`casengine.archive`) and ``-C`` (gzip, level *level*, of
    the tar or, without -a, of a file's bytes), named with .tar and .gz added as Kubo adds them;
    written beside its name and renamed into place, so an error leaves no half archive."""
    from ..archive import tar_stream

    if args.archive and not output.endswith((".tar", ".tar.gz")):
        output += ".tar"
    if level is not None and not output.endswith(".gz"):
        output += ".gz"
    with open_repo(args) as repo:
        ex = reader(args, repo, whole=[args.path])
        node = ex.resolve(args.path)
        if not args.archive and (node.is_dir or not (node.is_file or node.type == DataType.SYMLINK)):
            raise InvalidOption("file is not regular")
        name = args.path.rstrip("/").rsplit("/", 1)[-1]
        pieces = tar_stream(ex, node, name) if args.archive else ex.cat(node, views=True)
        total = sum(lk.tsize or 0 for lk in node.pb.links) if node.is_dir else node.file_size()
        if os.path.isdir(output):  # as Kubo's os.Create fails, before a line is printed
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), output)
        tmp = os.path.join(os.path.dirname(output), f".casengine-{os.urandom(8).hex()}.part")
        try:
            with open(tmp, "xb") as raw, closing(pieces), bar("get", total, args.progress) as progress:
                emit(args, {"Path": os.path.abspath(output), "Hash": cid_text(args, node.cid)},
                     f"Saving archive to {output}")
                out = raw if level is None else gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                               compresslevel=level, mtime=0)
                for piece in counting(pieces, progress, len):
                    out.write(piece)
                out.close()
            os.rename(tmp, output)
        except BaseException as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(e, OSError) and e.filename == tmp:  # the user's name, not ours
                raise OSError(e.errno, e.strerror, output) from None
            raise
    return 0


def tabulate(rows: list[list[str]], minwidth: int = 1) -> str:
    """*rows* as Go's tabwriter(minwidth, padding 1, ' ') prints them, one line each."""
    return tabwrite("".join("\t".join(row) + "\n" for row in rows), minwidth)


def tabwrite(text: str, minwidth: int = 1) -> str:
    writer = TabWriter(minwidth)
    writer.write(text.encode("utf-8", "surrogateescape"))
    return writer.flush().decode("utf-8", "surrogateescape")


def ls_entries(ex, path: str, stream: bool) -> list:
    """Kubo's order: sorted by name (its ls sorts them), or with --stream as its walk meets them."""
    entries = ex.ls(path)
    if not stream:
        return sorted(entries, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
    node = ex.resolve(path)
    if node.type != DataType.HAMT_SHARD:
        return entries
    order = {name: i for i, (name, _) in enumerate(walk_order(ex, node))}
    return sorted(entries, key=lambda e: order[e.name])


def ls_row(args: argparse.Namespace, e) -> list[str]:
    is_dir = e.type in (DataType.DIRECTORY, DataType.HAMT_SHARD, DataType.METADATA)
    name = esc_name(e.name) + ("/" if is_dir else "")
    size = "-" if is_dir else str(e.size)
    row = [cid_text(args, e.cid), size, name] if args.size else [cid_text(args, e.cid), name]
    return [format_mode(e.mode, e.type), *row[:-1], format_mtime(e.mtime_ns), name] if args.long else row


def ls(args: argparse.Namespace) -> int:
    """Kubo's ls lines (ls.go tabularOutput): a path's name and the headers when the path changes,
    all through one tabwriter; with --stream each entry is printed as it comes, through a
    tabwriter of its own with columns at least 10 wide."""
    head = ""
    if args.headers:
        head = ["Hash", "Size", "Name"] if args.size else ["Hash", "Name"]
        head = "\t".join(["Mode", *head[:-1], "ModTime", "Name"] if args.long else head) + "\n"
    out, last, text = sys.stdout, "", []
    with open_repo(args) as repo:
        ex = reader(args, repo)
        for path in args.paths:
            entries = ls_entries(ex, path, args.stream)
            objects = [[e] for e in entries] if args.stream else [entries]
            if args.json:  # Kubo's RPC objects: all of a path's entries, or one per object when streamed
                for links in objects:
                    emit(args, {"Objects": [{"Hash": path, "Links": [
                        {"Name": e.name, "Hash": cid_text(args, e.cid), "Size": e.size,
                         "Type": 0 if e.type is None else _LS_TYPES.get(e.type, 2),
                         "Target": e.target or ""} for e in links]}]}, None)
                continue
            for links in objects:
                if path != last:
                    if len(args.paths) > 1:
                        text.append(("\n" if last else "") + f"{path}:\n")
                    text.append(head)
                    last = path
                text += ["\t".join(ls_row(args, e)) + "\n" for e in links]
                if args.stream:
                    out.write(tabwrite("".join(text), 10))
                    text = []
    out.write(tabwrite("".join(text)))
    return 0
