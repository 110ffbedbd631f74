"""Each fitting method recovers known answers (float64, fixed seeds)."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import ebmppl as ebm
from ebmppl import fit
from ebmppl.partition import log_likelihood
from tests.conftest import DATA

GAUSS = ("var x : real[5]\nparam mu : real[5] = 0\nparam P : real[5, 5] = eye(5)\n"
         "factor g = 0.5 * (x - mu) @ P @ (x - mu)")


@pytest.fixture(scope="module")
def gauss_data():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    sigma = A @ A.T / 5 + 0.5 * np.eye(5)
    x = rng.multivariate_normal(rng.normal(size=5), sigma, size=5000)
    return x, x.mean(0), np.cov(x.T, bias=True)


def sym(p):
    return (p + p.T) / 2


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_sm_is_hyvarinens_closed_form(gauss_data, x64):
    x, mean, cov = gauss_data
    r = fit(ebm.parse(GAUSS), {"x": x}, method="sm", steps=3000, batch_size=5000, lr=optax.exponential_decay(
        0.02, 1000, 0.3), progress=False)
    assert rel(r.params["mu"], mean) <= 1e-3
    assert rel(sym(r.params["P"]), np.linalg.inv(cov)) <= 1e-3


@pytest.mark.parametrize("method, opts, smoothing", [("ssm", {"n_projections": 4}, 0.0), ("dsm", {"sigma": 0.3}, 0.3)])
def test_ssm_and_dsm_within_two_percent(gauss_data, x64, method, opts, smoothing):
    x, mean, cov = gauss_data
    r = fit(ebm.parse(GAUSS), {"x": x}, method=method, steps=3000, batch_size=5000,
            lr=optax.exponential_decay(0.02, 1000, 0.3), progress=False, **opts)
    want = cov + smoothing ** 2 * np.eye(5)  # dsm fits the sigma-smoothed density
    assert rel(np.linalg.inv(sym(r.params["P"])), want) <= 0.02
    assert rel(r.params["mu"], mean) <= 0.02


def test_nce_learns_a_gaussians_log_z(x64):
    rng = np.random.default_rng(1)
    sigma = np.array([[1.0, 0.6], [0.6, 2.0]])
    x = rng.multivariate_normal([1.0, -0.5], sigma, size=5000)
    m = ebm.parse("var x : real[2]\nparam mu : real[2] = 0\nparam P : real[2, 2] = eye(2)\n"
                  "factor g = 0.5 * (x - mu) @ P @ (x - mu)")
    r = fit(m, {"x": x}, method="nce", steps=2000, batch_size=1000, lr=optax.exponential_decay(0.02, 700, 0.3),
            nu=4, progress=False)
    # the fitted Gaussian's own log Z, and the data's (sample covariance): log Z = (d/2) log 2π + ½ log|Σ|
    fitted = np.log(2 * np.pi) + 0.5 * np.log(np.linalg.det(np.linalg.inv(sym(r.params["P"]))))
    data = np.log(2 * np.pi) + 0.5 * np.log(np.linalg.det(np.cov(x.T, bias=True)))
    assert abs(r.logz - fitted) < 0.05 and abs(r.logz - data) < 0.05


@pytest.mark.slow
def test_nce_ica(x64):
    rng = np.random.default_rng(0)
    s = rng.laplace(0, 1 / np.sqrt(2), size=(10000, 4))  # unit-variance Laplacian sources
    a = rng.normal(size=(4, 4))
    x = s @ a.T
    b_star = np.linalg.inv(a)
    m = ebm.parse("var x : real[4]\nparam B : real[4, 4] ~ normal(0, 0.5)\nfactor ica = sqrt(2) * sum(abs(B @ x))")
    r = fit(m, {"x": x}, method="nce", steps=10000, batch_size=2000, lr=optax.exponential_decay(0.02, 4000, 0.3),
            nu=2, key=1, progress=False)
    perm = r.params["B"] @ np.linalg.inv(b_star)  # a signed permutation when B is recovered
    np.testing.assert_allclose(np.sort(np.abs(perm), axis=1)[:, -1], 1.0, atol=0.1)
    np.testing.assert_allclose(np.sort(np.abs(perm), axis=1)[:, :-1], 0.0, atol=0.1)
    assert sorted(np.argmax(np.abs(perm), axis=1)) == [0, 1, 2, 3]
    c_star = np.log(abs(np.linalg.det(b_star))) - 2 * np.log(2)
    assert abs(-r.logz - c_star) < 0.1


@pytest.fixture(scope="module")
def digits():
    x = np.loadtxt(DATA / "digits_binarized.csv", delimiter=",", skiprows=1)
    perm = np.random.default_rng(0).permutation(len(x))
    return x[perm[:1500]], x[perm[1500:]]


def test_pcd_rbm_beats_sklearn_by_a_nat(digits):
    from sklearn.neural_network import BernoulliRBM
    train, test = digits
    epochs, batch, lr = 20, 10, 0.05
    sk = BernoulliRBM(n_components=16, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=0).fit(train)
    m = ebm.load("examples/rbm.ebm")
    p_sk = {"W": sk.components_.T.astype(np.float32), "b": sk.intercept_visible_.astype(np.float32),
            "c": sk.intercept_hidden_.astype(np.float32)}
    ll_sk = log_likelihood(m, p_sk, {"v": test}).mean()
    r = fit(m, {"v": train}, method="pcd", steps=epochs * (len(train) // batch), batch_size=batch, lr=lr,
            optimizer="sgd", average=0.99, progress=False, chunk=1500)
    ll = log_likelihood(m, r.params, {"v": test}).mean()
    assert ll >= ll_sk + 1.0, (ll, ll_sk)


def test_pcd_loss_is_the_two_phases_energy_gap(digits):
    """CD/PCD evaluate the data and the negatives in one stacked batch; the loss, its aux figures and its
    gradient must be those of the two phases evaluated apart (here 10 data rows against 7 chains)."""
    from ebmppl.training.api import build_objective
    from ebmppl.training.problem import Problem
    m = ebm.load("examples/rbm.ebm")
    prob = Problem(m)
    data = {"v": jax.numpy.asarray(digits[0][:50], jax.numpy.float32)}
    obj = build_objective("pcd", prob, data, 10, {"chains": 7})
    params = m.init_params(jax.random.PRNGKey(1))
    params = {**params, "c": params["c"] + 0.3, "b": params["b"] - 0.2}
    state = obj.init_state(jax.random.PRNGKey(2), data)
    batch = {"v": data["v"][:10]}
    rand = obj.draw(jax.random.PRNGKey(3), 10)
    (value, (neg, aux)), g = jax.jit(jax.value_and_grad(obj.loss, has_aux=True))(params, batch, rand, state)
    assert neg["v"].shape == (7, 64)

    def apart(p):
        return jax.numpy.mean(prob.energies(p, batch)) - jax.numpy.mean(prob.energies(p, {"v": neg["v"]}))
    want, g_want = jax.jit(jax.value_and_grad(apart))(params)
    np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(aux["e_pos"], jax.numpy.mean(prob.energies(params, batch)), rtol=1e-5)
    np.testing.assert_allclose(aux["e_neg"], jax.numpy.mean(prob.energies(params, {"v": neg["v"]})), rtol=1e-5)
    for k in g_want:
        np.testing.assert_allclose(g[k], g_want[k], rtol=1e-4, atol=1e-6)


def mmd(a, b, s=0.3):
    def k(x, y):
        return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * s * s))
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


RING_MLP = ("var x : real[2]\nparam f : mlp(2, [32, 32], 1, act=swish)\nfactor net = f(x)[0]\n"
            "factor confine = 0.5 * sum(x^2) / 16")


@pytest.fixture(scope="module")
def ring():
    x = np.loadtxt(DATA / "ring.csv", delimiter=",", skiprows=1)
    m = ebm.parse(RING_MLP)

    def samples(params):
        idata = ebm.sample(m, params, sampler="mala", chains=8, draws=100, warmup=300, thin=2, progress=False,
                           key=0, verbose=False)
        return np.asarray(idata.posterior["x"]).reshape(-1, 2)
    return m, x[:1500], x[1500:], samples, mmd(samples(m.init_params(0)), x[1500:])


@pytest.mark.parametrize("method, opts", [("fce", {}), ("vi", {"q": "gaussian"}), ("vi", {"q": "flow"})])
def test_adversarial_methods_fit_the_ring(ring, method, opts):
    m, train, test, samples, mmd0 = ring
    r = fit(m, {"x": train}, method=method, steps=3000, batch_size=256, lr=1e-3, progress=False, **opts)
    assert r.stopped == "steps"
    assert mmd(samples(r.params), test) < 0.6 * mmd0


def test_auto_method_choices():
    from ebmppl.training.api import choose_method
    assert choose_method(ebm.load("examples/rbm.ebm"))[0] == "pcd"
    assert choose_method(ebm.load("examples/ring.ebm"))[0] == "ssm"
    assert choose_method(ebm.parse("var x : real\nparam m : real\nx ~ normal(m, 1)"))[0] == "mle"


def test_mle_for_a_normalized_model(x64):
    x = np.random.default_rng(0).normal(2.0, 1.5, size=(2000, 1))
    m = ebm.parse("var x : real\nparam m : real\nparam s : positive\nx ~ normal(m, s)")
    r = fit(m, {"x": x[:, 0]}, method="auto", steps=1500, batch_size=2000, lr=0.05, progress=False)
    np.testing.assert_allclose(r.params["m"], x.mean(), atol=1e-3)
    np.testing.assert_allclose(r.params["s"], x.std(), atol=1e-3)
    _ = jax


def test_ce_trains_an_energy_classifier_on_moons():
    from ebmppl.applications import classify
    m = ebm.parse("var x : real[2]\nvar y : categorical(2)\nparam f : mlp(2, [32, 32], 2, act=swish)\n"
                  "factor e = -f(x)[y] + 0.5 * sum(x^2) / 16")
    d = np.loadtxt(DATA / "moons.csv", delimiter=",", skiprows=1)
    r = fit(m, {"x": d[:800, :2], "y": d[:800, 2]}, method="ce", steps=800, batch_size=100, lr=3e-3,
            progress=False)
    p = classify(m, r.params, {"x": d[800:, :2]})
    assert p.shape == (200, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert (p.argmax(1) == d[800:, 2]).mean() >= 0.95
    with pytest.raises(ebm.EbmError, match="label var 'z'"):
        fit(m, {"x": d[:10, :2], "y": d[:10, 2]}, method="ce", steps=2, progress=False, label="z")
