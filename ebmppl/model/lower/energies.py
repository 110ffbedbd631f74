"""The model's functions of an environment: its lets, each factor's energy and the composed energy
of the model tree (product, temperature, mixture)."""

from __future__ import annotations

from typing import Callable, Mapping

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.scipy.special import logsumexp

from ...settings import float_dtype
from ...dsl import ast as A
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from .. import library as L
from ..library import names_in
from ..spec import Factor, LetDef, Mixture, Model, Product, Ref, Temper
from . import values
from .compiler import Compiler
from .shapes import check_value_shape, shape_of, short


def check_names(model: Model, declared) -> None:
    """Every name a Python let or factor reads is declared (the .ebm checker has proved it for the rest)."""
    known = set(declared)
    for l in model.lets:
        if l.fn is not None:
            missing = [a for a in l.args if a not in known]
            if missing:
                raise EbmSemanticError(f"let '{l.name}' reads '{missing[0]}', which is never declared", l.span,
                                       f"declare it, e.g. {missing[0]}=ebmppl.real()")
        known.add(l.name)
    for f in model.factors:
        names = list(f.args)
        if f.target is not None:
            names.append(f.target_name)
        if f.dist is not None:
            names.extend(sorted(names_in(f.dist)))
        if f.expr is not None and f.fn is None and f.span is None:
            names.extend(sorted(names_in(f.expr)))
        missing = [a for a in names if a not in known and a not in L.CONSTANTS]
        if missing:
            raise EbmSemanticError(f"factor '{f.name}' reads '{missing[0]}', which is never declared", f.span,
                                   f"declare it in a decorator, e.g. {missing[0]}=ebmppl.real(), or combine "
                                   f"with a model that declares it")


def compile_let(comp: Compiler, l: LetDef) -> Callable:
    """``env -> value`` of a let."""
    if l.fn is not None:
        fn, args = l.fn, l.args
        return lambda env: fn(*[env[a] for a in args])
    return comp.compile(l.expr)


def compile_factor(comp: Compiler, f: Factor) -> Callable:
    """``env -> energy`` of one factor: an expression, ``target ~ dist``, or a Python function."""
    if f.fn is not None and f.kind == "density":
        return _python_density(comp, f)
    if f.fn is not None:
        return _python_energy(f)
    if f.kind == "energy":
        return comp.compile(f.expr)
    return _density(comp, f)


def _python_density(comp: Compiler, f: Factor):
    fn, args, name, span = f.fn, f.args, f.name, f.span
    ftarget = comp.compile(f.target)

    def py_density(env):
        d = fn(*[env[a] for a in args])
        if not isinstance(d, dist.Distribution):
            raise EbmSemanticError(f"density factor '{name}' must return a numpyro distribution, "
                                   f"got {type(d).__name__}", span)
        return -jnp.sum(d.log_prob(ftarget(env)))
    return py_density


def _python_energy(f: Factor):
    fn, args, name, span = f.fn, f.args, f.name, f.span

    def py_energy(env):
        try:
            return fn(*[env[a] for a in args])
        except EbmError:
            raise
        except (TypeError, ValueError, IndexError) as ex:
            raise EbmShapeError(f"factor '{name}' failed: {short(ex)}", span) from None
    return py_energy


def _density(comp: Compiler, f: Factor):
    info = L.DISTRIBUTIONS[f.dist.name]
    # The checker proved the target's domain lies in the support (data is checked at bind).
    info, build = comp.dist_call(f.dist, validate=not info.support_guaranteed)
    ftarget = comp.compile(f.target)
    fmt, name, span = comp.fmt, f.name, f.span
    truncated = f.dist.trunc is not None

    def density(env):
        d = build(env)
        y = ftarget(env)
        full = check_value_shape(d, y, info, fmt, span, f"'{name}'")
        ys = shape_of(y)
        yb = ys[: len(ys) - len(d.event_shape)]
        if tuple(full) != tuple(yb):
            raise EbmShapeError(f"{info.name}(...) has shape {fmt(tuple(d.batch_shape))}, larger than the "
                                f"shape {fmt(ys)} of its value", span,
                                "index the arguments, or declare the variable with the larger shape")
        lp = d.log_prob(y)
        if truncated:  # NumPyro's truncated classes do not mask values outside [low, high]
            lp = jnp.where(d.support(jnp.asarray(y)), lp, -jnp.inf)
        return -jnp.sum(lp)
    return density


def compile_tree(comp: Compiler, node, factor_fns: Mapping[str, Callable]) -> Callable:
    """``env -> energy`` of a model tree over the compiled factors."""
    if isinstance(node, Ref):
        return factor_fns[node.name]
    if isinstance(node, Product):
        fns = [compile_tree(comp, c, factor_fns) for c in node.children]
        return lambda env: sum(f(env) for f in fns[1:]) + fns[0](env) if len(fns) > 1 else fns[0](env)
    if isinstance(node, Temper):
        f = compile_tree(comp, node.child, factor_fns)
        values.check_positive(comp, node.temperature, "the temperature")
        ft = _value(comp, node.temperature)
        return lambda env: f(env) / ft(env)
    if isinstance(node, Mixture):
        return _mixture(comp, node, factor_fns)
    raise TypeError(f"the lowering has no rule for a {type(node).__name__} model node")


def _mixture(comp: Compiler, node: Mixture, factor_fns):
    """−log Σ_k w_k exp(−E_k − log Z_k), the weights normalized."""
    fns = [compile_tree(comp, c, factor_fns) for c in node.children]
    for w in node.weights:
        values.check_positive(comp, w, "a mixture weight")
    fws = [_value(comp, w) for w in node.weights]
    logz = node.logz or (0.0,) * len(fns)
    for z in logz:
        values.check_finite(comp, z, "a component's log Z")
    flz = [_value(comp, z) for z in logz]

    def mixture(env):
        logw = jnp.log(jnp.stack([jnp.asarray(fw(env), dtype=float_dtype()) for fw in fws]))
        logw = logw - logsumexp(logw)
        terms = jnp.stack([lw - (f(env) + lz(env)) for lw, f, lz in zip(logw, fns, flz)])
        return -logsumexp(terms)
    return mixture


def _value(comp: Compiler, v):
    """``env -> v`` of a number or an expression (a weight, a temperature, a log Z)."""
    if isinstance(v, A.Expr):
        return comp.compile(v)
    return lambda env: v
