"""js-ipfs 0.66.1 as an offline Kubo-RPC (/api/v0) server on 127.0.0.1 ("core" mode: ipfs-core is
never started, so no libp2p, bitswap or preload; a missing block fails at once), and its CLI.

The API socket is bound here, in the host network namespace, and handed to the daemon as fd 3
(listen-fd.cjs); the daemon itself runs in a private namespace (`unshare --net`) with nothing in it,
so tests reach 127.0.0.1:PORT and the daemon can reach nothing.  See RECIPE.md for why each piece
(and each npm override in package.json) is there.  Installed by setup.sh.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from .. import end

HERE = Path(__file__).resolve().parent
FILES = ("package.json", "package-lock.json", "rpc-daemon.mjs", "listen-fd.cjs")  # as in setup.sh
BASE = Path(os.environ.get("JSIPFS_HOME") or Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "casengine-peers" / "jsipfs")
INSTALL = "bash tests/peers/jsipfs/setup.sh"
# urllib would send even 127.0.0.1 requests to an $http_proxy: never use one
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def home() -> Path:
    """Where setup.sh installed these exact files (keyed by their hash: no stale installs)."""
    key = hashlib.sha256(b"".join((HERE / f).read_bytes() for f in FILES)).hexdigest()[:16]
    return BASE / key


def cli() -> Path:
    return home() / "node_modules" / ".bin" / "jsipfs"


def installed() -> bool:
    return os.access(cli(), os.X_OK)


def init(repo: Path) -> None:
    """Create an empty repo with no bootstrap peers, no routing, no mDNS, no gateway, no gRPC."""
    subprocess.run(["unshare", "--net", str(cli()), "init", "--empty-repo", "--profile", "test"],
                   env=dict(os.environ, IPFS_PATH=str(repo)), check=True, capture_output=True)
    cfg_path = repo / "config"
    cfg = json.loads(cfg_path.read_text())
    cfg["Addresses"].update(Swarm=["/ip4/127.0.0.1/tcp/0"], Gateway=[], Delegates=[],
                            Announce=[], NoAnnounce=[])
    cfg["Addresses"].pop("RPC", None)
    cfg.update(Bootstrap=[], Routing={"Type": "none"}, Pubsub={"Router": "gossipsub", "Enabled": False},
               Discovery={"MDNS": {"Enabled": False, "Interval": 10}, "webRTCStar": {"Enabled": False}})
    cfg.setdefault("Swarm", {})["DisableNatPortMap"] = True
    cfg_path.write_text(json.dumps(cfg, indent=2))


def start(repo: Path, port: int = 0, timeout: float = 60) -> tuple[subprocess.Popen[bytes], int]:
    """Start the daemon on repo (initialised if new) at 127.0.0.1:port (0: a free port).
    The caller must not run two daemons on one repo: a stale lock or api file is removed."""
    if not (repo / "config").exists():
        init(repo)
    (repo / "api").unlink(missing_ok=True)                      # the CLI would dial a stale one
    shutil.rmtree(repo / "repo.lock", ignore_errors=True)       # else LockExistsError for 20 s
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(511)
        port = sock.getsockname()[1]
        cfg = json.loads((repo / "config").read_text())
        cfg["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{port}"
        (repo / "config").write_text(json.dumps(cfg, indent=2))
        env = dict(os.environ, IPFS_PATH=str(repo), LISTEN_FD=str(sock.fileno()), LISTEN_PORT=str(port),
                   NODE_OPTIONS=f"--require {home() / 'listen-fd.cjs'}")
        with open(f"{repo}.log", "ab") as log:
            # setpriv: SIGTERM it if this process dies, even by SIGKILL (kept across both execs)
            cmd = ["setpriv", "--pdeathsig", "TERM", "unshare", "--net", "node", str(home() / "rpc-daemon.mjs")]
            proc = subprocess.Popen(cmd, env=env, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log)
    # the child holds the listening socket now
    deadline = time.monotonic() + timeout
    while not _ready(port, repo):
        if proc.poll() is not None:
            raise RuntimeError(f"js-ipfs daemon exited ({proc.returncode}); see {repo}.log")
        if time.monotonic() > deadline:
            end(proc, 10)
            raise TimeoutError(f"js-ipfs daemon not ready after {timeout} s; see {repo}.log")
        time.sleep(0.05)
    return proc, port


def _ready(port: int, repo: Path) -> bool:
    """/version answers and the api file (written last; the CLI needs it) exists."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v0/version", method="POST")
    try:
        LOCAL.open(req, timeout=2).read()
    except OSError:
        return False
    return (repo / "api").exists()
