"""The checker's range rules: the numbers an expression can take (an :class:`~ebmppl.model.extent.Extent`)
and whether it is a simplex, read from the declared domains of the names it reads.

This is what a declaration guarantees where a positive number, a probability or a simplex is needed:
``exp(t)`` is positive whatever ``t`` is; ``s * 2`` is only when ``s`` is declared positive (or unit,
or an interval above 0); ``T - 1`` never is for sure. A let stands for its expression; a loop variable
for the numbers its ``range`` counts; a name nothing is known about (a Python let) for any number.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ..dsl import ast as A
from . import extent as X, library as L
from .check_scope import Scope
from .extent import ANY, BOOLEAN, NONNEGATIVE, POSITIVE, Extent

_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}


def extent_of(scope: Scope, e) -> Extent:
    """The numbers ``e``'s elements can take, given the declared domains of the names it reads."""
    rule = _RULES.get(type(e))
    return ANY if rule is None else rule(scope, e)


def _name(scope: Scope, e: A.Name) -> Extent:
    s = scope.specs.get(e.id)
    if s is not None:
        return s.domain.row.extent(tuple(s.domain.args))
    if e.id in scope.loops:
        return scope.loops[e.id]
    let = scope.lets.get(e.id)
    if let is not None:
        key = ("extent", e.id)
        if key not in scope.cache:  # lets are fixed once declared; the cache keeps chains of lets linear
            scope.cache[key] = ANY if let.expr is None else extent_of(scope, let.expr)
        return scope.cache[key]
    if e.id in _CONSTANTS:
        return X.point(_CONSTANTS[e.id])
    return ANY


def _literal(scope: Scope, e: A.Literal) -> Extent:
    try:
        a = np.asarray(e.value, dtype=float)
    except (TypeError, ValueError):
        return ANY
    if not a.size or np.isnan(a).any():
        return ANY
    return X.hull([X.point(a.min()), X.point(a.max())])


def _binop(scope: Scope, e: A.BinOp) -> Extent:
    a, b = extent_of(scope, e.left), extent_of(scope, e.right)
    if e.op == "+":
        return X.add(a, b)
    if e.op == "-":
        return X.add(a, X.neg(b))
    if e.op == "*":
        return X.mul(a, b)
    if e.op == "/":
        return X.div(a, b)
    if e.op == "^":
        return _power(a, b)
    if e.op == "@":
        return X.total(X.mul(a, b))
    if e.op == "%" and b.within(POSITIVE) and b.finite:
        return Extent(0.0, b.hi, True, False)
    return ANY


def _power(a: Extent, b: Extent) -> Extent:
    if b.lo == b.hi and b.lo_in and math.isfinite(b.lo):
        return X.power(a, b.lo)
    return POSITIVE if a.within(POSITIVE) and a.finite else ANY


def _unop(scope: Scope, e: A.UnOp) -> Extent:
    a = extent_of(scope, e.operand)
    return X.neg(a) if e.op == "-" else a


def _ifelse(scope: Scope, e: A.IfElse) -> Extent:
    return X.hull([extent_of(scope, e.then), extent_of(scope, e.orelse)])


def _array(scope: Scope, e: A.Array) -> Extent:
    return X.hull(extent_of(scope, i) for i in e.items) if e.items else ANY


def loop_extent(scope: Scope, it: A.Call) -> Extent:
    """The numbers a loop variable of ``range(...)`` takes: from its start up when it counts up."""
    if len(it.args) == 1:
        return Extent(0.0, math.inf, True)
    step = extent_of(scope, it.args[2]) if len(it.args) > 2 else X.point(1.0)
    start = extent_of(scope, it.args[0]) if it.args else ANY
    if step.within(POSITIVE):
        return Extent(start.lo, math.inf, start.lo_in)
    return ANY


def _comprehension(scope: Scope, e: A.Comprehension) -> Extent:
    counts = loop_extent(scope, e.iter) if isinstance(e.iter, A.Call) else ANY
    with scope.looping(e.var, counts):
        return extent_of(scope, e.body)


def _recurrence(scope: Scope, e: A.Recurrence) -> Extent:
    """The hull of the first values and of what the body computes from values in that hull, widened a few
    times until it holds (``s[t] = omega + b * s[t - 1]`` stays positive when ``s[0]`` and ``omega`` are)."""
    ext = extent_of(scope, e.init)
    counts = loop_extent(scope, A.Call(e.span, "range", (e.start, e.stop), ()))
    for _ in range(4):
        with scope.looping(e.var, counts), scope.looping(e.name, ext):
            wider = X.hull([ext, extent_of(scope, e.body)])
        if wider == ext:
            return ext
        ext = wider
    return ANY


def _gen_call(scope: Scope, e: A.GenCall) -> Extent:
    body = _comprehension(scope, e.comp)
    f = _REDUCTIONS.get(e.func)
    return ANY if f is None else f(body)


