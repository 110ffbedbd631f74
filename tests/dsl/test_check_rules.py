"""The checker's dispatch and its domain facts: an unknown node is an error, never skipped, and the
facts it asks of the domain table give the messages the checker has always given."""

from __future__ import annotations

import numpy as np
import pytest

from ebmppl.dsl import ast as A
from ebmppl.dsl.parse import parse
from ebmppl.errors import EbmError, EbmSemanticError, Source, Span
from ebmppl.model import domains, extent as X
from ebmppl.model.check import check
from ebmppl.model.check_compose import ctree
from ebmppl.model.check_expr import expr
from ebmppl.model.check_scope import Scope
from ebmppl.model.extent import POSITIVE
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
    # a unit value is positive: only a domain that lets a value be 0 or negative is refused as a scale
    ("const u : interval(-1, 1)\nvar z : real\nz ~ normal(0, u)",
     "the scale of normal must be positive, but 'u' is declared interval(-1, 1)",
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


# ------------------------------------------------------ the domain table's value tests
@pytest.mark.parametrize("kind, args, value, inside", [
    ("real", (), [0.0, np.nan, np.inf, -np.inf], [True, False, False, False]),
    ("positive", (), [1e-30, 0.0, np.inf, np.nan, -1.0], [True, False, False, False, False]),
    ("unit", (), [0.5, 0.0, 1.0, np.nan], [True, False, False, False]),
    ("interval", (0.0, 1.0), [0.5, 0.0, 1.0, np.inf], [True, False, False, False]),
    ("ordered", (), [[0.0, 1.0, 2.0], [0.0, 0.0, 1.0], [0.0, 1.0, np.inf]], [True, False, False]),
    ("simplex", (), [[0.5, 0.5, 0.0], [0.2, 0.3, 0.4], [1.5, -0.5, 0.0], [np.nan, 0.5, 0.5]],
     [True, False, False, False]),
    ("categorical", (3,), [0, 2, 3, 1.5, -1], [True, True, False, False, False]),
    ("binary", (), [0, 1, 0.5], [True, True, False]),
    ("spin", (), [-1, 1, 0], [True, True, False]),
])
def test_contains_is_strict_and_refuses_nan_and_infinity(kind, args, value, inside):
    got = domains.contains(kind, args, np.asarray(value, dtype=float))
    got = got if got.ndim == 1 else got.all(axis=-1)
    assert got.tolist() == inside


def test_a_simplex_is_tested_to_float32_rounding_and_a_param_one_strictly_inside():
    third = np.float32(1) / 3
    assert domains.contains("simplex", (), np.array([third] * 3)).all()  # sums to 1 - 3e-8 in float32
    assert not domains.contains("simplex", (), [0.3333, 0.3333, 0.3333]).all()
    assert domains.contains("simplex", (), [0.5, 0.5, 0.0]).all()  # data: an entry may be 0
    assert not domains.contains("simplex", (), [0.5, 0.5, 0.0], interior=True).any()  # a param's must not
    assert domains.first_outside("simplex", (), [[0.5, 0.5], [1.0, 0.0]], interior=True) == (1, 0)


def test_admit_still_admits_options_by_the_table():
    from ebmppl.model.admit import require
    assert require(1e-3, "positive", what="--lr") == 1e-3
    assert require(4, "size", what="--chains") == 4
    for bad in (0.0, np.inf, np.nan, True, "1"):
        with pytest.raises(EbmError, match="--lr must be a number above 0"):
            require(bad, "positive", what="--lr")


def test_each_row_says_what_its_values_lie_between():
    assert domains.extent("positive").within(POSITIVE)
    assert domains.extent("unit").within(POSITIVE)
    assert domains.extent("simplex").within(POSITIVE)
    assert domains.extent("interval", (0.5, 2.0)).within(POSITIVE)
    assert domains.extent("interval", (0.0, 2.0)).within(POSITIVE)  # open at 0: every value is above it
    assert not domains.extent("interval", (-1.0, 1.0)).within(POSITIVE)
    assert not domains.extent("real").within(POSITIVE)
    assert not domains.extent("binary").within(POSITIVE)  # 0 is a value


# ------------------------------------------------------------- interval arithmetic
@pytest.mark.parametrize("got, want", [
    (X.mul(POSITIVE, POSITIVE), POSITIVE),
    (X.mul(X.NONNEGATIVE, POSITIVE), X.NONNEGATIVE),
    (X.add(POSITIVE, X.point(-1.0)), X.Extent(-1.0, np.inf)),
    (X.inv(X.UNIT), X.Extent(1.0, np.inf)),
    (X.inv(X.REAL), X.ANY),
    (X.power(X.REAL, 2), X.NONNEGATIVE),
    (X.power(X.REAL, 0.5), X.ANY),  # NaN for a negative base
    (X.power(POSITIVE, -1), POSITIVE),
    (X.absolute(X.Extent(-2.0, 1.0)), X.Extent(0.0, 2.0, True, False)),
    (X.total(X.UNIT), POSITIVE),
    (X.maximum(X.REAL, X.point(0.0)), X.NONNEGATIVE),
    (X.mul(POSITIVE, X.point(np.inf)).finite, False),
])
def test_extent_arithmetic(got, want):
    assert got == want


# -------------------------------------------------- what a declaration guarantees
HEAD = "var x : real\n"
MIX = HEAD + "factor a : x ~ normal(0, 1)\nfactor b : x ~ normal(2, 1)\n"


@pytest.mark.parametrize("text, message, hint", [
    (HEAD + "param s : real = 1\nx ~ normal(0, s * 2)",
     "the scale of normal must be positive, but this may be 0 or negative ('s' is declared real)",
     "declare 's' as positive (or transform it, e.g. exp(...))"),
    (HEAD + "param s : real = 1\nlet sd = s + 1\nx ~ normal(0, sd)",
     "the scale of normal must be positive, but 'sd' may be 0 or negative ('s' is declared real)", None),
    (HEAD + "param s : positive = 1\nlet sd = s - 1\nx ~ normal(0, sd)",
     "the scale of normal must be positive, but 'sd' may be 0 or negative",
     "compute it so that it is positive whatever the values it reads: exp(...), softplus(...), or sums and "
     "products of positive values"),
    (HEAD + "param s : real = 1\nx ~ normal(0, abs(s))", "the scale of normal must be positive, but this may be 0 "
     "('s' is declared real)", None),
    (HEAD + "x ~ normal(0, inf)", "the scale of normal must be finite, got inf", "write a finite number (positive)"),
    (HEAD + "x ~ normal(-inf, 1)", "the loc of normal must be finite, got -inf", "write a finite number"),
    ("var b : binary\nparam p : positive = 0.5\nb ~ bernoulli(p)",
     "the probs of bernoulli must be in (0, 1), but 'p' is declared positive", None),
    ("var b : binary\nparam a : real = 0\nb ~ bernoulli(exp(a))",
     "the probs of bernoulli must be in (0, 1), but this may lie outside [0, 1] ('a' is declared real)", None),
    ("var k : categorical(3)\nparam l : real[3]\nk ~ categorical(exp(l))",
     "the probs of categorical must be a simplex, but this is not known to sum to 1", None),
    ("var x : real[2]\nparam L : real[2, 2]\nlet M = L\nx ~ multi_normal_cholesky([0, 0], M)",
     "the L of multi_normal_cholesky must be a Cholesky factor (lower triangular, positive diagonal), but 'L' is "
     "declared real[2, 2], and no domain guarantees a Cholesky factor", None),
    (HEAD + "param T : real = 2\nfactor f = x^2\nmodel = f / T", "a temperature must be positive, but 'T' is "
     "declared real", "declare 'T' as positive (or transform it, e.g. exp(...))"),
    (HEAD + "param T : positive = 2\nfactor f = x^2\nmodel = f / (0 - T)",
     "a temperature must be positive, but this is negative", None),
    (HEAD + "factor f = x^2\nmodel = f / inf", "a temperature must be finite, got inf", None),
    (MIX + "param w : ordered[2]\nmodel = mixture(w[0]: a, w[1]: b)",
     "a mixture weight must be positive, but this may be 0 or negative ('w' is declared ordered[2])",
     "declare 'w' as positive, or make the weights the entries of a simplex param (`param w : simplex[K]`, "
     "then `mixture(w[0]: A, w[1]: B)`)"),
    ("var x : interval(0, 1)\nx ~ uniform(1, 0)", "the low of uniform must be below its high, got 1 and 0",
     "write `uniform(0, 1)`"),
    ("var x : interval(0, inf)\nx ~ normal(0, 1)", "the bounds of interval must be finite, got inf", None),
    ("var x : interval(-1, -2)\nx ~ normal(0, 1)", "empty interval(-1, -2)", None),
    ("var x : real[-1]\nfactor f = sum(x)", "a size must not be negative, got -1", None),
    ("var x : real[2, 0]\nfactor f = sum(x)", "'x' would be empty: a size is 0", None),
    ("var p : simplex[0]\nfactor f = sum(p)", "a simplex needs at least 1 entry, but 'p' is declared simplex[..., 0]",
     None),
    ("var k : categorical(0)\nfactor f = k", "the number of categories must be at least 1, got 0", None),
    ("var x : real[2]\nparam g : mlp(2, [8, 0], 1)\nfactor f = sum(g(x))", "a hidden size must be at least 1, got 0",
     None),
    (HEAD + "param s : positive ~ normal(0, 1)\nx ~ normal(0, s)",
     "the initializer normal draws values outside the domain of 's' (param s : positive)",
     "choose an initializer whose draws are a number above 0, e.g. half_normal, half_cauchy, exponential, or give "
     "an initial value"),
    ("var lp : real\nfactor f = lp^2", "'lp' is the name of a sample statistic that ebmppl sample writes beside "
     "the draws; a var of that name would clash with it when the draws are saved", "rename the var"),
    (HEAD + "let chain = x\nfactor f = x^2", "'chain' is the name of an axis of the saved draws; a let of that name "
     "cannot be saved", "rename the let"),
])
def test_what_a_declaration_guarantees(text, message, hint):
    e = _semantic(text)
    assert e.message == message
    if hint is not None:
        assert e.hint == hint


@pytest.mark.parametrize("text", [
    HEAD + "param t : real = 0\nfactor f = x^2\nmodel = f / (exp(t))",
    HEAD + "param t : real = 0\nfactor f = x^2\nmodel = f / (softplus(t) + 0.1)",
    HEAD + "param u : unit = 0.5\nfactor f = x^2\nmodel = f / (u * 2)",
    MIX + "param w : simplex[2]\nmodel = mixture(w[0]: a, w[1]: b)",
    MIX + "param w : unit = 0.5\nmodel = mixture(w: a, (1 - w): b)",
    MIX + "const w : positive = 0.5\nmodel = mixture(w: a, 1: b)",
    HEAD + "param s : real = 0\nlet sd = sqrt(exp(2 * s)) + 1e-3\nx ~ normal(0, sd)",
    HEAD + "param s : positive = 1\nx ~ normal(0, s^2 / (1 + s))",
    HEAD + "param a : real = 0\nx ~ normal(0, sigmoid(a) * 2)",
    HEAD + "var s : real[3]\nfactor f = -sum(normal_lpdf(x | 0, exp(s[i]) * (i + 1)) for i in range(3))",
    "var b : binary\nparam a : real = 0\nb ~ bernoulli(inv_logit(a))",
    "var b : binary\nparam p : unit = 0.5\nb ~ bernoulli(1 - p)",
    "var k : categorical(3)\nparam P : simplex[2, 3]\nk ~ categorical(P[1])",
    "var k : categorical(3)\nparam w : positive[3]\nlet q = w / sum(w)\nk ~ categorical(q)",
    "var y : positive\nparam c : interval(0.5, 5) = 1\ny ~ gamma(c, c)",
    # consts are bound data: an expression of them is checked by its value when the model is loaded
    HEAD + "const c : real = 2\nx ~ normal(0, 2 * c)",
    HEAD + "const N : int = 4\nparam sigma : positive = 1\nx ~ normal(0, sigma / sqrt(N))",
    "var x : real[2]\nconst S : real[2, 2]\nx ~ multi_normal([0, 0], S)",
    "var x : real[2]\nparam sd : positive[2]\nlet S = diag(sd^2)\nx ~ multi_normal([0, 0], S)",
    HEAD + "param u : interval(0, 1) ~ uniform(0.2, 0.8)\nx ~ normal(0, 1 + u)",
])
def test_what_guarantees_the_property_loads(text):
    check(parse(text))


def test_a_long_chain_of_lets_is_followed_without_recursion():
    n = 3000
    text = HEAD + "param s : real = 1\nlet l0 = s\n" + "".join(f"let l{i} = l{i - 1}\n" for i in range(1, n))
    e = _semantic(text + f"x ~ normal(0, l{n - 1})")
    assert e.message.endswith("('s' is declared real)")


def test_lets_that_double_are_judged_in_linear_time():
    lets = "".join(f"let l{i} = (l{i - 1} + l{i - 1} if l{i - 1} > 0 else l{i - 1})\n" for i in range(1, 80))
    check(parse(HEAD + "param s : positive = 1\nlet l0 = s\n" + lets + "x ~ normal(0, l79)"))


def test_a_one_category_categorical_and_a_one_entry_simplex_warn():
    with pytest.warns(UserWarning) as record:
        model = check(parse("var k : categorical(1)\nvar p : simplex[1]\nfactor f = k + sum(p)"))
    assert any("one category" in str(w.message) for w in record)
    assert any("always [1]" in w for w in model.warnings)
