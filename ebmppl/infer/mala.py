"""Metropolis-adjusted Langevin (MALA) with a diagonal preconditioner.

Proposal: z' = z + ε M ∇log p(z) + sqrt(2 ε M) ξ, accepted with the
Metropolis–Hastings ratio, so the chain targets p exactly. The step size is
adapted during warmup toward 0.574 acceptance (dual averaging); ``M`` may be
estimated from warmup (``adapt_mass=True``).

Core (BlackJAX style, pure)::

    new_z, new_lp, new_grad, accept_prob, diverging = step(key, z, lp, grad, logdensity_and_grad,
                                                           step_size, inv_mass)

``step`` is ``step_with(draw(key, z), ...)``: ``draw`` gives a step's random numbers (the N(0, I)
noise and the acceptance uniform), so a kernel can draw many steps' numbers in one call.
"""

from __future__ import annotations

import jax.numpy as jnp

from .kernel import EbmKernel, normal_and_uniform

TARGET_ACCEPT = 0.574


def _log_q(to, frm, grad_frm, drift, inv_var4):
    """log q(to | frm) up to a constant: a Gaussian with mean frm + drift * grad and variance 2 drift."""
    return -jnp.sum((to - frm - drift * grad_frm) ** 2 * inv_var4)


def init(z, logdensity_and_grad):
    """The chain state at z: (z, log density, gradient)."""
    lp, grad = logdensity_and_grad(z)
    return z, lp, grad


draw = normal_and_uniform  # one step's random numbers: (N(0, I) noise shaped like z, the acceptance uniform)


def step(key, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One MALA transition. Non-finite proposals are rejected and flagged as divergent."""
    return step_with(draw(key, z), z, lp, grad, logdensity_and_grad, step_size, inv_mass)


def step_with(noise, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One MALA transition with its random numbers given (``draw``)."""
    xi, u = noise
    drift = step_size * inv_mass  # per-coordinate scale, computed once a step
    noise_scale = jnp.sqrt(2.0 * drift)
    inv_var4 = 0.25 / drift
    prop = z + drift * grad + noise_scale * xi
    lp_p, grad_p = logdensity_and_grad(prop)
    log_ratio = lp_p - lp + _log_q(z, prop, grad_p, drift, inv_var4) - _log_q(prop, z, grad, drift, inv_var4)
    finite = jnp.isfinite(log_ratio) & jnp.all(jnp.isfinite(grad_p))
    accept_prob = jnp.where(finite, jnp.minimum(1.0, jnp.exp(jnp.minimum(log_ratio, 0.0))), 0.0)
    accept = u < accept_prob
    return (jnp.where(accept, prop, z), jnp.where(accept, lp_p, lp), jnp.where(accept, grad_p, grad),
            accept_prob, ~finite)


class MALA(EbmKernel):
    """MALA as a ``numpyro.infer.mcmc.MCMCKernel`` over a :class:`~ebmppl.infer.target.Target`.

    Args:
        target: the model's Target.
        step_size: the initial step size ε.
        target_accept: acceptance rate the warmup adapts ε toward (0.574).
        adapt_mass: estimate a diagonal preconditioner during warmup.
        discrete: a discrete sub-kernel (Gibbs) for mixed models.
    """

    def __init__(self, target, step_size=0.1, target_accept=TARGET_ACCEPT, adapt_step=True, adapt_mass=True,
                 discrete=None):
        super().__init__(target, step_with, step_size=step_size, target_accept=target_accept,
                         adapt_step=adapt_step, adapt_mass=adapt_mass, discrete=discrete, draw=draw)
