"""A ``KUBO_CMD`` that answers ``version`` as Kubo 0.22 does and fails every other command.

    KUBO_CMD="python tests/faulty/kubo_cmd.py --mode MODE [--pids FILE]"

Modes (:data:`MODES`). With ``--pids``, the command starts a child of its own that sleeps and
appends both process ids to FILE, so a test can check that a timeout ends the whole process
group, not only the command (a wrapper script's children would otherwise live on).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

MODES = {
    "hang": "prints nothing and never exits",
    "trickle": "prints one byte per second, for ever",
    "garbage": "prints bytes that are not what the command prints, exits 0",
    "wrong": "prints a well-formed answer about other content (another CID, other bytes), exits 0",
    "exit": "prints Kubo's 'Error: ...' line on stderr and exits 1",
}
OTHER_CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # "hello world\n": other content


def wrong(args: list[str]) -> bytes:
    """What this command would print about other content."""
    verb = " ".join(a for a in args[:2] if not a.startswith("-"))
    if verb.startswith(("add", "block put")):
        return f"{OTHER_CID}\n".encode()
    if verb.startswith("ls"):
        return f"{OTHER_CID} 12 hello.txt\n".encode()
    if verb.startswith("pin ls"):
        return f"{OTHER_CID} recursive\n".encode()
    if verb.startswith("block stat"):
        return f"Key: {OTHER_CID}\nSize: 12\n".encode()
    return b"hello world\n"  # block get, cat, dag export: the other content's bytes


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--pids")
    opts, args = parser.parse_known_args()
    if args[:1] == ["version"]:
        print("ipfs version 0.22.0")
        return 0
    if opts.pids:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(opts.pids, "a") as f:
            f.write(f"{os.getpid()} {child.pid}\n")
    if not sys.stdin.isatty():
        sys.stdin.buffer.read()  # take what the tier sends (block put, add from stdin)
    out = sys.stdout.buffer
    if opts.mode == "hang":
        time.sleep(600)
    elif opts.mode == "trickle":
        for _ in range(600):
            out.write(b"Q")
            out.flush()
            time.sleep(1)
    elif opts.mode == "garbage":
        out.write(b"\x00\xffthis is not what ipfs prints\n\x1b[2J")
    elif opts.mode == "wrong":
        out.write(wrong(args))
    else:
        print("Error: the faulty command failed on purpose", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
