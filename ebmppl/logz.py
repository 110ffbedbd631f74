"""Partition functions: exact enumeration (with analytic sums over binary/spin
variables the energy is affine in).

log Z = log Σ_x exp(−E(x)) over every var and latent. The variables are split
into an enumerated set S and a summed set R such that the energy is affine in
R given S (checked on the jaxpr, as for free energies); then

    Z = Σ_S exp(−E(S, R=0)) Π_r (1 + exp(−g_r))   (binary r; 2 cosh g_r for spin),  g = ∂E/∂R at R = 0,

so a 64×16 RBM costs 2^16 terms, not 2^80.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from .config import float_dtype
from .errors import EbmError
from .model.lower import jaxpr_degree

EXACT_LIMIT = 2 ** 24


class LogZ(NamedTuple):
    """An estimate of log Z: value, standard error (0 when exact), method and a description."""

    value: float
    stderr: float
    method: str
    detail: str


def _states(low, spec) -> int:
    k = low.domain_args[spec.name][0] if spec.domain.kind == "categorical" else 2
    return k ** int(np.prod(low.shapes[spec.name], dtype=np.int64))


def plan_exact(model) -> tuple[list, list]:
    """(enumerated specs, analytically summed specs) minimizing the enumerated states."""
    low = model.lowered
    random = list(model.random)
    if not random:
        raise EbmError("logz", "the model has no vars or latents")
    cont = [s for s in random if s.domain.continuous]
    if cont:
        raise EbmError("logz", f"exact enumeration needs discrete variables; '{cont[0].name}' is continuous",
                       cont[0].span, "use method='quadrature' (1-2 dimensions) or 'ais'")
    unbounded = [s for s in random if s.domain.kind == "int"]
    if unbounded:
        raise EbmError("logz", f"'{unbounded[0].name}' is an unbounded int and cannot be enumerated",
                       unbounded[0].span)
    params = model.init_params(0)
    values = low.example_values()
    best = None
    two_state = [s for s in random if s.domain.kind in ("binary", "spin")]
    for r in range(len(two_state), -1, -1):
        for summed in itertools.combinations(two_state, r):
            enum = [s for s in random if s not in summed]
            cost = int(np.prod([_states(low, s) for s in enum], dtype=object)) if enum else 1
            if best is not None and cost >= best[0]:
                continue
            if summed and not _affine(low, params, values, [s.name for s in summed]):
                continue
            best = (cost, enum, list(summed))
        if best is not None and r and best[0] == 1:
            break
    cost, enum, summed = best
    if cost > EXACT_LIMIT:
        raise EbmError("logz", f"exact enumeration needs {cost:.3g} states (limit 2^24)",
                       hint="use method='ais'")
    return enum, summed


def _affine(low, params, values, names) -> bool:
    rest = {k: v for k, v in values.items() if k not in names}

    def f(*xs):
        return low.energy(params, {**rest, **dict(zip(names, xs))})
    closed = jax.make_jaxpr(f)(*[values[n] for n in names])
    (deg,) = jaxpr_degree(closed.jaxpr, [1] * len(names))
    return deg <= 1


def _configs(low, specs) -> dict:
    radices, slots = [], []
    for s in specs:
        size = int(np.prod(low.shapes[s.name], dtype=np.int64))
        k = low.domain_args[s.name][0] if s.domain.kind == "categorical" else 2
        radices += [k] * size
        slots.append((s, size))
    total = int(np.prod(radices, dtype=np.int64)) if radices else 1
    idx = np.arange(total, dtype=np.int64)
    digits = np.zeros((total, len(radices)), np.int32)
    for j in range(len(radices) - 1, -1, -1):
        digits[:, j] = idx % radices[j]
        idx //= radices[j]
    out, col = {}, 0
    for s, size in slots:
        d = digits[:, col: col + size].reshape((total,) + low.shapes[s.name])
        col += size
        if s.domain.kind == "spin":
            out[s.name] = jnp.asarray(2 * d - 1, float_dtype())
        elif s.domain.kind == "binary":
            out[s.name] = jnp.asarray(d, float_dtype())
        else:
            out[s.name] = jnp.asarray(d, jnp.int32)
    return out, total


def logz_exact(model, params=None, consts=None, chunk: int = 4096) -> LogZ:
    """log Z by enumeration, summing analytically over variables the energy is affine in."""
    low = model.lowered
    params = params if params is not None else model.init_params(0)
    enum, summed = plan_exact(model)
    configs, total = _configs(low, enum)

    def log_term(cfg):
        if not summed:
            return -low.energy(params, cfg, consts)
        r0 = {s.name: jnp.zeros(low.shapes[s.name], float_dtype()) for s in summed}
        e0, g = jax.value_and_grad(lambda r: low.energy(params, {**cfg, **r}, consts))(r0)
        out = -e0
        for s in summed:
            gs = g[s.name]
            out = out + (jnp.sum(jax.nn.softplus(-gs)) if s.domain.kind == "binary"
                         else jnp.sum(jnp.logaddexp(gs, -gs)))
        return out

    if enum:
        terms = jax.jit(lambda c: jax.lax.map(log_term, c, batch_size=min(chunk, total)))(configs)
    else:
        terms = jnp.atleast_1d(jax.jit(log_term)({}))
    value = float(logsumexp(terms))
    detail = (f"enumerated {total} states of {', '.join(s.name for s in enum) or 'nothing'}"
              + (f"; summed {', '.join(s.name for s in summed)} analytically" if summed else ""))
    return LogZ(value, 0.0, "exact", detail)


def log_likelihood(model, params, data: dict, logz: Optional[float] = None) -> np.ndarray:
    """Per-row log p(x) = −F(x) − log Z (free energies sum out latents)."""
    if logz is None:
        logz = logz_exact(model, params).value
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    return -np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in data.items()})) - logz
