"""docs/evaluation.md stays true: its ```python examples run (one script, as a reader would paste them),
every public evaluation function has a section with an example, and every option of `ebmppl logz` and
`ebmppl score` is documented."""

from __future__ import annotations

import re

import pytest

from ebmppl import dbn
from tests.docs_util import ROOT, cli_options, python_blocks, run_blocks, section_names

TEXT = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")


def public_names() -> list[str]:
    """Every public name of the evaluation modules (log Z and what builds on it, what needs no log Z), the
    LogZ value, the model property and the deep belief net's constructor."""
    from ebmppl import applications, partition
    return list(partition.__all__) + list(applications.__all__) + ["LogZ", "component_logz", "stack"]


def sections() -> dict[str, str]:
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^### `([\w-]+)`\s*$", TEXT, re.MULTILINE)]
    ends = [start for start, _ in heads[1:]] + [len(TEXT)]
    return {name: TEXT[start:end] for (start, name), end in zip(heads, ends)}


def test_every_evaluation_function_has_a_section_with_an_example():
    missing = [n for n in public_names() if n not in section_names(TEXT)]
    assert not missing, f"docs/evaluation.md has no '### `name`' section for {missing}"
    bare = [n for n, body in sections().items() if n in public_names() and "```python" not in body]
    assert not bare, f"sections of docs/evaluation.md without a ```python example: {bare}"
    assert "stack" in dbn.__all__


@pytest.mark.parametrize("command", ["logz", "score"])
def test_every_cli_option_is_documented(command):
    head = f"### `ebmppl {command}`"
    assert head in TEXT, f"docs/evaluation.md has no '{head}' section"
    body = TEXT.split(head)[1].split("\n### ")[0]
    missing = [o for o in cli_options(command) if f"`{o}" not in body]
    assert not missing, f"`ebmppl {command}` options missing from its section of docs/evaluation.md: {missing}"


def test_readme_links_the_page():
    assert "docs/evaluation.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_python_blocks_run(tmp_path):
    assert len(python_blocks(TEXT)) >= len(public_names()), "docs/evaluation.md lost its ```python examples"
    run_blocks("docs/evaluation.md", TEXT, tmp_path)
