"""Hypothesis strategies shared by the parity and round-trip tests: contents, option sets, trees."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from hypothesis import strategies as st

#: Kubo's --hash names that casengine computes (keccak through pycryptodome).
HASHES = ["sha2-256", "sha2-512", "sha3-256", "sha3-512", "blake3", "blake2b-256", "blake2s-256", "sha1", "keccak-256",
          "dbl-sha2-256"]


@dataclass(frozen=True)
class Content:
    """File bytes described compactly, so failing examples print small."""

    size: int
    kind: str   # random | zeros | pattern
    seed: int

    def bytes(self) -> bytes:
        if self.kind == "zeros":
            return bytes(self.size)
        if self.kind == "pattern":
            unit = random.Random(self.seed).randbytes(1 + self.seed % 97)
            return (unit * (self.size // len(unit) + 1))[:self.size]
        return random.Random(self.seed).randbytes(self.size)


def sizes_around(chunk: int, max_links: int = 174, cap: int = 1 << 21) -> st.SearchStrategy[int]:
    """Sizes clustered where DAG shapes change: 0, one chunk, a full node, a full two-level tree."""
    edges = [0, 1, chunk, 2 * chunk, max_links * chunk, (max_links + 1) * chunk, max_links * max_links * chunk]
    near = sorted({max(0, e + d) for e in edges for d in (-1, 0, 1) if e + d <= cap})
    return st.one_of(st.sampled_from(near), st.integers(0, min(cap, 8 * chunk + 7)))


@st.composite
def contents(draw, chunk: int, max_links: int = 174) -> Content:
    return Content(draw(sizes_around(chunk, max_links)), draw(st.sampled_from(["random", "zeros", "pattern"])),
                   draw(st.integers(0, 2**32)))


#: Content-defined chunker specs with their typical chunk size (small ones give many cuts cheaply).
CDC_SPECS = {"rabin-16-32-64": 32, "rabin-64-128-256": 128, "rabin-min:48-avg:96-max:4096": 96,
             "rabin-300": 300, "rabin": 262144, "buzhash": 131072}


def chunk_size(spec: str) -> int:
    """The typical chunk length of a --chunker spec, to aim contents at its DAG boundaries."""
    return CDC_SPECS.get(spec) or int(spec.split("-")[1])


#: --max-file-links values: Kubo's defaults, tiny widths (deep trees cheaply), and ones it may refuse
MAX_FILE_LINKS = [-1, 0, 1, 2, 3, 5, 174, 1024]
#: chunk sizes only Kubo >= 0.40 takes, and just past its limit (2 MiB - 256 bytes)
MODERN_CHUNK_SIZES = (1048577, 2096896, 2096897)


@st.composite
def add_options(draw, *, chunk_sizes=(1, 2, 3, 4, 7, 16, 64, 1000, 262144), cdc: bool = True,
                modern: bool = False) -> dict:
    """A set of `ipfs add` options (None = flag not given), including combinations Kubo rejects.
    modern: also the flags and values of today's Kubo (--max-file-links, 2 MiB chunks, no
    --chunker at all, so that a profile's own chunker applies)."""
    sizes = chunk_sizes + (MODERN_CHUNK_SIZES if modern else ())
    specs = [f"size-{n}" for n in sizes] + (list(CDC_SPECS) if cdc else [])
    opts: dict = {"chunker": draw(st.sampled_from(specs))}
    if modern and draw(st.integers(0, 9)) == 0:
        del opts["chunker"]
    if draw(st.booleans()):
        opts["cid_version"] = draw(st.sampled_from([0, 1]))
    if draw(st.booleans()):
        opts["raw_leaves"] = draw(st.booleans())
    if draw(st.booleans()):
        opts["trickle"] = True
    if modern and draw(st.integers(0, 2)) == 0:
        # 1 only with trickle: a balanced DAG of 1-link nodes never ends (Kubo 0.43.1 hangs)
        opts["max_links"] = draw(st.sampled_from([n for n in MAX_FILE_LINKS if n != 1 or opts.get("trickle")]))
    if draw(st.integers(0, 3)) == 0:
        opts["hash"] = draw(st.sampled_from(HASHES))
    if draw(st.integers(0, 3)) == 0:
        opts["inline"] = True
        if draw(st.booleans()):
            opts["inline_limit"] = draw(st.sampled_from([0, 1, 8, 31, 32, 33, 64, 100]
                                                        + ([127, 128, 129, 1000] if modern else [])))
    return opts


# -- directory trees --------------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=12) \
    .filter(lambda n: n not in (".", "..") and len(n.encode()) <= 255)


def trees(max_leaves: int = 12) -> st.SearchStrategy[dict]:
    """A directory as {name: Content | "->target" (symlink) | dict (subdirectory)}."""
    leaf = st.one_of(
        st.builds(Content, st.integers(0, 3000), st.sampled_from(["random", "zeros", "pattern"]), st.integers(0, 2**32)),
        st.builds(lambda t: "->" + t, st.sampled_from(["a", "../x", "/abs/path", "sub/é", "."])),
    )
    return st.recursive(st.dictionaries(names, leaf, max_size=4),
                        lambda children: st.dictionaries(names, st.one_of(leaf, children), max_size=5),
                        max_leaves=max_leaves)


def write_tree(root: str, tree: dict, *, skip_hidden: bool = False) -> None:
    """Materialize *tree* under *root* (created); with skip_hidden, leave dotfiles out."""
    os.makedirs(root, exist_ok=True)
    for name, value in tree.items():
        if skip_hidden and name.startswith("."):
            continue
        path = os.path.join(root, name)
        if isinstance(value, dict):
            write_tree(path, value, skip_hidden=skip_hidden)
        elif isinstance(value, str):
            os.symlink(value[2:], path)
        else:
            with open(path, "wb") as f:
                f.write(value.bytes())
