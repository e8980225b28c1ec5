"""``casengine add``: Kubo's ``ipfs add`` flags and output, plus ``--profile`` (IPIP-499)."""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys

from ..dag.directory import SIZE_ESTIMATES
from ..dag.file import DagRef
from ..importer import Importer, NamedStream
from ..options import DEFAULT_PROFILE, PROFILE_ALIASES, PROFILES, ImportOptions
from ..progress import bar, reporting, wanted
from .common import add_bool, add_progress, cid_text, emit, esc_name, open_repo

#: Byte units as Kubo's config takes them (go-humanize): "256KiB", "1MiB", "262144".
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add", help="add files or directories (like `ipfs add`)",
                       description="Add files or directories; print `added <cid> <name>` for each.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories; none or '-' reads stdin")
    p.add_argument("-r", "--recursive", action="store_true", help="add directories recursively")
    p.add_argument("-q", "--quiet", action="store_true", help="print only CIDs")
    p.add_argument("-Q", "--quieter", action="store_true", help="print only the final CID")
    p.add_argument("--silent", action="store_true", help="print nothing")
    add_bool(p, "--only-hash", "-n", help="only chunk and hash; write nothing")
    add_bool(p, "--wrap-with-directory", "-w", help="wrap the added paths in a directory")
    add_bool(p, "--hidden", "-H", help="include files whose names start with '.'")
    add_bool(p, "--trickle", "-t", help="use the trickle DAG layout")
    add_bool(p, "--raw-leaves", help="raw blocks for leaves (default: true for CIDv1)")
    add_bool(p, "--inline", help="inline small blocks into CIDs")
    add_bool(p, "--pin", default=True, help="pin the added root (default true)")
    add_bool(p, "--nocopy", help="reference the files' bytes instead of storing them (Kubo's filestore); "
                                 "implies --raw-leaves")
    p.add_argument("--cid-version", type=int, help="CID version (0 or 1)")
    p.add_argument("-s", "--chunker",
                   help="size-N, rabin, rabin-AVG, rabin-MIN-AVG-MAX or buzhash (default size-262144)")
    p.add_argument("--hash", help="multihash function (default sha2-256)")
    p.add_argument("--inline-limit", type=int, help="largest block to inline (default 32)")
    p.add_argument("--stdin-name", help="name for the file read from stdin (default: its CID)")
    add_bool(p, "--empty-dirs", "-E", help="include empty directories (default true)")
    add_bool(p, "--dereference-symlinks", help="add what symlinks point to, arguments and nested ones, not the links")
    p.add_argument("--pin-name", help="name to store with the pin")
    add_bool(p, "--preserve-mode", help="store each entry's POSIX permissions (UnixFS 1.5; disables raw leaves)")
    add_bool(p, "--preserve-mtime", help="store each entry's modification time (UnixFS 1.5; disables raw leaves)")
    p.add_argument("--mode", type=go_uint(32), metavar="OCTAL",
                   help="POSIX mode to store on every entry but symlinks, e.g. 0755 (UnixFS 1.5)")
    p.add_argument("--mtime", type=go_int(64), metavar="SECONDS",
                   help="modification time to store on every entry, seconds since the epoch (UnixFS 1.5)")
    p.add_argument("--mtime-nsecs", type=go_uint(32), metavar="N", help="nanoseconds of --mtime")
    add_progress(p)
    p.add_argument("--profile", choices=[*PROFILES, *PROFILE_ALIASES], default=DEFAULT_PROFILE,
                   help="a named set of the options here (IPIP-499); flags given override it "
                        f"(default {DEFAULT_PROFILE})")
    p.add_argument("--max-file-links", "--max-links", dest="max_links", type=int, metavar="N",
                   help="most links in a file DAG node (default 174)")
    p.add_argument("--max-directory-links", type=int, metavar="N",
                   help="shard a directory with more entries than this; 0 for no limit (default 0)")
    p.add_argument("--max-hamt-fanout", type=int, metavar="N",
                   help="links per HAMT shard node: a power of 2 from 8 to 1024 (default 256)")
    p.add_argument("--hamt-size-threshold", type=parse_bytes, metavar="BYTES",
                   help="shard a directory whose size estimate passes this; 0 never shards "
                        "(Kubo config Import.UnixFSHAMTDirectorySizeThreshold; default 256KiB)")
    p.add_argument("--hamt-size-estimation", choices=SIZE_ESTIMATES,
                   help="how a directory's size is estimated (Kubo config "
                        "Import.UnixFSHAMTDirectorySizeEstimation; default links)")
    add_bool(p, "--hamt-shard-at-threshold",
             help="also shard a directory whose estimate equals the threshold (Kubo <= 0.39: true, 0.40: false)")
    p.set_defaults(func=run)


