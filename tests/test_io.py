"""Reading data and params files: CSV, NPZ and JSON, with errors naming file, row and column; hostile files
(malformed CSV, crafted NPZ headers, folders and pipes, values float32 cannot hold) refused by name."""

from __future__ import annotations

import io as _pyio
import json
import os
import zipfile

import jax
import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.errors import EbmDataError, EbmError
from ebmppl.io import check_params, load_npz, load_params, prepare_data, read_csv, read_data, read_json, read_npz
from ebmppl.io import save_params
from ebmppl.io import files as io_files
from tests.conftest import DATA, load_example

M = ebm.parse("var x : real[2]\nvar b : binary\nfactor f = sum(x^2) + b")


def write(tmp_path, text, name="d.csv", mode="w"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_reads_bundled_digits():
    d = read_csv(DATA / "digits_binarized.csv", load_example("rbm"))
    assert d["v"].shape == (1797, 64) and set(np.unique(d["v"])) == {0.0, 1.0}


def test_reads_columns_in_any_order(tmp_path):
    p = write(tmp_path, "b,x[1],x[0]\n1,2.5,-1\n0,0,3\n")
    d = read_csv(p, M)
    np.testing.assert_array_equal(d["x"], [[-1, 2.5], [3, 0]])
    np.testing.assert_array_equal(d["b"], [1, 0])


@pytest.mark.parametrize("text, pattern", [
    ("x[0],x[1]\n1,2\n", "no column for var 'b'"),
    ("x[0],b\n1,1\n", r"column 'x\[1\]' is missing"),
    ("x[0],x[1],x[2],b\n1,2,3,1\n", r"row 1, column 3: 'x' has shape \[2\]"),
    ("x[0],x[1],b\n1,2,1\n3,oops,0\n", r"row 3, column 2 \('x\[1\]'\): 'oops' is not a number"),
    ("x[0],x[1],b\n1,nan,1\n", r"row 2, column 2 .*nan"),
    ("x[0],x[1],b\n1,2,1\n1,2\n", "row 3: 2 values"),
    ("x[0],x[1],b\n1,2,0.5\n", r"row 2, column 3 \('b'\): 0.5 is outside the domain binary"),
    ("", "empty"),
    ("x[0],x[1],b\n", "no data rows"),
    ("x[0],x[ 1,b\n1,2,3\n", "row 1, column 2: cannot read column name"),
])
def test_bad_csv_names_row_and_column(tmp_path, text, pattern):
    with pytest.raises(EbmDataError, match=pattern):
        read_csv(write(tmp_path, text), M)


def test_not_utf8(tmp_path):
    with pytest.raises(EbmDataError, match="row 2: not UTF-8"):
        read_csv(write(tmp_path, b"x[0],x[1],b\n\xff\xfe,1,1\n"), M)


def test_npz_without_pickle(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.zeros((3, 2)), b=np.ones(3))
    d = read_data(p, M)
    assert d["x"].shape == (3, 2)
    np.savez(p, x=np.zeros((3, 3)), b=np.ones(3))
    with pytest.raises(EbmDataError, match=r"rows of shape \[3\]"):
        read_data(p, M)


# ------------------------------------------------------------ hostile files (see also tests/reliability)
TWO = ebm.parse("var x : real[2]\nvar y : positive\nfactor f = sum(x^2) + y")


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _header(shape, descr="<f8"):
    b = _pyio.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


@pytest.mark.parametrize("text, pattern", [
    ('x[0],x[1],b\n1,2,1\n3,"4,0\n5,6,1\n', r"row 3: a quoted field is never closed"),
    ('x[0],x[1],b\n1,"2"x,1\n', r"row 2: text follows a closing quote"),
    ("x[0],x[1],b\n1," + "2" * 200_000 + ",1\n", r"row 2: a field is longer than 131072 characters"),
    ("x[0],x[1],b\n1_000,2,1\n", r"row 2, column 1 \('x\[0\]'\): '1_000' is not a number"),
    ("x[0],x[1],b\n\u0661,2,1\n", r"row 2, column 1 .* is not a number"),
    ("x[0],x[1],b\n0x1f,2,1\n", r"'0x1f' is not a number"),
    ('x[0],x[1],b\n"1,5",2,1\n', r"'1,5' is not a number"),
    ("x[0],x[1],b\n1e39,2,1\n", r"row 2, column 1 \('x\[0\]'\): 1e\+39 is too large for float32"),
    ("x[0],x[1],b\n1,Infinity,1\n", r"row 2, column 2 \('x\[1\]'\): value is inf"),
])
def test_csv_errors_name_the_row(tmp_path, text, pattern):
    with pytest.raises(EbmDataError, match=pattern):
        read_csv(write(tmp_path, text), M)


def test_csv_thousands_separator_gets_a_hint(tmp_path):
    with pytest.raises(EbmDataError) as e:
        read_csv(write(tmp_path, 'x[0],x[1],b\n"1,000",2,1\n'), M)
    assert "thousands separators" in e.value.hint


def test_csv_numbers_as_csv_files_write_them(tmp_path):
    d = read_csv(write(tmp_path, "x[0],x[1],b\n1.,.5,1\n-1e-3,+2,0\n 3 , 4E2 ,1\n"), M)
    np.testing.assert_array_equal(d["x"], [[1.0, 0.5], [-1e-3, 2.0], [3.0, 400.0]])


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_csv_line_endings_and_byte_order_mark(tmp_path, ending):
    text = "\ufeffx[0],x[1],b" + ending + "1,2,1" + ending + "3,4,0" + ending
    d = read_csv(write(tmp_path, text.encode()), M)
    np.testing.assert_array_equal(d["x"], [[1, 2], [3, 4]])


def test_csv_rows_are_numbered_by_line(tmp_path):
    with pytest.raises(EbmDataError, match=r"row 5, column 2"):
        read_csv(write(tmp_path, "x[0],x[1],b\n1,2,1\n\n3,4,0\n5,oops,1\n"), M)


def test_unused_columns_and_arrays_are_ignored_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"columns 'id', 'lable' name no var of the model and are ignored"):
        read_csv(write(tmp_path, "id,x[0],x[1],b,lable\n1,2,3,1,a\n"), M)
    p = tmp_path / "d.npz"
    np.savez(p, x=np.zeros((3, 2)), b=np.ones(3), extra=np.ones(3))
    with pytest.warns(UserWarning, match=r"array 'extra' names no var"):
        read_npz(p, M)


