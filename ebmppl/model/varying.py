"""Domain arguments that vary with other variables' values: the bound ``1 - alpha`` of ``interval(0, 1 - alpha)``.

Part of the domain table (:mod:`ebmppl.model.domains` re-exports it): a :class:`Varying` argument stands in
the table's arguments where a number would, and :data:`VARYING` is the constraint of a domain with one, until the
lowering evaluates it (:mod:`ebmppl.model.lower.bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from numpyro.distributions import constraints


class _Varying(constraints.Constraint):
    """The constraint of a domain whose bounds vary with other variables' values, before they are known. It has
    no bijector and no support test (``biject_to`` refuses it): the bounds must be evaluated first
    (:func:`ebmppl.model.lower.bounds.evaluate`); it is not ``real`` either."""

    def __call__(self, x):
        raise TypeError("the bounds of this domain vary with other variables: evaluate them first")

    def tree_flatten(self):
        return (), ((), dict())

    def __eq__(self, other):
        return isinstance(other, _Varying)


VARYING = _Varying()


@dataclass(frozen=True, eq=False)
class Varying:
    """A domain argument computed from the values of other variables (``1 - alpha`` in ``interval(0, 1 - alpha)``
    for a var ``alpha``), known only where those values are.

    Attributes:
        expr: the argument as written (an AST expression).
        reads: the vars and latents it reads.
        value: ``env -> array``: the argument from the values of an environment (consts and those vars).
        text: how the source writes it (``1 - alpha``).
    """

    expr: object
    reads: tuple
    value: Callable
    text: str = "<expr>"

    def __str__(self) -> str:
        return self.text


def varies(args) -> bool:
    """Some argument is a :class:`Varying` one: the domain is known only with other variables' values."""
    return any(isinstance(a, Varying) for a in args)
