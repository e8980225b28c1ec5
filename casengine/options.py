"""Import options under Kubo's names, the rules Kubo applies to combine them, and the named
profiles (IPIP-499) that set many of them at once.

>>> r = ImportOptions(cid_version=1).resolve()
>>> r.raw_leaves, r.builder.version
(True, 1)
>>> ImportOptions(hash="blake3").resolve().builder.version
1
>>> ImportOptions(hash="blake3", cid_version=0).resolve()
Traceback (most recent call last):
...
casengine.errors.InvalidOption: CIDv0 only supports sha2-256
>>> o = ImportOptions.from_profile("unixfs-v1-2025", raw_leaves=False)
>>> o.cid_version, o.raw_leaves, o.chunker, o.max_links, o.shard_estimate
(1, False, 'size-1048576', 1024, 'block')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .chunker import BLOCK_SIZE_LIMIT, LEGACY_BLOCK_SIZE_LIMIT, Chunker, from_spec
from .dag import hamt, multihash
from .dag.cid import CidBuilder
from .dag.directory import DEFAULT_SHARD_THRESHOLD, ShardingRule
from .dag.layout import DEFAULT_MAX_LINKS, Balanced, Layout, Trickle
from .dag.meta import Stat
from .errors import InvalidOption

#: The default profile: today's Kubo (0.43.1) with no profile applied, proven against it.
DEFAULT_PROFILE = "kubo-0.43"

#: Each profile's values, as Kubo's `ipfs config profile apply` writes them into Import.*
#: (kubo config/profile.go, IPIP-499). kubo-0.43 is ImportOptions' own defaults: Kubo's
#: implicit defaults, where --cid-version=1 or a non-sha2-256 hash still imply CIDv1 and raw
#: leaves; kubo-0.22 is the same but shards a directory whose estimate equals the threshold
#: (Kubo up to 0.39) and keeps blocks to 1 MiB; the IPIP-499 profiles set CID version and raw
#: leaves explicitly, as Kubo does.
PROFILES: dict[str, dict[str, Any]] = {
    "kubo-0.43": {},
    "kubo-0.22": dict(shard_at_threshold=True, block_size_limit=LEGACY_BLOCK_SIZE_LIMIT),
    "unixfs-v0-2015": dict(cid_version=0, raw_leaves=False, chunker="size-262144", hash="sha2-256",
                           trickle=False, max_links=174, max_directory_links=0, max_hamt_fanout=256,
                           shard_threshold=262144, shard_estimate="links", shard_at_threshold=False,
                           block_size_limit=BLOCK_SIZE_LIMIT),
    "unixfs-v1-2025": dict(cid_version=1, raw_leaves=True, chunker="size-1048576", hash="sha2-256",
                           trickle=False, max_links=1024, max_directory_links=0, max_hamt_fanout=256,
                           shard_threshold=262144, shard_estimate="block", shard_at_threshold=False,
                           block_size_limit=BLOCK_SIZE_LIMIT),
}
#: Other names Kubo accepts for a profile.
PROFILE_ALIASES = {"legacy-cid-v0": "unixfs-v0-2015"}


def profile_values(name: str) -> dict[str, Any]:
    """The option values profile *name* (or an alias) sets."""
    values = PROFILES.get(PROFILE_ALIASES.get(name, name))
    if values is None:
        known = ", ".join([*PROFILES, *PROFILE_ALIASES])
        raise InvalidOption(f"unknown profile {name!r} (known: {known})")
    return dict(values)


@dataclass(frozen=True)
class ImportOptions:
    """What ``ipfs add`` takes, spelled as Kubo spells it (``--cid-version`` is ``cid_version``).

    ``max_links`` is ``--max-file-links``; ``max_directory_links`` and ``max_hamt_fanout`` are
    the flags of the same names; ``shard_threshold`` and ``shard_estimate`` are Kubo's config
    Import.UnixFSHAMTDirectorySizeThreshold / SizeEstimation; ``shard_at_threshold`` says
    whether a directory whose estimate equals the threshold is sharded (Kubo up to 0.39: yes).
    ``nocopy`` is ``--nocopy``: file leaves are recorded as references into the files, not
    stored (Kubo's filestore; it implies raw leaves).
    ``block_size_limit`` is boxo's largest leaf (1 MiB up to Kubo 0.39, 2 MiB since 0.40, which
    takes chunker sizes up to 2 MiB - 256). ``mode``, ``mtime``, ``mtime_nsecs`` and the
    ``preserve_*`` flags are UnixFS 1.5 metadata (:mod:`casengine.dag.meta`); ``empty_dirs``
    and ``dereference_symlinks`` are ``--empty-dirs`` and ``--dereference-symlinks``;
    ``pin_name`` is ``--pin-name``.
    """

    cid_version: int | None = None
    raw_leaves: bool | None = None
    chunker: str = "size-262144"
    trickle: bool = False
    hash: str = "sha2-256"
    inline: bool = False
    inline_limit: int = 32
    hidden: bool = False
    wrap_with_directory: bool = False
    only_hash: bool = False
    pin: bool = True
    nocopy: bool = False
    max_links: int = DEFAULT_MAX_LINKS
    max_directory_links: int = 0
    max_hamt_fanout: int = hamt.DEFAULT_FANOUT
    shard_threshold: int = DEFAULT_SHARD_THRESHOLD
    shard_estimate: str = "links"
    shard_at_threshold: bool = False
    block_size_limit: int = BLOCK_SIZE_LIMIT
    preserve_mode: bool = False
    preserve_mtime: bool = False
    mode: int = 0
    mtime: int = 0
    mtime_nsecs: int = 0
    empty_dirs: bool = True
    dereference_symlinks: bool = False
    pin_name: str | None = None

    @classmethod
    def from_profile(cls, name: str = DEFAULT_PROFILE, **overrides: Any) -> "ImportOptions":
        """Profile *name*'s options with *overrides* on top, as explicit flags override Kubo's
        Import.* config (None values are flags not given)."""
        return cls(**profile_values(name)).with_(**overrides)

    def with_(self, **changes: Any) -> "ImportOptions":
        """A copy with *changes* (None values are ignored, so CLI defaults fall through)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def has_metadata(self) -> bool:
        """Whether the add stores UnixFS mode or mtime (Kubo's test: a flag, not what it stores)."""
        return bool(self.preserve_mode or self.preserve_mtime or self.mode or self.mtime)

    def resolve(self) -> "ResolvedOptions":
        """Apply Kubo's rules (kubo core/commands/add.go, boxo options.UnixfsAddOptions), in
        Kubo's order, and build the strategy objects."""
        raw_leaves = self.raw_leaves
        if self.pin_name:
            check_pin_name(self.pin_name)
        if self.has_metadata:  # a root carrying metadata must be dag-pb
            if raw_leaves:
                raise InvalidOption("raw-leaves can't be used with UnixFS metadata like mode or modification time")
            raw_leaves = False
        if self.pin_name is not None and (not self.pin or self.only_hash):  # -n never pins
            raise InvalidOption("pin-name option requires pin to be set")
        fn = multihash.get(self.hash.lower())
        if self.inline and self.inline_limit > multihash.MAX_IDENTITY:  # Kubo 0.43.1's add refuses it
            raise InvalidOption(f"inline-limit {self.inline_limit} exceeds maximum allowed size of "
                                f"{multihash.MAX_IDENTITY} bytes")
        if self.mtime_nsecs and not self.mtime:
            raise InvalidOption('option "mtime-nsecs" requires "mtime" to be provided as well')
        if self.mtime and self.mtime_nsecs > 999999999:
            raise InvalidOption("mtime nanoseconds must be in range [1, 999999999]")
        stat = Stat.explicit(self.mode, self.mtime, self.mtime_nsecs)
        # Kubo checks the fanout as it applies the options, before it combines hash and version;
        # max-directory-links <= 0 is no limit (boxo mfs checkMaxLinksExceeded)
        sharding = ShardingRule(self.shard_threshold, self.shard_estimate, self.shard_at_threshold,
                                max(0, self.max_directory_links), self.max_hamt_fanout)
        if self.nocopy and raw_leaves is False:  # references are to raw leaves only
            raise InvalidOption("nocopy option requires '--raw-leaves' to be enabled as well")
        version = self.cid_version
        if fn.code != multihash.SHA2_256.code:
            if version == 0:
                raise InvalidOption("CIDv0 only supports sha2-256")
            version = 1 if version in (None, 1) else version
        elif version is None:
            version = 0
        if version not in (0, 1):
            raise InvalidOption(f"unknown CID version: {version}")
        raw_leaves = raw_leaves if raw_leaves is not None else (version > 0 or self.nocopy)
        builder = CidBuilder(version, fn, self.inline_limit if self.inline else None)
        # Kubo (core/coreunix/add.go) takes max-file-links <= 0 as boxo's default width, 174
        max_links = self.max_links if self.max_links > 0 else DEFAULT_MAX_LINKS
        layout: Layout = Trickle(max_links) if self.trickle else Balanced(max_links)
        chunker = from_spec(self.chunker, self.block_size_limit)
        return ResolvedOptions(self, builder, raw_leaves, chunker, layout, sharding, stat)


@dataclass(frozen=True)
class ResolvedOptions:
    options: ImportOptions
    builder: CidBuilder
    raw_leaves: bool
    chunker: Chunker
    layout: Layout = field(repr=False)
    sharding: ShardingRule
    #: ``--mode``/``--mtime`` as given; ``preserve_*`` replace them per entry
    stat: Stat = Stat()


#: Kubo's cmdutils.MaxPinNameBytes.
MAX_PIN_NAME_BYTES = 255


def check_pin_name(name: str) -> None:
    """Kubo's ValidatePinName: at most 255 bytes (an empty name is no name)."""
    n = len(name.encode())
    if n > MAX_PIN_NAME_BYTES:
        raise InvalidOption(f"pin name is {n} bytes (max {MAX_PIN_NAME_BYTES} bytes)")
