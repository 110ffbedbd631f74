"""Random-walk Metropolis: perturb, accept with probability min(1, exp(−ΔE)).

z' = z + ε sqrt(M) ξ on the unconstrained space (the Jacobian of the
transforms is part of the log density); ε adapted during warmup toward 0.234
acceptance. It needs no gradient, so it works on energies that are not
differentiable; it mixes slowly in high dimension.
"""

from __future__ import annotations

import jax.numpy as jnp

from .kernel import EbmKernel, normal_and_uniform

TARGET_ACCEPT = 0.234


def init(z, logdensity_and_grad):
    """The chain state at z: (z, log density, gradient)."""
    lp, grad = logdensity_and_grad(z)
    return z, lp, grad


draw = normal_and_uniform  # one step's random numbers: (N(0, I) perturbation shaped like z, the acceptance uniform)


def step(key, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One random-walk Metropolis transition (``grad`` is carried along untouched)."""
    return step_with(draw(key, z), z, lp, grad, logdensity_and_grad, step_size, inv_mass)


def step_with(noise, z, lp, grad, logdensity_and_grad, step_size, inv_mass):
    """One random-walk Metropolis transition with its random numbers given (``draw``)."""
    xi, u = noise
    prop = z + step_size * jnp.sqrt(inv_mass) * xi
    lp_p, _ = logdensity_and_grad(prop)
    delta = lp_p - lp
    finite = jnp.isfinite(delta)
    accept_prob = jnp.where(finite, jnp.minimum(1.0, jnp.exp(jnp.minimum(delta, 0.0))), 0.0)
    accept = u < accept_prob
    return jnp.where(accept, prop, z), jnp.where(accept, lp_p, lp), grad, accept_prob, ~finite


class RWMH(EbmKernel):
    """Random-walk Metropolis as a ``numpyro.infer.mcmc.MCMCKernel``."""

    uses_gradient = False

    def __init__(self, target, step_size=0.5, target_accept=TARGET_ACCEPT, adapt_step=True, adapt_mass=True,
                 discrete=None):
        super().__init__(target, step_with, step_size=step_size, target_accept=target_accept,
                         adapt_step=adapt_step, adapt_mass=adapt_mass, discrete=discrete, draw=draw)
