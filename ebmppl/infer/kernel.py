"""The shared ``MCMCKernel`` behind ebmppl's own samplers.

A kernel here is a pure continuous core (MALA, ULA, random-walk Metropolis; :mod:`.base`):
``draw(key, z) -> numbers`` and ``step_with(numbers, State, logdensity_and_grad, step_size,
inv_mass) -> (State, Info)``, and/or a discrete core ``update(key, z, d) -> (d, acceptance)``
(block Gibbs, Gibbs-with-gradients). :class:`EbmKernel` adds what every sampler needs, once:
step-size adaptation by dual averaging toward a target acceptance, a diagonal preconditioner from
warmup (Welford), the alternation of continuous and discrete moves for mixed models, and *noise
blocks*: every ``block`` steps each chain draws the next ``block`` steps' random numbers in one
vectorized call (:func:`ebmppl.predraw.draw_steps`; a buffer in the state), because on a CPU a
per-step threefry call for a few thousand numbers costs as much as the step's maths (the
measurements are in ``benchmarks/findings.md``). Being a ``numpyro.infer.mcmc.MCMCKernel``, it gets
chains, warmup, thinning, progress bars and chain methods from ``numpyro.infer.MCMC``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from numpyro.infer.hmc_util import dual_averaging, welford_covariance
from numpyro.infer.mcmc import MCMCKernel

from ..predraw import draw_steps, numbers_per_step, or_key
from .base import State, init


class EbmState(NamedTuple):
    """One chain's state in an :class:`EbmKernel`: the continuous core's state (position, log density,
    gradient) beside the discrete values, the adaptation's state and the pre-drawn numbers."""

    position: dict  # {"z": flat unconstrained continuous values, "d": discrete values}
    logdensity: Any
    grad: Any
    i: Any
    step_size: Any
    inv_mass: Any
    da: tuple  # dual-averaging state
    welford: tuple
    accept_prob: Any  # continuous move's acceptance probability (1 when there is none)
    diverging: Any
    discrete_accept: Any  # discrete move's acceptance (Gibbs: 1)
    rng_key: Any
    noise: Any = ()  # the continuous move's random numbers for the rest of this block of steps


# a chain draws its continuous moves' random numbers for up to NOISE_MAX steps at once, keeping all
# chains' buffers within NOISE_ELEMENTS numbers (2 MiB of float32); blocks shorter than NOISE_MIN steps
# cost more than they save (the buffer rides in the loop's carry), so then each step draws its own
# (measured on a 2-core CPU, ULA on an MLP energy with 1024 chains at D = 2, 16, 64, MALA with 64 chains)
NOISE_MIN, NOISE_MAX, NOISE_ELEMENTS = 8, 64, 1 << 19

_da_init, _da_update = dual_averaging()
_wf_init, _wf_update, _wf_final = welford_covariance(diagonal=True)


