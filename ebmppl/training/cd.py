"""Contrastive divergence (CD-k) and persistent CD (PCD).

The gradient of the negative log-likelihood is E_data[∇F] − E_model[∇F]; the
model expectation comes from negative samples:

- ``cd``: k steps of a kernel started at the data batch;
- ``pcd``: persistent chains carried across steps (``chains``, default the
  batch size), or a replay buffer (``buffer_size``; each step restarts a
  ``reinit_prob`` fraction of the drawn chains from noise).

Binary/spin/categorical models move by block Gibbs on the joint of vars and
latents (the Gibbs kernel's sweep, latent blocks first); real-valued models by
Langevin (``sampler="ula"``, default) or MALA steps with ``step_size``. An
optional ``alpha`` adds α(E_pos² + E_neg²) to keep energies bounded.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..config import float_dtype
from ..errors import EbmError
from ..infer import gibbs as G
from ..infer import mala as M
from ..infer import ula as U
from ..infer.target import Target
from .loop import Objective


def _discrete_sweeper(problem):
    model = problem.model
    target = Target(model)
    if target.cont:
        raise EbmError("fit", "cd/pcd need all variables discrete or all real; this model mixes them",
                       target.cont[0].span)
    lay = G.layout(target)
    blocks = G.find_blocks(target, lay)
    latent = {s.name for s in model.latents}
    names = np.concatenate([np.full(s, n, dtype=object) for n, s in zip(lay.names, lay.sizes)])
    order = sorted(range(len(blocks.blocks)), key=lambda i: not any(names[j] in latent for j in blocks.blocks[i]))
    blocks = G.Blocks(tuple(blocks.blocks[i] for i in order), tuple(blocks.affine[i] for i in order),
                      blocks.categorical)

    sizes = [len(b) for b in blocks.blocks]
    cuts = np.cumsum(sizes)[:-1].tolist()

    two_state = len(blocks.categorical) == 0

    def uniforms(key, n, k):
        """The uniforms of k sweeps of n chains of two-state blocks, in one draw."""
        return jax.random.uniform(key, (k, n, sum(sizes)), float_dtype())

    def sweeps_with(params, u, d):
        """Sweeps of every chain in ``d`` (a leading chain axis) by the uniforms ``u`` (two-state blocks)."""
        sweep = G.make_sweep(lay, blocks, lambda z, d: model.energy(params, d))
        z = jnp.zeros((0,), float_dtype())

        def body(d, u_k):
            us = jnp.split(u_k, cuts, axis=1)
            return jax.vmap(lambda us_i, d_i: sweep.with_uniforms(us_i, z, d_i))(us, d), None
        return jax.lax.scan(body, d, u)[0]

    def sweeps(params, key, d, k):
        """k sweeps of every chain in the batch ``d`` (a leading chain axis)."""
        n = next(iter(d.values())).shape[0]
        if two_state:
            return sweeps_with(params, uniforms(key, n, k), d)
        sweep = G.make_sweep(lay, blocks, lambda z, d: model.energy(params, d))
        z = jnp.zeros((0,), float_dtype())

        def one_chain(kk, d):
            def body(d, k2):
                return sweep(k2, z, d)[0], None
            return jax.lax.scan(body, d, jax.random.split(kk, k))[0]
        return jax.vmap(one_chain)(jax.random.split(key, n), d)

    def random_state(key, n):
        return jax.vmap(target.random_discrete)(jax.random.split(key, n))
    # persistent two-state chains can take their uniforms pre-drawn (the loop draws a block of steps at once)
    return sweeps, random_state, target, ((uniforms, sweeps_with) if two_state else None)


def _continuous_mover(problem, sampler, step_size):
    problem.require_real("cd/pcd with continuous variables")
    if problem.model.latents:
        raise EbmError("fit", "cd/pcd on real variables cannot have latents", problem.model.latents[0].span)
    core = {"ula": U.step, "mala": M.step}.get(sampler)
    if core is None:
        raise EbmError("fit", f"unknown sampler '{sampler}' for cd/pcd", hint="choose ula or mala")

    def moves(params, key, v, k):
        def ld(u):
            return jax.value_and_grad(lambda u: -problem.flat_energy(params, u))(u)

        def one(v, kk):
            lp, g = ld(v)
            v, _, _, _, _ = core(kk, v, lp, g, ld, step_size, jnp.ones_like(v))
            return v, None
        v, _ = jax.lax.scan(one, v, jax.random.split(key, k))
        return v
    return moves


def cd_objective(problem, data, k: int = 1, persistent: bool = False, chains=None, sampler: str = "ula",
                 step_size: float = 0.01, alpha: float = 0.0, buffer_size=None, reinit_prob: float = 0.05,
                 batch_size: int = 256) -> Objective:
    k = int(k)
    if k < 1:
        raise EbmError("fit", "k (sampler steps per update) must be at least 1")
    if not persistent and (chains is not None or buffer_size is not None):
        raise EbmError("fit", "chains and buffer_size are pcd options; cd restarts its chains at the data",
                       hint="use method='pcd'")
    if buffer_size is not None and chains is not None and int(buffer_size) < int(chains):
        raise EbmError("fit", f"buffer_size ({buffer_size}) must be at least chains ({chains})")
    if persistent and buffer_size is not None and chains is None and int(buffer_size) < batch_size:
        chains = buffer_size
    discrete = all(s.domain.discrete for s in problem.model.random)
    latent_names = [s.name for s in problem.model.latents]
    n_chains = int(chains or batch_size)

    if discrete:
        sweeps, random_state, target, predrawn = _discrete_sweeper(problem)

        def negatives(params, key, start):
            return sweeps(params, key, start, k)

        def start_from(batch, key):
            d = dict(batch)
            if latent_names:
                lat = random_state(key, next(iter(batch.values())).shape[0])
                d.update({n: lat[n] for n in latent_names})
            return d

        def noise(key, n):
            return random_state(key, n)
    else:
        moves = _continuous_mover(problem, sampler, step_size)
        flat = jax.vmap(problem.flatten)(data)
        lo, hi = jnp.min(flat, axis=0), jnp.max(flat, axis=0)

        def negatives(params, key, start):
            v = jax.vmap(problem.flatten)(start)
            keys = jax.random.split(key, v.shape[0])
            v = jax.vmap(lambda vv, kk: moves(params, kk, vv, k))(v, keys)
            return jax.vmap(problem.unflatten)(v)

        def start_from(batch, key):
            return dict(batch)

        def noise(key, n):
            u = jax.random.uniform(key, (n, lo.shape[0]), lo.dtype)
            return jax.vmap(problem.unflatten)(lo + (hi - lo) * u)

    vis = problem.vars

    def energy_terms(params, pos, neg):
        # one energy evaluation of the data and the negatives stacked: on a CPU a small step pays per op, and
        # the gradient's matrix products then have twice the rows instead of being done twice
        rows = next(iter(pos.values())).shape[0]
        both = {n: jnp.concatenate([jnp.asarray(pos[n], float_dtype()),
                                    jax.lax.stop_gradient(jnp.asarray(neg[n], float_dtype()))]) for n in vis}
        e = problem.energies(params, both)
        e_pos, e_neg = e[:rows], e[rows:]
        value = jnp.mean(e_pos) - jnp.mean(e_neg)
        if alpha:
            value = value + alpha * (jnp.mean(e_pos ** 2) + jnp.mean(e_neg ** 2))
        return value, {"e_pos": jnp.mean(e_pos), "e_neg": jnp.mean(e_neg)}

    if not persistent:
        def loss(params, batch, key, state):
            k1, k2 = jax.random.split(key)
            neg = negatives(params, k2, start_from(batch, k1))
            value, aux = energy_terms(params, batch, neg)
            return value, (state, aux)
        return Objective(loss)

    size = int(buffer_size or n_chains)

    def init_state(key, data):
        return noise(key, size)

    if buffer_size is None and discrete and predrawn is not None:
        # persistent two-state chains: the step's randomness is the sweeps' uniforms, drawn by the loop
        uniforms, sweeps_with = predrawn

        def draw(key, rows):
            return uniforms(key, size, k)

        def loss_u(params, batch, u, state):
            neg = sweeps_with(params, u, state)
            value, aux = energy_terms(params, batch, neg)
            return value, (jax.tree_util.tree_map(jax.lax.stop_gradient, neg), aux)
        return Objective(loss_u, init_state=init_state, draw=draw)

    def loss(params, batch, key, state):
        if buffer_size is None:  # persistent chains: all of them move, by the step's key
            neg = negatives(params, key, state)
            value, aux = energy_terms(params, batch, neg)
            return value, (jax.tree_util.tree_map(jax.lax.stop_gradient, neg), aux)
        k_pick, k_reinit, k_noise, k_move = jax.random.split(key, 4)
        idx = jax.random.choice(k_pick, size, (n_chains,), replace=False)
        start = jax.tree_util.tree_map(lambda a: a[idx], state)
        if reinit_prob > 0:
            fresh = noise(k_noise, idx.shape[0])
            re = jax.random.uniform(k_reinit, (idx.shape[0],)) < reinit_prob
            start = jax.tree_util.tree_map(
                lambda a, b: jnp.where(re.reshape((-1,) + (1,) * (a.ndim - 1)), b, a), start, fresh)
        neg = negatives(params, k_move, start)
        new_state = jax.tree_util.tree_map(lambda s, n: s.at[idx].set(jax.lax.stop_gradient(n)), state, neg)
        value, aux = energy_terms(params, batch, neg)
        return value, (new_state, aux)
    return Objective(loss, init_state=init_state)
