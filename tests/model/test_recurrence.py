"""Recurrences `let s[t in a:b] = body with s[0] = init` (one `lax.scan`): values against NumPy loops in float64
(GARCH(1,1), ARMA(1,1), a second-order recurrence), the HMM forward algorithm against brute-force enumeration,
gradients against finite differences, NUTS recovering a GARCH's parameters, and the checker's refusals."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from scipy.special import logsumexp

import ebmppl as ebm
from ebmppl.errors import EbmError, EbmSemanticError, EbmShapeError, EbmSyntaxError

ROOT = Path(__file__).resolve().parents[2]
GARCH = ROOT / "examples" / "garch.ebm"
GARCH_DATA = json.loads((ROOT / "examples" / "data" / "garch.json").read_text())
PARAMS = {"mu": 0.15, "omega": 0.12, "alpha": 0.25, "beta": 0.55}


def _garch_loop(y, sigma1, mu, omega, alpha, beta):
    s2 = np.empty(len(y))
    s2[0] = sigma1 ** 2
    for t in range(1, len(y)):
        s2[t] = omega + alpha * (y[t - 1] - mu) ** 2 + beta * s2[t - 1]
    return s2


def _values(**kw):
    return {k: jnp.asarray(v) for k, v in kw.items()}


def test_garch_volatility_equals_the_numpy_loop(x64):
    m = ebm.load(GARCH, data=GARCH_DATA)
    y = np.asarray(GARCH_DATA["y"])
    s2 = m.deterministics({}, _values(**PARAMS))["sigma2"]
    want = _garch_loop(y, GARCH_DATA["sigma1"], **PARAMS)
    np.testing.assert_allclose(s2, want, rtol=1e-13)
    energy = float(m.energy({}, _values(**PARAMS)))
    ref = -(st.norm.logpdf(y, PARAMS["mu"], np.sqrt(want)).sum() + st.norm.logpdf(PARAMS["mu"], 0, 1)
            + st.norm.logpdf(PARAMS["omega"], 0, 1) - st.norm.logsf(0, 0, 1))
    assert energy == pytest.approx(ref, rel=1e-12)


def test_the_documented_garch_is_the_example_file():
    doc = (ROOT / "docs" / "dsl.md").read_text()
    block = re.search(r"```ebm\n# data: [^\n]*\n(# garch\.ebm.*?)```", doc, re.S).group(1)
    assert block == GARCH.read_text()


def test_garch_gradient_matches_finite_differences(x64):
    m = ebm.load(GARCH, data=GARCH_DATA)
    f = jax.jit(lambda v: m.energy({}, v))
    g = jax.grad(lambda v: m.energy({}, v))(_values(**PARAMS))
    for k in PARAMS:
        h = 1e-6
        up, down = dict(PARAMS), dict(PARAMS)
        up[k] += h
        down[k] -= h
        fd = (float(f(_values(**up))) - float(f(_values(**down)))) / (2 * h)
        assert float(g[k]) == pytest.approx(fd, rel=1e-6), k


ARMA = """const T : int
const y : real[T]
var mu    : real
var phi   : real
var theta : real
var sigma : positive
let err[t in 1:T] = y[t] - (mu + phi * y[t - 1] + theta * err[t - 1])
    with err[0] = y[0] - (mu + phi * mu)
