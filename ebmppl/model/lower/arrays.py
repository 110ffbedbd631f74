"""Compiling comprehensions ``[f(i) for i in range(n)]``, generator calls ``sum(f(i) for i in ...)``,
lists ``[a, b]`` and indexing ``x[i, 1:3, None, ...]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ...dsl import ast as A
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from .. import library as L
from . import indices, limits
from .shapes import shape_of, text_of

if TYPE_CHECKING:
    from .compiler import Compiler


def _range(c: "Compiler", it: A.Call) -> np.ndarray:
    """The values of ``range(...)``, its length checked before they are allocated."""
    args = [c.static(a, "a range bound") for a in it.args]
    shown = f"range({', '.join(map(str, args))})"
    if len(args) == 3 and args[2] == 0:
        raise EbmSemanticError(f"{shown} has step 0", it.span, "the step of a range must not be 0")
    r = range(*args)
    if len(r) == 0:
        raise EbmSemanticError(f"{shown} is empty", it.span,
                               "a comprehension needs at least one step; check the bounds")
    limits.check_array((len(r),), np.int32, shown, it.span, "use a smaller range")
    return np.arange(r.start, r.stop, r.step, dtype=np.int32)


def comprehension(c: "Compiler", e: A.Comprehension):
    """``[body for var in range(...)]``: the body vmapped over the (static) range."""
    idx = _range(c, e.iter)
    var = e.var
    body = c.within(var, idx).compile(e.body)

    def comp(env):
        return jax.vmap(lambda i: jnp.asarray(body({**env, var: i})))(jnp.asarray(idx))
    return comp


def gencall(c: "Compiler", e: A.GenCall):
    """``sum(body for var in range(...))``: the reduction over axis 0 of the comprehension."""
    comp = comprehension(c, e.comp)
    impl = L.FUNCTIONS[e.func].impl
    return lambda env: impl(comp(env), axis=0)


def array(c: "Compiler", e: A.Array):
    """``[a, b, ...]``: the items stacked; they must have one shape."""
    items = [c.compile(i) for i in e.items]
    fmt, span = c.fmt, e.span

    def stack(env):
        vals = [jnp.asarray(f(env)) for f in items]
        shapes = {shape_of(v) for v in vals}
        if len(shapes) > 1:
            raise EbmShapeError("the items of a list have different shapes: "
                                + ", ".join(fmt(shape_of(v)) for v in vals), span,
                                "every item of [a, b, ...] must have the same shape")
        return jnp.stack(vals)
    return stack


def index(c: "Compiler", e: A.Index):
    """``value[subs]``: integer and array indices, static slices, ``None`` and ``...``."""
    fv = c.compile(e.value)
    subs = [_sub(c, s) for s in e.subs]  # callables env -> index component
    # the static range of each computed index (None: unknown or not an index), checked once its axis is known
    ranges = [None if c.unknown or not isinstance(s, A.Expr) else indices.index_range(c, s) for s in e.subs]
    fmt, span = c.fmt, e.span

    def indexed(env):
        v = fv(env)
        parts = tuple(f(env) for f in subs)
        shape = shape_of(v)
        n_axes = sum(1 for p in parts if p is not None and p is not Ellipsis)
        if n_axes > len(shape):
            raise EbmShapeError(f"too many indices: {n_axes} for a value of shape {fmt(shape)}", span,
                                "index one axis per size; a scalar takes no index")
        _check_parts(parts, shape, n_axes, fmt, span, ranges, e.subs)
        return jnp.asarray(v)[parts]
    return indexed


def _check_parts(parts, shape, n_axes, fmt, span, ranges, nodes):
    """Raise at ``span`` for a literal index out of range or a non-integer index, and at a computed index whose
    static range leaves its axis."""
    axis = 0
    for p, rng, node in zip(parts, ranges, nodes):
        if p is Ellipsis:
            axis = len(shape) - (n_axes - axis)
            continue
        if p is None:
            continue
        if isinstance(p, (int, np.integer)) and not -shape[axis] <= int(p) < shape[axis]:
            raise EbmShapeError(f"index {int(p)} is out of range for axis {axis} of size "
                                f"{fmt([shape[axis]])[1:-1]}", span, "indices are 0-based")
        if hasattr(p, "dtype") and not jnp.issubdtype(p.dtype, jnp.integer) and p.dtype != bool:
            raise EbmShapeError("an index must be an integer", span,
                                "use int(...) or an int const; indices are 0-based")
        if not isinstance(p, slice) and getattr(p, "dtype", None) != bool:
            indices.check(rng, shape[axis], axis, node, fmt)
        axis += 1


def _sub(c: "Compiler", s):
    """The closure of one subscript."""
    if isinstance(s, A.NewAxis):
        return lambda env: None
    if isinstance(s, A.EllipsisIndex):
        return lambda env: Ellipsis
    if isinstance(s, A.Slice):
        sl = slice(*[None if p is None else c.static(p, "a slice bound") for p in (s.lo, s.hi, s.step)])
        if sl.step == 0:  # a literal 0 is refused by the parser; this one is a const's value
            raise EbmError("value", f"the slice step {text_of(s.step.span) or 0} is 0", s.span,
                           "use a positive step (x[::2]), or a negative one to go backwards (x[::-1])")
        return lambda env: sl
    if isinstance(s, A.Num):
        if not s.is_int:
            raise EbmShapeError(f"an index must be an integer, not {s.value}", s.span)
        v = int(s.value)
        return lambda env: v
    if isinstance(s, A.UnOp) and s.op == "-" and isinstance(s.operand, A.Num) and s.operand.is_int:
        v = -int(s.operand.value)
        return lambda env: v
    return c.compile(s)
