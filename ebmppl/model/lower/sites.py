"""Which `~` statements of a lowered model become NumPyro sample sites, and in which order.

A top-level ``y ~ dist(...)`` on a const ``y`` (data) becomes an observed site
``numpyro.sample("y", dist, obs=y)``. A top-level ``x ~ dist(...)`` on a
continuous var or latent ``x`` becomes a proper site ``numpyro.sample("x", dist)``
when the distribution's support is the var's declared domain (so NumPyro's
``biject_to(support)`` is the transform, and the Jacobian, the flat form uses)
and no other term of the model reads ``x`` except as an argument of another
site's distribution. Everything else keeps the flat form: an improper flat
(``ImproperUniform``, or flat discrete) site over the domain and a ``numpyro.factor`` per term. The
log density is the same either way; the sites are what ``Predictive``,
``log_likelihood`` and ``trace`` read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints

from ...dsl import ast as A
from ..library import names_in
from ..spec import Factor, LetDef, Product, Ref, tree_refs

if TYPE_CHECKING:
    from .lowered import Lowered


@dataclass(frozen=True)
class Site:
    """One `~` statement lowered to a NumPyro sample site."""

    name: str  # the site's name: the var or const it draws
    factor: str  # the factor it replaces
    observed: bool  # a const (data): numpyro.sample(..., obs=value)


@dataclass(frozen=True)
class SitePlan:
    """The sample sites of a model: ``order`` lists every var and latent in the order they are sampled (each
    proper site after the vars its distribution reads); ``sites`` the proper and observed sites; ``terms``
    the top-level terms that stay ``numpyro.factor`` s (their positions in the model tree)."""

    order: tuple[str, ...]
    sites: dict  # name -> Site
    terms: tuple[int, ...]

    @property
    def observed(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.sites.items() if s.observed)

    def flat(self, low: "Lowered") -> tuple[str, ...]:
        """The vars and latents without a proper site (sampled over their domain, density from the factors)."""
        return tuple(s.name for s in low.model.random if s.name not in self.sites)


def top_terms(low: "Lowered") -> tuple:
    """The model tree's top-level terms (a product's children, else the tree itself)."""
    return low.tree.children if isinstance(low.tree, Product) else (low.tree,)


def reads(low: "Lowered", node) -> set[str]:
    """The names a factor (or a let) reads, directly or through lets."""
    lets = {l.name: l for l in low.model.lets}
    todo, seen = list(_direct(low, node)), set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in lets:
            todo.extend(_direct(low, lets[n]))
    return seen


def _direct(low: "Lowered", node) -> set[str]:
    """The names a factor, let or subtree reads itself."""
    if isinstance(node, Ref):
        node = low.model.factor(node.name)
    if isinstance(node, (Factor, LetDef)):
        out = set(node.args)
        if isinstance(node, Factor) and node.target is not None:
            out |= names_in(node.target)
        if node.fn is None:
            for e in (node.expr, getattr(node, "dist", None)):
                if e is not None:
                    out |= names_in(e)
        return out
    # a mixture or a tempered subtree: its factors, weights and temperature
    values = [v for v in (*getattr(node, "weights", ()), getattr(node, "temperature", None)) if isinstance(v, A.Expr)]
    return set().union(*[_direct(low, Ref(r)) for r in tree_refs(node)], *[names_in(v) for v in values])


def plan(low: "Lowered", support_of: Callable[[Factor], Optional[object]]) -> SitePlan:
    """The sites of ``low``'s model. ``support_of(factor)``: the constraint of the factor's distribution when it
    does not depend on the vars (None when it does, or cannot be known)."""
    model, top = low.model, top_terms(low)
    random = {s.name: s for s in model.random}
    consts = {s.name for s in model.consts}
    cand: dict[str, tuple[int, Factor]] = {}
    targeted: dict[str, int] = {}
    for i, node in enumerate(top):
        f = model.factor(node.name) if isinstance(node, Ref) else None
        if f is None or not f.normalized:
            continue
        t = f.target_name
        targeted[t] = targeted.get(t, 0) + 1
        if t in consts or (t in random and random[t].domain.continuous
                           and _same_support(support_of(f), low.constraint(random[t]))):
            cand[t] = (i, f)
    cand = {t: v for t, v in cand.items() if targeted[t] == 1}
    deps = {t: reads(low, f) for t, (_, f) in cand.items()}
    while True:
        kept_terms = [i for i in range(len(top)) if i not in {v[0] for v in cand.values()}]
        read_by_terms = set().union(set(), *[reads(low, top[i]) for i in kept_terms])
        drop = {t for t in cand if t in read_by_terms}
        order, cyclic = _order(model, cand, deps, random)
        drop |= cyclic
        if not drop:
            break
        cand = {t: v for t, v in cand.items() if t not in drop}
    sites = {t: Site(t, f.name, t in consts) for t, (_, f) in cand.items()}
    return SitePlan(tuple(order), sites, tuple(kept_terms))


def _order(model, cand, deps, random) -> tuple[list, set]:
    """The vars in declaration order, each proper site after the vars its distribution reads; the sites on a
    cycle (``x ~ normal(y, 1)``, ``y ~ normal(x, 1)``: not a generative model) are returned apart."""
    pending = [s.name for s in model.random]
    done: list[str] = []
    while pending:
        ready = [n for n in pending if n not in cand or not (deps[n] & (set(random) - set(done) - {n}))]
        if not ready:
            return done, set(pending) & set(cand)
        first = ready[0]
        done.append(first)
        pending.remove(first)
    return done, set()


def base(c):
    """A constraint without its ``independent`` wrappers."""
    while isinstance(c, constraints.independent):
        c = c.base_constraint
    return c


def _same_support(a, b) -> bool:
    """The two constraints are the same set (so ``biject_to`` gives the same transform); bounds compared by
    value."""
    if a is None:
        return False
    a, b = base(a), base(b)
    if type(a) is not type(b):
        return False
    for attr in ("lower_bound", "upper_bound"):
        va, vb = getattr(a, attr, None), getattr(b, attr, None)
        if (va is None) != (vb is None):
            return False
        if va is not None and not bool(np.all(np.asarray(va) == np.asarray(vb))):
            return False
    return True


def batch_of(d: dist.Distribution, shape: tuple) -> dist.Distribution:
    """``d`` expanded to a value of ``shape`` (``theta ~ normal(0, 1)`` with ``theta`` a vector: one normal per
    element)."""
    batch = tuple(shape[: len(shape) - len(d.event_shape)])
    return d if tuple(d.batch_shape) == batch else d.expand(batch)
