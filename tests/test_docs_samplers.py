"""docs/samplers.md stays true: its ```python examples run, every sampler has a
section, and every option of `ebmppl sample` is documented.

The examples run as one script (the blocks concatenated in order) in a fresh
interpreter from the repository root, with four host CPU devices so that the
`chain_method="parallel"` example really runs one chain per device.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from ebmppl.cli import build_parser
from ebmppl.infer.sample import SAMPLERS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "samplers.md"
TEXT = DOC.read_text(encoding="utf-8")

# A fenced block: optional indentation, ```lang, body, closing ``` at the same indentation.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def _python_blocks() -> list[tuple[int, str]]:
    """(line number, dedented body) of every ```python block."""
    return [(TEXT.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group("body")))
            for m in _FENCE.finditer(TEXT) if m.group("lang") == "python"]


def test_doc_has_python_examples():
    assert len(_python_blocks()) >= len(SAMPLERS), "docs/samplers.md lost its ```python examples"


def test_every_sampler_has_a_section():
    missing = [s for s in SAMPLERS if not re.search(rf"^### `{re.escape(s)}`\s*$", TEXT, re.MULTILINE)]
    assert not missing, f"docs/samplers.md has no '### `name`' section for {missing}"
    assert re.search(r"^### Mixed models", TEXT, re.MULTILINE), "the mixed-models section is missing"


def test_every_cli_option_is_documented():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    options = [o for a in sub.choices["sample"]._actions for o in a.option_strings
               if o.startswith("--") and o != "--help"]
    missing = [o for o in options if f"`{o}" not in TEXT]
    assert not missing, f"`ebmppl sample` options missing from docs/samplers.md: {missing}"


def test_python_blocks_run(tmp_path):
    """Every ```python example runs, all in one fresh interpreter."""
    parts = [f"# ---- docs/samplers.md:{line}\n{body}" for line, body in _python_blocks()]
    script = tmp_path / "samplers_md.py"
    script.write_text("\n\n".join(parts), encoding="utf-8")
    xla = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in xla:
        xla = (xla + " --xla_force_host_platform_device_count=4").strip()
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "XLA_FLAGS": xla}
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    if proc.returncode != 0:
        print(proc.stderr)
    assert proc.returncode == 0, (
        f"the ```python blocks of docs/samplers.md failed (script {script}; each block starts with a "
        f"'# ---- docs/samplers.md:LINE' comment):\n{proc.stderr[-6000:]}")
