"""What a fitted energy is used for without its partition function: anomaly scores and thresholds,
Langevin denoising, and classification with energies E(x, y).

Each works on free energies or gradients, so no log Z is estimated (:mod:`ebmppl.partition` has those). Params
and rows are checked where they enter (:mod:`ebmppl.infer.values`), and a row whose free energy is NaN or −inf is
an ``error[data]`` naming it, never a NaN score.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

from .errors import EbmError
from .infer.options import prng_key
from .infer.values import check_params, check_values
from .model.admit import require
from .partition.improper import check_rows
from .settings import ensure_compile_cache, float_dtype

__all__ = ["anomaly_score", "anomaly_threshold", "denoise", "classify"]


def _rows(data: dict, skip=None) -> dict:
    return {k: jnp.asarray(v, float_dtype()) for k, v in data.items() if k != skip}


def anomaly_score(model, params, data: dict) -> np.ndarray:
    """One score per row: the free energy F(x) (higher = less likely under the model)."""
    ensure_compile_cache()
    check_params(model, params)
    check_values(model, data, model.random, "data", chain_axis=True, others=True)
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    scores = np.asarray(f(_rows(data)))
    check_rows(scores)
    return scores


def anomaly_threshold(model, params, held_out: dict, false_alarm: float = 0.01) -> float:
    """The score above which a held-out (normal) row is flagged with probability ``false_alarm``."""
    false_alarm = require(false_alarm, "unit", what="false_alarm=")
    return float(np.quantile(anomaly_score(model, params, held_out), 1 - false_alarm))


def on_the_real_line(spec) -> bool:
    """True when a variable's domain is all of ℝ (its constraint is the real line), so a step in its raw
    values never leaves it. A domain with arguments (an interval) never is."""
    row = spec.domain.row
    return row.continuous and row.arity == 0 and row.constraint(()) == constraints.real


def denoise(model, params, x_noisy: dict, steps: int = 200, step_size: float = 1e-3, temperature_from: float = 1.0,
            key=0) -> dict:
    """Annealed Langevin toward high density: x ← x + ε ∇log p(x) + sqrt(2 ε T_t) ξ, with the
    temperature T_t falling geometrically from ``temperature_from`` to ~0, for every row at once.
    Real-valued vars only; returns the cleaned rows (same keys and shapes)."""
    bad = [s for s in model.vars if not on_the_real_line(s)]
    if bad or model.latents:
        raise EbmError("logz", "denoise moves real-valued vars of a model without latents",
                       (bad[0].span if bad else model.latents[0].span))
    ensure_compile_cache()
    check_params(model, params)
    check_values(model, x_noisy, model.vars, "x_noisy", chain_axis=True, others=True)
    steps = require(steps, "size", what="steps=")
    step_size = require(step_size, "positive", what="step_size=")
    temperature_from = require(temperature_from, "positive", what="temperature_from=")
    names = [s.name for s in model.vars]
    temps = temperature_from * jnp.geomspace(1.0, 1e-4, steps)

    def one(row, k):
        def body(v, inp):
            t, kk = inp
            g = jax.grad(lambda v: -model.energy(params, v))(v)
            noise = {n: jax.random.normal(kn, jnp.shape(v[n]), float_dtype())
                     for n, kn in zip(names, jax.random.split(kk, len(names)))}
            v = {n: v[n] + step_size * g[n] + jnp.sqrt(2 * step_size * t) * noise[n] for n in names}
            return v, None
        out, _ = jax.lax.scan(body, row, (temps, jax.random.split(k, steps)))
        return out

    rows = {n: jnp.asarray(x_noisy[n], float_dtype()) for n in names}
    n_rows = rows[names[0]].shape[0]
    out = jax.jit(jax.vmap(one))(rows, jax.random.split(prng_key(key), n_rows))
    return {n: np.asarray(v) for n, v in out.items()}


def classify(model, params, x: dict, label: str = "y") -> np.ndarray:
    """p(label = k | x) for every row, exactly: softmax over k of −F(x, k) (energies E(x, y), JEM-style)."""
    spec = model.spec(label)
    row = spec.domain.row
    if not (row.finite and row.integer):  # labels 0..K-1: a categorical var
        raise EbmError("logz", f"'{label}' must be a categorical var to classify", spec.span)
    ensure_compile_cache()
    check_params(model, params)
    check_values(model, x, model.random, "x", chain_axis=True, others=True)
    k = row.n_states(model.lowered.domain_args[label])
    rows = _rows(x, skip=label)
    free = np.asarray(jax.jit(jax.vmap(lambda r: jax.vmap(
        lambda c: model.free_energy(params, {**r, label: c}))(jnp.arange(k))))(rows))
    check_rows(free)
    never = np.flatnonzero(np.all(free == np.inf, axis=-1))
    if len(never):
        raise EbmError("data", f"x row {int(never[0])} (counting from 0) has energy +inf with every value of "
                               f"'{label}': no class is possible there", spec.span)
    return np.asarray(jax.nn.softmax(-jnp.asarray(free), axis=-1))