def test_float32_limits_apply_only_in_float32(tmp_path):
    p = write(tmp_path, "y\n1.0\n1e-50\n", "pos.csv")
    pos = ebm.parse("var y : positive\nfactor f = y")
    with pytest.raises(EbmDataError, match=r"row 3, column 1 \('y'\): 1e-50 is 0 in float32, outside the domain "
                                           r"positive of 'y'") as e:
        read_csv(p, pos)
    assert "--x64" in e.value.hint
    big = write(tmp_path, "x[0],x[1],b\n1e39,2,1\n", "big.csv")
    with jax.enable_x64(True):
        assert read_csv(p, pos)["y"][1] == 1e-50
        assert read_csv(big, M)["x"][0, 0] == 1e39


@pytest.mark.parametrize("arrays, pattern", [
    ({"x": np.zeros((4, 2)), "y": np.ones(3)}, r"array 'x' has 4 rows but array 'y' has 3"),
    ({"x": np.zeros((3, 2)), "y": np.array([1.0, 0.0, 1.0])}, r"array 'y' at row 1: 0 is outside the domain positive"),
    ({"x": np.zeros((3, 2)), "y": np.array([1.0, 1e-60, 1.0])}, r"array 'y' at row 1: 1e-60 is 0 in float32"),
    ({"x": np.full((2, 2), 1e39), "y": np.ones(2)}, r"array 'x' at row 0, element \[0\]: 1e\+39 is too large"),
    ({"x": np.zeros((3, 2)), "y": np.float64(1.0)}, r"array 'y' is a single value, not rows"),
])
def test_bad_npz_data(tmp_path, arrays, pattern):
    p = tmp_path / "d.npz"
    np.savez(p, **arrays)
    with pytest.raises(EbmDataError, match=pattern):
        read_npz(p, TWO)


