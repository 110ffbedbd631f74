"""The checker's declaration rules: a ``const``/``var``/``latent``/``param`` line becomes a
:class:`~ebmppl.model.spec.Spec` once its domain, its shape and its initial value are checked.

What a domain kind takes (its arguments, whether it is a vector, whether a param may have it)
comes from the domain table, :mod:`ebmppl.model.domains`.
"""

from __future__ import annotations

import math

from ..dsl import ast as A
from ..errors import EbmError, Span, did_you_mean
from . import domains, library as L
from .check_dist import dist_args, dist_info
from .check_expr import expr, static_expr
from .check_scope import Scope, err, find_name, literal, warn
from .domains import Domain
from .extent import Extent
from .library import names_in
from .spec import Spec

# JAX indexes arrays with int32: no array may hold more elements.
MAX_ELEMENTS = 2**31 - 1


def spec_of(scope: Scope, st: A.Decl) -> Spec:
    """The spec a declaration makes (its name is already declared in ``scope``)."""
    dom = domain(scope, st.type, st.role, st.name)
    dims = tuple(dim(scope, d) for d in st.type.dims)
    _sizes(scope, st, dom, dims)
    network = dom.row.network
    if st.role == "param" and not dom.row.param:
        raise err(f"a param is learned by gradients, so it must be continuous, not {dom.kind}", st.type.span,
                  "declare it real, positive, unit, interval(lo, hi), ordered or simplex, or make it a const")
    if network and dims:
        raise err("an mlp param has no shape", st.type.span, "remove the [..] after mlp(...)")
    if st.init is not None:
        if st.role not in ("param", "const"):
            raise err(f"a {st.role} cannot have a value", st.init.span,
                      "only params (initial value) and consts (default) take `= value`"
                      + ("; to fix a var to a value use condition(...)" if st.role == "var" else ""))
        if network:
            raise err("an mlp param is initialized randomly; it takes no value", st.init.span)
        static_expr(scope, st.init, f"the initial value of '{st.name}'")
    if st.init_dist is not None:
        if network:
            raise err("an mlp param is initialized randomly; it takes no initializer", st.init_dist.span)
        check_initializer(scope, Spec(st.name, st.role, dom, dims, st.init, st.init_dist, st.name_span))
    return Spec(st.name, st.role, dom, dims, st.init, st.init_dist, st.name_span)


def _sizes(scope: Scope, st: A.Decl, dom: Domain, dims: tuple) -> None:
    """The literal sizes of a declaration: not too many elements, a vector kind not empty, a random
    variable or param not empty (a const may be: an empty data set)."""
    literal = [d for d in dims if isinstance(d, int)]
    if literal and math.prod(literal) > MAX_ELEMENTS:
        raise EbmError("limit", f"'{st.name}' would have {math.prod(literal):,} elements, more than "
                       f"{MAX_ELEMENTS:,}", st.type.span, "declare a smaller shape")
    if dom.row.vector and dims and dims[-1] == 0:
        raise err(f"{'an' if dom.kind[0] in 'aeiou' else 'a'} {dom.kind} needs at least 1 entry, "
                  f"but '{st.name}' is declared {dom.kind}[..., 0]", st.type.span, "give it a length of 1 or more")
    if 0 in literal and st.role != "const":
        raise err(f"'{st.name}' would be empty: a size is 0", st.type.span,
                  f"give every size of a {st.role} 1 or more, or remove the {st.role}")
    if dom.row.normalized and dims and dims[-1] == 1:
        warn(scope, f"'{st.name}' (line {st.span.line}) is a simplex of length 1: its value is always [1]")


