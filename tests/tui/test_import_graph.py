"""The TUI's modules import each other without a circle: the app imports the screens, the screens
the calls and widgets, never the other way (issue 15). Every import counts, also those inside
functions and under TYPE_CHECKING, since those were how the old circle was papered over."""

from __future__ import annotations

import grimp

TUI = "edgefabric.tui"


def tui_import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("edgefabric", cache_dir=None)
    modules = {m for m in graph.modules if m == TUI or m.startswith(TUI + ".")}
    return {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(edges.get(module, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state:
                found = visit(imported)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_find_cycle_finds_one_and_only_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_tui_has_no_import_cycle() -> None:
    edges = tui_import_graph()
    assert f"{TUI}.app" in edges and f"{TUI}.screens.base" in edges  # the graph is the real one
    assert f"{TUI}.screens.chat" in edges[f"{TUI}.app"]
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle in the TUI: " + " -> ".join(cycle or [])
