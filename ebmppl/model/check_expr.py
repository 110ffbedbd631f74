"""The checker's expression rules: names, calls, comprehensions, indexing.

:func:`expr` dispatches on the node type through one table; a node type with no rule is an
error, never skipped. Nodes whose only rule is "check the children" go through
:func:`ebmppl.dsl.ast.children`, so the checker walks the tree the way every other pass does.
"""

from __future__ import annotations

from ..dsl import ast as A
from ..errors import EbmSemanticError, did_you_mean
from . import library as L
from .check_dist import arg_domain, ordered_bounds
from .check_range import loop_extent
from .check_scope import Scope, err, find_name
from .library import names_in


def expr(scope: Scope, e, bound: frozenset) -> None:
    """Check an expression: every name is known, every call well-formed. ``bound``: loop variables."""
    if e is None:  # an absent slice bound
        return
    rule = _RULES.get(type(e))
    if rule is None:
        raise TypeError(f"the checker has no rule for a {type(e).__name__} node")
    rule(scope, e, bound)


def static_expr(scope: Scope, e: A.Expr, what: str) -> None:
    """An expression known before sampling: literals, consts and functions of them."""
    expr(scope, e, frozenset())
    for n in sorted(names_in(e)):
        s = scope.specs.get(n)
        if s is not None and s.role != "const":
            raise err(f"{what} may only use consts, but '{n}' is a {s.role}", find_name(e, n) or e.span,
                      "use a number or a const here")
        if n in scope.lets:
            raise err(f"{what} may only use consts, but '{n}' is a let", find_name(e, n) or e.span)


def _leaf(scope: Scope, e, bound) -> None:
    pass


def _children(scope: Scope, e, bound) -> None:
    for c in A.children(e):
        expr(scope, c, bound)


def _name(scope: Scope, e: A.Name, bound) -> None:
    if e.id in bound or e.id in scope.specs or e.id in scope.lets or e.id in L.CONSTANTS:
        s = scope.specs.get(e.id)
        if s is not None and s.domain.row.network and e.id not in bound:
            raise err(f"'{e.id}' is an mlp; call it on an input", e.span, f"write `{e.id}(x)`")
        return
    if e.id in L.FUNCTIONS or e.id in L.DISTRIBUTIONS:
        raise err(f"'{e.id}' is a function; call it with arguments", e.span, f"write `{e.id}(...)`")
    if e.id in scope.factors:
        raise err(f"'{e.id}' is a factor, not a value", e.span,
                  "factors are combined on the `model =` line; use a `let` for shared quantities")
    if e.id in ("True", "False", "true", "false"):
        raise err(f"unknown name '{e.id}'", e.span, "write 1 for true and 0 for false")
    hint = did_you_mean(e.id, list(scope.known()) + list(bound))
    raise err(f"unknown name '{e.id}'", e.span, hint or "declare it before using it")


def _array(scope: Scope, e: A.Array, bound) -> None:
    if not e.items:
        raise err("an empty list", e.span, "use zeros(0) for an empty array")
    _children(scope, e, bound)


def _index(scope: Scope, e: A.Index, bound) -> None:
    for c in A.children(e):  # the value, then each subscript
        expr(scope, c, bound)
        if isinstance(c, A.Slice):
            _slice_bounds_static(scope, c, bound)


def _slice_bounds_static(scope: Scope, s: A.Slice, bound) -> None:
    for n in sorted(names_in(s)):
        spec = scope.specs.get(n)
        if n in bound or (spec is not None and spec.role != "const"):
            what = "a loop variable" if n in bound else f"a {spec.role}"
            raise err(f"a slice bound must be known before sampling, but '{n}' is {what}",
                      find_name(s, n) or s.span, "slice with int literals or int consts"
                      + (f", or index single elements: `x[{n}]`" if n in bound else ""))


def _gen_call(scope: Scope, e: A.GenCall, bound) -> None:
    fi = L.FUNCTIONS.get(e.func)
    if fi is None or fi.doc != "reduction":
        raise err(f"'{e.func}(... for ...)' needs a reduction", e.func_span or e.span,
                  "use sum, mean, prod, max, min or logsumexp, or write a list `[... for ...]`")
    comprehension(scope, e.comp, bound)


