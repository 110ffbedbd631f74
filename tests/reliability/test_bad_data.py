"""Bad data files through the command line: every one is refused with exit code 2, a message
naming the file and the row and column (or array, or key), no traceback, and no output file.

Data files are CSV or NPZ for `ebmppl fit` and `ebmppl score`; consts come from JSON with
`--data` (check, sample) or `--consts` (fit, score).
"""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from ebmppl.cli import main
from tests.conftest import DATA, EXAMPLES

RING = str(EXAMPLES / "ring.ebm")
SCHOOLS = str(EXAMPLES / "eight_schools.ebm")


def run_cli(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_refused(rc, err, path, where, out_dir=None):
    assert rc == 2, err
    assert "Traceback" not in err
    msg = err[err.index("error["):]
    assert str(path) in msg, msg
    assert re.search(where, msg), (where, msg)
    if out_dir is not None and out_dir.exists():  # nothing written: no params, no partial or temporary file
        assert not [p for p in out_dir.rglob("*") if p.is_file()], list(out_dir.rglob("*"))


def _cmd(cmd, model, data, out, consts=None):
    argv = [cmd, model, "--data", str(data), "--out", str(out)]
    if consts is not None:
        argv += ["--consts", str(consts)]
    if cmd == "fit":
        argv += ["--steps", "5", "--no-progress", "--checkpoint-every", "1"]
    return argv


# ---------------------------------------------------------------- CSV
CSV_CASES = {
    "missing_column": ("x[0]\n1\n2\n", r"row 1 \(the header\): 'x' has shape \[2\] but column 'x\[1\]' is missing"),
    "extra_column": ("x[0],x[1],x[2]\n1,2,3\n", r"row 1, column 3: 'x' has shape \[2\], but there is a column 'x\[2\]'"),
    "nan": ("x[0],x[1]\n1,2\n3,nan\n", r"row 3, column 2 \('x\[1\]'\): value is nan"),
    "inf": ("x[0],x[1]\n1,2\n-inf,3\n", r"row 3, column 1 \('x\[0\]'\): value is -inf"),
    "too_many_values": ("x[0],x[1]\n1,2\n3,4,5\n", r"row 3: 3 values, but the header has 2 columns"),
    "too_few_values": ("x[0],x[1]\n1,2\n3\n", r"row 3: 1 values, but the header has 2 columns"),
    "not_a_number": ("x[0],x[1]\n1,2\n3,four\n", r"row 3, column 2 \('x\[1\]'\): 'four' is not a number"),
    "empty_cell": ("x[0],x[1]\n1,\n", r"row 2, column 2 \('x\[1\]'\): '' is not a number"),
    "nul_byte": (b"x[0],x[1]\n1,2\x00\n", r"row 2, column 2 \('x\[1\]'\): '2\\x00' is not a number"),
    "empty_file": ("", r"the file is empty"),
    "header_only": ("x[0],x[1]\n", r"has a header but no data rows"),
    "bad_header": ("x[0],x[ 1\n1,2\n", r"row 1, column 2: cannot read column name"),
    "not_utf8": (b"x[0],x[1]\n1,2\n\xff\xfe,3\n", r"row 3: not UTF-8 text"),
    "overflows_float32": ("x[0],x[1]\n1,2\n1e39,3\n", r"row 3, column 1 \('x\[0\]'\): 1e\+39 is too large for float32"),
    "unclosed_quote": ('x[0],x[1]\n1,2\n3,"4\n', r"row 3: a quoted field is never closed"),
    "field_over_limit": ("x[0],x[1]\n1," + "2" * 140_000 + "\n", r"row 2: a field is longer than"),
    "underscore_digits": ("x[0],x[1]\n1_0,2\n", r"row 2, column 1 \('x\[0\]'\): '1_0' is not a number"),
}


@pytest.mark.parametrize("cmd", ["fit", "score"])
@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_csv(tmp_path, capsys, cmd, case):
    text, where = CSV_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, _cmd(cmd, RING, path, out))
    assert_refused(rc, err, path, where, out)


@pytest.mark.parametrize("cmd", ["fit", "score"])
def test_a_folder_or_a_pipe_as_data(tmp_path, capsys, cmd):
    import os
    (tmp_path / "d.csv").mkdir()
    rc, _, err = run_cli(capsys, _cmd(cmd, RING, tmp_path / "d.csv", tmp_path / "out"))
    assert_refused(rc, err, tmp_path / "d.csv", r"is a folder, not a file", tmp_path / "out")
    os.mkfifo(tmp_path / "p.csv")  # opening it to read would block until someone writes
    rc, _, err = run_cli(capsys, _cmd(cmd, RING, tmp_path / "p.csv", tmp_path / "out"))
    assert_refused(rc, err, tmp_path / "p.csv", r"is not a regular file", tmp_path / "out")


def test_csv_with_byte_order_mark_and_extra_columns_is_read(tmp_path, capsys):
    # spreadsheets write a BOM; columns naming no variable (labels, ids) are ignored
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,x[0],x[1],label\n1,0.5,1.0,a\n2,1.0,0.5,b\n".encode())
    rc, out, err = run_cli(capsys, ["score", RING, "--data", str(path), "--out", str(tmp_path / "o")])
    assert rc == 0, err
    assert (tmp_path / "o" / "scores.csv").read_text().count("\n") == 3


# ---------------------------------------------------------------- NPZ
def _npz(path, **arrays):
    np.savez(path, **arrays)


