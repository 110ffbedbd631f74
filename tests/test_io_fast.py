"""Fast data: a clean CSV is read whole by pandas' C tokenizer, and whatever it would read differently goes
to the cell-by-cell reader, which names the bad cell as before; NPZ/NPY data are memory-mapped; one JSON
reader for consts files and sidecars; a bound size beyond the lowering's limit is refused at ``bind``.
Times are measured in ``benchmarks/startup.py``, not here."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ebmppl as ebm
from ebmppl.errors import EbmDataError, EbmError
from ebmppl.io import data as io_data
from ebmppl.io import read_csv, read_data, read_json
from ebmppl.model.bind import load_json

M = ebm.parse("var x : real[2]\nvar b : binary\nfactor f = sum(x^2) + b")


@pytest.fixture
def careful_reader_forbidden(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the cell-by-cell reader ran on a clean file")
    monkeypatch.setattr(io_data, "_read_cells", refuse)


@pytest.mark.parametrize("raw", [
    b"x[0],x[1],b\n1,2.5,1\n-3e2,.5,0\n",
    b"\xef\xbb\xbfx[0],x[1],b\r\n1,2.5,1\r\n-3e2,.5,0\r\n",  # a spreadsheet's byte-order mark and line ends
    b"\n\n\"x[0]\",\"x[1]\",b\n1,2.5,1\n\n-3e2,.5,0",  # blank lines, a quoted header, no final newline
    b"b,x[1],x[0]\n1,2.5,1\n0,.5,-3e2\n",  # columns in any order
])
def test_clean_files_are_read_whole(tmp_path, raw, careful_reader_forbidden):
    p = tmp_path / "d.csv"
    p.write_bytes(raw)
    d = read_csv(p, M)
    np.testing.assert_array_equal(d["x"], [[1, 2.5], [-300, 0.5]])
    np.testing.assert_array_equal(d["b"], [1, 0])
    assert d["x"].dtype == np.float64 and d["x"].flags.c_contiguous


def test_an_unused_column_is_named_once_either_way(tmp_path):
    for body in ("1,2,1,9\n", "1,2,1,oops\n"):  # read whole / read again cell by cell
        p = tmp_path / "d.csv"
        p.write_text("x[0],x[1],b,extra\n" + body)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            read_csv(p, M)
        assert [str(w.message) for w in seen] == [f"{p}: column 'extra' names no var of the model and is ignored"]


@pytest.mark.parametrize("cell, line, message", [
    ("inf", 704, r"row 704, column 2 \('x\[1\]'\): value is inf"),
    ("1e39", 704, r"row 704, column 2 \('x\[1\]'\): 1e\+39 is too large for float32"),
    ("", 704, r"row 704, column 2 \('x\[1\]'\): '' is not a number"),
])
def test_a_bad_cell_in_a_long_file_is_named_by_its_line(tmp_path, cell, line, message):
    rows = [f"{i},{i / 7!r},{i % 2}" for i in range(1000)]
    rows[700] = f"0,{cell},1"
    p = tmp_path / "d.csv"
    p.write_text("x[0],x[1],b\n\n" + "\n".join(rows[:350]) + "\n\n" + "\n".join(rows[350:]) + "\n")  # 2 blank lines
    with pytest.raises(EbmDataError, match=message):
        read_csv(p, M)


def test_a_value_outside_its_domain_is_named_by_its_line(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("x[0],x[1],b\n" + "1,2,1\n" * 50 + "\n1,2,2\n")
    with pytest.raises(EbmDataError, match=r"row 53, column 3 \('b'\): 2 is outside the domain binary"):
        read_csv(p, M)


CELLS = st.sampled_from(["1", "-2.5", ".5", "5.", "1e3", "+4", "0", " 7 ", "nan", "inf", "-Infinity", "", "1_000",
                         "0x10", "١", "NA", "1e", "\"3\"", "\"1,5\"", "oops", "2", "1d5", "\t1", "1.5e-300"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELLS, min_size=2, max_size=4), min_size=1, max_size=5),
       ends=st.sampled_from(["\n", "\r\n"]), blank=st.booleans())
def test_whole_and_cell_by_cell_readers_agree(tmp_path, rows, ends, blank):
    """Whatever a file holds, ``read_csv`` gives what the cell-by-cell reader gives: the same arrays, or the
    same error."""
    text = ends.join(["x[0],x[1],b"] + ([""] if blank else []) + [",".join(r) for r in rows]) + ends
    p = tmp_path / "h.csv"
    p.write_bytes(text.encode())

    def outcome(read):
        try:
            return {k: v.tolist() for k, v in read().items()}
        except EbmDataError as e:
            return e.render()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert outcome(lambda: read_csv(p, M)) == outcome(lambda: io_data._read_cells(p, M))


# ------------------------------------------------------------------ NPZ and NPY
def _mapped(a) -> bool:
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return False


def test_npz_and_npy_data_are_memory_mapped(tmp_path):
    x, b = np.arange(8.0).reshape(4, 2), np.array([0.0, 1, 1, 0])
    np.savez(tmp_path / "d.npz", x=x, b=b)
    d = read_data(tmp_path / "d.npz", M)
    assert _mapped(d["x"]) and _mapped(d["b"])
    np.testing.assert_array_equal(d["x"], x)
    np.savez_compressed(tmp_path / "c.npz", x=x, b=b)  # a compressed member is read as usual
    np.testing.assert_array_equal(read_data(tmp_path / "c.npz", M)["b"], b)
    one = ebm.parse("var x : real[2]\nfactor f = sum(x^2)")
    np.save(tmp_path / "x.npy", x)
    d = read_data(tmp_path / "x.npy", one)
    assert _mapped(d["x"]) and np.array_equal(d["x"], x)


@pytest.mark.parametrize("array, pattern", [
    (np.array([[1.0, np.inf]]), r"x.npy: the array \('x'\) is not finite at row 0, element \[1\]"),
    (np.zeros((3, 3)), r"x.npy: the array \('x'\) has rows of shape \[3\], declared \[2\]"),
    (np.array([[1, None]], dtype=object), r"x.npy: cannot read the array: it holds Python objects"),
])
def test_bad_npy_data(tmp_path, array, pattern):
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(EbmDataError, match=pattern):
        read_data(tmp_path / "x.npy", ebm.parse("var x : real[2]\nfactor f = sum(x^2)"))


def test_npy_data_of_several_vars_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    with pytest.raises(EbmDataError, match=r"an .npy file holds one array, but the model has 2 vars \(x, b\)"):
        read_data(tmp_path / "x.npy", M)


# ------------------------------------------------------------------ JSON and sizes
def test_one_json_reader_keeps_each_callers_words(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"N": ' + "9" * 5000 + "}")  # more digits than Python converts
    with pytest.raises(EbmDataError, match=r"data file '.*c.json' holds a number that cannot be read"):
        load_json(p)
    with pytest.raises(EbmDataError, match=r"c.json: cannot read \(a number cannot be read"):
        read_json(p, "sidecar")
    os.mkfifo(tmp_path / "pipe.json")  # reading it would block forever
    with pytest.raises(EbmDataError, match=r"data file '.*pipe.json' is not a regular file"):
        load_json(tmp_path / "pipe.json")


def test_a_bound_size_beyond_the_array_limit_is_refused_at_bind():
    m = ebm.parse("const N : int\nvar x : real[N, N]\nfactor f = sum(x^2)")
    with pytest.raises(EbmError, match=r"var 'x' \(real\[N, N\] = \[100000000, 100000000\], with N = 100000000 "
                                       r"in data\) would need .* more than the 2 GiB") as e:
        m.bind({"N": 1e8})
    assert e.value.kind == "limit" and "bind smaller sizes (N)" in e.value.render()
    assert ebm.parse("const N : int\nvar x : real[N]\nfactor f = sum(x^2)").bind({"N": 1e8}).consts[0].name == "N"
