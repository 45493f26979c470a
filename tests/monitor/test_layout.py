"""The monitor's module layout: no import cycle inside disco_core/monitor (hidden behind
TYPE_CHECKING or not), and the monitor-call numbers agree with the guest kernel's mcall.h."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from disco_core.monitor.mcall import Call

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "disco_core" / "monitor"
PREFIX = "disco_core.monitor"


def _imports(path: Path) -> set[str]:
    """The disco_core.monitor modules a file imports, wherever the import statement is
    (TYPE_CHECKING blocks and function bodies too)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PREFIX:  # from disco_core.monitor import vintr, Monitor
                names = [f"{PREFIX}.{a.name}" for a in node.names if a.name in modules]
                names = names or [f"{PREFIX}.__init__"]
            else:
                names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path.name}: relative import; use {PREFIX}.*")
        for n in names:
            if n.startswith(PREFIX + "."):
                out.add(n[len(PREFIX) + 1:].split(".")[0])
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_monitor():
    graph = {p.stem: _imports(p) - {p.stem} for p in PACKAGE.glob("*.py")}
    # the package's __init__ re-exports (it imports monitor.py); nothing inside imports it
    assert not any("__init__" in deps for deps in graph.values()), graph
    assert "scheduler" in graph and "mcall" in graph["monitor"]
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_monitor_call_numbers_match_the_guest_kernel():
    text = (ROOT / "resources" / "guest" / "kernel" / "mcall.h").read_text()
    defined = {m[1]: int(m[2], 0) for m in re.finditer(r"#define\s+MC_(\w+)\s+(\w+)", text)}
    assert len(defined) >= 19, defined
    for name, number in defined.items():
        assert name in Call.__members__, f"mcall.h's MC_{name} has no mcall.Call member"
        assert Call[name] == number, f"MC_{name}: mcall.h {number}, mcall.Call {Call[name]}"
