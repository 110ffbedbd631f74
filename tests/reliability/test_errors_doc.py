"""docs/errors.md is true: it has a section for every error kind, the package raises no kind
outside ``ebmppl.errors.KINDS``, and every example prints exactly the message shown under it.

Each ``## `kind``` section holds a ```python block that causes the error (run in an empty
temporary folder) followed by a ```text block with the rendered message (or, for a call to
``ebmppl.cli.main``, what it prints on stderr). After a deliberate change of messages rewrite
the outputs with ``python tests/reliability/test_errors_doc.py --write`` and review the diff.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
_SECTION = re.compile(r"^## `([a-z-]+)`$", re.M)
_PAIR = re.compile(r"```python\n(.*?)```\n\n```text\n(.*?)```", re.S)


def examples(text: str) -> list[tuple[str, str, str, tuple[int, int]]]:
    """(kind, code, expected output, span of the output in the text) for every example."""
    out = []
    heads = list(_SECTION.finditer(text))
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        for m in _PAIR.finditer(text, h.end(), end):
            out.append((h.group(1), m.group(1), m.group(2), m.span(2)))
    return out


def run_example(code: str, folder: Path) -> tuple[str, str]:
    """(kind raised, message printed) for one example, run in ``folder``."""
    from ebmppl.errors import EbmError
    old = os.getcwd()
    err = io.StringIO()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, "<docs/errors.md>", "exec"), {"__name__": "__doc_example__"})
    except EbmError as e:
        return e.kind, e.render() + "\n"
    finally:
        os.chdir(old)
    printed = err.getvalue()
    m = re.search(r"^error\[([a-z-]+)\]", printed, re.M)
    assert m, f"the example raised nothing:\n{code}"
    return m.group(1), printed[m.start():]


def raised_kinds() -> dict[str, str]:
    """Every error kind raised in the package source, with one place that raises it."""
    sub = {"EbmSyntaxError": "syntax", "EbmSemanticError": "semantic", "EbmShapeError": "shape",
           "EbmDataError": "data"}
    found = {}
    for p in sorted((ROOT / "ebmppl").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            kind = None
            if name == "EbmError" and node.args and isinstance(node.args[0], ast.Constant):
                kind = node.args[0].value
            elif name in sub:
                kind = sub[name]
            if kind is not None:
                found.setdefault(kind, f"{p.relative_to(ROOT)}:{node.lineno}")
    return found


TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = examples(TEXT)


def test_every_kind_raised_is_registered():
    from ebmppl.errors import KINDS
    unknown = {k: where for k, where in raised_kinds().items() if k not in KINDS}
    assert not unknown, f"add these kinds to ebmppl.errors.KINDS and docs/errors.md: {unknown}"


def test_every_kind_has_an_example():
    from ebmppl.errors import KINDS
    documented = {k for k, *_ in EXAMPLES}
    assert set(KINDS) <= documented, f"docs/errors.md has no example for {sorted(set(KINDS) - documented)}"
    assert set(_SECTION.findall(TEXT)) <= set(KINDS)


@pytest.mark.parametrize("kind, code, expected", [e[:3] for e in EXAMPLES],
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_example_prints_the_message_shown(tmp_path, kind, code, expected):
    raised, printed = run_example(code, tmp_path)
    assert raised == kind
    assert printed == expected


def _write():
    import tempfile
    text = TEXT
    for kind, code, expected, (a, b) in reversed(EXAMPLES):
        with tempfile.TemporaryDirectory() as d:
            raised, printed = run_example(code, Path(d))
        if raised != kind:
            print(f"warning: the {kind} example raises {raised}", file=sys.stderr)
        text = text[:a] + printed + text[b:]
    DOC.write_text(text, encoding="utf-8")
    print(f"rewrote {len(EXAMPLES)} outputs in {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        print(__doc__)
