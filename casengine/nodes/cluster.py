"""An IPFS Cluster over its REST API: pins with a replication factor, replicated by the cluster
onto the Kubo daemons of its peers.

Not a block tier: a cluster serves pins, not blocks (a peer's blocks are its Kubo's). The
calls (IPFS Cluster 1.x): ``POST /add?format=car`` (a CAR, streamed as multipart: the peer that
takes it sends its blocks to the Kubo daemon of every peer it allocates the pin to, then pins it
there), ``POST /pins/{cid}`` (pin what the peers' Kubo daemons already hold or can fetch),
``GET /pins/{cid}`` (each peer's status), ``DELETE /pins/{cid}``, ``GET /version``, ``GET /peers``.
Each has a :class:`~casengine.nodes.deadline.Deadline`, and :meth:`ClusterAPI.wait_pinned` stops
once no peer has moved for *timeout* seconds. The API is a URL (``http://127.0.0.1:9094``, the
cluster's default) or a multiaddr (``/ip4/HOST/tcp/PORT``, ``/unix/PATH``), ``$CLUSTER_API``.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from ..dag.cid import Cid
from ..errors import CasError, InvalidOption, RemoteError, RemoteTimeout
from .deadline import Deadline
from .remote import parsing
from .rpc_http import Connection, parse_api
from .upload import Multipart

DEFAULT_API = "http://127.0.0.1:9094"
DEFAULT_TIMEOUT = 60.0
#: Seconds between two looks at a pin's status while it is pinning.
POLL = 0.2
#: Peer statuses that end a wait with an error (the cluster's tracker words).
FAILED = ("pin_error", "cluster_error", "unexpectedly_unpinned")


@dataclass(frozen=True)
class PeerStatus:
    """What one cluster peer says of a pin: ``pinned``, ``pinning``, ``pin_queued``, ``remote``
    (not allocated to it), ``pin_error`` (with *error*), ..."""

    peer: str
    peername: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class ClusterPin:
    """A pin in the cluster's shared state: the peers it is allocated to, and its factors."""

    cid: Cid
    name: str
    allocations: tuple[str, ...]
    replication_min: int
    replication_max: int


def replication_args(replication: int | None, name: str | None) -> list[tuple[str, str]]:
    """The query of a pin with *replication* peers (None: the cluster's configured factors, -1:
    every peer) named *name*."""
    if replication is not None and (replication == 0 or replication < -1):
        raise InvalidOption(f"replication factor {replication}: want a number of peers >= 1, or -1 for every peer")
    args = [] if replication is None else [("replication-min", str(replication)), ("replication-max", str(replication))]
    return args + ([("name", name)] if name else [])


