"""The links out of a block, whatever its codec: the one walker pins, GC, export, refs and push use.

The codecs Kubo decodes (dag-pb, dag-cbor, dag-json, raw; json and cbor, which have no links;
an identity CID's block is its digest). A block of any other codec, or one that does not
decode, raises DecodeError with Kubo's words: it is never taken for a leaf, so a pin can never
miss what lies below it.

Walks visit each CID once (not each multihash): a DAG that names the same bytes as CIDv0 and
CIDv1 holds both, as Kubo's export does. Liveness for GC is a set of multihashes built from
these CIDs, since the store keeps one copy per multihash.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, TypeVar

from ..errors import DecodeError
from . import pb
from .cid import DAG_CBOR, DAG_JSON, DAG_PB, RAW, Cid

T = TypeVar("T")
JSON = 0x0200
CBOR = 0x51


def depth_first(root: Cid, visit: Callable[[Cid], tuple[T, Iterable[Cid]]]) -> Iterator[T]:
    """Each CID under *root* once, depth-first pre-order in link order, without recursion
    (the order of go-car's selective traversal, which Kubo's ``dag export`` writes).

    ``visit(cid)`` returns what to yield for that block and the CIDs it links to, in link order.
    """
    seen: set[Cid] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        value, children = visit(cid)
        yield value
        stack.extend(reversed(list(children)))


def links(cid: Cid, block: bytes | memoryview) -> list[Cid]:
    """CIDs *block* (named *cid*) links to, in document order; DecodeError if Kubo could not decode it."""
    codec = cid.codec
    if codec == RAW:
        return []
    if codec == DAG_PB:
        return [link.cid for link in pb.decode(bytes(block)).links]
    from . import cbor, dagjson  # here, not at import: UnixFS never needs them (start-up time)

    if codec == DAG_CBOR:
        return cbor.links(block)
    if codec == DAG_JSON:
        return dagjson.links(block)
    if codec == CBOR:
        cbor.decode(block, allow_links=False)
        return []
    if codec == JSON:
        dagjson.decode(block, allow_links=False)
        return []
    raise DecodeError(f"could not choose a decoder: no decoder registered for multicodec code {codec} ({codec:#x})")
