"""Model algebra: product (``+``), temperature (``/``), mixture and conditioning.

Each combinator is a few lines over specs, factors and the composition tree,
in the manner of optax's ``chain``.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Optional

import numpy as np

from ..dsl import ast as A
from ..errors import EbmSemanticError
from . import domains, library as L
from .check_dist import dist_args
from .check_guarantee import require
from .check_names import refuse_axis_collisions
from .check_range import remember_let
from .check_scope import Scope
from .domain_needs import argument
from .library import names_in
from .normalizer import LogZ, normalized, recorded, supplied
from .spec import Factor, Mixture, Model, Product, Ref, Spec, Temper, tree_refs


def _merge_specs(a: Model, b: Model) -> tuple[Spec, ...]:
    out = {s.name: s for s in a.specs}
    for s in b.specs:
        t = out.get(s.name)
        if t is None:
            out[s.name] = s
        elif (t.role, t.domain, t.shape_str) != (s.role, s.domain, s.shape_str):
            raise EbmSemanticError(f"'{s.name}' is declared twice, differently: {t.role} {t.type_str()} and "
                                   f"{s.role} {s.type_str()}", s.span or t.span,
                                   "declare it the same way in both models")
    return tuple(out.values())


def _merge_factors(a: Model, b: Model) -> tuple[tuple[Factor, ...], dict]:
    """Factors of both models; b's factors are renamed when their names clash."""
    names = {f.name for f in a.factors}
    out, renames = list(a.factors), {}
    for f in b.factors:
        name = f.name
        k = 1
        while name in names:
            k += 1
            name = f"{f.name}_{k}"
        names.add(name)
        if name != f.name:
            renames[f.name] = name
            f = replace(f, name=name)
        out.append(f)
    return tuple(out), renames


def _rename(node, renames):
    if not renames:
        return node
    if isinstance(node, Ref):
        return Ref(renames.get(node.name, node.name), node.span)
    if isinstance(node, Product):
        return Product(tuple(_rename(c, renames) for c in node.children))
    if isinstance(node, Mixture):
        return replace(node, children=tuple(_rename(c, renames) for c in node.children))
    if isinstance(node, Temper):
        return replace(node, child=_rename(node.child, renames))
    return node


def _lets(a: Model, b: Model):
    seen = {l.name for l in a.lets}
    return a.lets + tuple(l for l in b.lets if l.name not in seen)


def product(a: Model, b: Model) -> Model:
    """The product of experts: energies add."""
    if not isinstance(b, Model):
        return NotImplemented
    specs = _merge_specs(a, b)
    factors, renames = _merge_factors(a, b)
    ta, tb = a.effective_tree, _rename(b.effective_tree, renames)
    items = (ta.children if isinstance(ta, Product) else (ta,)) + (tb.children if isinstance(tb, Product) else (tb,))
    tree = None if a.tree is None and b.tree is None else Product(items)
    return declared(Model(specs, factors, _lets(a, b), tree, MappingProxyType({**a.const_values, **b.const_values}),
                          name=f"{a.name}+{b.name}", warnings=a.warnings + b.warnings))


def declared(model: Model) -> Model:
    """``model`` once what its declarations guarantee is checked again with every declaration it now has: a
    Python density's arguments (``ebmppl.normal("x", 0, "s")`` needs ``s`` positive) and names that
    would clash with the saved draws' axes."""
    refuse_axis_collisions(model.specs, model.lets)
    scope = Scope(specs={s.name: s for s in model.specs})
    for let in model.lets:  # in order, each judged once: a long chain of lets is never followed recursively
        scope.lets[let.name] = let
        remember_let(scope, let.name)
    for f in model.factors:
        if f.dist is not None and f.dist.name in L.DISTRIBUTIONS:
            dist_args(scope, f.dist, L.DISTRIBUTIONS[f.dist.name], lambda a: None)
    for t in _tempers(model.effective_tree):
        if isinstance(t, A.Expr):
            require(scope, t, argument("positive"), "a temperature")
    return model


def _tempers(node) -> list:
    """The temperatures of a composition tree."""
    if isinstance(node, Temper):
        return [node.temperature] + _tempers(node.child)
    if isinstance(node, (Product, Mixture)):
        return [t for c in node.children for t in _tempers(c)]
    return []


def temper(model: Model, temperature) -> Model:
    """The model at temperature T: energy E / T. ``temperature``: a number above 0, or the name of a const or
    param declared with a domain that guarantees one (positive, unit, an interval above 0)."""
    if isinstance(temperature, str):  # the name of a const or param
        from .decorators import _expr
        temperature = _expr(temperature)
    if not isinstance(temperature, A.Expr):
        temperature = _number(temperature, "a temperature")
    return declared(replace(model, tree=Temper(model.effective_tree, temperature), name=f"{model.name}/T"))


