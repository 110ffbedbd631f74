"""Lowered functions: energies, free energies, potentials, the NumPyro model."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import log_density, potential_energy

import ebmppl as ebm
from ebmppl.errors import EbmError
from tests.conftest import DATA, load_example, random_params, random_values


def brute_free_energy(model, params, visible, latent_values):
    """-log sum_h exp(-E(v, h)) over an explicit list of latent configurations."""
    es = jnp.stack([model.energy(params, {**visible, **h}) for h in latent_values])
    return -jax.scipy.special.logsumexp(-es)


def binary_configs(name, n, values=(0.0, 1.0)):
    return [{name: jnp.array(c)} for c in itertools.product(values, repeat=n)]


# ------------------------------------------------------------------ the RBM
@pytest.fixture(scope="module")
def rbm():
    return load_example("rbm")


def test_rbm_free_energy_is_analytic_and_exact(rbm, x64):
    assert rbm.lowered.free_energy_plan()[0] == "analytic"
    params = random_params(rbm, 0)
    digits = np.loadtxt(DATA / "digits_binarized.csv", delimiter=",", skiprows=1)
    # brute force over all 2^16 h for a few digits, vectorized
    hs = jnp.array(list(itertools.product([0.0, 1.0], repeat=16)))
    e = jax.jit(jax.vmap(lambda v, h: rbm.energy(params, {"v": v, "h": h}), in_axes=(None, 0)))
    fe = jax.jit(lambda v: rbm.free_energy(params, {"v": v}))
    for v in digits[:3]:
        brute = -jax.scipy.special.logsumexp(-e(jnp.asarray(v), hs))
        np.testing.assert_allclose(fe(jnp.asarray(v)), brute, rtol=0, atol=1e-5)


def test_free_energy_vmaps_and_differentiates(rbm):
    params = rbm.init_params(0)
    v = random_values(rbm, 1, n=7)["v"]
    f = jax.vmap(lambda v: rbm.free_energy(params, {"v": v}))(v)
    assert f.shape == (7,)
    g = jax.grad(lambda p: rbm.free_energy(p, {"v": v[0]}))(params)
    assert g["W"].shape == (64, 16) and bool(jnp.all(jnp.isfinite(g["W"])))


# ------------------------------------------- other latent structures
def test_spin_latents_are_analytic(x64):
    m = ebm.parse("var v : real[3]\nlatent s : spin[5]\nparam W : real[3, 5] ~ normal(0, 1)\n"
                  "factor e = -(v @ W @ s) + 0.5 * sum(v^2)")
    assert m.lowered.free_energy_plan()[0] == "analytic"
    p = m.init_params(0)
    v = {"v": jnp.array([0.3, -1.0, 2.0])}
    brute = brute_free_energy(m, p, v, binary_configs("s", 5, (-1.0, 1.0)))
    np.testing.assert_allclose(m.free_energy(p, v), brute, atol=1e-10)


def test_pairwise_latents_are_enumerated(x64):
    # h_i h_{i+1} couplings make the energy quadratic in h: no closed form
    m = ebm.parse("var v : binary[4]\nlatent h : binary[6]\nparam W : real[4, 6] ~ normal(0, 1)\n"
                  "factor e = -(v @ W @ h) - 0.7 * sum(h * roll(h, 1))")
    method, why = m.lowered.free_energy_plan()
    assert method == "enumerate" and "64" in why
    p = m.init_params(0)
    v = {"v": jnp.array([1.0, 0.0, 1.0, 1.0])}
    np.testing.assert_allclose(m.free_energy(p, v), brute_free_energy(m, p, v, binary_configs("h", 6)), atol=1e-10)


def test_categorical_latent_is_enumerated(x64):
    m = ebm.parse("var x : real\nlatent z : categorical(3)\nconst mu : real[3] = [-2.0, 0.0, 3.0]\n"
                  "factor e = 0.5 * (x - mu[z])^2")
    assert m.lowered.free_energy_plan()[0] == "enumerate"
    x = {"x": jnp.array(0.4)}
    brute = brute_free_energy(m, {}, x, [{"z": jnp.array(k)} for k in range(3)])
    np.testing.assert_allclose(m.free_energy({}, x), brute, atol=1e-12)


def test_too_many_latent_states_is_a_clear_error():
    m = ebm.parse("var v : binary[4]\nlatent h : binary[40]\nfactor e = -sum(v) * sum(h * roll(h, 1))")
    method, why = m.lowered.free_energy_plan()
    assert method == "error" and "2^40" in why and "sample" in why
    with pytest.raises(EbmError, match="2\\^40"):
        m.free_energy({}, {"v": jnp.ones(4)})


def test_continuous_latent_cannot_be_summed_out():
    m = ebm.parse("var x : real\nlatent z : real\nfactor e = (x - z)^2 + z^2")
    with pytest.raises(EbmError, match="continuous"):
        m.free_energy({}, {"x": jnp.array(0.0)})


# ----------------------------------------------------------- composition
def test_mixture_is_exact(x64):
    m = load_example("mixture")
    x = jnp.linspace(-5, 5, 11)
    e = jax.vmap(lambda x: m.energy({}, {"x": x}))(x)
    want = -jnp.log(0.3 * jnp.exp(dist.Normal(-2, 0.7).log_prob(x)) + 0.7 * jnp.exp(dist.Normal(1.5, 1).log_prob(x)))
    np.testing.assert_allclose(e, want, rtol=1e-12)
    # and it integrates to one
    grid = jnp.linspace(-12, 12, 20001)
    z = jnp.trapezoid(jnp.exp(-jax.vmap(lambda x: m.energy({}, {"x": x}))(grid)), grid)
    np.testing.assert_allclose(z, 1.0, atol=1e-8)


def test_mixture_weights_are_normalized(x64):
    a = ebm.parse("var x : real\nfactor a : x ~ normal(0, 1)\nfactor b : x ~ normal(3, 1)\n"
                  "model = mixture(3: a, 7: b)")
    b = ebm.parse("var x : real\nfactor a : x ~ normal(0, 1)\nfactor b : x ~ normal(3, 1)\n"
                  "model = mixture(0.3: a, 0.7: b)")
    np.testing.assert_allclose(a.energy({}, {"x": 1.2}), b.energy({}, {"x": 1.2}), rtol=1e-12)


def test_python_mixture_with_logz(x64):
    x = ebm.declare(x=ebm.real)

    @ebm.factor
    def bump(x):
        return 0.5 * (x - 1.0) ** 2  # unnormalized: log Z = log sqrt(2 pi)

    with pytest.raises(EbmError, match="log Z"):
        ebm.mixture([0.5, 0.5], [x + bump, x + ebm.normal("x", -1, 1)])
    m = ebm.mixture([0.5, 0.5], [x + bump, x + ebm.normal("x", -1, 1)], logz=[0.5 * np.log(2 * np.pi), 0.0])
    want = -jnp.log(0.5 * jnp.exp(dist.Normal(1, 1).log_prob(0.2)) + 0.5 * jnp.exp(dist.Normal(-1, 1).log_prob(0.2)))
    np.testing.assert_allclose(m.energy({}, {"x": 0.2}), want, rtol=1e-12)


def test_temperature_divides_the_energy(x64):
    m = load_example("ising")
    s = random_values(m, 0)
    base = ebm.parse("const L : int = 4\nvar s : spin[L, L]\n"
                     "factor lattice = -sum(s * roll(s, 1, axis=0) + s * roll(s, 1, axis=1))")
    np.testing.assert_allclose(m.energy({}, s), base.energy({}, s) / 2.0)
    np.testing.assert_allclose((base / 4.0).energy({}, s), base.energy({}, s) / 4.0)
    # consts may be rebound: the temperature comes from the data
    np.testing.assert_allclose(m.bind({"T": 3.0}).energy({}, s), base.energy({}, s) / 3.0)


def test_ising_energy_of_ground_state():
    m = load_example("ising")
    assert float(m.energy({}, {"s": jnp.ones((4, 4))})) == -32.0 / 2.0


def test_product_of_models_adds_energies(x64):
    a = ebm.parse("var x : real[2]\nfactor a = sum(x^2)")
    b = ebm.parse("var x : real[2]\nfactor b = sum(abs(x))")
    x = {"x": jnp.array([0.5, -2.0])}
    np.testing.assert_allclose((a + b).energy({}, x), a.energy({}, x) + b.energy({}, x))


def test_condition_fixes_a_variable(x64):
    m = ebm.parse("var x : real\nvar y : real\nfactor e = (x - y)^2 + y^2")
    c = m.condition(y=1.5)
    assert [s.name for s in c.vars] == ["x"] and c.spec("y").conditioned
    np.testing.assert_allclose(c.energy({}, {"x": 0.5}), m.energy({}, {"x": 0.5, "y": 1.5}))
    with pytest.raises(EbmError, match="param"):
        ebm.parse("var x : real\nparam a : real\nfactor e = (x - a)^2").condition(a=1.0)


# ------------------------------------------------ score and potential
def test_score_is_gradient_of_log_density(x64):
    m = load_example("ring")
    p = m.init_params(0)
    x = {"x": jnp.array([0.3, -0.8])}
    g = m.score(p, x)["x"]
    r = jnp.linalg.norm(x["x"])
    want = -(8.0 * 2 * (r - 1.0) * x["x"] / r + x["x"] / 9.0)
    np.testing.assert_allclose(g, want, rtol=1e-10)


def test_potential_matches_numpyro_on_constrained_domains(x64):
    m = ebm.parse("""
