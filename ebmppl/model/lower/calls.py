"""Compiling calls: an mlp param ``f(x)``, a log density ``normal_lpdf(y, mu, sigma)``, a library
function ``sum(x)``, and the distributions of ``~`` factors and param initializers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from ...settings import float_dtype
from ...dsl import ast as A
from ...errors import EbmError, EbmShapeError
from .. import domains, library as L
from . import cdfs, indices, values
from .shapes import check_value_shape, shape_of, short, text_of

if TYPE_CHECKING:
    from .compiler import Compiler

# The library's word for a distribution's support on the whole real line (a support, not a domain
# kind): there NumPyro's support check of an lpdf's value only maps NaN to -inf, so it is skipped.
_WHOLE_LINE = "real"


def call(c: "Compiler", e: A.Call):
    """``f(args)``: an mlp param, an ``*_lpdf``/``*_lpmf`` function or a library function."""
    spec = c.specs.get(e.func)
    if spec is not None and spec.domain.row.network:
        return _mlp(c, e)
    lp = L.lp_function_name(e.func)
    if lp is not None:
        return _log_density(c, e, lp[0])
    cdf = L.cdf_function_name(e.func)
    if cdf is not None:
        return _cdf(c, e, *cdf)
    return _function(c, e)


def _mlp(c: "Compiler", e: A.Call):
    fx = c.compile(e.args[0])
    n_in = c.domain_args[e.func][0]
    fmt, span, name = c.fmt, e.span, e.func

    def call_mlp(env):
        x = fx(env)
        sx = shape_of(x)
        if len(sx) == 0 or sx[-1] != n_in:
            raise EbmShapeError(f"the mlp '{name}' takes inputs of size {n_in}, got shape {fmt(sx)}", span,
                                f"pass a value whose last axis has size {n_in}, or change mlp({n_in}, ...)")
        return env[name](x)
    return call_mlp


def _log_density(c: "Compiler", e: A.Call, info: L.DistInfo):
    given = dict(zip(info.params, e.args[1:]))
    values.check_dist_args(c, info, {**given, **{k.name: k.value for k in e.kwargs}}, e.span)
    fval = c.compile(e.args[0])
    fargs = [c.compile(a) for a in e.args[1:]]
    fkw = {k.name: c.compile(k.value) for k in e.kwargs}
    # an lpdf may be called on any expression: keep NumPyro's support check, except on the whole line
    build = dist_builder(c, info, fargs, fkw, e, validate=info.support != _WHOLE_LINE)
    fmt, span = c.fmt, e.span

    def lpdf(env):
        d = build(env)
        y = fval(env)
        check_value_shape(d, y, info, fmt, span, e.func)
        return d.log_prob(y)
    return lpdf


def _cdf(c: "Compiler", e: A.Call, info: L.DistInfo, kind: str):
    """``normal_lccdf(y | mu, sigma)``: elementwise, like the log densities."""
    given = dict(zip(info.params, e.args[1:]))
    values.check_dist_args(c, info, {**given, **{k.name: k.value for k in e.kwargs}}, e.span)
    fval = c.compile(e.args[0])
    build = dist_builder(c, info, [c.compile(a) for a in e.args[1:]],
                         {k.name: c.compile(k.value) for k in e.kwargs}, e, validate=False)
    fn, fmt, span = cdfs.cdf_function(info.name, kind), c.fmt, e.span

    def cdf(env):
        d = build(env)
        y = fval(env)
        check_value_shape(d, y, info, fmt, span, e.func)
        return fn(d, jnp.asarray(y, dtype=float_dtype()))
    return cdf


def _static_arg(c: "Compiler", a, what: str):
    """A constant closure for an argument the function needs as a Python value (an axis, a shape)."""
    v = c.static(a, what, kind=None)
    v = v.item() if np.ndim(v) == 0 else tuple(np.asarray(v).tolist())
    return lambda env: v


def _function(c: "Compiler", e: A.Call):
    fi = L.FUNCTIONS[e.func]
    # where(cond, a, b) keeps one of two computed values, like `a if cond else b`
    per_arg = [c, *indices.branches(c, e.args[0])] if fi.impl is jnp.where and len(e.args) == 3 else [c] * len(e.args)
    parts = [_static_arg(c, a, f"argument {i + 1} of {e.func}") if i in fi.static else cc.compile(a)
             for i, (a, cc) in enumerate(zip(e.args, per_arg))]
    kws = {k.name: _static_arg(c, k.value, f"option {k.name} of {e.func}") if k.name in fi.static
           else c.compile(k.value) for k in e.kwargs}
    impl, fname, span, fmt = fi.impl, e.func, e.span, c.fmt

    def call(env):
        args = [p(env) for p in parts]
        kw = {k: f(env) for k, f in kws.items()}
        try:
            return impl(*args, **kw)
        except EbmError:
            raise
        except (TypeError, ValueError, IndexError) as ex:
            shapes = ", ".join(fmt(shape_of(a)) for a in args)
            raise EbmShapeError(f"{fname} cannot take arguments of shapes {shapes}", span, short(ex)) from None
        except (ArithmeticError, MemoryError) as ex:  # arange(0, 3, 0): a division by zero in the library
            raise EbmError("semantic", f"{text_of(span) or fname} cannot be computed: {ex}", span,
                           f"check the arguments of {fname}") from None
    return call


def dist_builder(c: "Compiler", info: L.DistInfo, fargs, fkw, node, validate=True):
    """env -> numpyro distribution. ``validate=False`` skips NumPyro's support check
    (used where the checker has proved the value lies in the support)."""
    names = info.params
    span, fmt = node.span, c.fmt
    opts = {} if validate else {"validate_args": False}

    def build(env):
        vals = dict(zip(names, (f(env) for f in fargs)))
        vals.update({k: f(env) for k, f in fkw.items()})
        args = [jnp.asarray(vals[n], dtype=float_dtype()) if n != "total_count" else vals[n] for n in names]
        try:
            return info.build(*args, **opts)
        except (TypeError, ValueError) as ex:
            shapes = ", ".join(f"{n} {fmt(shape_of(a))}" for n, a in zip(names, args))
            raise EbmShapeError(f"{info.name} cannot take arguments of shapes {shapes}", span, short(ex)) from None
    return build


def dist_call(c: "Compiler", d: A.DistCall, validate=True):
    """``(info, build)`` for a distribution call ``normal(mu, sigma)``; its arguments known before sampling
    are checked now."""
    info = L.DISTRIBUTIONS[d.name]
    given = dict(zip(info.params, d.args))
    values.check_dist_args(c, info, {**given, **{k.name: k.value for k in d.kwargs}}, d.span)
    build = dist_builder(c, info, [c.compile(a) for a in d.args],
                         {k.name: c.compile(k.value) for k in d.kwargs}, d, validate)
    return info, build if d.trunc is None else _truncated(c, info, build, d.trunc)


def _truncated(c: "Compiler", info: L.DistInfo, build, t: A.Truncation):
    """env -> the distribution restricted to ``T[lo, hi]`` (see :func:`.cdfs.truncate`)."""
    flo, fhi = (None if b is None else c.compile(b) for b in (t.lo, t.hi))
    ext = domains.support(info.support).extent
    name = info.name

    def truncated(env):
        lo, hi = (None if f is None else jnp.asarray(f(env), dtype=float_dtype()) for f in (flo, fhi))
        return cdfs.truncate(name, build(env), lo, hi, ext.lo, ext.hi)
    return truncated
