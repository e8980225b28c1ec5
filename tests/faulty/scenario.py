"""What the fault tests and bench/faults.py ask of the router, and how they check the local store.

:func:`make_content` puts real content in a block store (a file, a directory, a raw block);
:func:`router_ops` are the router calls that read, pin or add it, each with its right answer;
:func:`check_store` proves that nothing unverified, and nothing foreign, entered an LMDB repo.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from casengine import car
from casengine.dag.cid import Cid
from casengine.exporter import Exporter
from casengine.importer import Importer
from casengine.nodes.remote import block_cid
from casengine.repo import RECURSIVE, Repo
from casengine.stores.base import Blockstore
from casengine.stores.memory import MemoryStore


@dataclass(frozen=True)
class Content:
    file: Cid
    file_bytes: bytes
    tree: Cid
    tree_files: dict[str, bytes]
    block: Cid
    block_bytes: bytes
    car: bytes              # the file's DAG as ``dag export`` writes it
    multihashes: frozenset  # every block of all of the above


def make_content(store: Blockstore, workdir: Path, seed: int = 7) -> Content:
    rng = random.Random(seed)
    file_bytes = rng.randbytes(700_000)
    file = Importer(store).add_bytes(file_bytes).cid
    tree_dir = workdir / "tree"
    tree_dir.mkdir(parents=True, exist_ok=True)
    tree_files = {"a.bin": rng.randbytes(300_000), "b.txt": b"small file\n"}
    for name, data in tree_files.items():
        (tree_dir / name).write_bytes(data)
    tree = Importer(store).add_path(tree_dir).cid
    block_bytes = b"a raw block the tier holds"
    block = block_cid(block_bytes, "raw", "sha2-256")
    store.put(block, block_bytes)
    ex = Exporter(store)
    car_bytes = b"".join(car.write([file], ex.walk(file)))
    mhs = {c.multihash for root in (file, tree) for c, _ in ex.walk(root)} | {block.multihash}
    return Content(file, file_bytes, tree, tree_files, block, block_bytes, car_bytes, frozenset(mhs))


#: A router call on the content, and whether its result is the right one.
Op = tuple[str, Callable[[Any], Any], Callable[[Any], bool]]


def router_ops(c: Content, out_dir: Path) -> tuple[list[Op], frozenset]:
    """Every router verb that reads, pins or adds, with its check (out_dir receives get_to_path),
    and the multihashes of the fresh content the adds bring."""
    fresh = os.urandom(5000)
    scratch = MemoryStore()
    fresh_cid = str(Importer(scratch).add_bytes(fresh).cid)
    fresh_block = os.urandom(100)
    scratch.put(block_cid(fresh_block, "raw", "sha2-256"), fresh_block)

    def get(b) -> Path:
        target = out_dir / f"get-{os.urandom(4).hex()}"
        b.get_to_path(str(c.tree), output_path=str(target))
        return target

    ops: list[Op] = [
        ("cat", lambda b: b.cat(str(c.file)), lambda r: r == c.file_bytes),
        ("cat path", lambda b: b.cat(f"{c.tree}/a.bin"), lambda r: r == c.tree_files["a.bin"]),
        ("block_get", lambda b: b.block_get(str(c.block)), lambda r: r == c.block_bytes),
        ("ls", lambda b: b.ls(str(c.tree)), lambda r: r == sorted(c.tree_files)),
        ("get_to_path", get, lambda r: {p.name: p.read_bytes() for p in r.iterdir()} == c.tree_files),
        ("dag_export", lambda b: b.dag_export(str(c.file)), lambda r: r == c.car),
        ("pin", lambda b: b.pin(str(c.tree)), lambda r: r is None),
        ("add_bytes", lambda b: b.add_bytes(fresh), lambda r: r == fresh_cid),
        ("block_put", lambda b: b.block_put(fresh_block),
         lambda r: r == str(block_cid(fresh_block, "raw", "sha2-256"))),
    ]
    return ops, frozenset(scratch.multihashes())


def hold(repo: Repo, c: Content, source: Blockstore) -> None:
    """Copy the content's blocks from *source* into *repo* and pin them: a tier that has it."""
    ex = Exporter(source)
    for root in (c.file, c.tree):
        repo.store.put_many(ex.walk(root))
        repo.pin(root)
    repo.put_block(c.block, c.block_bytes, pin=True)


def check_store(repo_path: Path, allowed: frozenset | set) -> int:
    """Every block of the repo hashes to its key and is one of *allowed*; every pin's DAG is
    whole. Returns how many blocks the repo holds."""
    with Repo(repo_path) as repo:
        corrupt = list(repo.verify())
        assert corrupt == [], f"unverified blocks entered the store: {corrupt}"
        stored = set(repo.store.multihashes())
        assert stored <= allowed, f"{len(stored - allowed)} block(s) that are not the content's entered the store"
        for root, _ in repo.pins(RECURSIVE):
            for _ in repo.exporter.walk(root):
                pass
        return len(stored)
