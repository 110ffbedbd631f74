"""Contrastive divergence (CD-k) and persistent CD (PCD).

The gradient of the negative log-likelihood is E_data[∇F] − E_model[∇F]; the
model expectation comes from negative samples:

- ``cd`` (:func:`cd_loss`): k steps of a kernel started at the data batch;
- ``pcd``: persistent chains carried across steps (``chains``, default the
  batch size; :func:`pcd_loss`, or :func:`pcd_predrawn` when the step's
  randomness is the Gibbs sweeps' uniforms), or a replay buffer
  (``buffer_size``; each step restarts a ``reinit_prob`` fraction of the
  drawn chains from noise; :func:`pcd_buffer`).

Binary/spin/categorical models move by block Gibbs on the joint of vars and
latents (the Gibbs kernel's sweep, latent blocks first); real-valued models by
Langevin (``sampler="ula"``, default) or MALA steps with ``step_size``
(:mod:`ebmppl.training.chains`). An optional ``alpha`` adds
α(E_pos² + E_neg²) to keep energies bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from ..settings import float_dtype
from ..errors import EbmError
from .chains import GibbsChains, LangevinChains
from .objective import Objective
from ..vocabulary import knob


@dataclass(frozen=True, eq=False)
class EnergyGap:
    """The CD loss of a batch and its negatives: E_pos − E_neg (+ α(E_pos² + E_neg²)), with both means as aux."""

    problem: Any
    alpha: float

    def __call__(self, params, pos, neg):
        # one energy evaluation of the data and the negatives stacked: on a CPU a small step pays per op, and
        # the gradient's matrix products then have twice the rows instead of being done twice
        rows = next(iter(pos.values())).shape[0]
        both = {n: jnp.concatenate([jnp.asarray(pos[n], float_dtype()),
                                    jax.lax.stop_gradient(jnp.asarray(neg[n], float_dtype()))])
                for n in self.problem.vars}
        e = self.problem.energies(params, both)
        e_pos, e_neg = e[:rows], e[rows:]
        value = jnp.mean(e_pos) - jnp.mean(e_neg)
        if self.alpha:
            value = value + self.alpha * (jnp.mean(e_pos ** 2) + jnp.mean(e_neg ** 2))
        return value, {"e_pos": jnp.mean(e_pos), "e_neg": jnp.mean(e_neg)}


def _frozen(tree):
    return jax.tree_util.tree_map(jax.lax.stop_gradient, tree)


def cd_loss(chains, gap: EnergyGap) -> Objective:
    """CD-k: the negatives are k moves of chains started at the batch."""
    def loss(params, batch, key, state):
        k1, k2 = jax.random.split(key)
        neg = chains.move(params, k2, chains.start_from(batch, k1))
        value, aux = gap(params, batch, neg)
        return value, (state, aux)
    return Objective(loss)


def pcd_loss(chains, gap: EnergyGap, size: int) -> Objective:
    """PCD: ``size`` persistent chains, all of them moved every step by the step's key."""
    def loss(params, batch, key, state):
        neg = chains.move(params, key, state)
        value, aux = gap(params, batch, neg)
        return value, (_frozen(neg), aux)
    return Objective(loss, init_state=lambda key, data: chains.noise(key, size))


def pcd_predrawn(chains: GibbsChains, gap: EnergyGap, size: int) -> Objective:
    """PCD of two-state Gibbs chains: the step's randomness is the sweeps' uniforms, which the loop draws
    (``draw``) for a block of steps at once."""
    def loss(params, batch, us, state):
        neg = chains.move_with(params, us, state)
        value, aux = gap(params, batch, neg)
        return value, (_frozen(neg), aux)
    return Objective(loss, init_state=lambda key, data: chains.noise(key, size),
                     draw=lambda key, rows: chains.draw(key, size))


def pcd_buffer(chains, gap: EnergyGap, size: int, n_chains: int, reinit_prob: float) -> Objective:
    """PCD from a replay buffer of ``size`` chains: each step moves ``n_chains`` drawn from it (a
    ``reinit_prob`` fraction restarted from noise) and writes them back."""
    def loss(params, batch, key, state):
        k_pick, k_reinit, k_noise, k_move = jax.random.split(key, 4)
        idx = jax.random.choice(k_pick, size, (n_chains,), replace=False)
        start = jax.tree_util.tree_map(lambda a: a[idx], state)
        if reinit_prob > 0:
            fresh = chains.noise(k_noise, idx.shape[0])
            re = jax.random.uniform(k_reinit, (idx.shape[0],)) < reinit_prob
            start = jax.tree_util.tree_map(
                lambda a, b: jnp.where(re.reshape((-1,) + (1,) * (a.ndim - 1)), b, a), start, fresh)
        neg = chains.move(params, k_move, start)
        new_state = jax.tree_util.tree_map(lambda s, n: s.at[idx].set(jax.lax.stop_gradient(n)), state, neg)
        value, aux = gap(params, batch, neg)
        return value, (new_state, aux)
    return Objective(loss, init_state=lambda key, data: chains.noise(key, size))


def cd_objective(problem, data, k: int = 1, persistent: bool = False, chains=None, sampler: str = "ula",
                 step_size: float = 0.01, alpha: float = 0.0, buffer_size=None, reinit_prob: float = 0.05,
                 batch_size: int = 256) -> Objective:
    """The ``cd`` (``persistent=False``) or ``pcd`` objective with its options (see the module docs)."""
    k = int(k)
    if k < 1:
        raise EbmError("fit", "k (sampler steps per update) must be at least 1")
    if not persistent and (chains is not None or buffer_size is not None):
        raise EbmError("fit", "chains and buffer_size are pcd options; cd restarts its chains at the data",
                       hint=f"use {knob('method', 'pcd')}")
    if buffer_size is not None and chains is not None and int(buffer_size) < int(chains):
        raise EbmError("fit", f"buffer_size ({buffer_size}) must be at least chains ({chains})")
    if persistent and buffer_size is not None and chains is None and int(buffer_size) < batch_size:
        chains = buffer_size
    n_chains = int(chains or batch_size)
    if all(s.domain.discrete for s in problem.model.random):
        movers = GibbsChains.build(problem, k)
    else:
        movers = LangevinChains.build(problem, data, sampler, step_size, k)
    gap = EnergyGap(problem, alpha)
    if not persistent:
        return cd_loss(movers, gap)
    size = int(buffer_size or n_chains)
    if buffer_size is not None:
        return pcd_buffer(movers, gap, size, n_chains, reinit_prob)
    if isinstance(movers, GibbsChains) and movers.two_state:
        return pcd_predrawn(movers, gap, size)
    return pcd_loss(movers, gap, size)
