"""The checker: AST -> :class:`~ebmppl.model.spec.Model`.

It resolves names, checks declarations, domains, distribution arguments and
the composition, and reports each problem at its source span with a hint.
Shapes are checked when the model is lowered (by abstract evaluation, see
:mod:`ebmppl.model.lower`), where every size is known.
"""

from __future__ import annotations

import math
from typing import Optional

from ..dsl import ast as A
from ..errors import EbmSemanticError, Span, did_you_mean
from . import library as L
from .library import names_in
from .spec import (CONTINUOUS, DOMAINS, Domain, Factor, LetDef, Mixture, Model, Product, Ref,
                          Spec, Temper)

_DOMAIN_ARITY = {"interval": 2, "categorical": 1}
# JAX indexes arrays with int32: no array may hold more elements.
MAX_ELEMENTS = 2**31 - 1


def _err(msg, span, hint=None) -> EbmSemanticError:
    return EbmSemanticError(msg, span, hint)


class Checker:
    def __init__(self, program: A.Program, name: str = "model"):
        self.program = program
        self.name = name
        self.specs: dict[str, Spec] = {}
        self.lets: dict[str, LetDef] = {}
        self.factors: dict[str, Factor] = {}
        self.decl_span: dict[str, Span] = {}
        self.warnings: list[str] = []
        self.model_stmt: Optional[A.ModelStmt] = None
        self._auto = 0

    # ---- names
    def _known(self) -> list[str]:
        return list(self.specs) + list(self.lets) + list(L.CONSTANTS)

    def _declare(self, name: str, span: Span, what: str):
        if name in self.decl_span:
            first = self.decl_span[name]
            raise _err(f"'{name}' is already declared (first at line {first.line})", span,
                       f"rename this {what} or remove one of the declarations")
        if name in L.FUNCTIONS or L.lp_function_name(name):
            raise _err(f"'{name}' is the name of a built-in function", span,
                       f"choose another name for this {what}")
        if name in L.CONSTANTS or name == "range":
            raise _err(f"'{name}' is a built-in constant", span, f"choose another name for this {what}")
        self.decl_span[name] = span

    # ---- statements
    def run(self) -> Model:
        for st in self.program.stmts:
            if isinstance(st, A.Decl):
                self.decl(st)
            elif isinstance(st, A.Let):
                self.let(st)
            elif isinstance(st, A.FactorStmt):
                self.factor(st)
            elif isinstance(st, A.TildeStmt):
                self.tilde(st)
            elif isinstance(st, A.ModelStmt):
                if self.model_stmt is not None:
                    raise _err("a second `model =` line", st.span,
                               f"there is one already at line {self.model_stmt.span.line}; combine them")
                self.model_stmt = st
        if not self.factors:
            span = self.program.stmts[-1].span if self.program.stmts else \
                Span(self.program.span.source, 1, 1, 1, 1)
            raise _err("the model has no factors", span,
                       "add an energy term (`factor E = ...`) or a density (`x ~ normal(0, 1)`)")
        tree = self.composition() if self.model_stmt is not None else None
        self.check_usage(tree)
        return Model(tuple(self.specs.values()), tuple(self.factors.values()), tuple(self.lets.values()),
                     tree, name=self.name, warnings=tuple(self.warnings))

    def decl(self, st: A.Decl):
        self._declare(st.name, st.name_span, st.role)
        dom = self.domain(st.type, st.role)
        dims = tuple(self.dim(d) for d in st.type.dims)
        literal = [d for d in dims if isinstance(d, int)]
        if literal and math.prod(literal) > MAX_ELEMENTS:
            raise _err(f"'{st.name}' would have {math.prod(literal):,} elements, more than {MAX_ELEMENTS:,}",
                       st.type.span, "declare a smaller shape")
        if st.role == "param" and dom.kind not in CONTINUOUS + ("mlp",):
            raise _err(f"a param is learned by gradients, so it must be continuous, not {dom.kind}", st.type.span,
                       "declare it real, positive, unit, interval(lo, hi), ordered or simplex, or make it a const")
        if dom.kind == "mlp" and dims:
            raise _err("an mlp param has no shape", st.type.span, "remove the [..] after mlp(...)")
        if st.init is not None:
            if st.role not in ("param", "const"):
                raise _err(f"a {st.role} cannot have a value", st.init.span,
                           "only params (initial value) and consts (default) take `= value`"
                           + ("; to fix a var to a value use condition(...)" if st.role == "var" else ""))
            if dom.kind == "mlp":
                raise _err("an mlp param is initialized randomly; it takes no value", st.init.span)
            self.static_expr(st.init, f"the initial value of '{st.name}'")
        if st.init_dist is not None:
            if dom.kind == "mlp":
                raise _err("an mlp param is initialized randomly; it takes no initializer", st.init_dist.span)
            info = self.dist_info(st.init_dist)
            self.dist_args(st.init_dist, info, static=True)
            if dom.discrete != info.discrete:
                raise _err(f"'{info.name}' cannot initialize a {dom.kind} param", st.init_dist.span,
                           "choose a distribution whose values lie in the param's domain")
        self.specs[st.name] = Spec(st.name, st.role, dom, dims, st.init, st.init_dist, st.name_span)

    def domain(self, t: A.TypeExpr, role: str) -> Domain:
        kind = t.domain
        if kind == "mlp":
            if role != "param":
                raise _err(f"only a param can be an mlp, not a {role}", t.span,
                           f"declare it as `param {'f'} : mlp(...)`")
            return self.mlp_domain(t)
        if kind not in DOMAINS:
            hint = did_you_mean(kind, DOMAINS + ("mlp",)) or f"domains are {', '.join(DOMAINS)}"
            raise _err(f"unknown domain '{kind}'", t.span.__class__(t.span.source, t.span.line, t.span.col,
                                                                     t.span.line, t.span.col + len(kind)), hint)
        if t.kwargs:
            raise _err(f"domain '{kind}' takes no keyword arguments", t.kwargs[0].span)
        want = _DOMAIN_ARITY.get(kind, 0)
        if len(t.args) != want:
            usage = {"interval": "interval(lo, hi)", "categorical": "categorical(K)"}.get(kind, kind)
            raise _err(f"domain '{kind}' takes {want} argument{'s' if want != 1 else ''}, got {len(t.args)}",
                       t.span, f"write `{usage}`")
        for a in t.args:
            self.static_expr(a, f"an argument of '{kind}'")
        if kind == "categorical":
            self.dim(t.args[0], what="the number of categories")
        if kind in ("ordered", "simplex") and not t.dims:
            raise _err(f"{'an' if kind == 'ordered' else 'a'} {kind} value is a vector; give its length", t.span,
                       f"write `{kind}[K]`")
        if kind == "interval":
            lo, hi = t.args
            if isinstance(lo, A.Num) and isinstance(hi, A.Num) and not lo.value < hi.value:
                raise _err(f"empty interval({lo.value}, {hi.value})", t.span, "the lower bound must be below the upper")
        return Domain(kind, tuple(t.args))

    def mlp_domain(self, t: A.TypeExpr) -> Domain:
        usage = "write `mlp(n_in, [hidden, ...], n_out, act=swish)`"
        if len(t.args) != 3:
            raise _err(f"mlp takes 3 positional arguments (inputs, hidden sizes, outputs), got {len(t.args)}",
                       t.span, usage)
        n_in = self.dim(t.args[0], what="the mlp's input size")
        hid = t.args[1]
        if not isinstance(hid, A.Array):
            raise _err("the mlp's hidden sizes must be a list", hid.span, usage)
        hidden = tuple(self.dim(h, what="a hidden size") for h in hid.items)
        n_out = self.dim(t.args[2], what="the mlp's output size")
        act = "swish"
        for kw in t.kwargs:
            if kw.name != "act":
                raise _err(f"mlp has no option '{kw.name}'", kw.span, "the only option is act=...")
            if not isinstance(kw.value, A.Name) or kw.value.id not in L.ACTIVATIONS:
                got = kw.value.id if isinstance(kw.value, A.Name) else "this"
                raise _err(f"unknown activation '{got}'", kw.value.span,
                           did_you_mean(got, L.ACTIVATIONS) or f"choose one of {', '.join(L.ACTIVATIONS)}")
            act = kw.value.id
        return Domain("mlp", (n_in, hidden, n_out, act))

    def dim(self, e: A.Expr, what="a size"):
        """A size: an int literal, an int const, or integer arithmetic of those."""
        if isinstance(e, A.Num):
            if not e.is_int:
                raise _err(f"{what} must be an integer, not {e.value}", e.span, "write a whole number, e.g. `3`")
            if e.value < 0:
                raise _err(f"{what} must not be negative", e.span)
            return int(e.value)
        for n in sorted(names_in(e)):
            s = self.specs.get(n)
            if s is None:
                hint = did_you_mean(n, [k for k, v in self.specs.items() if v.role == "const"])
                raise _err(f"unknown name '{n}' in {what}", _find_name(e, n) or e.span,
                           hint or f"declare it first: `const {n} : int`")
            if s.role != "const" or s.domain.kind != "int" or s.shape:
                raise _err(f"{what} must be known before sampling, but '{n}' is a {s.role} "
                           f"{s.type_str()}", _find_name(e, n) or e.span,
                           "sizes are int literals or scalar `const ... : int`")
        if not isinstance(e, (A.Name, A.BinOp, A.UnOp)) or (isinstance(e, A.BinOp) and e.op not in "+-*/%"):
            raise _err(f"{what} must be an integer expression of int consts", e.span)
        return e

    def static_expr(self, e: A.Expr, what: str):
        """An expression known before sampling: literals, consts and functions of them."""
        self.expr(e, frozenset())
        for n in sorted(names_in(e)):
            s = self.specs.get(n)
            if s is not None and s.role != "const":
                raise _err(f"{what} may only use consts, but '{n}' is a {s.role}", _find_name(e, n) or e.span,
                           "use a number or a const here")
            if n in self.lets:
                raise _err(f"{what} may only use consts, but '{n}' is a let", _find_name(e, n) or e.span)

    def let(self, st: A.Let):
        self._declare(st.name, st.name_span, "let")
        self.expr(st.expr, frozenset())
        self.lets[st.name] = LetDef(st.name, st.expr, span=st.span)

    def _factor_name(self, name: Optional[str], span: Span, default: str) -> str:
        if name is None:
            name = default
            k = 1
            while name in self.factors or name in self.decl_span:
                k += 1
                name = f"{default}_{k}"
            return name
        if name in self.factors:
            first = self.factors[name].span
            raise _err(f"factor '{name}' is already defined (first at line {first.line})", span,
                       "give each factor its own name")
        if name in self.decl_span:
            raise _err(f"factor '{name}' has the name of a declared {self._what(name)}", span,
                       "give the factor another name")
        return name

    def _what(self, name: str) -> str:
        if name in self.specs:
            return self.specs[name].role
        return "let"

    def factor(self, st: A.FactorStmt):
        name = self._factor_name(st.name, st.name_span, st.name)
        self.expr(st.expr, frozenset())
        self.factors[name] = Factor(name, "energy", expr=st.expr, span=st.span)

    def tilde(self, st: A.TildeStmt):
        tgt = st.target
        tname = tgt.value.id if isinstance(tgt, A.Index) else tgt.id
        tspan = tgt.value.span if isinstance(tgt, A.Index) else tgt.span
        spec = self.specs.get(tname)
        if spec is None:
            if tname in self.lets:
                raise _err(f"'{tname}' is a let; a density needs a var, latent or const on the left of '~'",
                           tspan, "put the distribution on the variables the let is computed from")
            raise _err(f"unknown name '{tname}'", tspan,
                       did_you_mean(tname, self.specs) or f"declare it first: `var {tname} : real`")
        if spec.role == "param":
            raise _err(f"'{tname}' is a param; a density needs a var, latent or const on the left of '~'",
                       tspan, f"declare it as `var {tname}` to give it a prior, or write an energy term "
                              f"`factor reg_{tname} = ...` to regularize the param")
        if isinstance(tgt, A.Index):
            self.expr(tgt, frozenset())
        info = self.dist_info(st.dist)
        self.dist_args(st.dist, info)
        self.support_check(spec, info, st.dist, tspan)
        default = f"{tname}_{info.name}" if st.name is None else st.name
        span = st.span if st.name is None else st.span
        name = self._factor_name(st.name, span, default)
        self.factors[name] = Factor(name, "density", target=tgt, dist=st.dist, span=st.span)

    def dist_info(self, d: A.DistCall) -> L.DistInfo:
        info = L.DISTRIBUTIONS.get(d.name)
        if info is None:
            span = Span(d.span.source, d.span.line, d.span.col, d.span.line, d.span.col + len(d.name))
            lp = L.lp_function_name(d.name)
            if lp is not None:
                raise _err(f"'{d.name}' is a log-density function, not a distribution", span,
                           f"write `~ {lp[0].name}(...)`")
            raise _err(f"unknown distribution '{d.name}'", span,
                       did_you_mean(d.name, L.DISTRIBUTIONS) or "see docs/dsl.md for the distributions")
        return info

    def dist_args(self, d: A.DistCall, info: L.DistInfo, static=False):
        n = len(d.args) + len(d.kwargs)
        if n != len(info.params):
            raise _err(f"{info.name} takes {len(info.params)} argument{'s' if len(info.params) != 1 else ''} "
                       f"({', '.join(info.params)}), got {n}", d.span, f"write `{info.signature()}`")
        given = set(info.params[: len(d.args)])
        for kw in d.kwargs:
            if kw.name not in info.params:
                raise _err(f"{info.name} has no argument '{kw.name}'", kw.span,
                           did_you_mean(kw.name, info.params) or f"its arguments are {', '.join(info.params)}")
            if kw.name in given:
                raise _err(f"argument '{kw.name}' given twice", kw.span,
                           f"pass each argument once: `{info.signature()}`")
            given.add(kw.name)
        args = dict(zip(info.params, d.args))
        args.update({k.name: k.value for k in d.kwargs})
        for pname, pdom in zip(info.params, info.param_domains):
            a = args[pname]
            if static:
                self.static_expr(a, f"an argument of '{info.name}'")
            else:
                self.expr(a, frozenset())
            self.arg_domain_check(info, pname, pdom, a)

    def arg_domain_check(self, info, pname, pdom, a: A.Expr):
        need = {"positive": "positive", "unit": "in (0, 1)", "simplex": "a simplex", "int": "an integer",
                "probs": "in (0, 1)"}.get(pdom)
        if need is None:
            return
        val = _literal(a)
        if val is not None:
            bad = ((pdom == "positive" and not val > 0) or (pdom == "unit" and not 0 <= val <= 1)
                   or (pdom == "int" and (val != int(val) or val < 0)))
            if bad:
                raise _err(f"the {pname} of {info.name} must be {need}, got {val:g}", a.span,
                           {"positive": "use a number above 0", "unit": "use a number between 0 and 1",
                            "int": "use a whole number, 0 or more"}.get(pdom))
            return
        if isinstance(a, A.Name) and a.id in self.specs:
            s = self.specs[a.id]
            ok = _domain_satisfies(s.domain.kind, pdom)
            if not ok:
                fix = {"positive": "positive", "unit": "unit", "simplex": "simplex[K]", "int": "int"}[pdom]
                raise _err(f"the {pname} of {info.name} must be {need}, but '{a.id}' is declared "
                           f"{s.type_str()}", a.span, f"declare '{a.id}' as {fix}"
                           + (" (or transform it, e.g. exp(...))" if pdom == "positive" else ""))
        if isinstance(a, A.UnOp) and a.op == "-" and pdom == "positive" and isinstance(a.operand, A.Name) \
                and a.operand.id in self.specs and self.specs[a.operand.id].domain.kind == "positive":
            raise _err(f"the {pname} of {info.name} must be positive, but this is minus a positive value",
                       a.span)

    def support_check(self, spec: Spec, info: L.DistInfo, d: A.DistCall, tspan: Span):
        kind = spec.domain.kind
        sup = info.support
        ok = {
            "real": kind in CONTINUOUS,
            "positive": kind in ("positive",) or (kind == "interval" and _nonneg(spec.domain.args[0]))
                        or kind == "unit",
            "unit": kind in ("unit",) or (kind == "interval" and _within_unit(spec.domain.args)),
            "simplex": kind == "simplex",
            "bounded": kind in ("unit", "interval"),
            "binary": kind in ("binary", "int"),
            "count": kind in ("int", "binary"),
            "categorical": kind in ("categorical", "int"),
        }[sup]
        if ok:
            return
        if sup in ("binary", "count", "categorical") and kind in CONTINUOUS:
            raise _err(f"{info.name} is a distribution over integers, but '{spec.name}' is {spec.type_str()}",
                       d.span, f"declare '{spec.name}' as "
                       + {"binary": "binary", "count": "int", "categorical": "categorical(K)"}[sup])
        if sup in ("real", "positive", "unit", "simplex", "bounded") and spec.domain.discrete:
            raise _err(f"{info.name} is a continuous distribution, but '{spec.name}' is {spec.type_str()}",
                       d.span, "use a discrete distribution (bernoulli, categorical, poisson, ...) "
                               "or declare the variable real")
        fix = {"positive": "positive", "unit": "unit", "simplex": "simplex[K]", "bounded": "interval(lo, hi)",
               "binary": "binary", "count": "int", "categorical": "categorical(K)", "real": "real"}[sup]
        raise _err(f"{info.name} has {sup} support, but '{spec.name}' is declared {spec.type_str()}", d.span,
                   f"declare '{spec.name}' as {fix}")

    # ---- expressions
    def expr(self, e, bound: frozenset):
        if e is None or isinstance(e, (A.Num, A.NewAxis, A.EllipsisIndex)):
            return
        if isinstance(e, A.Name):
            if e.id in bound or e.id in self.specs or e.id in self.lets or e.id in L.CONSTANTS:
                s = self.specs.get(e.id)
                if s is not None and s.domain.kind == "mlp" and e.id not in bound:
                    raise _err(f"'{e.id}' is an mlp; call it on an input", e.span, f"write `{e.id}(x)`")
                return
            if e.id in L.FUNCTIONS or e.id in L.DISTRIBUTIONS:
                raise _err(f"'{e.id}' is a function; call it with arguments", e.span, f"write `{e.id}(...)`")
            if e.id in self.factors:
                raise _err(f"'{e.id}' is a factor, not a value", e.span,
                           "factors are combined on the `model =` line; use a `let` for shared quantities")
            if e.id in ("True", "False", "true", "false"):
                raise _err(f"unknown name '{e.id}'", e.span, "write 1 for true and 0 for false")
            hint = did_you_mean(e.id, list(self._known()) + list(bound))
            raise _err(f"unknown name '{e.id}'", e.span, hint or "declare it before using it")
        if isinstance(e, (A.BinOp, A.Compare, A.BoolOp)):
            self.expr(e.left, bound), self.expr(e.right, bound)
        elif isinstance(e, (A.UnOp, A.Not)):
            self.expr(e.operand, bound)
        elif isinstance(e, A.IfElse):
            self.expr(e.cond, bound), self.expr(e.then, bound), self.expr(e.orelse, bound)
        elif isinstance(e, A.Call):
            self.call(e, bound)
        elif isinstance(e, A.Comprehension):
            self.comprehension(e, bound)
        elif isinstance(e, A.GenCall):
            fi = L.FUNCTIONS.get(e.func)
            if fi is None or fi.doc != "reduction":
                raise _err(f"'{e.func}(... for ...)' needs a reduction", e.func_span or e.span,
                           "use sum, mean, prod, max, min or logsumexp, or write a list `[... for ...]`")
            self.comprehension(e.comp, bound)
        elif isinstance(e, A.Array):
            if not e.items:
                raise _err("an empty list", e.span, "use zeros(0) for an empty array")
            for i in e.items:
                self.expr(i, bound)
        elif isinstance(e, A.Index):
            self.expr(e.value, bound)
            for s in e.subs:
                if isinstance(s, A.Slice):
                    self.expr(s.lo, bound), self.expr(s.hi, bound), self.expr(s.step, bound)
                    for n in sorted(names_in(s)):
                        spec = self.specs.get(n)
                        if n in bound or (spec is not None and spec.role != "const"):
                            what = "a loop variable" if n in bound else f"a {spec.role}"
                            raise _err(f"a slice bound must be known before sampling, but '{n}' is {what}",
                                       _find_name(s, n) or s.span, "slice with int literals or int consts"
                                       + (f", or index single elements: `x[{n}]`" if n in bound else ""))
                else:
                    self.expr(s, bound)
        elif isinstance(e, A.KwArg):
            self.expr(e.value, bound)
        else:
            raise TypeError(e)

    def comprehension(self, e: A.Comprehension, bound):
        it = e.iter
        if not (isinstance(it, A.Call) and it.func == "range"):
            raise _err("a comprehension loops over range(...)", it.span, f"write `for {e.var} in range(n)`")
        if not 1 <= len(it.args) <= 3 or it.kwargs:
            raise _err("range takes 1 to 3 integer arguments (stop, or start, stop[, step])", it.span)
        for a in it.args:
            self.dim_like(a, bound)
        if e.var in self.specs or e.var in self.lets:
            raise _err(f"the loop variable '{e.var}' hides the {self._what(e.var)} of the same name", it.span,
                       "choose another loop variable")
        self.expr(e.body, bound | {e.var})

    def dim_like(self, a, bound):
        self.expr(a, bound)
        for n in names_in(a):
            if n in bound:
                raise _err("range bounds must be known before sampling; they cannot use a loop variable",
                           _find_name(a, n) or a.span, "use a fixed range and index inside the body")
            s = self.specs.get(n)
            if s is None or s.role != "const" or s.domain.kind != "int":
                raise _err(f"range bounds must be int literals or int consts, but '{n}' is "
                           f"{'a ' + s.role if s else 'a let'}", _find_name(a, n) or a.span,
                           "loop over a fixed range, e.g. `range(5)` or `range(N)` with `const N : int`")

    def call(self, e: A.Call, bound):
        fspan = e.func_span or e.span
        if e.func == "range":
            raise _err("range(...) can only follow `for ... in`", fspan, "write `[expr for i in range(n)]`")
        spec = self.specs.get(e.func)
        if spec is not None:
            if spec.domain.kind != "mlp":
                raise _err(f"'{e.func}' is a {spec.role} of type {spec.type_str()}, not a function", fspan,
                           "only mlp params can be called; index arrays with [..]")
            if len(e.args) != 1 or e.kwargs:
                raise _err(f"the mlp '{e.func}' takes one input", e.span, f"write `{e.func}(x)`")
            self.expr(e.args[0], bound)
            return
        lp = L.lp_function_name(e.func)
        if lp is not None:
            info, kind = lp
            if kind != info.lp_suffix:
                raise _err(f"{info.name} is {'discrete' if info.discrete else 'continuous'}; "
                           f"its log density is {info.name}_{info.lp_suffix}", fspan,
                           f"write `{info.name}_{info.lp_suffix}(...)`")
            n = len(e.args) - 1 + len(e.kwargs)
            if len(e.args) < 1 or n != len(info.params):
                raise _err(f"{e.func} takes a value and {len(info.params)} argument"
                           f"{'s' if len(info.params) != 1 else ''}, got {max(0, len(e.args) - 1) + len(e.kwargs)}",
                           e.span, f"write `{e.func}(y | {', '.join(info.params)})`")
            self.expr(e.args[0], bound)
            d = A.DistCall(e.span, info.name, e.args[1:], e.kwargs)
            for a in d.args:
                self.expr(a, bound)
            for pname, pdom, a in zip(info.params, info.param_domains, d.args):
                self.arg_domain_check(info, pname, pdom, a)
            for kw in e.kwargs:
                if kw.name not in info.params:
                    raise _err(f"{info.name} has no argument '{kw.name}'", kw.span,
                               did_you_mean(kw.name, info.params))
                self.expr(kw.value, bound)
            return
        if e.given:
            raise _err("'|' is only for log densities like normal_lpdf(y | mu, sigma)", e.span,
                       f"separate the arguments of {e.func} with commas")
        fi = L.FUNCTIONS.get(e.func)
        if fi is None:
            if e.func in L.DISTRIBUTIONS:
                info = L.DISTRIBUTIONS[e.func]
                raise _err(f"'{e.func}' is a distribution; in an expression use its log density", fspan,
                           f"write `{e.func}_{info.lp_suffix}(y | {', '.join(info.params)})`, or `y ~ {e.func}(...)`")
            if e.func in self.lets or e.func in self.factors:
                raise _err(f"'{e.func}' is not a function", fspan)
            cands = list(L.FUNCTIONS) + [f"{d}_{i.lp_suffix}" for d, i in L.DISTRIBUTIONS.items()]
            raise _err(f"unknown function '{e.func}'", fspan, did_you_mean(e.func, cands)
                       or "see docs/dsl.md for the functions")
        n = len(e.args)
        if n < fi.min_args or (fi.max_args is not None and n > fi.max_args):
            want = (f"{fi.min_args}" if fi.max_args == fi.min_args else
                    f"{fi.min_args} or more" if fi.max_args is None else f"{fi.min_args} to {fi.max_args}")
            raise _err(f"{e.func} takes {want} argument{'s' if want != '1' else ''}, got {n}", e.span)
        for kw in e.kwargs:
            if kw.name not in fi.kwargs:
                raise _err(f"{e.func} has no option '{kw.name}'", kw.span,
                           f"its options are {', '.join(fi.kwargs)}" if fi.kwargs else f"{e.func} takes no options")
        for a in e.args:
            self.expr(a, bound)
        for kw in e.kwargs:
            self.expr(kw.value, bound)
        for i, a in enumerate(e.args):
            if i in fi.static:
                self._static_arg(a, e.func, bound)
        for kw in e.kwargs:
            if kw.name in fi.static:
                self._static_arg(kw.value, e.func, bound)

    def _static_arg(self, a, fname, bound):
        for n in names_in(a):
            s = self.specs.get(n)
            if n in bound or s is None or s.role != "const":
                raise _err(f"this argument of {fname} must be known before sampling (a literal or a const)",
                           _find_name(a, n) or a.span)

    # ---- composition
    def composition(self):
        st = self.model_stmt
        e = st.expr
        used: dict[str, Span] = {}
        if isinstance(e, A.CCondition):
            tree = self.ctree(e.child, used)
            self.condition(e)
            return tree
        return self.ctree(e, used)

    def condition(self, e: A.CCondition):
        """`model = condition(A, x = value)`: x becomes a const whose default is the value."""
        from dataclasses import replace
        seen = set()
        for kw in e.bindings:
            s = self.specs.get(kw.name)
            if s is None:
                raise _err(f"cannot condition on unknown name '{kw.name}'", kw.span,
                           did_you_mean(kw.name, [n for n, v in self.specs.items() if v.role in ("var", "latent")])
                           or "condition on a declared var or latent")
            if s.role not in ("var", "latent"):
                raise _err(f"cannot condition on '{kw.name}': it is a {s.role}, not a var or latent", kw.span,
                           "only random variables can be fixed by condition(...)")
            if kw.name in seen:
                raise _err(f"'{kw.name}' is conditioned twice", kw.span)
            seen.add(kw.name)
            self.static_expr(kw.value, f"the value of '{kw.name}'")
            self.specs[kw.name] = replace(s, role="const", init=kw.value, conditioned=True)

    def ctree(self, e, used):
        if isinstance(e, A.CRef):
            if e.name not in self.factors:
                if e.name in self.decl_span:
                    raise _err(f"'{e.name}' is a {self._what(e.name)}, not a factor", e.span,
                               "the `model =` line combines factors")
                raise _err(f"unknown factor '{e.name}'", e.span,
                           did_you_mean(e.name, self.factors) or f"factors are: {', '.join(self.factors)}")
            if e.name in used:
                raise _err(f"factor '{e.name}' is used twice in the model", e.span,
                           "each factor enters the model once; use `/ T` to scale it")
            used[e.name] = e.span
            return Ref(e.name, e.span)
        if isinstance(e, A.CProduct):
            return Product(tuple(self.ctree(c, used) for c in e.items))
        if isinstance(e, A.CTemper):
            self.static_or_param(e.temperature, "a temperature")
            v = _literal(e.temperature)
            if v is not None and not v > 0:
                raise _err(f"a temperature must be positive, got {v:g}", e.temperature.span,
                           "use a number above 0")
            return Temper(self.ctree(e.child, used), e.temperature, e.span)
        if isinstance(e, A.CMixture):
            if len(e.components) < 2:
                raise _err("a mixture needs at least two components", e.span,
                           "write `mixture(w1: A, w2: B)`, or use a single factor directly: `model = A`")
            comps = tuple(self.ctree(c, used) for c in e.components)
            for w in e.weights:
                self.static_or_param(w, "a mixture weight")
                v = _literal(w)
                if v is not None and not v > 0:
                    raise _err(f"a mixture weight must be positive, got {v:g}", w.span,
                               "use a number above 0; weights are normalized to sum to 1")
            over = [self.normalized_over(c) for c in comps]
            for c, ce, o in zip(comps, e.components, over):
                if o is None:
                    raise _err("a mixture of unnormalized components needs each component's log Z", ce.span,
                               "write each component as a density (`factor a : x ~ normal(...)`), or build "
                               "the mixture in Python with ebmppl.mixture(..., logz='estimate') or logz=[...] values")
            if len({frozenset(o) for o in over}) != 1:
                raise _err("the components of a mixture must be densities of the same variables", e.span,
                           "; ".join(f"component {i + 1} is over {sorted(o)}" for i, o in enumerate(over)))
            return Mixture(tuple(e.weights), comps, None, e.span)
        if isinstance(e, A.CCondition):
            raise _err("condition(...) must be the whole right-hand side", e.span)
        raise TypeError(e)

    def static_or_param(self, e, what):
        self.expr(e, frozenset())
        for n in names_in(e):
            s = self.specs.get(n)
            if s is None or s.role not in ("const", "param"):
                raise _err(f"{what} may use literals, consts and params, not the "
                           f"{s.role if s else 'let'} '{n}'", _find_name(e, n) or e.span)

    def normalized_over(self, node) -> Optional[frozenset]:
        """The vars a subtree is a normalized density of, or None if unnormalized."""
        from ..model.compose import normalized_over
        return normalized_over(Model(tuple(self.specs.values()), tuple(self.factors.values()),
                                     tuple(self.lets.values())), node)

    def check_usage(self, tree):
        if tree is not None:
            from ..model.spec import tree_refs
            refs = set(tree_refs(tree))
            unused = [f for f in self.factors if f not in refs]
            for f in unused:
                self.warnings.append(f"factor '{f}' (line {self.factors[f].span.line}) is not on the "
                                     f"`model =` line and takes no part in the model")
        else:
            refs = set(self.factors)
        used = set()
        for fname in refs:
            f = self.factors[fname]
            used |= names_in(f.expr) | names_in(f.dist) | names_in(f.target)
        for l in self.lets.values():
            if l.name in used:
                used |= names_in(l.expr)
        for s in self.specs.values():
            if s.role in ("var", "latent") and s.name not in used:
                self.warnings.append(f"{s.role} '{s.name}' (line {s.span.line}) appears in no factor; "
                                     f"its density is flat")


