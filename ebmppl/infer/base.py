"""What a continuous sampler core carries and reports, shared by MALA, ULA and random-walk Metropolis.

A core is BlackJAX's shape split by the predraw protocol (:mod:`ebmppl.predraw`):

* ``init(position, logdensity_and_grad) -> State``;
* ``draw(key, position) -> numbers``: every random number of one step;
* ``step_with(numbers, state, logdensity_and_grad, step_size, inv_mass) -> (State, Info)``.

``logdensity_and_grad(z) -> (log p(z), ∇log p(z))``; ``inv_mass`` is a diagonal preconditioner
(an array shaped like ``z``, or a scalar).

Example::

    state = mala.init(z, logdensity_and_grad)
    state, info = mala.step_with(mala.draw(key, z), state, logdensity_and_grad, 0.1, 1.0)
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

Draw = Callable[[Any, Any], Any]  # (key, position) -> one step's random numbers


class State(NamedTuple):
    """What a chain carries: its position and the log density and gradient there."""

    position: Any  # a flat vector on the unconstrained space
    logdensity: Any
    grad: Any


class Info(NamedTuple):
    """What one transition reports."""

    acceptance_rate: Any  # the Metropolis–Hastings acceptance probability (ULA: 1 if the proposal was finite)
    is_accepted: Any  # whether the chain moved to the proposal
    diverging: Any  # the proposal's log density or gradient was not finite (it was rejected)


def init(position, logdensity_and_grad) -> State:
    """The chain state at ``position``."""
    lp, grad = logdensity_and_grad(position)
    return State(position, lp, grad)
