"""docs/methods.md stays true: its ```python examples run, every fitting method
has a section, and every option of `ebmppl fit` is documented.

The examples run as one script (the blocks concatenated in order) in a fresh
interpreter from the repository root, as a reader would paste them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from ebmppl.cli import build_parser
from ebmppl.fit import METHODS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "methods.md"
TEXT = DOC.read_text(encoding="utf-8")

# A fenced block: optional indentation, ```lang, body, closing ``` at the same indentation.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def _python_blocks() -> list[tuple[int, str]]:
    """(line number, dedented body) of every ```python block."""
    return [(TEXT.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group("body")))
            for m in _FENCE.finditer(TEXT) if m.group("lang") == "python"]


def test_every_method_has_a_section():
    missing = [m for m in METHODS if not re.search(rf"^### `{re.escape(m)}`\s*$", TEXT, re.MULTILINE)]
    assert not missing, f"docs/methods.md has no '### `name`' section for {missing}"


def test_every_method_section_has_an_example():
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^### `(\w+)`\s*$", TEXT, re.MULTILINE)]
    bounds = heads + [(len(TEXT), None)]
    for (start, name), (end, _) in zip(bounds, bounds[1:]):
        if name in METHODS:
            assert "```python" in TEXT[start:end], f"the section of '{name}' in docs/methods.md has no example"


def test_every_cli_option_is_documented():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    options = [o for a in sub.choices["fit"]._actions for o in a.option_strings
               if o.startswith("--") and o != "--help"]
    missing = [o for o in options if f"`{o}" not in TEXT]
    assert not missing, f"`ebmppl fit` options missing from docs/methods.md: {missing}"


def test_python_blocks_run(tmp_path):
    """Every ```python example runs, all in one fresh interpreter, from the repository root."""
    blocks = _python_blocks()
    assert len(blocks) >= len(METHODS), "docs/methods.md lost its ```python examples"
    parts = [f"# ---- docs/methods.md:{line}\n{body}" for line, body in blocks]
    script = tmp_path / "methods_md.py"
    script.write_text("\n\n".join(parts), encoding="utf-8")
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, (
        f"the ```python blocks of docs/methods.md failed (script {script}; each block starts with a "
        f"'# ---- docs/methods.md:LINE' comment):\n{proc.stderr[-6000:]}")
