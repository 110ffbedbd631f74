"""The checker: AST -> :class:`~ebmppl.model.spec.Model`.

It resolves names, checks declarations, domains, distribution arguments and
the composition, and reports each problem at its source span with a hint.
Shapes are checked when the model is lowered (by abstract evaluation, see
:mod:`ebmppl.model.lower`), where every size is known.

This module holds the entry :func:`check` and the statements; the rules live beside it:
:mod:`~ebmppl.model.check_decl` (declarations and domains), :mod:`~ebmppl.model.check_expr`
(expressions), :mod:`~ebmppl.model.check_dist` (distributions),
:mod:`~ebmppl.model.check_compose` (the ``model =`` line), :mod:`~ebmppl.model.check_guarantee`
(what a declaration guarantees where a scale, a probability, a temperature or a weight is needed, by
the range rules of :mod:`~ebmppl.model.check_range`) and :mod:`~ebmppl.model.check_names` (names the
saved draws keep for themselves).
"""

from __future__ import annotations

from typing import Optional

from ..dsl import ast as A
from ..errors import Span, did_you_mean
from . import library as L
from .check_compose import composition
from .check_decl import spec_of
from .check_dist import dist_args, dist_info, support_fits, truncation
from .check_expr import expr
from .check_names import refuse_axis_collisions, refuse_reserved
from .check_range import remember_let
from .check_scope import Scope, err
from .library import names_in
from .spec import Factor, LetDef, Model, tree_refs


