"""The shape of the ebmppl package, read from its source with ``ast``: the import graph between its
parts, the layer order, the sizes of functions and classes, domain-kind comparisons, and the module
table of docs/architecture.md.

    python tools/structure.py            # the module table (markdown), as docs/architecture.md holds it
    python tools/structure.py --graph    # which part imports which
    python tools/structure.py --mermaid  # the layer picture of docs/architecture.md
"""

from __future__ import annotations

import ast
import os
import sys
from collections import defaultdict
from pathlib import Path

# The layers, bottom first. A part may import parts of its own layer or of the layers below it;
# the imports inside one layer must still be acyclic. `ebmppl` is the package's __init__ (the facade).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "settings", "setups", "predraw", "progress", "stopping", "userfiles", "vocabulary"),
    ("dsl",),
    ("model",),
    ("dists", "io", "distributed"),
    ("plots",),
    ("diagnostics",),
    ("infer",),
    ("partition",),
    ("applications", "goodness"),
    ("training",),
    ("report",),
    ("dbn",),
    ("ebmppl",),
    ("demo",),
    ("cli", "__main__"),
)
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}

DOMAIN_KINDS = frozenset({"real", "positive", "unit", "interval", "ordered", "simplex", "binary", "spin",
                          "categorical", "int", "mlp"})


