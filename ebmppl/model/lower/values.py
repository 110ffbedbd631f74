"""Values known when a model is lowered — consts, param initial values, temperatures, mixture weights and
distribution arguments — checked against their domains by the domain table's one test
(:func:`ebmppl.model.domains.contains`), in the dtype they will have, and reported at their source.

    >>> first_outside("positive", (), [1.0, -2.0])
    Outside(index=(1,), value=-2.0, why='domain', cast=-2.0)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, Optional

import numpy as np

from ...dsl import ast as A
from ...errors import EbmDataError, EbmError
from ...settings import float_dtype
from .. import domains, library as L
from ..library import names_in
from .limits import int_dtype

if TYPE_CHECKING:
    from .compiler import Compiler


class Outside(NamedTuple):
    """The first element of a value that is not admitted, and why: ``finite`` (inf or NaN as given),
    ``overflow`` (finite as given, not in the dtype used) or ``domain`` (outside the domain)."""

    index: tuple
    value: object
    why: str
    cast: object = None  # the element in the dtype used, where that differs


def first_outside(kind: str, args, value, interior: bool = False, domain: bool = True) -> Optional[Outside]:
    """The first element of ``value`` that is not finite, does not fit the dtype used (``float_dtype()``, or the
    integer type for a kind stored as integers) or lies outside ``kind(args)`` (strictly inside with ``interior``:
    a value a bijector must invert; not tested without ``domain``); None when every element is admitted."""
    row = domains.lookup(kind)
    x = np.asarray(value)
    if x.dtype == bool:
        x = x.astype(np.int32)
    exact = x.astype(np.float64)
    bad = _first(~np.isfinite(exact))
    if bad is not None:
        return Outside(bad, _item(x, bad), "finite")
    if row.integer_data:
        info = np.iinfo(int_dtype())
        bad = _first((exact < info.min) | (exact > info.max))
        if bad is not None:
            return Outside(bad, _item(x, bad), "overflow")
        cast = exact
    else:
        with np.errstate(over="ignore", under="ignore"):
            cast = exact.astype(float_dtype())
        bad = _first(~np.isfinite(cast))
        if bad is not None:
            return Outside(bad, _item(x, bad), "overflow")
    where = domains.first_outside(kind, tuple(args), cast, interior) if domain else None
    if where is None:
        return None
    if row.vector:  # the vector that is outside, not one of its elements
        where = where[:-1]
    return Outside(where, _item(x, where), "domain", _item(cast, where))


def _first(mask) -> Optional[tuple]:
    bad = np.argwhere(np.asarray(mask))
    return None if not len(bad) else tuple(int(i) for i in bad[0])


def _item(x, index):
    v = x[index] if index else x
    return v.item() if np.ndim(v) == 0 else np.asarray(v)


def show(v) -> str:
    """A number or a small array as a message writes it: ``3``, ``-0.5``, ``inf``, ``[0.5, 0.5]``."""
    a = np.asarray(v)
    if a.ndim == 0:
        x = a.item()
        return str(x) if isinstance(x, (int, bool)) else f"{x:g}"
    items = [show(e) for e in a[:6]] + (["..."] if len(a) > 6 else [])
    return "[" + ", ".join(items) + "]"


def describe(o: Outside, what: str, kind: str, args=(), interior: bool = False) -> str:
    """The sentence saying why ``o`` is not admitted as ``what`` (``the default of 'b'``)."""
    at = f" at element {list(o.index)}" if o.index else ""
    if o.why == "finite":
        return f"{what} must be a finite number{at}, got {show(o.value)}"
    row = domains.lookup(kind)
    if o.why == "overflow":
        if row.integer_data:
            info = np.iinfo(int_dtype())
            return f"{what}{at} is {float(o.value):.0f}, beyond the {info.dtype.name} range ({info.min} to {info.max})"
        dtype = np.dtype(float_dtype())
        return f"{what}{at} is {show(o.value)}, beyond the largest {dtype.name} ({np.finfo(dtype).max:.3g})"
    domain = str(domains.Domain(kind, tuple(args)))
    need = row.described + (", every entry above 0" if interior and row.interior is not None else "")
    got = f"; element {list(o.index)} is {show(o.value)}" if o.index else f", got {show(o.value)}"
    changed = "" if o.cast is None or show(o.cast) == show(o.value) else f" ({show(o.cast)} in {np.dtype(float_dtype()).name})"
    return f"{what} must be {need} ({domain}){got}{changed}"


def admit(value, kind: str, args=(), *, what: str, span, error: str = "semantic", hint: Optional[str] = None,
          interior: bool = False) -> None:
    """Raise an :class:`EbmError` of kind ``error`` at ``span`` unless every element of ``value`` is admitted."""
    o = first_outside(kind, args, value, interior)
    if o is not None:
        if o.why == "overflow" and hint is None:
            hint = "use a smaller number, or compute in 64 bits (--x64, ebmppl.config(x64=True))"
        hint = hint or f"give a value that is {domains.lookup(kind).described}"
        message = describe(o, what, kind, args, interior)
        raise EbmDataError(message, span, hint) if error == "data" else EbmError(error, message, span, hint)


# ---------------------------------------------------------------- what is known
def known(c: "Compiler", e) -> Optional[np.ndarray]:
    """The value of expression ``e`` when every name it reads is a const with a known value (not a stand-in),
    evaluated strictly (:meth:`Compiler.value`); None when it depends on anything else."""
    if not isinstance(e, A.Expr):  # a number given from Python
        return np.asarray(e)
    for n in names_in(e):
        if n in L.CONSTANTS and n not in c.specs:
            continue
        if n not in c.static_env or n in c.unknown or isinstance(c.static_env[n], str):
            return None
    return np.asarray(c.value(e))


def check_positive(c: "Compiler", e, what: str) -> None:
    """A temperature or a mixture weight known before sampling is a positive, finite number."""
    v = known(c, e)
    if v is not None:
        admit(v, "positive", what=what, span=_span(e),
              hint="a temperature or a mixture weight must be above 0 and finite")


def check_finite(c: "Compiler", e, what: str) -> None:
    """A number known before sampling (a component's log Z) is finite in the dtype used."""
    v = known(c, e)
    if v is not None:
        admit(v, "real", what=what, span=_span(e))


# ----------------------------------------------------- distribution arguments
# Arguments that read comprehension variables are checked for every value of them, up to this many.
MAX_LOOP_CHECKS = 256


def check_dist_args(c: "Compiler", info: L.DistInfo, args: dict, span) -> None:
    """Each argument of ``info`` known before sampling lies in its domain; bounds ``(low, high)`` are ordered.
    An argument that reads comprehension variables (``normal_lpdf(y[i] | 0, s[i])``) is checked for each of their
    values (when there are at most :data:`MAX_LOOP_CHECKS` combinations)."""
    loops = sorted({n for e in args.values() if isinstance(e, A.Expr) for n in names_in(e) if n in c.loops})
    if not loops:
        return _check_dist_args(c, info, args, span)
    if math.prod(len(c.loops[n]) for n in loops) > MAX_LOOP_CHECKS:
        return None
    rest = MappingProxyType({n: v for n, v in c.loops.items() if n not in loops})
    for combo in itertools.product(*(c.loops[n] for n in loops)):
        at = dict(zip(loops, (int(v) for v in combo)))
        inner = replace(c, static_env=MappingProxyType({**c.static_env, **at}), loops=rest)
        try:
            _check_dist_args(inner, info, args, span)
        except EbmError as ex:
            where = ", ".join(f"{n} = {v}" for n, v in at.items())
            raise EbmError(ex.kind, f"{ex.message} (where {where})", ex.span, ex.hint) from None
    return None


def _check_dist_args(c: "Compiler", info: L.DistInfo, args: dict, span) -> None:
    vals = {}
    for pname, word in zip(info.params, info.param_domains):
        e = args.get(pname)
        v = None if e is None else known(c, e)
        if v is None:
            continue
        vals[pname] = v
        _check_arg(v, domains.argument(word), f"the {pname} of {info.name}", _span(e) or span)
    sup = domains.support(info.support)
    if domains.lookup(sup.kind).bounds and len(info.params) >= 2 and all(p in vals for p in info.params[:2]):
        lo, hi = info.params[:2]
        check_bounds(vals[lo], vals[hi], f"the bounds of {info.name}", span, (lo, hi))


def _check_arg(v: np.ndarray, need: domains.Argument, what: str, span) -> None:
    """One argument's value: finite in the dtype used, each element one the argument admits (the table's
    test of a literal), and the structure of the whole (a simplex, a covariance matrix)."""
    admit(v, "real", what=what, span=span)
    x = np.asarray(v, dtype=np.float64)
    if need.extent is not None and x.size:
        ok = np.vectorize(lambda t: bool(need.admits_literal(float(t))), otypes=[bool])(x)
        bad = _first(~ok)
        if bad is not None:
            at = f"; element {list(bad)} is {show(_item(x, bad))}" if bad else f", got {show(x)}"
            raise EbmError("semantic", f"{what} must be {need.need}{at}", span, need.literal_hint)
    if not need.holds(x.astype(float_dtype())):
        raise EbmError("semantic", f"{what} must be {need.need}, got {show(x) if x.ndim == 1 else _matrix(x)}", span,
                       need.compute_hint or need.build_hint or None)


def _matrix(x) -> str:
    if x.ndim == 2 and x.size <= 16:
        return "[" + ", ".join(show(r) for r in x) + "]"
    return f"an array of shape {list(x.shape)}"


def check_bounds(lo, hi, what: str, span, names=("lo", "hi")) -> None:
    """Lower and upper bounds known before sampling are finite and ordered (``lo < hi`` in every element)."""
    admit(lo, "real", what=f"{what} ({names[0]})", span=span)
    admit(hi, "real", what=f"{what} ({names[1]})", span=span)
    lo_, hi_ = np.broadcast_arrays(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    bad = _first(~(lo_ < hi_))
    if bad is not None:
        at = f" at element {list(bad)}" if bad else ""
        raise EbmError("semantic", f"{what} are empty{at}: {names[0]} {show(_item(lo_, bad))} is not below "
                                   f"{names[1]} {show(_item(hi_, bad))}", span,
                       "the lower bound must be below the upper")


def _span(e):
    return e.span if isinstance(e, A.Node) else None