def _call(scope: Scope, e: A.Call) -> Extent:
    if e.func in scope.specs:  # an mlp
        return ANY
    cdf = L.cdf_function_name(e.func)
    if cdf is not None:  # a probability, or its log
        return Extent(0.0, 1.0, True, True) if cdf[1] in ("cdf", "ccdf") else Extent(-math.inf, 0.0, False, True)
    f = _FUNCTIONS.get(e.func)
    if f is None:
        f = _REDUCTIONS.get(e.func)
        if f is None or not e.args:
            return ANY
        return f(extent_of(scope, e.args[0]))
    return f([extent_of(scope, a) for a in e.args])


def _floor_like(f: Callable[[float], float]) -> Callable[[Extent], Extent]:
    """A non-decreasing step function (floor, round, int): its finite ends are reached."""
    g = lambda v: v if math.isinf(v) else float(f(v))  # noqa: E731
    return lambda a: Extent(g(a.lo), g(a.hi), a.lo_in or math.isfinite(a.lo), a.hi_in or math.isfinite(a.hi))


def _log(v: float) -> float:
    return -math.inf if v == 0 else math.log(v)


def _sigmoid(v: float) -> float:
    return 1 / (1 + X._safe(math.exp, -v))


def _softplus(v: float) -> float:
    return v if v > 30 else math.log1p(X._safe(math.exp, v))


def _sign(a: Extent) -> Extent:
    return X.hull(X.point(float(s)) for s, _ in X._parts(a))


def _unary(f: Callable[[Extent], Extent]):
    return lambda xs: f(xs[0])


def _increasing(f, lo_at=-math.inf):
    return _unary(lambda a: X.increasing(f, a, lo_at))


_FUNCTIONS: dict[str, Callable[[list], Extent]] = {
    "exp": _increasing(lambda v: X._safe(math.exp, v)),
    "expm1": _increasing(lambda v: X._safe(math.expm1, v)),
    "log": _increasing(_log, 0.0), "log2": _increasing(lambda v: _log(v) / math.log(2), 0.0),
    "log10": _increasing(lambda v: _log(v) / math.log(10), 0.0),
    "log1p": _increasing(lambda v: _log(1 + v), -1.0), "sqrt": _increasing(math.sqrt, 0.0),
    "sigmoid": _increasing(_sigmoid), "inv_logit": _increasing(_sigmoid),
    "softplus": _increasing(_softplus),
    "log_sigmoid": _increasing(lambda v: -_softplus(-v)), "log_inv_logit": _increasing(lambda v: -_softplus(-v)),
    "tanh": _increasing(math.tanh), "atan": _increasing(math.atan), "erf": _increasing(math.erf),
    "erfc": _unary(lambda a: X.increasing(lambda v: math.erfc(-v), X.neg(a))),
    "log1m": _unary(lambda a: X.increasing(lambda v: _log(1 + v), X.neg(a), -1.0)),
    "relu": _unary(lambda a: X.maximum(a, X.point(0.0))),
    "abs": _unary(X.absolute), "square": _unary(lambda a: X.power(a, 2)), "inv": _unary(X.inv),
    "cosh": _unary(lambda a: X.increasing(lambda v: X._safe(math.cosh, v), X.absolute(a))),
    "sinh": _increasing(lambda v: X._safe(math.sinh, v)), "sign": _unary(_sign),
    "sin": lambda xs: Extent(-1.0, 1.0, True, True), "cos": lambda xs: Extent(-1.0, 1.0, True, True),
    "floor": _unary(_floor_like(math.floor)), "ceil": _unary(_floor_like(math.ceil)),
    "round": _unary(_floor_like(round)), "int": _unary(_floor_like(math.trunc)),
    "float": _unary(lambda a: a), "flatten": _unary(lambda a: a), "sort": _unary(lambda a: a),
    "transpose": _unary(lambda a: a), "reshape": _unary(lambda a: a), "roll": _unary(lambda a: a),
    "isfinite": lambda xs: BOOLEAN, "one_hot": lambda xs: BOOLEAN, "eye": lambda xs: BOOLEAN,
    "zeros": lambda xs: X.point(0.0), "ones": lambda xs: X.point(1.0),
    "pow": lambda xs: _power(xs[0], xs[1]), "maximum": lambda xs: X.maximum(xs[0], xs[1]),
    "minimum": lambda xs: X.minimum(xs[0], xs[1]), "hypot": lambda xs: NONNEGATIVE,
    "where": lambda xs: X.hull(xs[1:]), "clip": lambda xs: X.minimum(X.maximum(xs[0], xs[1]), xs[2]),
    "softmax": lambda xs: Extent(0.0, 1.0, False, True), "log_softmax": lambda xs: Extent(-math.inf, 0.0, False, True),
    "atan2": lambda xs: Extent(-math.pi, math.pi, True, True), "outer": lambda xs: X.mul(xs[0], xs[1]),
    "dot": lambda xs: X.total(X.mul(xs[0], xs[1])), "matmul": lambda xs: X.total(X.mul(xs[0], xs[1])),
    "diag": _unary(lambda a: X.hull([a, X.point(0.0)])), "trace": _unary(X.total),
    "concat": X.hull, "stack": X.hull,
}

