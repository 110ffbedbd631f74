"""The expression compiler: an AST expression -> an ``env -> array`` closure over ``jax.numpy``.

Each node type has one rule ``rule(compiler, node) -> closure`` in :data:`_RULES`; leaves and operators
live here, calls and distributions in :mod:`.calls`, comprehensions, lists and indexing in :mod:`.arrays`.
Every closure re-raises a JAX shape or type failure as an :class:`~ebmppl.errors.EbmShapeError` at the
node's source span. Under ``jax.jit`` the closures trace to the same program as hand-written JAX.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ...settings import float_dtype
from ...dsl import ast as A
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from .. import library as L
from ..spec import Spec
from . import arrays, calls, indices, limits, recurrences
from .shapes import Fmt, checked, shape_of, text_of

Env = dict


@dataclass(frozen=True, eq=False)
class Compiler:
    """Compiles AST expressions into ``env -> array`` closures.

    Attributes:
        fmt: renders shapes in messages.
        static_env: the values known before sampling (consts), for sizes, axes and bounds; while the
            consts are bound it is the dict being filled, so a default reads the consts before it.
        specs: every declaration by name (a call ``f(x)`` of an mlp param reads its spec).
        domain_args: the bound domain arguments by name (an mlp's input size).
        unknown: the consts whose values are stand-ins (placeholders of an unbound model): values read from
            them are not checked, and neither are index ranges or array sizes while there are any.
        static_eval: the closures evaluate values known before sampling (consts, sizes, defaults): a
            division by zero, an integer overflow or a result that is not finite is an error at its span.
        loops: the values of each comprehension variable in scope (a 1-D int array), for static checks.
        unsure: names whose values are not bounded by their range here (in a branch of ``if ... else`` whose
            condition reads them): indices computed from them are not checked.
    """

    fmt: Fmt
    static_env: Mapping[str, Any]
    specs: Mapping[str, Spec]
    domain_args: Mapping[str, tuple]
    unknown: frozenset = frozenset()
    static_eval: bool = False
    loops: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    unsure: frozenset = frozenset()

    def compile(self, e) -> Callable[[Env], Any]:
        """The closure of expression ``e``; a node type with no rule is a programming error."""
        rule = _RULES.get(type(e))
        if rule is None:
            raise TypeError(f"the lowering has no rule for a {type(e).__name__} node")
        return _guarded(self, e, rule(self, e))

    def within(self, var: str, values: np.ndarray) -> "Compiler":
        """This compiler inside a comprehension whose variable ``var`` takes ``values``."""
        return replace(self, loops=MappingProxyType({**self.loops, var: values}))

    def value(self, e, what: str = "this value") -> np.ndarray:
        """The value of an expression known before sampling, evaluated strictly (see ``static_eval``)."""
        strict = self if self.static_eval else replace(self, static_eval=True)
        try:
            with jax.ensure_compile_time_eval():  # a constant made while compiling is concrete too
                fn, env = strict.compile(e), dict(self.static_env)
            if not self.unknown:  # every step's size is checked on shapes alone, before anything is allocated
                jax.eval_shape(lambda: fn(env))
            with jax.ensure_compile_time_eval():  # computed now, even while JAX traces the caller
                return np.asarray(fn(env))
        except EbmError:
            raise
        except Exception:
            raise EbmSemanticError(f"{what} must be known before sampling", e.span) from None

    def static(self, e, what: str, kind=int):
        """Evaluate an expression that must be known at compile time (sizes, axes)."""
        v = self.value(e, what)
        if kind is int:
            if v.ndim != 0 or v.dtype.kind not in "biuf" or not np.isfinite(v) or not float(v) == int(v):
                raise EbmSemanticError(f"{what} must be an integer, got {v}", e.span)
            limits.check_int(int(v), f"{what} ({text_of(e.span) or int(v)})", e.span)
            return int(v)
        if kind is float:
            return float(v)
        return v

    def dist_call(self, d: A.DistCall, validate=True):
        """``(info, env -> numpyro distribution)`` of a distribution call ``normal(mu, sigma)``."""
        return calls.dist_call(self, d, validate)


# ------------------------------------------------------------------ leaves
def _num(c: Compiler, e: A.Num):
    """A number; one beyond what the float type holds is an error, an integer beyond the int type a float."""
    v = e.value
    info = np.iinfo(limits.int_dtype())
    if e.is_int and not info.min <= v <= info.max:
        # as NumPy would: 3000000000 * x is a float product, not an int32 overflow
        v = float(v) if abs(v) < 2 ** 1024 else float("inf")
    with np.errstate(over="ignore"):
        if isinstance(v, float) and (np.isfinite(v) or e.is_int) and not np.isfinite(np.asarray(v, float_dtype())):
            dt = np.dtype(float_dtype())
            raise EbmError("semantic", f"the number {text_of(e.span) or v} is not finite in {dt.name} (the "
                                       f"largest is {np.finfo(dt).max:.3g})", e.span,
                           "write a smaller number, or compute in 64 bits (--x64, ebmppl.config(x64=True))")
    return lambda env: v


def _literal(c: Compiler, e: A.Literal):
    v = jnp.asarray(e.value)
    return lambda env: v


def _name(c: Compiler, e: A.Name):
    name = e.id
    if name in L.CONSTANTS:
        v = L.CONSTANTS[name]
        return lambda env: v
    return lambda env: env[name]


# --------------------------------------------------------------- operators
_ARITH = {"+": jnp.add, "-": jnp.subtract, "*": jnp.multiply, "/": jnp.true_divide, "%": jnp.mod}
_COMPARE = {"<": jnp.less, "<=": jnp.less_equal, ">": jnp.greater, ">=": jnp.greater_equal,
            "==": jnp.equal, "!=": jnp.not_equal}


def _binop(c: Compiler, e: A.BinOp):
    if e.op == "^":
        return _power(c, e)
    if e.op == "@":
        return _matmul(c, e)
    fa, fb = c.compile(e.left), c.compile(e.right)
    op, fmt, span, impl = e.op, c.fmt, e.span, _ARITH[e.op]
    strict = c.static_eval

    def arith(env):
        a, b = fa(env), fb(env)
        sa, sb = shape_of(a), shape_of(b)
        if sa != sb:
            try:
                np.broadcast_shapes(sa, sb)
            except ValueError:
                raise EbmShapeError(f"shape mismatch in '{op}': {fmt(sa)} and {fmt(sb)} do not broadcast",
                                    span, "sizes must match or be 1 (NumPy broadcasting)") from None
        a, b = _counted(a), _counted(b)
        if strict:
            _exact(op, a, b, span)
        return impl(a, b)
    return arith


def _counted(v):
    """A boolean operand of arithmetic as the 0 or 1 it counts for (as in Python: ``True + True == 2``);
    ``jnp.add`` of two booleans would be their logical or."""
    if getattr(v, "dtype", None) == jnp.bool_ or isinstance(v, (bool, np.bool_)):
        return jnp.asarray(v).astype(limits.int_dtype())
    return v


def _exact(op: str, a, b, span) -> None:
    """Static arithmetic (``static_eval``): no division by zero, no integer result beyond the int type."""
    if isinstance(a, jax.core.Tracer) or isinstance(b, jax.core.Tracer):
        return
    if op in "/%" and np.any(np.asarray(b) == 0):
        raise EbmError("semantic", f"{'division' if op == '/' else 'modulo'} by zero in {text_of(span) or op}",
                       span, "a value known before sampling (a size, a const, a default) cannot divide by 0")
    if op in "+-*^" and _integral(a) and _integral(b):
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            exact = {"+": np.add, "-": np.subtract, "*": np.multiply, "^": np.power}[op](x, y)
        limits.check_int(exact, text_of(span) or f"an integer '{op}'", span)


def _integral(v) -> bool:
    return np.issubdtype(np.asarray(v).dtype, np.integer)


def _power(c: Compiler, e: A.BinOp):
    """``a ^ b``: an integer literal exponent becomes ``lax.integer_pow`` (exact, and cheaper)."""
    fa, fb = c.compile(e.left), c.compile(e.right)
    r = e.right
    strict, span = c.static_eval, e.span
    if isinstance(r, A.Num) and r.is_int:
        n = int(r.value)
    elif isinstance(r, A.UnOp) and isinstance(r.operand, A.Num) and r.operand.is_int and r.op == "-":
        n = -int(r.operand.value)
    else:
        def power(env):
            a, b = fa(env), fb(env)
            if strict:
                _exact("^", a, b, span)
            return jnp.power(a, b)
        return checked(power, e.span, "'^'", fa, fb, c.fmt)

    def ipow(env):
        a = fa(env)
        if strict and n >= 0:
            _exact("^", a, n, span)
        return _ipow(a, n)
    return ipow


def _ipow(x, n):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.integer) and n < 0:
        x = x.astype(float_dtype())
    return lax.integer_pow(x, n) if n != 1 else x


def _matmul(c: Compiler, e: A.BinOp):
    fa, fb = c.compile(e.left), c.compile(e.right)
    fmt, span = c.fmt, e.span

    def matmul(env):
        a, b = fa(env), fb(env)
        sa, sb = shape_of(a), shape_of(b)
        if len(sa) == 0 or len(sb) == 0:
            raise EbmShapeError(f"'@' needs vectors or matrices, got shapes {fmt(sa)} and {fmt(sb)}", span,
                                "use '*' to multiply by a scalar")
        ka = sa[-1]
        kb = sb[0] if len(sb) == 1 else sb[-2]
        if ka != kb:
            raise EbmShapeError(f"shape mismatch in '@': {fmt(sa)} @ {fmt(sb)} (inner sizes {fmt([ka])[1:-1]} "
                                f"and {fmt([kb])[1:-1]} differ)", span,
                                "transpose one side, or check the declared shapes")
        return jnp.matmul(a, b)
    return matmul


def _unop(c: Compiler, e: A.UnOp):
    f = c.compile(e.operand)
    if e.op == "-":
        def neg(env):
            v = jnp.asarray(f(env))
            return jnp.negative(v.astype(jnp.int32) if v.dtype == jnp.bool_ else v)  # -True == -1, as in Python
        return neg
    return f


def _compare(c: Compiler, e: A.Compare):
    impl = _COMPARE[e.op]
    fa, fb = c.compile(e.left), c.compile(e.right)
    return checked(lambda env: impl(fa(env), fb(env)), e.span, f"'{e.op}'", fa, fb, c.fmt)


def _boolop(c: Compiler, e: A.BoolOp):
    impl = jnp.logical_and if e.op == "and" else jnp.logical_or
    fa, fb = c.compile(e.left), c.compile(e.right)
    return checked(lambda env: impl(fa(env), fb(env)), e.span, f"'{e.op}'", fa, fb, c.fmt)


def _not(c: Compiler, e: A.Not):
    f = c.compile(e.operand)
    return lambda env: jnp.logical_not(f(env))


def _ifelse(c: Compiler, e: A.IfElse):
    then, orelse = indices.branches(c, e.cond)
    fc, fa, fb = c.compile(e.cond), then.compile(e.then), orelse.compile(e.orelse)
    fmt, span = c.fmt, e.span

    def ifelse(env):
        cond, a, b = fc(env), fa(env), fb(env)
        try:
            np.broadcast_shapes(shape_of(cond), shape_of(a), shape_of(b))
        except ValueError:
            raise EbmShapeError(f"shape mismatch in 'if ... else': condition {fmt(shape_of(cond))}, "
                                f"branches {fmt(shape_of(a))} and {fmt(shape_of(b))}", span) from None
        return jnp.where(cond, a, b)
    return ifelse


# ------------------------------------------------------------------ guards
def _guarded(c: Compiler, e, fn):
    """``fn`` checked as it runs: no array beyond :data:`~.limits.MAX_ARRAY_BYTES` (its shape is known while
    JAX traces it, before anything is allocated), and with ``static_eval`` no value that is not finite
    (except where the expression reads ``inf`` itself)."""
    finite = c.static_eval and not _reads_infinity(e)
    sized = not c.unknown and not isinstance(e, (A.Name, A.Num, A.Literal))  # leaves: values that exist already
    if not (finite or sized):
        return fn
    span = e.span

    def guarded(env):
        v = fn(env)
        shape = shape_of(v)
        if sized and shape:
            limits.check_array(shape, v.dtype, text_of(span) or "a value", span,
                               "compute something smaller (a reduction, a smaller range or size)")
        if finite and not isinstance(v, jax.core.Tracer):
            _finite(v, span)
        return v
    return guarded


def _finite(v, span) -> None:
    a = np.asarray(v)
    if a.dtype.kind != "f":
        return
    with np.errstate(over="ignore"):
        a = a.astype(float_dtype())
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        x = a[tuple(bad[0])] if a.ndim else a
        dt = np.dtype(float_dtype()).name
        raise EbmError("semantic", f"{text_of(span) or 'a value known before sampling'} evaluates to {float(x):g} "
                                   f"in {dt}" + (f" at element {[int(i) for i in bad[0]]}" if a.ndim else ""), span,
                       "a value known before sampling must be a finite number: check for an overflow, a division "
                       "by zero, or the log or square root of a number outside its domain")


def _reads_infinity(e) -> bool:
    """The expression reads a constant that is not finite (``inf``): its results may legitimately be too."""
    return any(isinstance(n, A.Name) and n.id in L.CONSTANTS and not np.isfinite(L.CONSTANTS[n.id])
               for n in A.walk(e))


_RULES: dict[type, Callable] = {
    A.Num: _num, A.Literal: _literal, A.Name: _name,
    A.BinOp: _binop, A.UnOp: _unop, A.Compare: _compare, A.BoolOp: _boolop, A.Not: _not, A.IfElse: _ifelse,
    A.Call: calls.call, A.Comprehension: arrays.comprehension, A.GenCall: arrays.gencall,
    A.Array: arrays.array, A.Index: arrays.index, A.Recurrence: recurrences.recurrence,
}
