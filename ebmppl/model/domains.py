"""The domain table: everything the rest of ebmppl asks of a value domain, in one place.

A declaration's type is a :class:`Domain` (a kind and its arguments, ``interval(0, 1)``,
``categorical(K)``); each kind has one :class:`DomainKind` row in :data:`DOMAINS` holding its
NumPyro constraint (and so its bijector, through ``biject_to``), its support test for values
(literals, const defaults, bound data, param initial values and loaded params all use
:func:`contains`), whether it is discrete and how to enumerate its states, how a distribution's
support fits it, its default initial value and how it prints. Adding a domain is a change to
this file alone: no other module compares domain kinds by name.

Each row also says which numbers its values lie between (:attr:`DomainKind.extent`, an
:class:`~ebmppl.model.extent.Extent`): that is what a declaration guarantees when its name is used as a
scale, a temperature or a mixture weight.

Two smaller tables say what the library's distributions need of a domain: :data:`SUPPORTS` (the
support words a distribution declares: which are discrete, which domain a target should be
declared with) and :data:`ARGUMENTS` (the words for a distribution argument's domain: what a literal
must be, which declared domains are accepted, how to fix one that is not). They live in
:mod:`ebmppl.model.domain_needs` and are re-exported here.

Like NumPyro's ``constraints`` registry with ``biject_to``, the table holds data and small
functions; it imports nothing of ebmppl above :mod:`ebmppl.dsl.ast`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

from ..dsl import ast as A
from .domain_needs import ARGUMENTS, SUPPORTS, Argument, Support, argument, support  # noqa: F401 (re-exported)
from .extent import NONNEGATIVE, POSITIVE, PROBABILITY, REAL, UNIT, Extent
from .varying import VARYING, Varying, varies  # noqa: F401 (re-exported)


# ------------------------------------------------------------ extra constraints
class _Spin(constraints.Constraint):
    """The values -1 and +1 (NumPyro has no such constraint)."""

    is_discrete = True

    def __call__(self, x):
        return (x == 1) | (x == -1)

    def feasible_like(self, prototype):
        return jnp.ones_like(prototype)

    def tree_flatten(self):
        return (), ((), dict())

    def __eq__(self, other):
        return isinstance(other, _Spin)


class _Integer(constraints.Constraint):
    """Any integer (NumPyro has only bounded or nonnegative integer constraints)."""

    is_discrete = True

    def __call__(self, x):
        return x == jnp.round(x)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)

    def tree_flatten(self):
        return (), ((), dict())

    def __eq__(self, other):
        return isinstance(other, _Integer)


SPIN = _Spin()
INTEGER = _Integer()


def _widest(row: "DomainKind", args: tuple) -> tuple:
    """The arguments with each varying bound at its widest (-inf below, +inf above): a test that holds for every
    value inside the domain whatever the other variables are (a value outside it is found once they are known)."""
    if not varies(args):
        return args
    return tuple((-np.inf if i == 0 else np.inf) if isinstance(a, Varying) else a for i, a in enumerate(args))


# --------------------------------------------------------------------- the row
@dataclass(frozen=True)
class DomainKind:
    """One row of the domain table.

    Attributes:
        name: how the kind is written in a declaration (``interval``).
        discrete: values are discrete (never a param; moved by Gibbs-type samplers).
        arity: the number of arguments (``interval(lo, hi)``: 2).
        usage: how a user writes it, for hints (``interval(lo, hi)``, ``simplex[K]``).
        vector: the value is a vector along its last axis (``ordered``, ``simplex``).
        integer: stored as integers (``int``, ``categorical``); ``binary`` consts are integers too
            (``integer_data``), but sampled binary values are floats like spins.
        constraint: ``args -> numpyro constraint`` (``biject_to`` of it maps reals into the domain).
        contains: ``(array, args) -> bool array``: the support test, strict at open bounds.
        default: ``(shape, args, dtype) -> array``: the initial value of a param with no ``= value``.
        states: ``args -> 1-D array`` of every value of one element, for finite discrete kinds.
        fits: ``(support, args) -> bool``: ``x ~ dist`` is legal for a var of this kind when the
            distribution has this ``support`` (a word of :data:`SUPPORTS`). For a continuous kind,
            every value of the domain lies in the support, so the density is defined wherever the
            var goes; for a discrete kind, the support is one of the integer sets the kind is
            declared for (a ``binary`` var takes ``bernoulli`` and count distributions like
            ``binomial(1, p)``; an ``int`` var takes any integer distribution).
        affine_logsum: ``g -> array``: log Σ_v exp(-g v) over the two states v of one element,
            for energies affine in the element (free energies, exact log Z); two-state kinds only.
        described: how a message names a value of the kind (``a positive number``).
        param: a param may be declared with it (it is learned by gradients).
        size_arg: what its one argument counts when that argument is a size (``categorical(K)``:
            the number of categories), checked like a shape; None when its arguments are not sizes.
        bounds: its two arguments are a lower and an upper bound (``interval(lo, hi)``).
        sizes: a scalar const of the kind may give a size (a shape, a range bound, ``K``): ``int``.
        extent: ``args -> Extent``: the numbers every value's elements lie between (what a name declared
            with the kind guarantees where a positive number or a probability is needed).
        interior: ``(array, args) -> bool array``: the support test for a value a bijector must invert (a
            param's initial or loaded value): strictly inside, where ``contains`` admits the boundary of a
            closed set (a simplex with a zero entry). None: the same as ``contains``.
        normalized: its values are vectors summing to 1 (a simplex): probabilities of categories.
    """

    name: str
    discrete: bool
    constraint: Callable[[tuple], constraints.Constraint]
    contains: Callable[[np.ndarray, tuple], np.ndarray]
    default: Callable[[tuple, tuple, object], jnp.ndarray]
    described: str
    fits: Callable[[str, tuple], bool] = lambda support, args: False
    arity: int = 0
    usage: str = ""
    vector: bool = False
    integer: bool = False
    integer_data: bool = False
    states: Optional[Callable[[tuple], np.ndarray]] = None
    affine_logsum: Optional[Callable] = None
    param: bool = field(default=False)
    size_arg: Optional[str] = None
    bounds: bool = False
    sizes: bool = False
    extent: Callable[[tuple], Extent] = lambda args: REAL
    interior: Optional[Callable[[np.ndarray, tuple], np.ndarray]] = None
    normalized: bool = False

    @property
    def continuous(self) -> bool:
        return not self.discrete and self.name != "mlp"

    @property
    def network(self) -> bool:
        """The weights of a network (``mlp``): a param, not an element-wise domain."""
        return self.name == "mlp"

    @property
    def finite(self) -> bool:
        """Finite discrete: its states can be enumerated."""
        return self.states is not None

    @property
    def two_state(self) -> bool:
        return self.affine_logsum is not None

    def n_states(self, args=()) -> Optional[int]:
        return None if self.states is None else int(len(self.states(args)))

    def written(self) -> str:
        """How a hint tells a user to declare the kind (``simplex[K]``, ``interval(lo, hi)``, ``real``)."""
        return self.usage or self.name

    @property
    def signature(self) -> str:
        """The kind with its arguments, as a declaration writes them (``interval(lo, hi)``, ``ordered``)."""
        return self.usage if self.arity else self.name


def _interval_fits(support: str, args) -> bool:
    lo, hi = (_number(a) for a in args)
    return (support in ("real", "bounded")
            or (support == "positive" and lo is not None and lo >= 0)
            or (support == "unit" and lo is not None and hi is not None and lo >= 0 and hi <= 1))


def _number(a) -> Optional[float]:
    """A bound as a number when it is one (bounds may be expressions until the model is bound)."""
    if isinstance(a, (int, float, np.integer, np.floating)):
        return float(a)
    if isinstance(a, A.Num):
        return float(a.value)
    if isinstance(a, A.UnOp) and isinstance(a.operand, A.Num):
        return -float(a.operand.value) if a.op == "-" else float(a.operand.value)
    return None


def _bound(a):
    """A bound as NumPyro's interval takes it: a number, or an array of bounds (evaluated varying bounds)."""
    return a if hasattr(a, "shape") else float(a)


def _full(value):
    return lambda shape, args, dtype: jnp.full(shape, value, dtype)


def _always(extent: Extent):
    return lambda args: extent


def _interval_extent(args) -> Extent:
    lo, hi = (_number(a) for a in args)
    return Extent(-np.inf if lo is None else lo, np.inf if hi is None else hi)


def _categorical_extent(args) -> Extent:
    k = _number(args[0]) if args else None
    return Extent(0.0, np.inf if k is None else max(k - 1, 0.0), True, k is not None)


# A simplex read from a file or computed in float32 sums to 1 only to rounding: each entry may be off by
# half an ulp of 1 in float32 (and the sum collects K of those), with a floor for short vectors.
_F32_EPS = float(np.finfo(np.float32).eps)


def _sums_to_one(x: np.ndarray) -> np.ndarray:
    k = x.shape[-1] if x.ndim else 1
    tol = max(1e-6, 4 * k * _F32_EPS)
    return np.abs(np.sum(x, axis=-1, keepdims=True) - 1.0) <= tol


def _simplex(x, a):
    return np.all(np.isfinite(x) & (x >= 0), axis=-1, keepdims=True) & _sums_to_one(x)


def _simplex_interior(x, a):
    return np.all(x > 0, axis=-1, keepdims=True) & _simplex(x, a)


def _ordered(x, a):
    return np.all(np.diff(x, axis=-1) > 0, axis=-1, keepdims=True) & np.all(np.isfinite(x), axis=-1, keepdims=True)


def _positive_ordered(x, a):
    return _ordered(x, a) & (x[..., :1] > 0)


_ROWS = (
    DomainKind("real", False, lambda a: constraints.real, lambda x, a: np.isfinite(x), _full(0.0),
               "a real number", lambda s, a: s == "real", param=True),
    DomainKind("positive", False, lambda a: constraints.positive, lambda x, a: (x > 0) & np.isfinite(x), _full(1.0),
               "a number above 0", lambda s, a: s in ("real", "positive"), param=True, extent=_always(POSITIVE)),
    DomainKind("unit", False, lambda a: constraints.unit_interval, lambda x, a: (x > 0) & (x < 1), _full(0.5),
               "a number strictly between 0 and 1", lambda s, a: s in ("real", "positive", "unit", "bounded"),
               param=True, extent=_always(UNIT)),
    DomainKind("interval", False, lambda a: constraints.interval(_bound(a[0]), _bound(a[1])),
               lambda x, a: (x > a[0]) & (x < a[1]),
               lambda shape, a, dtype: jnp.full(shape, (a[0] + a[1]) / 2, dtype),
               "a number strictly inside the interval", _interval_fits, arity=2, usage="interval(lo, hi)",
               param=True, bounds=True, extent=_interval_extent),
    DomainKind("ordered", False, lambda a: constraints.ordered_vector, _ordered,
               lambda shape, a, dtype: jnp.broadcast_to(jnp.arange(shape[-1], dtype=dtype), shape),
               "an increasing vector", lambda s, a: s == "real", usage="ordered[K]", vector=True, param=True),
    DomainKind("positive_ordered", False, lambda a: constraints.positive_ordered_vector, _positive_ordered,
               lambda shape, a, dtype: jnp.broadcast_to(jnp.arange(1, shape[-1] + 1, dtype=dtype), shape),
               "an increasing vector of numbers above 0", lambda s, a: s in ("real", "positive"),
               usage="positive_ordered[K]", vector=True, param=True, extent=_always(POSITIVE)),
    DomainKind("simplex", False, lambda a: constraints.simplex, _simplex,
               lambda shape, a, dtype: jnp.full(shape, 1.0 / shape[-1], dtype),
               "a vector of numbers, 0 or more, that sum to 1", lambda s, a: s in ("real", "simplex"),
               usage="simplex[K]", vector=True, param=True, extent=_always(Extent(0.0, 1.0, False, True)),
               interior=_simplex_interior, normalized=True),
    DomainKind("binary", True, lambda a: constraints.boolean, lambda x, a: (x == 0) | (x == 1), _full(0.0),
               "0 or 1", lambda s, a: s in ("binary", "count"), integer_data=True,
               states=lambda a: np.array([0.0, 1.0]),
               affine_logsum=lambda g: jnp.logaddexp(0.0, -g), extent=_always(PROBABILITY)),
    DomainKind("spin", True, lambda a: SPIN, lambda x, a: np.abs(x) == 1, _full(1.0), "-1 or +1",
               states=lambda a: np.array([-1.0, 1.0]), affine_logsum=lambda g: jnp.logaddexp(g, -g),
               extent=_always(Extent(-1.0, 1.0, True, True))),
    DomainKind("categorical", True, lambda a: constraints.integer_interval(0, int(a[0]) - 1),
               lambda x, a: (x == np.round(x)) & (x >= 0) & (x < a[0]), _full(0),
               "a whole number from 0 to K - 1", lambda s, a: s == "categorical", arity=1,
               usage="categorical(K)", integer=True, integer_data=True,
               states=lambda a: np.arange(int(a[0])), size_arg="the number of categories",
               extent=_categorical_extent),
    DomainKind("int", True, lambda a: INTEGER, lambda x, a: x == np.round(x), _full(0), "a whole number",
               lambda s, a: s in ("binary", "count", "categorical"), integer=True, integer_data=True,
               sizes=True),
    DomainKind("mlp", False, lambda a: constraints.real, lambda x, a: np.isfinite(x), _full(0.0),
               "the weights of a network", usage="mlp(n_in, [hidden, ...], n_out)", param=True),
    # for values that enter from options and keywords (not declarable in a model): counts and sizes
    DomainKind("count", True, lambda a: constraints.nonnegative_integer, lambda x, a: (x == np.round(x)) & (x >= 0),
               _full(0), "a whole number, 0 or more", integer=True, extent=_always(NONNEGATIVE)),
    DomainKind("size", True, lambda a: constraints.positive_integer, lambda x, a: (x == np.round(x)) & (x >= 1),
               _full(1), "a whole number, 1 or more", integer=True, extent=_always(Extent(1.0, np.inf, True))),
)

DOMAINS: dict[str, DomainKind] = {row.name: row for row in _ROWS}
# the kinds a declaration may name with `:` (an mlp is declared with its own syntax)
DECLARABLE = tuple(k for k in DOMAINS if k not in ("mlp", "count", "size"))
CONTINUOUS = tuple(k for k in DECLARABLE if DOMAINS[k].continuous)
DISCRETE = tuple(k for k in DECLARABLE if DOMAINS[k].discrete)


def lookup(kind: str) -> DomainKind:
    """The table's row for ``kind``; an unknown kind is a programming error (the checker names it first)."""
    return _row(DOMAINS, kind, "domain kind")


def _row(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}") from None


# ------------------------------------------------------------------ the value
@dataclass(frozen=True)
class Domain:
    """A value domain: ``real``, ``positive``, ``interval(lo, hi)``, ``categorical(K)``, ``mlp(...)``.

    ``args`` are numbers, or AST expressions until the model's consts are bound.
    """

    kind: str
    args: tuple = ()

    @property
    def row(self) -> DomainKind:
        return lookup(self.kind)

    @property
    def continuous(self) -> bool:
        return self.row.continuous

    @property
    def discrete(self) -> bool:
        return self.row.discrete

    def __str__(self) -> str:
        if self.kind == "mlp":
            n_in, hidden, n_out, act = self.args
            sizes = lambda d: str(d) if isinstance(d, int) else _fmt(d)  # noqa: E731
            return f"mlp({sizes(n_in)}, [{', '.join(sizes(h) for h in hidden)}], {sizes(n_out)}, act={act})"
        if not self.args:
            return self.kind
        return f"{self.kind}({', '.join(_fmt(a) for a in self.args)})"


def _fmt(x) -> str:
    if isinstance(x, Varying):
        return str(x)
    if isinstance(x, A.Num):
        return str(x.value)
    if isinstance(x, A.Name):
        return x.id
    if isinstance(x, A.UnOp) and isinstance(x.operand, A.Num):
        return f"{x.op}{x.operand.value}"
    if isinstance(x, A.Expr):
        return _source_text(x) or "<expr>"
    return str(x)


def _source_text(e) -> Optional[str]:
    """The source text of a one-line expression (``1 - alpha``), or None."""
    span = getattr(e, "span", None)
    if span is None or span.end_line != span.line or not getattr(span.source, "text", None):
        return None
    return span.source.line(span.line)[span.col - 1: span.end_col - 1].strip() or None


# ----------------------------------------------------------- what callers ask
def constraint(kind: str, args=()) -> constraints.Constraint:
    """The NumPyro constraint of a domain with its (bound) arguments; :data:`VARYING` when some argument varies
    with other variables (:class:`Varying`: evaluate it first)."""
    if varies(args):
        return VARYING
    return lookup(kind).constraint(tuple(args))


def contains(kind: str, args, value, interior: bool = False) -> np.ndarray:
    """Elementwise: is each element of ``value`` inside the domain? Strict at open bounds, False for NaN
    and for infinities (no domain holds them).

    ``interior``: the value is one a bijector must map back to the reals (a param's initial or loaded
    value), so it must lie strictly inside a closed set too (a simplex with every entry above 0).
    For vector kinds (``ordered``, ``simplex``) the test is per vector, broadcast over its elements. A bound that
    varies with other variables (:class:`Varying`) is taken at its widest.

        >>> contains("positive", (), [1.0, 0.0, float("inf")]).tolist()
        [True, False, False]
        >>> p = [0.5, 0.5, 0.0]
        >>> bool(contains("simplex", (), p).all()), bool(contains("simplex", (), p, interior=True).all())
        (True, False)
    """
    x = np.asarray(value)
    row = lookup(kind)
    test = row.interior if interior and row.interior is not None else row.contains
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.asarray(test(x, _widest(row, tuple(args))), dtype=bool)
    return np.broadcast_to(ok, x.shape)


def first_outside(kind: str, args, value, interior: bool = False) -> Optional[tuple]:
    """The index of the first element outside the domain, or None when every element is inside."""
    bad = np.argwhere(~contains(kind, args, value, interior))
    return None if not len(bad) else tuple(int(i) for i in bad[0])


def extent(kind: str, args=()) -> Extent:
    """The numbers the elements of a value of ``kind(args)`` lie between (args may be unbound expressions)."""
    return lookup(kind).extent(tuple(args))


def holds_draws(kind: str, args, drawn: Support, between: Extent) -> bool:
    """Every draw of a distribution with support ``drawn`` (its numbers ``between``) is a value of ``kind(args)``:
    a param initialized by it starts inside its domain. A vector kind needs draws of its own structure
    (a simplex from a dirichlet; nothing draws ordered vectors)."""
    row = lookup(kind)
    if row.vector and not (drawn.vector and row.normalized and lookup(drawn.kind).normalized):
        return False
    return between.within(row.extent(tuple(args)))


def default_value(kind: str, shape, args=(), dtype=None):
    """The initial value of a param (or placeholder const) declared without one."""
    return lookup(kind).default(tuple(shape), tuple(args), dtype)