@pytest.mark.parametrize("data, pattern", [
    ({"x": np.zeros((4, 2)), "y": np.ones(3)}, r"data\['x'\] has 4 rows but data\['y'\] has 3"),
    ({"x": np.zeros((3, 2)), "y": -np.ones(3)}, r"data\['y'\] in row 0: -1 is outside the domain positive"),
    ({"x": [["a", "b"]], "y": [1.0]}, r"data\['x'\] holds <U1, not numbers"),
    ({"x": [[1.0, 2.0], [1.0]], "y": [1.0, 1.0]}, r"data\['x'\] is not a \(rectangular\) array of numbers"),
    ({"x": np.array([[1.0, None]], dtype=object), "y": [1.0]}, r"data\['x'\] holds object, not numbers"),
])
def test_bad_dict_data(data, pattern):
    with pytest.raises(EbmDataError, match=pattern):
        prepare_data(TWO, data)


def test_npz_members_are_checked_before_loading(tmp_path):
    good = _pyio.BytesIO()
    np.save(good, np.zeros((3, 2)))
    cases = {
        "note": ({"x.npy": good.getvalue(), "note.txt": b"hi"}, r"member 'note.txt' is not a \.npy array"),
        "bytes": ({"x.npy": b"just text"}, r"cannot read array 'x': it is not a valid \.npy array"),
        "huge": ({"x.npy": _header((10**12, 2)) + bytes(16)}, r"claims shape \[1000000000000, 2\] of float64 "
                                                              r"\(16000000000000 bytes\), but the file holds 16"),
        "short": ({"x.npy": _header((3, 2)) + bytes(40)}, r"claims shape \[3, 2\]"),
        "negative": ({"x.npy": _header((-3, 2)) + bytes(16)}, r"claims shape \[-3, 2\]"),
        "objects": ({"x.npy": _header((1,), "|O") + bytes(8)}, r"it holds Python objects, and ebmppl never unpickles"),
    }
    for name, (members, pattern) in cases.items():
        p = _zip(tmp_path / f"{name}.npz", members)
        with pytest.raises(EbmDataError, match=pattern):
            load_npz(p, "data")


def test_arrays_beyond_the_memory_limit_are_refused(tmp_path, monkeypatch):
    p = tmp_path / "d.npz"
    np.savez_compressed(p, x=np.zeros((1000, 2)), b=np.zeros(1000))  # 24 kB once loaded, 200 bytes on disk
    monkeypatch.setattr(io_files, "memory_limit", lambda: 10_000)
    with pytest.raises(EbmError, match=r"arrays take .* more than ebmppl loads at once") as e:
        load_npz(p, "data")
    assert e.value.kind == "limit"