def comprehension(scope: Scope, e: A.Comprehension, bound) -> None:
    """``[body for var in range(...)]``: the range bounds are fixed; the body sees ``var``."""
    it = e.iter
    if not (isinstance(it, A.Call) and it.func == "range"):
        raise err("a comprehension loops over range(...)", it.span, f"write `for {e.var} in range(n)`")
    if not 1 <= len(it.args) <= 3 or it.kwargs:
        raise err("range takes 1 to 3 integer arguments (stop, or start, stop[, step])", it.span)
    for a in it.args:
        _range_bound(scope, a, bound)
    if e.var in scope.specs or e.var in scope.lets:
        raise err(f"the loop variable '{e.var}' hides the {scope.what(e.var)} of the same name", it.span,
                  "choose another loop variable")
    with scope.looping(e.var, loop_extent(scope, it)):  # for the range checks of what the body computes
        expr(scope, e.body, bound | {e.var})


def recurrence(scope: Scope, e: A.Recurrence, bound) -> None:
    """``let s[t in a:b] = body with s[0] = init``: fixed bounds; the body reads ``t`` and earlier values ``s[t - k]``."""
    it = A.Call(e.start.span.to(e.stop.span), "range", (e.start, e.stop), ())
    for a in it.args:
        _range_bound(scope, a, bound)
    if e.count is not None:
        _range_bound(scope, e.count, bound)
    if e.var in scope.specs or e.var in scope.lets or e.var == e.name:
        raise err(f"the index '{e.var}' hides the {scope.what(e.var) if e.var != e.name else 'recurrence'} of the "
                  f"same name", e.start.span, "choose another index name")
    expr(scope, e.init, bound)
    _reads_earlier(e)
    with scope.looping(e.var, loop_extent(scope, it)):
        expr(scope, e.body, bound | {e.var, e.name})


def _reads_earlier(e: A.Recurrence) -> None:
    """Every read of the recurrence in its body is ``s[t - k]`` with k ≥ 1: a value already computed."""
    lags = A.recurrence_lags(e)
    for n in A.walk(e.body):
        if not (isinstance(n, A.Name) and n.id == e.name):
            continue
        k = lags.get(id(n))
        if k is None:
            raise err(f"the recurrence reads '{e.name}' only as {e.name}[{e.var} - k], k a whole number of at least 1",
                      n.span, f"write {e.name}[{e.var} - 1] for the value before")
        if k < 1:
            shown = e.var if k == 0 else f"{e.var} + {-k}"
            raise err(f"{e.name}[{shown}] reads a value not computed yet: at {e.var} the recurrence computes "
                      f"{e.name}[{e.var}] from earlier values", n.span, f"read earlier values, e.g. {e.name}[{e.var} - 1]")


def _range_bound(scope: Scope, a, bound) -> None:
    expr(scope, a, bound)
    for n in names_in(a):
        if n in bound:
            raise err("range bounds must be known before sampling; they cannot use a loop variable",
                      find_name(a, n) or a.span, "use a fixed range and index inside the body")
        s = scope.specs.get(n)
        if s is None or s.role != "const" or not s.domain.row.sizes:
            raise err(f"range bounds must be int literals or int consts, but '{n}' is "
                      f"{'a ' + s.role if s else 'a let'}", find_name(a, n) or a.span,
                      "loop over a fixed range, e.g. `range(5)` or `range(N)` with `const N : int`")


def call(scope: Scope, e: A.Call, bound) -> None:
    """A call: of an mlp param, of a log density (``normal_lpdf(y | mu, sigma)``) or of a function."""
    fspan = e.func_span or e.span
    if e.func == "range":
        raise err("range(...) can only follow `for ... in`", fspan, "write `[expr for i in range(n)]`")
    if e.func in scope.specs:
        _mlp_call(scope, e, bound)
    elif L.lp_function_name(e.func) is not None:
        _lp_call(scope, e, bound)
    elif L.cdf_function_name(e.func) is not None:
        _given_args(scope, e, L.cdf_function_name(e.func)[0], bound)
    else:
        _function_call(scope, e, bound)


def _mlp_call(scope: Scope, e: A.Call, bound) -> None:
    spec = scope.specs[e.func]
    if not spec.domain.row.network:
        raise err(f"'{e.func}' is a {spec.role} of type {spec.type_str()}, not a function", e.func_span or e.span,
                  "only mlp params can be called; index arrays with [..]")
    if len(e.args) != 1 or e.kwargs:
        raise err(f"the mlp '{e.func}' takes one input", e.span, f"write `{e.func}(x)`")
    expr(scope, e.args[0], bound)


def _lp_call(scope: Scope, e: A.Call, bound) -> None:
    info, kind = L.lp_function_name(e.func)
    if kind != info.lp_suffix:
        raise err(f"{info.name} is {'discrete' if info.discrete else 'continuous'}; "
                  f"its log density is {info.name}_{info.lp_suffix}", e.func_span or e.span,
                  f"write `{info.name}_{info.lp_suffix}(...)`")
    _given_args(scope, e, info, bound)


