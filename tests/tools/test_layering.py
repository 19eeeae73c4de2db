"""Imports point one way: the CLI and its tools never back, and no module of the package
is in an import cycle (type-only imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import lmarena_bridge

PACKAGE = Path(lmarena_bridge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every lmarena_bridge module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith("lmarena_bridge")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name}
            for name, path in modules.items()}


def reachable(g: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(g[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(g.get(name, ()))
    return seen


def test_no_tool_module_imports_the_cli() -> None:
    g = graph()
    tools = [name for name in g if name.startswith("lmarena_bridge.tools")]
    assert tools
    for name in tools:
        assert "lmarena_bridge.cli" not in reachable(g, name), name


def test_the_cli_and_its_tools_are_in_no_import_cycle() -> None:
    g = graph()
    for name in ["lmarena_bridge.cli", *(n for n in g if n.startswith("lmarena_bridge.tools"))]:
        assert name not in reachable(g, name), name


def test_the_config_layer_imports_neither_the_cli_nor_the_tools_nor_http() -> None:
    g = graph()
    for name in (n for n in g if n.startswith("lmarena_bridge.config")):
        above = {m for m in reachable(g, name)
                 if m.startswith(("lmarena_bridge.cli", "lmarena_bridge.tools",
                                  "lmarena_bridge.http"))}
        assert not above, (name, above)


def test_no_module_of_the_package_is_in_an_import_cycle() -> None:
    # Type-only imports count too: a cycle there is a knot in the design all the same.
    g = graph()
    assert [name for name in g if name in reachable(g, name)] == []
