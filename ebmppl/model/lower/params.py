"""Params and values: initial params, casting values to their declared shape and dtype, and example
values for the abstract shape check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ...settings import float_dtype
from ...errors import EbmShapeError
from .. import library as L
from ..spec import Spec
from . import bounds, values

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
        if not isinstance(v, jax.core.Tracer) and s.init is None:
            what = f"a draw of the initializer of '{s.name}'" if s.init_dist is not None \
                else f"the default initial value of '{s.name}'"
            span = s.init_dist.span if s.init_dist is not None else s.span
            values.admit(np.asarray(v), s.domain.kind, low.domain_args[s.name], what=what, span=span,
                         interior=True, hint="choose an initializer whose draws lie inside the param's domain")
        out[s.name] = v
    return out


def check_initial_values(low: "Lowered") -> None:
    """Check, when the model is lowered, every ``param p : D = value`` (strictly inside ``D``: a bijector must
    map it back to the reals) and the arguments of every ``param p ~ dist(...)``."""
    for s in low.model.params:
        if s.init is not None and not s.domain.row.network:
            v = low.compiler.value(s.init, f"the initial value of '{s.name}'")
            if not (low.unknown and any(n in low.unknown for n in L.names_in(s.init))):
                low.init_values[s.name] = v  # known before sampling: init_params reuses it, tracing nothing again
            shape = low.shapes[s.name]
            if s.domain.row.vector and shape:
                try:
                    v = np.broadcast_to(v, np.broadcast_shapes(v.shape, shape[-1:]))
                except ValueError:
                    continue  # the shape error is raised, with its message, where the value is broadcast
            if low.unknown and any(n in low.unknown for n in L.names_in(s.init)):
                continue
            values.admit(v, s.domain.kind, low.domain_args[s.name], what=f"the initial value of '{s.name}'",
                         span=s.init.span, interior=True,
                         hint=f"choose an initial value that is {s.domain.row.described}"
                              + (", with no entry at 0" if s.domain.row.interior is not None else ""))
        elif s.init_dist is not None:
            low.compiler.dist_call(s.init_dist)  # checks the arguments known before sampling


def _initial_value(low: "Lowered", s: Spec, key):
    shape = low.shapes[s.name]
    comp = low.compiler
    if s.init is not None:
        v = low.init_values.get(s.name)
        if v is None:
            v = comp.value(s.init, f"the initial value of '{s.name}'")
        v = jnp.asarray(v, dtype=float_dtype())
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
    """A value inside the domain of every var and latent (integers for integer kinds); a var whose bounds read
    other vars takes the default inside its bounds at their example values."""
    out = {}
    for s in low.model.random:
        shape = low.shapes[s.name]
        if s.domain.row.integer:
            out[s.name] = jnp.zeros(shape, jnp.int32)
        elif bounds.varies(low, s):
            out[s.name] = s.domain.row.default(tuple(shape), bounds.evaluate(low, s, out), float_dtype())
        else:
            out[s.name] = default_value(low, s, shape)
    return out


def cast(low: "Lowered", s: Spec, v):
    """``v`` as the value of ``s``: its declared shape (or an error), int32 for integer kinds, else floats. A param
    given as a concrete value (not while JAX traces) must lie in its domain, in the float type used."""
    if s.role == "param" and not isinstance(v, jax.core.Tracer):
        values.admit(np.asarray(v), s.domain.kind, low.domain_args[s.name], what=f"param '{s.name}'", span=s.span,
                     error="value", hint="pass params inside their domains, e.g. from model.init_params(key)")
    v = jnp.asarray(v)
    want = low.shapes[s.name]
    if tuple(v.shape) != want:
        raise EbmShapeError(f"the value of {s.role} '{s.name}' has shape {low.fmt(tuple(v.shape))}, "
                            f"declared {s.type_str()} = {low.fmt(want)}", s.span)
    if s.domain.row.integer:
        return v.astype(jnp.int32) if not jnp.issubdtype(v.dtype, jnp.integer) else v
    return v.astype(float_dtype()) if v.dtype != float_dtype() else v
