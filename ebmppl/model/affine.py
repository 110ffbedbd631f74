"""Affine structure of an energy, read off its jaxpr, and the sums it allows.

`jaxpr_degree` propagates polynomial degree through a jaxpr (structurally: it never calls a
function affine that is not). When the energy is affine in two-state variables r (binary, spin)
given the rest, Σ_r exp(−E) has a closed form — used by free energies (latents summed out), exact
log Z, and the Gibbs sampler's block conditionals. `enumerate_states` lists every joint state of
finite discrete variables for the cases that have no closed form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..settings import float_dtype

_NONLINEAR = 1000
_PASS = {"neg", "reduce_sum", "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims",
         "convert_element_type", "slice", "rev", "copy", "copy_p", "cumsum", "reduce_precision", "real",
         "stop_gradient", "optimization_barrier"}
_MAX = {"add", "sub", "add_any", "concatenate", "pad"}
_SUM = {"mul", "dot_general"}


def _sub_jaxpr(eqn):
    for v in eqn.params.values():
        j = getattr(v, "jaxpr", None)
        if j is not None and hasattr(v, "consts"):
            return v.jaxpr, v
        if hasattr(v, "eqns") and hasattr(v, "invars"):
            return v, None
    return None, None


def jaxpr_degree(jaxpr, in_degrees: list[int]) -> list[int]:
    """Polynomial degree of each output of a jaxpr in the inputs (capped at 'nonlinear')."""
    deg: dict = {}

    def get(v):
        if hasattr(v, "val") and not hasattr(v, "count"):  # a Literal
            return 0
        return deg.get(v, 0)

    for v, d in zip(jaxpr.invars, in_degrees):
        deg[v] = d
    for eqn in jaxpr.eqns:
        ins = [get(v) for v in eqn.invars]
        name = eqn.primitive.name
        if max(ins, default=0) == 0:
            out = [0] * len(eqn.outvars)
        elif name in _PASS or name in _MAX:
            out = [max(ins)] * len(eqn.outvars)
        elif name in _SUM:
            out = [min(_NONLINEAR, sum(ins))] * len(eqn.outvars)
        elif name == "integer_pow":
            y = eqn.params["y"]
            out = [min(_NONLINEAR, ins[0] * y) if y >= 0 else _NONLINEAR]
        elif name == "square":
            out = [min(_NONLINEAR, 2 * ins[0])]
        elif name == "div":
            out = [ins[0] if ins[1] == 0 else _NONLINEAR]
        elif name in ("select_n",):
            out = [max(ins[1:]) if ins[0] == 0 else _NONLINEAR]
        elif name in ("gather", "dynamic_slice"):
            out = [ins[0] if max(ins[1:], default=0) == 0 else _NONLINEAR]
        elif name in ("dynamic_update_slice", "scatter-add", "scatter_add", "scatter"):
            idx = ins[2:] if name == "dynamic_update_slice" else [ins[1]]
            out = [max(ins[0], ins[-1] if name != "dynamic_update_slice" else ins[1])
                   if max(idx, default=0) == 0 else _NONLINEAR]
        else:
            sub, closed = _sub_jaxpr(eqn)
            if sub is not None and len(sub.invars) == len(eqn.invars):
                out = jaxpr_degree(sub, ins)
            elif sub is not None and closed is not None and len(sub.invars) == len(eqn.invars):
                out = jaxpr_degree(sub, ins)
            else:
                out = [_NONLINEAR] * len(eqn.outvars)
        for v, d in zip(eqn.outvars, out):
            deg[v] = d
    return [get(v) for v in jaxpr.outvars]


def is_affine_in(energy, values: dict, names) -> bool:
    """Is ``energy(values)`` (a function of a dict) affine in the variables ``names`` jointly?"""
    names = list(names)
    rest = {k: v for k, v in values.items() if k not in names}

    def f(*xs):
        return energy({**rest, **dict(zip(names, xs))})
    closed = jax.make_jaxpr(f)(*[values[n] for n in names])
    (deg,) = jaxpr_degree(closed.jaxpr, [1] * len(names))
    return deg <= 1


def log_sum_affine(energy, specs, shapes) -> jnp.ndarray:
    """log Σ_r exp(−energy(r)) over two-state variables r (binary, spin) the energy is affine in:
    −E(0) + Σ log Σ_v exp(−g v) over each element's two states v (the domain table's ``affine_logsum``:
    softplus(−g) for binary, log(e^g + e^−g) for spin), with g = ∂E/∂r at r = 0."""
    r0 = {s.name: jnp.zeros(shapes[s.name], float_dtype()) for s in specs}
    e0, g = jax.value_and_grad(energy)(r0)
    out = -e0
    for s in specs:
        out = out + jnp.sum(s.domain.row.affine_logsum(g[s.name]))
    return out


def enumerate_states(specs, shapes, domain_args) -> tuple[dict, int]:
    """Every joint state of finite discrete variables: (dict name -> (states, *shape) array, count)."""
    radices, slots = [], []
    for s in specs:
        size = int(np.prod(shapes[s.name], dtype=np.int64))
        radices += [s.domain.row.n_states(domain_args[s.name])] * size
        slots.append((s, size))
    total = int(np.prod(radices, dtype=np.int64)) if radices else 1
    idx = np.arange(total, dtype=np.int64)
    digits = np.zeros((total, len(radices)), np.int32)
    for j in range(len(radices) - 1, -1, -1):
        digits[:, j] = idx % radices[j]
        idx //= radices[j]
    out, col = {}, 0
    for s, size in slots:
        d = digits[:, col: col + size].reshape((total,) + tuple(shapes[s.name]))
        col += size
        row = s.domain.row
        states = np.asarray(row.states(domain_args[s.name]))[d]  # digit i -> the i-th state
        out[s.name] = jnp.asarray(states, jnp.int32 if row.integer else float_dtype())
    return out, total
