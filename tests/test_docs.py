"""docs/dsl.md stays true: every ```ebm example parses and checks, every
built-in is documented, and the distribution table matches the library.

An ```ebm block that needs consts starts with a line
``# data: {"J": 3, "y": [1, 2, 3]}``; that JSON is passed as ``data=``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ebmppl
from ebmppl.model import library as L
from ebmppl.model.spec import DOMAINS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "dsl.md"
TEXT = DOC.read_text(encoding="utf-8")

# A fenced block: optional indentation, ```lang, body, closing ``` at the same indentation.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line number, dedented body) of every fenced block of the given language."""
    out = []
    for m in _FENCE.finditer(TEXT):
        if m.group("lang") == lang:
            line = TEXT.count("\n", 0, m.start()) + 1
            out.append((line, textwrap.dedent(m.group("body"))))
    return out


EBM_BLOCKS = _blocks("ebm")
PY_BLOCKS = _blocks("python")


def _data_of(block: str):
    first = block.splitlines()[0] if block.strip() else ""
    m = re.match(r"\s*#\s*data:\s*(.*)$", first)
    if m is None:
        return None
    try:
        return json.loads(m.group(1))
    except json.JSONDecodeError as e:  # pragma: no cover - a broken doc
        pytest.fail(f"the `# data:` line is not valid JSON: {e}")


def test_doc_has_ebm_examples():
    assert len(EBM_BLOCKS) >= 20, "docs/dsl.md lost most of its ```ebm examples"


@pytest.mark.parametrize("line,block", EBM_BLOCKS, ids=[f"line{n}" for n, _ in EBM_BLOCKS])
def test_ebm_block_is_a_valid_program(line, block):
    data = _data_of(block)
    try:
        model = ebmppl.parse(block, name="docs/dsl.md", data=data)
    except ebmppl.EbmError as e:
        pytest.fail(f"the ```ebm block at docs/dsl.md:{line} does not check:\n{e.render()}")
    assert model.factors
    if data is not None:
        assert model.is_bound, f"the block at line {line} has consts its `# data:` line does not bind"
    # Lowering with bound consts checks every shape at its source.
    if model.is_bound:
        model.lowered  # noqa: B018


def _documented(name: str) -> bool:
    """The name appears in code style: `name`, `name(...)` or `name[...]`."""
    return re.search(r"`" + re.escape(name) + r"[`(\[]", TEXT) is not None


@pytest.mark.parametrize("name", sorted(L.FUNCTIONS))
def test_every_function_is_documented(name):
    assert _documented(name), f"function '{name}' (library.FUNCTIONS) is missing from docs/dsl.md"


@pytest.mark.parametrize("name", sorted(L.DISTRIBUTIONS))
def test_every_distribution_is_documented(name):
    info = L.DISTRIBUTIONS[name]
    assert _documented(name), f"distribution '{name}' is missing from docs/dsl.md"
    assert _documented(f"{name}_{info.lp_suffix}"), f"'{name}_{info.lp_suffix}' is missing from docs/dsl.md"


@pytest.mark.parametrize("name", list(DOMAINS) + ["mlp"])
def test_every_domain_is_documented(name):
    assert _documented(name), f"domain '{name}' is missing from docs/dsl.md"


@pytest.mark.parametrize("name", sorted(L.ACTIVATIONS))
def test_every_activation_is_documented(name):
    assert _documented(name), f"mlp activation '{name}' is missing from docs/dsl.md"


def _table_rows(header_start: str) -> dict[str, list[str]]:
    """Rows of the markdown table whose header line starts with header_start, keyed by the first cell."""
    lines = TEXT.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(header_start))
    rows = {}
    for l in lines[start + 2:]:
        if not l.startswith("|"):
            break
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_distribution_table_matches_the_library():
    rows = _table_rows("| distribution | arguments")
    assert set(rows) == set(L.DISTRIBUTIONS), (
        f"table and library differ: only in the doc {sorted(set(rows) - set(L.DISTRIBUTIONS))}, "
        f"only in the library {sorted(set(L.DISTRIBUTIONS) - set(rows))}")
    for name, cells in rows.items():
        info = L.DISTRIBUTIONS[name]
        args = re.findall(r"(\w+) \((\w+)\)", cells[1])
        assert tuple(a for a, _ in args) == info.params, f"{name}: documented arguments {args}, library {info.params}"
        assert tuple(d for _, d in args) == info.param_domains, f"{name}: argument domains differ"
        assert cells[-1] == f"`{name}_{info.lp_suffix}`", f"{name}: log-density name"


def test_function_tables_cover_the_library():
    documented = {}
    for header in ("#### Elementwise functions", "#### Reductions", "#### Other functions"):
        lines = TEXT.splitlines()
        i = next(k for k, l in enumerate(lines) if l.startswith(header))
        j = next(k for k in range(i, len(lines)) if lines[k].startswith("| function |"))
        for l in lines[j + 2:]:
            if not l.startswith("|"):
                break
            cells = [c.strip() for c in l.strip().strip("|").split("|")]
            documented[cells[0].strip("`")] = cells
    assert set(documented) == set(L.FUNCTIONS), (
        f"only in the doc {sorted(set(documented) - set(L.FUNCTIONS))}, "
        f"only in the library {sorted(set(L.FUNCTIONS) - set(documented))}")
    for name, cells in documented.items():
        fi = L.FUNCTIONS[name]
        has_static = cells[2] != "—"
        assert has_static == bool(fi.static), f"{name}: the static-arguments column disagrees with the library"


_RUNNER = r"""
import json, sys, traceback
blocks = json.load(sys.stdin)
failed = []
for line, code in blocks:
    try:
        exec(compile(code, f"docs/dsl.md:{line}", "exec"), {"__name__": "__docs__"})
    except Exception:
        failed.append(f"--- python block at docs/dsl.md:{line}\n{traceback.format_exc()}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_python_blocks_run():
    """Every ```python example runs (in one fresh interpreter, so config(x64=True) cannot leak)."""
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    proc = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(PY_BLOCKS), cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
