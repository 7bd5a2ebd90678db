"""The shape of the house (STYLE.md "The house as it grows", issue 10): no import circle
between files of apps/, the ground (core, accounts) imports no app, the integrations app
knows domain apps only through its handler registry, routing never imports progress, and no
module grows past what one reader holds in mind.

Imports are read with `ast`, so function-local imports count too: a circle hidden inside a
function is still a circle."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
APPS = ROOT / "apps"
GROUND = ("apps.core", "apps.accounts")
DOMAIN_APPS = (
    "leads",
    "routing",
    "merchants",
    "orders",
    "progress",
    "compliance",
    "demo",
    "staff",
)
MAX_LINES = 650


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in APPS.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(modules: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Module → the modules of apps/ it imports (`from a.b import c` counts a.b, and a.b.c
    when c is a module)."""
    edges = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


MODULES = _modules()
EDGES = _imports(MODULES)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_circle_of_three():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_no_import_circle_between_files_of_apps():
    assert _cycles(EDGES) == []


def _imported_apps(prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        module: sorted(target for target in targets if not target.startswith(prefixes))
        for module, targets in EDGES.items()
        if any(not target.startswith(prefixes) for target in targets)
    }


@pytest.mark.parametrize("ground", GROUND)
def test_the_ground_imports_no_app(ground):
    offenders = {m: t for m, t in _imported_apps(GROUND).items() if m.startswith(ground)}
    assert offenders == {}


def test_integrations_import_no_domain_app():
    domain = tuple(f"apps.{app}" for app in DOMAIN_APPS)
    offenders = {
        module: sorted(t for t in targets if t.startswith(domain))
        for module, targets in EDGES.items()
        if module.startswith("apps.integrations") and any(t.startswith(domain) for t in targets)
    }
    assert offenders == {}


def test_routing_never_imports_progress():
    """Progress raises IC interventions in routing's queues; routing hears of SLA breaches
    back through its own callback registry, never by importing progress."""
    offenders = {
        module: sorted(t for t in targets if t.startswith("apps.progress"))
        for module, targets in EDGES.items()
        if module.startswith("apps.routing") and any(t.startswith("apps.progress") for t in targets)
    }
    assert offenders == {}


def test_no_module_outgrows_one_subject():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
