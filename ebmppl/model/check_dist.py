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
