"""The hostile-input corpus (tests/reliability/hostile/cases_*.py), one test per case."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from . import harness

_PKG = __name__.rsplit(".", 1)[0]
CASES = [c for m in pkgutil.iter_modules([str(harness.Path(__file__).parent)])
         if m.name.startswith("cases_")
         for c in importlib.import_module(f"{_PKG}.{m.name}").CASES]


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_case(case, tmp_path):
    harness.verify(case, harness.run(case, tmp_path))
