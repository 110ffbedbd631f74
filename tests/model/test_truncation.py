"""Truncation `~ dist(...) T[lo, hi]` and the cdf functions (`NAME_cdf`, `_ccdf`, `_lcdf`, `_lccdf`): values against
SciPy in float64, the normalized truncated density against quadrature and NUTS moments against the closed form,
the censored example against a numerically integrated posterior, and the checker's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st

import ebmppl as ebm
from ebmppl.errors import EbmError, EbmSemanticError, EbmSyntaxError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# library name, its arguments in the DSL, the same distribution in SciPy
CONTINUOUS = [
    ("normal", "1, 2", st.norm(1, 2)), ("cauchy", "0, 1", st.cauchy()), ("student_t", "3, 0, 1", st.t(3)),
    ("laplace", "0, 1", st.laplace()), ("logistic", "0, 1", st.logistic()), ("half_normal", "2", st.halfnorm(scale=2)),
    ("half_cauchy", "1", st.halfcauchy()), ("exponential", "0.5", st.expon(scale=2)),
    ("gamma", "2, 3", st.gamma(2, scale=1 / 3)), ("inv_gamma", "3, 2", st.invgamma(3, scale=2)),
    ("lognormal", "0, 1", st.lognorm(1)), ("beta", "2, 3", st.beta(2, 3)), ("uniform", "0, 2", st.uniform(0, 2)),
]


@pytest.mark.parametrize("name, args, ref", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_truncated_density_and_cdfs_match_scipy(name, args, ref, x64):
    text = (f"var x : interval(0.2, 0.7)\nx ~ {name}({args}) T[0.2, 0.7]\n"
            f"factor c = -{name}_lcdf(0.4 | {args}) - 2 * {name}_lccdf(0.4 | {args}) + 3 * {name}_cdf(0.4 | {args})"
            f" + 4 * {name}_ccdf(0.3 | {args})")
    m = ebm.parse(text)
    x = np.array([0.25, 0.5, 0.65])
    got = jax.jit(jax.vmap(lambda x: m.energy({}, {"x": x})))(jnp.asarray(x))
    want = (-(ref.logpdf(x) - np.log(ref.cdf(0.7) - ref.cdf(0.2))) - ref.logcdf(0.4) - 2 * ref.logsf(0.4)
            + 3 * ref.cdf(0.4) + 4 * ref.sf(0.3))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("text, want", [
    ("normal_lccdf(40 | 0, 1)", st.norm.logsf(40)),
    ("normal_lcdf(-40 | 0, 1)", st.norm.logcdf(-40)),
    ("lognormal_lccdf(exp(30) | 0, 1)", st.norm.logsf(30)),
    ("exponential_lccdf(1000 | 2)", -2000.0),
    ("gamma_lccdf(60 | 2, 1)", st.gamma(2).logsf(60)),
    ("half_normal_lccdf(30 | 1)", st.halfnorm.logsf(30)),
    ("logistic_lccdf(60 | 0, 1)", st.logistic.logsf(60)),
    ("poisson_lccdf(30 | 2)", st.poisson(2).logsf(30)),
    ("poisson_cdf(3 | 2)", st.poisson(2).cdf(3)),
    ("poisson_log_lcdf(3 | 0.5)", st.poisson(np.exp(0.5)).logcdf(3)),
])
def test_log_cdfs_keep_their_digits_in_the_tails(text, want, x64):
    m = ebm.parse(f"var x : real\nfactor f = x^2 - ({text})")
    got = -float(m.energy({}, {"x": jnp.asarray(0.0)}))
    assert got == pytest.approx(want, rel=1e-8)


def test_cdf_functions_are_elementwise_and_differentiable(x64):
    m = ebm.parse("var mu : real\nconst y : real[3] = [0.0, 1.0, 2.0]\nlet c = normal_cdf(y | mu, 1)\n"
                  "factor f = -sum(normal_lccdf(y | mu, 1))")
    d = m.deterministics({}, {"mu": jnp.asarray(0.5)})
    np.testing.assert_allclose(d["c"], st.norm.cdf([0.0, 1.0, 2.0], 0.5), rtol=1e-12)
    g = jax.grad(lambda mu: m.energy({}, {"mu": mu}))(0.5)
    z = np.array([0.0, 1.0, 2.0]) - 0.5
    np.testing.assert_allclose(g, -np.sum(st.norm.pdf(z) / st.norm.sf(z)), rtol=1e-10)


def test_one_sided_truncations(x64):
    m = ebm.parse("var a : positive\nconst b : real = -0.4\nvar g : interval(0, 2)\n"
                  "a ~ normal(1, 2) T[0, ]\nb ~ student_t(3, 0, 1) T[, 1]\ng ~ gamma(2, 3) T[, 2]")
    v = {"a": jnp.asarray(0.7), "g": jnp.asarray(0.9)}
    want = -(st.norm(1, 2).logpdf(0.7) - st.norm(1, 2).logsf(0) + st.t(3).logpdf(-0.4) - st.t(3).logcdf(1)
             + st.gamma(2, scale=1 / 3).logpdf(0.9) - st.gamma(2, scale=1 / 3).logcdf(2))
    assert float(m.energy({}, v)) == pytest.approx(want, rel=1e-10)


def test_a_truncated_density_is_normalized_by_quadrature(x64):
    m = ebm.parse("var x : interval(-1, 4)\nx ~ normal(2.5, 0.7) T[-1, 4]")
    energy = jax.jit(lambda x: m.energy({}, {"x": x}))
    z, _ = si.quad(lambda x: float(np.exp(-energy(x))), -1, 4)
    assert np.log(z) == pytest.approx(0.0, abs=1e-9)


def test_data_outside_the_truncation_has_no_density(x64):
    m = ebm.parse("const y : real[2]\nvar mu : real\ny ~ normal(mu, 1) T[0, 3]", data={"y": [1.0, 3.5]})
    assert float(m.energy({}, {"mu": jnp.asarray(1.0)})) == np.inf


def test_bounds_may_be_params_and_data(x64):
    m = ebm.parse("const y : real[2] = [0.5, 1.5]\nconst U : real = 2.0\nvar L : interval(-1, 0)\n"
                  "y ~ normal(1, 1) T[L, U]\nL ~ uniform(-1, 0)")
    got = float(m.energy({}, {"L": jnp.asarray(-0.3)}))
    want = -np.sum(st.truncnorm.logpdf([0.5, 1.5], -1.3, 1.0, 1, 1))
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.slow
def test_truncated_normal_nuts_moments_match_the_closed_form(x64):
    m = ebm.parse("var x : interval(0, 3)\nx ~ normal(1, 2) T[0, 3]")
    idata = ebm.sample(m, sampler="nuts", chains=4, draws=1000, warmup=500, key=3, progress=False, verbose=False)
    x = idata.posterior["x"]
    ref = st.truncnorm((0 - 1) / 2, (3 - 1) / 2, 1, 2)
    mean_mcse = float(az.mcse(idata, var_names=["x"])["x"])
    sd_mcse = float(az.mcse(idata, var_names=["x"], method="sd")["x"])
    assert abs(float(x.mean()) - ref.mean()) < 4 * mean_mcse
    assert abs(float(x.std()) - ref.std()) < 4 * sd_mcse


def _grid_posterior(data):
    """The censored example's posterior of mu on a fine grid (trapezoid rule): mean and sd."""
    mu = np.linspace(-2, 10, 24001)
    y, U, s = np.asarray(data["y_obs"]), data["U"], data["sigma"]
    logp = (st.norm(0, 10).logpdf(mu) + st.norm.logpdf(y[:, None], mu, s).sum(0)
            + data["N_cens"] * st.norm.logsf(U, mu, s))
    p = np.exp(logp - logp.max())
    p /= np.trapezoid(p, mu)
    mean = np.trapezoid(mu * p, mu)
    return mean, np.sqrt(np.trapezoid((mu - mean) ** 2 * p, mu))


