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
    "censored": "examples/data/censored.json",
    "garch": "examples/data/garch.json",
}


def test_there_are_examples():
    assert {"ring", "eight_schools", "ark", "gp_pois_regr"} <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_check_example(path: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = ["check", f"examples/{path.name}"]
    if path.stem in DATA:
        argv += ["--consts", DATA[path.stem]]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "ok" in out.split()
    assert "warning" not in err, err  # no bundled example has a flat element (or any other warning)


@pytest.mark.parametrize("src, flagged, clean", [
    ("var x : real[3]\nfactor f = 0.5 * x[0]^2 + 0.5 * x[2]^2\n", "x[1] (1 of 3 element(s))", None),
    # a param initialized to 0 does not hide an element: the params are perturbed at the other points
    ("var x : real[2]\nparam w : real = 0\nfactor f = 0.5 * x[0]^2 + w * x[1]^2 + 0.01 * x[1]^2\n", None, None),
    ("var x : real[2, 2]\nfactor f = 0.5 * sum(x[:, 0]^2)\n", "x[0, 1], x[1, 1] (2 of 4", None),
    ("var q : positive[2]\nfactor f = q[0]\n", "q[1]", None),
    # flat over a bounded domain is a proper uniform; a var in no factor has the checker's own warning
    ("var u : unit[2]\nvar p : simplex[3]\nfactor f = u[0] + p[0]\n", None, None),
    ("var x : real\nvar y : real\nfactor f = 0.5 * x^2\n", None, "appears in no factor"),
])
def test_check_names_elements_the_energy_never_changes_with(tmp_path, capsys, src, flagged, clean):
    path = tmp_path / "m.ebm"
    path.write_text(src)
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    if flagged is None:
        assert "never change" not in err, err
    else:
        assert "never change(s) the energy" in err and flagged in err and "confines" in err, err
    if clean is not None:
        assert clean in out and "never change" not in err, (out, err)