def test_not_a_regular_file(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(EbmDataError, match=r"data file '.*dir.csv' is a folder, not a file"):
        read_data(tmp_path / "dir.csv", M)
    os.mkfifo(tmp_path / "pipe.csv")  # reading it would block forever
    with pytest.raises(EbmDataError, match=r"is not a regular file"):
        read_data(tmp_path / "pipe.csv", M)
    with pytest.raises(EbmDataError, match=r"is a folder"):
        load_params(tmp_path / "dir.csv", M)


@pytest.mark.parametrize("text, pattern", [
    ("[" * 100_000 + "]" * 100_000, r"cannot read \(the JSON is nested too deeply\)"),
    ("[1, 2]", r"cannot read \(it holds a JSON array, not an object"),
    ('{"a": ', r"cannot read \(not valid JSON: Expecting value at line 1, column 7\)"),
])
def test_json_files(tmp_path, text, pattern):
    p = write(tmp_path, text, "f.json")
    with pytest.raises(EbmDataError, match=pattern):
        read_json(p, "sidecar")


# ----------------------------------------------------------------------- params
RING_P = ebm.parse("var x : real[2]\nparam r : positive = 1.0\nfactor f = (norm(x) - r)^2", "ring.ebm")


def test_params_sidecar_is_required_and_checked(tmp_path):
    path = save_params(tmp_path / "p.npz", RING_P, {"r": np.float32(1.5)})
    side = tmp_path / "p.json"
    meta = json.loads(side.read_text())
    assert isinstance(meta["digest"], str)
    assert float(load_params(path, RING_P)["r"]) == 1.5
    for content, pattern in [({**meta, "fingerprint": 7}, r"p.json: cannot read \(no model fingerprint, found 7\)"),
                             ("[]", r"p.json: cannot read \(it holds a JSON array"),
                             ({**meta, "digest": "0" * 32}, r"p.npz and .*p.json are from different runs")]:
        side.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(EbmDataError, match=pattern):
            load_params(path, RING_P)
    side.write_text(json.dumps({k: v for k, v in meta.items() if k != "digest"}))  # written by an older ebmppl
    assert float(load_params(path, RING_P)["r"]) == 1.5
    side.unlink()
    with pytest.raises(EbmDataError, match=r"p.npz: its sidecar .*p.json is missing"):
        load_params(path, RING_P)


def test_params_npz_of_another_run_is_refused(tmp_path):
    a = save_params(tmp_path / "a" / "params.npz", RING_P, {"r": np.float32(1.5)})
    b = save_params(tmp_path / "b" / "params.npz", RING_P, {"r": np.float32(2.5)})
    a.write_bytes(b.read_bytes())
    with pytest.raises(EbmDataError, match="are from different runs"):
        load_params(a, RING_P)


@pytest.mark.parametrize("value, pattern", [
    (np.float64(1e39), r"array 'r': 1e\+39 is too large for float32"),
    (np.float64(1e-60), r"array 'r': 1e-60 is 0 in float32, outside the domain positive"),
    (np.float64(-1.0), r"array 'r' is outside the domain positive of param 'r' \(-1\)"),
])
def test_params_are_checked_in_the_compute_type(tmp_path, value, pattern):
    path = save_params(tmp_path / "p.npz", RING_P, {"r": value})
    with pytest.raises(EbmDataError, match=pattern):
        load_params(path, RING_P)


def test_params_of_a_network_round_trip(tmp_path):
    m = ebm.parse("var x : real[2]\nparam f : mlp(2, [3], 1)\nfactor e = f(x)[0]", "net.ebm")
    p = m.init_params(0)
    back = load_params(save_params(tmp_path / "p.npz", m, p), m)
    for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(back)):
        np.testing.assert_array_equal(np.asarray(a, np.float64), b)


@pytest.mark.parametrize("params, pattern", [
    ({}, r"params has no value for 'r'"),
    ({"r": np.zeros(2)}, r"params\['r'\] has shape \[2\], the model needs \[\]"),
    ({"r": 1.0, "s": 2.0}, r"params\['s'\] is not a param of this model"),
    ({"r": -1.0}, r"params\['r'\] is outside the domain positive"),
    ({"r": float("nan")}, r"params\['r'\] is not finite"),
])
def test_check_params_of_a_dict(params, pattern):
    with pytest.raises(EbmDataError, match=pattern):
        check_params(RING_P, params)


def test_dict_data_of_discrete_vars_may_be_expected_values():
    # a deep belief net's upper layers train on probabilities p(h = 1 | v); a file must hold the states themselves
    d = prepare_data(M, {"x": np.zeros((2, 2)), "b": np.array([0.25, 1.0])})
    np.testing.assert_array_equal(d["b"], [0.25, 1.0])
    with pytest.raises(EbmDataError, match=r"data\['b'\] in row 1: 1.5 is outside the domain binary of 'b'"):
        prepare_data(M, {"x": np.zeros((2, 2)), "b": np.array([0.25, 1.5])})
