"""Every example written with the Python front end gives the same energies as its .ebm file."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl as ebm
from tests.conftest import EXAMPLE_DATA, EXAMPLE_NAMES, load_example, random_params, random_values


def py_ring():
    @ebm.factor(x=ebm.real(2), r=ebm.param(ebm.positive, init=1.0), k=ebm.param(ebm.positive, init=8.0))
    def ring(x, r, k):
        return k * (jnp.linalg.norm(x) - r) ** 2
    return ring + ebm.normal("x", 0.0, 3.0, name="prior")


def py_gaussian():
    @ebm.factor(x=ebm.real(2), mu=ebm.param(ebm.real(2), init=0.0), P=ebm.param(ebm.real(2, 2), init=np.eye(2)))
    def gauss(x, mu, P):
        d = x - mu
        return 0.5 * d @ P @ d
    return gauss


def py_rbm():
    @ebm.factor(v=ebm.binary(64), h=ebm.latent(ebm.binary(16)),
                W=ebm.param(ebm.real(64, 16), init_dist=("normal", 0, 0.01)),
                b=ebm.param(ebm.real(64), init=0.0), c=ebm.param(ebm.real(16), init=0.0))
    def rbm(v, h, W, b, c):
        return -(v @ W @ h) - b @ v - c @ h
    return rbm


def py_ising():
    @ebm.factor(L=ebm.const(ebm.integer, default=4), J=ebm.const(ebm.real, default=1.0),
                T=ebm.const(ebm.positive, default=2.0), s=ebm.spin("L", "L"))
    def lattice(s, J):
        return -J * jnp.sum(s * jnp.roll(s, 1, axis=0) + s * jnp.roll(s, 1, axis=1))
    return lattice / "T"


def py_mixture():
    x = ebm.declare(x=ebm.real)
    return ebm.mixture([0.3, 0.7], [x + ebm.normal("x", -2, 0.7, name="left"),
                                    x + ebm.normal("x", 1.5, 1, name="right")])


def py_mlp():
    @ebm.factor(x=ebm.real(2), f=ebm.param(ebm.mlp(2, [32, 32], 1, act="swish")))
    def net(x, f):
        return f(x)[0]

    @ebm.factor
    def confine(x):
        return 0.5 * jnp.sum(x ** 2) / 16
    return net + confine


def py_eight_schools():
    decls = ebm.declare(J=ebm.const(ebm.integer), y=ebm.const(ebm.real("J")), sigma=ebm.const(ebm.positive("J")),
                        mu=ebm.real, tau=ebm.positive, theta_tilde=ebm.real("J"))

    @ebm.let
    def theta(mu, tau, theta_tilde):
        return mu + tau * theta_tilde
    return (decls + theta + ebm.normal("mu", 0, 5) + ebm.cauchy("tau", 0, 5) + ebm.normal("theta_tilde", 0, 1)
            + ebm.normal("y", "theta", "sigma"))


def py_ark():
    decls = ebm.declare(K=ebm.const(ebm.integer), T=ebm.const(ebm.integer), y=ebm.const(ebm.real("T")),
                        alpha=ebm.real, beta=ebm.real("K"), sigma=ebm.positive)

    @ebm.factor
    def likelihood(y, alpha, beta, sigma, K, T):
        import numpyro.distributions as dist
        K, T = int(K), int(T)
        lags = jnp.stack([y[K - k - 1: T - k - 1] for k in range(K)], axis=-1)  # (T-K, K)
        mu = alpha + lags @ beta
        return -jnp.sum(dist.Normal(mu, sigma).log_prob(y[K:]))
    return decls + ebm.normal("alpha", 0, 10) + ebm.normal("beta", 0, 10) + ebm.cauchy("sigma", 0, 2.5) + likelihood


def py_gp_pois_regr():
    decls = ebm.declare(N=ebm.const(ebm.integer), x=ebm.const(ebm.real("N")), k=ebm.const(ebm.integer("N")),
                        rho=ebm.positive, alpha=ebm.positive, f_tilde=ebm.real("N"))

    @ebm.let
    def f(x, alpha, rho, f_tilde):
        K = alpha ** 2 * jnp.exp(-(x[:, None] - x[None, :]) ** 2 / (2 * rho ** 2)) + 1e-10 * jnp.eye(x.shape[0])
        return jnp.linalg.cholesky(K) @ f_tilde

    @ebm.density("k")
    def counts(f):
        import numpyro.distributions as dist
        return dist.Poisson(jnp.exp(f))
    return decls + f + ebm.gamma("rho", 25, 4) + ebm.normal("alpha", 0, 2) + ebm.normal("f_tilde", 0, 1) + counts


def py_censored():
    decls = ebm.declare(N_obs=ebm.const(ebm.integer), N_cens=ebm.const(ebm.integer),
                        y_obs=ebm.const(ebm.real("N_obs")), U=ebm.const(ebm.real), sigma=ebm.const(ebm.positive),
                        mu=ebm.real)

    @ebm.factor
    def censored(N_cens, U, mu, sigma):
        return -N_cens * jax.scipy.stats.norm.logsf(U, mu, sigma)
    return decls + ebm.normal("mu", 0, 10) + ebm.normal("y_obs", "mu", "sigma") + censored


def py_garch():
    import numpyro.distributions as dist
    decls = ebm.declare(T=ebm.const(ebm.integer), y=ebm.const(ebm.real("T")), sigma1=ebm.const(ebm.positive),
                        mu=ebm.real, omega=ebm.positive, alpha=ebm.unit, beta=ebm.unit)

    @ebm.let
    def sigma2(y, sigma1, mu, omega, alpha, beta):
        def step(s, y_before):
            s = omega + alpha * (y_before - mu) ** 2 + beta * s
            return s, s
        _, rest = jax.lax.scan(step, sigma1 ** 2, y[:-1])
        return jnp.concatenate([jnp.reshape(sigma1 ** 2, (1,)), rest])

    @ebm.density("omega")
    def omega_prior():
        return dist.TruncatedNormal(0.0, 1.0, low=0.0)

    @ebm.density("y")
    def returns(mu, sigma2):
        return dist.Normal(mu, jnp.sqrt(sigma2))
    return decls + sigma2 + ebm.normal("mu", 0, 1) + omega_prior + returns


PY = {name[3:]: fn for name, fn in globals().items() if name.startswith("py_")}


def test_every_example_has_a_python_twin():
    assert sorted(PY) == EXAMPLE_NAMES


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_dsl_equals_decorators(name, x64):
    dsl = load_example(name)
    py = PY[name]()
    data = EXAMPLE_DATA.get(name)
    if data is not None:
        py = py.bind(data)
    assert [(s.name, s.role, str(s.domain)) for s in sorted(dsl.specs, key=lambda s: s.name)] == \
           [(s.name, s.role, str(s.domain)) for s in sorted(py.specs, key=lambda s: s.name)]
    for seed in range(3):
        params = random_params(dsl, seed)
        values = random_values(dsl, seed + 10)
        e_dsl = dsl.energy(params, values)
        e_py = py.energy(params, values)
        np.testing.assert_allclose(e_dsl, e_py, rtol=1e-10, atol=1e-10)
        if dsl.lowered.continuous:
            g_dsl, g_py = dsl.score(params, values), py.score(params, values)
            for k in g_dsl:
                np.testing.assert_allclose(g_dsl[k], g_py[k], rtol=1e-9, atol=1e-9)
    # batched and jitted, too
    vals = random_values(dsl, 99, n=5)
    params = random_params(dsl, 7)
    f_dsl = jax.jit(jax.vmap(dsl.energy, in_axes=(None, 0)))
    f_py = jax.jit(jax.vmap(py.energy, in_axes=(None, 0)))
    np.testing.assert_allclose(f_dsl(params, vals), f_py(params, vals), rtol=1e-10, atol=1e-10)


def test_python_init_params_match_dsl():
    for name in ["ring", "gaussian", "rbm", "mlp"]:
        a, b = load_example(name).init_params(3), PY[name]().init_params(3)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------ what a Python declaration guarantees
X = ebm.declare(x=ebm.real)


def _components():
    return [X + ebm.normal("x", 0, 1), X + ebm.normal("x", 1, 1)]


@pytest.mark.parametrize("build, message", [
    (lambda: ebm.mixture([np.inf, 1], _components()), "mixture weights must be finite, got inf"),
    (lambda: ebm.mixture([np.nan, 1], _components()), "mixture weights must be positive, got nan"),
    (lambda: ebm.mixture([-1, 1], _components()), "mixture weights must be positive, got -1"),
    (lambda: ebm.mixture(["w", 1], _components()), "mixture weights must be numbers above 0, got 'w'"),
    (lambda: ebm.mixture([True, 1], _components()), "mixture weights must be numbers above 0, got True"),
    (lambda: ebm.mixture([1, 1], _components(), logz=[0.0, np.inf]), "must be a finite number, got inf"),
    (lambda: (X + ebm.normal("x", 0, 1)) / np.inf, "a temperature must be finite, got inf"),
    (lambda: (X + ebm.normal("x", 0, 1)) / 0, "a temperature must be positive, got 0"),
    (lambda: (ebm.declare(T=ebm.param(ebm.real, init=-1.0)) + X + ebm.normal("x", 0, 1)) / "T",
     "a temperature must be positive, but 'T' is declared real"),
    (lambda: (X + ebm.normal("x", 0, 1)) / "T" + ebm.declare(T=ebm.param(ebm.real, init=1.0)),
     "a temperature must be positive, but 'T' is declared real"),
    (lambda: ebm.declare(s=ebm.param(ebm.real, init=1.0)) + X + ebm.normal("x", 0, "s"),
     "the scale of normal must be positive, but 's' is declared real"),
    # the declaration may come after the density: the sum is checked once it has both
    (lambda: ebm.normal("x", 0, "s") + X + ebm.declare(s=ebm.param(ebm.real, init=1.0)),
     "the scale of normal must be positive, but 's' is declared real"),
    (lambda: ebm.normal("x", 0, np.inf), "the scale of normal must be finite, got inf"),
    (lambda: ebm.normal("x", -np.inf, 1), "the loc of normal must be finite, got -inf"),
    (lambda: ebm.uniform("x", 1, 0), "the low of uniform must be below its high, got 1 and 0"),
    (lambda: ebm.dists.categorical("k", "p") + ebm.declare(k=ebm.categorical(3), p=ebm.param(ebm.positive(3))),
     "the probs of categorical must be a simplex, but 'p' is declared positive[3]"),
    (lambda: ebm.declare(p=ebm.simplex(0)), "a simplex value is a vector of at least 1 entry"),
    (lambda: ebm.declare(p=ebm.ordered), "an ordered value is a vector of at least 1 entry"),
    (lambda: ebm.real(-1), "a size must be a whole number, 0 or more, got -1"),
    (lambda: ebm.real(True), "a size must be an int or the name of an int const, got True"),
    (lambda: ebm.declare(v=ebm.real(0)), "'v' would be empty: a size is 0"),
    (lambda: ebm.declare(w=ebm.param(ebm.real(3, 0))), "'w' would be empty: a size is 0"),
    (lambda: ebm.categorical(0), "the number of categories must be at least 1, got 0"),
    (lambda: ebm.interval(0, np.inf), "the upper bound of interval must be finite, got inf"),
    (lambda: ebm.interval(np.nan, 1), "the lower bound of interval must be finite, got nan"),
    (lambda: ebm.interval(2, 1), "empty interval(2, 1)"),
    (lambda: ebm.mlp(2, [0], 1), "a hidden size must be at least 1, got 0"),
    (lambda: ebm.declare(k=ebm.param(ebm.categorical(3))), "'k': a param is learned by gradients"),
    (lambda: ebm.declare(s=ebm.param(ebm.positive, init_dist=("normal", 0, 1))),
     "the initializer normal draws values outside the domain of 's' (param s : positive)"),
    (lambda: ebm.declare(o=ebm.param(ebm.ordered(3), init_dist=("normal", 0, 1))),
     "the initializer normal draws values outside the domain of 'o'"),
    (lambda: ebm.declare(lp=ebm.real), "'lp' is the name of a sample statistic"),
    (lambda: ebm.declare(draw=ebm.latent(ebm.real)), "'draw' is the name of an axis of the saved draws"),
    (lambda: ebm.let(lambda x: x, name="energy"), "'energy' is the name of a sample statistic"),
    (lambda: ebm.declare(x_dim_0=ebm.const(ebm.real(2))), "has the form of an axis name"),
    (lambda: ebm.declare(N=ebm.const(ebm.integer, 2), W=ebm.real("N", "N"), N_1=ebm.real),
     "'N_1' is the name of an axis of 'W'"),
    (lambda: ebm.declare(x=ebm.real(100000, 100000)), "elements, more than"),
])
def test_python_declarations_get_the_checks_of_ebm_ones(build, message):
    with pytest.raises(ebm.EbmError) as info:
        build()
    assert message in info.value.message


@pytest.mark.parametrize("build", [
    lambda: (ebm.declare(T=ebm.param(ebm.positive, init=1.0)) + X + ebm.normal("x", 0, 1)) / "T",
    lambda: (X + ebm.normal("x", 0, 1)) / np.float32(2.0),
    lambda: ebm.mixture(np.array([0.2, 0.8]), _components()),
    lambda: ebm.declare(s=ebm.param(ebm.positive, init_dist=("gamma", 2, 2))) + X + ebm.normal("x", 0, "s"),
    lambda: ebm.declare(u=ebm.param(ebm.interval(0, 2), init_dist=("uniform", 0.5, 1))),
    lambda: ebm.declare(y=ebm.const(ebm.real(0))),  # empty data is legal
    lambda: ebm.declare(energy=ebm.param(ebm.positive, init=1.0)),  # params are not saved with the draws
    # a Python let is a function nothing can look into: it is taken as it is
    lambda: (ebm.let(lambda s: jnp.exp(s), name="sd", s=ebm.param(ebm.real, init=0.0)) + X
             + ebm.normal("x", 0, "sd")),
])
def test_python_declarations_that_guarantee_what_is_needed_load(build):
    assert isinstance(build(), ebm.Model)


def test_a_one_category_python_categorical_warns():
    with pytest.warns(UserWarning, match="one category"):
        ebm.categorical(1)


def test_every_sample_statistic_is_a_reserved_name():
    """The names refused for vars, latents and lets cover what every sampler writes to sample_stats."""
    from ebmppl.model.check_names import SAMPLE_STATS
    cont = ebm.parse("var x : real\nfactor f = x^2\n")
    mixed = ebm.parse("var x : real\nvar b : binary[2]\nfactor f = x^2 + sum(b) * x\n")
    written = set()
    for model, samplers in ((cont, ("nuts", "hmc", "mala", "rwmh", "ula")), (mixed, ("nuts", "gibbs", "gwg"))):
        for sampler in samplers:
            idata = ebm.sample(model, sampler=sampler, chains=1, draws=5, warmup=5, progress=False)
            written |= set(idata.sample_stats.data_vars)
    assert written <= SAMPLE_STATS, sorted(written - SAMPLE_STATS)
