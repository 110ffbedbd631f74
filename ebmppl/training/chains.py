"""The negative samples of contrastive divergence: chains moved by the model's own samplers.

Two movers with one interface (``start_from``, ``noise``, ``move``):

- :class:`GibbsChains`: binary, spin and categorical models, by block Gibbs sweeps over the joint of
  vars and latents (the Gibbs kernel's sweep, latent blocks first). When every block is two-state, a
  sweep's randomness is one uniform per element, drawn by ``draw`` and used by ``move_with``
  (:mod:`ebmppl.predraw`), so a trainer can draw a whole block of steps' uniforms at once;
- :class:`LangevinChains`: real-valued models, by Langevin (``ula``) or MALA steps of ``step_size``,
  the samplers' own cores; ``noise`` is uniform over the data's bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..settings import float_dtype
from ..errors import EbmError
from ..infer import gibbs as G
from ..infer import mala as M
from ..infer import ula as U
from ..infer.target import Target


@dataclass(frozen=True, eq=False)
class GibbsChains:
    """``k`` block Gibbs sweeps a move, for a model whose vars and latents are all discrete."""

    model: Any
    target: Target
    layout: G.DiscreteLayout
    blocks: G.Blocks
    latents: tuple  # the latents' names: a chain started at data draws them
    k: int

    @classmethod
    def build(cls, problem, k: int) -> "GibbsChains":
        model = problem.model
        target = Target(model)
        if target.cont:
            raise EbmError("fit", "cd/pcd need all variables discrete or all real; this model mixes them",
                           target.cont[0].span)
        lay = G.layout(target)
        blocks = G.find_blocks(target, lay)
        latent = {s.name for s in model.latents}
        names = np.concatenate([np.full(s, n, dtype=object) for n, s in zip(lay.names, lay.sizes)])
        # latent blocks first: a sweep from data then draws the latents given the data before moving the vars
        order = sorted(range(len(blocks.blocks)),
                       key=lambda i: not any(names[j] in latent for j in blocks.blocks[i]))
        blocks = G.Blocks(tuple(blocks.blocks[i] for i in order), tuple(blocks.affine[i] for i in order),
                          blocks.categorical)
        return cls(model, target, lay, blocks, tuple(s.name for s in model.latents), int(k))

    @property
    def two_state(self) -> bool:
        """Every block two-state: a move's randomness is its uniforms (``draw``, ``move_with``)."""
        return len(self.blocks.categorical) == 0

    def sweep(self, params) -> G.Sweep:
        """The Gibbs sweep of the energy at ``params``."""
        return G.make_sweep(self.layout, self.blocks, lambda z, d: self.model.energy(params, d))

    def draw(self, key, n: int):
        """The uniforms of one move of ``n`` chains, ``(k, n, elements)``: ``k`` sweeps of the two-state blocks,
        the numbers of :meth:`~ebmppl.infer.gibbs.Sweep.draw` kept in one array (split per sweep by
        ``move_with``, so a block of steps' uniforms is one array too)."""
        total = sum(len(b) for b in self.blocks.blocks)
        return jax.random.uniform(key, (self.k, n, total), float_dtype())

    def move_with(self, params, us, d) -> dict:
        """``k`` sweeps of every chain in ``d`` (a leading chain axis) by the uniforms ``us`` of ``draw``."""
        sweep = self.sweep(params)
        z = jnp.zeros((0,), float_dtype())
        cuts = np.cumsum([len(b) for b in self.blocks.blocks])[:-1].tolist()

        def body(d, u_k):
            us_k = jnp.split(u_k, cuts, axis=1)
            return jax.vmap(lambda us_i, d_i: sweep.step_with(us_i, z, d_i))(us_k, d), None
        return jax.lax.scan(body, d, us)[0]

    def move(self, params, key, d) -> dict:
        """``k`` sweeps of every chain in ``d`` (a leading chain axis), their numbers drawn from ``key``."""
        n = next(iter(d.values())).shape[0]
        if self.two_state:
            return self.move_with(params, self.draw(key, n), d)
        sweep = self.sweep(params)
        z = jnp.zeros((0,), float_dtype())

        def one_chain(kk, d):
            def body(d, k2):
                return sweep(k2, z, d)[0], None
            return jax.lax.scan(body, d, jax.random.split(kk, self.k))[0]
        return jax.vmap(one_chain)(jax.random.split(key, n), d)

    def start_from(self, batch, key) -> dict:
        """Chains at the data rows, with random latents."""
        d = dict(batch)
        if self.latents:
            lat = self.noise(key, next(iter(batch.values())).shape[0])
            d.update({n: lat[n] for n in self.latents})
        return d

    def noise(self, key, n: int) -> dict:
        """``n`` chains at uniformly random states."""
        return jax.vmap(self.target.random_discrete)(jax.random.split(key, n))


@dataclass(frozen=True, eq=False)
class LangevinChains:
    """``k`` Langevin (``ula``) or MALA steps a move, for a model of real-valued vars and no latents."""

    problem: Any
    core: Any  # the sampler's core module (mala or ula): draw, init, step_with
    step_size: float
    k: int
    lo: Any  # the data's bounding box, where noise starts chains
    hi: Any

    @classmethod
    def build(cls, problem, data, sampler: str, step_size: float, k: int) -> "LangevinChains":
        problem.require_real("cd/pcd with continuous variables")
        if problem.model.latents:
            raise EbmError("fit", "cd/pcd on real variables cannot have latents", problem.model.latents[0].span)
        core = {"ula": U, "mala": M}.get(sampler)
        if core is None:
            raise EbmError("fit", f"unknown sampler '{sampler}' for cd/pcd", hint="choose ula or mala")
        flat = jax.vmap(problem.flatten)(data)
        return cls(problem, core, step_size, int(k), jnp.min(flat, axis=0), jnp.max(flat, axis=0))

    def _moves(self, params, key, v):
        """``k`` steps of one chain at the flat vector ``v``."""
        def ld(u):
            return jax.value_and_grad(lambda u: -self.problem.flat_energy(params, u))(u)

        def one(v, kk):
            state, _ = self.core.step_with(self.core.draw(kk, v), self.core.init(v, ld), ld, self.step_size,
                                           jnp.ones_like(v))
            return state.position, None
        v, _ = jax.lax.scan(one, v, jax.random.split(key, self.k))
        return v

    def move(self, params, key, start) -> dict:
        """``k`` steps of every chain in ``start`` (a leading chain axis), one key a chain."""
        problem = self.problem
        v = jax.vmap(problem.flatten)(start)
        keys = jax.random.split(key, v.shape[0])
        v = jax.vmap(lambda vv, kk: self._moves(params, kk, vv))(v, keys)
        return jax.vmap(problem.unflatten)(v)

    def start_from(self, batch, key) -> dict:
        """Chains at the data rows."""
        return dict(batch)

    def noise(self, key, n: int) -> dict:
        """``n`` chains uniform over the data's bounding box."""
        u = jax.random.uniform(key, (n, self.lo.shape[0]), self.lo.dtype)
        return jax.vmap(self.problem.unflatten)(self.lo + (self.hi - self.lo) * u)
