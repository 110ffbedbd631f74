"""Params and values: initial params, casting values to their declared shape and dtype, and example
values for the abstract shape check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ...settings import float_dtype
from ...errors import EbmSemanticError, EbmShapeError
from .. import library as L
from ..spec import Spec

if TYPE_CHECKING:
    from .lowered import Lowered


def init_params(low: "Lowered", key=0) -> dict:
    """Initial params: ``= value``, ``~ dist(...)`` drawn with ``key``, or the domain's default."""
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    out = {}
    specs = low.model.params
    keys = jax.random.split(key, max(1, len(specs)))
    for k, s in zip(keys, specs):
        if s.domain.row.network:
            n_in, hidden, n_out, act = low.domain_args[s.name]
            out[s.name] = L.mlp_init(k, n_in, hidden, n_out, dtype=float_dtype())
            continue
        v = _initial_value(low, s, k)
        c = low.constraint(s)
        if not isinstance(v, jax.core.Tracer) and not bool(np.all(np.asarray(c(v)))):
            span = s.init.span if s.init is not None else (s.init_dist.span if s.init_dist else s.span)
            raise EbmSemanticError(f"the initial value of '{s.name}' is outside its domain {s.domain}", span,
                                   "choose an initial value inside the domain")
        out[s.name] = v
    return out


def _initial_value(low: "Lowered", s: Spec, key):
    shape = low.shapes[s.name]
    comp = low.compiler
    if s.init is not None:
        v = jnp.asarray(comp.compile(s.init)(dict(low.static_env)), dtype=float_dtype())
        try:
            return jnp.broadcast_to(v, shape)
        except ValueError:
            raise EbmShapeError(f"the initial value of '{s.name}' has shape {low.fmt(v.shape)}, "
                                f"declared {s.type_str()} = {low.fmt(shape)}", s.init.span) from None
    if s.init_dist is not None:
        info, build = comp.dist_call(s.init_dist)
        d = build(dict(low.static_env))
        dshape = tuple(d.batch_shape) + tuple(d.event_shape)
        if dshape and tuple(shape[len(shape) - len(dshape):]) != dshape:
            raise EbmShapeError(f"the initializer of '{s.name}' has shape {low.fmt(dshape)}, declared "
                                f"{low.fmt(shape)}", s.init_dist.span)
        return jnp.asarray(d.sample(key, shape[: len(shape) - len(dshape)]), dtype=float_dtype())
    return default_value(low, s, shape)


def default_value(low: "Lowered", s: Spec, shape):
    """The domain table's default value of ``s`` in ``shape``, as floats."""
    return s.domain.row.default(tuple(shape), tuple(low.domain_args[s.name]), float_dtype())


def example_values(low: "Lowered") -> dict:
    """A value inside the domain of every var and latent (integers for integer kinds)."""
    out = {}
    for s in low.model.random:
        shape = low.shapes[s.name]
        if s.domain.row.integer:
            out[s.name] = jnp.zeros(shape, jnp.int32)
        else:
            out[s.name] = default_value(low, s, shape)
    return out


def cast(low: "Lowered", s: Spec, v):
    """``v`` as the value of ``s``: its declared shape (or an error), int32 for integer kinds, else floats."""
    v = jnp.asarray(v)
    want = low.shapes[s.name]
    if tuple(v.shape) != want:
        raise EbmShapeError(f"the value of {s.role} '{s.name}' has shape {low.fmt(tuple(v.shape))}, "
                            f"declared {s.type_str()} = {low.fmt(want)}", s.span)
    if s.domain.row.integer:
        return v.astype(jnp.int32) if not jnp.issubdtype(v.dtype, jnp.integer) else v
    return v.astype(float_dtype()) if v.dtype != float_dtype() else v
