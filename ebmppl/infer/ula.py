"""The unadjusted Langevin algorithm (ULA).

z' = z + ε ∇log p(z) + sqrt(2 ε) ξ, always accepted. It is cheap (one
gradient a step) and **biased**: it samples a distribution that differs from p
by O(ε). Use it for fast approximate samples, negative phases in training, or
as a check; use MALA or NUTS for exact answers. The step is fixed, or a
schedule ``step_size(i)`` (e.g. an optax schedule) over iterations.

A proposal with a non-finite log density or gradient is not taken (the chain
stays put) and is counted as divergent, so no draw is ever NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .kernel import EbmKernel

BIAS_NOTE = ("ULA is unadjusted: its draws come from an O(step size) approximation of the model, "
             "not the model itself; use mala or nuts for exact answers.")


def init(z, logdensity_and_grad):
    """The chain state at z: (z, log density, gradient)."""
    lp, grad = logdensity_and_grad(z)
    return z, lp, grad


def draw(key, z):
    """One step's random numbers: N(0, I) noise shaped like z."""
    return jax.random.normal(key, z.shape, z.dtype)


def step(key, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One ULA transition."""
    return step_with(draw(key, z), z, lp, grad, logdensity_and_grad, step_size, inv_mass)


def step_with(noise, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One ULA transition with its noise given (``draw``)."""
    prop = z + step_size * inv_mass * grad + jnp.sqrt(2.0 * step_size * inv_mass) * noise
    lp_p, grad_p = logdensity_and_grad(prop)
    finite = jnp.isfinite(lp_p) & jnp.all(jnp.isfinite(grad_p))
    return (jnp.where(finite, prop, z), jnp.where(finite, lp_p, lp), jnp.where(finite, grad_p, grad),
            finite.astype(lp.dtype), ~finite)


class ULA(EbmKernel):
    """ULA as a ``numpyro.infer.mcmc.MCMCKernel``; ``step_size`` is a float or a callable of the iteration."""

    note = BIAS_NOTE

    def __init__(self, target, step_size=0.01, discrete=None):
        schedule = step_size if callable(step_size) else None
        super().__init__(target, step_with, step_size=0.01 if schedule else step_size, adapt_step=False,
                         adapt_mass=False, discrete=discrete, schedule=schedule, draw=draw)
