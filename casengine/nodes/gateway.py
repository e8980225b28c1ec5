"""Trustless HTTP gateways as a read-only tier: blocks fetched from ``/ipfs/CID?format=raw`` and
whole DAGs from ``?format=car``, from Kubo, Rainbow, ``casengine serve`` or any other gateway.

Nothing a gateway sends is trusted: every block is hashed against its CID before it is kept or
returned, and a CAR's blocks are kept only if the DAG being fetched links to them (a gateway
cannot plant unrelated blocks). Gateways are tried in order, the last one that worked first; an
error, a timeout or a corrupt block moves to the next. Every request has a
:class:`~casengine.nodes.deadline.Deadline`; block fetches run several at once, each thread with
its own keep-alive connections.
"""

from __future__ import annotations

import http.client
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Iterator
from urllib.parse import quote, urlsplit

from .. import car
from ..dag.cid import RAW, Cid
from ..dag.links import links
from ..errors import CasError, CorruptBlock, DecodeError, InvalidOption, RemoteError, RemoteTimeout
from ..options import ImportOptions
from ..stores.base import BatchWriter, Blockstore, Buffer, verify
from .deadline import Deadline
from .remote import RemoteTier, Source
from .rpc_http import ApiAddress, Connection

#: A block larger than this is refused unread (Kubo's own limit is 2 MiB).
MAX_BLOCK = 4 << 20
TIMEOUT = 30.0
PARALLEL = 8
_RAW = "application/vnd.ipld.raw"
_CAR = "application/vnd.ipld.car"


