"""The package's shape: module sizes and the import graph (issue 10's "done when").

Imports are read from the source with ``ast`` (module level and inside functions alike), so
a lazy import that hides a cycle counts as much as one at the top of a file.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinygrad_relu"

# Tensor's methods call its ops and every op builds Tensors: the one cycle allowed (tinygrad
# keeps Function in tensor.py for the same reason).
ALLOWED_CYCLE_MEMBERS = ("tinygrad_relu.tensor", "tinygrad_relu.ops")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module, path, node, known):
    """The package modules an import statement in ``module`` refers to."""
    is_package = path.name == "__init__.py"
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return [n for n in names if n in known]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join(anchor + ([base] if base else []))
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        if candidate in known:  # `from . import losses`: the submodule itself
            targets.append(candidate)
        elif base in known:
            targets.append(base)
    return targets


def import_graph():
    known = _modules()
    graph = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, path, node, known):
                    # importing a.b.c runs a and a.b first; edges to those parents are not ours to
                    # count (every module imports its package's __init__ that way)
                    if target != name:
                        graph[name].add(target)
    return graph


def strongly_connected(graph):
    """Tarjan's algorithm, iteratively; components with more than one module."""
    index, low, on_stack, stack, order, result = {}, {}, set(), [], [0], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = order[0]
        order[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = order[0]
                    order[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        result.append(sorted(component))
    return result


def _allowed(component):
    return all(m == "tinygrad_relu.tensor" or m.startswith("tinygrad_relu.ops") for m in component)


def test_the_import_graph_has_no_cycle_but_tensor_and_its_ops():
    cycles = [c for c in strongly_connected(import_graph()) if not _allowed(c)]
    assert cycles == []


def test_the_checker_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("suffix,limit", [(".py", 600), (".pyx", 700)])
def test_no_module_is_over_the_size_limit(suffix, limit):
    roots = [PACKAGE] if suffix == ".py" else [ROOT / "cysrc"]
    too_long = {str(p.relative_to(ROOT)): n for root in roots for p in root.rglob("*" + suffix)
                if (n := len(p.read_text().splitlines())) > limit}
    assert too_long == {}


def test_no_private_name_crosses_between_sibling_modules():
    """`from .x import _name` across modules hides a dependency the public names should carry."""
    crossings = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and node.module \
                    and not node.module.startswith("_kernels"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        crossings.append(f"{name}: from {'.' * node.level}{node.module} import {alias.name}")
    assert crossings == []
