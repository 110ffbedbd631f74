"""Binding consts from a dict or a JSON file (posteriordb's data format)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..dsl import ast as A
from ..errors import EbmDataError
from . import domains
from .spec import Model, Spec


def load_json(path) -> dict:
    """Read a JSON object of consts; errors name the file and position."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EbmDataError(f"data file '{path}' not found") from None
    except UnicodeDecodeError as e:
        raise EbmDataError(f"data file '{path}' is not UTF-8 text (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise EbmDataError(f"data file '{path}' is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") \
            from None
    if not isinstance(data, dict):
        raise EbmDataError(f"data file '{path}' must hold a JSON object {{\"name\": value, ...}}")
    return data


def bind(model: Model, data=None, **values) -> Model:
    """A copy of ``model`` with its consts bound.

    Args:
        data: a dict, or the path of a JSON file, mapping const names to values.
            Keys that name no const are ignored (posteriordb files hold extra keys).
        **values: more consts, overriding ``data``.

    Raises:
        EbmDataError: a missing const, a wrong shape, a value outside its domain.
    """
    where = "data"
    if isinstance(data, (str, Path)):
        where = f"'{data}'"
        data = load_json(data)
    merged = {**dict(model.const_values), **(dict(data) if data else {}), **values}
    bound: dict = {}
    ints: dict = {}
    consts = model.consts
    for s in consts:  # scalar ints first: they size the others
        if _sizes(s) and s.name in merged:
            bound[s.name] = _convert(s, merged[s.name], where, ())
            ints[s.name] = int(bound[s.name])
    for s in consts:
        if s.name in bound:
            continue
        if s.name not in merged:
            if s.init is not None:
                continue
            raise EbmDataError(f"const '{s.name}' has no value in {where}", s.span,
                               f"add \"{s.name}\": ... to the data")
        shape = tuple(_size(d, ints, s, where) for d in s.shape)
        bound[s.name] = _convert(s, merged[s.name], where, shape)
    return replace(model, const_values=MappingProxyType(bound))


def _sizes(s: Spec) -> bool:
    """A const that may size others: a scalar unbounded int (``const N : int``)."""
    row = s.domain.row
    return row.integer and not row.finite and not s.shape


def _size(d, ints, s: Spec, where):
    if isinstance(d, int):
        return d
    if isinstance(d, A.Name):
        if d.id not in ints:
            raise EbmDataError(f"const '{d.id}' (a size of '{s.name}') has no value in {where}", d.span,
                               f"add \"{d.id}\": ... to the data")
        n = ints[d.id]
        if not 0 <= n <= 2**31 - 1:
            raise EbmDataError(f"const '{d.id}' in {where} is {n}, but it is a size of '{s.name}'", d.span,
                               "a size must be a whole number from 0 to 2^31 - 1")
        return n
    return None  # an expression: checked when the model is lowered


def _convert(s: Spec, value, where, shape):
    try:
        arr = np.asarray(value)
    except Exception:
        raise EbmDataError(f"const '{s.name}' in {where} is not an array of numbers", s.span) from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise EbmDataError(f"const '{s.name}' in {where} is not a (rectangular) array of numbers", s.span)
    if shape is not None and all(d is not None for d in shape) and tuple(arr.shape) != tuple(shape):
        raise EbmDataError(f"const '{s.name}' in {where} has shape {list(arr.shape)}, declared "
                           f"{s.type_str()} = {list(shape)}", s.span,
                           f"give '{s.name}' {int(np.prod(shape))} value(s) in shape {list(shape)}, "
                           f"or fix the sizes it is declared with")
    row = s.domain.row
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
        raise EbmDataError(f"const '{s.name}' in {where} is not finite at {list(bad)}", s.span)
    if row.integer_data:
        if not np.all(arr == np.round(arr)):
            raise EbmDataError(f"const '{s.name}' in {where} must hold integers", s.span)
        if np.any(np.abs(arr) >= 2.0**62):
            raise EbmDataError(f"const '{s.name}' in {where} holds an integer too large to store", s.span)
        arr = arr.astype(np.int32 if row.finite else np.int64)
    else:
        arr = arr.astype(np.float64)
    # Only supports that need no arguments and hold element by element are tested here: the arguments
    # of interval(lo, hi) and categorical(K) may be consts bound in this same call, and data of the
    # vector kinds (ordered, simplex) is taken as given.
    if not row.arity and not row.vector:
        bad = domains.first_outside(s.domain.kind, (), arr)
        if bad is not None:
            raise EbmDataError(f"const '{s.name}' in {where} must be {s.domain.kind}; element {list(bad)} is "
                               f"{arr[bad] if bad else arr}", s.span)
    return arr