let nu = y - err
y ~ normal(nu, sigma)
"""


def test_arma11_errors_equal_the_numpy_loop(x64):
    y = np.random.default_rng(1).normal(size=12)
    m = ebm.parse(ARMA, data={"T": 12, "y": y.tolist()})
    p = dict(mu=0.3, phi=0.6, theta=-0.4, sigma=0.8)
    d = m.deterministics({}, _values(**p))
    err = np.empty(12)
    err[0] = y[0] - (p["mu"] + p["phi"] * p["mu"])
    for t in range(1, 12):
        err[t] = y[t] - (p["mu"] + p["phi"] * y[t - 1] + p["theta"] * err[t - 1])
    np.testing.assert_allclose(d["err"], err, rtol=1e-13, atol=1e-15)
    assert float(m.energy({}, _values(**p))) == pytest.approx(-st.norm.logpdf(err, 0, 0.8).sum(), rel=1e-12)


def test_a_second_order_recurrence_with_two_first_values(x64):
    m = ebm.parse("const N : int = 8\nvar a : real\n"
                  "let s[t in 2:N] = a * s[t - 1] + s[t - 2] - 0.5 * t with s[:2] = [1.0, a]\n"
                  "factor f = a^2 + 0 * sum(s)")
    s = m.deterministics({}, {"a": jnp.asarray(0.7)})["s"]
    want = [1.0, 0.7]
    for t in range(2, 8):
        want.append(0.7 * want[t - 1] + want[t - 2] - 0.5 * t)
    np.testing.assert_allclose(s, want, rtol=1e-13)


HMM = """const N : int
const K : int
const y : real[N]
var mu    : ordered[K]
var Gamma : simplex[K, K]
let la[t in 1:N] = logsumexp(la[t - 1][:, None] + log(Gamma), axis=0) + normal_lpdf(y[t] | mu, 1)
    with la[0] = -log(K) + normal_lpdf(y[0] | mu, 1)
