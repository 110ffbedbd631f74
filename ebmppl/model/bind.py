"""Binding consts from a dict or a JSON file (posteriordb's data format): each value must be a (rectangular)
array of numbers — no booleans, strings, nulls or objects — that fits the dtype it will have and the const's
domain."""

from __future__ import annotations

import json
import numbers
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..dsl import ast as A
from ..errors import EbmDataError
from ..userfiles import JsonWords, read_object
from .lower import limits, static, values
from .spec import Model, Spec

MAX_DEPTH = 32  # lists nested deeper than this are no array ebmppl takes
_LARGEST_INT = 2**62  # integers beyond this cannot be stored exactly, nor as float64 sums


CONSTS_WORDS = JsonWords(  # how a consts file's errors have always been worded
    not_utf8="data file '{path}' is not UTF-8 text (byte {byte})",
    not_json="data file '{path}' is not valid JSON: {msg} at line {line}, column {column}",
    too_deep="data file '{path}' nests lists or objects too deeply to read",
    too_deep_hint=f"a const's value is an array of at most {MAX_DEPTH} dimensions",
    bad_number="data file '{path}' holds a number that cannot be read: {error}",
    not_object='data file \'{path}\' must hold a JSON object {{"name": value, ...}}')


def load_json(path) -> dict:
    """Read a JSON object of consts (:func:`ebmppl.userfiles.read_object`); errors name the file and position."""
    return read_object(path, "data", CONSTS_WORDS)


def bind(model: Model, data=None, **values_) -> Model:
    """A copy of ``model`` with its consts bound.

    Args:
        data: a dict, or the path of a JSON file, mapping const names to values.
            Keys that name no const are ignored (posteriordb files hold extra keys).
        **values_: more consts, overriding ``data``.

    Raises:
        EbmDataError: a missing const, a value that is not an array of numbers, a wrong shape, a value that
            does not fit its dtype or lies outside its domain.
    """
    where = "data"
    if isinstance(data, (str, Path)):
        where = f"'{data}'"
        data = load_json(data)
    merged = {**dict(model.const_values), **(dict(data) if data else {}), **values_}
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
    _check_sizes(model, ints, where)
    out = replace(model, const_values=MappingProxyType(bound))
    static.bind_consts(out, where=where)  # the domains whose arguments are consts: interval(lo, hi), categorical(K)
    return out


def _sizes(s: Spec) -> bool:
    """A const that may size others: a scalar unbounded int (``const N : int``)."""
    row = s.domain.row
    return row.integer and not row.finite and not s.shape


def _check_sizes(model: Model, ints: dict, where) -> None:
    """Every declaration whose sizes are now known fits what the lowering allocates for one array
    (:func:`~ebmppl.model.lower.limits.check_array`); else an ``error[limit]`` naming the sizes bound."""
    for s in model.specs:
        named = [d.id for d in s.shape if isinstance(d, A.Name)]
        if not named or not all(isinstance(d, int) or (isinstance(d, A.Name) and d.id in ints) for d in s.shape):
            continue
        shape = tuple(d if isinstance(d, int) else ints[d.id] for d in s.shape)
        given = ", ".join(f"{n} = {ints[n]}" for n in dict.fromkeys(named))
        limits.check_array(shape, np.int32 if s.domain.row.integer_data else np.float32,
                           f"{s.role} '{s.name}' ({s.type_str()} = {list(shape)}, with {given} in {where})", s.span,
                           hint=f"bind smaller sizes ({', '.join(dict.fromkeys(named))}) in {where}")


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
    arr = _numbers(value, f"const '{s.name}' in {where}", s.span)
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
        if np.any(np.abs(arr) >= _LARGEST_INT):
            raise EbmDataError(f"const '{s.name}' in {where} holds an integer too large to store", s.span)
    arr = arr.astype(np.float64) if not row.integer_data else arr
    # Domains whose arguments are consts (interval(lo, hi), categorical(K)) are tested once every const is
    # bound (static.bind_consts); here only whether each element fits the dtype it will have.
    o = values.first_outside(s.domain.kind, (), arr, domain=not row.arity)
    if o is not None and o.why != "domain":
        raise EbmDataError(values.describe(o, f"const '{s.name}' in {where}", s.domain.kind), s.span,
                           "use smaller numbers, or compute in 64 bits (--x64, ebmppl.config(x64=True))")
    if o is not None:
        shown = f"{o.value}" + (f" ({values.show(o.cast)} in float32)" if values.show(o.cast) != values.show(o.value)
                                else "")
        raise EbmDataError(f"const '{s.name}' in {where} must be {s.domain.kind}; element {list(o.index)} is "
                           f"{shown}", s.span, f"give '{s.name}' values that are {row.described}")
    return arr.astype(np.int32 if row.finite else np.int64) if row.integer_data else arr


