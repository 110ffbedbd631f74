"""`ebmppl check` accepts every bundled example (with its data file where it has one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmppl.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.ebm"))
DATA = {
    "eight_schools": "examples/data/eight_schools.json",
    "ark": "examples/data/arK.json",
    "gp_pois_regr": "examples/data/gp_pois_regr.json",
}


def test_there_are_examples():
    assert {"ring", "eight_schools", "ark", "gp_pois_regr"} <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_check_example(path: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = ["check", f"examples/{path.name}"]
    if path.stem in DATA:
        argv += ["--data", DATA[path.stem]]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "ok" in out.split()