def _censored():
    data = json.loads((EXAMPLES / "data" / "censored.json").read_text())
    return ebm.load(EXAMPLES / "censored.ebm", data=data), data


def test_censored_example_density_is_the_censored_likelihood(x64):
    m, data = _censored()
    mu = np.array([1.0, 3.0, 4.5, 7.0])
    got = -np.asarray(jax.jit(jax.vmap(lambda v: m.energy({}, {"mu": v})))(jnp.asarray(mu)))
    y = np.asarray(data["y_obs"])
    want = (st.norm(0, 10).logpdf(mu) + st.norm.logpdf(y[:, None], mu, data["sigma"]).sum(0)
            + data["N_cens"] * st.norm.logsf(data["U"], mu, data["sigma"]))
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.slow
def test_censored_example_matches_the_integrated_posterior(x64):
    m, data = _censored()
    mean, sd = _grid_posterior(data)
    idata = ebm.sample(m, sampler="nuts", chains=4, draws=1000, warmup=500, key=5, progress=False, verbose=False)
    mu = idata.posterior["mu"]
    assert abs(float(mu.mean()) - mean) < 4 * float(az.mcse(idata, var_names=["mu"])["mu"])
    assert abs(float(mu.std()) - sd) < 4 * float(az.mcse(idata, var_names=["mu"], method="sd")["mu"])
    # ignoring the censored readings would pull the mean down by more than a posterior sd
    naive = np.mean(data["y_obs"])
    assert mean - naive > 2 * sd