# ------------------------------------------------------------ the numbers
def _numbers(value, what: str, span) -> np.ndarray:
    """``value`` (a number, nested lists of numbers or an array) as a float64 or int64 array; anything else —
    a boolean, a string, a null, an object, a ragged or too deeply nested list — is an error naming the element."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.dtype.kind not in "biuf":
            raise EbmDataError(f"{what} is an array of {value.dtype}, not of numbers", span)
        return value.astype(np.int64 if value.dtype.kind in "bi" and not _huge(value) else np.float64)
    if not isinstance(value, (list, tuple, np.ndarray, numbers.Number, bool, str, dict, type(None))):
        try:
            value = np.asarray(value)  # a JAX array, or anything else with __array__
        except Exception:
            raise EbmDataError(f"{what} is a value of type {type(value).__name__}, not an array of numbers", span) from None
        if value.dtype != object:
            return _numbers(value, what, span)
    level, shape = [((), value.tolist() if isinstance(value, np.ndarray) else value)], []
    while any(isinstance(v, (list, tuple)) for _, v in level):
        _rectangular(level, what, span)
        if len(shape) == MAX_DEPTH:
            raise EbmDataError(f"{what} nests lists more than {MAX_DEPTH} deep", span,
                               f"a const's value is an array of at most {MAX_DEPTH} dimensions")
        shape.append(len(level[0][1]))
        level = [(i + (k,), x) for i, v in level for k, x in enumerate(v)]
        if not level:
            break
    for index, v in level:
        _number(v, what, index, span)
    flat = [v for _, v in level]
    ints = all(isinstance(v, numbers.Integral) for v in flat)
    return np.array(flat, dtype=np.int64 if ints and not any(abs(v) >= _LARGEST_INT for v in flat)
                    else np.float64).reshape(shape)


def _huge(a: np.ndarray) -> bool:
    return a.dtype.kind == "u" and a.size and int(a.max()) >= _LARGEST_INT


def _rectangular(level, what, span) -> None:
    """Every item of this nesting level is a list, all of one length; else the message names two that differ."""
    first_index, first = level[0]
    for index, v in level:
        if not isinstance(v, (list, tuple)) or not isinstance(first, (list, tuple)) or len(v) != len(first):
            a = f"{len(first)} items" if isinstance(first, (list, tuple)) else "a number"
            b = f"{len(v)} items" if isinstance(v, (list, tuple)) else "a number"
            raise EbmDataError(f"{what} is a ragged list: element {list(first_index)} has {a}, element "
                               f"{list(index)} has {b}", span, "give a rectangular array: every row the same length")


_NOT_NUMBERS = ((bool, "true/false"), (str, "a string"), (dict, "an object"), (type(None), "null"))


def _number(v, what, index, span) -> None:
    at = f" at element {list(index)}" if index else ""
    for t, name in _NOT_NUMBERS:
        if isinstance(v, t) or (t is bool and isinstance(v, np.bool_)):
            shown = f" ({json.dumps(v)[:40]})" if t in (bool, str) else ""
            hint = "write 1 or 0" if t is bool else "give a number"
            raise EbmDataError(f"{what} holds {name}{shown}{at}, not a number", span, hint)
    if not isinstance(v, numbers.Real):
        raise EbmDataError(f"{what} holds a value of type {type(v).__name__}{at}, not a number", span)
    if isinstance(v, numbers.Integral) and abs(int(v)) >= 2**1000:
        raise EbmDataError(f"{what} holds an integer too large to store{at}", span)
