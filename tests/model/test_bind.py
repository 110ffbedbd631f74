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


# ------------------------------------------------ hostile values
ONE = "const c : {}\nvar x : real\nfactor e = x^2 * sum(c)"


@pytest.mark.parametrize("decl, value, match", [
    ("binary", True, r"const 'c' in data holds true/false \(true\), not a number"),
    ("real[2]", [1.0, True], r"holds true/false \(true\) at element \[1\]"),
    ("real[2]", [1, "2"], r"holds a string \(\"2\"\) at element \[1\]"),
    ("real[2]", [1, None], r"holds null at element \[1\]"),
    ("real", {"a": 1}, r"holds an object, not a number"),
    ("real[2, 2]", [[1, 2], [3]], r"is a ragged list: element \[0\] has 2 items, element \[1\] has 1 items"),
    ("real[2]", [[1], 2], r"is a ragged list: element \[0\] has 1 items, element \[1\] has a number"),
    ("real", 1e39, r"const 'c' in data is 1e\+39, beyond the largest float32"),
    ("positive", 1e-60, r"must be positive; element \[\] is 1e-60 \(0 in float32\)"),
    ("int", 3_000_000_000, r"is 3000000000, beyond the int32 range"),
    ("int", 10**400, r"integer too large to store"),
    ("simplex[3]", [0.5, 0.5, 0.5], r"must be simplex"),
    ("real[2]", object(), r"holds a value of type object, not a number"),
])
def test_bound_values_that_are_not_numbers_of_the_dtype_used_are_refused(decl, value, match):
    with pytest.raises(EbmDataError, match=match) as e:
        ebm.parse(ONE.format(decl), data={"c": value})
    if isinstance(value, bool) or value == [1.0, True]:
        assert e.value.hint == "write 1 or 0"


def test_bound_values_fit_the_dtype_when_float64_is_on(x64):
    m = ebm.parse(ONE.format("real"), data={"c": 1e39})
    assert float(m.const_values["c"]) == 1e39


@pytest.mark.parametrize("src, data, match", [
    ("const lo : real\nconst c : interval(lo, 1)", {"lo": 0, "c": 2}, r"const 'c' in data must be a number strictly "
                                                                     r"inside the interval .*got 2"),
    ("const K : int\nconst c : categorical(K)[2]", {"K": 3, "c": [0, 3]}, r"element \[1\] is 3"),
])
def test_domains_with_bound_arguments_are_checked_once_they_are_known(src, data, match):
    with pytest.raises(EbmDataError, match=match):
        ebm.parse(src + "\nvar x : real\nfactor e = x^2 * sum(c)", data=data)


def test_arrays_and_bool_arrays_bind():
    m = ebm.parse(ONE.format("binary[3]"), data={"c": np.array([True, False, True])})
    assert m.const_values["c"].tolist() == [1, 0, 1]
    m = ebm.parse(ONE.format("real[2, 0]"), data={"c": [[], []]})
    assert m.const_values["c"].shape == (2, 0)


def test_deeply_nested_json_is_a_data_error(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"c": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(EbmDataError, match="nests lists or objects too deeply"):
        ebm.parse(ONE.format("real[2]"), data=p)
    with pytest.raises(EbmDataError, match="nests lists more than 32 deep"):
        nested = [1.0]
        for _ in range(40):
            nested = [nested]
        ebm.parse(ONE.format("real[2]"), data={"c": nested})