# ------------------------------------------------------------------ the graph
def _module_name(pkg: Path, f: Path) -> tuple[str, str]:
    """(module, package it sits in) for a file of the package."""
    parts = f.relative_to(pkg.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        mod = ".".join(parts[:-1])
        return mod, mod
    mod = ".".join(parts)
    return mod, mod.rsplit(".", 1)[0]


def _is_module(pkg: Path, dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = pkg / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _targets(pkg: Path, node, here: str) -> list[str]:
    """The ebmppl modules an import statement reads (module-level or inside a function alike)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == pkg.name]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = here.split(".")
        base = base[: len(base) - (node.level - 1)]
        mod = ".".join(base + ([node.module] if node.module else []))
    elif node.module and node.module.split(".")[0] == pkg.name:
        mod = node.module
    else:
        return []
    out = []
    for a in node.names:  # `from . import x`: x is a module, or a name the package re-exports
        sub = f"{mod}.{a.name}"
        out.append(sub if _is_module(pkg, sub) else mod)
    return out


def part_of(module: str) -> str:
    """`ebmppl.model.lower.compiler` -> `model`; `ebmppl` -> `ebmppl` (the facade)."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else bits[0]


def import_graph(pkg: Path) -> dict[str, set[str]]:
    """module -> the ebmppl modules it imports, function-level imports included."""
    graph: dict[str, set[str]] = defaultdict(set)
    for f in sorted(pkg.rglob("*.py")):
        mod, here = _module_name(pkg, f)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            graph[mod].update(t for t in _targets(pkg, node, here) if t != mod)
    return dict(graph)


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    parts: dict[str, set[str]] = defaultdict(set)
    for mod, targets in graph.items():
        parts[part_of(mod)].update(part_of(t) for t in targets if part_of(t) != part_of(mod))
    return dict(parts)


def find_cycle(g: dict[str, set[str]]):
    """A cycle of the directed graph as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(g):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def explain(graph: dict[str, set[str]], cycle) -> str:
    """The module-level imports behind each step of a cycle between parts."""
    lines = []
    for a, b in zip(cycle, cycle[1:]):
        for mod, targets in sorted(graph.items()):
            if part_of(mod) == a:
                lines += [f"  {mod} imports {t}" for t in sorted(targets) if part_of(t) == b]
    return "\n".join(lines)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, targets in sorted(graph.items()):
        a = part_of(mod)
        for t in sorted(targets):
            b = part_of(t)
            if a == b:
                continue
            if a not in RANK or b not in RANK:
                out.append(f"{mod} -> {t}: part {a if a not in RANK else b!r} has no layer in tools/structure.py")
            elif RANK[b] > RANK[a]:
                out.append(f"{mod} (layer {RANK[a]}) imports {t} (layer {RANK[b]})")
    return out


# ------------------------------------------------------------------- sizes
def oversized(pkg: Path, max_function: int, max_class: int) -> list[str]:
    out = []
    for f in sorted(pkg.rglob("*.py")):
        for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            limit = (max_function if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     else max_class if isinstance(n, ast.ClassDef) else None)
            if limit is not None and n.end_lineno - n.lineno + 1 > limit:
                out.append(f"{f.relative_to(pkg.parent)}:{n.lineno} {n.name}: "
                           f"{n.end_lineno - n.lineno + 1} lines (at most {limit})")
    return out


# ------------------------------------------------------------ domain kinds
def _names_domain(node) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in DOMAIN_KINDS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_domain(e) for e in node.elts)
    return False


def domain_kind_comparisons_in(tree, label: str) -> list[str]:
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare) and any(_names_domain(x) for x in [n.left, *n.comparators]):
            out.append(f"{label}:{n.lineno}: compares a domain kind")
        elif isinstance(n, ast.Dict) and sum(_names_domain(k) for k in n.keys if k is not None) >= 2:
            out.append(f"{label}:{n.lineno}: a dict keyed by domain kinds")
    return out


def domain_kind_comparisons(pkg: Path, allowed) -> list[str]:
    out = []
    for f in sorted(pkg.rglob("*.py")):
        if f not in allowed:
            out += domain_kind_comparisons_in(ast.parse(f.read_text(encoding="utf-8")), str(f.relative_to(pkg.parent)))
    return out


# ------------------------------------------------------------ module table
def module_table(pkg: Path) -> str:
    """One row per module: its path, layer and the first line of its docstring."""
    rows = ["| module | layer | job |", "| --- | --- | --- |"]
    for f in sorted(pkg.rglob("*.py"), key=lambda p: (RANK.get(part_of(_module_name(pkg, p)[0]), 99), str(p))):
        mod = _module_name(pkg, f)[0]
        doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else "—"
        first = _first_sentence(first).replace("|", "\\|")
        rows.append(f"| `{f.relative_to(pkg.parent)}` | {RANK.get(part_of(mod), '?')} | {first} |")
    return "\n".join(rows)


def _first_sentence(text: str) -> str:
    for end in (". ", ".\n"):
        if end in text:
            return text[: text.index(end) + 1]
    return text


def reduced(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The transitive reduction of an acyclic graph: an edge a -> b only where no longer path leads there."""
    def reach(n, seen):
        for m in g.get(n, ()):
            if m not in seen:
                seen.add(m)
                reach(m, seen)
        return seen
    out = {}
    for a, targets in g.items():
        indirect = set().union(*(reach(b, set()) for b in targets)) if targets else set()
        out[a] = {b for b in targets if b not in indirect}
    return out


def mermaid(pkg: Path) -> str:
    """The layers as a mermaid flowchart: an arrow a --> b means a imports b (direct imports only)."""
    g = reduced(part_graph(import_graph(pkg)))
    lines = ["flowchart BT"]
    for a in sorted(g, key=lambda p: (RANK.get(p, 99), p)):
        lines += [f"  {a.strip('_')} --> {b.strip('_')}" for b in sorted(g[a], key=lambda p: (RANK.get(p, 99), p))]
    return "\n".join(lines)


def clean_env() -> dict:
    """The environment without the test run's JAX flags (for subprocesses that import ebmppl afresh)."""
    return {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64",)}


def main(argv) -> int:
    pkg = Path(__file__).resolve().parents[1] / "ebmppl"
    if "--mermaid" in argv:
        print(mermaid(pkg))
        return 0
    if "--graph" in argv:
        for part, targets in sorted(part_graph(import_graph(pkg)).items()):
            print(f"{part} -> {', '.join(sorted(targets))}")
        return 0
    print(module_table(pkg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
