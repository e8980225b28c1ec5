"""A stand-in for ipfs_kit_py: its module name, its `ipfs_kit(metadata=..., auto_start_daemons=...)`
factory and the method names and result dicts of its kit (`ipfs_add_bytes`, `ipfs_add_file`,
`ipfs_add_path`, `ipfs_cat`, `ipfs_pin_add`, `ipfs_pin_rm`, `ipfs_pin_ls`, `ipfs_block_put`,
`ipfs_block_get`), answering from a real casengine node (a local repo or a Kubo tier).

The real package is not used: its PyPI release (0.3.0) fails to import with an
IndentationError, its normal import path downloads Kubo and installs a systemd unit, and it
is AGPL. Tests inject this module with monkeypatch.setitem(sys.modules, "ipfs_kit_py", ...).
"""
from __future__ import annotations

import types
from typing import Any, Callable

from casengine.dag.cid import Cid
from casengine.errors import CidNotFound
from casengine.options import ImportOptions


#: The add options the kit passes through (ipfs_kit_py's keyword names are Kubo's, in snake case).
ADD_OPTIONS = ("chunker", "hash", "cid_version", "raw_leaves", "trickle", "only_hash", "wrap_with_directory", "hidden")


def _options(pin: bool, kw: dict) -> ImportOptions:
    return ImportOptions(pin=pin, **{k: kw[k] for k in ADD_OPTIONS if k in kw})


def make_module(node_factory: Callable[[], Any]) -> types.ModuleType:
    mod = types.ModuleType("ipfs_kit_py")
    mod.__version__ = "stand-in"
    mod.created = []

    class ipfs_kit:  # noqa: N801 - ipfs_kit_py's own spelling
        def __init__(self, resources=None, metadata=None, auto_start_daemons=True):
            self.metadata = dict(metadata or {})
            self.auto_start_daemons = auto_start_daemons
            self.node = node_factory()
            mod.created.append(self)

        def _found(self, fn, cid, key):
            try:
                return {"success": True, key: fn()}
            except CidNotFound as e:
                return {"success": False, "error": f"content not found: {e}", "cid": cid}

        def ipfs_add_bytes(self, data, pin=True, **kw):
            return {"success": True, "cid": str(self.node.add(data, _options(pin, kw)))}

        def ipfs_add_file(self, path, pin=True, recursive=False, **kw):
            return {"success": True, "Hash": str(self.node.add(path, _options(pin, kw), recursive=recursive))}

        def ipfs_add_path(self, path, pin=True, recursive=True, **kw):
            return {"success": True, "cid": str(self.node.add(path, _options(pin, kw), recursive=recursive))}

        def ipfs_cat(self, cid, **kw):
            return self._found(lambda: b"".join(self.node.cat(cid)), cid, "data")

        def ipfs_pin_add(self, cid, recursive=True, **kw):
            self.node.pin_add(Cid.parse(cid), recursive)
            return {"success": True, "pins": [cid]}

        def ipfs_pin_rm(self, cid, recursive=True, **kw):
            self.node.pin_rm(Cid.parse(cid), recursive)
            return {"success": True, "pins": [cid]}

        def ipfs_pin_ls(self, type="all", **kw):
            return {"success": True, "pins": {str(c): t for c, t in self.node.pin_ls(type)}}

        def ipfs_block_put(self, data, codec="raw", pin=False, **kw):
            return {"success": True, "cid": str(self.node.block_put(data, codec))}

        def ipfs_block_get(self, cid, **kw):
            return self._found(lambda: self.node.block_get(Cid.parse(cid)), cid, "data")

    mod.ipfs_kit = ipfs_kit
    return mod