def check_initializer(scope: Scope, spec: Spec) -> None:
    """``param w : D ~ dist(...)``: the distribution's draws are values of D."""
    dom, d = spec.domain, spec.init_dist
    info = dist_info(d)
    dist_args(scope, d, info, lambda a: static_expr(scope, a, f"an argument of '{info.name}'"))
    if dom.discrete != info.discrete:
        raise err(f"'{info.name}' cannot initialize a {dom.kind} param", d.span,
                  "choose a distribution whose values lie in the param's domain")
    sup = domains.support(info.support)
    if domains.holds_draws(dom.kind, dom.args, sup, _support_extent(d, info, sup)):
        return
    row = dom.row
    if row.vector and not row.normalized:
        hint = f"give an initial value instead (`= [...]`, {row.described}), or none for the default"
    else:
        drawn = [(o.name, domains.support(o.support)) for o in L.DISTRIBUTIONS.values() if not o.discrete and not o.bounds]
        fits = [name for name, s in drawn if domains.holds_draws(dom.kind, dom.args, s, s.extent)]
        hint = (f"choose an initializer whose draws are {row.described}" + (f", e.g. {', '.join(fits[:3])}"
                if fits else "") + ", or give an initial value")
    raise err(f"the initializer {info.name} draws values outside the domain of '{spec.name}' "
              f"({spec.role} {spec.name} : {spec.type_str()})", d.span, hint)


def _support_extent(d: A.DistCall, info: L.DistInfo, sup: domains.Support):
    """The values a distribution draws: its support's, or between its literal bounds (``uniform(0, 2)``)."""
    if not info.bounds:
        return sup.extent
    args = dict(zip(info.params, d.args))
    args.update({k.name: k.value for k in d.kwargs})
    lo, hi = (literal(args[b]) for b in info.bounds)
    return Extent(-math.inf if lo is None else lo, math.inf if hi is None else hi)


def domain(scope: Scope, t: A.TypeExpr, role: str, name: str = "") -> Domain:
    """The domain a declaration's type names, with its arguments checked (the bounds of a var or latent named
    ``name`` may read the vars and latents declared before it)."""
    kind = t.domain
    row = domains.DOMAINS.get(kind)
    if row is not None and row.network:
        if role != "param":
            raise err(f"only a param can be an mlp, not a {role}", t.span, f"declare it as `param {'f'} : mlp(...)`")
        return mlp_domain(scope, t)
    if row is None:
        hint = did_you_mean(kind, tuple(domains.DOMAINS)) or f"domains are {', '.join(domains.DECLARABLE)}"
        raise err(f"unknown domain '{kind}'", Span(t.span.source, t.span.line, t.span.col,
                                                   t.span.line, t.span.col + len(kind)), hint)
    if t.kwargs:
        raise err(f"domain '{kind}' takes no keyword arguments", t.kwargs[0].span)
    if len(t.args) != row.arity:
        raise err(f"domain '{kind}' takes {row.arity} argument{'s' if row.arity != 1 else ''}, got {len(t.args)}",
                  t.span, f"write `{row.signature}`")
    for a in t.args:
        if row.bounds and role in ("var", "latent"):
            _varying_bound(scope, a, kind, name)
        else:
            static_expr(scope, a, f"an argument of '{kind}'")
    if row.size_arg is not None:
        k = dim(scope, t.args[0], what=row.size_arg, least=1)
        if k == 1:
            warn(scope, f"{kind}(1) at line {t.span.line} has one category: its value is always 0")
    if row.vector and not t.dims:
        raise err(f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} value is a vector; give its length", t.span,
                  f"write `{kind}[K]`")
    if row.bounds:
        _bounds(kind, t)
    return Domain(kind, tuple(t.args))


def _varying_bound(scope: Scope, a: A.Expr, kind: str, name: str) -> None:
    """A bound of a var or latent: consts, and the continuous vars and latents declared before it (``interval(0,
    1 - alpha)``); its Jacobian then follows those values. A param is fixed while sampling but not while
    transforming, and a let is computed after the vars: neither may bound one."""
    expr(scope, a, frozenset())
    what = f"a bound of {kind} for '{name}'"
    for n in sorted(names_in(a)):
        s = scope.specs.get(n)
        at = find_name(a, n) or a.span
        if n in scope.lets:
            raise err(f"{what} may read consts and vars, but '{n}' is a let", at,
                      "write the let's expression in the bound")
        if s is None or s.role == "const":
            continue
        if s.role == "param":
            raise err(f"{what} may read consts and vars, but '{n}' is a param", at,
                      "bound it by consts and vars, or transform it in a let (`let y = lo + (hi - lo) * u` with "
                      "`var u : unit`)")
        if not s.domain.continuous:
            raise err(f"{what} may read continuous vars, but '{n}' is {s.type_str()}", at,
                      "bound it by consts and continuous vars")