_REDUCTIONS: dict[str, Callable[[Extent], Extent]] = {
    "sum": X.total, "cumsum": X.total, "mean": lambda a: a, "max": lambda a: a, "min": lambda a: a,
    "prod": X.product_of, "std": lambda a: NONNEGATIVE, "var": lambda a: NONNEGATIVE, "norm": lambda a: NONNEGATIVE,
    "any": lambda a: BOOLEAN, "all": lambda a: BOOLEAN, "argmax": lambda a: NONNEGATIVE,
    "argmin": lambda a: NONNEGATIVE,
}

_RULES: dict[type, Callable] = {
    A.Num: lambda scope, e: X.point(e.value), A.Name: _name, A.Literal: _literal,
    A.BinOp: _binop, A.UnOp: _unop, A.IfElse: _ifelse, A.Array: _array,
    A.Compare: lambda scope, e: BOOLEAN, A.BoolOp: lambda scope, e: BOOLEAN, A.Not: lambda scope, e: BOOLEAN,
    A.Index: lambda scope, e: extent_of(scope, e.value), A.Call: _call,
    A.Comprehension: _comprehension, A.GenCall: _gen_call, A.Recurrence: _recurrence,
}


# -------------------------------------------------------------- simplexes
def is_simplex(scope: Scope, e) -> bool:
    """``e`` is a simplex (or a stack of them along its last axis) whatever the values of what it reads:
    a name declared ``simplex[...]``, a row of one, ``softmax(...)``, ``p / sum(p)`` with ``p`` >= 0."""
    if isinstance(e, A.Name):
        s = scope.specs.get(e.id)
        if s is not None:
            return s.domain.row.normalized
        let = scope.lets.get(e.id)
        if let is None or let.expr is None:
            return False
        key = ("simplex", e.id)
        if key not in scope.cache:
            scope.cache[key] = is_simplex(scope, let.expr)
        return scope.cache[key]
    if isinstance(e, A.Call):
        return e.func == "softmax" and not e.kwargs and len(e.args) == 1
    if isinstance(e, A.Index):
        return _simplex_row(scope, e)
    if isinstance(e, A.IfElse):
        return is_simplex(scope, e.then) and is_simplex(scope, e.orelse)
    if isinstance(e, A.BinOp) and e.op == "/":
        d = e.right
        return (isinstance(d, A.Call) and d.func == "sum" and len(d.args) == 1 and not d.kwargs
                and d.args[0] == e.left and extent_of(scope, e.left).within(NONNEGATIVE)
                and not extent_of(scope, e.left).within(X.point(0.0)))
    return False


def _simplex_row(scope: Scope, e: A.Index) -> bool:
    """``P[k]``: whole simplexes picked out of a declared stack of them (only whole numbers as subscripts)."""
    if not isinstance(e.value, A.Name) or e.value.id not in scope.specs:
        return False
    s = scope.specs[e.value.id]
    return (s.domain.row.normalized and len(e.subs) < len(s.shape)
            and all(isinstance(i, A.Expr) for i in e.subs))


# -------------------------------------------------------------- culprits
def culprit(scope: Scope, e, inside: Extent, consts: bool = False) -> Optional[str]:
    """The first declared param, var or latent (``consts``: const) in ``e``, in source order and through lets,
    whose domain lets ``e`` leave ``inside``: the declaration a message should tell the user to change; None
    when no such name is to blame."""
    stack = [iter(A.walk(e))]  # a stack, not recursion: a chain of lets may be long
    seen: set = set()
    while stack:
        n = next(stack[-1], None)
        if n is None:
            stack.pop()
            continue
        if not isinstance(n, A.Name) or n.id in scope.loops or extent_of(scope, n).within(inside):
            continue
        if n.id in scope.specs:
            if (scope.specs[n.id].role == "const") == consts:
                return n.id
            continue
        let = scope.lets.get(n.id)
        if let is not None and let.expr is not None and n.id not in seen:
            seen.add(n.id)
            stack.append(iter(A.walk(let.expr)))
    return None


def remember_let(scope: Scope, name: str) -> None:
    """Work out what a let just declared guarantees, so that a long chain of lets is never followed back
    recursively."""
    node = A.Name(scope.lets[name].span, name)
    extent_of(scope, node)
    is_simplex(scope, node)


def describe(ext: Extent, inside: Extent) -> str:
    """How a message says in what way values of ``ext`` miss ``inside`` (``may be 0 or negative``)."""
    finite_part = Extent(ext.lo, ext.hi, ext.lo_in and math.isfinite(ext.lo), ext.hi_in and math.isfinite(ext.hi))
    if not ext.finite and finite_part.within(inside):
        return "may be infinite"
    if inside.within(POSITIVE) and inside.lo == 0:
        if ext.hi < 0 or (ext.hi == 0 and not ext.hi_in):
            return "is negative"
        if ext.hi == 0:
            return "is 0 or negative"
        if ext.lo == 0 and ext.lo_in:
            return "may be 0"
        if ext.lo < 0:
            return "may be 0 or negative"
    return f"lies outside {inside}" if not ext.meets(inside) else f"may lie outside {inside}"
