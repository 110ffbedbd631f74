"""The checker's guarantee rule: a value used where a property is needed — a distribution's scale, rate
or probabilities, a temperature, a mixture weight — is a literal with the property, a name declared
with a domain that guarantees it, or an expression whose declared inputs guarantee it.

A literal is checked as it is (``normal(0, -1)``, ``normal(0, inf)``). A name is checked by its
declaration (``param s : real`` is no scale; ``positive``, ``unit`` or ``interval(0.5, 2)`` are). An
expression that reads a param, var, latent or let must be provably inside, by the range rules of
:mod:`ebmppl.model.check_range` (``exp(t)`` is, ``s * 2`` is when ``s`` is, ``T - 1`` is not), and the
message names the declaration to change. An expression of literals and consts alone is known when the
model is loaded: the lowering evaluates it and checks the number (literals alone, ``0 - 2``, are left to
it entirely), so here it is refused only when its consts' declared domains already put it outside (``-s``
with ``s`` positive).
"""

from __future__ import annotations

import math
from typing import Optional

from ..dsl import ast as A
from .check_range import culprit, describe, extent_of, is_simplex
from .check_scope import Scope, err, literal
from .domain_needs import Argument
from .extent import REAL


def require(scope: Scope, e: A.Expr, need: Argument, what: str, *, literal_hint: Optional[str] = None,
            declare_hint: Optional[str] = None) -> None:
    """``e``, used as ``what`` (``the scale of normal``, ``a temperature``), has what ``need`` says.

    ``literal_hint`` and ``declare_hint`` replace the fixes the argument's row suggests for a literal and
    for a declared name (``{name}`` in ``declare_hint`` is the name).
    """
    if need.need is None:
        return
    val = literal(e)
    if val is not None:
        if not need.admits_literal(val):
            if math.isinf(val):
                raise err(f"{what} must be finite, got {val:g}", e.span,
                          "write a finite number" + ("" if need.extent == REAL else f" ({need.need})"))
            raise err(f"{what} must be {need.need}, got {val:g}", e.span, literal_hint or need.literal_hint)
        return
    if isinstance(e, A.Name) and e.id in scope.specs:
        _declared(scope, e, need, what, declare_hint)
        return
    if need.structure:
        _structure_through_lets(scope, e, need, what)
        return
    if need.expressions:
        _expression(scope, e, need, what, declare_hint)


def _declare(name: str, need: Argument, declare_hint: Optional[str]) -> str:
    if declare_hint:
        return declare_hint.format(name=name)
    return f"declare '{name}' as {need.declared}" + need.transform_hint


def _declared(scope: Scope, e: A.Name, need: Argument, what: str, declare_hint) -> None:
    s = scope.specs[e.id]
    if need.admits_row(s.domain.row, s.domain.args):
        return
    if need.structure:
        if s.role == "const":  # bound data: its values are the data's to check
            return
        raise err(f"{what} must be {need.need}, but '{e.id}' is declared {s.type_str()}, and no domain "
                  f"guarantees {need.structure}", e.span, need.build_hint)
    raise err(f"{what} must be {need.need}, but '{e.id}' is declared {s.type_str()}", e.span,
              _declare(e.id, need, declare_hint))


def _structure_through_lets(scope: Scope, e, need: Argument, what: str) -> None:
    """A covariance matrix or Cholesky factor that is a let standing for a declared name is that name."""
    seen = set()
    while isinstance(e, A.Name) and e.id in scope.lets and e.id not in seen:
        seen.add(e.id)
        let = scope.lets[e.id]
        if not isinstance(let.expr, A.Name):
            return
        e = let.expr
    if isinstance(e, A.Name) and e.id in scope.specs:
        _declared(scope, e, need, what, None)


def _dynamic(scope: Scope, e) -> bool:
    """``e`` reads a param, var, latent or let: its value is not known when the model is loaded."""
    return any(isinstance(n, A.Name) and n.id not in scope.loops
               and (n.id in scope.lets or (n.id in scope.specs and scope.specs[n.id].role != "const"))
               for n in A.walk(e))


def _expression(scope: Scope, e, need: Argument, what: str, declare_hint) -> None:
    names = [n.id for n in A.walk(e) if isinstance(n, A.Name)]
    if any(n in scope.lets and scope.lets[n].expr is None for n in names):
        return  # a Python let: a function whose values nothing here can see
    dynamic = _dynamic(scope, e)
    if not dynamic and not any(n in scope.specs for n in names):
        return  # literals alone (`0 - 2`): the lowering computes the number and checks it
    subject = f"'{e.id}'" if isinstance(e, A.Name) else "this"
    if need.normalized:
        if dynamic and not is_simplex(scope, e):
            raise err(f"{what} must be {need.need}, but {subject} is not known to sum to 1", e.span,
                      need.compute_hint)
        return
    ext = extent_of(scope, e)
    if ext.within(need.extent) or (not dynamic and ext.meets(need.extent)):
        return  # guaranteed; or consts alone that may be fine: their values are checked when bound
    if isinstance(e, A.UnOp) and e.op == "-" and extent_of(scope, e.operand).within(need.extent):
        raise err(f"{what} must be {need.need}, but this is minus a {need.need} value", e.span)
    name = culprit(scope, e, need.extent)
    if name is None and dynamic and culprit(scope, e, need.extent, consts=True) is not None:
        return  # the values of consts decide (`sigma / sqrt(N)`): data, checked when it is bound
    msg = f"{what} must be {need.need}, but {subject} {describe(ext, need.extent)}"
    if name is not None:
        raise err(msg + f" ('{name}' is declared {scope.specs[name].type_str()})", e.span,
                  _declare(name, need, declare_hint))
    raise err(msg, e.span, need.compute_hint)