def _bounds(kind: str, t: A.TypeExpr) -> None:
    """``interval(lo, hi)`` with literal bounds: finite, and the lower one below the upper."""
    lo, hi = (literal(a) for a in t.args)
    for v, a in ((lo, t.args[0]), (hi, t.args[1])):
        if v is not None and not math.isfinite(v):
            raise err(f"the bounds of {kind} must be finite, got {v:g}", a.span,
                      "for a half-line declare positive (and shift it in a let, `let y = lo + x`); "
                      "for the whole line, real")
    if lo is not None and hi is not None and not lo < hi:
        raise err(f"empty {kind}({lo:g}, {hi:g})", t.span, "the lower bound must be below the upper")


def mlp_domain(scope: Scope, t: A.TypeExpr) -> Domain:
    """``mlp(n_in, [hidden, ...], n_out, act=...)``: the sizes and the activation."""
    usage = "write `mlp(n_in, [hidden, ...], n_out, act=swish)`"
    if len(t.args) != 3:
        raise err(f"mlp takes 3 positional arguments (inputs, hidden sizes, outputs), got {len(t.args)}",
                  t.span, usage)
    n_in = dim(scope, t.args[0], what="the mlp's input size", least=1)
    hid = t.args[1]
    if not isinstance(hid, A.Array):
        raise err("the mlp's hidden sizes must be a list", hid.span, usage)
    hidden = tuple(dim(scope, h, what="a hidden size", least=1) for h in hid.items)
    n_out = dim(scope, t.args[2], what="the mlp's output size", least=1)
    act = "swish"
    for kw in t.kwargs:
        if kw.name != "act":
            raise err(f"mlp has no option '{kw.name}'", kw.span, "the only option is act=...")
        if not isinstance(kw.value, A.Name) or kw.value.id not in L.ACTIVATIONS:
            got = kw.value.id if isinstance(kw.value, A.Name) else "this"
            raise err(f"unknown activation '{got}'", kw.value.span,
                      did_you_mean(got, L.ACTIVATIONS) or f"choose one of {', '.join(L.ACTIVATIONS)}")
        act = kw.value.id
    return Domain(t.domain, (n_in, hidden, n_out, act))


def dim(scope: Scope, e: A.Expr, what: str = "a size", least: int = 0):
    """A size: an int literal (at least ``least``), an int const, or integer arithmetic of those."""
    v = literal(e)
    if v is not None:
        if not (math.isfinite(v) and v == int(v)):
            raise err(f"{what} must be an integer, not {v:g}", e.span, "write a whole number, e.g. `3`")
        if v < 0:
            raise err(f"{what} must not be negative, got {int(v)}", e.span)
        if v < least:
            raise err(f"{what} must be at least {least}, got {int(v)}", e.span)
        return int(v)
    for n in sorted(names_in(e)):
        s = scope.specs.get(n)
        if s is None:
            hint = did_you_mean(n, [k for k, v in scope.specs.items() if v.role == "const"])
            raise err(f"unknown name '{n}' in {what}", find_name(e, n) or e.span,
                      hint or f"declare it first: `const {n} : int`")
        if s.role != "const" or not s.domain.row.sizes or s.shape:
            raise err(f"{what} must be known before sampling, but '{n}' is a {s.role} "
                      f"{s.type_str()}", find_name(e, n) or e.span,
                      "sizes are int literals or scalar `const ... : int`")
    if not isinstance(e, (A.Name, A.BinOp, A.UnOp)) or (isinstance(e, A.BinOp) and e.op not in "+-*/%"):
        raise err(f"{what} must be an integer expression of int consts", e.span)
    return e