class Checker:
    """Checks a program's statements in order, filling a :class:`~ebmppl.model.check_scope.Scope`."""

    def __init__(self, program: A.Program, name: str = "model"):
        self.program = program
        self.name = name
        self.scope = Scope()
        self.warnings: list[str] = []
        self.model_stmt: Optional[A.ModelStmt] = None

    def run(self) -> Model:
        """Check every statement, then the composition and which names take part; the model."""
        rules = {A.Decl: self.decl, A.Let: self.let, A.FactorStmt: self.factor, A.TildeStmt: self.tilde,
                 A.ModelStmt: self.model}
        for st in self.program.stmts:
            rule = rules.get(type(st))
            if rule is None:  # includes are expanded by the parser
                raise TypeError(f"the checker has no rule for a {type(st).__name__} statement")
            rule(st)
        sc = self.scope
        if not sc.factors:
            span = self.program.stmts[-1].span if self.program.stmts else \
                Span(self.program.span.source, 1, 1, 1, 1)
            raise err("the model has no factors", span,
                      "add an energy term (`factor E = ...`) or a density (`x ~ normal(0, 1)`)")
        tree = composition(sc, self.model_stmt) if self.model_stmt is not None else None
        refuse_axis_collisions(sc.specs.values(), sc.lets.values())
        self.warnings.extend(sc.warnings)
        self.warnings.extend(usage_warnings(sc, tree))
        return Model(tuple(sc.specs.values()), tuple(sc.factors.values()), tuple(sc.lets.values()),
                     tree, name=self.name, warnings=tuple(self.warnings))

    # ---- names
    def _declare(self, name: str, span: Span, what: str) -> None:
        if name in self.scope.decl_span:
            first = self.scope.decl_span[name]
            raise err(f"'{name}' is already declared (first at line {first.line})", span,
                      f"rename this {what} or remove one of the declarations")
        if name in L.FUNCTIONS or L.lp_function_name(name) or L.cdf_function_name(name):
            raise err(f"'{name}' is the name of a built-in function", span, f"choose another name for this {what}")
        if name in L.CONSTANTS or name == "range":
            raise err(f"'{name}' is a built-in constant", span, f"choose another name for this {what}")
        refuse_reserved(name, what, span)
        self.scope.decl_span[name] = span

    def _factor_name(self, name: Optional[str], span: Span, default: str) -> str:
        sc = self.scope
        if name is None:
            name = default
            k = 1
            while name in sc.factors or name in sc.decl_span:
                k += 1
                name = f"{default}_{k}"
            return name
        if name in sc.factors:
            first = sc.factors[name].span
            raise err(f"factor '{name}' is already defined (first at line {first.line})", span,
                      "give each factor its own name")
        if name in sc.decl_span:
            raise err(f"factor '{name}' has the name of a declared {sc.what(name)}", span,
                      "give the factor another name")
        return name

    # ---- statements
    def decl(self, st: A.Decl) -> None:
        self._declare(st.name, st.name_span, st.role)
        self.scope.specs[st.name] = spec_of(self.scope, st)

    def let(self, st: A.Let) -> None:
        self._declare(st.name, st.name_span, "let")
        expr(self.scope, st.expr, frozenset())
        self.scope.lets[st.name] = LetDef(st.name, st.expr, span=st.span)
        remember_let(self.scope, st.name)

    def factor(self, st: A.FactorStmt) -> None:
        name = self._factor_name(st.name, st.name_span, st.name)
        expr(self.scope, st.expr, frozenset())
        self.scope.factors[name] = Factor(name, "energy", expr=st.expr, span=st.span)

    def tilde(self, st: A.TildeStmt) -> None:
        sc = self.scope
        tgt = st.target
        tname = tgt.value.id if isinstance(tgt, A.Index) else tgt.id
        tspan = tgt.value.span if isinstance(tgt, A.Index) else tgt.span
        spec = sc.specs.get(tname)
        if spec is None:
            if tname in sc.lets:
                raise err(f"'{tname}' is a let; a density needs a var, latent or const on the left of '~'",
                          tspan, "put the distribution on the variables the let is computed from")
            raise err(f"unknown name '{tname}'", tspan,
                      did_you_mean(tname, sc.specs) or f"declare it first: `var {tname} : real`")
        if spec.role == "param":
            raise err(f"'{tname}' is a param; a density needs a var, latent or const on the left of '~'",
                      tspan, f"declare it as `var {tname}` to give it a prior, or write an energy term "
                             f"`factor reg_{tname} = ...` to regularize the param")
        if isinstance(tgt, A.Index):
            expr(sc, tgt, frozenset())
        info = dist_info(st.dist)
        dist_args(sc, st.dist, info, lambda a: expr(sc, a, frozenset()))
        support_fits(spec, info, st.dist)
        if st.dist.trunc is not None:
            truncation(sc, spec, info, st.dist.trunc, lambda b: expr(sc, b, frozenset()))
        default = f"{tname}_{info.name}" if st.name is None else st.name
        name = self._factor_name(st.name, st.span, default)
        sc.factors[name] = Factor(name, "density", target=tgt, dist=st.dist, span=st.span)

    def model(self, st: A.ModelStmt) -> None:
        if self.model_stmt is not None:
            raise err("a second `model =` line", st.span,
                      f"there is one already at line {self.model_stmt.span.line}; combine them")
        self.model_stmt = st


def usage_warnings(scope: Scope, tree) -> list[str]:
    """Warnings for factors left off the ``model =`` line and for random variables no factor reads."""
    out = []
    if tree is not None:
        refs = set(tree_refs(tree))
        for f in [f for f in scope.factors if f not in refs]:
            out.append(f"factor '{f}' (line {scope.factors[f].span.line}) is not on the "
                       f"`model =` line and takes no part in the model")
    else:
        refs = set(scope.factors)
    used = set()
    for fname in refs:
        f = scope.factors[fname]
        used |= names_in(f.expr) | names_in(f.dist) | names_in(f.target)
    # a let reads lets declared before it: walking them last to first follows every chain of lets back to the vars
    for let in reversed(scope.lets.values()):
        if let.name in used:
            used |= names_in(let.expr)
    for s in scope.specs.values():
        if s.role in ("var", "latent") and s.name not in used:
            out.append(f"{s.role} '{s.name}' (line {s.span.line}) appears in no factor; its density is flat")
    return out


def check(program: A.Program, name: str = "model") -> Model:
    """Check a parsed program and build its :class:`Model`.

    Example:
        >>> from ebmppl.dsl.parse import parse
        >>> check(parse("var x : real\\nx ~ normal(0, 1)")).factors[0].name
        'x_normal'
    """
    return Checker(program, name).run()
