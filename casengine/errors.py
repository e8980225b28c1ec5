"""One exception hierarchy for everything casengine raises on purpose.

Every class derives from :class:`CasError` *and* from the built-in exception a caller
would naturally catch, so ``except ValueError`` and ``except CasError`` both work.

>>> issubclass(CidNotFound, RuntimeError) and issubclass(CidNotFound, LookupError)
True
>>> str(CidNotFound("QmFoo"))
'CID not found: QmFoo'
"""

from __future__ import annotations


class CasError(Exception):
    """Base class of every error casengine raises deliberately."""


class InvalidOption(CasError, ValueError):
    """An import option or CLI argument Kubo would reject (message as Kubo words it)."""


class DecodeError(CasError, ValueError):
    """Bytes that do not decode as the format they claim to be."""


class InvalidCid(DecodeError):
    """A string or byte sequence that is not a CID casengine understands."""


class DagPbError(DecodeError):
    """A block that is not canonical dag-pb."""


class UnixFSError(DecodeError):
    """A dag-pb block whose Data is not a valid UnixFS message, or a DAG that is not valid UnixFS."""


class CidNotFound(CasError, LookupError, RuntimeError):
    """A block (or a path inside a DAG) that is not available. The text always holds "CID not found"."""

    def __init__(self, what: object, detail: str = ""):
        self.what = what
        super().__init__(f"CID not found: {what}" + (f" ({detail})" if detail else ""))


class NotADirectory(CasError, ValueError):
    """A path step or `ls` applied to something that is not a directory."""


class IsADirectory(CasError, ValueError):
    """`cat` applied to a directory."""


#: What a block whose bytes do not hash to its CID is (CorruptBlock's detail unless another is given).
HASH_MISMATCH = "bytes do not match the CID's hash"


class CorruptBlock(CasError, ValueError):
    """A stored or fetched block whose bytes do not hash to its CID."""

    def __init__(self, cid: object, detail: str = HASH_MISMATCH):
        self.cid, self.detail = cid, detail
        super().__init__(f"corrupt block {cid}: {detail}")


class PinError(CasError, ValueError):
    """A pin operation Kubo would refuse (message as Kubo words it)."""


class UnsafePath(CasError, ValueError):
    """A DAG entry name or link that would escape, or write through, the output directory."""


class StoreError(CasError, OSError):
    """The block store cannot be opened or written."""


class NoRepository(StoreError):
    """A command that only reads was pointed at a directory holding no repository."""


class RemoteError(CasError, ConnectionError):
    """A remote tier (Kubo RPC, the ipfs CLI, ipfs_kit_py) failed or is unreachable."""


class RemoteTimeout(RemoteError, TimeoutError):
    """A remote tier did not answer within its timeout."""


class TierUnavailable(RemoteError):
    """A tier that is not installed, not importable, disabled, or not reachable: pass it over."""


class FileChanged(CorruptBlock):
    """A filestore reference (``add --nocopy``) whose file no longer holds the block: changed,
    truncated, removed or unreadable. *status* is Kubo's word for it (changed, no-file, error)."""

    def __init__(self, cid: object, path: str, offset: int, status: str, detail: str):
        self.path, self.offset, self.status = path, offset, status
        super().__init__(cid, detail)


class ChunkerSpecError(InvalidOption):
    """A ``--chunker`` value Kubo rejects; the message is Kubo's."""


class BlockSizeLimitExceeded(InvalidOption):
    """A chunk over the block size limit, which Kubo refuses to store as a leaf (boxo
    ``helpers.ErrSizeLimitExceeded``); only ``rabin-AVG`` with AVG < 48 produces one."""


class CarError(DecodeError):
    """A CAR file that cannot be read: bad header, truncated section, oversized block."""


class HFCacheError(CasError, LookupError):
    """A repo or revision that is not in the Hugging Face cache, or a cache that is not one."""


class BadRequest(CasError, ValueError):
    """A gateway request answered with 400 (the text is Kubo's)."""


class PathNotFound(CasError, LookupError):
    """A gateway path (or a block on it) the store does not hold: 404, or for a CAR the blocks read
    so far (*loaded*, which Kubo still sends)."""

    def __init__(self, text: str, loaded: list):
        super().__init__(text)
        self.loaded = loaded