def test_truncated_normal_draws_through_numpyro(x64):
    import numpyro
    from ebmppl.model.lower import cdfs
    import numpyro.distributions as dist
    d = cdfs.truncate("lognormal", dist.LogNormal(0.0, 1.0), jnp.asarray(0.5), jnp.asarray(2.0), 0.0, np.inf)
    x = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
    assert x.min() >= 0.5 and x.max() <= 2.0
    ref = st.truncnorm(np.log(0.5), np.log(2.0))  # log x is a truncated standard normal
    assert abs(np.log(x).mean() - ref.mean()) < 4 * ref.std() / np.sqrt(len(x))
    with numpyro.handlers.seed(rng_seed=0):
        assert numpyro.sample("y", d).shape == ()


@pytest.mark.parametrize("text, error, phrase", [
    ("var x : real\nx ~ normal(0, 1) T[0, 1]", EbmSemanticError, "density only between its bounds"),
    ("var x : positive\nx ~ normal(0, 1) T[-1, 1]", EbmSemanticError, "density only between its bounds"),
    ("var x : int\nx ~ poisson(3) T[0, 5]", EbmSemanticError, "discrete distribution (poisson) is not supported"),
    ("var x : real[2]\nx ~ multi_normal([0.0, 0.0], eye(2)) T[0, 1]", EbmSemanticError,
     "multi_normal cannot be truncated"),
    ("var x : real\nx ~ normal(0, 1) T[, ]", EbmSemanticError, "needs a bound"),
    ("var x : interval(0, 1)\nx ~ normal(0, 1) T[1, 0]", EbmSemanticError, "must be below its upper bound"),
    ("var x : real\nx ~ normal(0, 1) U[0, 1]", EbmSyntaxError, "to truncate it write T[lo, hi]"),
    ("var x : real\nfactor f = -dirichlet_lcdf(x | 1)", EbmSemanticError, "no cumulative distribution function"),
    ("var x : real\nfactor f = -normal_lcdf(x | 0)", EbmSemanticError, "normal_lcdf takes a value and 2 arguments"),
    ("var x : real\nfactor f = -normal_lcdf(x | 0, -1)", EbmSemanticError, "scale"),
    ("var x : real\nlet normal_cdf = x\nfactor f = x^2", EbmSemanticError, "built-in function"),
])
def test_the_checker_refuses(text, error, phrase):
    with pytest.raises(error) as info:
        ebm.parse(text)
    assert phrase in str(info.value)


def test_truncation_bounds_keep_their_source_spans():
    with pytest.raises(EbmError) as info:
        ebm.parse("var x : real\nx ~ normal(0, 1) T[0, 1]")
    assert info.value.span.line == 2 and info.value.span.col == 18


def test_t_is_still_a_name():
    m = ebm.parse("const T : int = 3\nvar x : real[T]\nvar s : interval(0, T)\nx ~ normal(0, 1)\n"
                  "s ~ normal(0, 1) T[0, T]")
    assert m.lowered.shapes["x"] == (3,)
