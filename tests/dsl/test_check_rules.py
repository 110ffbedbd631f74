"""The checker's dispatch and its domain facts: an unknown node is an error, never skipped, and the
facts it asks of the domain table give the messages the checker has always given."""

from __future__ import annotations

import pytest

from ebmppl.dsl import ast as A
from ebmppl.dsl.parse import parse
from ebmppl.errors import EbmSemanticError, Source, Span
from ebmppl.model import domains
from ebmppl.model.check import check
from ebmppl.model.check_compose import ctree
from ebmppl.model.check_expr import expr
from ebmppl.model.check_scope import Scope
from ebmppl.model.library import DISTRIBUTIONS, DistInfo

SPAN = Span(Source("<test>", ""), 1, 1, 1, 1)


def _semantic(text: str) -> EbmSemanticError:
    with pytest.raises(EbmSemanticError) as info:
        check(parse(text))
    return info.value


def test_an_unknown_expression_node_is_an_error():
    with pytest.raises(TypeError, match="Literal"):
        expr(Scope(), A.Literal(SPAN, 1.0), frozenset())


def test_an_unknown_composition_node_is_an_error():
    with pytest.raises(TypeError, match="CExpr"):
        ctree(Scope(), A.CExpr(SPAN), {})


def test_an_unknown_statement_is_an_error():
    prog = A.Program(SPAN, (A.Include(SPAN, "other.ebm"),))
    with pytest.raises(TypeError, match="Include"):
        check(prog)


def test_every_library_word_is_in_the_domain_table():
    for info in DISTRIBUTIONS.values():
        assert domains.support(info.support).name == info.support
        assert all(domains.argument(w).name == w for w in info.param_domains)
    with pytest.raises(ValueError, match="support"):
        DistInfo("bad", None, ("x",), ("real",), "reals")
    with pytest.raises(ValueError, match="argument"):
        DistInfo("bad", None, ("x",), ("reals",), "real")


@pytest.mark.parametrize("text, message, hint", [
    ("var p : simplex[3]\np ~ gamma(1, 1)", "gamma has positive support, but 'p' is declared simplex[3]",
     "declare 'p' as positive"),
    ("var y : real\ny ~ poisson(1)", "poisson is a distribution over integers, but 'y' is real", "declare 'y' as int"),
    ("var y : binary\ny ~ normal(0, 1)", "normal is a continuous distribution, but 'y' is binary",
     "use a discrete distribution (bernoulli, categorical, poisson, ...) or declare the variable real"),
    ("const u : unit\nvar z : real\nz ~ normal(0, u)",
     "the scale of normal must be positive, but 'u' is declared unit",
     "declare 'u' as positive (or transform it, e.g. exp(...))"),
    ("const s : positive\nvar y : real\ny ~ normal(0, -s)",
     "the scale of normal must be positive, but this is minus a positive value", None),
    ("const n : real\nvar y : int\ny ~ binomial(n, 0.5)", "the total_count of binomial must be an integer, "
     "but 'n' is declared real", "declare 'n' as int"),
    ("var y : int\ny ~ binomial(2.5, 0.5)", "the total_count of binomial must be an integer, got 2.5",
     "use a whole number, 0 or more"),
    ("var x : ordered\nx ~ normal(0, 1)", "an ordered value is a vector; give its length", "write `ordered[K]`"),
    ("var x : real(2)\nx ~ normal(0, 1)", "domain 'real' takes 0 arguments, got 1", "write `real`"),
    ("var x : interval(1)\nx ~ normal(0, 1)", "domain 'interval' takes 2 arguments, got 1",
     "write `interval(lo, hi)`"),
    ("param k : binary\nvar x : real\nx ~ normal(k, 1)",
     "a param is learned by gradients, so it must be continuous, not binary", None),
])
def test_domain_facts_give_the_same_messages(text, message, hint):
    e = _semantic(text)
    assert e.message == message
    if hint is not None:
        assert e.hint == hint


def test_a_plus_signed_bound_counts_as_a_number():
    model = check(parse("var p : interval(+0, 1)\np ~ beta(2, 2)"))
    assert model.factors[0].name == "p_beta"
