"""The compiled programs of a training run: :class:`Trainer`, built by :func:`make_trainer`.

A :class:`Step` is one optimizer step of an objective (its loss on the constrained params, the
gradient, the optimizer update, Polyak averaging), with a fast form and the NaN guard's form. A
:class:`Blocks` runs a chunk of steps as a scan over blocks of up to ``BLOCK_MAX`` steps: each block
gathers its steps' minibatches and draws their random numbers (the objective's ``draw``,
:mod:`ebmppl.predraw`) in one vectorized call before an inner scan runs the steps. Threefry is
counter-based, so the numbers are those each step would draw alone and the results do not depend on
the block size; on a CPU, where a small step's overheads rival its arithmetic, one call of the
generator for a block is much cheaper than one per step.

The jitted programs take the data, keys and state as arguments, not as closed-over constants, so a
compiled chunk is the same program for another seed or another data set of the same shape (a hit in
the persistent compile cache), and ``ebmppl.fit`` can keep a trainer for another run of its setup.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import EbmError
from ..predraw import draw_steps, numbers_per_step, or_key, step_keys
from .objective import Objective
from .shuffle import batch_indices

# a block of steps gathers its minibatches and draws its random numbers up front: at most BLOCK_MAX steps
# and about BLOCK_ELEMENTS numbers (1 MiB of float32, cache-sized) per block
BLOCK_MAX, BLOCK_ELEMENTS = 128, 1 << 18

OPTIMIZERS = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd, "rmsprop": optax.rmsprop,
              "adagrad": optax.adagrad, "lamb": optax.lamb, "adabelief": optax.adabelief}


def make_optimizer(optimizer, lr, clip_norm=None) -> optax.GradientTransformation:
    """An optax optimizer from a name (``adam``, ``sgd``, ...) and a learning rate, or as given;
    ``clip_norm`` chains a global-norm clip in front."""
    if isinstance(optimizer, optax.GradientTransformation):
        opt = optimizer
    else:
        if optimizer not in OPTIMIZERS:
            raise EbmError("fit", f"unknown optimizer '{optimizer}'", hint=f"choose one of {', '.join(OPTIMIZERS)}, "
                                                                           "or pass an optax transformation")
        opt = OPTIMIZERS[optimizer](lr)
    if clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(clip_norm), opt)
    return opt


def block_size(length: int, block: int) -> int:
    """Steps per block for a chunk of ``length`` steps: at most ``block``, and a divisor of ``length`` when one
    lies in ``[block / 2, block]``, so the chunk is one scan of equal blocks (the step body is traced and
    compiled once, not again for a remainder)."""
    if length <= block:
        return length
    for d in range(block, max(1, block // 2) - 1, -1):
        if length % d == 0:
            return d
    return block


def _batch_sharding(batch_size: int) -> Optional[NamedSharding]:
    """Batches split over every device along a 'data' mesh axis, when the batch divides evenly."""
    devices = jax.devices()
    if len(devices) > 1 and batch_size % len(devices) == 0:
        mesh = Mesh(np.array(devices), ("data",))
        return NamedSharding(mesh, PartitionSpec("data"))
    return None


def _global_norm(tree):
    """The gradient's global norm as one reduction over its concatenated leaves (a small step pays per op)."""
    leaves = [jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)]
    if not leaves:
        return jnp.zeros(())
    return jnp.sqrt(jnp.sum(jnp.square(jnp.concatenate(leaves))))


def param_traces(params: dict) -> dict:
    """A step's record of the params it reached, kept inside the compiled chunk (no host round trip): a
    scalar param's value as ``param:NAME``, an array param's (or an mlp's) L2 norm as ``norm:NAME``."""
    out = {}
    for name, v in params.items():
        if isinstance(v, dict) or jnp.ndim(v) > 0:
            out[f"norm:{name}"] = _global_norm(v)
        else:
            out[f"param:{name}"] = v
    return out


