"""The Model: an immutable description of a composed factor model.

Both front ends (the .ebm checker and the Python decorators) build a
:class:`Model`. It holds ordered :class:`Spec` s (vars, latents, params,
consts), :class:`Factor` s, deterministic :class:`LetDef` s and a composition
tree (:class:`Ref`, :class:`Product`, :class:`Mixture`, :class:`Temper`).
Expressions are :mod:`ebmppl.dsl.ast` nodes (plain dataclasses) or Python
callables; :mod:`ebmppl.model.lower` turns them into JAX functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

from ..dsl import ast as A
from ..errors import EbmSemanticError, Span
from .domains import CONTINUOUS, DECLARABLE as DOMAINS, DISCRETE, Domain, _fmt  # noqa: F401 (re-exported)

ROLES = ("const", "var", "latent", "param")


@dataclass(frozen=True)
class Spec:
    """A declared name: its role, domain, shape and (for params/consts) initializer."""

    name: str
    role: str  # const | var | latent | param
    domain: Domain
    shape: tuple = ()  # ints, or expressions over int consts until bound
    init: Any = None  # param initial value / const default: an Expr, number, array or None
    init_dist: Optional[A.DistCall] = None  # param initializer `~ dist(...)`
    span: Optional[Span] = field(default=None, compare=False)
    conditioned: bool = False  # a var turned into a const by conditioning

    @property
    def shape_str(self) -> str:
        if not self.shape:
            return ""
        return "[" + ", ".join(_fmt(d) if not isinstance(d, int) else str(d) for d in self.shape) + "]"

    def type_str(self) -> str:
        return f"{self.domain}{self.shape_str}"


@dataclass(frozen=True)
class Factor:
    """One term of the energy.

    kind ``energy``: ``expr`` (or Python ``fn``) is an energy term.
    kind ``density``: ``target ~ dist``, energy ``-sum(log p(target))``.
    """

    name: str
    kind: str  # energy | density
    expr: Optional[A.Expr] = None
    target: Optional[A.Expr] = None
    dist: Optional[A.DistCall] = None
    fn: Optional[Callable] = field(default=None, compare=False)
    args: tuple[str, ...] = ()  # names a Python fn reads, in call order
    span: Optional[Span] = field(default=None, compare=False)

    @property
    def target_name(self) -> Optional[str]:
        t = self.target
        if isinstance(t, A.Index):
            t = t.value
        return t.id if isinstance(t, A.Name) else None

    @property
    def normalized(self) -> bool:
        """True for `x ~ dist` on a whole variable: a normalized density of x."""
        return self.kind == "density" and isinstance(self.target, A.Name)


@dataclass(frozen=True)
class LetDef:
    """A deterministic quantity, recorded in samples and usable in factors."""

    name: str
    expr: Optional[A.Expr] = None
    fn: Optional[Callable] = field(default=None, compare=False)
    args: tuple[str, ...] = ()
    span: Optional[Span] = field(default=None, compare=False)


# ------------------------------------------------------------ composition tree
@dataclass(frozen=True)
class Ref:
    name: str
    span: Optional[Span] = field(default=None, compare=False)


@dataclass(frozen=True)
class Product:
    children: tuple


@dataclass(frozen=True)
class Mixture:
    weights: tuple  # Exprs or floats; normalized to sum to one
    children: tuple
    logz: Optional[tuple] = None  # each component's log Z, for unnormalized components
    span: Optional[Span] = field(default=None, compare=False)
    logz_source: Optional[tuple] = field(default=None, compare=False)  # one ebmppl.LogZ per component


@dataclass(frozen=True)
class Temper:
    child: Any
    temperature: Any  # Expr or float
    span: Optional[Span] = field(default=None, compare=False)


def tree_refs(node) -> list[str]:
    """Factor names a composition tree refers to, in order."""
    if node is None:
        return []
    if isinstance(node, Ref):
        return [node.name]
    if isinstance(node, (Product, Mixture)):
        return [n for c in node.children for n in tree_refs(c)]
    if isinstance(node, Temper):
        return tree_refs(node.child)
    raise TypeError(node)


def tree_str(node) -> str:
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Product):
        return " + ".join(tree_str(c) for c in node.children)
    if isinstance(node, Mixture):
        parts = [f"{_fmt(w) if isinstance(w, A.Expr) else w}: {tree_str(c)}" for w, c in zip(node.weights, node.children)]
        return f"mixture({', '.join(parts)})"
    if isinstance(node, Temper):
        t = _fmt(node.temperature) if isinstance(node.temperature, A.Expr) else node.temperature
        inner = tree_str(node.child)
        return f"({inner}) / {t}" if isinstance(node.child, Product) else f"{inner} / {t}"
    return str(node)


# ------------------------------------------------------------------- the Model
@dataclass(frozen=True)
class Model:
    """A composed factor model: specs, factors, lets and a composition tree.

    Build one with :func:`ebmppl.load`, :func:`ebmppl.parse` or the
    decorators in :mod:`ebmppl.model.decorators`. A model is immutable:
    :meth:`bind`, :meth:`condition`, ``+`` and ``/`` return new models.

    Example:
        >>> m = ebmppl.parse("var x : real[2]\\nfactor f = sum(x^2)")
        >>> float(m.energy({}, {"x": jnp.ones(2)}))
        2.0
    """

    specs: tuple[Spec, ...]
    factors: tuple[Factor, ...]
    lets: tuple[LetDef, ...] = ()
    tree: Any = None  # None: the product of all factors
    const_values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    name: str = "model"
    warnings: tuple[str, ...] = field(default=(), compare=False)
    source: Optional[str] = field(default=None, compare=False, repr=False)

    # ---- spec access
    def spec(self, name: str) -> Spec:
        for s in self.specs:
            if s.name == name:
                return s
        raise KeyError(name)

    def _role(self, role: str) -> tuple[Spec, ...]:
        return tuple(s for s in self.specs if s.role == role)

    @property
    def vars(self) -> tuple[Spec, ...]:
        return self._role("var")

    @property
    def latents(self) -> tuple[Spec, ...]:
        return self._role("latent")

    @property
    def params(self) -> tuple[Spec, ...]:
        return self._role("param")

    @property
    def consts(self) -> tuple[Spec, ...]:
        return self._role("const")

    @property
    def random(self) -> tuple[Spec, ...]:
        """Vars and latents, in declaration order."""
        return tuple(s for s in self.specs if s.role in ("var", "latent"))

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def effective_tree(self):
        if self.tree is not None:
            return self.tree
        return Product(tuple(Ref(f.name) for f in self.factors))

    @property
    def is_bound(self) -> bool:
        """True when every const without a default has a value."""
        return all(s.name in self.const_values or s.init is not None for s in self.consts)

    # ---- transformations (each returns a new Model)
    def bind(self, data=None, **values) -> "Model":
        """Bind consts from a dict or a JSON file (posteriordb format); checks shapes and domains."""
        from .bind import bind
        return bind(self, data, **values)

    def condition(self, **values) -> "Model":
        """Fix some variables to values; they become consts of the new model."""
        from .compose import condition
        return condition(self, values)

    def temper(self, temperature) -> "Model":
        from .compose import temper
        return temper(self, temperature)

    @property
    def component_logz(self) -> tuple:
        """Each mixture component's log Z as an ``ebmppl.LogZ`` (value, stderr, method, detail); re-estimate
        them at other params with :func:`ebmppl.with_component_logz`."""
        from .compose import component_logz
        return component_logz(self)

    def __add__(self, other: "Model") -> "Model":
        from .compose import product
        return product(self, other)

    def __truediv__(self, temperature) -> "Model":
        return self.temper(temperature)

    # ---- lowering (pure JAX functions; cached per model)
    @functools.cached_property
    def lowered(self):
        """The :class:`~ebmppl.model.lower.Lowered` functions of this (bound) model."""
        from .lower import lower
        return lower(self)

    def init_params(self, key=0) -> dict:
        """Initial parameter values (a dict of arrays; mlp params are nested dicts)."""
        return self.lowered.init_params(key)

    def energy(self, params, values, consts=None):
        """E(x): the total energy at one point (values: dict name -> array)."""
        return self.lowered.energy(params, values, consts)

    def log_density(self, params, values, consts=None):
        """-E(x): the unnormalized log density."""
        return self.lowered.log_density(params, values, consts)

    def score(self, params, values, consts=None):
        """grad_x log p(x) for the continuous vars and latents (a dict)."""
        return self.lowered.score(params, values, consts)

    def free_energy(self, params, visible, consts=None):
        """F(v) = -log sum_h exp(-E(v, h)): latents summed out (analytic or by enumeration)."""
        return self.lowered.free_energy(params, visible, consts)

    def potential(self, params, unconstrained, consts=None, fixed=None):
        """Energy on unconstrained reals minus the log-Jacobian of the transforms."""
        return self.lowered.potential(params, unconstrained, consts, fixed)

    def numpyro_model(self, params=None, consts=None):
        """A NumPyro model function: one sample site per var/latent, one factor per term."""
        return self.lowered.numpyro_model(params, consts)

    def deterministics(self, params, values, consts=None) -> dict:
        """The `let` quantities at one point."""
        return self.lowered.deterministics(params, values, consts)

    # ---- identity
    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of the model's structure (specs, factors, tree); stable across runs."""
        desc = {
            "specs": [[s.name, s.role, str(s.domain), s.shape_str] for s in self.specs],
            "factors": [[f.name, f.kind, repr(f.expr), repr(f.target), repr(f.dist),
                         getattr(f.fn, "__qualname__", None)] for f in self.factors],
            "lets": [[l.name, repr(l.expr), getattr(l.fn, "__qualname__", None)] for l in self.lets],
            "tree": tree_str(self.effective_tree),
        }
        return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]

    def summary(self) -> str:
        from .summary import summary
        return summary(self, self.lowered if self.is_bound else None)

    def __repr__(self) -> str:
        parts = [f"{s.role} {s.name}: {s.type_str()}" for s in self.specs]
        parts = parts[:8] + ([f"... {len(parts) - 8} more"] if len(parts) > 8 else [])
        return f"Model({self.name!r}; {'; '.join(parts)}; model = {tree_str(self.effective_tree)})"

    def _repr_html_(self) -> str:
        from .summary import summary_html
        return summary_html(self)


def with_specs(model: Model, specs) -> Model:
    return replace(model, specs=tuple(specs))


def semantic(msg, span=None, hint=None):
    return EbmSemanticError(msg, span, hint)
