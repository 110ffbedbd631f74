"""One protocol for pre-drawn random numbers.

A random step is split in two, as BlackJAX splits a proposal from its acceptance:

* ``draw(key, *sizes) -> numbers``: every random number one step uses (a pytree of arrays), from one
  key; ``sizes`` are the static sizes the numbers depend on (a batch's rows, a state vector);
* ``step_with(numbers, ...)``: the step itself, deterministic given its numbers.

A caller that runs many steps draws their numbers in one vectorized call with :func:`draw_steps`, over
the steps' keys (:func:`step_keys` for keys folded from a step index, or ``jax.random.split``). On a
CPU a call of the counter-based generator for a few hundred numbers costs more than a small step's
arithmetic, so the fit loop (a block of steps' minibatches and numbers), CD/PCD and the Gibbs sweep
(the uniforms of every chain and sweep) and the samplers' noise buffers all draw this way. Because
threefry is counter-based, the numbers are exactly those each step would draw alone.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax

Draw = Callable[..., Any]  # (key, *sizes) -> pytree of arrays


def key_only(key, *sizes):
    """The ``draw`` of a step that takes its key itself (a core written as ``step(key, ...)``)."""
    return key


def or_key(draw: Optional[Draw]) -> Draw:
    """``draw``, or :func:`key_only` when a step has no ``draw`` of its own."""
    return draw if draw is not None else key_only


def step_keys(key, steps):
    """The keys of the steps ``steps`` (global step indices): ``fold_in(key, t)``, independent of blocking."""
    return jax.vmap(lambda t: jax.random.fold_in(key, t))(steps)


def draw_steps(draw: Draw, keys, *sizes):
    """The numbers of one step per key, stacked along a leading axis, in one vectorized call."""
    return jax.vmap(lambda k: draw(k, *sizes))(keys)


def numbers_per_step(draw: Draw, *sizes) -> int:
    """How many numbers one step draws (from shapes only; nothing is computed)."""
    shapes = jax.eval_shape(lambda k: draw(k, *sizes), jax.random.PRNGKey(0))
    return sum(int(a.size) for a in jax.tree_util.tree_leaves(shapes))