def noise_block(draw, chains: int, z) -> int:
    """How many steps' numbers each of ``chains`` chains draws at once (1: every step draws its own)."""
    block = min(NOISE_MAX, NOISE_ELEMENTS // max(1, chains * numbers_per_step(draw, z)))
    return int(block) if block >= NOISE_MIN else 1


class EbmKernel(MCMCKernel):
    """Adaptation and composition around pure sampler cores.

    Warmup schedule (``adapt_mass=True``): the first 15 % adapts the step
    size; 15–75 % also accumulates the variance of the draws; at 75 % the
    preconditioner is set to it (regularized as in Stan) and step-size
    adaptation restarts; at the end of warmup the step size is fixed to the
    dual-averaging average.
    """

    sample_field = "position"
    uses_gradient = True
    note: Optional[str] = None

    def __init__(self, target, cont_step: Optional[Callable] = None, *, step_size=0.1, target_accept=0.574,
                 adapt_step=True, adapt_mass=False, discrete=None, schedule: Optional[Callable] = None,
                 draw: Optional[Callable] = None):
        """``cont_step(numbers, state, logdensity_and_grad, step_size, inv_mass) -> (State, Info)`` takes the
        numbers ``draw(key, z)`` gives; without ``draw`` it takes the key itself (:func:`ebmppl.predraw.or_key`)."""
        self.target = target
        self.cont_step = cont_step if target.dim > 0 else None
        self.draw = or_key(draw)
        self.block = 1
        self.discrete = discrete if target.disc else None
        self.init_step_size = float(step_size)
        self.target_accept = float(target_accept)
        self.adapt_step = adapt_step
        self.adapt_mass = adapt_mass
        self.schedule = schedule
        self.num_warmup = 0
        self._noise_for = None  # (chains, shape, dtype) the block size and buffer shapes were set for
        self._noise_like = None  # one chain's buffer (shapes only)
        self._init_jit = {}  # (batched, block) -> the jitted init

    @property
    def default_fields(self):
        return ("position",)

    def _ld_and_grad(self, d):
        t = self.target
        if self.uses_gradient:
            return lambda z: t.logdensity_and_grad(z, d)
        return lambda z: (t.logdensity(z, d), jnp.zeros_like(z))

    def init(self, rng_key, num_warmup, init_params, model_args=(), model_kwargs=None):
        self.num_warmup = int(num_warmup)
        batched = jnp.ndim(init_params["z"]) == 2  # vectorized chains: one state per chain
        if self.cont_step is not None:
            z1 = init_params["z"][0] if batched else init_params["z"]
            like = (init_params["z"].shape[0] if batched else 1, z1.shape, str(z1.dtype))
            if self._noise_for != like:
                self.block = noise_block(self.draw, like[0], z1)
                if self.block > 1:
                    self._noise_like = jax.eval_shape(
                        lambda k, z: draw_steps(self.draw, jax.random.split(k, self.block), z),
                        jax.random.PRNGKey(0), z1)
                self._noise_for = like
        # jitted (a small program beside the sampling loop's), kept per block size: a kernel used again
        # (sample keeps recent setups) initializes without eager dispatch or tracing
        if (batched, self.block) not in self._init_jit:
            self._init_jit[batched, self.block] = jax.jit(jax.vmap(self._init_one) if batched else self._init_one)
        return self._init_jit[batched, self.block](rng_key, init_params)

    def _init_one(self, rng_key, init_params):
        z, d = init_params["z"], init_params["d"]
        cont = init(z, self._ld_and_grad(d))
        dtype = z.dtype
        step = jnp.asarray(self.init_step_size, dtype)
        da = _da_init(jnp.log(10.0 * step))
        noise = ()
        if self.block > 1:  # an empty buffer of the right shape: the first sample() fills it
            noise = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), self._noise_like)
        return EbmState({"z": z, "d": d}, cont.logdensity, cont.grad, jnp.zeros((), jnp.int32), step,
                        jnp.ones_like(z), da, _wf_init(z.shape[0]), jnp.ones((), dtype), jnp.zeros((), bool),
                        jnp.ones((), dtype), rng_key, noise)

    def _refill(self, state: EbmState) -> EbmState:
        """The next ``block`` steps' continuous random numbers of one chain, in one draw."""
        key, k_block = jax.random.split(state.rng_key)
        noise = draw_steps(self.draw, jax.random.split(k_block, self.block), state.position["z"])
        return state._replace(rng_key=key, noise=noise)

    def sample(self, state: EbmState, model_args=(), model_kwargs=None) -> EbmState:
        batched = jnp.ndim(state.i) == 1  # vectorized chains: every chain is at the same iteration
        i0 = state.i[0] if batched else state.i
        noise = None
        if self.cont_step is not None and self.block > 1:
            # a new block of numbers every `block` steps: a real branch (one scalar predicate for all chains)
            refill = jax.vmap(self._refill) if batched else self._refill
            state = jax.lax.cond(i0 % self.block == 0, refill, lambda s: s, state)
            j = i0 % self.block
            noise = jax.tree_util.tree_map(
                lambda b: jax.lax.dynamic_index_in_dim(b, j, axis=1 if batched else 0, keepdims=False), state.noise)
        new = jax.vmap(self._move)(state, noise) if batched else self._move(state, noise)
        if self.cont_step is None or not (self.adapt_step or self.adapt_mass):
            return new
        # adaptation only during warmup: a real branch (the predicate is one scalar for all chains),
        # so the draw phase does not pay for it
        adapt = jax.vmap(self._adapt_state) if batched else self._adapt_state
        return jax.lax.cond(i0 < self.num_warmup, adapt, lambda s: s, new)

    def _move(self, state: EbmState, noise=None) -> EbmState:
        """One transition: the continuous move (its numbers from the block ``noise``, or drawn now), then the
        discrete one (no adaptation)."""
        key = state.rng_key
        if noise is None and self.cont_step is not None:
            key, k_cont = jax.random.split(key)
            noise = self.draw(k_cont, state.position["z"])
        if self.discrete is not None:
            key, k_disc = jax.random.split(key)
        z, d = state.position["z"], state.position["d"]
        lp, grad, step = state.logdensity, state.grad, state.step_size
        accept_prob, diverging = jnp.ones_like(lp), jnp.zeros((), bool)
        if self.cont_step is not None:
            eps = self.schedule(state.i).astype(lp.dtype) if self.schedule is not None else step
            # without a learned preconditioner the mass is the scalar 1: no per-coordinate scaling
            inv_mass = state.inv_mass if self.adapt_mass else jnp.ones((), lp.dtype)
            (z, lp, grad), info = self.cont_step(noise, State(z, lp, grad), self._ld_and_grad(d), eps, inv_mass)
            accept_prob, diverging = info.acceptance_rate, info.diverging
            if self.schedule is not None:
                step = eps  # report the scheduled step that was used
        disc_accept = jnp.ones_like(lp)
        if self.discrete is not None:
            d, disc_accept = self.discrete(k_disc, z, d)
            lp, grad = self._ld_and_grad(d)(z)
        return state._replace(position={"z": z, "d": d}, logdensity=lp, grad=grad, i=state.i + 1, step_size=step,
                              accept_prob=accept_prob, diverging=diverging, discrete_accept=disc_accept,
                              rng_key=key)

    def _adapt_state(self, state: EbmState) -> EbmState:
        """Warmup adaptation after the move of iteration ``state.i - 1``."""
        step, inv_mass, da, wf = self._adapt(state.i - 1, state.position["z"], state.accept_prob, state.step_size,
                                             state.inv_mass, state.da, state.welford)
        return state._replace(step_size=step, inv_mass=inv_mass, da=da, welford=wf)

    def _adapt(self, i, z, accept_prob, step, inv_mass, da, wf):
        W = self.num_warmup
        in_warmup = i < W
        start_mass, end_mass = int(0.15 * W), int(0.75 * W)
        if self.adapt_mass and end_mass - start_mass >= 20:
            collecting = (i >= start_mass) & (i < end_mass)
            wf_new = _wf_update(z, wf)
            wf = jax.tree_util.tree_map(lambda a, b: jnp.where(collecting, a, b), wf_new, wf)
            at_end = i == end_mass - 1
            var = _wf_final(wf_new, regularize=True)[0]  # Stan's shrinkage toward 1e-3
            inv_mass = jnp.where(at_end, var.astype(inv_mass.dtype), inv_mass)
            da_restart = _da_init(jnp.log(10.0 * step))
        else:
            at_end = jnp.zeros((), bool)
            da_restart = da
        if self.adapt_step:
            da_new = _da_update(self.target_accept - accept_prob, da)
            da_new = jax.tree_util.tree_map(lambda a, b: jnp.where(at_end, a, b), da_restart, da_new)
            da = jax.tree_util.tree_map(lambda a, b: jnp.where(in_warmup, a, b), da_new, da)
            log_step = jnp.where(i == W - 1, da[1], da[0])
            step = jnp.where(in_warmup, jnp.exp(log_step).astype(step.dtype), step)
        return step, inv_mass, da, wf

    def postprocess_fn(self, model_args, model_kwargs):
        return lambda x: x

    def get_diagnostics_str(self, state):
        return f"step {float(state.step_size):.3g}, acc. {float(state.accept_prob):.2f}"
