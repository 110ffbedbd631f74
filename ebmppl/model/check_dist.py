"""The checker's distribution rules: the name, the arguments and their domains, and whether the
support fits the target's declared domain.

What each support and argument domain needs comes from the domain table
(:data:`~ebmppl.model.domains.SUPPORTS`, :data:`~ebmppl.model.domains.ARGUMENTS`).
"""

from __future__ import annotations

from typing import Callable

from ..dsl import ast as A
from ..errors import Span, did_you_mean
from . import domains, library as L
from .check_guarantee import require
from .check_range import extent_of
from .check_scope import Scope, err, literal
from .spec import Spec


def dist_info(d: A.DistCall) -> L.DistInfo:
    """The library's entry for ``d``'s distribution; an unknown name is an error with a hint."""
    info = L.DISTRIBUTIONS.get(d.name)
    if info is None:
        span = Span(d.span.source, d.span.line, d.span.col, d.span.line, d.span.col + len(d.name))
        lp = L.lp_function_name(d.name)
        if lp is not None:
            raise err(f"'{d.name}' is a log-density function, not a distribution", span,
                      f"write `~ {lp[0].name}(...)`")
        raise err(f"unknown distribution '{d.name}'", span,
                  did_you_mean(d.name, L.DISTRIBUTIONS) or "see docs/dsl.md for the distributions")
    return info


def dist_args(scope: Scope, d: A.DistCall, info: L.DistInfo, check_arg: Callable[[A.Expr], None]) -> None:
    """Check the count, the keywords and each argument of ``d`` (``check_arg`` checks the expression)."""
    n = len(d.args) + len(d.kwargs)
    if n != len(info.params):
        raise err(f"{info.name} takes {len(info.params)} argument{'s' if len(info.params) != 1 else ''} "
                  f"({', '.join(info.params)}), got {n}", d.span, f"write `{info.signature()}`")
    given = set(info.params[: len(d.args)])
    for kw in d.kwargs:
        if kw.name not in info.params:
            raise err(f"{info.name} has no argument '{kw.name}'", kw.span,
                      did_you_mean(kw.name, info.params) or f"its arguments are {', '.join(info.params)}")
        if kw.name in given:
            raise err(f"argument '{kw.name}' given twice", kw.span,
                      f"pass each argument once: `{info.signature()}`")
        given.add(kw.name)
    args = dict(zip(info.params, d.args))
    args.update({k.name: k.value for k in d.kwargs})
    for pname, pdom in zip(info.params, info.param_domains):
        check_arg(args[pname])
        arg_domain(scope, info, pname, pdom, args[pname])
    ordered_bounds(info, args)


def arg_domain(scope: Scope, info: L.DistInfo, pname: str, pdom: str, a: A.Expr) -> None:
    """``a``, passed as ``pname``, lies in the argument's domain ``pdom``: a literal by its value, a name by its
    declared domain, an expression by what the declared domains of the names it reads guarantee."""
    require(scope, a, domains.argument(pdom), f"the {pname} of {info.name}")


def ordered_bounds(info: L.DistInfo, args: dict) -> None:
    """``uniform(low, high)`` with literal bounds: the low one is below the high one."""
    if not info.bounds:
        return
    lo_name, hi_name = info.bounds
    lo, hi = literal(args[lo_name]), literal(args[hi_name])
    if lo is not None and hi is not None and not lo < hi:
        raise err(f"the {lo_name} of {info.name} must be below its {hi_name}, got {lo:g} and {hi:g}",
                  args[lo_name].span, f"write `{info.name}({min(lo, hi):g}, {max(lo, hi):g})`"
                  if lo != hi else f"give {info.name} a {lo_name} below its {hi_name}")


def support_fits(spec: Spec, info: L.DistInfo, d: A.DistCall) -> None:
    """``spec ~ d``: the distribution's support keeps values inside the target's declared domain."""
    row = spec.domain.row
    sup = domains.support(info.support)
    if row.fits(sup.name, spec.domain.args):
        return
    if sup.discrete and row.continuous:
        raise err(f"{info.name} is a distribution over integers, but '{spec.name}' is {spec.type_str()}",
                  d.span, f"declare '{spec.name}' as " + sup.declared)
    if not sup.discrete and row.discrete:
        raise err(f"{info.name} is a continuous distribution, but '{spec.name}' is {spec.type_str()}",
                  d.span, "use a discrete distribution (bernoulli, categorical, poisson, ...) "
                          "or declare the variable real")
    raise err(f"{info.name} has {sup.name} support, but '{spec.name}' is declared {spec.type_str()}", d.span,
              f"declare '{spec.name}' as {sup.declared}")


def truncation(scope: Scope, spec: Spec, info: L.DistInfo, t: A.Truncation, check_bound: Callable) -> None:
    """``~ dist(...) T[lo, hi]``: the distribution has a cdf and is continuous, a bound is given, literal bounds are
    ordered, and a var or latent is declared inside [lo, hi] (its density is zero outside)."""
    if info.name not in L.WITH_CDF:
        raise err(f"{info.name} cannot be truncated: NumPyro gives it no cumulative distribution function", t.span,
                  "truncation T[lo, hi] works with " + ", ".join(sorted(n for n in L.WITH_CDF if
                                                                           not L.DISTRIBUTIONS[n].discrete)))
    if info.discrete:
        p = ", ".join(info.params)
        raise err(f"truncating a discrete distribution ({info.name}) is not supported", t.span,
                  f"subtract the log probability of the range yourself, e.g. `factor norm = "
                  f"sum(log({info.name}_cdf(U | {p}) - {info.name}_cdf(L - 1 | {p})))`")
    if t.lo is None and t.hi is None:
        raise err("a truncation needs a bound", t.span, "write T[lo, ], T[, hi] or T[lo, hi]")
    for b in (t.lo, t.hi):
        if b is not None:
            check_bound(b)
    lo, hi = (None if b is None else literal(b) for b in (t.lo, t.hi))
    if lo is not None and hi is not None and not lo < hi:
        raise err(f"the truncation's lower bound must be below its upper bound, got {lo:g} and {hi:g}", t.span)
    if spec.role in ("var", "latent"):
        _declared_inside(scope, spec, t)


def _declared_inside(scope: Scope, spec: Spec, t: A.Truncation) -> None:
    """The declared domain of a truncated var keeps it in [lo, hi]: each bound is a number the domain's end is
    beyond, or the domain's own bound expression (``var x : interval(0, U)`` with ``T[0, U]``)."""
    dom = spec.domain.row.extent(tuple(spec.domain.args))
    own = tuple(spec.domain.args) if spec.domain.row.bounds else (None, None)
    lo_ok = t.lo is None or t.lo == own[0] or extent_of(scope, t.lo).hi <= dom.lo
    hi_ok = t.hi is None or t.hi == own[1] or extent_of(scope, t.hi).lo >= dom.hi
    if lo_ok and hi_ok:
        return
    want = ("positive" if t.hi is None and literal(t.lo) == 0 else
            f"interval({_text(t.lo, '-inf')}, {_text(t.hi, 'inf')})")
    raise err(f"'{spec.name}' is declared {spec.type_str()}, but the truncation gives it density only between its "
              f"bounds",
              t.span, f"declare '{spec.name}' inside the truncation, e.g. `{spec.role} {spec.name} : {want}`")


def _text(e, default: str) -> str:
    """The source text of a one-line expression (a bound in a hint)."""
    sp = None if e is None else e.span
    if sp is None or sp.end_line != sp.line or not sp.source.text:
        return default if e is None else "..."
    return sp.source.line(sp.line)[sp.col - 1: sp.end_col - 1].strip() or "..."