@dataclass(frozen=True, eq=False)
class Step:
    """One optimizer step of ``objective`` on ``problem``'s params.

    The state a step carries is ``(theta, opt_state, mstate, avg)``: the trainables (``{"model":
    unconstrained params, "extra": the method's '@'-values}``), the optimizer's state, the method's
    carried state and the moving average of theta (with ``average``; else theta's start).
    """

    problem: Any
    objective: Objective
    opt: optax.GradientTransformation
    sharding: Optional[NamedSharding]
    average: Optional[float]

    def loss_of(self, theta, batch, rand, mstate):
        """The objective's loss at the trainables ``theta`` (the model's params constrained first)."""
        p = {**self.problem.constrain(theta["model"]), **theta["extra"]}
        return self.objective.loss(p, batch, rand, mstate)

    def update(self, state, t, batch, rand):
        """One optimizer step: the new (theta, opt_state, mstate, avg) and the step's (loss, gnorm, aux)."""
        theta, opt_state, mstate, avg = state
        groups = self.objective.groups
        if self.sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, self.sharding)
        (loss, (mstate_new, aux)), g = jax.value_and_grad(self.loss_of, has_aux=True)(theta, batch, rand, mstate)
        if groups is not None:  # alternating turns: a sign per trainable, 0 = resting
            mask = groups(t)
            g = jax.tree_util.tree_map(lambda gi, m: gi * m, g, mask)
        gnorm = _global_norm(g)
        updates, opt_state_new = self.opt.update(g, opt_state, theta)
        if groups is not None:  # momentum must not move the resting side
            updates = jax.tree_util.tree_map(lambda u, m: u * jnp.abs(m), updates, mask)
        theta_new = optax.apply_updates(theta, updates)
        average = self.average
        if average:  # Polyak-Ruppert: an exponential moving average of the iterates
            avg = jax.tree_util.tree_map(lambda a, b: average * a + (1.0 - average) * b, avg, theta_new)
        aux = {**aux, **param_traces(self.problem.constrain(theta_new["model"]))}
        return (theta_new, opt_state_new, mstate_new, avg), (loss, gnorm, aux)

    def fast(self, state, xs):
        """A scan body: the step, unguarded."""
        return self.update(state, *xs)

    def guarded(self, carry, xs):
        """A scan body for the replay of a chunk that met a non-finite loss: stop moving at the first bad step.

        The carry is ``(state, bad so far, the bad step, the last params whose loss was finite)``.
        """
        state, bad, bad_step, good = carry
        new, out = self.update(state, *xs)
        loss, gnorm, _ = out
        ok = jnp.isfinite(loss) & jnp.isfinite(gnorm) & ~bad
        keep = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(ok, x, y), a, b)  # noqa: E731
        return (keep(new, state), bad | ~ok, jnp.where(bad | ok, bad_step, xs[0]).astype(bad_step.dtype),
                keep(state[0], good)), out


def guard_start(state):
    """The guarded replay's carry at a chunk start: (state, no bad step yet, bad step, last good params)."""
    return state, jnp.zeros((), bool), jnp.zeros((), jnp.int32), state[0]


