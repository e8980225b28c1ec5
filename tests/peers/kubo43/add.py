"""`ipfs add -Q -n [-r --hidden]` as the RPC call the CLI makes: the same multipart body (boxo's
files.MultiFileReader: a part per entry, depth first, names query-escaped, each with the mode and
mtime the CLI sends) and the same options, so one call costs ~1 ms instead of a CLI process.

Flags the CLI acts on itself (ignore rules, stdin names, short spellings) are not reproduced here:
`needs_cli` says when only the real CLI will do."""
from __future__ import annotations

import json
import os
import stat
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# opts (the vocabulary of the 0.22 oracle, tests/peers/fixtures.Kubo) -> Kubo's add option names
OPTIONS = {"cid_version": "cid-version", "raw_leaves": "raw-leaves", "chunker": "chunker",
           "trickle": "trickle", "hash": "hash", "inline": "inline", "inline_limit": "inline-limit",
           "wrap": "wrap-with-directory", "max_file_links": "max-file-links",
           "max_directory_links": "max-directory-links", "max_hamt_fanout": "max-hamt-fanout"}
# flags the CLI itself interprets while reading the paths (this module only knows the first)
CLIENT_SIDE = {"dereference-symlinks", "dereference-args", "ignore", "ignore-rules-path", "stdin-name",
               "recursive", "hidden", "w", "r", "H", "s", "t", "n", "q", "Q", "p"}
# Go's os.FileMode bits for what POSIX keeps elsewhere (the CLI sends Go's FileMode, in octal)
GO_DIR, GO_SYMLINK, GO_SETUID, GO_SETGID, GO_STICKY = 1 << 31, 1 << 27, 1 << 23, 1 << 22, 1 << 20


def split_flag(flag: str) -> tuple[str, str]:
    """"--name=value" -> (name, value); "--name" -> (name, "true")."""
    name, sep, value = flag.lstrip("-").partition("=")
    return name, value if sep else "true"


def needs_cli(flags: Iterable[str]) -> bool:
    """Some flag is one the CLI applies itself, or is spelled in a way this module does not parse."""
    for flag in flags:
        name, _ = split_flag(flag)
        if not flag.startswith("--") or (name in CLIENT_SIDE and name != "dereference-symlinks"):
            return True
    return False


def params(opts: dict[str, Any], flags: Iterable[str], only_hash: bool = True) -> list[tuple[str, str]]:
    """Query parameters of the add call: only-hash (else no pin), then opts, then flags as given."""
    out = [("only-hash", "true") if only_hash else ("pin", "false"), ("progress", "false")]
    for key, value in opts.items():
        if key not in OPTIONS:
            raise TypeError(f"unknown option {key!r}")
        if value is None or (value is False and key in ("trickle", "inline", "wrap")):
            continue
        out.append((OPTIONS[key], str(value).lower() if isinstance(value, bool) else str(value)))
    out += [split_flag(f) for f in flags if split_flag(f)[0] != "dereference-symlinks"]
    return out


def go_mode(st: os.stat_result) -> int:
    """Go's os.FileMode for st (boxo's serialFile.Mode())."""
    mode = st.st_mode & 0o777
    if stat.S_ISDIR(st.st_mode):
        mode |= GO_DIR
    if stat.S_ISLNK(st.st_mode):
        mode |= GO_SYMLINK
    for posix, go in ((stat.S_ISUID, GO_SETUID), (stat.S_ISGID, GO_SETGID), (stat.S_ISVTX, GO_STICKY)):
        if st.st_mode & posix:
            mode |= go
    return mode


def entries(path: Path, name: str, deref: bool) -> Iterator[tuple[str, os.stat_result, Path]]:
    """(multipart name, stat, path) of path and, for a directory, everything below it, in the
    CLI's order (os.ReadDir: sorted by name, depth first)."""
    st = os.stat(path) if deref else os.lstat(path)
    yield name, st, path
    if stat.S_ISDIR(st.st_mode):
        for child in sorted(os.listdir(path)):
            yield from entries(path / child, f"{name}/{child}", deref)


def part(boundary: str, name: str, st: os.stat_result, path: Path) -> bytes:
    query = {"mtime": str(st.st_mtime_ns // 10**9)}
    if go_mode(st):
        query["mode"] = "0" + format(go_mode(st), "o")
    if st.st_mtime_ns % 10**9:
        query["mtime-nsecs"] = str(st.st_mtime_ns % 10**9)
    if stat.S_ISDIR(st.st_mode):
        ctype, data = "application/x-directory", b""
    elif stat.S_ISLNK(st.st_mode):
        ctype, data = "application/symlink", os.readlink(path).encode("utf-8", "surrogateescape")
    else:
        ctype, data = "application/octet-stream", path.read_bytes()
    disposition = (f'form-data; name="file?{urllib.parse.urlencode(sorted(query.items()))}"; '
                   f'filename="{urllib.parse.quote_plus(name, encoding="utf-8", errors="surrogateescape")}"')
    return (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n"
            .encode() + data + b"\r\n")


def body(path: Path, deref: bool) -> tuple[bytes, str]:
    """The multipart body for `ipfs add -r --hidden path` and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts = [part(boundary, *e) for e in entries(path, path.name, deref)]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def root(answer: bytes) -> str:
    """What -Q prints: the last hash of the stream."""
    events = [json.loads(line) for line in answer.splitlines() if line.strip()]
    hashes = [e["Hash"] for e in events if e.get("Hash")]
    if not hashes:
        raise ValueError(f"no hash in Kubo's answer: {answer[:200]!r}")
    return str(hashes[-1])
