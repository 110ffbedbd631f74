"""The one Metropolis–Hastings accept step, as BlackJAX's ``proposal.py`` keeps one for its kernels.

MALA, random-walk Metropolis and Gibbs-with-gradients compute their log acceptance ratio and hand it
here with the step's uniform: a proposal whose ratio (or gradient) is not finite is never taken.
MALA and random-walk Metropolis draw a step's numbers with :func:`normal_and_uniform`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def normal_and_uniform(key, z):
    """One Metropolis step's random numbers: (N(0, I) noise shaped like z, the acceptance uniform); the
    ``draw`` of MALA and random-walk Metropolis."""
    k_noise, k_accept = jax.random.split(key)
    return jax.random.normal(k_noise, z.shape, z.dtype), jax.random.uniform(k_accept, (), z.dtype)


def acceptance_probability(log_ratio, finite):
    """min(1, exp(log_ratio)), and 0 where the proposal is not ``finite``."""
    return jnp.where(finite, jnp.minimum(1.0, jnp.exp(jnp.minimum(log_ratio, 0.0))), 0.0)


def mh_accept(u, log_ratio, finite, proposed, current):
    """Accept ``proposed`` over ``current`` (pytrees of one structure) when ``u < acceptance``.

    Args:
        u: the step's uniform draw in [0, 1).
        log_ratio: log of the Metropolis–Hastings ratio (target and proposal densities).
        finite: whether the proposal is usable (its ratio and gradient finite).

    Returns:
        ``(chosen, acceptance probability, is_accepted)``.
    """
    p = acceptance_probability(log_ratio, finite)
    accepted = u < p
    chosen = jax.tree_util.tree_map(lambda new, old: jnp.where(accepted, new, old), proposed, current)
    return chosen, p, accepted
