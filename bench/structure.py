"""The package's shape, as a newcomer meets it: entries at the top level, module and function sizes, and import
cycles (counting imports inside functions, which hide a cycle from Python but not from a reader).

    python bench/structure.py            # prints the figures, writes bench/results/structure.{json,md}
    python bench/structure.py --check    # exit 1 when a bound below is broken (tests/test_structure.py runs it)

Bounds: at most 20 entries directly under src/sentilstm, no module over 500 lines, no function over 80 lines,
no import cycle between modules of the package.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "sentilstm"
MAX_TOP_LEVEL = 20
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


@dataclass
class Shape:
    top_level: list[str]
    module_lines: dict[str, int]
    long_modules: dict[str, int]
    long_functions: dict[str, int]
    cycles: list[list[str]]
    problems: list[str] = field(default_factory=list)


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules that `tree` imports anywhere (module level or inside functions)."""
    found: set[str] = set()
    base = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known]
            # `from P import m` with m a module imports m; with a name defined in P, it imports P
            targets = submodules + ([module] if len(submodules) < len(node.names) else [])
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def function_sizes(tree: ast.AST, name: str) -> dict[str, int]:
    sizes: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes[f"{prefix}{child.name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, f"{name}:")
    return sizes


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def measure(package: Path = PACKAGE) -> Shape:
    files = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    known = {module_name(p, package) for p in files}
    graph: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    functions: dict[str, int] = {}
    for path in files:
        name = module_name(path, package)
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines[name] = len(source.splitlines())
        functions.update(function_sizes(tree, name))
        imports = imported_modules(tree, name, path.name == "__init__.py", known)
        # a package's __init__ re-exports its modules: importing the package is not importing them all
        graph[name] = imports
    # a module inside a package runs that package's __init__ whatever it imports: those edges are no choice
    for name in graph:
        graph[name] = {target for target in graph[name] if not name.startswith(f"{target}.")}
    top = sorted(
        p.name
        for p in package.iterdir()
        if p.name != "__pycache__" and (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    )
    shape = Shape(
        top_level=top,
        module_lines=dict(sorted(lines.items(), key=lambda kv: -kv[1])),
        long_modules={k: v for k, v in lines.items() if v > MAX_MODULE_LINES},
        long_functions=dict(
            sorted(((k, v) for k, v in functions.items() if v > MAX_FUNCTION_LINES), key=lambda kv: -kv[1])
        ),
        cycles=cycles(graph),
    )
    if len(top) > MAX_TOP_LEVEL:
        shape.problems.append(f"{len(top)} entries at the top level (at most {MAX_TOP_LEVEL})")
    shape.problems += [f"module {k}: {v} lines (at most {MAX_MODULE_LINES})" for k, v in shape.long_modules.items()]
    shape.problems += [
        f"function {k}: {v} lines (at most {MAX_FUNCTION_LINES})" for k, v in shape.long_functions.items()
    ]
    shape.problems += [f"import cycle: {' <-> '.join(c)}" for c in shape.cycles]
    return shape


def markdown(shape: Shape) -> str:
    out = [
        "# Package structure",
        "",
        "Command: `python bench/structure.py`",
        "",
        f"- entries at the top level: {len(shape.top_level)} (at most {MAX_TOP_LEVEL})",
        f"- modules over {MAX_MODULE_LINES} lines: {len(shape.long_modules)}",
        f"- functions over {MAX_FUNCTION_LINES} lines: {len(shape.long_functions)}",
        f"- import cycles (function-level imports included): {len(shape.cycles)}",
        "",
    ]
    if shape.problems:
        out += ["## Over the bounds", ""] + [f"- {p}" for p in shape.problems] + [""]
    out += ["## Largest modules", "", "| module | lines |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in list(shape.module_lines.items())[:15]]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a bound is broken; write nothing")
    args = parser.parse_args()
    shape = measure()
    print(markdown(shape))
    if args.check:
        return 1 if shape.problems else 0
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "structure.json").write_text(json.dumps(asdict(shape), indent=1) + "\n")
    (results / "structure.md").write_text(markdown(shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
