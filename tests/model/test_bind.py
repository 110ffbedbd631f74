"""Binding consts from dicts and posteriordb JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.errors import EbmDataError, EbmError

# a copy of posteriordb's kidiq data (BSD-3-Clause), from shared/reference-data/posteriordb
KIDIQ = Path(__file__).resolve().parents[1] / "data" / "kidiq.json"
SRC = "const J : int\nconst y : real[J]\nconst sigma : positive[J]\nvar mu : real\ny ~ normal(mu, sigma)\n"


def test_bind_from_posteriordb_json_ignores_extra_keys(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps({"J": 3, "y": [1, 2, 3], "sigma": [1, 1, 2], "other": "ignored"}))
    m = ebm.parse(SRC, data=p)
    assert m.lowered.shapes["y"] == (3,)
    assert float(m.energy({}, {"mu": 0.0})) > 0


def test_bind_kidiq_from_posteriordb():
    m = ebm.parse("const N : int\nconst kid_score : real[N]\nconst mom_iq : real[N]\n"
                  "var a : real\nvar b : real\nvar s : positive\n"
                  "kid_score ~ normal(a + b * mom_iq, s)\n", data=KIDIQ)
    assert m.lowered.shapes["kid_score"] == (434,)


def test_missing_const_names_it():
    m = ebm.parse(SRC)
    with pytest.raises(EbmDataError, match="'sigma' has no value"):
        m.bind({"J": 2, "y": [1, 2]})
    with pytest.raises(EbmError, match="no value"):
        m.energy({}, {"mu": 0.0})


def test_wrong_shape_gives_both_shapes():
    with pytest.raises(EbmDataError, match=r"shape \[2\].*real\[J\] = \[3\]"):
        ebm.parse(SRC, data={"J": 3, "y": [1, 2], "sigma": [1, 1, 1]})


def test_domain_violations():
    with pytest.raises(EbmDataError, match="must be positive"):
        ebm.parse(SRC, data={"J": 2, "y": [1, 2], "sigma": [1, -1]})
    with pytest.raises(EbmDataError, match="integers"):
        ebm.parse(SRC, data={"J": 2.5, "y": [1, 2], "sigma": [1, 1]})
    with pytest.raises(EbmDataError, match="not finite"):
        ebm.parse(SRC, data={"J": 2, "y": [1, float("nan")], "sigma": [1, 1]})


def test_bad_json_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(EbmDataError, match="not valid JSON.*line 1"):
        ebm.parse(SRC, data=p)
    with pytest.raises(EbmDataError, match="not found"):
        ebm.parse(SRC, data=tmp_path / "missing.json")


def test_const_defaults_and_rebinding():
    m = ebm.parse("const T : positive = 2.0\nvar x : real\nfactor f = x^2 / T")
    assert float(m.energy({}, {"x": 2.0})) == 2.0
    assert float(m.bind({"T": 4.0}).energy({}, {"x": 2.0})) == 1.0


def test_consts_can_be_passed_at_call_time():
    m = ebm.parse(SRC, data={"J": 2, "y": [0.0, 0.0], "sigma": [1.0, 1.0]})
    e1 = m.energy({}, {"mu": 1.0})
    e2 = m.energy({}, {"mu": 1.0}, consts={"y": np.array([1.0, 1.0])})
    np.testing.assert_allclose(e1 - e2, 1.0, rtol=1e-6)


@pytest.mark.parametrize("decl, value, message", [
    ("binary[3]", [0, 1, 2], r"(?m)must be binary; element \[2\] is 2$"),
    ("spin[3]", [1, -1, 0], r"(?m)must be spin; element \[2\] is 0.0$"),
    ("unit[3]", [0.5, 1, 0.2], r"(?m)must be unit; element \[1\] is 1.0$"),
    ("unit", 1.0, r"(?m)must be unit; element \[\] is 1.0$"),
])
def test_support_violations_name_the_first_element_outside(decl, value, message):
    with pytest.raises(EbmDataError, match=message):
        ebm.parse(f"const b : {decl}\nvar x : real\nfactor e = x^2 * sum(b)", data={"b": value})


def test_integer_consts_are_stored_as_integers():
    m = ebm.parse("const n : int\nconst k : categorical(3)[2]\nconst b : binary[2]\nvar x : real\n"
                  "factor e = x^2 * (n + sum(k) + sum(b))", data={"n": 3, "k": [0, 2], "b": [1, 0]})
    assert {k: v.dtype for k, v in m.const_values.items()} == {"n": np.int64, "k": np.int32, "b": np.int32}