def _float(v) -> Optional[float]:
    """A single number as a float (a Python, NumPy or JAX scalar); None for anything else (bools too)."""
    if isinstance(v, (bool, np.bool_, str, bytes)) or np.ndim(v) != 0:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _number(v, what: str) -> float:
    """A temperature or mixture weight given as a number: finite and above 0."""
    x = _float(v)
    if x is None:
        raise EbmSemanticError(f"{what} must be numbers above 0, got {v!r}" if what.endswith("s") else
                               f"{what} must be a number above 0, got {v!r}")
    if not domains.contains("positive", (), x):
        why = "finite" if np.isinf(x) else "positive"
        raise EbmSemanticError(f"{what} must be {why}, got {x:g}", None, "use a finite number above 0")
    return x


def check_mixture_arguments(weights, components, logz) -> None:
    """The errors of a mixture's arguments that come before any log Z is looked at, in a fixed order."""
    if len(weights) != len(components) or len(components) < 2:
        raise EbmSemanticError("mixture needs at least two components and one weight each")
    for w in weights:
        _number(w, "mixture weights")
    if isinstance(logz, str) and logz != "estimate":
        raise EbmSemanticError(f"logz must be None, 'estimate' or one value per component, got '{logz}'")


def mixture(weights, components, logz=None) -> Model:
    """A convex mixture of models: p(x) = sum_k w_k p_k(x), with p_k = exp(-E_k - log Z_k).

    ``logz`` says what each component's log Z is:

    - ``None``: every component is a normalized density (all ``~`` factors over the same
      variables), so every log Z is 0 and the mixture is exact;
    - one entry per component: a number (supplied), an ``ebmppl.LogZ`` (from :func:`ebmppl.logz`;
      its method and error are recorded) or ``None`` for a normalized component.

    Estimating the log Zs (``logz="estimate"``) needs the estimators: that is
    :func:`ebmppl.mixture` (:func:`ebmppl.partition.mixture`), which builds on this one.
    ``model.component_logz`` and ``model.summary()`` say which value each component uses and where it
    came from.

    Example:
        >>> a = ebmppl.parse("var x : real\nfactor a = (x + 1)^2 / 2")
        >>> b = ebmppl.parse("var x : real\nfactor b = (x - 2)^2 / 0.5")
        >>> m = mixture([0.4, 0.6], [a, b], logz=[0.9189, 0.2258])
        >>> [z.method for z in m.component_logz]
        ['supplied', 'supplied']
    """
    check_mixture_arguments(weights, components, logz)
    weights = tuple(_number(w, "mixture weights") for w in weights)
    if isinstance(logz, str):
        raise EbmSemanticError("logz='estimate' needs the log Z estimators", None,
                               "call ebmppl.mixture(..., logz='estimate') (ebmppl.partition.mixture)")
    if logz is None:
        _check_normalized(components)
    elif len(logz) != len(components):
        raise EbmSemanticError("give one log Z per mixture component")
    model, trees = _merge_components(components)
    declared(model)
    if logz is None:
        tree = Mixture(weights, trees, None, logz_source=tuple(normalized() for _ in trees))
    else:
        sources = tuple(_source(model, components[i].name, i, z, t) for i, (z, t) in enumerate(zip(logz, trees)))
        tree = Mixture(weights, trees, tuple(s.value for s in sources), logz_source=sources)
    return replace(model, tree=tree, name="mixture")


def _check_normalized(components) -> None:
    """Without log Zs, every component must be a normalized density of the same variables."""
    for i, c in enumerate(components):
        if normalized_over(c, c.effective_tree) is None:
            raise EbmSemanticError(
                f"mixture component {i + 1} ('{c.name}') is unnormalized: a mixture of unnormalized "
                f"components needs each component's log Z", None,
                "pass logz='estimate' (ebmppl.logz at the params), or logz=[...] values, "
                "or write the components as densities")
    overs = {normalized_over(c, c.effective_tree) for c in components}
    if len(overs) != 1:
        raise EbmSemanticError("the components of a mixture must be densities of the same variables")


def _merge_components(components) -> tuple[Model, tuple]:
    """The first component with every other's specs, factors and lets merged in, and each one's subtree."""
    model = components[0]
    trees = [model.effective_tree]
    for c in components[1:]:
        specs = _merge_specs(model, c)
        factors, renames = _merge_factors(model, c)
        trees.append(_rename(c.effective_tree, renames))
        model = replace(model, specs=specs, factors=factors, lets=_lets(model, c))
    return model, tuple(trees)


