"""Observed sites, predictive draws and the observed_data / log_likelihood groups.

The NumPyro form of a model has proper sites for generative `~` statements and obs= sites for data, with the
same density as before (the potentials agree with ebmppl's at random points); Predictive draws ``y`` with the
observed shape; prior and posterior predictive draws of a normal-normal model have the analytic moments
(tolerances in Monte Carlo standard errors, fixed seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive
from numpyro.infer.util import potential_energy

import ebmppl
from ebmppl import diagnostics
from ebmppl.errors import EbmError
from ebmppl.infer.predictive import predict

ROOT = Path(__file__).resolve().parents[2]
EIGHT = ROOT / "examples" / "eight_schools.ebm"
EIGHT_DATA = ROOT / "examples" / "data" / "eight_schools.json"

# normal-normal: mu ~ N(M0, S0^2), y_i | mu ~ N(mu, S^2)
M0, S0, S = 1.0, 2.0, 0.5
Y = [1.8, 2.4, 1.1]
CONJUGATE = f"""
const y : real[3]
var mu : real
mu ~ normal({M0}, {S0})
y ~ normal(mu, {S})
"""


def sites_of(src: str) -> dict:
    """name -> 'observed' / 'proper' for a model's sites; the vars left out have the flat form."""
    plan = ebmppl.parse(src).numpyro_model().sites
    return {n: "observed" if s.observed else "proper" for n, s in plan.sites.items()}


@pytest.mark.parametrize("src, want", [
    ("var x : real\nx ~ normal(0, 1)", {"x": "proper"}),
    # a support that is not the declared domain: the flat site keeps the var's own transform
    ("var x : positive\nx ~ normal(0, 1)", {}),
    ("var x : positive\nx ~ gamma(2, 1)", {"x": "proper"}),
    ("var u : interval(0, 2)\nu ~ uniform(0, 2)", {"u": "proper"}),
    ("var u : interval(0, 2)\nu ~ uniform(0, 3)", {}),
    # bounds that move with another var are not u's fixed domain; u's term, a factor, then reads a
    ("var a : interval(1, 2)\nvar u : interval(0, 1)\na ~ uniform(1, 2)\nu ~ uniform(0, a)", {}),
    ("var a : interval(1, 2)\nvar u : interval(0, 1)\na ~ uniform(1, 2)\nu ~ uniform(0, 1)",
     {"a": "proper", "u": "proper"}),
    # a var under two terms, or read by an energy: the potential form
    ("var x : real\nx ~ normal(0, 1)\nfactor f = x^2", {}),
    ("var x : real\nx ~ normal(0, 1)\nx ~ normal(1, 1)", {}),
    # a cycle is no generative model
    ("var a : real\nvar b : real\na ~ normal(b, 1)\nb ~ normal(a, 1)", {}),
    # a var read by another site's distribution (through a let) stays proper
    ("var a : real\nvar b : real\nlet c = 2 * a\na ~ normal(0, 1)\nb ~ normal(c, 1)", {"a": "proper", "b": "proper"}),
    ("const y : real[2] = [1.0, 2.0]\nvar m : real\nm ~ normal(0, 1)\ny ~ normal(m, 1)",
     {"m": "proper", "y": "observed"}),
    # data read by another term is not an observation of one site
    ("const y : real[2] = [1.0, 2.0]\nvar m : real\nm ~ normal(0, 1)\ny ~ normal(m, 1)\nfactor f = m * sum(y)",
     {}),
])
def test_which_statements_become_sites(src, want):
    assert sites_of(src) == want


@pytest.fixture(scope="module")
def eight():
    model = ebmppl.load(EIGHT).bind(EIGHT_DATA)
    idata = ebmppl.sample(model, sampler="nuts", chains=2, draws=300, warmup=300, key=3, progress=False,
                          verbose=False)
    return model, idata


def test_eight_schools_sites_and_potential(eight):
    model, _ = eight
    nm = model.numpyro_model()
    assert nm.sites.observed == ("y",) and nm.sites.flat(model.lowered) == ("tau",)
    for seed in range(3):
        keys = jax.random.split(jax.random.PRNGKey(seed), 3)
        u = {"mu": jax.random.normal(keys[0], ()), "tau": jax.random.normal(keys[1], ()),
             "theta_tilde": jax.random.normal(keys[2], (8,))}
        np.testing.assert_allclose(potential_energy(nm, (), {}, u), model.potential({}, u), rtol=1e-5)