class ClusterAPI:
    """The REST API of one cluster peer at *api*."""

    name = "ipfs-cluster"

    def __init__(self, api: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.api = api or os.environ.get("CLUSTER_API", "").strip() or DEFAULT_API
        self.address = parse_api(self.api)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ClusterAPI({self.api!r})"

    # -- transport ---------------------------------------------------------------------------------
    def _request(self, method: str, path: str, args: Iterable[tuple[str, str]] = (),
                 body: Multipart | None = None) -> list[Any]:
        """*method* *path*?*args*: the JSON values of a 2xx answer (the API streams some answers as
        values one after another), or the cluster's error as a RemoteError."""
        what = f"{self.api} {method} {path}"
        query = urlencode(list(args), quote_via=quote)
        conn = Connection(self.address, Deadline(self.timeout, what))
        try:
            headers = {} if body is None else {"Content-Type": f"multipart/form-data; boundary={body.boundary}"}
            cut = None
            try:
                conn.request(method, f"{path}?{query}" if query else path,
                             body=None if body is None else iter(body), headers=headers)
            except (BrokenPipeError, ConnectionResetError) as e:
                cut = e   # the peer answered (a refusal) and closed before it had read the whole body
            conn.deadline.restart()  # the answer's own budget
            try:
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException):
                if cut is None:
                    raise
                raise cut from None
            data = resp.read()
            if resp.status >= 300:
                raise RemoteError(f"{what}: {error_text(resp, data)}")
            if resp.stream_error:  # an add that failed after its answer began
                raise RemoteError(f"{what}: {resp.stream_error}")
        except CasError:
            raise
        except TimeoutError:
            raise RemoteTimeout(f"{what}: no answer within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as e:
            raise RemoteError(f"{what}: {e or type(e).__name__}") from None
        finally:
            conn.close()
        with parsing(what):
            return json_values(data.decode())

    def _one(self, method: str, path: str, args: Iterable[tuple[str, str]] = ()) -> dict:
        values = self._request(method, path, args)
        if len(values) != 1 or not isinstance(values[0], dict):
            raise RemoteError(f"{self.api} {method} {path}: unexpected answer ({len(values)} JSON values)")
        return values[0]

    # -- the verbs ---------------------------------------------------------------------------------
    def version(self) -> str:
        """The peer's IPFS Cluster version; RemoteError if it cannot be reached."""
        answer = self._one("GET", "/version")
        with parsing(f"{self.api} GET /version"):
            return str(answer["version"])

    def peers(self) -> list[dict]:
        """Every cluster peer as this one sees it (``id``, ``peername``, ``error``, ...)."""
        values = self._request("GET", "/peers")
        return values[0] if len(values) == 1 and isinstance(values[0], list) else values

    def add_car(self, chunks: Iterable[bytes], *, replication: int | None = None,
                name: str | None = None) -> tuple[Cid, tuple[str, ...]]:
        """Import one CAR (*chunks*, streamed) into the cluster and pin its root: the root and the
        peers it is allocated to (the blocks went to each of their Kubo daemons)."""
        args = [("format", "car"), ("stream-channels", "true")] + replication_args(replication, name)
        body = Multipart([("dag.car", "application/vnd.ipld.car", chunks)])
        added = self._request("POST", "/add", args, body)
        with parsing(f"{self.api} POST /add"):
            last = added[-1]
            return Cid.parse(last["cid"]), tuple(last.get("allocations") or ())

    def pin(self, cid: Cid, *, replication: int | None = None, name: str | None = None) -> ClusterPin:
        """``POST /pins/{cid}``: pin *cid* on *replication* peers; the blocks must be on (or reachable
        by) their Kubo daemons."""
        answer = self._one("POST", f"/pins/{cid}", replication_args(replication, name))
        with parsing(f"{self.api} POST /pins/{cid}"):
            return ClusterPin(Cid.parse(answer["cid"]), answer.get("name") or "",
                              tuple(answer.get("allocations") or ()), int(answer["replication_factor_min"]),
                              int(answer["replication_factor_max"]))

    def unpin(self, cid: Cid) -> None:
        self._one("DELETE", f"/pins/{cid}")

    def status(self, cid: Cid) -> dict[str, PeerStatus]:
        """``GET /pins/{cid}``: each peer's status of *cid*, by cluster peer ID."""
        answer = self._one("GET", f"/pins/{cid}")
        with parsing(f"{self.api} GET /pins/{cid}"):
            return {peer: PeerStatus(peer, info.get("peername") or "", info["status"], info.get("error") or "")
                    for peer, info in answer["peer_map"].items()}

    def wait_pinned(self, cid: Cid, peers: Iterable[str] = ()) -> dict[str, PeerStatus]:
        """Wait until every peer of *peers* (none: every peer, a pin with no allocations is pinned
        everywhere) has pinned *cid*; RemoteError as soon as one fails, RemoteTimeout once none
        has moved on for *timeout* seconds."""
        want = set(peers)
        last, since = None, time.monotonic()
        while True:
            status = self.status(cid)
            want = want or set(status)
            mine = {p: s for p, s in status.items() if p in want}
            failed = [s for s in mine.values() if s.status in FAILED]
            if failed:
                raise RemoteError(f"{self.api}: {cid} not pinned on " + "; ".join(
                    f"{s.peername or s.peer}: {s.status} {s.error}".strip() for s in failed))
            if len(mine) == len(want) and all(s.status == "pinned" for s in mine.values()):
                return status
            now = time.monotonic()
            if mine != last:
                last, since = mine, now
            elif now - since > self.timeout:
                raise RemoteTimeout(f"{self.api}: {cid} not pinned on every peer after {self.timeout:g} s "
                                    "without progress (" + ", ".join(
                                        f"{s.peername or s.peer}: {s.status}" for s in mine.values()) + ")")
            time.sleep(POLL)


def json_values(text: str) -> list[Any]:
    """The JSON values of *text*, one after another (whitespace between them)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        at = len(text) - len(text[at:].lstrip())
        if at >= len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def error_text(resp: http.client.HTTPResponse, data: bytes) -> str:
    """The cluster's error message (``{"code": N, "message": "..."}``), else the body or the reason."""
    text = data[:64 << 10].decode("utf-8", "replace").strip()
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{message or text or resp.reason} (HTTP {resp.status})"
