"""The static range of an index: the least and greatest value an index expression can take, from what is
known when the model is lowered (comprehension ranges, the states of categorical and binary variables,
int consts and literals, and sums, differences, products and remainders of these), so that an index that
would leave its axis is an error rather than JAX's silent clamp.

    x[i + 1] for i in range(3)   ->  (1, 3)
    x[k]     with k : categorical(5)  ->  (0, 4)
    x[n]     with n an unbound var : int  ->  None (unknown: not checked)
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ...dsl import ast as A
from ...errors import EbmError, EbmShapeError
from ..library import names_in
from .shapes import text_of

if TYPE_CHECKING:
    from .compiler import Compiler

Range = Optional[tuple[int, int]]


def index_range(c: "Compiler", e) -> Range:
    """``(lo, hi)`` such that every value of index ``e`` lies in ``lo..hi``; None when that is not known."""
    rule = _RULES.get(type(e))
    return None if rule is None else rule(c, e)


def check(rng: Range, size: int, axis: int, node, fmt) -> None:
    """Raise at ``node`` when an index ranging over ``rng`` leaves an axis of ``size`` (``-size..size - 1``)."""
    if rng is None:
        return
    lo, hi = rng
    if lo < -size or hi > size - 1:
        what = text_of(node.span) or "the index"
        n = fmt([size])[1:-1]
        span = f"{lo}" if lo == hi else f"from {lo} to {hi}"
        raise EbmShapeError(f"index {what} takes values {span}, out of range for axis {axis} of size {n}",
                            node.span, f"indices are 0-based: from 0 to {size - 1} (or from -{size} to -1, "
                                       f"counted from the end); JAX would clamp the others silently")


def branches(c: "Compiler", cond) -> tuple["Compiler", "Compiler"]:
    """The compilers of the two branches of ``a if cond else b`` (or ``where(cond, a, b)``). JAX computes both
    branches for every element and keeps one, so an index in a branch may leave its axis where the condition
    discards it: ``x[i + 1] if i < n - 1 else 0``. A condition on one comprehension variable (and consts) splits
    that variable's values between the branches; any other name the condition reads has no range in them."""
    names = names_in(cond)
    loop = [n for n in names if n in c.loops]
    known = {n for n in names if n in c.static_env and n not in c.unknown}
    if not names - known - set(loop):
        split = _split(c, cond, loop[0]) if len(loop) == 1 else None
        if split is not None:
            return split
    unsure = c.unsure | (names - known)
    return replace(c, unsure=unsure), replace(c, unsure=unsure)


def _split(c: "Compiler", cond, var: str):
    values = np.asarray(c.loops[var])
    try:
        inner = replace(c, static_env=MappingProxyType({**c.static_env, var: values}))
        mask = np.broadcast_to(np.asarray(inner.value(cond), dtype=bool), values.shape)
    except (EbmError, ValueError):
        return None
    return c.within(var, values[mask]), c.within(var, values[~mask])


# --------------------------------------------------------------------- rules
def _num(c, e: A.Num) -> Range:
    return (int(e.value), int(e.value)) if e.is_int else None


def _name(c, e: A.Name) -> Range:
    if e.id in c.unsure:
        return None
    if e.id in c.loops:
        return _of_values(c.loops[e.id])
    s = c.specs.get(e.id)
    if s is None:
        return None
    if s.role == "const" and e.id in c.static_env and e.id not in c.unknown:
        return _of_values(c.static_env[e.id])
    row = s.domain.row
    if row.finite and e.id in c.domain_args:
        states = np.asarray(row.states(tuple(c.domain_args[e.id])))
        return _of_values(states)
    return None


def _of_values(v) -> Range:
    a = np.asarray(v)
    if isinstance(v, str) or a.size == 0 or not (np.issubdtype(a.dtype, np.integer) or np.all(a == np.round(a))):
        return None
    return int(a.min()), int(a.max())


def _unop(c, e: A.UnOp) -> Range:
    r = index_range(c, e.operand)
    if r is None or e.op not in "+-":
        return None
    return r if e.op == "+" else (-r[1], -r[0])


def _binop(c, e: A.BinOp) -> Range:
    if e.op == "%":
        m = index_range(c, e.right)
        if m is None or m[0] != m[1] or m[0] == 0:
            return None
        return (0, m[0] - 1) if m[0] > 0 else (m[0] + 1, 0)
    a, b = index_range(c, e.left), index_range(c, e.right)
    if a is None or b is None:
        return None
    op = _ARITH.get(e.op)
    if op is None:
        return None
    corners = [op(x, y) for x in a for y in b]
    return min(corners), max(corners)


_ARITH: dict[str, Callable[[int, int], int]] = {"+": lambda x, y: x + y, "-": lambda x, y: x - y,
                                                "*": lambda x, y: x * y}


def _ifelse(c, e: A.IfElse) -> Range:
    a, b = index_range(c, e.then), index_range(c, e.orelse)
    return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))


def _index(c, e: A.Index) -> Range:
    """An element of an int const array (``g[i]``): somewhere between its least and greatest value."""
    if isinstance(e.value, A.Name):
        s = c.specs.get(e.value.id)
        if s is not None and s.role == "const":
            return _name(c, e.value)
    return None


def _call(c, e: A.Call) -> Range:
    """``clip(i, lo, hi)``, ``minimum(a, b)``, ``maximum(a, b)``: bounded by their arguments."""
    ranges = [index_range(c, a) for a in e.args]
    if e.kwargs or len(ranges) != _ARITY.get(e.func):
        return None
    if e.func == "clip":
        a, lo, hi = ranges
        if lo is None or hi is None:
            return None
        a = a or (lo[0], hi[1])
        return min(max(a[0], lo[0]), hi[0]), min(max(a[1], lo[1]), hi[1])
    if None in ranges:
        return None
    pick = min if e.func == "minimum" else max
    return pick(ranges[0][0], ranges[1][0]), pick(ranges[0][1], ranges[1][1])


_ARITY = {"clip": 3, "minimum": 2, "maximum": 2}


_RULES: dict[type, Callable] = {A.Num: _num, A.Name: _name, A.UnOp: _unop, A.BinOp: _binop, A.IfElse: _ifelse,
                                A.Index: _index, A.Call: _call}
