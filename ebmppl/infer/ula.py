"""The unadjusted Langevin algorithm (ULA).

z' = z + ε ∇log p(z) + sqrt(2 ε) ξ, always accepted. It is cheap (one
gradient a step) and **biased**: it samples a distribution that differs from p
by O(ε). Use it for fast approximate samples, negative phases in training, or
as a check; use MALA or NUTS for exact answers. The step is fixed, or a
schedule ``step_size(i)`` (e.g. an optax schedule) over iterations.

A proposal with a non-finite log density or gradient is not taken (the chain
stays put) and is counted as divergent, so no draw is ever NaN.

Core (BlackJAX's shape, pure; see :mod:`.base`)::

    state = init(z, logdensity_and_grad)
    state, info = step_with(draw(key, z), state, logdensity_and_grad, step_size, inv_mass)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import Info, State, init
from .kernel import EbmKernel

__all__ = ["State", "Info", "init", "draw", "step_with", "ULA", "BIAS_NOTE"]

BIAS_NOTE = ("ULA is unadjusted: its draws come from an O(step size) approximation of the model, "
             "not the model itself; use mala or nuts for exact answers.")


def draw(key, z):
    """One step's random numbers: N(0, I) noise shaped like z."""
    return jax.random.normal(key, z.shape, z.dtype)


def step_with(noise, state: State, logdensity_and_grad, step_size, inv_mass) -> tuple[State, Info]:
    """One ULA transition with its noise given (``draw``); its acceptance is 1 when the proposal is finite."""
    z, lp, grad = state
    prop = z + step_size * inv_mass * grad + jnp.sqrt(2.0 * step_size * inv_mass) * noise
    lp_p, grad_p = logdensity_and_grad(prop)
    finite = jnp.isfinite(lp_p) & jnp.all(jnp.isfinite(grad_p))
    new = State(jnp.where(finite, prop, z), jnp.where(finite, lp_p, lp), jnp.where(finite, grad_p, grad))
    return new, Info(finite.astype(lp.dtype), finite, ~finite)



class ULA(EbmKernel):
    """ULA as a ``numpyro.infer.mcmc.MCMCKernel``; ``step_size`` is a float or a callable of the iteration."""

    note = BIAS_NOTE

    def __init__(self, target, step_size=0.01, discrete=None):
        schedule = step_size if callable(step_size) else None
        super().__init__(target, step_with, step_size=0.01 if schedule else step_size, adapt_step=False,
                         adapt_mass=False, discrete=discrete, schedule=schedule, draw=draw)
