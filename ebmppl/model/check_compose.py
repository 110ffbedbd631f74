"""The checker's composition rules: the ``model =`` line becomes a composition tree
(:class:`~ebmppl.model.spec.Product`, :class:`~ebmppl.model.spec.Temper`,
:class:`~ebmppl.model.spec.Mixture` over factor references), and ``condition(...)`` turns
random variables into consts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ..dsl import ast as A
from ..errors import Span, did_you_mean
from .check_expr import expr, static_expr
from .check_guarantee import require
from .check_scope import Scope, err, find_name
from .domain_needs import argument
from .library import CONSTANTS
from .compose import normalized_over
from .library import names_in
from .spec import Mixture, Model, Product, Ref, Temper


def composition(scope: Scope, st: A.ModelStmt):
    """The tree of the ``model =`` line; a ``condition(...)`` around it makes its names consts in ``scope``."""
    e = st.expr
    used: dict[str, Span] = {}
    if isinstance(e, A.CCondition):
        tree = ctree(scope, e.child, used)
        condition(scope, e)
        return tree
    return ctree(scope, e, used)


def condition(scope: Scope, e: A.CCondition) -> None:
    """`model = condition(A, x = value)`: x becomes a const whose default is the value.

    Each binding is a const as soon as it is checked, so a later value may use an earlier one.
    """
    seen = set()
    for kw in e.bindings:
        s = scope.specs.get(kw.name)
        if s is None:
            raise err(f"cannot condition on unknown name '{kw.name}'", kw.span,
                      did_you_mean(kw.name, [n for n, v in scope.specs.items() if v.role in ("var", "latent")])
                      or "condition on a declared var or latent")
        if s.role not in ("var", "latent"):
            raise err(f"cannot condition on '{kw.name}': it is a {s.role}, not a var or latent", kw.span,
                      "only random variables can be fixed by condition(...)")
        if kw.name in seen:
            raise err(f"'{kw.name}' is conditioned twice", kw.span)
        seen.add(kw.name)
        static_expr(scope, kw.value, f"the value of '{kw.name}'")
        scope.specs[kw.name] = replace(s, role="const", init=kw.value, conditioned=True)


def ctree(scope: Scope, e: A.CExpr, used: dict[str, Span]):
    """The composition tree of ``e``; ``used`` collects the factors referenced so far."""
    rule = _RULES.get(type(e))
    if rule is None:
        raise TypeError(f"the checker has no rule for a {type(e).__name__} node")
    return rule(scope, e, used)


def _ref(scope: Scope, e: A.CRef, used) -> Ref:
    if e.name not in scope.factors:
        if e.name in scope.decl_span:
            raise err(f"'{e.name}' is a {scope.what(e.name)}, not a factor", e.span,
                      "the `model =` line combines factors")
        raise err(f"unknown factor '{e.name}'", e.span,
                  did_you_mean(e.name, scope.factors) or f"factors are: {', '.join(scope.factors)}")
    if e.name in used:
        raise err(f"factor '{e.name}' is used twice in the model", e.span,
                  "each factor enters the model once; use `/ T` to scale it")
    used[e.name] = e.span
    return Ref(e.name, e.span)


def _product(scope: Scope, e: A.CProduct, used) -> Product:
    return Product(tuple(ctree(scope, c, used) for c in e.items))


def _temper(scope: Scope, e: A.CTemper, used) -> Temper:
    static_or_param(scope, e.temperature, "a temperature")
    require(scope, e.temperature, argument("positive"), "a temperature", literal_hint="use a number above 0")
    return Temper(ctree(scope, e.child, used), e.temperature, e.span)


def _mixture(scope: Scope, e: A.CMixture, used) -> Mixture:
    if len(e.components) < 2:
        raise err("a mixture needs at least two components", e.span,
                  "write `mixture(w1: A, w2: B)`, or use a single factor directly: `model = A`")
    comps = tuple(ctree(scope, c, used) for c in e.components)
    for w in e.weights:
        static_or_param(scope, w, "a mixture weight")
        require(scope, w, argument("positive"), "a mixture weight", literal_hint=WEIGHT_LITERAL,
                declare_hint=WEIGHT_DECLARE)
    over = [_normalized_over(scope, c) for c in comps]
    for ce, o in zip(e.components, over):
        if o is None:
            raise err("a mixture of unnormalized components needs each component's log Z", ce.span,
                      "write each component as a density (`factor a : x ~ normal(...)`), or build "
                      "the mixture in Python with ebmppl.mixture(..., logz='estimate') or logz=[...] values")
    if len({frozenset(o) for o in over}) != 1:
        raise err("the components of a mixture must be densities of the same variables", e.span,
                  "; ".join(f"component {i + 1} is over {sorted(o)}" for i, o in enumerate(over)))
    return Mixture(tuple(e.weights), comps, None, e.span)


def _nested_condition(scope: Scope, e: A.CCondition, used):
    raise err("condition(...) must be the whole right-hand side", e.span)


WEIGHT_LITERAL = "use a number above 0; weights are normalized to sum to 1"
WEIGHT_DECLARE = ("declare '{name}' as positive, or make the weights the entries of a simplex param "
                  "(`param w : simplex[K]`, then `mixture(w[0]: A, w[1]: B)`)")


def static_or_param(scope: Scope, e: A.Expr, what: str) -> None:
    """A temperature or a mixture weight: literals, consts and params only."""
    expr(scope, e, frozenset())
    for n in sorted(names_in(e)):
        if n in CONSTANTS:
            continue
        s = scope.specs.get(n)
        if s is None or s.role not in ("const", "param"):
            raise err(f"{what} may use literals, consts and params, not the "
                      f"{s.role if s else 'let'} '{n}'", find_name(e, n) or e.span)


def _normalized_over(scope: Scope, node) -> Optional[frozenset]:
    """The vars a subtree is a normalized density of, or None if unnormalized."""
    return normalized_over(Model(tuple(scope.specs.values()), tuple(scope.factors.values()),
                                 tuple(scope.lets.values())), node)


_RULES = {
    A.CRef: _ref, A.CProduct: _product, A.CTemper: _temper, A.CMixture: _mixture,
    A.CCondition: _nested_condition,
}
