"""The expression compiler: an AST expression -> an ``env -> array`` closure over ``jax.numpy``.

Each node type has one rule ``rule(compiler, node) -> closure`` in :data:`_RULES`; leaves and operators
live here, calls and distributions in :mod:`.calls`, comprehensions, lists and indexing in :mod:`.arrays`.
Every closure re-raises a JAX shape or type failure as an :class:`~ebmppl.errors.EbmShapeError` at the
node's source span. Under ``jax.jit`` the closures trace to the same program as hand-written JAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...settings import float_dtype
from ...dsl import ast as A
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from .. import library as L
from ..spec import Spec
from . import arrays, calls
from .shapes import Fmt, checked, shape_of

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
    """

    fmt: Fmt
    static_env: Mapping[str, Any]
    specs: Mapping[str, Spec]
    domain_args: Mapping[str, tuple]

    def compile(self, e) -> Callable[[Env], Any]:
        """The closure of expression ``e``; a node type with no rule is a programming error."""
        rule = _RULES.get(type(e))
        if rule is None:
            raise TypeError(f"the lowering has no rule for a {type(e).__name__} node")
        return rule(self, e)

    def static(self, e, what: str, kind=int):
        """Evaluate an expression that must be known at compile time (sizes, axes)."""
        try:
            v = self.compile(e)(dict(self.static_env))
            v = np.asarray(v)
        except EbmError:
            raise
        except Exception:
            raise EbmSemanticError(f"{what} must be known before sampling", e.span) from None
        if kind is int:
            if v.ndim != 0 or not float(v) == int(v):
                raise EbmSemanticError(f"{what} must be an integer, got {v}", e.span)
            return int(v)
        if kind is float:
            return float(v)
        return v

    def dist_call(self, d: A.DistCall, validate=True):
        """``(info, env -> numpyro distribution)`` of a distribution call ``normal(mu, sigma)``."""
        return calls.dist_call(self, d, validate)


# ------------------------------------------------------------------ leaves
def _num(c: Compiler, e: A.Num):
    v = e.value
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

    def arith(env):
        a, b = fa(env), fb(env)
        sa, sb = shape_of(a), shape_of(b)
        if sa != sb:
            try:
                np.broadcast_shapes(sa, sb)
            except ValueError:
                raise EbmShapeError(f"shape mismatch in '{op}': {fmt(sa)} and {fmt(sb)} do not broadcast",
                                    span, "sizes must match or be 1 (NumPy broadcasting)") from None
        return impl(a, b)
    return arith


def _power(c: Compiler, e: A.BinOp):
    """``a ^ b``: an integer literal exponent becomes ``lax.integer_pow`` (exact, and cheaper)."""
    fa, fb = c.compile(e.left), c.compile(e.right)
    r = e.right
    if isinstance(r, A.Num) and r.is_int:
        n = int(r.value)
        return lambda env: _ipow(fa(env), n)
    if isinstance(r, A.UnOp) and isinstance(r.operand, A.Num) and r.operand.is_int and r.op == "-":
        n = -int(r.operand.value)
        return lambda env: _ipow(fa(env), n)
    return checked(lambda env: jnp.power(fa(env), fb(env)), e.span, "'^'", fa, fb, c.fmt)


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
    fc, fa, fb = c.compile(e.cond), c.compile(e.then), c.compile(e.orelse)
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


_RULES: dict[type, Callable] = {
    A.Num: _num, A.Literal: _literal, A.Name: _name,
    A.BinOp: _binop, A.UnOp: _unop, A.Compare: _compare, A.BoolOp: _boolop, A.Not: _not, A.IfElse: _ifelse,
    A.Call: calls.call, A.Comprehension: arrays.comprehension, A.GenCall: arrays.gencall,
    A.Array: arrays.array, A.Index: arrays.index,
}
