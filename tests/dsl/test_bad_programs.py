"""The golden corpus of bad programs: every tests/dsl/bad/NAME.ebm must fail
`ebmppl check` with exit code 2 and print exactly NAME.expected.

A case with a NAME.data.json beside it is checked with `--data NAME.data.json`.
After a deliberate change of messages, rewrite the files with
`tests/dsl/regen_bad.py` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ebmppl.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAD = Path("tests") / "dsl" / "bad"
CASES = sorted((ROOT / BAD).glob("*.ebm"))

_LOCATION = re.compile(r"^ *--> (.*):(\d+):(\d+)$", re.M)
_CARET = re.compile(r"^ *\| *\^+$", re.M)


def _argv(case: Path) -> list[str]:
    argv = ["check", str(BAD / case.name)]
    data = case.with_name(case.stem + ".data.json")
    if data.exists():
        argv += ["--consts", str(BAD / data.name)]
    return argv


def test_corpus_is_large_enough():
    assert len(CASES) >= 40
    for case in CASES:
        assert case.with_suffix(".expected").exists(), f"{case.name} has no .expected file"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_program(case: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc = main(_argv(case))
    err = capsys.readouterr().err.replace(str(ROOT) + os.sep, "")

    assert rc == 2, err
    assert "Traceback" not in err
    loc = _LOCATION.search(err)
    assert loc is not None, f"no location line in:\n{err}"
    assert int(loc.group(2)) >= 1 and int(loc.group(3)) >= 1, loc.group(0)
    assert _CARET.search(err) is not None, f"no caret line in:\n{err}"
    assert err == case.with_suffix(".expected").read_text(encoding="utf-8")
