"""Layers that only point down: each package of chalicelib imports only packages below it (and itself).

core < tokens, audit, ratelimit < directory < integrations, v2 < http; `tables` lists every model;
`ui` is files.
Nothing below `http` may import it: the domain never knows about HTTP.
"""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
RANK = {
    "core": 0,
    "tokens": 1,
    "ratelimit": 1,
    "audit": 1,
    "directory": 2,
    "integrations": 3,
    "v2": 3,
    "tables": 4,
    "seed": 4,
    "http": 5,
}


def imported_packages(path: Path) -> set[str]:
    """The chalicelib packages a module imports, also inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "chalicelib" and len(parts) > 1 and parts[1] in RANK:
                found.add(parts[1])
    return found


def test_every_package_imports_only_packages_below_it() -> None:
    problems = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        relative = path.relative_to(CHALICELIB)
        package = relative.parts[0].removesuffix(".py")
        if package not in RANK:
            continue
        for imported in imported_packages(path):
            if imported != package and RANK[imported] >= RANK[package]:
                problems.append(f"{relative} imports chalicelib.{imported}")
    assert problems == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from chalicelib.http import web\n    return web\n")
    assert imported_packages(module) == {"http"}
