"""Gibbs-with-gradients (Grathwohl et al., 2021) for binary and spin variables.

Each step proposes flipping one element, chosen with probabilities
softmax(−(∂E/∂x_i)·Δx_i / 2) — a first-order estimate of each flip's energy
change — and accepts with the Metropolis–Hastings ratio, so the chain is
exact. It suits binary models without a simple block structure, where a
block sampler would update one element at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..config import float_dtype
from ..errors import EbmError
from .gibbs import layout


def build_update(target, steps: int | None = None):
    """The discrete core: ``update(key, z, d) -> (d, mean acceptance)``, ``steps`` flips a draw
    (default: one per element, a sweep's worth)."""
    lay = layout(target)
    bad = [n for n, k in zip(lay.names, lay.kinds) if k not in ("binary", "spin")]
    if bad:
        raise EbmError("sample", f"gwg moves binary and spin variables; '{bad[0]}' is categorical",
                       hint="use sampler='gibbs' for categorical variables")
    spin = jnp.asarray(lay.element_kinds() == "spin")
    n_steps = int(steps or max(1, lay.n))

    def energy_and_grad(z, x):
        return jax.value_and_grad(lambda x: target.energy_of(z, lay.unflatten(x)))(x)

    def flip_delta(x):
        return jnp.where(spin, -2.0 * x, 1.0 - 2.0 * x)

    def one(carry, key):
        x, e, g, z = carry
        k_i, k_u = jax.random.split(key)
        logits = -(g * flip_delta(x)) / 2.0
        i = jax.random.categorical(k_i, logits)
        x_new = x.at[i].add(flip_delta(x)[i])
        e_new, g_new = energy_and_grad(z, x_new)
        logits_new = -(g_new * flip_delta(x_new)) / 2.0
        log_acc = (e - e_new) + jax.nn.log_softmax(logits_new)[i] - jax.nn.log_softmax(logits)[i]
        acc = jnp.where(jnp.isfinite(log_acc), jnp.minimum(1.0, jnp.exp(jnp.minimum(log_acc, 0.0))), 0.0)
        take = jax.random.uniform(k_u) < acc
        x = jnp.where(take, x_new, x)
        e = jnp.where(take, e_new, e)
        g = jnp.where(take, g_new, g)
        return (x, e, g, z), acc

    def update(key, z, d):
        x = lay.flatten(d)
        e, g = energy_and_grad(z, x)
        (x, _, _, _), accs = jax.lax.scan(one, (x, e, g, z), jax.random.split(key, n_steps))
        return lay.unflatten(x), jnp.mean(accs).astype(float_dtype())

    update.layout = lay
    update.steps = n_steps
    return update