def test_idata_has_observed_data_and_pointwise_log_likelihood(eight):
    model, idata = eight
    data = json.loads(EIGHT_DATA.read_text())
    assert "y" in idata.observed_data and "y" not in idata.constant_data
    np.testing.assert_allclose(idata.observed_data["y"].values, data["y"])
    ll = idata.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "J") and ll.shape == (2, 300, 8)
    # the pointwise values are log N(y_j | theta_j, sigma_j) at each draw
    th = idata.posterior["theta"].values
    sig = np.asarray(data["sigma"])
    want = -0.5 * ((np.asarray(data["y"]) - th) / sig) ** 2 - np.log(sig) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(ll.values, want, rtol=1e-4, atol=1e-4)


def test_predictive_draws_y_with_the_observed_shape(eight):
    model, idata = eight
    post = {k: idata.posterior[k].values.reshape((-1,) + idata.posterior[k].shape[2:])
            for k in ("mu", "tau", "theta_tilde")}
    nm = model.numpyro_model()
    drawn = Predictive(nm, post)(jax.random.PRNGKey(0), y=None)["y"]
    assert drawn.shape == (600, 8)
    # by default y is the data (an observed site), as in a NumPyro model called with its data
    kept = Predictive(nm, post, return_sites=["y"])(jax.random.PRNGKey(0))["y"]
    np.testing.assert_allclose(kept[0], idata.observed_data["y"].values)
    with pytest.raises(EbmError, match="not an observed const"):
        Predictive(nm, post)(jax.random.PRNGKey(0), z=None)


def test_predict_adds_posterior_predictive_and_refuses_a_prior_it_cannot_draw(eight):
    model, idata = eight
    out = predict(model, idata, key=1)
    pp = out.posterior_predictive["y"]
    assert pp.dims == ("chain", "draw", "J") and pp.shape == (2, 300, 8)
    assert "posterior_predictive" not in idata.groups()  # a new InferenceData
    with pytest.raises(EbmError, match="var 'tau' has no `~` whose distribution is its prior"):
        predict(model, idata, prior=True)


@pytest.fixture(scope="module")
def conjugate():
    model = ebmppl.parse(CONJUGATE).bind({"y": Y})
    idata = ebmppl.sample(model, sampler="nuts", chains=2, draws=500, warmup=300, key=0, progress=False,
                          verbose=False)
    return model, predict(model, idata, prior=True, prior_draws=4000, key=2)


def _within(draws, mean, sd, n_eff, z=4.0):
    """The sample mean and variance of ``draws`` within ``z`` Monte Carlo standard errors of the analytic ones."""
    d = np.asarray(draws).ravel()
    assert abs(d.mean() - mean) < z * sd / np.sqrt(n_eff), (d.mean(), mean)
    # the variance's standard error for normal draws: sd^2 sqrt(2 / (n - 1))
    assert abs(d.var(ddof=1) - sd ** 2) < z * sd ** 2 * np.sqrt(2 / (n_eff - 1)), (d.var(ddof=1), sd ** 2)


def test_prior_predictive_has_the_prior_moments(conjugate):
    _, idata = conjugate
    assert idata.prior["mu"].shape == (1, 4000) and idata.prior_predictive["y"].shape == (1, 4000, 3)
    _within(idata.prior["mu"], M0, S0, 4000)
    y = idata.prior_predictive["y"].values[0]
    for i in range(3):  # y_i = mu + e_i: mean M0, variance S0^2 + S^2
        _within(y[:, i], M0, np.hypot(S0, S), 4000)
    # cov(y_1, y_2) = S0^2: the draws share mu
    c = np.cov(y[:, 0], y[:, 1])[0, 1]
    assert abs(c - S0 ** 2) < 4 * np.hypot(S0, S) ** 2 / np.sqrt(4000)


def test_posterior_predictive_has_the_conjugate_moments(conjugate):
    _, idata = conjugate
    prec = 1 / S0 ** 2 + len(Y) / S ** 2
    m_post, v_post = (M0 / S0 ** 2 + sum(Y) / S ** 2) / prec, 1 / prec
    ess = float(diagnostics.ess(idata, var_names=["mu"])["mu"])
    pp = idata.posterior_predictive["y"].values
    assert pp.shape == (2, 500, 3)
    # y_new = mu + e: its draws are less autocorrelated than mu's, so mu's ESS is a conservative count
    _within(pp[..., 0], m_post, np.sqrt(v_post + S ** 2), ess)
    _within(idata.posterior["mu"], m_post, np.sqrt(v_post), ess)


def test_drawing_a_var_without_a_proper_site_says_why():
    import numpyro
    nm = ebmppl.parse("var x : real\nfactor f = x^2").numpyro_model()
    with pytest.raises(EbmError, match="var 'x' has no distribution to draw from"):
        numpyro.handlers.trace(numpyro.handlers.seed(nm, 0)).get_trace()
