"""Metropolis-adjusted Langevin (MALA) with a diagonal preconditioner.

Proposal: z' = z + ε M ∇log p(z) + sqrt(2 ε M) ξ, accepted with the
Metropolis–Hastings ratio (:mod:`.proposal`), so the chain targets p exactly.
The step size is adapted during warmup toward 0.574 acceptance (dual
averaging); ``M`` may be estimated from warmup (``adapt_mass=True``).

Core (BlackJAX's shape, pure; see :mod:`.base`)::

    state = init(z, logdensity_and_grad)
    state, info = step_with(draw(key, z), state, logdensity_and_grad, step_size, inv_mass)

``draw`` gives a step's random numbers (the N(0, I) noise and the acceptance uniform), so a kernel
can draw many steps' numbers in one call.
"""

from __future__ import annotations

import jax.numpy as jnp

from .base import Info, State, init
from .kernel import EbmKernel
from .proposal import mh_accept, normal_and_uniform

__all__ = ["State", "Info", "init", "draw", "step_with", "MALA", "TARGET_ACCEPT"]

TARGET_ACCEPT = 0.574

draw = normal_and_uniform  # one step's random numbers: (N(0, I) noise shaped like z, the acceptance uniform)


def _log_q(to, frm, grad_frm, drift, inv_var4):
    """log q(to | frm) up to a constant: a Gaussian with mean frm + drift * grad and variance 2 drift."""
    return -jnp.sum((to - frm - drift * grad_frm) ** 2 * inv_var4)


def step_with(numbers, state: State, logdensity_and_grad, step_size, inv_mass) -> tuple[State, Info]:
    """One MALA transition with its random numbers given (``draw``). Non-finite proposals are rejected
    and flagged as divergent."""
    xi, u = numbers
    z, lp, grad = state
    drift = step_size * inv_mass  # per-coordinate scale, computed once a step
    noise_scale = jnp.sqrt(2.0 * drift)
    inv_var4 = 0.25 / drift
    prop = z + drift * grad + noise_scale * xi
    lp_p, grad_p = logdensity_and_grad(prop)
    log_ratio = lp_p - lp + _log_q(z, prop, grad_p, drift, inv_var4) - _log_q(prop, z, grad, drift, inv_var4)
    finite = jnp.isfinite(log_ratio) & jnp.all(jnp.isfinite(grad_p))
    new, p, accepted = mh_accept(u, log_ratio, finite, State(prop, lp_p, grad_p), state)
    return new, Info(p, accepted, ~finite)



class MALA(EbmKernel):
    """MALA as a ``numpyro.infer.mcmc.MCMCKernel`` over a :class:`~ebmppl.infer.target.Target`.

    Args:
        target: the model's Target.
        step_size: the initial step size ε.
        target_accept: acceptance rate the warmup adapts ε toward (0.574).
        adapt_step: adapt ε during warmup.
        adapt_mass: estimate a diagonal preconditioner during warmup.
        discrete: a discrete sub-kernel (Gibbs) for mixed models.
    """

    def __init__(self, target, step_size=0.1, target_accept=TARGET_ACCEPT, adapt_step=True, adapt_mass=True,
                 discrete=None):
        super().__init__(target, step_with, step_size=step_size, target_accept=target_accept,
                         adapt_step=adapt_step, adapt_mass=adapt_mass, discrete=discrete, draw=draw)