NPZ_CASES = {
    "missing_array": (lambda p: _npz(p, y=np.zeros((3, 2))), r"no array 'x'"),
    "wrong_width": (lambda p: _npz(p, x=np.zeros((3, 3))), r"array 'x' has rows of shape \[3\], declared \[2\]"),
    "nan": (lambda p: _npz(p, x=np.array([[0.0, 1.0], [np.nan, 2.0]])), r"array 'x' is not finite at row 1, element \[0\]"),
    "inf": (lambda p: _npz(p, x=np.array([[0.0, np.inf]])), r"array 'x' is not finite at row 0, element \[1\]"),
    "no_rows": (lambda p: _npz(p, x=np.zeros((0, 2))), r"array 'x' has no rows"),
    "strings": (lambda p: _npz(p, x=np.array([["a", "b"]])), r"array 'x' holds <U1, not numbers"),
    "pickled_objects": (lambda p: _npz(p, x=np.array([[1.0, None]], dtype=object)),
                        r"cannot read array 'x': it holds Python objects, and ebmppl never unpickles"),
    "empty_file": (lambda p: p.write_bytes(b""), r"not an NPZ file"),
    "csv_text": (lambda p: p.write_text("x[0],x[1]\n1,2\n"), r"not an NPZ file"),
    "broken_member": (lambda p: zipfile.ZipFile(p, "w").writestr("x.npy", b"\x93NUMPY garbage"),
                      r"cannot read array 'x': it is not a valid .npy array"),
    "overflows_float32": (lambda p: _npz(p, x=np.array([[0.0, 1.0], [2e39, 0.0]])),
                          r"array 'x' at row 1, element \[0\]: 2e\+39 is too large for float32"),
    "text_member": (lambda p: zipfile.ZipFile(p, "w").writestr("notes.txt", b"hello"),
                    r"member 'notes.txt' is not a .npy array"),
    "huge_header": (lambda p: zipfile.ZipFile(p, "w").writestr("x.npy", _huge_npy()),
                    r"cannot read array 'x': its header claims shape \[1000000000000, 2\]"),
}


def _huge_npy() -> bytes:
    """A .npy header claiming 16 TB, followed by 16 bytes: loading it naively would try to allocate it all."""
    import io
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 2)})
    return b.getvalue() + bytes(16)


@pytest.mark.parametrize("cmd", ["fit", "score"])
@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_bad_npz(tmp_path, capsys, cmd, case):
    make, where = NPZ_CASES[case]
    path = tmp_path / f"{case}.npz"
    make(path)
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, _cmd(cmd, RING, path, out))
    assert_refused(rc, err, path, where, out)


# ------------------------------------------------------- consts (JSON)
GOOD = json.loads((DATA / "eight_schools.json").read_text())
JSON_CASES = {
    "missing_key": ({k: v for k, v in GOOD.items() if k != "y"}, r"const 'y' has no value in"),
    "wrong_shape": ({**GOOD, "y": [1, 2, 3]}, r"const 'y' in .* has shape \[3\], declared real\[J\] = \[8\]"),
    "string": ({**GOOD, "y": "abc"}, r"const 'y' in .* (is not a \(rectangular\) array of numbers|holds a string)"),
    "ragged": ({**GOOD, "y": [[1], [2, 3]]}, r"const 'y' in .* (is not|is a ragged)"),
    "object": ({**GOOD, "sigma": {"a": 1}},
               r"const 'sigma' in .* (is not a \(rectangular\) array of numbers|holds an object)"),
    "float_size": ({**GOOD, "J": 8.5}, r"const 'J' in .* must hold integers"),
    "list_size": ({**GOOD, "J": [8]}, r"const 'J' in .* has shape \[1\], declared int"),
    "negative_size": ({**GOOD, "J": -2}, r"const 'J' in .* is -2, but it is a size of 'y'"),
    "huge_size": ({**GOOD, "J": 1e300}, r"const 'J' in .* holds an integer too large"),
    "nan": ('{"J": 8, "y": [28, 8, NaN, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}',
            r"const 'y' in .* is not finite at \[2\]"),
    "infinity": ('{"J": 8, "y": [28, 8, 1, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, Infinity, 18]}',
                 r"const 'sigma' in .* is not finite at \[6\]"),
    "outside_domain": ({**GOOD, "sigma": [15, 10, 16, 11, 9, 11, -1, 18]},
                       r"const 'sigma' in .* must be positive; element \[6\] is -1"),
    "not_an_object": ("[1, 2]", r"must hold a JSON object"),
    "invalid_json": ('{"J": 8,', r"is not valid JSON: .* at line 1, column 9"),
    "empty_file": ("", r"is not valid JSON: .* at line 1, column 1"),
    "not_utf8": (b'{"J": 8, "y": "\xff"}', r"is not UTF-8 text \(byte 15\)"),
}


def _write_json(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))


@pytest.mark.parametrize("cmd", ["check", "sample", "fit", "score"])
@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_bad_consts(tmp_path, capsys, cmd, case):
    content, where = JSON_CASES[case]
    path = tmp_path / f"{case}.json"
    _write_json(path, content)
    out = tmp_path / "out"
    if cmd == "check":
        argv = ["check", SCHOOLS, "--data", str(path)]
    elif cmd == "sample":
        argv = ["sample", SCHOOLS, "--data", str(path), "--out", str(out), "--draws", "5", "--warmup", "5",
                "--no-progress"]
    else:
        argv = _cmd(cmd, SCHOOLS, DATA / "ring.csv", out, consts=path)
    rc, _, err = run_cli(capsys, argv)
    assert_refused(rc, err, path, where, out)


def test_bad_consts_point_at_the_declaration(tmp_path, capsys):
    path = tmp_path / "c.json"
    _write_json(path, {**GOOD, "y": [1, 2, 3]})
    rc, _, err = run_cli(capsys, ["check", SCHOOLS, "--data", str(path)])
    assert rc == 2 and "eight_schools.ebm:4:7" in err and "const y     : real[J]" in err
