"""The parser: statements, continuation lines, comments, includes, the AST shape."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.dsl import ast as A
from ebmppl.dsl.parse import parse
from ebmppl.errors import EbmSyntaxError


def stmts(text):
    return parse(text, "t.ebm").stmts


def test_declarations_and_initializers():
    s = stmts("const J : int\nvar x : real[J, 2]\nlatent h : binary[3]\n"
              "param W : real[2, 3] ~ normal(0, 0.01)\nparam b : positive = 1.5\nlet y = x + 1\n")
    assert [type(x).__name__ for x in s] == ["Decl", "Decl", "Decl", "Decl", "Decl", "Let"]
    assert s[1].type.domain == "real" and len(s[1].type.dims) == 2
    assert s[3].init_dist.name == "normal" and s[4].init.value == 1.5


def test_precedence_and_associativity():
    (f,) = stmts("factor f = -x^2 + 2 * y @ z / 3 - w\n")
    e = f.expr  # ((-(x^2)) + ((2*y) @ z) / 3) - w
    assert isinstance(e, A.BinOp) and e.op == "-"
    left = e.left
    assert left.op == "+" and isinstance(left.left, A.UnOp) and left.left.operand.op == "^"
    (g,) = stmts("factor g = a ^ b ^ c\n")
    assert g.expr.op == "^" and g.expr.right.op == "^"  # right-associative


def test_conditional_comparison_and_logic():
    (f,) = stmts("factor f = 1 if x > 0 and not y <= 2 or z == 1 else 0\n")
    assert isinstance(f.expr, A.IfElse) and isinstance(f.expr.cond, A.BoolOp) and f.expr.cond.op == "or"


def test_continuation_inside_brackets_after_operators_and_backslash():
    text = """var x : real[3]
factor f = sum(
    x^2
) +
    sum(x) \\
    * 2
let m = [1,
         2,
         3]
"""
    m = ebm.parse(text)
    x = jnp.array([1.0, 2.0, 3.0])
    assert float(m.energy({}, {"x": x})) == 14.0 + 12.0


def test_comments_and_blank_lines():
    m = ebm.parse("# header\n\nvar x : real   # trailing\n\n# between\nfactor f = x^2  # more\n\n")
    assert float(m.energy({}, {"x": 3.0})) == 9.0


def test_no_trailing_newline():
    m = ebm.parse("var x : real\nfactor f = x^2")
    assert float(m.energy({}, {"x": 2.0})) == 4.0


def test_slices_newaxis_ellipsis_and_negative_indices():
    m = ebm.parse("var x : real[4]\nfactor f = sum(x[1:3]) + x[-1] + sum(x[::2]) + sum(x[:, None][..., 0])")
    x = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(m.energy({}, {"x": x})) == 5.0 + 4.0 + 4.0 + 10.0


def test_comprehensions_and_generators():
    m = ebm.parse("const N : int = 3\nvar x : real[N]\n"
                  "let K = [[x[i] * x[j] for j in range(N)] for i in range(N)]\n"
                  "factor f = sum(K) + sum(x[t] - x[t - 1] for t in range(1, N))")
    x = jnp.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(m.energy({}, {"x": x}), jnp.sum(jnp.outer(x, x)) + 3.0)
    np.testing.assert_allclose(m.deterministics({}, {"x": x})["K"], jnp.outer(x, x))


def test_lpdf_with_bar_and_log_mix():
    m = ebm.parse("var y : real[2]\nfactor f = -sum(log_mix(0.3, normal_lpdf(y | -1, 1), normal_lpdf(y | 2, 0.5)))")
    y = jnp.array([0.1, 1.7])
    import numpyro.distributions as dist
    want = -jnp.sum(jnp.log(0.3 * jnp.exp(dist.Normal(-1, 1).log_prob(y)) + 0.7 * jnp.exp(dist.Normal(2, .5).log_prob(y))))
    np.testing.assert_allclose(m.energy({}, {"y": y}), want, rtol=1e-6)


def test_include(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "prior.ebm").write_text("factor prior : x ~ normal(0, 3)\n")
    (tmp_path / "main.ebm").write_text('var x : real[2]\ninclude "lib/prior.ebm"\nfactor ring = (norm(x) - 1)^2\n')
    m = ebm.load(tmp_path / "main.ebm")
    assert [f.name for f in m.factors] == ["prior", "ring"]
    assert m.factor("prior").span.file.endswith("prior.ebm")


def test_include_cycle_and_missing(tmp_path):
    (tmp_path / "a.ebm").write_text('include "b.ebm"\nvar x : real\n')
    (tmp_path / "b.ebm").write_text('include "a.ebm"\n')
    with pytest.raises(EbmSyntaxError, match="includes itself"):
        ebm.load(tmp_path / "a.ebm")
    (tmp_path / "c.ebm").write_text('include "nope.ebm"\n')
    with pytest.raises(EbmSyntaxError, match="not found"):
        ebm.load(tmp_path / "c.ebm")


def test_spans_point_at_the_source():
    (d,) = stmts("var   sigma : positive\n")
    assert (d.name_span.line, d.name_span.col, d.name_span.end_col) == (1, 7, 12)


def test_syntax_error_has_position_and_no_traceback_text():
    with pytest.raises(EbmSyntaxError) as e:
        parse("var x : real\nfactor f = (x + 1\n", "bad.ebm")
    msg = e.value.render()
    assert "bad.ebm:2:" in msg and "^" in msg and "Traceback" not in msg


def test_condition_on_the_model_line():
    m = ebm.parse("var x : real\nvar y : real[2]\nfactor e = sum((x - y)^2) + sum(y^2)\n"
                  "model = condition(e, y = [1.0, 2.0])")
    assert [s.name for s in m.vars] == ["x"] and m.spec("y").conditioned
    np.testing.assert_allclose(m.energy({}, {"x": 0.5}), 0.25 + 2.25 + 5.0)