def _literal(e) -> Optional[float]:
    if isinstance(e, A.Num):
        return float(e.value)
    if isinstance(e, A.UnOp) and isinstance(e.operand, A.Num):
        return -float(e.operand.value) if e.op == "-" else float(e.operand.value)
    return None


def _nonneg(e) -> bool:
    v = _literal(e)
    return v is not None and v >= 0


def _within_unit(args) -> bool:
    lo, hi = (_literal(a) for a in args)
    return lo is not None and hi is not None and lo >= 0 and hi <= 1


def _domain_satisfies(kind: str, need: str) -> bool:
    if need == "positive":
        return kind in ("positive",)
    if need in ("unit", "probs"):
        return kind in ("unit",)
    if need == "simplex":
        return kind == "simplex"
    if need == "int":
        return kind in ("int", "binary", "categorical")
    return True


def _find_name(e, name) -> Optional[Span]:
    """The span of the first occurrence of ``name`` inside ``e``."""
    found = []

    def walk(x):
        if found or x is None:
            return
        if isinstance(x, A.Name) and x.id == name:
            found.append(x.span)
            return
        if isinstance(x, (tuple, list)):
            for i in x:
                walk(i)
            return
        if hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                if f != "span":
                    walk(getattr(x, f))

    walk(e)
    return found[0] if found else None


def check(program: A.Program, name: str = "model") -> Model:
    """Check a parsed program and build its :class:`Model`."""
    return Checker(program, name).run()
