"""The import graph keeps its shape: user errors at the bottom, the operator actions below both front
ends, and no import cycle through a front end (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "guardbot"
FRONT_ENDS = ("guardbot.cli", "guardbot.cli_args", "guardbot.commands", "guardbot.daemon", "guardbot.notify")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str, *, top_level_only: bool = False) -> set[str]:
    """guardbot modules `module` imports, at run time (not under TYPE_CHECKING)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if id(node) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        out |= {r for n in names if n.startswith("guardbot") and (r := _resolve(n)) and r != module}
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _cycles() -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_errors_module_imports_nothing_from_guardbot_at_module_level() -> None:
    assert _imports("guardbot.errors", top_level_only=True) == set()


def test_nothing_imports_the_cli_module() -> None:
    assert [m for m, targets in GRAPH.items() if "guardbot.cli" in targets] == []


def test_operator_actions_do_not_import_a_front_end() -> None:
    operator = {m: t for m, t in GRAPH.items() if _under(m, ("guardbot.operator",))}
    assert operator
    assert {m: sorted(t for t in ts if _under(t, FRONT_ENDS)) for m, ts in operator.items()} == {
        m: [] for m in operator
    }


def test_no_import_cycle_goes_through_a_front_end_the_operator_or_the_config() -> None:
    watched = (*FRONT_ENDS, "guardbot.operator", "guardbot.config", "guardbot.errors")
    assert [c for c in _cycles() if any(_under(m, watched) for m in c)] == []


def test_redaction_imports_nothing_from_guardbot() -> None:
    assert _imports("guardbot.redaction") == set()


def test_is_one_line_knows_every_one_line_error() -> None:
    from guardbot.errors import is_one_line, one_line_errors

    for cls in one_line_errors():  # importing them all, as any raise would have
        err = (
            cls(["x"])
            if cls.__name__ == "ConfigError"
            else cls("x", "y", "z")
            if cls.__name__ == "SnapshotError"
            else cls("x")
        )
        assert is_one_line(err), cls
    assert not is_one_line(ValueError("x")) and not is_one_line(KeyError("x"))
