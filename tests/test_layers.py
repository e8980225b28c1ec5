"""The layering of docs/architecture.md, read from the source: what stores/ and nodes/ import,
and that no module imports another module's private names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "casengine"
#: casengine modules each layer may import (by the first part of the dotted name under casengine).
ALLOWED = {
    "stores": {"dag", "errors", "stores"},
    "nodes": {"dag", "errors", "progress", "stores", "options", "importer", "exporter", "car", "repo", "fsutil",
              "nodes"},
}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute casengine module, names) for every ``from``-import of a casengine module in *path*."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[:len(module) - node.level])
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("casengine"):
                out.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("casengine")]
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_what_is_below_it(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for target, names in imports(path):
            parts = target.split(".")[1:]
            first = parts[0] if parts else (names[0] if names else "")
            if not parts:  # `from casengine import car`
                assert all(n in ALLOWED[layer] or n.startswith("__") for n in names), (path.name, names)
            else:
                assert first in ALLOWED[layer], f"{path.relative_to(PACKAGE)} imports {target}"


def test_no_module_imports_another_modules_private_names():
    for path in sorted(PACKAGE.rglob("*.py")):
        for target, names in imports(path):
            where = PACKAGE.parent.joinpath(*target.split("."))
            private = [n for n in names if n.startswith("_") and not n.startswith("__")
                       and not any(where.glob(f"{n}.*"))]  # a private extension module is a module, not a name
            assert not private, f"{path.relative_to(PACKAGE)} imports {private} from {target}"