def _address(url: str) -> ApiAddress:
    """The address of ``http://HOST[:PORT]`` or of ``unix:///PATH`` (a gateway on a unix socket, as
    Kubo's can listen)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme == "unix" and parts.path:
        return ApiAddress("127.0.0.1", 80, parts.path)
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidOption(f"unsupported gateway {url!r} (want http://HOST:PORT or unix:///PATH)")
    return ApiAddress(parts.hostname, parts.port or 80)


def _failure(what: str, errors: list[tuple[str, BaseException]], cid: Cid | None = None) -> CasError:
    """The error of a request every gateway failed (*errors*: each gateway's): CorruptBlock when
    each sent bytes that are not block *cid* (corrupting or lying gateways), RemoteTimeout when
    none answered in time, else RemoteError; the text names every gateway's failure."""
    text = what + ": " + "; ".join(f"{url}: {e}" for url, e in errors)
    if cid is not None and errors and all(isinstance(e, CorruptBlock) for _, e in errors):
        return CorruptBlock(cid, text)
    if errors and all(isinstance(e, TimeoutError) for _, e in errors):
        return RemoteTimeout(text)
    return RemoteError(text)


class GatewayTier(RemoteTier):
    """Blocks from trustless gateways (*urls* in order of preference); read-only."""

    name = "gateway"

    def __init__(self, urls: Iterable[str], *, timeout: float = TIMEOUT, parallel: int = PARALLEL):
        self.urls = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.urls:
            raise InvalidOption("no gateway given")
        self.addresses = {u: _address(u) for u in self.urls}
        self.timeout, self.parallel = timeout, parallel
        self._best = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        #: (gateway, what went wrong) for every failure passed over, newest last (bounded).
        self.failures: deque[tuple[str, str]] = deque(maxlen=256)

    def __repr__(self) -> str:
        return f"GatewayTier({self.urls!r})"

    # -- transport ---------------------------------------------------------------------------------
    def _ordered(self) -> list[str]:
        with self._lock:
            best = self._best
        return self.urls[best:] + self.urls[:best]

    def _worked(self, url: str) -> None:
        with self._lock:
            self._best = self.urls.index(url)

    def _failed(self, url: str, e: BaseException) -> None:
        self.failures.append((url, f"{type(e).__name__}: {e}"))
        conns = getattr(self._local, "conns", {})
        conn = conns.pop(url, None)
        if conn is not None:
            conn.close()

    def _open(self, url: str, target: str, accept: str, what: str) -> http.client.HTTPResponse:
        """GET *target* from *url* on this thread's connection to it, under a fresh deadline."""
        conns = self._local.__dict__.setdefault("conns", {})
        for attempt in (0, 1):   # a kept-alive connection the server closed meanwhile: once more, anew
            conn = conns.get(url)
            fresh = conn is None
            if fresh:
                conn = conns[url] = Connection(self.addresses[url], Deadline(self.timeout, what))
            conn.deadline = Deadline(self.timeout, what)
            if conn.sock is not None:
                conn.sock.deadline = conn.deadline
            try:
                conn.request("GET", target, headers={"Accept": accept, "Host": self.addresses[url].host})
                conn.deadline.restart()
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conns.pop(url, None)
                conn.close()
                if fresh or attempt:
                    raise
        raise AssertionError("unreachable")

    def _block(self, url: str, cid: Cid) -> bytes | None:
        """The block from *url*, verified; None if the gateway does not have it."""
        resp = self._open(url, f"/ipfs/{cid}?format=raw", _RAW, f"{url} block {cid}")
        if resp.status in (404, 410, 412):
            resp.read(64 << 10)
            return None
        if resp.status != 200:
            raise RemoteError(f"{url}: HTTP {resp.status} for block {cid}")
        length = resp.getheader("Content-Length")
        if length is not None and int(length) > MAX_BLOCK:
            raise RemoteError(f"{url}: block {cid} of {length} bytes is over {MAX_BLOCK}")
        data = resp.read(MAX_BLOCK + 1)
        if len(data) > MAX_BLOCK:
            raise RemoteError(f"{url}: block {cid} is over {MAX_BLOCK} bytes")
        verify(cid, data)
        return data

    # -- Blockstore --------------------------------------------------------------------------------
    def _get(self, multihash: bytes) -> bytes | None:
        return self.fetch(Cid(1, RAW, multihash))

    def fetch(self, cid: Cid) -> bytes | None:
        """The block named *cid* from the first gateway that has it intact (None if none has it)."""
        missing, errors = 0, []
        for url in self._ordered():
            try:
                data = self._block(url, cid)
            except (CasError, OSError, http.client.HTTPException, ValueError) as e:
                self._failed(url, e)
                errors.append((url, e))
                continue
            if data is not None:
                self._worked(url)
                return data
            missing += 1
        if missing:
            return None
        raise _failure(f"no gateway gave block {cid}", errors, cid)

    def get_many(self, cids: Iterable[Cid], *, verified: bool = True, ahead: int | None = None,
                 views: bool = False) -> Iterator[bytes]:
        """The blocks of *cids* in order, up to ``parallel`` requests in flight (each verified;
        bytes of their own, so *views* changes nothing)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="casengine-gateway")
        pending: deque[Future] = deque()
        try:
            for cid in cids:
                pending.append(self._pool.submit(self.get, cid))
                if len(pending) >= (ahead or 2 * self.parallel):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()

    def _put_many(self, items: list[tuple[bytes, Buffer]]) -> None:
        raise RemoteError("a trustless gateway is read-only")

    def _has(self, multihash: bytes) -> bool:
        return self._get(multihash) is not None

    def _delete(self, multihash: bytes) -> bool:
        return False

    def multihashes(self) -> Iterator[bytes]:
        return iter(())

    def size(self) -> int:
        return 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # -- node verbs --------------------------------------------------------------------------------
    def version(self) -> str:
        """The first gateway that answers the ``bafkqaaa`` probe; RemoteError if none does."""
        errors: list[tuple[str, BaseException]] = []
        for url in self._ordered():
            try:
                resp = self._open(url, "/ipfs/bafkqaaa?format=raw", _RAW, f"{url} probe")
                resp.read(1024)
                if resp.status == 200:
                    return f"trustless gateway {url}"
                errors.append((url, RemoteError(f"HTTP {resp.status}")))
            except (OSError, http.client.HTTPException, RemoteError) as e:
                self._failed(url, e)
                errors.append((url, e))
        raise _failure("no gateway answers", errors)

    def block_put(self, data: Buffer, codec: str = "raw", hash: str = "sha2-256") -> Cid:
        raise RemoteError("a trustless gateway is read-only")

    def add(self, source: Source, options: ImportOptions = ImportOptions(), *, recursive: bool = True) -> Cid:
        raise RemoteError("a trustless gateway is read-only")

    def pin_add(self, cid: Cid, recursive: bool = True) -> None:
        raise RemoteError("a trustless gateway is read-only: pin on a node that keeps blocks")

    def pin_rm(self, cid: Cid, recursive: bool = True) -> None:
        raise RemoteError("a trustless gateway is read-only")

    def pin_ls(self, kind: str = "all") -> Iterator[tuple[Cid, str]]:
        return iter(())

    # -- whole DAGs --------------------------------------------------------------------------------
    def fetch_dag(self, root: Cid, store: Blockstore) -> int:
        """Make *store* hold the whole DAG under *root*: a CAR from each gateway in turn until one
        arrives whole, then a walk of the DAG in *store* that fetches, block by block, whatever is
        still missing (a CAR cut short leaves its intact blocks kept). Returns how many blocks the
        CAR that arrived whole and the walk stored."""
        fetched = 0
        for url in self._ordered():
            try:
                fetched += self._car_into(url, root, store)
                self._worked(url)
                break
            except (CasError, OSError, http.client.HTTPException, ValueError) as e:
                self._failed(url, e)
        return fetched + self._blocks_into(root, store)

    def _car_into(self, url: str, root: Cid, store: Blockstore) -> int:
        """Stream ``/ipfs/ROOT?format=car`` from *url* into *store*, keeping only blocks the DAG links
        to (each verified); RemoteError if the CAR ends before the DAG is whole."""
        resp = self._open(url, f"/ipfs/{quote(str(root))}?format=car&dag-scope=all&car-dups=n&car-order=dfs",
                          _CAR, f"{url} car {root}")
        if resp.status != 200:
            resp.read(64 << 10)
            raise RemoteError(f"{url}: HTTP {resp.status} for the CAR of {root}")
        wanted, received, kept = {root.multihash}, set(), 0
        writer = BatchWriter(store, max_bytes=16 << 20)
        try:
            reader = car.CarReader(resp, verify_blocks=True)
            for cid, block in reader:
                if cid.multihash not in wanted:
                    continue     # not (yet) linked from what was received: never kept
                wanted.discard(cid.multihash)
                received.add(cid.multihash)
                wanted.update(c.multihash for c in links(cid, block)
                              if not c.is_identity and c.multihash not in received)  # car-dups=n: sent once
                if not store.has(cid):
                    writer(cid, block)
                    kept += 1
        except DecodeError as e:
            raise RemoteError(f"{url}: bad CAR for {root}: {e}") from None
        finally:
            writer.flush()
        if getattr(resp, "stream_error", None):
            raise RemoteError(f"{url}: the CAR of {root} was cut: {resp.stream_error}")
        if wanted:   # ended whole but without them (a CAR for other content, or cut at a block's end)
            raise RemoteError(f"{url}: the CAR of {root} lacks {len(wanted)} block(s) of the DAG")
        return kept

    def _blocks_into(self, root: Cid, store: Blockstore) -> int:
        """Walk the DAG in *store* level by level, fetching every missing block of a level at once."""
        level, fetched = [root], 0
        seen: set[bytes] = set()
        while level:
            todo = [c for c in level if c.multihash not in seen and not c.is_identity]
            seen.update(c.multihash for c in todo)
            have = [c for c in todo if store.has(c)]
            missing = [c for c in todo if not store.has(c)]
            nxt: list[Cid] = []
            for cid, block in zip(missing, self.get_many(missing)):
                store.put(cid, block)
                fetched += 1
                nxt.extend(links(cid, block))
            for cid in have:
                nxt.extend(store.links(cid))
            level = nxt
        return fetched