def _given_args(scope: Scope, e: A.Call, info: L.DistInfo, bound) -> None:
    """``f(y | args)`` of a distribution's log density or cdf: a value and the distribution's arguments."""
    n = len(e.args) - 1 + len(e.kwargs)
    if len(e.args) < 1 or n != len(info.params):
        raise err(f"{e.func} takes a value and {len(info.params)} argument"
                  f"{'s' if len(info.params) != 1 else ''}, got {max(0, len(e.args) - 1) + len(e.kwargs)}",
                  e.span, f"write `{e.func}(y | {', '.join(info.params)})`")
    for a in e.args:
        expr(scope, a, bound)
    args = dict(zip(info.params, e.args[1:]))
    for kw in e.kwargs:
        if kw.name not in info.params:
            raise err(f"{info.name} has no argument '{kw.name}'", kw.span, did_you_mean(kw.name, info.params))
        if kw.name in args:
            raise err(f"argument '{kw.name}' given twice", kw.span, f"pass each argument once: `{info.signature()}`")
        expr(scope, kw.value, bound)
        args[kw.name] = kw.value
    for pname, pdom in zip(info.params, info.param_domains):
        arg_domain(scope, info, pname, pdom, args[pname])
    ordered_bounds(info, args)


def _function_call(scope: Scope, e: A.Call, bound) -> None:
    fi = L.FUNCTIONS.get(e.func)
    if fi is None:
        raise _not_a_function(scope, e)
    if e.given:
        raise err("'|' is only for log densities like normal_lpdf(y | mu, sigma)", e.span,
                  f"separate the arguments of {e.func} with commas")
    n = len(e.args)
    if n < fi.min_args or (fi.max_args is not None and n > fi.max_args):
        want = (f"{fi.min_args}" if fi.max_args == fi.min_args else
                f"{fi.min_args} or more" if fi.max_args is None else f"{fi.min_args} to {fi.max_args}")
        raise err(f"{e.func} takes {want} argument{'s' if want != '1' else ''}, got {n}", e.span)
    for kw in e.kwargs:
        if kw.name not in fi.kwargs:
            raise err(f"{e.func} has no option '{kw.name}'", kw.span,
                      f"its options are {', '.join(fi.kwargs)}" if fi.kwargs else f"{e.func} takes no options")
    _children(scope, e, bound)
    for i, a in enumerate(e.args):
        if i in fi.static:
            _static_arg(scope, a, e.func, bound)
    for kw in e.kwargs:
        if kw.name in fi.static:
            _static_arg(scope, kw.value, e.func, bound)


def _not_a_function(scope: Scope, e: A.Call) -> EbmSemanticError:
    """The error for a call of a name that is no function."""
    fspan = e.func_span or e.span
    if e.func in L.DISTRIBUTIONS:
        info = L.DISTRIBUTIONS[e.func]
        return err(f"'{e.func}' is a distribution; in an expression use its log density", fspan,
                  f"write `{e.func}_{info.lp_suffix}(y | {', '.join(info.params)})`, or `y ~ {e.func}(...)`")
    if e.func in scope.lets or e.func in scope.factors:
        return err(f"'{e.func}' is not a function", fspan)
    base, _, kind = e.func.rpartition("_")
    if kind in L.CDF_KINDS and base in L.DISTRIBUTIONS:
        return err(f"{base} has no cumulative distribution function in NumPyro", fspan,
                   "the cdf functions exist for " + ", ".join(sorted(L.WITH_CDF)))
    cands = list(L.FUNCTIONS) + [f"{d}_{i.lp_suffix}" for d, i in L.DISTRIBUTIONS.items()]
    return err(f"unknown function '{e.func}'", fspan, did_you_mean(e.func, cands) or "see docs/dsl.md for the functions")


def _static_arg(scope: Scope, a, fname: str, bound) -> None:
    for n in names_in(a):
        s = scope.specs.get(n)
        if n in bound or s is None or s.role != "const":
            raise err(f"this argument of {fname} must be known before sampling (a literal or a const)",
                      find_name(a, n) or a.span)


_RULES = {
    A.Num: _leaf, A.NewAxis: _leaf, A.EllipsisIndex: _leaf,
    A.Name: _name,
    A.BinOp: _children, A.Compare: _children, A.BoolOp: _children, A.UnOp: _children, A.Not: _children,
    A.IfElse: _children, A.KwArg: _children, A.Slice: _children,
    A.Call: call, A.Comprehension: comprehension, A.GenCall: _gen_call,
    A.Array: _array, A.Index: _index, A.Recurrence: recurrence,
}
