"""Files in and out. Data: CSV with columns named after variables (``x[0]``,
``x[1]``, ...), NPZ by variable name; errors name the file, row and column.
Nothing is ever unpickled."""

from __future__ import annotations

import csv
import glob
import io as _io
import re
from pathlib import Path

import numpy as np

from .errors import EbmDataError
from .model import domains
from .model.spec import Model

_COL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+(?:\s*,\s*\d+)*)\])?$")


def read_csv(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read rows of variable values from a CSV whose header names the columns.

    Args:
        path: the CSV file (UTF-8, header row).
        model: the model whose vars the columns fill (shapes from its bound specs).
        names: which vars to read (default: every var of the model).

    Returns:
        dict name -> array of shape (rows, *var shape).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise EbmDataError(f"data file '{path}' not found") from None
    try:
        text = raw.decode("utf-8-sig")  # spreadsheets often start a UTF-8 file with a byte-order mark
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise EbmDataError(f"{path}: row {line}: not UTF-8 text (byte {e.start})") from None
    rows = list(csv.reader(_io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise EbmDataError(f"{path}: the file is empty", hint="the first row names the columns, e.g. x[0],x[1]")
    header = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise EbmDataError(f"{path}: the file has a header but no data rows")
    low = model.lowered
    wanted = names if names is not None else [s.name for s in model.vars]
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
    out = {}
    for name in wanted:
        spec = model.spec(name)
        shape = low.shapes[name]
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
        arr = np.empty((len(rows) - 1,) + tuple(shape), dtype=np.float64)
        for i, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise EbmDataError(f"{path}: row {i}: {len(row)} values, but the header has {len(header)} columns")
            for k in need:
                j = have[k]
                cell = row[j].strip()
                try:
                    v = float(cell)
                except ValueError:
                    raise EbmDataError(f"{path}: row {i}, column {j + 1} ('{header[j]}'): '{_show(cell)}' is not a "
                                       f"number") from None
                if not np.isfinite(v):
                    raise EbmDataError(f"{path}: row {i}, column {j + 1} ('{header[j]}'): value is {cell}")
                arr[(i - 2,) + k] = v
        _check_domain(arr, spec, path, header, have, low)
        out[name] = arr
    return out


def _show(text: str) -> str:
    """Text for a message: control characters (a stray NUL, a tab) escaped, long cells cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= 40 else out[:37] + "..."


def _expected(name, shape) -> str:
    if not shape:
        return f"a column '{name}'"
    first = ",".join("0" for _ in shape)
    return f"columns '{name}[{first}]' ... ({int(np.prod(shape))} in all)"


def _check_domain(arr, spec, path, header, have, low):
    """An error naming the first value outside the var's domain (the domain table's support test).

    Vector kinds (ordered, simplex) are left unchecked, as they always were: a simplex's rows written
    with a few digits would miss the table's tolerance on their sum."""
    row = spec.domain.row
    if row.vector:
        return
    bad = domains.first_outside(spec.domain.kind, low.domain_args[spec.name], arr)
    if bad is not None:
        r, *k = bad
        j = have[tuple(k)]
        raise EbmDataError(f"{path}: row {r + 2}, column {j + 1} ('{header[j]}'): {arr[bad]:g} is "
                           f"outside the domain {spec.domain} of '{spec.name}'")


def load_npz(path, what: str) -> dict[str, np.ndarray]:
    """Every array of an NPZ file, never unpickling; errors name the file and the array."""
    import zipfile
    if not Path(path).exists():
        raise EbmDataError(f"{what} file '{path}' not found")
    if not zipfile.is_zipfile(path):
        raise EbmDataError(f"{path}: not an NPZ file (an NPZ is a zip archive of .npy arrays)",
                           hint="write it with numpy.savez")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as f:
            for k in f.files:
                try:
                    out[k] = f[k]
                except ValueError as e:
                    why = ("it holds Python objects, and ebmppl never unpickles" if "pickle" in str(e).lower()
                           else f"it is not a valid .npy array ({e})")
                    raise EbmDataError(f"{path}: cannot read array '{k}': {why}",
                                       hint="save plain numeric arrays") from None
    except EbmDataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise EbmDataError(f"{path}: cannot read NPZ ({e})") from None
    return out


def read_npz(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read variable arrays from an NPZ file (never unpickles)."""
    data = load_npz(path, "data")
    low = model.lowered
    out = {}
    for name in (names if names is not None else [s.name for s in model.vars]):
        if name not in data:
            raise EbmDataError(f"{path}: no array '{name}'", hint=f"arrays present: {', '.join(data) or 'none'}")
        raw = data[name]
        if raw.dtype.kind not in "biuf":
            raise EbmDataError(f"{path}: array '{name}' holds {raw.dtype}, not numbers")
        a = np.asarray(raw, dtype=np.float64)
        if tuple(a.shape[1:]) != tuple(low.shapes[name]):
            raise EbmDataError(f"{path}: array '{name}' has rows of shape {list(a.shape[1:])}, declared "
                               f"{list(low.shapes[name])}")
        if a.shape[0] == 0:
            raise EbmDataError(f"{path}: array '{name}' has no rows")
        if not np.all(np.isfinite(a)):
            bad = [int(i) for i in np.argwhere(~np.isfinite(a))[0]]
            raise EbmDataError(f"{path}: array '{name}' is not finite at row {bad[0]}"
                               + (f", element {bad[1:]}" if len(bad) > 1 else ""))
        spec = model.spec(name)
        names = [f"{name}[{','.join(map(str, k))}]" if k else name for k in np.ndindex(*low.shapes[name])] \
            if low.shapes[name] else [name]
        _check_domain(a, spec, path, names, {k: j for j, k in enumerate(np.ndindex(*low.shapes[name]))}
                      if low.shapes[name] else {(): 0}, low)
        out[name] = a
    return out


def read_data(path, model: Model, names=None) -> dict[str, np.ndarray]:
    """Read a CSV or NPZ data file by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return read_npz(path, model, names)
    return read_csv(path, model, names)


def prepare_data(model: Model, data, what="data") -> dict[str, np.ndarray]:
    """A dict name -> (rows, *shape) array for every var, from a dict, a CSV or an NPZ path.

    Args:
        model: the bound model whose vars the data fill.
        data: a dict var name -> array (rows first), or a CSV / NPZ path (:func:`read_data`).
        what: how messages name the data (``data``, ``val_data``).

    Returns:
        dict name -> array; an :class:`~ebmppl.errors.EbmDataError` names a missing var, a wrong row
        shape, unequal row counts or a value that is not finite.
    """
    if isinstance(data, (str, Path)):
        return read_data(data, model)
    if not isinstance(data, dict):
        raise EbmDataError(f"{what} must be a dict of arrays or a CSV/NPZ file path")
    low = model.lowered
    out, n = {}, None
    for s in model.vars:
        if s.name not in data:
            raise EbmDataError(f"{what} has no values for var '{s.name}'")
        a = np.asarray(data[s.name])
        want = low.shapes[s.name]
        if tuple(a.shape[1:]) != tuple(want):
            raise EbmDataError(f"{what}['{s.name}'] has rows of shape {list(a.shape[1:])}, declared {list(want)}")
        if n is not None and a.shape[0] != n:
            raise EbmDataError(f"{what}: vars have different numbers of rows ({n} and {a.shape[0]})")
        if not np.all(np.isfinite(a)):
            r = int(np.argwhere(~np.isfinite(a))[0][0])
            raise EbmDataError(f"{what}['{s.name}'] is not finite in row {r}")
        n = a.shape[0]
        out[s.name] = a
    return out


# ------------------------------------------------------------------- params
def _flatten(params: dict, prefix="", convert=True) -> dict:
    out = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/", convert))
        else:
            out[key] = np.asarray(v) if convert else v
    return out


def _unflatten(flat: dict) -> dict:
    out: dict = {}
    for k, v in flat.items():
        parts = k.split("/")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def atomic_write(path, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``; no partial file is ever left."""
    import os
    import tempfile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the result gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    return path


def _umask() -> int:
    import os
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def save_params(path, model: Model, params: dict, extra: dict | None = None) -> Path:
    """Write params as NPZ (nested dicts flattened with '/') and a JSON sidecar with the model fingerprint."""
    import json
    path = Path(path)
    flat = _flatten(params)

    def write_npz(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **flat)
    atomic_write(path, write_npz)
    meta = {"fingerprint": model.fingerprint, "model": model.name,
            "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in flat.items()}, **(extra or {})}
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return path


def load_params(path, model: Model) -> dict:
    """Read params written by :func:`save_params`; checks the fingerprint, names and shapes (never unpickles)."""
    import jax
    import json
    path = Path(path)
    flat = load_npz(path, "params")
    side = path.with_suffix(".json")
    if side.exists():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            raise EbmDataError(f"{side}: cannot read ({e})") from None
        if meta.get("fingerprint") not in (None, model.fingerprint):
            raise EbmDataError(f"{path} holds params of another model ('{meta.get('model')}', fingerprint "
                               f"{meta.get('fingerprint')}); this model's fingerprint is {model.fingerprint}",
                               hint="fit this model, or load the model the params were fitted for")
    want = _flatten(jax.eval_shape(lambda: model.init_params(0)), convert=False)
    for k, v in want.items():
        if k not in flat:
            raise EbmDataError(f"{path}: no array '{k}'", hint=f"arrays present: {', '.join(flat) or 'none'}")
        if tuple(flat[k].shape) != tuple(v.shape):
            raise EbmDataError(f"{path}: array '{k}' has shape {list(flat[k].shape)}, the model needs "
                               f"{list(v.shape)}")
        if flat[k].dtype.kind not in "fiu":
            raise EbmDataError(f"{path}: array '{k}' has dtype {flat[k].dtype}, not numbers")
        if not np.all(np.isfinite(flat[k])):
            bad = [int(i) for i in np.argwhere(~np.isfinite(flat[k]))[0]]
            raise EbmDataError(f"{path}: array '{k}' is not finite" + (f" at {bad}" if bad else ""))
    extra = set(flat) - set(want)
    if extra:
        raise EbmDataError(f"{path}: array '{sorted(extra)[0]}' is not a param of this model")
    for s in model.params:  # a value outside its domain would make every density NaN
        if s.name not in flat:  # an mlp's weights are stored as 'name/...'
            continue
        bad = domains.first_outside(s.domain.kind, model.lowered.domain_args[s.name], flat[s.name])
        if bad is not None:
            raise EbmDataError(f"{path}: array '{s.name}' is outside the domain {s.domain} of param '{s.name}'"
                               + (f" at {list(bad)}" if bad else ""))
    return _unflatten({k: np.asarray(v, dtype=np.float64) for k, v in flat.items()})
