"""Check the import graph: no cycle among our modules, no private name used across modules.

Usage: ``python tools/check_imports.py [DIR ...]`` (default: ``landmark_asl benchmarks
experiments tools``); prints every problem and exits 1 if there is one, else prints a one-line
summary and exits 0. Parsing only (``ast``): nothing is imported.

- **Cycles**: strongly connected components of the graph "module A imports module B", where every
  ``import``/``from ... import`` counts, at module level *and inside functions* (a function-local
  import still runs, so it can still close a cycle), except those under ``if TYPE_CHECKING:``
  (never run). ``from pkg import name`` is an edge to ``pkg.name`` when that is one of our modules,
  else to ``pkg``. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; those
  implicit edges are not counted (every subpackage would be "in a cycle" with its own modules), so
  a cycle closed through an ``__init__`` is caught by a test that imports every module first, in
  a fresh interpreter (``tests/tools/test_check_imports.py``).
- **Private names**: ``from m import _x`` and ``m._x`` (``m`` an imported module) for any module
  ``m`` other than the importer itself, dunder names (``__version__``) and ``__future__`` excepted;
  and a private module (``pkg._mod``) imported from outside the package ``pkg`` that holds it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ROOTS = ("landmark_asl", "benchmarks", "experiments", "tools")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass
class Module:
    """One parsed source file: its dotted name, path, and what it imports."""

    name: str
    path: Path
    is_package: bool
    edges: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def discover(roots: list[Path]) -> dict[str, Module]:
    """Map dotted module names to parsed modules for every ``*.py`` under ``roots``."""
    modules = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, is_package)
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private_module_problem(importer: Module, target: str) -> str | None:
    """A private module may be imported only from inside the package that holds it."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        if _is_private(part):
            owner = ".".join(parts[:index])
            inside = importer.name == owner or importer.name.startswith(owner + ".")
            if owner and not inside:
                return f"imports private module {target} from outside {owner}"
            return None
    return None


def analyse(module: Module, modules: dict[str, Module]) -> None:
    """Fill ``module.edges`` and ``module.problems`` from its source."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    bound_modules: dict[str, str] = {}  # local name -> imported module (any, not only ours)

    def add_edge(target: str, counted: bool, lineno: int) -> None:
        if target in modules and target != module.name and counted:
            module.edges.add(target)
        problem = _private_module_problem(module, target) if target in modules else None
        if problem:
            module.problems.append(f"{module.path}:{lineno}: {problem}")

    def visit(node: ast.AST, counted: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for grandchild in child.body:
                    visit_one(grandchild, counted=False)
                for grandchild in child.orelse:
                    visit_one(grandchild, counted)
                continue
            visit_one(child, counted)

    def visit_one(child: ast.AST, counted: bool) -> None:
        if isinstance(child, ast.Import):
            for alias in child.names:
                add_edge(alias.name, counted, child.lineno)
                if alias.asname:
                    bound_modules[alias.asname] = alias.name
                else:
                    bound_modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(child, ast.ImportFrom):
            source = _resolve(module, child)
            if source == "__future__":
                return
            for alias in child.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    add_edge(submodule, counted, child.lineno)
                    bound_modules[alias.asname or alias.name] = submodule
                else:
                    add_edge(source, counted, child.lineno)
                    if _is_private(alias.name) and source != module.name:
                        module.problems.append(
                            f"{module.path}:{child.lineno}: imports private name "
                            f"{alias.name} from {source}"
                        )
        elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
            target = bound_modules.get(child.value.id)
            if target is not None and _is_private(child.attr):
                module.problems.append(
                    f"{module.path}:{child.lineno}: uses private name "
                    f"{target}.{child.attr}"
                )
        visit(child, counted)

    visit(tree, counted=True)


def find_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def connect(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in sorted(modules[name].edges):
            if target not in index:
                connect(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules) + 100))
    for name in sorted(modules):
        if name not in index:
            connect(name)
    return sorted(cycles)


def check(roots: list[Path]) -> list[str]:
    """Return one line per problem (cycles first) for the modules under ``roots``."""
    modules = discover(roots)
    for module in modules.values():
        analyse(module, modules)
    problems = []
    for cycle in find_cycles(modules):
        problems.append("import cycle: " + " <-> ".join(cycle))
    for name in sorted(modules):
        problems.extend(modules[name].problems)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path)
    args = parser.parse_args(argv)
    roots = args.roots or [Path(root) for root in DEFAULT_ROOTS if Path(root).is_dir()]
    problems = check(roots)
    for line in problems:
        print(line)
    n_modules = len(discover(roots))
    if problems:
        print(f"{len(problems)} problem(s) in {n_modules} modules")
        return 1
    print(f"OK: {n_modules} modules, no import cycle, no private name used across modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
