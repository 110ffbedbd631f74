"""Data in: rows of variable values from a CSV file, an NPZ or NPY file or a dict.

A CSV names its columns after variables (``x[0]``, ``x[1]``, ...); an NPZ holds an array a variable, an NPY
the rows of a model's one variable (both memory-mapped where stored uncompressed). Each is admitted: numbers,
one row per example, finite in the float type ebmppl computes in, inside the variable's domain. Errors name
the file, row and column, or the array. A CSV of plain numbers is read whole by pandas' C tokenizer; any
other is read cell by cell, so that the first bad cell is named.
"""

from __future__ import annotations

import csv
import io as _io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import EbmDataError
from ..model.spec import Model
from . import values
from .files import load_npy, load_npz, read_bytes, within_limit

_COL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+(?:\s*,\s*\d+)*)\])?$")
# a number as a CSV writes it: ASCII digits, a '.' for decimals, an exponent; nan and inf words separately
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_CSV_ERRORS = {"unexpected end of data": "a quoted field is never closed (a '\"' without its closing '\"')",
               "expected after": "text follows a closing quote (write the whole field inside the quotes)",
               "field larger than field limit": f"a field is longer than {csv.field_size_limit()} characters"}


def read_csv(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read rows of variable values from a CSV whose header names the columns.

    Args:
        path: the CSV file (UTF-8, a byte-order mark allowed; any line ends; a header row).
        model: the model whose vars the columns fill (shapes from its bound specs).
        names: which vars to read (default: every var of the model).

    Returns:
        dict name -> float64 array of shape (rows, *var shape). Columns that name no var are ignored,
        with a warning.

    A file of plain numbers is read by pandas' C tokenizer (:func:`_table`); a file it does not read, or one
    holding a value that is refused, is read again cell by cell, which finds the first bad cell and names it.
    """
    within_limit(path, "data", expansion=8)  # as Python strings, a cell takes several times its text
    table = _table(path)
    if table is not None:
        header, matrix = table
        cols = _columns(path, header)
        _warn_unused(path, "column", [n for n in cols if n not in {s.name for s in model.vars}])
        out = _fast_arrays(path, model, names, cols, matrix)
        if out is not None:
            return out
        with warnings.catch_warnings():  # the unused columns were named above already
            warnings.simplefilter("ignore", UserWarning)
            return _read_cells(path, model, names)
    return _read_cells(path, model, names)


def _fast_arrays(path, model: Model, names, cols, matrix: np.ndarray) -> Optional[dict[str, np.ndarray]]:
    """Each var's columns of a table read whole; None when a value is not admitted (then :func:`_read_cells`
    finds it and reports its row and column)."""
    low, out = model.lowered, {}
    for name in (names if names is not None else [s.name for s in model.vars]):
        spec, shape = model.spec(name), tuple(low.shapes[name])
        have = _have(path, cols, spec, shape)
        need = list(np.ndindex(*shape)) if shape else [()]
        idx = [have[k] for k in need]
        arr = (matrix if idx == list(range(matrix.shape[1])) else matrix[:, idx]).reshape((len(matrix),) + shape)
        if values.first_bad(arr, spec.domain.kind, low.domain_args[name]) is not None:
            return None
        out[name] = np.ascontiguousarray(arr)
    return out


def _read_cells(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """:func:`read_csv` cell by cell: each error names its file, row (a line of the file) and column."""
    rows = _records(path, _text(path, read_bytes(path, "data", expansion=8)))
    if not rows:
        raise EbmDataError(f"{path}: the file is empty", hint="the first row names the columns, e.g. x[0],x[1]")
    header = [h.strip() for h in rows[0][1]]
    if len(rows) == 1:
        raise EbmDataError(f"{path}: the file has a header but no data rows")
    cols = _columns(path, header)
    _warn_unused(path, "column", [n for n in cols if n not in {s.name for s in model.vars}])
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise EbmDataError(f"{path}: row {line}: {len(row)} values, but the header has {len(header)} columns")
    low = model.lowered
    out = {}
    for name in (names if names is not None else [s.name for s in model.vars]):
        spec, shape = model.spec(name), tuple(low.shapes[name])
        have = _have(path, cols, spec, shape)
        need = list(np.ndindex(*shape)) if shape else [()]
        arr = np.empty((len(rows) - 1,) + shape, dtype=np.float64)
        for i, (line, row) in enumerate(rows[1:]):
            for k in need:
                arr[(i,) + k] = _number(path, line, have[k], header, row[have[k]])
        bad = values.first_bad(arr, spec.domain.kind, low.domain_args[name])
        if bad is not None:
            r, *k = bad.index
            j = have[tuple(k)]
            raise EbmDataError(f"{path}: row {rows[1 + r][0]}, column {j + 1} ('{header[j]}'): "
                               f"{values.describe(bad, spec.domain, name)}", hint=values.hint(bad))
        out[name] = arr
    return out


_BOM = b"\xef\xbb\xbf"


def _table(path) -> Optional[tuple[list[str], np.ndarray]]:
    """``(header, rows x columns float64 matrix)`` when pandas' C tokenizer reads the file whole; else None.

    Taken only where it reads exactly what :func:`_read_cells` would: a quote is a character like any other
    (``QUOTE_NONE``), so a quoted cell is no number and sends the file to the careful reader, as does a row
    longer than the first; a shorter one would leave a nan, and every nan does the same (pandas reads no
    ``nan`` word with ``na_filter`` off, no ``1_000`` and no other scripts' digits).
    """
    import pandas as pd  # pandas comes with ArviZ; imported here so that `import ebmppl.io` stays light
    with open(path, "rb") as f:
        header = None
        while header is None:  # the first record with a non-blank cell; quoted names (``"W[1,2]"``) allowed
            line = f.readline()
            if not line.endswith(b"\n"):
                return None
            try:
                text = line.removeprefix(_BOM if f.tell() == len(line) else b"").decode("utf-8")
                cells = next(csv.reader([text.removesuffix("\n").removesuffix("\r")], strict=True), [])
            except (UnicodeDecodeError, csv.Error):
                return None
            header = [c.strip() for c in cells] if any(c.strip() for c in cells) else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pd.read_csv(f, header=None, sep=",", dtype=np.float64, na_filter=False, engine="c",
                                    quoting=csv.QUOTE_NONE, comment=None, skip_blank_lines=True,
                                    encoding="utf-8")  # low_memory=False would take twice as long
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError, pd.errors.ParserError):
            return None  # EmptyDataError is a ValueError
    matrix = frame.to_numpy(dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape != (len(frame), len(header)) or not len(frame) or np.isnan(matrix).any():
        return None
    return header, matrix


def _text(path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # spreadsheets often start a UTF-8 file with a byte-order mark
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise EbmDataError(f"{path}: row {line}: not UTF-8 text (byte {e.start})") from None


def _records(path, text: str) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of every record that is not blank; a malformed one is an error naming its line."""
    reader = csv.reader(_io.StringIO(text, newline=None), strict=True)  # \n, \r\n and \r all end a line
    out = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as e:
            why = next((v for k, v in _CSV_ERRORS.items() if k in str(e)), str(e))
            raise EbmDataError(f"{path}: row {line}: {why}", hint="check the quotes and separators of this row") \
                from None
        if any(c.strip() for c in row):
            out.append((line, row))


def _columns(path, header: list[str]) -> dict[str, dict[tuple, int]]:
    """name -> {element index: column number} from the header."""
    cols: dict[str, dict[tuple, int]] = {}
    for j, h in enumerate(header):
        m = _COL.match(h)
        if not m:
            raise EbmDataError(f"{path}: row 1, column {j + 1}: cannot read column name '{_show(h)}'",
                               hint="columns are named like x, x[0] or W[1,2]")
        name, idx = m.group(1), m.group(2)
        key = tuple(int(i) for i in idx.split(",")) if idx else ()
        if key in cols.setdefault(name, {}):
            raise EbmDataError(f"{path}: row 1, column {j + 1}: column '{h}' appears twice")
        cols[name][key] = j
    return cols


def _have(path, cols, spec, shape) -> dict[tuple, int]:
    """The columns of ``spec``'s elements, every one of them present and none beyond its shape."""
    name = spec.name
    if name not in cols:
        raise EbmDataError(f"{path}: row 1 (the header): no column for {spec.role} '{name}' ({spec.type_str()})",
                           hint=f"the header needs {_expected(name, shape)}")
    have = cols[name]
    need = list(np.ndindex(*shape)) if shape else [()]
    missing = [k for k in need if k not in have]
    if missing:
        raise EbmDataError(f"{path}: row 1 (the header): '{name}' has shape {list(shape)} but column "
                           f"'{name}[{','.join(map(str, missing[0]))}]' is missing" if missing[0] else
                           f"{path}: row 1 (the header): no column '{name}'")
    extra = [k for k in have if k not in set(need)]
    if extra:
        raise EbmDataError(f"{path}: row 1, column {have[extra[0]] + 1}: '{name}' has shape {list(shape)}, "
                           f"but there is a column '{name}[{','.join(map(str, extra[0]))}]'")
    return have


def _number(path, line: int, j: int, header, cell: str) -> float:
    """A cell's number: ASCII digits with a '.' for decimals (``1_000``, ``1,000`` or other scripts' digits
    are refused, never read as something else); nan and inf are read, and refused later with their place."""
    text = cell.strip()
    if _NUMBER.fullmatch(text) or _NONFINITE.fullmatch(text):
        return float(text)
    hint = "write numbers without thousands separators, with a '.' for decimals" if "," in text else None
    raise EbmDataError(f"{path}: row {line}, column {j + 1} ('{header[j]}'): '{_show(text)}' is not a number",
                       hint=hint)


def _show(text: str) -> str:
    """Text for a message: control characters (a stray NUL, a tab) escaped, long cells cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= 40 else out[:37] + "..."


def _expected(name, shape) -> str:
    if not shape:
        return f"a column '{name}'"
    first = ",".join("0" for _ in shape)
    return f"columns '{name}[{first}]' ... ({int(np.prod(shape))} in all)"


def _warn_unused(path, what: str, unused: list[str]) -> None:
    """Warn that columns or arrays naming no var of the model are ignored (a typo would look the same)."""
    if unused:
        shown = ", ".join(f"'{_show(u)}'" for u in unused[:5]) + (", ..." if len(unused) > 5 else "")
        plural = len(unused) > 1
        warnings.warn(f"{path}: {what}{'s' if plural else ''} {shown} {'name' if plural else 'names'} no var of "
                      f"the model and {'are' if plural else 'is'} ignored", UserWarning, stacklevel=4)


# ---------------------------------------------------------------- NPZ and dicts
@dataclass(frozen=True)
class _Where:
    """How messages name an array of rows: ``d.npz: array 'x' ... at row 3`` or ``data['x'] ... in row 3``."""

    prefix: str
    noun: str
    row: str
    means: bool = False  # a discrete var's values may be expected values (see values.first_bad)

    def of(self, name: str, first: bool = True) -> str:
        return (self.prefix if first else "") + self.noun.format(name)


def read_npz(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read variable arrays (rows first) from an NPZ file (never unpickles); arrays that name no var are
    ignored, with a warning. Arrays stored uncompressed (``numpy.savez``) are memory-mapped, not read."""
    arrays = load_npz(path, "data", mmap=True)
    wanted = names if names is not None else [s.name for s in model.vars]
    for name in wanted:
        if name not in arrays:
            raise EbmDataError(f"{path}: no array '{name}'", hint=f"arrays present: {', '.join(arrays) or 'none'}")
    _warn_unused(path, "array", [k for k in arrays if k not in {s.name for s in model.vars}])
    admitted = _admit(model, {k: arrays[k] for k in wanted}, _Where(f"{path}: ", "array '{}'", "at row"))
    return {k: np.asarray(v, dtype=np.float64) for k, v in admitted.items()}


def read_npy(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read the rows of a model's one var (or of the one var in ``names``) from an ``.npy`` file,
    memory-mapped; a model of several vars needs an NPZ, one array a var."""
    wanted = names if names is not None else [s.name for s in model.vars]
    if len(wanted) != 1:
        raise EbmDataError(f"{path}: an .npy file holds one array, but the model has {len(wanted)} vars "
                           f"({', '.join(wanted)})", hint="save one array a var with numpy.savez(path, x=..., y=...)")
    a = load_npy(path, "data")
    admitted = _admit(model, {wanted[0]: a}, _Where(f"{path}: ", "the array ('{}')", "at row"))
    return {k: np.asarray(v, dtype=np.float64) for k, v in admitted.items()}


def read_data(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read a CSV, NPZ or NPY data file by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return read_npz(path, model, names)
    if suffix == ".npy":
        return read_npy(path, model, names)
    return read_csv(path, model, names)


def prepare_data(model: Model, data, what="data") -> dict[str, np.ndarray]:
    """A dict name -> (rows, *shape) array for every var, from a dict, a CSV or an NPZ path.

    Args:
        model: the bound model whose vars the data fill.
        data: a dict var name -> array (rows first), or a CSV / NPZ path (:func:`read_data`).
        what: how messages name the data (``data``, ``val_data``).

    Returns:
        dict name -> array; an :class:`~ebmppl.errors.EbmDataError` names a missing var, a wrong row
        shape, unequal row counts, a value that is not finite in the compute type or outside its domain (in a
        dict, a discrete var's values may be expected values, between its smallest and largest state: a deep
        belief net's upper layers train on probabilities).
    """
    if isinstance(data, (str, Path)):
        return read_data(data, model)
    if not isinstance(data, dict):
        raise EbmDataError(f"{what} must be a dict of arrays or a CSV/NPZ file path, not {type(data).__name__}")
    for s in model.vars:
        if s.name not in data:
            raise EbmDataError(f"{what} has no values for var '{s.name}'")
    return _admit(model, {s.name: data[s.name] for s in model.vars}, _Where("", what + "['{}']", "in row", True))


def _admit(model: Model, given: dict, where: _Where) -> dict[str, np.ndarray]:
    """Each var's rows as an array: numbers, rows of the declared shape, as many rows for every var, finite
    in the compute type and inside the var's domain."""
    low = model.lowered
    out, first = {}, None
    for name, raw in given.items():
        try:
            a = np.asarray(raw)
        except (ValueError, TypeError):
            raise EbmDataError(f"{where.of(name)} is not a (rectangular) array of numbers") from None
        if not values.numeric(a):
            raise EbmDataError(f"{where.of(name)} holds {a.dtype}, not numbers")
        want = tuple(low.shapes[name])
        if a.ndim == 0:
            raise EbmDataError(f"{where.of(name)} is a single value, not rows",
                               hint=f"give one row per example: an array of shape [rows] + {list(want)}")
        if tuple(a.shape[1:]) != want:
            raise EbmDataError(f"{where.of(name)} has rows of shape {list(a.shape[1:])}, declared {list(want)}")
        if a.shape[0] == 0:
            raise EbmDataError(f"{where.of(name)} has no rows")
        if first is not None and a.shape[0] != out[first].shape[0]:
            raise EbmDataError(f"{where.of(first)} has {out[first].shape[0]} rows but {where.of(name, False)} has "
                               f"{a.shape[0]}", hint="every var needs one row per example, in the same order")
        _check_values(name, a, model, where)
        out[name], first = a, first or name
    return out


def _check_values(name: str, a: np.ndarray, model: Model, where: _Where) -> None:
    spec = model.spec(name)
    bad = values.first_bad(a, spec.domain.kind, model.lowered.domain_args[name], means=where.means)
    if bad is None:
        return
    r, *k = bad.index
    at = f"{where.row} {r}" + (f", element {list(k)}" if k else "")
    if bad.why == "nonfinite":
        raise EbmDataError(f"{where.of(name)} is not finite {at}")
    raise EbmDataError(f"{where.of(name)} {at}: {values.describe(bad, spec.domain, name)}", hint=values.hint(bad))