def _source(model: Model, name: str, i: int, z, tree) -> LogZ:
    """Where component ``i``'s log Z comes from: normalized (None), an estimate (LogZ) or a number."""
    if z is None:
        if normalized_over(model, tree) is None:
            raise EbmSemanticError(f"mixture component {i + 1} ('{name}') is unnormalized "
                                   f"but its log Z is None", None,
                                   "give a value, or pass logz='estimate'")
        return normalized()
    if isinstance(z, LogZ):
        z = recorded(z)
        if not np.isfinite(z.value):
            raise EbmSemanticError(f"mixture component {i + 1} ('{name}') has a log Z that is not finite "
                                   f"({z.value}, {z.method})", None, "estimate it again, or give a finite value")
        return z
    x = _float(z)
    if x is None or not np.isfinite(x):
        raise EbmSemanticError(f"the log Z of mixture component {i + 1} ('{name}') must be a finite number, "
                               f"got {z!r}")
    return supplied(x)


def component_logz(model: Model) -> tuple:
    """One ``ebmppl.LogZ`` per component of every mixture in the model (innermost mixture first)."""
    out = []
    for node in mixture_nodes(model.effective_tree):
        if node.logz_source is not None:
            out.extend(node.logz_source)
        elif node.logz is not None:
            out.extend(supplied(z, "given") for z in node.logz)
        else:
            out.extend(normalized() for _ in node.children)
    return tuple(out)


def mixture_nodes(node) -> list:
    """Mixture nodes of a composition tree, innermost first."""
    if isinstance(node, (Product, Mixture)):
        inner = [m for c in node.children for m in mixture_nodes(c)]
        return inner + [node] if isinstance(node, Mixture) else inner
    if isinstance(node, Temper):
        return mixture_nodes(node.child)
    return []




def normalized_over(model: Model, node):
    """The vars a composition subtree is a normalized density of, or None if it is unnormalized.

    A `~` factor on a whole variable is normalized; a product of such factors is
    normalized when their targets are distinct and their dependencies form a DAG
    (p(x|y) p(y) is, p(x|y) p(y|x) is not); a mixture is when its components are.
    """
    if isinstance(node, Ref):
        f = model.factor(node.name)
        if not f.normalized:
            return None
        try:
            s = model.spec(f.target_name)
        except KeyError:
            raise EbmSemanticError(f"factor '{f.name}' is a density of '{f.target_name}', which is never declared",
                                   f.span, f"add ebmppl.declare({f.target_name}=ebmppl.real) + ... to the "
                                           f"component") from None
        return frozenset() if s.role == "const" else frozenset([f.target_name])
    if isinstance(node, Product):
        parts = [normalized_over(model, c) for c in node.children]
        if any(p is None for p in parts):
            return None
        seen: frozenset = frozenset()
        for p in parts:
            if seen & p:
                return None
            seen |= p
        deps = {}
        for name in tree_refs(node):
            f = model.factor(name)
            if f.kind == "density":
                deps[f.target_name] = _depends_on(model, f) & seen
        return None if _has_cycle(deps) else seen
    if isinstance(node, Mixture):
        parts = [normalized_over(model, c) for c in node.children]
        return parts[0] if all(p is not None for p in parts) else None
    return None


def _depends_on(model: Model, f: Factor) -> set:
    """Names a density's arguments read, through lets (Python factors: their arguments)."""
    lets = {l.name: l for l in model.lets}
    todo = list(names_in(f.dist)) + list(f.args)
    out: set = set()
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        if n in lets:
            l = lets[n]
            todo.extend(names_in(l.expr) if l.expr is not None else l.args)
    return out


def _has_cycle(deps: dict) -> bool:
    state: dict = {}

    def visit(n):
        if state.get(n) == 1:
            return True
        if state.get(n) == 2:
            return False
        state[n] = 1
        if any(m in deps and visit(m) for m in deps.get(n, ())):
            return True
        state[n] = 2
        return False

    return any(visit(n) for n in deps)


def condition(model: Model, values: dict) -> Model:
    """Fix vars to values; each becomes a const (bound) of the new model."""
    specs = []
    bound = dict(model.const_values)
    for s in model.specs:
        if s.name in values:
            if s.role not in ("var", "latent"):
                raise EbmSemanticError(f"cannot condition on '{s.name}': it is a {s.role}, not a var or latent",
                                       s.span, "only random variables can be conditioned on")
            s = replace(s, role="const", conditioned=True)
            bound[s.name] = np.asarray(values[s.name])
        specs.append(s)
    unknown = set(values) - {s.name for s in model.specs}
    if unknown:
        raise EbmSemanticError(f"cannot condition on unknown variable(s) {', '.join(sorted(unknown))}")
    from .bind import bind
    m = replace(model, specs=tuple(specs), const_values=MappingProxyType({}))
    return bind(m, bound) if all(s.name in bound or s.init is not None for s in m.consts) else \
        replace(m, const_values=MappingProxyType(bound))