factor likelihood = -logsumexp(la[N - 1])
"""


def test_hmm_forward_algorithm_equals_enumerating_every_path(x64):
    y = np.array([-1.1, -0.8, 1.2, 0.9, 1.1, -1.0])
    mu = np.array([-1.0, 0.5, 1.5])
    G = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]])
    m = ebm.parse(HMM, data={"N": 6, "K": 3, "y": y.tolist()})
    got = -float(m.energy({}, {"mu": jnp.asarray(mu), "Gamma": jnp.asarray(G)}))
    paths = []
    for z in itertools.product(range(3), repeat=6):
        lp = -np.log(3) + sum(st.norm.logpdf(y[t], mu[z[t]], 1) for t in range(6))
        lp += sum(np.log(G[z[t - 1], z[t]]) for t in range(1, 6))
        paths.append(lp)
    assert got == pytest.approx(logsumexp(paths), rel=1e-12)


@pytest.mark.slow
def test_nuts_recovers_the_garch_parameters():
    m = ebm.load(GARCH, data=GARCH_DATA)
    idata = ebm.sample(m, sampler="nuts", chains=2, draws=300, warmup=300, key=1, progress=False, verbose=False)
    post = idata.posterior
    # simulated with mu = 0.2, omega = 0.1, alpha = 0.3, beta = 0.5 (200 returns): each within 2.5 posterior sds
    for k, true in {"mu": 0.2, "omega": 0.1, "alpha": 0.3, "beta": 0.5}.items():
        assert abs(float(post[k].mean()) - true) < 2.5 * float(post[k].std()), k
    assert float(post["mu"].std()) < 0.1
    assert int(idata.sample_stats["diverging"].sum()) == 0


def _garch_numpyro():
    """examples/garch.ebm written by hand in NumPyro, the recurrence as a lax.scan (as a NumPyro user writes it)."""
    import numpyro
    import numpyro.distributions as dist
    y, s1 = jnp.asarray(GARCH_DATA["y"]), float(GARCH_DATA["sigma1"])

    def model():
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        omega = numpyro.sample("omega", dist.HalfNormal(1.0))  # normal(0, 1) T[0, ]
        alpha = numpyro.sample("alpha", dist.Uniform(0.0, 1.0))
        beta = numpyro.sample("beta", dist.Uniform(0.0, 1.0))

        def step(prev, y_prev):
            s = omega + alpha * (y_prev - mu) ** 2 + beta * prev
            return s, s
        _, rest = jax.lax.scan(step, jnp.asarray(s1 ** 2, y.dtype), y[:-1])
        sigma2 = jnp.concatenate([jnp.full((1,), s1 ** 2, y.dtype), rest])
        numpyro.sample("y", dist.Normal(mu, jnp.sqrt(sigma2)), obs=y)
    return model


@pytest.mark.slow
def test_garch_posterior_matches_hand_written_numpyro_with_scan(x64):
    """posteriordb's GARCH reference draws are not on this disk: the reference is the same model written by hand
    in NumPyro with lax.scan. Means within 0.15 posterior sd, sds within 15 %."""
    from numpyro.infer import MCMC, NUTS
    mcmc = MCMC(NUTS(_garch_numpyro()), num_warmup=1000, num_samples=2000, num_chains=2,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0))
    ref = mcmc.get_samples()
    idata = ebm.sample(ebm.load(GARCH, data=GARCH_DATA), sampler="nuts", chains=2, draws=2000, warmup=1000, key=1,
                       progress=False, verbose=False)
    for k in ("mu", "omega", "alpha", "beta"):
        ours, theirs = np.asarray(idata.posterior[k]).ravel(), np.asarray(ref[k])
        assert abs(ours.mean() - theirs.mean()) < 0.15 * theirs.std(), (k, ours.mean(), theirs.mean())
        assert abs(ours.std() / theirs.std() - 1) < 0.15, (k, ours.std(), theirs.std())


REC = "const N : int = 5\nvar a : real\n{}\nfactor f = a^2 + 0 * sum(s)"


@pytest.mark.parametrize("line, error, phrase", [
    ("let s[t in 1:N] = a * s[t] with s[0] = 1.0", EbmSemanticError, "s[t] reads a value not computed yet"),
    ("let s[t in 1:N] = a * s[t + 1] with s[0] = 1.0", EbmSemanticError, "s[t + 1] reads a value not computed yet"),
    ("let s[t in 1:N] = a * sum(s) with s[0] = 1.0", EbmSemanticError, "reads 's' only as s[t - k]"),
    ("let s[t in 1:N] = a * s[t - 2] with s[0] = 1.0", EbmSemanticError, "s[t - 2] reads before s[0]"),
    ("let s[t in 2:N] = a * s[t - 1] with s[0] = 1.0", EbmSemanticError, "gives 1 first value, but the recurrence "
                                                                          "starts at t = 2"),
    ("let s[t in 1:N] = [a, s[t - 1]] with s[0] = 1.0", EbmShapeError, "computes s[t] of shape [2]"),
    ("let s[t in 2:N] = a * s[t - 1] with s[:2] = 1.0", EbmShapeError, "needs 2 first values"),
    ("let s[t in 1:a] = a * s[t - 1] with s[0] = 1.0", EbmSemanticError, "'a' is a var"),
    ("let s[t in 1:N] = a * s[t - 1] with s[0] = s[1]", EbmSemanticError, "unknown name 's'"),
    ("let s[a in 1:N] = s[a - 1] with s[0] = 1.0", EbmSemanticError, "hides the var"),
    ("let s[t in 3:3] = s[t - 1] with s[:3] = [1.0, 2.0, 3.0]", EbmSemanticError, "computes no value"),
    ("let s[t in 1:N] = a * s[t - 1] with q[0] = 1.0", EbmSyntaxError, "belong to 's', not 'q'"),
    ("let s[t in 1:N] = a * s[t - 1] with s[1] = 1.0", EbmSyntaxError, "first element or the first K elements"),
    ("let with = 1.0", EbmSyntaxError, "reserved word"),
])
def test_the_checker_refuses(line, error, phrase):
    with pytest.raises(error) as info:
        ebm.parse(REC.format(line))
    assert phrase in str(info.value)


def test_an_error_points_at_the_future_read():
    with pytest.raises(EbmError) as info:
        ebm.parse(REC.format("let s[t in 1:N] = 1 + s[t + 1] with s[0] = 1.0"))
    assert (info.value.span.line, info.value.span.col) == (3, 23)


def test_a_positive_recurrence_is_a_valid_scale():
    ebm.parse("const N : int = 4\nconst y : real[N] = [0.1, 0.2, 0.3, 0.4]\nvar w : positive\nvar b : unit\n"
              "let v[t in 1:N] = w + b * v[t - 1] with v[0] = w\ny ~ normal(0, sqrt(v))")
    with pytest.raises(EbmSemanticError, match="scale of normal"):
        ebm.parse("const N : int = 4\nconst y : real[N] = [0.1, 0.2, 0.3, 0.4]\nvar w : positive\nvar b : real\n"
                  "let v[t in 1:N] = w + b * v[t - 1] with v[0] = w\ny ~ normal(0, v)")