def parse_bytes(text: str) -> int:
    """A byte count as Kubo's config writes it: "262144", "256KiB", "1MB"."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = _UNITS.get(m.group(2).lower()) if m else None
    if unit is None:
        raise argparse.ArgumentTypeError(f"expected a byte count such as 262144 or 256KiB, got {text!r}")
    return int(m.group(1)) * unit


def _go_integer(text: str, bits: int, signed: bool) -> int:
    """Go's strconv.ParseInt/ParseUint with base 0, as go-ipfs-cmds parses integer options:
    0x, 0o, 0b prefixes, and a leading 0 for octal (``--mode=0755``)."""
    body = text[1:] if signed and text[:1] in "+-" else text
    try:
        if re.fullmatch(r"0[0-7_]+", body):
            value = int(body.replace("_", ""), 8)
        elif re.fullmatch(r"(0[xXoObB])?[0-9a-fA-F_]+", body):
            value = int(body, 0)
        else:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"could not convert value {text!r} to an integer") from None
    value = -value if text[:1] == "-" and signed else value
    low, high = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"value out of range: {text!r}")
    return value


def go_uint(bits: int):
    return lambda text: _go_integer(text, bits, signed=False)


def go_int(bits: int):
    return lambda text: _go_integer(text, bits, signed=True)


def options_from(args: argparse.Namespace) -> ImportOptions:
    """The profile's options, overridden by every flag given (flags not given are None)."""
    return ImportOptions.from_profile(
        args.profile, cid_version=args.cid_version, raw_leaves=args.raw_leaves, chunker=args.chunker,
        trickle=args.trickle, hash=args.hash, inline=args.inline, inline_limit=args.inline_limit,
        hidden=args.hidden, wrap_with_directory=args.wrap_with_directory, only_hash=args.only_hash, pin=args.pin,
        nocopy=args.nocopy,
        max_links=args.max_links, max_directory_links=args.max_directory_links,
        max_hamt_fanout=args.max_hamt_fanout, shard_threshold=args.hamt_size_threshold,
        shard_estimate=args.hamt_size_estimation, shard_at_threshold=args.hamt_shard_at_threshold,
        empty_dirs=args.empty_dirs, dereference_symlinks=args.dereference_symlinks, pin_name=args.pin_name,
        preserve_mode=args.preserve_mode, preserve_mtime=args.preserve_mtime, mode=args.mode, mtime=args.mtime,
        mtime_nsecs=args.mtime_nsecs)


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    last: list[str] = []

    def on_added(name: str, ref: DagRef) -> None:
        cid = cid_text(args, ref.cid)
        last[:] = [cid]
        if args.silent or (args.quieter and not args.json):
            return
        emit(args, {"Name": name, "Hash": cid, "Size": str(ref.tsize)},
             cid if args.quiet else f"added {cid} {esc_name(name)}")

    if args.progress is None and (args.quiet or args.quieter or args.silent):
        args.progress = False  # Kubo: -q, -Q and --silent turn the bar off unless -p is given
    sources = [NamedStream(args.stdin_name, stdin()) if p == "-" else p for p in args.paths or ["-"]]
    files = [p for p in sources if not isinstance(p, NamedStream)]
    total = total_size(files) if wanted(args.progress) and len(files) == len(sources) else None
    with bar("add", total, args.progress) as progress, reporting(progress):
        if options.only_hash:
            Importer(None, options, on_added).add_paths(sources, recursive=args.recursive)
        else:
            with open_repo(args, create=True) as repo:
                repo.add(sources, options, on_added, recursive=args.recursive)
    if args.quieter and not args.silent and not args.json:
        print(last[0])
    return 0


def stdin():
    """Standard input to add. At a terminal Kubo says so first (go-ipfs-cmds maybeWrapStdin), and
    one Ctrl-D ends it: the unbuffered stream, since a buffered one reads past the only empty read
    the terminal gives."""
    if not sys.stdin.isatty():
        return sys.stdin.buffer
    print("casengine: Reading from /dev/stdin; send Ctrl-d to stop.", file=sys.stderr, flush=True)
    return sys.stdin.buffer.raw


def total_size(paths: list[str]) -> int:
    """Bytes of the regular files under *paths*, for the bar's ETA (an estimate: hidden files count)."""
    files = [p for p in paths if not os.path.isdir(p)]
    files += [os.path.join(root, name) for p in paths if os.path.isdir(p) for root, _, names in os.walk(p)
              for name in names]
    sizes = (os.lstat(f) for f in files if os.path.lexists(f))
    return sum(st.st_size for st in sizes if stat.S_ISREG(st.st_mode))
