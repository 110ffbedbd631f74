"""Replica exchange (parallel tempering): K copies of a chain on the energy scaled by inverse temperatures
1 = β_0 > β_1 > ... > β_{K-1} = 1/T_max, moved by a base kernel and swapped between neighbours.

Each replica k targets p_k(z) ∝ exp(-β_k E(x(z))) |det ∂x/∂z| on the unconstrained space: the energy is
tempered, the change of variables is not, so every p_k is the law of x under exp(-β_k E) pushed to z.
A step moves every replica with the base kernel at its own β (MALA for continuous variables, with its
own adapted step size and preconditioner; a Gibbs sweep or Gibbs-with-gradients for discrete ones),
then proposes swapping the states of neighbours (k, k+1) with the Metropolis–Hastings probability
min(1, exp((β_k - β_{k+1}) (E_k - E_{k+1}))). Swaps alternate between even and odd pairs
(the non-reversible "DEO" scheme of Syed et al. 2022, JRSS B), so a state can travel the whole ladder in K
steps. Only the β = 1 replica is recorded.

The ladder starts geometric between 1 and 1/T_max. During the first half of warmup it is adapted toward
equal swap rates between neighbours (Syed et al. 2022, section 5.2): after each of a few rounds of
doubling length, the rejection rates r_k estimate the local communication barrier Λ(β) (piecewise linear,
Λ(β_{k+1}) - Λ(β_k) = r_k), and the new β's are its quantiles at equal spacing. Swap acceptance is
recorded as the expected value min(1, ·) for every pair at every step (attempted or not), so each pair's
rate is estimated from all draws.

Example::

    idata = ebmppl.sample(model, sampler="pt", chains=4, temperatures=8, max_temperature=20.0)
    idata.sample_stats["swap_acceptance_rate"].mean(("chain", "draw"))  # one rate per neighbour pair
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.mcmc import MCMCKernel

from .base import State
from .gibbs import Sweep, make_sweep
from .kernel import EbmKernel

ROUNDS = 6  # ladder adaptation rounds, of doubling length, in the first half of warmup


class Replicas(NamedTuple):
    """The K replicas of one chain, stacked on axis 0; slot k always runs at β_k (states move, slots stay)."""

    z: Any  # (K, D) unconstrained continuous values
    d: dict  # discrete values, each (K, ...)
    logdensity: Any  # (K,) the tempered log density at each slot's β
    grad: Any  # (K, D) its gradient
    energy: Any  # (K,) E(x(z), d), untempered
    energy_grad: Any  # (K, D) ∇_z E: with it a state's density at another β is two multiply-adds
    step_size: Any  # (K,) each slot's adapted MALA step size
    inv_mass: Any  # (K, D)
    da: tuple  # each slot's dual-averaging state
    welford: tuple
    accept_prob: Any  # (K,) the last move's acceptance probability
    diverging: Any  # (K,)


class PTState(NamedTuple):
    """One chain of parallel tempering: its replicas and ladder, and the β = 1 replica's fields that
    ``numpyro.infer.MCMC`` records."""

    position: dict  # the β = 1 replica's {"z", "d"}: the draws
    logdensity: Any  # the β = 1 replica's log density
    accept_prob: Any  # the β = 1 replica's base-move acceptance probability
    diverging: Any
    step_size: Any
    discrete_accept: Any
    swap_accept: Any  # (K-1,) swap acceptance probability of each neighbour pair at this step
    replicas: Replicas
    betas: Any  # (K,) decreasing from 1
    rejections: Any  # (K-1,) summed 1 - swap acceptance in the current adaptation round
    i: Any
    rng_key: Any


def geometric_ladder(temperatures: int, max_temperature: float) -> np.ndarray:
    """β_k = T_max^(-k/(K-1)), k = 0..K-1: temperatures in geometric progression from 1 to T_max."""
    if temperatures == 1:
        return np.ones(1)
    return float(max_temperature) ** (-np.arange(temperatures) / (temperatures - 1))


def equalized_ladder(betas, rejections):
    """The β's (same endpoints, same count) at which the swap rejection rates would be equal, from the
    rates ``rejections`` (K-1) observed on the ladder ``betas`` (K, decreasing): the quantiles of the
    piecewise-linear communication barrier Λ (Syed et al. 2022, algorithm 4)."""
    k = betas.shape[0]
    lam = jnp.concatenate([jnp.zeros(1, betas.dtype), jnp.cumsum(rejections[::-1] + 1e-3)])  # over rising β
    grid = jnp.linspace(0.0, 1.0, k, dtype=betas.dtype) * lam[-1]
    new = jnp.interp(grid, lam, betas[::-1])[::-1]
    return new.at[0].set(betas[0]).at[-1].set(betas[-1])


def round_ends(warmup: int) -> np.ndarray:
    """The iterations at whose start the ladder is updated: the ends of rounds of doubling length, the last at
    half of warmup (rounds shorter than 8 iterations are merged into the next)."""
    half = warmup // 2
    return np.asarray(sorted(e for e in {half >> m for m in range(ROUNDS)} if e >= 8), dtype=np.int32)


class ParallelTempering(MCMCKernel):
    """Replica exchange around an :class:`~ebmppl.infer.kernel.EbmKernel` (MALA, or a discrete-only
    Gibbs/GWG kernel), as a ``numpyro.infer.mcmc.MCMCKernel``.

    Args:
        base: the base kernel; its continuous core, discrete move and adaptation settings are used for
            every replica (each replica adapts its own step size and preconditioner).
        temperatures: the number of replicas K.
        max_temperature: the hottest replica's temperature T_max = 1/β_{K-1}.
        adapt_ladder: adapt the β's during warmup toward equal swap rates.
    """

    sample_field = "position"

    def __init__(self, base: EbmKernel, temperatures: int = 8, max_temperature: float = 10.0,
                 adapt_ladder: bool = True):
        self.base = base
        self.target = base.target
        self.temperatures = int(temperatures)
        self.max_temperature = float(max_temperature)
        self.adapt_ladder = adapt_ladder and self.temperatures > 2
        self.num_warmup = 0
        self._ends = np.zeros(0, np.int32)
        self.note = None

    @property
    def default_fields(self):
        return ("position",)

    def postprocess_fn(self, model_args, model_kwargs):
        return lambda x: x

    def get_diagnostics_str(self, state):
        least = float(jnp.min(state.swap_accept)) if self.temperatures > 1 else 1.0
        return f"swap acc. {least:.2f} (least)"

    # ------------------------------------------------------------ densities at β
    def _ld_and_grad(self, d, beta):
        """log p_β(z) = log p(z) + (1 - β) E(x(z)) (the log density is -E + log|J|) and its gradient."""
        t = self.target
        return jax.value_and_grad(lambda z: t.logdensity(z, d) + (1.0 - beta) * t.energy_of(z, d))

    def _discrete_at(self, beta):
        """The base kernel's discrete move on the energy β E."""
        move = self.base.discrete
        scaled = _ScaledEnergy(self.target, beta)
        if isinstance(move, Sweep):  # a Gibbs sweep: the same blocks, the scaled energy
            return make_sweep(move.layout, move.blocks, scaled.energy_of)
        tempered = copy.copy(move)  # Gibbs-with-gradients reads target.energy_of
        tempered.target = scaled
        return tempered

    # ------------------------------------------------------------ init
    def init(self, rng_key, num_warmup, init_params, model_args=(), model_kwargs=None):
        self.num_warmup = int(num_warmup)
        self.base.num_warmup = int(num_warmup)
        self._ends = round_ends(self.num_warmup) if self.adapt_ladder else np.zeros(0, np.int32)
        batched = jnp.ndim(init_params["z"]) == 2
        fn = jax.vmap(self._init_one) if batched else self._init_one
        return jax.jit(fn)(rng_key, init_params)

    def _init_one(self, rng_key, init_params) -> PTState:
        K = self.temperatures
        z1, d1 = init_params["z"], init_params["d"]
        # every replica starts at the chain's starting point
        z = jnp.broadcast_to(z1, (K,) + z1.shape)
        d = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (K,) + a.shape), d1)
        dtype = z1.dtype
        betas = jnp.asarray(geometric_ladder(K, self.max_temperature), dtype)
        one = jax.vmap(self.base._init_one, in_axes=(None, 0))(rng_key, {"z": z, "d": d})
        lp, grad = jax.vmap(self._lp_grad)(z, d, betas)
        energy, energy_grad = jax.vmap(self._energy_parts)(z, d)
        reps = Replicas(z, d, lp, grad, energy, energy_grad, one.step_size, one.inv_mass, one.da, one.welford,
                        jnp.ones((K,), dtype), jnp.zeros((K,), bool))
        return PTState({"z": z1, "d": d1}, lp[0], jnp.ones((), dtype), jnp.zeros((), bool), one.step_size[0],
                       jnp.ones((), dtype), jnp.ones((K - 1,), dtype), reps, betas, jnp.zeros((K - 1,), dtype),
                       jnp.zeros((), jnp.int32), rng_key)

    def _lp_grad(self, z, d, beta):
        if self.target.dim == 0:
            return -beta * self.target.energy_of(z, d), z
        return self._ld_and_grad(d, beta)(z)

    def _energy_parts(self, z, d):
        """E and ∇_z E at a state (the untempered energy, through the target's own function): with them the
        state's tempered density at any other β is two multiply-adds, so swaps need no new gradient."""
        if self.target.dim == 0:
            return self.target.energy_of(z, d), z
        return jax.value_and_grad(self.target.energy_of)(z, d)

    # ------------------------------------------------------------ one step
    def sample(self, state: PTState, model_args=(), model_kwargs=None) -> PTState:
        batched = jnp.ndim(state.i) == 1  # vectorized chains: every chain is at the same iteration
        new = jax.vmap(self._step)(state) if batched else self._step(state)
        if not (len(self._ends) or (self.base.cont_step is not None and (self.base.adapt_step or
                                                                          self.base.adapt_mass))):
            return new
        # adaptation only during warmup: a real branch on one scalar for all chains, so draws do not pay for it
        adapt = jax.vmap(self._adapt_state) if batched else self._adapt_state
        return jax.lax.cond((state.i[0] if batched else state.i) < self.num_warmup, adapt, lambda s: s, new)

    def _step(self, state: PTState) -> PTState:
        """One transition of one chain: every replica's base move, then the neighbour swaps."""
        K = self.temperatures
        key, k_step = jax.random.split(state.rng_key)
        keys = jax.random.split(k_step, K + 1)
        reps, disc_acc = jax.vmap(self._move)(keys[:K], state.replicas, state.betas)
        reps, swap_p = self._swap(keys[K], reps, state.betas, state.i)
        return state._replace(position={"z": reps.z[0], "d": jax.tree_util.tree_map(lambda a: a[0], reps.d)},
                              logdensity=reps.logdensity[0], accept_prob=reps.accept_prob[0],
                              diverging=reps.diverging[0], discrete_accept=disc_acc[0], swap_accept=swap_p,
                              replicas=reps, rejections=state.rejections + (1.0 - swap_p), i=state.i + 1,
                              rng_key=key)

    def _move(self, key, rep: Replicas, beta):
        """One base-kernel transition of one replica at β: the continuous move, then the discrete one."""
        base = self.base
        z, d, lp, grad = rep.z, rep.d, rep.logdensity, rep.grad
        accept, diverging, disc_acc = rep.accept_prob, jnp.zeros((), bool), jnp.ones((), lp.dtype)
        k_cont, k_disc = jax.random.split(key)
        if base.cont_step is not None:
            inv_mass = rep.inv_mass if base.adapt_mass else jnp.ones((), lp.dtype)
            (z, lp, grad), info = base.cont_step(base.draw(k_cont, z), State(z, lp, grad), self._ld_and_grad(d, beta),
                                                 rep.step_size, inv_mass)
            accept, diverging = info.acceptance_rate, info.diverging
        if base.discrete is not None:
            d, disc_acc = self._discrete_at(beta)(k_disc, z, d)
            lp, grad = self._lp_grad(z, d, beta)
        energy, energy_grad = self._energy_parts(z, d)
        return rep._replace(z=z, d=d, logdensity=lp, grad=grad, energy=energy, energy_grad=energy_grad,
                            accept_prob=accept, diverging=diverging), disc_acc

    def _swap(self, key, reps: Replicas, betas, i):
        """Neighbour swaps of the even (i even) or odd pairs; returns the replicas and every pair's swap
        acceptance probability."""
        K = self.temperatures
        e = reps.energy
        log_ratio = (betas[:-1] - betas[1:]) * (e[:-1] - e[1:])
        p = jnp.where(jnp.isfinite(log_ratio), jnp.exp(jnp.minimum(log_ratio, 0.0)), 0.0)
        pairs = jnp.arange(K - 1)
        swapped = (pairs % 2 == i % 2) & (jax.random.uniform(key, (K - 1,), p.dtype) < p)
        no = jnp.zeros((1,), bool)
        up, down = jnp.concatenate([swapped, no]), jnp.concatenate([no, swapped])
        perm = jnp.arange(K) + up.astype(jnp.int32) - down.astype(jnp.int32)
        return _retemper(reps, perm, betas, betas), p

    def _adapt_state(self, state: PTState) -> PTState:
        """Warmup adaptation after iteration ``state.i - 1``: each slot's step size (and preconditioner), as the
        base kernel adapts one chain, and the ladder at the end of a round."""
        base, reps = self.base, state.replicas
        if base.cont_step is not None and (base.adapt_step or base.adapt_mass):
            step, inv_mass, da, wf = jax.vmap(base._adapt, in_axes=(None, 0, 0, 0, 0, 0, 0))(
                state.i - 1, reps.z, reps.accept_prob, reps.step_size, reps.inv_mass, reps.da, reps.welford)
            reps = reps._replace(step_size=step, inv_mass=inv_mass, da=da, welford=wf)
        betas, rejections = state.betas, state.rejections
        if len(self._ends):
            betas, rejections = self._adapt_ladder(betas, rejections, state.i)
            reps = _retemper(reps, jnp.arange(self.temperatures), state.betas, betas)
        return state._replace(replicas=reps, betas=betas, rejections=rejections, step_size=reps.step_size[0])

    def _adapt_ladder(self, betas, rejections, i):
        """If a round ends before iteration ``i``: the equalized ladder from the round's mean rejection rates
        (over the iterations since the previous round's end); the sums restart."""
        ends = jnp.asarray(self._ends)
        at_end = jnp.any(i == ends)
        start = jnp.max(jnp.where(ends < i, ends, 0))  # the previous round's end (0 for the first round)
        n = jnp.maximum(i - start, 1).astype(betas.dtype)
        new = equalized_ladder(betas, rejections / n)
        return jnp.where(at_end, new, betas), jnp.where(at_end, 0.0, rejections)


def _retemper(reps: Replicas, perm, old_betas, betas) -> Replicas:
    """Slot k takes the state of slot ``perm[k]`` (which was at β = ``old_betas[perm[k]]``), its log density and
    gradient moved to β_k: log p_β = log p_β' + (β' − β) E, and likewise the gradient with ∇E."""
    moved = jax.tree_util.tree_map(lambda a: a[perm], (reps.z, reps.d, reps.logdensity, reps.grad, reps.energy,
                                                       reps.energy_grad))
    z, d, lp, grad, energy, energy_grad = moved
    shift = old_betas[perm] - betas
    return reps._replace(z=z, d=d, logdensity=lp + shift * energy, grad=grad + shift[:, None] * energy_grad,
                         energy=energy, energy_grad=energy_grad)


class _ScaledEnergy(NamedTuple):
    """A target's energy scaled by β, for the discrete moves (which read only ``energy_of``)."""

    target: Any
    beta: Any

    def energy_of(self, z, d):
        return self.beta * self.target.energy_of(z, d)