var a : positive
var u : unit
var w : interval(-1, 2)
var o : ordered[3]
var s : simplex[4]
a ~ gamma(2, 1)
u ~ beta(2, 3)
factor e = (w - 0.5)^2 + sum((o - 1)^2) - sum(log(s)) * 0.5
""")
    model_fn = m.numpyro_model()
    for seed in range(3):
        vals = random_values(m, seed)
        u = m.lowered.to_unconstrained(vals)
        mine = m.potential({}, u)
        theirs = potential_energy(model_fn, (), {}, u)
        np.testing.assert_allclose(mine, theirs, rtol=1e-10)
        back = m.lowered.to_constrained(u)
        for k in vals:
            np.testing.assert_allclose(back[k], vals[k], rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------- eight schools
def hand_eight_schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0, 1).expand([J]).to_event(1))
    theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
    numpyro.sample("y", dist.Normal(theta, sigma).to_event(1), obs=y)


@pytest.fixture(scope="module")
def eight():
    import json
    data = json.loads((DATA / "eight_schools.json").read_text())
    return load_example("eight_schools"), data


def test_eight_schools_log_density_matches_numpyro(eight, x64):
    model, data = eight
    args = (data["J"], jnp.array(data["sigma"], dtype=float), jnp.array(data["y"], dtype=float))
    diffs, pdiffs = [], []
    for seed in range(5):
        v = random_values(model, seed)
        mine = model.log_density({}, v)
        theirs, _ = log_density(hand_eight_schools, args, {}, v)
        diffs.append(float(mine - theirs))
        u = model.lowered.to_unconstrained(v)
        pdiffs.append(float(model.potential({}, u) - potential_energy(hand_eight_schools, args, {}, u)))
    # equal up to a constant (our tau ~ cauchy on a positive var is a half-Cauchy without its log 2)
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-10)
    np.testing.assert_allclose(diffs[0], -np.log(2.0), atol=1e-10)
    np.testing.assert_allclose(pdiffs, pdiffs[0], atol=1e-10)


def test_nuts_runs_on_the_lowered_model(eight):
    model, data = eight
    mcmc = MCMC(NUTS(model.numpyro_model()), num_warmup=300, num_samples=300, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0))
    s = mcmc.get_samples()
    assert s["mu"].shape == (300,) and s["theta_tilde"].shape == (300, 8) and s["theta"].shape == (300, 8)
    np.testing.assert_allclose(s["theta"], s["mu"][:, None] + s["tau"][:, None] * s["theta_tilde"], rtol=1e-5, atol=1e-5)
    assert bool(jnp.all(s["tau"] > 0))
    # the posterior of mu (mean about 4.4, sd about 3.3): a loose sanity window for 300 draws
    assert -2.0 < float(s["mu"].mean()) < 10.0
    assert int(mcmc.get_extra_fields()["diverging"].sum()) < 30


def test_lets_are_deterministic(eight):
    model, _ = eight
    v = random_values(model, 3)
    d = model.deterministics({}, v)
    np.testing.assert_allclose(d["theta"], v["mu"] + v["tau"] * v["theta_tilde"], rtol=1e-6)


def test_the_compiler_rejects_a_node_it_has_no_rule_for():
    from ebmppl.dsl import ast as A
    low = ebm.parse("var x : real\nfactor f = x^2").lowered
    with pytest.raises(TypeError, match="no rule for a KwArg node"):
        low.compiler.compile(A.KwArg(None, "a", A.Num(None, 1, True)))


def test_discrete_states_come_from_the_domain_table():
    m = ebm.parse("var s : spin[2]\nvar b : binary\nvar c : categorical(3)\nfactor f = sum(s) + b + c")
    tr = numpyro.handlers.trace(numpyro.handlers.seed(m.numpyro_model(), 0)).get_trace()

    def states(site):
        d = tr[site]["fn"]
        while hasattr(d, "base_dist"):
            d = d.base_dist
        return d.enumerate_support(expand=False).tolist()
    assert (states("s"), states("b"), states("c")) == ([-1.0, 1.0], [0.0, 1.0], [0, 1, 2])


def test_unbound_consts_get_placeholders_inside_their_domains():
    from ebmppl.model.lower import lower
    m = ebm.parse("const N : int\nconst z : positive[N]\nconst s : spin[N]\nconst w : real[N] = z * s\n"
                  "var x : real[N]\nfactor f = sum(w * x^2)")
    low = lower(m, placeholders=True)
    assert low.shapes["x"] == (1009,)
    assert float(low.const_env["z"].min()) > 0 and set(np.unique(low.const_env["s"])) == {1.0}


# ------------------------------------------------ values known when the model is lowered
X = "var x : real\n"


def _refused(src, kind, match):
    with pytest.raises(EbmError, match=match) as e:
        ebm.parse(src)
    assert e.value.kind == kind, e.value.render()
    return e.value


@pytest.mark.parametrize("src, match", [
    ("const b : binary = 3", r"default of 'b' must be 0 or 1 \(binary\), got 3"),
    ("const s : positive = 0 - 1", r"default of 's' must be a number above 0 \(positive\), got -1"),
    ("const p : simplex[3] = [0.5, 0.5, 0.5]", r"default of 'p' .* sum to 1 \(simplex\), got \[0.5, 0.5, 0.5\]"),
    ("const u : unit = 1", r"strictly between 0 and 1 \(unit\), got 1"),
    ("const lo : real = 0\nconst a : interval(lo, 1) = 1", r"default of 'a' .*interval\(0.0, 1.0\)"),
    ("const k : categorical(3)[2] = [0, 3]", r"default of 'k' .*element \[1\] is 3"),
    ("const a : real = exp(1000)", r"exp\(1000\) evaluates to inf in float32"),
    ("const a : real = 1e39", r"1e39 is not finite in float32"),
    ("param u : unit = 1", r"initial value of 'u' must be a number strictly between 0 and 1 \(unit\), got 1"),
    ("param u : interval(0, 1) = 1", r"initial value of 'u' .*strictly inside"),
    ("param p : simplex[3] = [0.5, 0.5, 0]", r"initial value of 'p' .*every entry above 0"),
    ("param o : ordered[3] = 0", r"initial value of 'o' must be an increasing vector"),
    ("param a : real ~ normal(0, 0 - 1)", r"the scale of normal must be positive, got -1"),
])
def test_static_values_outside_their_domain_are_refused_at_their_source(src, match):
    err = _refused(src + "\n" + X + "factor f = x^2\n", "semantic", match)
    assert err.span is not None and err.span.line <= src.count("\n") + 1


@pytest.mark.parametrize("dist, match", [
    ("p ~ dirichlet([1, -1, 1])", r"concentration of dirichlet must be positive; element \[1\] is -1"),
    ("k ~ categorical([0.5, 0.2, 0.2])", r"probs of categorical must be a simplex"),
    ("y ~ multi_normal([0, 0], [[1, 2], [2, 1]])", r"cov of multi_normal must be a covariance matrix"),
    ("y ~ multi_normal_cholesky([0, 0], [[-1, 0], [0, 1]])", r"L of multi_normal_cholesky must be a Cholesky"),
    ("u ~ uniform(a, 1)", r"bounds of uniform are empty: low 3 is not below high 1"),
    ("x ~ normal(inf - inf, 1)", r"loc of normal must be a finite number, got nan"),
    ("factor g = -sum(normal_lpdf(y[i] | 0, i - 1) for i in range(2))", r"scale of normal .*got -1 \(where i = 0\)"),
])
def test_static_distribution_arguments_are_checked(dist, match):
    decls = "const a : real = 3\nvar p : simplex[3]\nvar k : categorical(3)\nvar y : real[2]\nvar u : interval(0, 1)\n"
    _refused(decls + X + dist + "\n", "semantic", match)


@pytest.mark.parametrize("body, match", [
    ("sum([x[i] for i in range(5)])", r"index i takes values from 0 to 4, out of range for axis 0 of size 3"),
    ("sum([x[i + 1] for i in range(3)])", r"index i \+ 1 takes values from 1 to 3"),
    ("x[k]^2", r"index k takes values from 0 to 4"),
    ("sum(x[g])", r"index g takes values from 0 to 5"),
    ("sum([[x[i + j] for j in range(2)] for i in range(3)])", r"from 0 to 3"),
    ("sum(W[1, [0, 3]])", None),  # a list index is not analysed: left to JAX
    ("sum([x[i + 1] if i < 3 else 0 for i in range(3)])", r"index i \+ 1 takes values from 1 to 3"),
    ("sum([x[i + 1] if x[0] > 0 else 0 for i in range(3)])", r"index i \+ 1 takes values from 1 to 3"),
])
def test_index_ranges_are_checked_against_the_axis(body, match):
    src = "var x : real[3]\nvar W : real[2, 4]\nvar k : categorical(5)\nconst g : int[2] = [0, 5]\nfactor f = " + body
    if match is None:
        ebm.parse(src)
        return
    _refused(src, "shape", match)


@pytest.mark.parametrize("body", ["sum([x[i] * x[i - 1] for i in range(1, 3)])", "sum([x[(i + 1) % 3] for i in range(3)])",
                                  "x[k]^2", "x[-3]", "sum([x[2 - i] for i in range(3)])",
                                  # both branches are computed, the condition keeps the one in range
                                  "sum([x[i + 1] if i < 2 else 0 for i in range(3)])", "x[k + 1] if k < 2 else x[0]",
                                  "sum([where(i + 1 < 3, x[i + 1], 0) for i in range(3)])",
                                  "sum([x[clip(i + 1, 0, 2)] for i in range(3)])"])
def test_index_ranges_inside_the_axis_load(body):
    ebm.parse("var x : real[3]\nvar k : categorical(3)\nfactor f = " + body)


@pytest.mark.parametrize("src, kind, match", [
    ("const n : int = 4 / 0\nvar y : real[n]", "semantic", r"division by zero in 4 / 0"),
    ("const n : int = 3\nvar y : real[n % 0]", "semantic", r"modulo by zero in n % 0"),
    ("var y : real[3]\nfactor g = sum([y[i] for i in range(0, 3, 0)])", "semantic", r"range\(0, 3, 0\) has step 0"),
    ("var y : real[3]\nfactor g = sum(y * arange(0, 3, 0))", "semantic", r"arange\(0, 3, 0\) cannot be computed"),
    ("const n : int = 100000 * 100000\nvar y : real[n]", "limit", r"100000 \* 100000 is 10,000,000,000, beyond the int32"),
    ("const n : int = 2 ^ 40", "limit", r"2 \^ 40 is 1,099,511,627,776"),
    ("const n : int = 100000\nvar y : real[n, n]", "limit", r"var 'y' .* would need 37.3 GiB .* more than the 2 GiB"),
    ("factor g = sum(i * 1.0 for i in range(0, 2000000000))", "limit", r"range\(0, 2000000000\) would need 7.45 GiB"),
    ("var y : real[2]\nparam h : mlp(2, [100000, 100000], 1)", "limit", r"weight matrix of the mlp 'h' \(100000 x 100000\)"),
    ("factor g = sum(zeros(100000, 100000))", "limit", r"zeros\(100000, 100000\) would need"),
    ("var y : real[100000]\nfactor g = sum(outer(y, y))", "limit", r"outer\(y, y\) would need"),
    ("var k : categorical(1000000000)", "limit", r"states of categorical\(1000000000\)"),
    ("const n : int = 1 - 1\nvar p : simplex[n]", "semantic", r"'p' would be empty: simplex\[n\] = \[0\]"),
])
def test_static_arithmetic_and_sizes_never_escape_as_python_errors(src, kind, match):
    _refused(src + "\n" + X + "factor f = x^2\n", kind, match)


def test_legal_static_values_load(x64):
    m = ebm.parse(X + "const a : real = 1e39\nconst n : int = 3000000000\nparam w : interval(0, 2) = 1\n"
                  "factor f = (x - 3000000000) ^ 2 * a / n * w\n")  # float64: both fit
    assert m.lowered.const_env["n"] == 3000000000
    m = ebm.parse(X + "var k : categorical(3)\nfactor f = x^2 - normal_lpdf(x | 0, 1) + k\n"
                  "k ~ categorical([1, 0, 0])\n")  # a probability of 0 is a legal categorical
    assert m.lowered is not None


def test_unbound_consts_are_not_checked_as_values_and_nothing_large_is_allocated():
    from ebmppl.model.lower import lower
    src = ("const N : int\nconst K : int\nconst s : positive = N - 1500\nvar x : real[N, N, N]\nvar k : categorical(K)\n"
           "var y : real[3]\nfactor f = sum(x^2) * s + y[k]^2 + sum([y[i] for i in range(N)])")
    low = lower(ebm.parse(src), placeholders=True)  # 1009^3 floats would be 4 GB: only shapes are traced
    assert low.shapes["x"] == (1009, 1009, 1009)
    with pytest.raises(EbmError, match=r"var 'x' \(real\[N, N, N\] = \[1600, 1600, 1600\], with N = 1600 in data\) would need 15.3 GiB"):
        ebm.parse(src, data={"N": 1600, "K": 5})
    with pytest.raises(EbmError, match="index k takes values from 0 to 4"):
        ebm.parse(src.replace("N, N, N", "N"), data={"N": 1600, "K": 5})
