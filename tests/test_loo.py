"""PSIS-LOO on ebmppl's draws equals PSIS-LOO on a hand-written NumPyro model of the same data (elpd within two
standard errors of the difference, the same observations, Pareto k for each), for eight schools (through the
command line: `ebmppl sample --predictive`, `ebmppl diagnose`, `ebmppl predict`) and a Bayesian logistic
regression (through the Python API); ArviZ's loo, waic, compare and plot_ppc work on the result unchanged."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import arviz as az
import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC, NUTS

import ebmppl
from ebmppl import diagnostics
from ebmppl.cli import main

ROOT = Path(__file__).resolve().parents[1]
EIGHT = ROOT / "examples" / "eight_schools.ebm"
EIGHT_DATA = ROOT / "examples" / "data" / "eight_schools.json"

LOGREG = """
const N : int
const K : int
const X : real[N, K]
const y : binary[N]
var alpha : real
var beta : real[K]
alpha ~ normal(0, 2.5)
beta ~ normal(0, 2.5)
y ~ bernoulli_logit(alpha + X @ beta)
"""


def logreg_data(n=60, seed=0) -> dict:
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 2))
    y = (r.uniform(size=n) < 1 / (1 + np.exp(-(-0.5 + X @ [1.0, -2.0])))).astype(int)
    return {"N": n, "K": 2, "X": X.tolist(), "y": y.tolist()}


def hand_logreg(X, y):
    alpha = numpyro.sample("alpha", dist.Normal(0, 2.5))
    beta = numpyro.sample("beta", dist.Normal(0, 2.5).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("N", X.shape[0]):
        numpyro.sample("y", dist.Bernoulli(logits=alpha + X @ beta), obs=y)


def hand_eight_schools(sigma, y):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0, 1).expand([len(y)]).to_event(1))
    with numpyro.plate("J", len(y)):
        numpyro.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


def numpyro_loo(model, *args):
    """az.loo of the hand-written model sampled with NumPyro's NUTS (2 chains x 300 draws)."""
    mcmc = MCMC(NUTS(model), num_warmup=300, num_samples=300, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(11), *args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(az.from_numpyro(mcmc), pointwise=True)


def assert_same_loo(mine, ref):
    """The same observations with a Pareto k each, and elpd within 2 standard errors of the difference (the
    pointwise differences' standard error, as az.compare's dse)."""
    assert mine.n_data_points == ref.n_data_points
    assert np.asarray(mine.pareto_k).shape == np.asarray(ref.pareto_k).shape == (mine.n_data_points,)
    d = np.asarray(mine.loo_i) - np.asarray(ref.loo_i)
    se_diff = np.sqrt(d.size * d.var())
    assert abs(d.sum()) <= 2 * se_diff, (float(mine.elpd_loo), float(ref.elpd_loo), float(se_diff))
    # the two runs estimate the same number: far closer than the elpd's own standard error
    assert abs(d.sum()) < 0.25 * float(ref.se)


@pytest.fixture(scope="module")
def logreg():
    data = logreg_data()
    model = ebmppl.parse(LOGREG).bind(data)
    idata = ebmppl.sample(model, sampler="nuts", chains=2, draws=300, warmup=300, key=5, progress=False,
                          verbose=False)
    return model, idata, data


def test_logistic_regression_loo_matches_numpyro(logreg):
    _, idata, data = logreg
    assert dict(idata.log_likelihood["y"].sizes) == {"chain": 2, "draw": 300, "N": 60}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = az.loo(idata, pointwise=True)
    ref = numpyro_loo(hand_logreg, np.asarray(data["X"], np.float32), np.asarray(data["y"]))
    assert_same_loo(mine, ref)


def test_arviz_functions_work_unchanged(logreg, tmp_path):
    model, idata, data = logreg
    out = ebmppl.predict(model, idata, key=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = az.waic(out)
        table = az.compare({"a": out, "b": idata})
        import matplotlib
        matplotlib.use("Agg")
        ax = az.plot_ppc(out, num_pp_samples=20)
        pit = az.plot_loo_pit(out, y="y")
    assert w.n_data_points == 60 and len(table) == 2
    assert ax is not None and pit is not None
    # the posterior predictive mean of y matches the data's frequency (logistic regression's calibration)
    assert abs(float(out.posterior_predictive["y"].mean()) - np.mean(data["y"])) < 0.05


@pytest.fixture(scope="module")
def eight_cli(tmp_path_factory):
    runs = tmp_path_factory.mktemp("loo")
    code = main(["sample", str(EIGHT), "--consts", str(EIGHT_DATA), "--sampler", "nuts", "--chains", "2",
                 "--draws", "300", "--warmup", "300", "--seed", "2", "--predictive", "--out", str(runs / "s"),
                 "--no-progress", "-q"])
    assert code == 0
    return runs


def test_eight_schools_loo_matches_numpyro(eight_cli):
    idata = diagnostics.read_samples(eight_cli / "s" / "samples.nc")
    assert {"posterior", "log_likelihood", "observed_data", "posterior_predictive"} <= set(idata.groups())
    assert idata.posterior_predictive["y"].shape == (2, 300, 8)
    data = json.loads(EIGHT_DATA.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = az.loo(idata, pointwise=True)
    ref = numpyro_loo(hand_eight_schools, np.asarray(data["sigma"], np.float32), np.asarray(data["y"], np.float32))
    assert_same_loo(mine, ref)


def test_diagnose_reports_loo_and_predict_adds_groups(eight_cli, capsys):
    samples = eight_cli / "s" / "samples.nc"
    capsys.readouterr()
    assert main(["diagnose", str(samples), "--out", str(eight_cli / "d"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.loo(diagnostics.read_samples(samples))
    assert result["loo"]["n_observations"] == 8
    assert result["loo"]["elpd_loo"] == pytest.approx(float(ref.elpd_loo), rel=1e-6)
    assert result["loo"]["se"] == pytest.approx(float(ref.se), rel=1e-6)
    # the prior of a positive var under `~ cauchy(0, 5)` is not the cauchy: no prior draws, an error[sample]
    assert main(["predict", str(EIGHT), str(samples), "--predictive", "prior", "--out", str(eight_cli / "p")]) == 2
    assert "var 'tau' has no `~`" in capsys.readouterr().err
    assert main(["predict", str(EIGHT), str(samples), "--out", str(eight_cli / "q"), "-q"]) == 0
    again = diagnostics.read_samples(eight_cli / "q" / "samples.nc")
    assert again.posterior_predictive["y"].shape == (2, 300, 8)


def test_diagnose_warns_about_large_pareto_k():
    # an outlier far in the tail of a normal model: its Pareto k is large
    model = ebmppl.parse("const y : real[6]\nvar mu : real\nmu ~ normal(0, 10)\ny ~ normal(mu, 0.3)").bind(
        {"y": [0.1, -0.2, 0.05, 0.0, 0.15, 9.0]})
    idata = ebmppl.sample(model, sampler="nuts", chains=2, draws=200, warmup=150, key=0, progress=False,
                          verbose=False)
    text, warning, r = diagnostics.loo_text(idata)
    assert "6 observations" in text and float(np.max(r.pareto_k)) > 0.7
    assert warning is not None and warning.startswith("warning[loo]")


def test_loo_of_several_observed_consts_counts_every_observation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 100, 3)), rng.normal(size=(2, 100, 2, 2))
    idata = az.from_dict(posterior={"m": rng.normal(size=(2, 100))}, log_likelihood={"a": a, "b": b})
    joint = az.from_dict(posterior={"m": rng.normal(size=(2, 100))},
                         log_likelihood={"all": np.concatenate([a, b.reshape(2, 100, 4)], -1)})
    mine = diagnostics.loo(idata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.loo(joint)
    assert mine.n_data_points == 7
    assert float(mine.elpd_loo) == pytest.approx(float(ref.elpd_loo), rel=1e-10)
