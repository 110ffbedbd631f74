"""Model algebra: product (``+``), temperature (``/``), mixture and conditioning.

Each combinator is a few lines over specs, factors and the composition tree,
in the manner of optax's ``chain``.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ..errors import EbmSemanticError
from .library import names_in
from .spec import Factor, Mixture, Model, Product, Ref, Spec, Temper, tree_refs, tree_str


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
    return Model(specs, factors, _lets(a, b), tree, MappingProxyType({**a.const_values, **b.const_values}),
                 name=f"{a.name}+{b.name}", warnings=a.warnings + b.warnings)


def temper(model: Model, temperature) -> Model:
    """The model at temperature T: energy E / T."""
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise EbmSemanticError(f"a temperature must be positive, got {temperature}")
    if isinstance(temperature, str):  # the name of a const or param
        from .decorators import _expr
        temperature = _expr(temperature)
    return replace(model, tree=Temper(model.effective_tree, temperature), name=f"{model.name}/T")


def mixture(weights, components, logz=None, params=None, **logz_options) -> Model:
    """A convex mixture of models: p(x) = sum_k w_k p_k(x), with p_k = exp(-E_k - log Z_k).

    ``logz`` says where each component's log Z comes from:

    - ``None``: every component is a normalized density (all ``~`` factors over the same
      variables), so every log Z is 0 and the mixture is exact;
    - ``"estimate"``: estimate each unnormalized component's log Z with :func:`ebmppl.logz` at
      ``params`` (default: the mixture's initial params); ``logz_options`` (``method="auto"``,
      ``runs=``, ``points=``, ...) go to it. Normalized components keep log Z = 0;
    - one entry per component: a number (supplied), an ``ebmppl.LogZ`` (from :func:`ebmppl.logz`;
      its method and error are recorded) or ``None`` for a normalized component.

    ``model.component_logz`` and ``model.summary()`` say which value each component uses and where it
    came from. A log Z holds at the params it was computed at: after fitting, re-estimate it with
    ``model.with_component_logz(params)``.

    Example:
        >>> a = ebmppl.parse("var x : real\nfactor a = (x + 1)^2 / 2")
        >>> b = ebmppl.parse("var x : real\nfactor b = (x - 2)^2 / 0.5")
        >>> m = ebmppl.mixture([0.4, 0.6], [a, b], logz="estimate")   # quadrature: 1-D
        >>> [round(z.value, 4) for z in m.component_logz]
        [0.9189, 0.2258]
    """
    from ..partition import LogZ
    if len(weights) != len(components) or len(components) < 2:
        raise EbmSemanticError("mixture needs at least two components and one weight each")
    if any(not w > 0 for w in np.asarray(weights, dtype=float)):
        raise EbmSemanticError("mixture weights must be positive")
    estimate = isinstance(logz, str)
    if estimate and logz != "estimate":
        raise EbmSemanticError(f"logz must be None, 'estimate' or one value per component, got '{logz}'")
    if (params is not None or logz_options) and not estimate:
        raise EbmSemanticError("params and log Z options are for logz='estimate'")
    if logz is None:
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
    elif not estimate and len(logz) != len(components):
        raise EbmSemanticError("give one log Z per mixture component")
    model = components[0]
    trees = [model.effective_tree]
    for c in components[1:]:
        specs = _merge_specs(model, c)
        factors, renames = _merge_factors(model, c)
        trees.append(_rename(c.effective_tree, renames))
        model = replace(model, specs=specs, factors=factors, lets=_lets(model, c))
    weights = tuple(float(w) for w in weights)
    if logz is None:
        tree = Mixture(weights, tuple(trees), None, logz_source=tuple(_normalized() for _ in trees))
    elif estimate:
        tree = Mixture(weights, tuple(trees), (0.0,) * len(trees))
    else:
        sources = []
        for i, (z, t) in enumerate(zip(logz, trees)):
            if z is None:
                if normalized_over(model, t) is None:
                    raise EbmSemanticError(f"mixture component {i + 1} ('{components[i].name}') is unnormalized "
                                           f"but its log Z is None", None,
                                           "give a value, or pass logz='estimate'")
                sources.append(_normalized())
            elif isinstance(z, LogZ):
                sources.append(LogZ(float(z.value), float(z.stderr), z.method, z.detail))
            else:
                sources.append(LogZ(float(z), 0.0, "supplied", "given to ebmppl.mixture"))
        tree = Mixture(weights, tuple(trees), tuple(s.value for s in sources), logz_source=tuple(sources))
    model = replace(model, tree=tree, name="mixture")
    return with_component_logz(model, params, **logz_options) if estimate else model


def _normalized():
    from ..partition import LogZ
    return LogZ(0.0, 0.0, "normalized", "a normalized density")


def with_component_logz(model: Model, params=None, method: str = "auto", **logz_options) -> Model:
    """The model with every unnormalized mixture component's log Z estimated at ``params``.

    Each component is a sub-model (the same specs, its own composition subtree); its log Z comes from
    :func:`ebmppl.logz` with ``method`` and ``logz_options``; normalized components keep log Z = 0.
    Nested mixtures are resolved innermost first. The values and where they came from are in
    ``model.component_logz`` and ``model.summary()``.
    """
    from ..errors import EbmError
    from ..partition import logz as estimate
    if not _mixtures(model.effective_tree):
        raise EbmError("logz", f"model '{model.name}' has no mixture", hint="build one with ebmppl.mixture(...)")
    params = model.init_params(0) if params is None else params

    def visit(node):
        if isinstance(node, Product):
            return Product(tuple(visit(c) for c in node.children))
        if isinstance(node, Temper):
            return replace(node, child=visit(node.child))
        if not isinstance(node, Mixture):
            return node
        children = tuple(visit(c) for c in node.children)
        sources = []
        for c in children:
            if normalized_over(model, c) is not None:
                sources.append(_normalized())
            else:
                sub = replace(model, tree=c, name=f"{model.name}[{tree_str(c)}]")
                sources.append(estimate(sub, params, method=method, **logz_options))
        return replace(node, children=children, logz=tuple(float(s.value) for s in sources),
                       logz_source=tuple(sources))

    return replace(model, tree=visit(model.effective_tree))


def component_logz(model: Model) -> tuple:
    """One ``ebmppl.LogZ`` per component of every mixture in the model (innermost mixture first)."""
    from ..partition import LogZ
    out = []
    for node in _mixtures(model.effective_tree):
        if node.logz_source is not None:
            out.extend(node.logz_source)
        elif node.logz is not None:
            out.extend(LogZ(float(z), 0.0, "supplied", "given") for z in node.logz)
        else:
            out.extend(_normalized() for _ in node.children)
    return tuple(out)


def _mixtures(node) -> list:
    """Mixture nodes of a composition tree, innermost first."""
    if isinstance(node, (Product, Mixture)):
        inner = [m for c in node.children for m in _mixtures(c)]
        return inner + [node] if isinstance(node, Mixture) else inner
    if isinstance(node, Temper):
        return _mixtures(node.child)
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
