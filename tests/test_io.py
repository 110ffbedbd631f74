"""Reading data files: CSV and NPZ, with errors naming file, row and column."""

from __future__ import annotations

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.errors import EbmDataError
from ebmppl.io import read_csv, read_data
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
