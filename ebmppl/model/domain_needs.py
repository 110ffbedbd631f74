"""What the library's distributions need of a domain: the support words a distribution declares
(:data:`SUPPORTS`) and the words for what a distribution argument must be (:data:`ARGUMENTS`).

Part of the domain table (:mod:`ebmppl.model.domains` re-exports everything here). A support says
which values a distribution draws (its :class:`~ebmppl.model.extent.Extent`) and which domain a target
should be declared with; an argument says which values it takes, how a message names them and which
declared domains guarantee them (a ``real`` param is no scale: only a domain whose values all lie in
the argument's extent is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from numpyro.distributions import constraints

from .extent import NONNEGATIVE, POSITIVE, PROBABILITY, REAL, UNIT, Extent


def _row_written(kind: str) -> str:
    from .domains import lookup  # the rows live in domains.py, which re-exports this module
    return lookup(kind).written()


@dataclass(frozen=True)
class Support:
    """The support of a distribution, as the library names it (``real`` ... ``categorical``).

    Attributes:
        name: the library's word.
        discrete: its values are integers (the distribution has a mass function, ``_lpmf``).
        guaranteed: a target whose domain fits the support (``DomainKind.fits``) always lies inside
            it, so NumPyro's per-call support check can be skipped (not so for ``uniform``'s bounds,
            a binomial's count or a categorical's number of categories).
        kind: the domain kind a target of such a distribution should be declared with.
        extent: the values it draws (``bounded``: between the distribution's first two arguments).
        vector: its draws are vectors with a structure of their own (a simplex), not element by element.
    """

    name: str
    discrete: bool
    guaranteed: bool
    kind: str
    extent: Extent = REAL
    vector: bool = False

    @property
    def declared(self) -> str:
        """How a hint writes the domain to declare (``simplex[K]``, ``interval(lo, hi)``)."""
        return _row_written(self.kind)


SUPPORTS: dict[str, Support] = {s.name: s for s in (
    Support("real", False, True, "real"),
    Support("positive", False, True, "positive", POSITIVE),
    Support("unit", False, True, "unit", UNIT),
    Support("simplex", False, True, "simplex", Extent(0.0, 1.0, False, True), vector=True),
    Support("bounded", False, False, "interval"),
    Support("binary", True, True, "binary", PROBABILITY),
    Support("count", True, False, "int", NONNEGATIVE),
    Support("categorical", True, False, "categorical", NONNEGATIVE),
)}


def support(name: str) -> Support:
    """The :data:`SUPPORTS` row of a distribution's support word; an unknown word is a programming error."""
    return _row(SUPPORTS, name, "distribution support")


def _row(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}") from None


def _whole(v: float) -> bool:
    return math.isfinite(v) and v == int(v) and v >= 0


@dataclass(frozen=True)
class Argument:
    """What a distribution argument must be, as the library names it (``positive``, ``int``, ``cov``).

    Attributes:
        name: the library's word.
        need: how a message says what the argument must be (``in (0, 1)``); None: not checked.
        kind: the domain kind a name passed as the argument should be declared with.
        extent: the values it takes (a literal outside is refused; an expression must stay inside);
            None: its values are not numbers one by one (a covariance matrix).
        literal: ``number -> bool`` when a literal needs more than lying in ``extent`` (a whole number).
        literal_hint: the fix for a literal that is not valid.
        accepts: ``(row, args) -> bool``: a name declared with that domain is a valid argument; None: every
            domain whose extent lies inside ``extent``.
        transform_hint: added to the fix for a declared name (how to compute a valid value instead).
        structure: what no element-by-element extent says (``a covariance matrix``); a name declared
            with any domain is refused, since no domain guarantees it.
        build_hint: how to compute a value with that structure from declared values.
        expressions: an expression passed as the argument is checked too (from the declared domains of
            the names it reads), not only a literal or a name.
        compute_hint: how to compute an expression that is sure to be valid.
        normalized: its values are vectors summing to 1 (probabilities of categories).
        whole: ``array -> bool array`` the test of a whole value's structure, for a value of at least
            ``whole_ndim`` dimensions (NumPyro's ``positive_definite`` for a covariance matrix); None: the
            elements decide alone.
        whole_ndim: the dimensions one value of the structure has (2 for a matrix).
    """

    name: str
    need: Optional[str] = None
    kind: str = ""
    extent: Optional[Extent] = REAL
    literal: Optional[Callable[[float], bool]] = None
    literal_hint: Optional[str] = None
    accepts: Optional[Callable] = None
    transform_hint: str = ""
    structure: str = ""
    build_hint: str = ""
    expressions: bool = False
    compute_hint: str = ""
    normalized: bool = False
    whole: Optional[Callable[[np.ndarray], np.ndarray]] = None
    whole_ndim: int = 2

    def holds(self, x: np.ndarray) -> bool:
        """The whole value has the structure the argument needs (a value with fewer dimensions than one such
        structure is left to the shape check)."""
        if self.whole is None or np.ndim(x) < self.whole_ndim:
            return True
        return bool(np.all(np.asarray(self.whole(x))))

    @property
    def declared(self) -> str:
        """How a hint writes the domain to declare (``simplex[K]``)."""
        return _row_written(self.kind)

    def admits_literal(self, v: float) -> bool:
        """A literal number is a valid value of the argument."""
        if self.extent is not None and not self.extent.holds(v):
            return False
        return self.literal is None or self.literal(v)

    def admits_row(self, row, args=()) -> bool:
        """A name declared with domain ``row(args)`` is always a valid value of the argument."""
        if self.structure:
            return False
        if self.accepts is not None:
            return self.accepts(row, args)
        return self.extent is None or row.extent(tuple(args)).within(self.extent)


def _simplex(x: np.ndarray) -> np.ndarray:
    from .domains import contains  # the simplex row's own test, in the float type used
    return contains("simplex", (), x)


_COV_BUILD = ("build it from declared values that guarantee it, e.g. `let S = diag(sd^2)` with "
              "`param sd : positive[K]`")
ARGUMENTS: dict[str, Argument] = {a.name: a for a in (
    Argument("real", "finite", "real", REAL, literal_hint="use a finite number"),
    Argument("cov", "a covariance matrix (symmetric, positive definite)", "real", None,
             structure="a covariance matrix", build_hint=_COV_BUILD, whole=constraints.positive_definite),
    Argument("chol", "a Cholesky factor (lower triangular, positive diagonal)", "real", None,
             structure="a Cholesky factor",
             build_hint="build it from declared values that guarantee it, e.g. `let L = diag(sd)` with "
                        "`param sd : positive[K]`", whole=constraints.lower_cholesky),
    Argument("positive", "positive", "positive", POSITIVE, literal_hint="use a number above 0",
             transform_hint=" (or transform it, e.g. exp(...))", expressions=True,
             compute_hint="compute it so that it is positive whatever the values it reads: exp(...), "
                          "softplus(...), or sums and products of positive values"),
    Argument("unit", "in (0, 1)", "unit", PROBABILITY, literal_hint="use a number between 0 and 1",
             transform_hint=" (or transform it, e.g. sigmoid(...))", expressions=True,
             compute_hint="compute it so that it lies in [0, 1] whatever the values it reads, e.g. sigmoid(...)"),
    Argument("simplex", "a simplex", "simplex", PROBABILITY, accepts=lambda row, args: row.normalized,
             transform_hint=" (or compute it with softmax(...), or pass logits to categorical_logit)",
             expressions=True, normalized=True, whole=_simplex, whole_ndim=1,
             compute_hint="compute it with softmax(...), or pass logits to categorical_logit(...)"),
    Argument("int", "an integer", "int", NONNEGATIVE, _whole, "use a whole number, 0 or more",
             lambda row, args: row.integer_data),
)}


def argument(name: str) -> Argument:
    """The :data:`ARGUMENTS` row of a distribution argument's domain word; unknown is a programming error."""
    return _row(ARGUMENTS, name, "distribution argument domain")
