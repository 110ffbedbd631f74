"""The package's shape, checked: imports point one way, pieces stay small, one domain table, no
import-time effects. docs/architecture.md states these rules; this file keeps them true."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import structure as S

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "ebmppl"


@pytest.fixture(scope="module")
def graph():
    return S.import_graph(PKG)


def test_no_cycle_between_parts(graph):
    cycle = S.find_cycle(S.part_graph(graph))
    assert cycle is None, "import cycle between parts: " + " -> ".join(cycle) + "\n" + S.explain(graph, cycle)


def test_parts_import_downward_only(graph):
    """Every import goes to a part listed below its own in the layer order (docs/architecture.md)."""
    bad = S.upward_imports(graph)
    assert not bad, "imports that point up the layers:\n" + "\n".join(bad)


def test_the_cycle_finder_finds_cycles():
    assert S.find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert S.find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_function_level_imports_are_counted(tmp_path):
    pkg = tmp_path / "ebmppl"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "model" / "a.py").write_text("def f():\n    from ..partition import g\n")
    (pkg / "partition.py").write_text("from .model.a import f\n")
    parts = S.part_graph(S.import_graph(pkg))
    assert S.find_cycle(parts) is not None


def test_sizes():
    """No class over 250 lines, no function over 80 (docstrings included)."""
    bad = S.oversized(PKG, max_function=80, max_class=250)
    assert not bad, "too long:\n" + "\n".join(bad)


def test_domain_kinds_compared_only_in_the_table():
    bad = S.domain_kind_comparisons(PKG, allowed={PKG / "model" / "domains.py"})
    assert not bad, "domain kinds compared outside ebmppl/model/domains.py:\n" + "\n".join(bad)


def test_the_domain_check_sees_comparisons():
    src = ('a = s.domain.kind == "binary"\nb = k in ("int", "categorical")\nc = kinds != "spin"\n'
           'd = {"positive": 1, "unit": 2}.get(kind)\ne = name == "exp"\n')
    found = S.domain_kind_comparisons_in(ast.parse(src), "x.py")
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "4"]


def test_import_changes_no_global_setting():
    """`import ebmppl` leaves JAX's compile cache setting and NumPyro's maybe_jit as they were."""
    code = ("import jax, numpyro.util, json\n"
            "before = (jax.config.jax_compilation_cache_dir, numpyro.util.maybe_jit)\n"
            "import ebmppl\n"
            "after = (jax.config.jax_compilation_cache_dir, numpyro.util.maybe_jit)\n"
            "print(json.dumps([before[0] == after[0], before[1] is after[1]]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, True]


def test_sample_restores_numpyro_maybe_jit():
    code = ("import numpyro.util, json\n"
            "orig = numpyro.util.maybe_jit\n"
            "import ebmppl\n"
            "m = ebmppl.parse('var x : real\\nfactor f = 0.5 * x^2\\nmodel = f')\n"
            "ebmppl.sample(m, sampler='mala', chains=1, draws=10, warmup=10, progress=False)\n"
            "print(json.dumps(numpyro.util.maybe_jit is orig))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**S.clean_env(), "EBMPPL_COMPILE_CACHE": "0"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) is True


def test_no_public_function_shadows_a_module():
    import importlib
    import pkgutil

    import ebmppl
    modules = {m.name for m in pkgutil.iter_modules(ebmppl.__path__)}
    shadowed = [name for name in ebmppl.__all__ if name in modules
                and not isinstance(getattr(ebmppl, name), type(importlib))]
    assert not shadowed, f"public names that shadow a module of the package: {shadowed}"


def _between(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:begin -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0].strip()


def test_architecture_doc_matches_the_tree():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert _between(doc, "modules") == S.module_table(PKG), \
        "docs/architecture.md's module table is stale: paste `python tools/structure.py` between its markers"
    assert _between(doc, "layers") == "```mermaid\n" + S.mermaid(PKG) + "\n```", \
        "docs/architecture.md's picture is stale: paste `python tools/structure.py --mermaid` between its markers"
