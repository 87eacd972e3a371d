"""Layers that only point down: each package of chalicelib imports only packages below it (and itself).

core < tokens, audit, ratelimit < usage, directory < integrations, v2 < scanning < http; `tables` lists every
model; `ui` is files. Nothing below `http` may import it, and only `http` (and app.py) imports Chalice:
the domain never knows about HTTP. Nothing in chalicelib imports `local`, which never ships.
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
    "usage": 2,  # reads the allowlist matcher (tokens) to say which seen addresses a list admits
    "directory": 2,
    "integrations": 3,
    "v2": 3,
    "scanning": 4,
    "tables": 5,
    "http": 6,
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


def _imports(path: Path) -> set[str]:
    """Every top-level package a module imports, also inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_only_the_http_layer_imports_chalice_and_nothing_ships_local_code() -> None:
    problems = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        relative = path.relative_to(CHALICELIB)
        imported = _imports(path)
        if "chalice" in imported and relative.parts[0] != "http":
            problems.append(f"{relative} imports chalice")
        if "local" in imported:
            problems.append(f"{relative} imports local (never shipped)")
    assert problems == []
