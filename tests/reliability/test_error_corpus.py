"""Properties of every message in the golden corpus of bad programs (tests/dsl/bad).

tests/dsl/test_bad_programs.py diffs each message against its golden file; this checks
what every golden message must have, so that a regenerated corpus cannot drift: a
location that exists in the file, the file's own source line under it, a caret under the
reported column, and a fix for every syntax error.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conftest import ROOT

BAD = ROOT / "tests" / "dsl" / "bad"
CASES = sorted(BAD.glob("*.ebm"))
_HEAD = re.compile(r"^error\[([a-z-]+)\]: (.+)$")
_LOC = re.compile(r"^ *--> (.+):(\d+):(\d+)$")
_SRC = re.compile(r"^(\d+) \| (.*)$")
_CARET = re.compile(r"^ *\| ( *)(\^+)$")


def _parse_message(text: str) -> dict:
    lines = text.rstrip("\n").split("\n")
    head = _HEAD.match(lines[0])
    assert head, lines[0]
    out = {"kind": head.group(1), "message": head.group(2), "help": None}
    for i, line in enumerate(lines):
        if (m := _LOC.match(line)) is not None:
            out.update(file=m.group(1), line=int(m.group(2)), col=int(m.group(3)))
            src, caret = _SRC.match(lines[i + 2]), _CARET.match(lines[i + 3])
            assert src and caret, "\n".join(lines[i:i + 4])
            out.update(src_line=int(src.group(1)), src_text=src.group(2), caret_col=len(caret.group(1)) + 1,
                       caret_width=len(caret.group(2)))
        if line.startswith("   = help: "):
            out["help"] = line[len("   = help: "):]
    return out


MESSAGES = {c.stem: _parse_message(c.with_suffix(".expected").read_text(encoding="utf-8")) for c in CASES}


def test_corpus_covers_syntax_and_semantic_errors():
    kinds = Counter(m["kind"] for m in MESSAGES.values())
    assert kinds["syntax"] >= 30, kinds
    assert kinds["semantic"] + kinds["shape"] >= 30, kinds
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_points_at_real_source(name):
    m = MESSAGES[name]
    assert "file" in m, f"{name}: no location"
    path = ROOT / m["file"]
    assert path.exists(), m["file"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 1 <= m["line"] <= len(lines), m
    text = lines[m["line"] - 1].expandtabs(1)
    assert 1 <= m["col"] <= len(text) + 1, m
    assert m["src_line"] == m["line"] and m["src_text"] == text.rstrip("\n"), m
    assert m["caret_col"] == m["col"], m
    assert m["col"] + m["caret_width"] - 1 <= len(text) + 1, m  # the caret stays on the line


@pytest.mark.parametrize("name", sorted(n for n, m in MESSAGES.items() if m["kind"] == "syntax"))
def test_every_syntax_error_says_how_to_fix_it(name):
    assert MESSAGES[name]["help"], name


def test_most_errors_say_how_to_fix_them():
    without = sorted(n for n, m in MESSAGES.items() if not m["help"])
    assert len(without) <= len(MESSAGES) // 20, without
