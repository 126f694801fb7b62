"""Print the longest functions of a package (ast-based, so the numbers are reproducible).

Usage: ``python tools/function_lengths.py [PACKAGE_DIR] [-n N]``; a function's length is
``end_lineno - lineno + 1`` of its ``def`` (decorators excluded), nested functions counted
inside their parent and also on their own.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def function_lengths(root: Path) -> list[tuple[int, str]]:
    """Return ``(n_lines, "module.py:qualified_name")`` for every function under ``root``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, relative: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                found.append((child.end_lineno - child.lineno + 1, f"{relative}:{name}"))
                visit(child, relative, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, relative, f"{prefix}{child.name}.")
            else:
                visit(child, relative, prefix)

    for path in sorted(root.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), path.relative_to(root.parent).as_posix(), "")
    return sorted(found, key=lambda item: (-item[0], item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="landmark_asl", type=Path)
    parser.add_argument("-n", type=int, default=10, help="how many to print")
    args = parser.parse_args()
    for n_lines, name in function_lengths(args.root)[: args.n]:
        print(f"{n_lines:5d}  {name}")


if __name__ == "__main__":
    main()
