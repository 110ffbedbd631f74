"""Fuzzing the front end: whatever the text, parse + check + lower either succeed or raise an
:class:`~ebmppl.errors.EbmError` whose span points inside the source; never another Python
exception, and a parse never takes more than a second.

Three sources of text: programs generated from the grammar itself (``hypothesis.extra.lark``),
expressions built from the language's operators and functions (to reach the checker and the
lowering more often than random programs do), and truncations and deletions of every bundled
example. There is no AST printer, so there is no round-trip test.
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from ebmppl.dsl.parse import _parser, parse
from ebmppl.errors import EbmError
from ebmppl.model.check import check
from ebmppl.model.source import _finish
from tests.conftest import EXAMPLE_DATA, EXAMPLES
from tests.reliability._util import assert_well_formed

PARSE_LIMIT_S = 1.0
SETTINGS = dict(deadline=5000,  # a hang still fails; a loaded CI machine does not
                derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


def front_end(text: str, name: str = "<fuzz>", data=None):
    """parse + check + lower, as ebmppl.parse does; returns the model or the EbmError raised."""
    t0 = time.perf_counter()
    try:
        prog = parse(text, name)
    except EbmError as e:
        assert_well_formed(e)
        return e
    finally:
        elapsed = time.perf_counter() - t0
        assert elapsed < PARSE_LIMIT_S, f"parsing took {elapsed:.2f} s:\n{text}"
    try:
        model = check(prog, name="fuzz")
        if data is not None:
            model = model.bind(data)
        return _finish(model)
    except EbmError as e:
        assert_well_formed(e)
        return e


# ------------------------------------------------------------- the grammar
def _grammar_strategy():
    """Programs from ebm.lark. Every token gets a leading blank so that adjacent tokens
    (``var`` then a name) do not glue into one; names and numbers come mostly from small
    pools, so that declarations and uses meet."""
    g = _parser()
    terminals, _, _ = g.grammar.compile(["start"], ())
    space = lambda s: " " + s  # noqa: E731
    explicit = {t.name: st.just(space(t.pattern.value)) for t in terminals
                if type(t.pattern).__name__ == "PatternStr"}
    names = ["x", "y", "mu", "sigma", "n", "f", "g", "W", "normal", "real", "positive", "binary", "interval",
             "categorical", "sum", "exp", "log", "range", "i", "mlp", "swish", "norm", "simplex", "int", "spin",
             "cauchy", "normal_lpdf"]
    explicit.update({
        "NAME": st.one_of(st.sampled_from(names), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
                          ).map(space),
        "NUMBER": st.one_of(st.integers(0, 12).map(str), st.sampled_from(["0.5", "1e3", ".5", "2.", "1e-2"])
                            ).map(space),
        # included files resolve next to the fuzzed program (a temporary folder)
        "STRING": st.sampled_from(['"inc.ebm"', '"missing.ebm"', '"fuzz.ebm"']).map(space),
        "COMP_OP": st.sampled_from(["<=", ">=", "==", "!=", "<", ">"]).map(space),
        "COMMENT": st.just(" # c"),  # eats the rest of its line: a source of syntax errors too
        "_NL": st.sampled_from(["\n", "\n\n", "\r\n"]),
        "LINE_CONT": st.just(" \\\n"),
        "__IGNORE_0": st.sampled_from([" ", "\t"]),
    })
    return from_lark(g, explicit=explicit)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "inc.ebm").write_text("var z : real\n")
    return d


@pytest.mark.parametrize("examples", [300, pytest.param(3000, marks=pytest.mark.slow)])
def test_programs_from_the_grammar(fuzz_dir, examples):
    name = str(fuzz_dir / "fuzz.ebm")

    @settings(max_examples=examples, **SETTINGS)
    @given(_grammar_strategy())
    def run(text):
        front_end(text, name)

    run()


# ------------------------------------------------------------ expressions
_F1 = ["exp", "log", "sum", "mean", "norm", "softplus", "sigmoid", "tanh", "logsumexp", "max", "sqrt", "log1p",
       "abs", "diag", "transpose", "cholesky", "softmax", "cumsum"]
_F2 = ["dot", "solve", "roll", "max"]
_LEAVES = ["x", "y", "a", "v", "0", "1", "2", "0.5", "1e3", "x[0]", "x[1:]", "x[-1]", "[1, 2, 3]", "v[2]"]


def _grow(e):
    return st.one_of(
        st.tuples(e, st.sampled_from(["+", "-", "*", "/", "^", "@", "%", "<", ">=", "==", "!=", "and", "or"]), e)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(_F1), e).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(_F2), e, e).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(e, e).map(lambda t: f"normal_lpdf({t[0]} | {t[1]}, 1)"),
        st.tuples(e, e, e).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        e.map(lambda s: f"-{s}"), e.map(lambda s: f"not {s}"), e.map(lambda s: f"{s}[0]"),
        e.map(lambda s: f"sum({s} * x[i] for i in range(3))"), e.map(lambda s: f"[{s} for i in range(2)]"),
    )


_HEAD = "var x : real[3]\nvar y : real\nparam a : positive = 1.5\nlatent v : binary[3]\n"
_USES = ["factor f = {}", "factor f = sum({})", "let q = {}\nfactor f = sum(q)", "y ~ normal({}, 1)"]


@settings(max_examples=300, **SETTINGS)
@given(st.recursive(st.sampled_from(_LEAVES), _grow, max_leaves=12), st.sampled_from(_USES))
def test_expressions(expr, use):
    front_end(_HEAD + use.format(expr) + "\n")


# ------------------------------------------------- damaged valid programs
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.ebm"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_truncations_and_deletions_of_examples(path):
    text = path.read_text()
    data = EXAMPLE_DATA.get(path.stem)
    assert not isinstance(front_end(text, str(path), data), EbmError)
    rng = random.Random(path.stem)  # fixed per file: reproducible
    cuts = rng.sample(range(len(text)), 25)
    lines = text.split("\n")
    variants = [text[:i] for i in cuts]  # truncations, many of them mid-expression
    variants += [text[:i] + text[i + 1:] for i in rng.sample(range(len(text)), 25)]  # one character deleted
    variants += ["\n".join(lines[:j] + lines[j + 1:]) for j in range(len(lines))]  # one line deleted
    for v in variants:
        front_end(v, str(path), data)


@pytest.mark.parametrize("text", [
    "var x : real\nfactor f = (x +",  # end of file inside a bracket
    "var x : real\nfactor f = x *",  # end of file after an operator
    "var x : real\nfactor f = normal_lpdf(x | 0,",
    "var x : real[",
    "var x :",
    "factor",
    "var x : real\nfactor f = x +\n\n\n",  # trailing blank lines
    "var x : real\r\nfactor f = (x\r\n",  # Windows line ends
    "var x : real\n\tfactor f = (x\t+",  # tabs
    "",
    "\n\n",
    "# only a comment",
    "var x : real \\",  # a line continuation at the end of file
])
def test_end_of_file_errors_point_at_real_positions(text):
    err = front_end(text)
    assert isinstance(err, EbmError)
    if err.span is not None and text.strip():
        assert err.span.line >= 1 and err.span.col >= 1


@pytest.mark.parametrize("text", [
    "var x : real\nfactor f = x" + " + x" * 1000,  # a flat chain counts one level per operator
    "var x : real\nfactor f = " + "-" * 1000 + "x",
    "var x : real\nfactor f = " + "exp(" * 300 + "x" + ")" * 300,
    "var x : real\nfactor f = sum(" + "[" * 400 + "x" + "]" * 400 + ")",
])
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text):
    err = front_end(text)
    assert isinstance(err, EbmError) and err.kind == "syntax" and ("nested" in err.message or "deep" in err.message)


def test_moderate_nesting_still_works():
    assert not isinstance(front_end("var x : real\nfactor f = x" + " + x" * 150), EbmError)


def test_huge_shape_is_an_error_not_an_allocation():
    err = front_end("var x : real[100000, 100000]\nfactor f = sum(x^2)")
    assert isinstance(err, EbmError) and "elements" in err.message


def test_negating_a_comparison_lowers():
    assert not isinstance(front_end("var x : real[3]\nfactor f = sum(-(x < 1) * x)"), EbmError)
