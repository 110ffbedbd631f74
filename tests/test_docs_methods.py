"""docs/methods.md stays true: its ```python examples run (one script, as a reader would paste them),
every fitting method has a section with an example, and every option of `ebmppl fit` is documented."""

from __future__ import annotations

import re

from ebmppl.training.api import METHODS
from tests.docs_util import ROOT, cli_options, python_blocks, run_blocks, section_names

TEXT = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")


def test_every_method_has_a_section():
    missing = [m for m in METHODS if m not in section_names(TEXT)]
    assert not missing, f"docs/methods.md has no '### `name`' section for {missing}"


def test_every_method_section_has_an_example():
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^### `(\w+)`\s*$", TEXT, re.MULTILINE)]
    bounds = heads + [(len(TEXT), None)]
    for (start, name), (end, _) in zip(bounds, bounds[1:]):
        if name in METHODS:
            assert "```python" in TEXT[start:end], f"the section of '{name}' in docs/methods.md has no example"


def test_every_cli_option_is_documented():
    missing = [o for o in cli_options("fit") if f"`{o}" not in TEXT]
    assert not missing, f"`ebmppl fit` options missing from docs/methods.md: {missing}"


def test_python_blocks_run(tmp_path):
    assert len(python_blocks(TEXT)) >= len(METHODS), "docs/methods.md lost its ```python examples"
    run_blocks("docs/methods.md", TEXT, tmp_path)
