"""Shared helpers for the tests that keep docs/*.md true to the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A fenced block: optional indentation, ```lang, body, closing ``` at the same indentation.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, dedented body) of every ```python block."""
    return [(text.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group("body")))
            for m in _FENCE.finditer(text) if m.group("lang") == "python"]


def section_names(text: str) -> set[str]:
    return set(re.findall(r"^### `([\w-]+)`\s*$", text, re.MULTILINE))


def cli_options(command: str) -> list[str]:
    from ebmppl.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return [o for a in sub.choices[command]._actions for o in a.option_strings if o.startswith("--") and o != "--help"]


def run_blocks(doc: str, text: str, tmp_path, env_extra: dict | None = None):
    """Run every ```python block of a doc as one script in a fresh interpreter from the repo root."""
    parts = [f"# ---- {doc}:{line}\n{body}" for line, body in python_blocks(text)]
    script = tmp_path / (Path(doc).stem + "_md.py")
    script.write_text("\n\n".join(parts), encoding="utf-8")
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), **(env_extra or {})}
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, (
        f"the ```python blocks of {doc} failed (script {script}; each block starts with a "
        f"'# ---- {doc}:LINE' comment):\n{proc.stderr[-6000:]}")
