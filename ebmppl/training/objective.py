"""What a training method is to the loop: an :class:`Objective` (a pure loss and its companions)."""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional


class Objective(NamedTuple):
    """A training method.

    loss: ``loss(params, batch, key, state) -> (value, (state, aux))``; ``params`` holds the
        model's params (constrained) and the method's extras under keys starting with '@'.
    init_extra: ``key -> dict`` of extra trainable values ('@'-keys), or None.
    init_state: ``(key, data) -> state`` carried between steps (e.g. persistent chains), or None.
    groups: for alternating (adversarial) methods, a function ``step -> mask pytree`` of which
        trainables move at that step; None = all every step.
    draw: ``(key, rows) -> pytree`` of the random numbers one step of ``loss`` uses for a batch of
        ``rows`` rows (:mod:`ebmppl.predraw`); ``loss`` then receives them in place of the key. None =
        ``loss`` gets the key. The loop draws a block of steps' numbers in one vectorized call.

    Example::

        def loss(params, batch, key, state):
            return jnp.mean(problem.energies(params, batch)), (state, {})
        objective = Objective(loss)
    """

    loss: Callable
    init_extra: Optional[Callable] = None
    init_state: Optional[Callable] = None
    groups: Optional[Callable] = None
    draw: Optional[Callable] = None
