"""Pytrees in files without pickle: a tree of dicts, lists and tuples becomes a JSON structure naming its
arrays, and the arrays go into an NPZ; reading checks the structure, and every array it names, before
building the tree again.

The structure of a leaf is ``{"array": KEY, "shape": [...], "dtype": "float32"}``; of a dict
``{"dict": {name: structure}}``; of a list or tuple ``{"list": [...]}`` / ``{"tuple": [...]}``; of None
``null``. A tree holding anything else (a callable, an object) cannot be written.

    >>> structure, arrays = encode({"w": [np.zeros(2), ()]}, "q")
    >>> structure["dict"]["w"]["list"][0]["array"]
    'q/w/0'
"""

from __future__ import annotations

import numpy as np

from ..errors import EbmDataError, EbmError
from . import values

MAX_DEPTH = 32  # a stored tree nests at most this deep (an mlp's or a flow's weights nest 3 or 4 deep)
_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "bool")


def encode(tree, prefix: str) -> tuple:
    """``(structure, arrays)``: the JSON structure of ``tree`` and its arrays keyed ``prefix/...``."""
    arrays: dict = {}

    def go(node, key, depth):
        if depth > MAX_DEPTH:
            raise EbmError("output", f"'{prefix}' nests deeper than {MAX_DEPTH} levels: it cannot be saved")
        if node is None:
            return None
        if isinstance(node, dict):
            if not all(isinstance(k, str) and k and "/" not in k for k in node):
                raise EbmError("output", f"'{key}' has a key that is not a plain name: it cannot be saved")
            return {"dict": {k: go(v, f"{key}/{k}", depth + 1) for k, v in node.items()}}
        if isinstance(node, (list, tuple)):
            kind = "list" if isinstance(node, list) else "tuple"
            return {kind: [go(v, f"{key}/{i}", depth + 1) for i, v in enumerate(node)]}
        try:
            a = np.asarray(node)
        except (TypeError, ValueError):
            a = None
        if a is None or a.dtype.name not in _DTYPES:
            raise EbmError("output", f"'{key}' is a {type(node).__name__}, not an array of numbers: it cannot be "
                                     "saved")
        arrays[key] = a
        return {"array": key, "shape": list(a.shape), "dtype": a.dtype.name}
    return go(tree, prefix, 0), arrays


def decode(structure, arrays: dict, where: str):
    """The tree ``structure`` describes (see :func:`encode`), built from ``arrays``; every array must exist
    with the shape and dtype the structure gives and be finite. ``where`` names the file in messages."""

    def bad(why):
        return EbmDataError(f"{where}: {why}", hint="keep the files of a saved fit together, as FitResult.save "
                                                    "and `ebmppl fit` wrote them")

    def go(node, depth):
        if depth > MAX_DEPTH:
            raise bad(f"the structure nests deeper than {MAX_DEPTH} levels")
        if node is None:
            return None
        if not isinstance(node, dict) or len(node) not in (1, 3):
            raise bad("the structure is malformed (a node is not one of array, dict, list, tuple)")
        if "dict" in node and len(node) == 1 and isinstance(node["dict"], dict):
            return {str(k): go(v, depth + 1) for k, v in node["dict"].items()}
        for kind, make in (("list", list), ("tuple", tuple)):
            if kind in node and len(node) == 1 and isinstance(node[kind], list):
                return make(go(v, depth + 1) for v in node[kind])
        return _leaf(node, arrays, bad)
    return go(structure, 0)


def _leaf(node: dict, arrays: dict, bad):
    key, shape, dtype = node.get("array"), node.get("shape"), node.get("dtype")
    if not (isinstance(key, str) and isinstance(shape, list) and isinstance(dtype, str)):
        raise bad("the structure is malformed (a node is not one of array, dict, list, tuple)")
    if key not in arrays:
        raise bad(f"no array '{key}'")
    a = arrays[key]
    check_array(a, key, shape, dtype, bad)
    return a


def check_array(a: np.ndarray, key: str, shape, dtype: str, bad, finite: bool = True) -> None:
    """``a`` has the ``shape`` and ``dtype`` recorded for it, is numeric and (with ``finite``) finite;
    ``bad(why)`` makes the error."""
    if not isinstance(shape, list):
        raise bad(f"array '{key}' is recorded without a shape")
    if dtype not in _DTYPES:
        raise bad(f"array '{key}' is recorded with dtype '{str(dtype)[:20]}', not a numeric type")
    if a.dtype.name != dtype:
        raise bad(f"array '{key}' has dtype {a.dtype}, but was saved as {dtype}")
    if list(a.shape) != list(shape):
        raise bad(f"array '{key}' has shape {list(a.shape)}, but was saved with shape {list(shape)[:8]}")
    if not values.numeric(a, bools=True):
        raise bad(f"array '{key}' has dtype {a.dtype}, not numbers")
    if finite and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise bad(f"array '{key}' is not finite")
