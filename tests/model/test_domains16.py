"""Issue 16's domains: ``positive_ordered``, bounds that vary with earlier vars (``interval(0, 1 - alpha)``) with
their Jacobian, ``std``/``var`` with ``ddof``, the hint for Stan's ``sd``, whole-value tests of distribution
arguments in the domain table, and the "appears in no factor" warning through chains of lets."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ebmppl
from ebmppl.errors import EbmError
from ebmppl.model import domains, library as L
from ebmppl.model.lower import bounds


def _parse(src: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ebmppl.parse(src, "m.ebm")


def _mcse_ok(draws: np.ndarray, want: float, k: float = 4.0) -> None:
    """The mean of ``draws`` (chains x draws) is within ``k`` Monte Carlo standard errors of ``want``."""
    import arviz as az
    ess = float(az.ess(np.asarray(draws)[None] if np.ndim(draws) == 1 else np.asarray(draws)))
    se = np.std(draws) / np.sqrt(ess)
    assert abs(np.mean(draws) - want) < k * se, (np.mean(draws), want, se)


def _grid2(potential, constrained, n=501, r=14.0):
    """exp(-potential) times the cell area on an n x n grid of [-r, r]^2 (unconstrained), and the two constrained
    values at each point."""
    g = np.linspace(-r, r, n)
    u, v = (jnp.asarray(t.ravel()) for t in np.meshgrid(g, g, indexing="ij"))
    pot = jax.jit(jax.vmap(potential))(u, v)
    val = np.asarray(jax.jit(jax.vmap(constrained))(u, v), np.float64)
    w = np.exp(-np.asarray(pot, np.float64)) * (g[1] - g[0]) ** 2
    return w, (val[:, 0], val[:, 1])


# ------------------------------------------------------------ positive_ordered
def test_positive_ordered_row():
    assert domains.contains("positive_ordered", (), [0.5, 1.0, 2.0]).all()
    assert not domains.contains("positive_ordered", (), [0.0, 1.0, 2.0]).any()
    assert not domains.contains("positive_ordered", (), [1.0, 0.5, 2.0]).any()
    assert not domains.contains("positive_ordered", (), [-1.0, 0.5, 2.0]).any()
    assert np.allclose(domains.default_value("positive_ordered", (2, 3)), [[1, 2, 3], [1, 2, 3]])
    assert domains.extent("positive_ordered") == domains.extent("positive")
    m = _parse("var c : positive_ordered[3]\nc ~ exponential(1)\n")
    low = m.lowered
    x = {"c": jnp.asarray([0.2, 0.9, 3.0])}
    assert np.allclose(low.to_constrained(low.to_unconstrained(x))["c"], x["c"], rtol=1e-5)


def test_positive_ordered_jacobian_normalizes_exactly():
    # two iid Exp(1) restricted to c0 < c1: mass 1/2, and the order statistics' means 1/2 and 3/2
    low = _parse("var c : positive_ordered[2]\nc ~ exponential(1)\n").lowered
    w, (c0, c1) = _grid2(lambda a, b: low.potential({}, {"c": jnp.stack([a, b])}),
                         lambda a, b: low.to_constrained({"c": jnp.stack([a, b])})["c"], r=10.0)
    assert abs(w.sum() - 0.5) < 2e-3
    mean = lambda c: (w * np.where(w > 0, c, 0.0)).sum() / w.sum()  # noqa: E731 (c is inf where w is 0)
    assert abs(mean(c0) - 0.5) < 2e-3 and abs(mean(c1) - 1.5) < 2e-3


@pytest.mark.slow
def test_positive_ordered_samples_exponential_order_statistics():
    # three iid Exp(1) constrained to be increasing: the order statistics, E = 1/3, 1/3 + 1/2, 1/3 + 1/2 + 1
    m = _parse("var c : positive_ordered[3]\nc ~ exponential(1)\n")
    idata = ebmppl.sample(m, sampler="nuts", chains=2, draws=1000, warmup=500, key=1, progress=False, verbose=False)
    c = idata.posterior["c"].values
    assert (np.diff(c, axis=-1) > 0).all() and (c > 0).all()
    for i, want in enumerate((1 / 3, 5 / 6, 11 / 6)):
        _mcse_ok(c[..., i], want)


def test_positive_ordered_values_are_checked_by_the_table():
    with pytest.raises(EbmError, match="increasing vector of numbers above 0"):
        _parse("const c : positive_ordered[3] = [0, 1, 2]\nvar x : real\nfactor f = x^2 * sum(c)\n").lowered
    with pytest.raises(EbmError, match="initial value of 'p'"):
        _parse("param p : positive_ordered[2] = [2, 1]\nvar x : real\nfactor f = x^2 * sum(p)\n").lowered
    m = _parse("const c : positive_ordered[2]\nvar x : real\nfactor f = x^2 * sum(c)\n")
    with pytest.raises(EbmError, match="const 'c'"):
        m.bind({"c": [1.0, -2.0]}).lowered


def test_positive_ordered_guarantees_a_scale():
    m = _parse("var s : positive_ordered[2]\nvar x : real[2]\ns ~ exponential(1)\nx ~ normal(0, s)\n")
    assert m.lowered is not None


# ---------------------------------------------------------- bounds that vary
UNIFORM = "var alpha : unit\nvar x : interval(0, 1 - alpha)\nalpha ~ beta(2, 3)\nx ~ uniform(0, 1 - alpha)\n"
FLAT = "var alpha : unit\nvar x : interval(0, 1 - alpha)\nalpha ~ beta(2, 3)\n"


def _grid(model):
    """exp(-potential) times the cell area on a grid of the unconstrained plane, with alpha and x there."""
    low = model.lowered
    w, (a, x) = _grid2(lambda a, b: low.potential({}, {"alpha": a, "x": b}),
                       lambda a, b: jnp.stack(list(low.to_constrained({"alpha": a, "x": b}).values())))
    return w, a, x


def test_varying_bound_jacobian_normalizes_exactly():
    # x ~ uniform(0, 1 - alpha) is normalized given alpha: the whole density integrates to 1 only if the
    # log-Jacobian of x's transform uses the bound 1 - alpha of each point
    w, a, x = _grid(_parse(UNIFORM))
    assert abs(w.sum() - 1.0) < 2e-3
    assert abs((w * a).sum() - 0.4) < 2e-3  # the marginal of alpha is its Beta(2, 3)
    assert abs((w * x / (1 - a)).sum() - 0.5) < 2e-3  # x / (1 - alpha) is uniform on (0, 1)
    assert abs((w * (x / (1 - a)) ** 2).sum() - 1 / 3) < 2e-3


def test_varying_bound_flat_var_tilts_the_marginal():
    # no factor on x: its density is flat on (0, 1 - alpha), so alpha's marginal is Beta(2, 3) x (1 - alpha) = Beta(2, 4)
    w, a, _ = _grid(_parse(FLAT))
    assert abs(w.sum() - stats.beta(2, 3).expect(lambda t: 1 - t)) < 2e-3
    assert abs((w * a).sum() / w.sum() - 2 / 6) < 2e-3


def test_varying_bound_sampled():
    m = _parse(UNIFORM)
    idata = ebmppl.sample(m, sampler="mala", chains=4, draws=1500, warmup=500, key=3, progress=False, verbose=False)
    a, x = idata.posterior["alpha"].values, idata.posterior["x"].values
    assert ((x > 0) & (x < 1 - a)).all()
    _mcse_ok(a, 0.4)
    _mcse_ok(x / (1 - a), 0.5)
    assert abs(np.var(x / (1 - a)) - 1 / 12) < 0.01


def test_varying_bound_vector_and_values():
    m = _parse("var ub : positive[2]\nvar x : interval(-ub, ub)[2]\nub ~ exponential(1)\nx ~ uniform(-ub, ub)\n")
    low = m.lowered
    ex = low.example_values()
    assert np.allclose(ex["x"], 0.0)
    vals = {"ub": jnp.asarray([1.0, 3.0]), "x": jnp.asarray([0.5, -2.5])}
    back = low.to_constrained(low.to_unconstrained(vals))
    assert np.allclose(back["x"], vals["x"], rtol=1e-5) and np.allclose(back["ub"], vals["ub"], rtol=1e-5)
    assert float(bounds.evaluate(low, low.specs["x"], vals)[1][1]) == 3.0
    with pytest.raises(EbmError, match=r"outside interval\(-ub, ub\)"):
        low.to_unconstrained({"ub": jnp.asarray([1.0, 3.0]), "x": jnp.asarray([1.5, 0.0])})


@pytest.mark.parametrize("src, phrase", [
    ("param p : positive = 1\nvar x : interval(0, p)\nfactor f = x\n", "'p' is a param"),
    ("var x : interval(0, x)\nfactor f = x\n", "unknown name 'x'"),
    ("var x : interval(0, a)\nvar a : unit\nfactor f = x + a\n", "unknown name 'a'"),
    ("var a : unit\nlet b = 1 - a\nvar x : interval(0, b)\nfactor f = x + a\n", "'b' is a let"),
    ("var b : binary\nvar x : interval(0, 1 + b)\nfactor f = x + b\n", "continuous vars"),
    ("var a : unit[2]\nvar x : interval(0, a)[3]\nfactor f = sum(x) + sum(a)\n", "has shape"),
    ("var a : unit\nparam x : interval(0, a)\nfactor f = x * a\n", "may only use consts"),
])
def test_varying_bound_refused(src, phrase):
    with pytest.raises(EbmError, match=phrase):
        _parse(src).lowered


# --------------------------------------------------------------- std and sd
@pytest.mark.parametrize("expr, want", [
    ("std(y)", np.std([1, 2, 4, 7])), ("std(y, ddof=1)", np.std([1, 2, 4, 7], ddof=1)),
    ("var(y, ddof=1)", np.var([1, 2, 4, 7], ddof=1)),
    ("std(Y, axis=0, ddof=1)", np.std([[1, 2, 3], [4, 6, 9]], axis=0, ddof=1)),
])
def test_std_ddof(expr, want):
    m = _parse("const y : real[4] = [1, 2, 4, 7]\nconst Y : real[2, 3] = [[1, 2, 3], [4, 6, 9]]\nvar x : real\n"
               f"let s = {expr}\nfactor f = x^2\n")
    assert np.allclose(m.deterministics({}, {"x": 0.0})["s"], want, rtol=1e-6)


def test_sd_hint_says_the_difference():
    hint = L.unknown_function_hint("sd", L.FUNCTIONS)
    assert "std(x, ddof=1)" in hint and "N - 1" in hint
    assert "var(x, ddof=1)" in L.unknown_function_hint("variance", L.FUNCTIONS)
    assert L.unknown_function_hint("exq", L.FUNCTIONS) == "did you mean 'exp'?"


# ------------------------------------------- whole-value tests of arguments
def test_structure_tests_live_in_the_argument_rows():
    cov, chol = domains.argument("cov"), domains.argument("chol")
    assert cov.holds(np.eye(2)) and not cov.holds(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert chol.holds(np.array([[1.0, 0.0], [0.5, 2.0]])) and not chol.holds(np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert domains.argument("simplex").holds(np.array([0.25, 0.75]))
    assert not domains.argument("simplex").holds(np.array([0.5, 0.75]))
    with pytest.raises(EbmError, match="must be a covariance matrix"):
        _parse("var x : real[2]\nx ~ multi_normal([0, 0], [[1, 2], [2, 1]])\n").lowered


# ----------------------------------------------------- usage through lets
def test_var_reached_through_two_lets_is_in_a_factor():
    m = _parse("var x : real\nvar y : real\nlet a = x * 2\nlet b = a + 1\nfactor f = b^2 + y^2\n")
    assert not [w for w in m.warnings if "no factor" in w]
    m = _parse("var x : real\nvar y : real\nlet a = x * 2\nlet b = a + 1\nfactor f = y^2\n")
    assert [w for w in m.warnings if "'x'" in w and "no factor" in w]
