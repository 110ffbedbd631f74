"""Random-walk Metropolis: perturb, accept with probability min(1, exp(−ΔE)).

z' = z + ε sqrt(M) ξ on the unconstrained space (the Jacobian of the
transforms is part of the log density); ε adapted during warmup toward 0.234
acceptance. It needs no gradient, so it works on energies that are not
differentiable; it mixes slowly in high dimension.

Core (BlackJAX's shape, pure; see :mod:`.base`)::

    state = init(z, logdensity_and_grad)
    state, info = step_with(draw(key, z), state, logdensity_and_grad, step_size, inv_mass)
"""

from __future__ import annotations

import jax.numpy as jnp

from .base import Info, State, init
from .kernel import EbmKernel
from .proposal import mh_accept, normal_and_uniform

__all__ = ["State", "Info", "init", "draw", "step_with", "RWMH", "TARGET_ACCEPT"]

TARGET_ACCEPT = 0.234

draw = normal_and_uniform  # one step's random numbers: (N(0, I) perturbation shaped like z, the acceptance uniform)


def step_with(numbers, state: State, logdensity_and_grad, step_size, inv_mass) -> tuple[State, Info]:
    """One random-walk Metropolis transition with its random numbers given (``draw``); the gradient
    is carried along untouched (the kernel passes a zero one)."""
    xi, u = numbers
    z, lp, grad = state
    prop = z + step_size * jnp.sqrt(inv_mass) * xi
    lp_p, _ = logdensity_and_grad(prop)
    delta = lp_p - lp
    finite = jnp.isfinite(delta)
    (z, lp), p, accepted = mh_accept(u, delta, finite, (prop, lp_p), (z, lp))
    return State(z, lp, grad), Info(p, accepted, ~finite)



class RWMH(EbmKernel):
    """Random-walk Metropolis as a ``numpyro.infer.mcmc.MCMCKernel``."""

    uses_gradient = False

    def __init__(self, target, step_size=0.5, target_accept=TARGET_ACCEPT, adapt_step=True, adapt_mass=True,
                 discrete=None):
        super().__init__(target, step_with, step_size=step_size, target_accept=target_accept,
                         adapt_step=adapt_step, adapt_mass=adapt_mass, discrete=discrete, draw=draw)
