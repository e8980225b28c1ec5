"""casengine serve against Kubo 0.43.1's gateway, on the same content, in the same run.

    sudo python bench/gateway.py [--size-mib 1024] [--requests 4000] [--clients 16] [--slow 64]

Runs inside a network namespace it makes (loopback only; both servers on 127.0.0.1 there): a
SIZE file in a model directory is added to a casengine repository and imported into an offline
Kubo 0.43.1 as a CAR. Measured with curl (C, so the client is not the bottleneck):

* raw blocks: requests/s for REQUESTS ``?format=raw`` leaf requests, CLIENTS at once (keep-alive);
* the file's CAR (``?format=car``) and the file itself (deserialized), MB/s for one client;
* the gateway tier: ``casengine get --gateway URL`` of the directory into an empty repository, MB/s,
  from casengine serve and from Kubo's gateway;
* memory: the servers' anonymous resident memory while SLOW clients each ask for the CAR and read 64 KiB/s;
* the server library: the same handler under the stdlib ``ThreadingHTTPServer`` (raw blocks, CAR),
  the measurement behind choosing asyncio.

Prints a table with casengine/Kubo ratios (higher is better for casengine, lower for memory).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from casengine import car  # noqa: E402
from casengine.options import ImportOptions  # noqa: E402
from casengine.repo import Repo  # noqa: E402
from gateway_server import Served  # noqa: E402
from peers import kubo43  # noqa: E402

MIB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    """Anonymous resident bytes of *pid*: what it holds itself (LMDB's mapped file pages, which VmRSS
    also counts, are the page cache's)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def curl_one(url: str) -> tuple[int, float]:
    """(bytes, seconds) of one download to /dev/null."""
    out = subprocess.run(["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
                         capture_output=True, text=True, check=True, timeout=3600)
    size, secs = out.stdout.split()
    return int(size), float(secs)


def curl_many(urls: list[str], clients: int, workdir: Path) -> float:
    """Requests/s for *urls*, *clients* at once over kept-alive connections; every answer must be 200."""
    cfg = workdir / "urls.cfg"
    cfg.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    start = time.perf_counter()
    out = subprocess.run(["curl", "-s", "-Z", "--parallel-max", str(clients), "-w", "%{http_code}\n", "-K", str(cfg)],
                         capture_output=True, text=True, check=True, timeout=3600)
    secs = time.perf_counter() - start
    codes = out.stdout.split()
    if len(codes) != len(urls) or set(codes) != {"200"}:
        raise SystemExit(f"raw block requests failed: {len(codes)} answers, codes {set(codes)}")
    return len(urls) / secs


def slow_clients(url: str, n: int, seconds: float, pid: int) -> int:
    """Peak resident memory of *pid* while *n* clients ask for *url* and read 64 KiB/s."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        socks.append(s)
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for s in socks:
            s.recv(32 << 10)
        peak = max(peak, rss(pid))
        time.sleep(0.5)
    for s in socks:
        s.close()
    return peak


def threading_server(repo: str, port: int) -> None:
    """The gateway handler under http.server.ThreadingHTTPServer (for the library comparison)."""
    import http.server
    from urllib.parse import parse_qs, unquote, urlsplit

    from casengine.gateway.handler import Gateway
    from casengine.gateway.http import Request

    gateway = Gateway(Repo(repo, create=False).store)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            headers: dict[str, list[str]] = {}
            for k, v in self.headers.items():
                headers.setdefault(k.lower(), []).append(v)
            resp = gateway(Request("GET", self.path, unquote(parts.path), parts.path,
                                   parse_qs(parts.query, keep_blank_values=True), headers))
            self.send_response(resp.status)
            for k, v in resp.headers:
                self.send_header(k, v)
            body = resp.body
            if isinstance(body, (bytes, bytearray, memoryview)):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in body:
                self.wfile.write(b"%x\r\n" % len(piece) + bytes(piece) + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"Gateway server listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


def make_content(work: Path, size: int) -> tuple[str, str, list[str]]:
    """(directory CID, file CID, leaf CIDs) of a model directory holding a *size* byte file."""
    model = work / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 768}\n')
    rnd = random.Random(1)
    with open(model / "model.safetensors", "wb") as f:
        left = size
        while left:
            f.write(rnd.randbytes(min(left, 8 * MIB)))
            left -= min(left, 8 * MIB)
    with Repo(work / "cas") as repo:
        root = repo.add(model, ImportOptions(cid_version=1)).cid
        file_cid = repo.exporter.resolve(f"{root}/model.safetensors").cid
        leaves = [str(c) for c in repo.dag_blocks(file_cid) if c.codec == 0x55]
        with open(work / "model.car", "wb") as f:
            for piece in car.export(repo.store, root):
                f.write(piece)
    return str(root), str(file_cid), leaves


def start_kubo(work: Path, port: int) -> kubo43.Daemon:
    kubo = kubo43.Daemon(config={"Addresses.Gateway": f"/ip4/127.0.0.1/tcp/{port}"})
    kubo.start(inside=())   # this process is in the namespace it made
    kubo.dag_import(work / "model.car")
    return kubo


def best(runs: int, fn) -> float:
    return max(fn() for _ in range(runs))


def inner(args: argparse.Namespace) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="gwbench-"))
    size = args.size_mib * MIB
    root, file_cid, leaves = make_content(work, size)
    kport, tport = free_port(), free_port()
    kubo = start_kubo(work, kport)
    serve = Served(work / "cas")
    threaded = Served(work / "cas", argv=[sys.executable, __file__, "--threading-server", str(work / "cas"), str(tport)])
    urls = {"casengine": serve.url, "kubo": f"http://127.0.0.1:{kport}", "threading": threaded.url}
    rnd = random.Random(2)
    picks = [rnd.choice(leaves) for _ in range(args.requests)]
    res: dict[str, dict[str, float]] = {k: {} for k in urls}
    try:
        for name, url in urls.items():
            res[name]["raw_rps"] = best(args.runs, lambda: curl_many(
                [f"{url}/ipfs/{c}?format=raw" for c in picks], args.clients, work))
            res[name]["car_mbs"] = best(args.runs, lambda: (lambda b, s: b / s / 1e6)(
                *curl_one(f"{url}/ipfs/{file_cid}?format=car")))
            if name == "threading":
                continue
            res[name]["file_mbs"] = best(args.runs, lambda: (lambda b, s: b / s / 1e6)(
                *curl_one(f"{url}/ipfs/{root}/model.safetensors")))

            def tier() -> float:
                repo = Path(tempfile.mkdtemp(dir=work))
                with Repo(repo / "r"):
                    pass
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "casengine", "get", "--repo", str(repo / "r"), "--gateway", url,
                                root, "-o", str(repo / "out")], check=True, capture_output=True, timeout=3600)
                secs = time.perf_counter() - start
                subprocess.run(["rm", "-rf", str(repo)], check=True)
                return size / secs / 1e6
            res[name]["tier_get_mbs"] = best(args.runs, tier)
        pids = {"casengine": serve.proc.pid, "kubo": kubo.proc.pid}
        for name in pids:
            base = rss(pids[name])
            peak = slow_clients(f"{urls[name]}/ipfs/{file_cid}?format=car", args.slow, args.slow_seconds, pids[name])
            res[name]["rss_base_mib"] = base / MIB
            res[name]["rss_slow_peak_mib"] = peak / MIB
    finally:
        serve.stop()
        threaded.stop()
        kubo.remove()
        subprocess.run(["rm", "-rf", str(work)])
    report(args, res)


def report(args: argparse.Namespace, res: dict[str, dict[str, float]]) -> None:
    print(f"\n{args.size_mib} MiB file, {args.requests} raw requests by {args.clients} clients, {args.slow} slow clients; "
          f"best of {args.runs} (shared machine: {os.cpu_count()} cores)")
    rows = [("raw block requests/s", "raw_rps"), ("file CAR MB/s", "car_mbs"), ("file MB/s (deserialized)", "file_mbs"),
            ("tier get MB/s", "tier_get_mbs"), ("anon RSS idle MiB", "rss_base_mib"),
            (f"anon RSS peak, {args.slow} slow clients MiB", "rss_slow_peak_mib")]
    print(f"{'':38} {'casengine':>10} {'kubo':>10} {'ratio':>7} {'threading':>10}")
    for label, key in rows:
        c, k, t = (res[n].get(key) for n in ("casengine", "kubo", "threading"))
        ratio = f"{c / k:6.2f}x" if c and k else ""
        print(f"{label:38} {c or 0:10.1f} {k or 0:10.1f} {ratio:>7} {t if t is not None else '':>10}"
              if t is None else f"{label:38} {c or 0:10.1f} {k or 0:10.1f} {ratio:>7} {t:10.1f}")
    print(json.dumps(res))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--slow", type=int, default=64)
    p.add_argument("--slow-seconds", type=float, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threading-server", nargs=2, metavar=("REPO", "PORT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threading_server:
        threading_server(args.threading_server[0], int(args.threading_server[1]))
        return
    if args.inner:
        inner(args)
        return
    ns = f"cegwbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--inner", *sys.argv[1:]], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