@dataclass(frozen=True, eq=False)
class Blocks:
    """A chunk of steps as a scan over blocks of ``size`` steps, each gathering its ``batch_size``-row
    minibatches from ``rows`` rows and drawing its numbers by ``draw`` in one go (see the module docs)."""

    draw: Callable
    batch_size: int
    rows: int
    size: int

    @classmethod
    def plan(cls, objective: Objective, data: dict, batch_size: int) -> "Blocks":
        """Blocks of at most ``BLOCK_MAX`` steps and about ``BLOCK_ELEMENTS`` gathered and drawn numbers."""
        draw = or_key(objective.draw)
        n = int(next(iter(data.values())).shape[0])
        row_size = sum(int(np.prod(v.shape[1:], dtype=np.int64)) for v in data.values())
        per_step = batch_size * row_size + numbers_per_step(draw, batch_size)
        return cls(draw, batch_size, n, int(max(1, min(BLOCK_MAX, BLOCK_ELEMENTS // max(1, per_step)))))

    def inputs(self, ts, inputs):
        """The step indices, minibatches and random numbers of the steps ``ts``, gathered and drawn in one go."""
        data, k_steps, k_data = inputs
        idx = jax.vmap(lambda t: batch_indices(k_data, t, self.batch_size, self.rows))(ts)
        batches = jax.tree_util.tree_map(lambda a: a[idx], data)
        return ts, batches, draw_steps(self.draw, step_keys(k_steps, ts), self.batch_size)

    def scan(self, step, carry, ts, inputs):
        """``lax.scan(step)`` over the steps ``ts`` in blocks (a remainder, if any, as one more scan)."""
        size = block_size(ts.shape[0], self.size)
        q = ts.shape[0] // size
        outs = []
        if q:
            def one_block(c, tb):
                return jax.lax.scan(step, c, self.inputs(tb, inputs))
            carry, out = jax.lax.scan(one_block, carry, ts[:q * size].reshape(q, size))
            outs.append(jax.tree_util.tree_map(lambda a: a.reshape((q * size,) + a.shape[2:]), out))
        if ts.shape[0] > q * size:
            carry, out = jax.lax.scan(step, carry, self.inputs(ts[q * size:], inputs))
            outs.append(out)
        return carry, jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *outs) if len(outs) > 1 else outs[0]


# ---------------------------------------------------------------- the jitted programs
def start(step: Step, params, k_extra, k_state, data):
    """The trainables, optimizer state and carried state a run starts from (one compiled call)."""
    objective = step.objective
    theta = {"model": step.problem.unconstrain(params),
             "extra": objective.init_extra(k_extra) if objective.init_extra else {}}
    mstate = objective.init_state(k_state, data) if objective.init_state else ()
    return theta, step.opt.init(theta), mstate


def run_chunk(step: Step, blocks: Blocks, state, ts, inputs):
    """The steps ``ts`` from ``state``, unguarded: the state after them and their (loss, gnorm, aux)."""
    return blocks.scan(step.fast, state, ts, inputs)


def run_chunk_guarded(step: Step, blocks: Blocks, carry, ts, inputs):
    """The steps ``ts`` replayed under the NaN guard from a :func:`guard_start` carry."""
    return blocks.scan(step.guarded, carry, ts, inputs)


def val_loss(step: Step, theta, mstate, val_data):
    """The loss on every validation row, with a fixed key (so checks are comparable)."""
    rows = int(next(iter(val_data.values())).shape[0])
    draw = or_key(step.objective.draw)
    return step.loss_of(theta, val_data, draw(jax.random.PRNGKey(12345), rows), mstate)[0]


@dataclass(frozen=True, eq=False)
class Trainer:
    """The compiled programs of a training run, for one problem, objective, optimizer, batch size, number
    of rows and averaging: ``start(params, k_extra, k_state, data)``, ``run_chunk(state, ts, inputs)``,
    ``run_chunk_guarded(carry, ts, inputs)`` and ``val_loss(theta, mstate, val_data)``, where ``inputs`` is
    ``(data, k_steps, k_data)``. (An objective may hold constants from the data it was built on, e.g.
    NCE's fitted noise, so the data are part of the setup.)"""

    step: Step
    blocks: Blocks
    start: Callable
    run_chunk: Callable
    run_chunk_guarded: Callable
    val_loss: Callable

    @property
    def average(self) -> Optional[float]:
        return self.step.average


def make_trainer(problem, objective: Objective, opt, data: dict, batch_size: int, average) -> Trainer:
    """The :class:`Trainer` of ``objective`` on ``data`` (at least one row) with the optimizer ``opt``."""
    n = int(next(iter(data.values())).shape[0])
    batch_size = int(min(batch_size, n))
    step = Step(problem, objective, opt, _batch_sharding(batch_size), average)
    blocks = Blocks.plan(objective, data, batch_size)
    jit = lambda f, *fixed: jax.jit(functools.partial(f, *fixed))  # noqa: E731
    return Trainer(step, blocks, jit(start, step), jit(run_chunk, step, blocks),
                   jit(run_chunk_guarded, step, blocks), jit(val_loss, step))
