"""Statistical tests of every sampler on targets with exact answers.

Each check compares a Monte Carlo estimate with the exact value within
``Z = 4`` Monte Carlo standard errors. The MCSE of a mean is ArviZ's
(sd / sqrt(ESS), with ESS over all chains), reached through
:mod:`ebmppl.diagnostics`; for a second moment it is the MCSE of the mean of
the per-draw product, centred at the exact mean. Seeds are fixed, so a
failure is reproducible. Each check also requires an ESS of at least
``MIN_ESS``, so that a stuck chain (whose MCSE is huge) cannot pass by
accident.

Runs are shared between assertions through module-scoped caches: one run per
(target, sampler) serves all the quantities checked on it.

Targets:

* ``gauss``: u ~ N(1, 2^2) and an independent 5-D correlated Gaussian
  x ~ multi_normal(mu, Sigma) — nuts, hmc, mala, rwmh.
* ULA on N(0, 1): its exact stationary variance 1 / (1 - eps / 2), not 1.
* a 1-D double well E(x) = 2 (x^2 - 1)^2 — nuts, mala, rwmh; exact moments by quadrature.
* the 4 x 4 periodic Ising model (examples/ising.ebm) — gibbs, gwg; exact by enumeration.
* a 6 x 3 binary RBM at fixed random params — gibbs, gwg; exact by enumeration.
* a mixed binary/real model — nuts (NumPyro HMCGibbs) and mala (+ Gibbs).
* eight schools through the CLI (nuts) against a hand-written NumPyro model.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl
from ebmppl import diagnostics
from tests.conftest import DATA, EXAMPLES

Z = 4.0  # tolerance in Monte Carlo standard errors
MIN_ESS = 100.0


# ------------------------------------------------------------------ helpers
def _f64(draws) -> np.ndarray:
    a = np.asarray(draws, dtype=np.float64)
    assert a.ndim == 2, f"expected (chains, draws), got shape {a.shape}"
    return a


def mcse(draws) -> float:
    """ArviZ's MCSE of the mean of ``draws`` (chains, draws), via ebmppl.diagnostics."""
    return float(diagnostics.mcse(_f64(draws)))


def ess(draws) -> float:
    return float(diagnostics.ess(_f64(draws)))


def compare(label: str, draws, exact: float, z: float = Z):
    """(ok, estimate, mcse, message) for the mean of per-draw values ``draws`` (chains, draws) against
    ``exact``: ok when within z MCSE, with an ESS of at least MIN_ESS and finite draws. The comparison
    is printed (see ``pytest -s``)."""
    a = _f64(draws)
    est, se, n_eff = float(a.mean()), mcse(a), ess(a)
    dev = (est - exact) / se if se > 0 else np.inf
    msg = f"{label}: {est:.5f} vs exact {exact:.5f} (mcse {se:.5f}, ess {n_eff:.0f}, {dev:+.2f} mcse)"
    print(msg)
    ok = bool(np.isfinite(a).all()) and n_eff >= MIN_ESS and abs(est - exact) <= z * se
    return ok, est, se, msg


def check_means(rows, z: float = Z):
    """Assert ``compare`` for every (label, draws, exact) row; report all failures at once."""
    results = [compare(label, draws, exact, z) for label, draws, exact in rows]
    bad = [r[3] for r in results if not r[0]]
    assert not bad, f"{len(bad)} of {len(rows)} estimates off by more than {z} MCSE or with ESS < {MIN_ESS:.0f}:\n" \
        + "\n".join(bad)
    return [(r[1], r[2]) for r in results]


def check_mean(label: str, draws, exact: float, z: float = Z):
    return check_means([(label, draws, exact)], z)[0]


def draws_of(idata, name) -> np.ndarray:
    return np.asarray(idata.posterior[name].values, dtype=np.float64)


def run(model, sampler, key, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ebmppl.sample(model, sampler=sampler, key=key, progress=False, verbose=False, **kw)


class RunCache:
    """Memoized runs keyed by (target, sampler, ...): one compile and one run per key; a run that
    raised raises again without being rerun."""

    def __init__(self, make):
        self.make = make
        self.runs = {}

    def __call__(self, *key):
        if key not in self.runs:
            try:
                self.runs[key] = self.make(*key)
            except Exception as e:  # noqa: BLE001 - re-raised for every test that uses the run
                self.runs[key] = e
        out = self.runs[key]
        if isinstance(out, Exception):
            raise out
        return out


# -------------------------------------------------------- Gaussian targets
U_MEAN, U_SD = 1.0, 1.5
MU5 = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
SIGMA5 = np.array([[1.0, 0.6, 0.3, 0.0, 0.2],
                   [0.6, 2.0, 0.5, 0.4, 0.0],
                   [0.3, 0.5, 1.5, -0.6, 0.3],
                   [0.0, 0.4, -0.6, 1.0, 0.1],
                   [0.2, 0.0, 0.3, 0.1, 0.5]])
GAUSS_SRC = f"""
const mu    : real[5]    = {MU5.tolist()}
const Sigma : real[5, 5] = {SIGMA5.tolist()}
var u : real
var x : real[5]
u ~ normal({U_MEAN}, {U_SD})
x ~ multi_normal(mu, Sigma)
"""

# Layout and knobs per sampler. NUTS's cost is compile time, and it mixes well; MALA and the random
# walk are cheap per draw and mix more slowly, so they get more draws.
# HMC is NumPyro's, with a fixed trajectory length 2*pi (no jitter): along a direction whose
# preconditioned sd is 1 each trajectory is a whole period and the chain barely moves, and at half
# a period the second moments never change. A diagonal mass matrix adapted to this target makes u's
# sd exactly 1 and leaves the correlation matrix of x, with an eigenvalue 0.98 (seen: ESS 23 of
# 16000 for Cov[x1, x4]). So HMC runs with a unit mass matrix, on a target whose frequencies 1/sd
# (u: 0.67; x: 0.62 0.74 1.13 1.27 2.60 periods a trajectory) are away from multiples of 1/2.
LAYOUT = {
    "nuts": dict(chains=4, draws=2000, warmup=1000),
    "hmc": dict(chains=4, draws=2000, warmup=1000, adapt_mass=False),
    "mala": dict(chains=4, draws=4000, warmup=1000),
    "rwmh": dict(chains=4, draws=8000, warmup=2000),
}
SEEDS = {"nuts": 0, "hmc": 1, "mala": 2, "rwmh": 3, "ula": 4, "gibbs": 5, "gwg": 6}


def test_gaussian_target():
    lam = np.linalg.eigvalsh(SIGMA5)
    assert np.all(lam > 0.1)
    freq = np.append(1.0 / np.sqrt(lam), 1.0 / U_SD)  # in periods per HMC trajectory
    assert np.all(np.abs(2 * freq - np.round(2 * freq)) > 0.2), freq


@pytest.fixture(scope="module")
def gauss_runs():
    model = ebmppl.parse(GAUSS_SRC)
    return RunCache(lambda sampler: run(model, sampler, SEEDS[sampler], **LAYOUT[sampler]))


@pytest.mark.parametrize("moment", ["mean", "var"])
@pytest.mark.parametrize("sampler", ["nuts", "hmc", "mala", "rwmh"])
def test_gaussian_1d(gauss_runs, sampler, moment):
    u = draws_of(gauss_runs(sampler), "u")
    if moment == "mean":
        check_mean(f"{sampler} E[u]", u, U_MEAN)
    else:  # the second central moment about the exact mean
        check_mean(f"{sampler} Var[u]", (u - U_MEAN) ** 2, U_SD ** 2)


@pytest.mark.parametrize("moment", ["mean", "cov"])
@pytest.mark.parametrize("sampler", ["nuts", "hmc", "mala", "rwmh"])
def test_gaussian_5d(gauss_runs, sampler, moment):
    x = draws_of(gauss_runs(sampler), "x")
    assert x.shape[2:] == (5,)
    if moment == "mean":
        check_means([(f"{sampler} E[x{i}]", x[..., i], MU5[i]) for i in range(5)])
    else:  # every covariance entry, as the mean of the product moment about the exact mean
        d = x - MU5
        check_means([(f"{sampler} Cov[x{i}, x{j}]", d[..., i] * d[..., j], SIGMA5[i, j])
                     for i in range(5) for j in range(i, 5)])


# ------------------------------------------------------------------- ULA
ULA_SRC = "var x : real\nx ~ normal(0, 1)\n"


@pytest.mark.parametrize("step", [0.2, 0.5])
def test_ula_stationary_variance(step):
    """On N(0, s^2) with a fixed step eps, ULA is a Gaussian AR(1) chain
    x' = (1 - eps/s^2) x + sqrt(2 eps) xi, whose stationary variance is s^2 / (1 - eps / (2 s^2))."""
    sigma2 = 1.0
    exact = sigma2 / (1.0 - step / (2.0 * sigma2))
    idata = run(ebmppl.parse(ULA_SRC), "ula", SEEDS["ula"], chains=8, draws=8000, warmup=500, step_size=step)
    assert "ULA is unadjusted" in idata.posterior.attrs.get("note", "")
    x = draws_of(idata, "x")
    check_mean(f"ula(eps={step}) E[x]", x, 0.0)
    est, se = check_mean(f"ula(eps={step}) E[x^2]", x ** 2, exact)
    assert abs(est - sigma2) > Z * se, \
        f"ULA's bias is not visible: E[x^2] = {est:.4f} is within {Z} MCSE ({se:.4f}) of the target's {sigma2}"


# ------------------------------------------------------------ double well
WELL_SRC = "var x : real\nfactor well = (x^2 - 1)^2 * 2\n"


def well_moments():
    """E[x^2] and E[x^4] under p(x) ∝ exp(-2 (x^2 - 1)^2), by the trapezoid rule on a fine grid."""
    grid = np.linspace(-4.0, 4.0, 400_001)
    w = np.exp(-2.0 * (grid ** 2 - 1.0) ** 2)
    zn = np.trapezoid(w, grid)
    return {k: float(np.trapezoid(w * grid ** k, grid) / zn) for k in (1, 2, 4)}


def test_well_quadrature_converged():
    coarse = np.linspace(-4.0, 4.0, 40_001)
    w = np.exp(-2.0 * (coarse ** 2 - 1.0) ** 2)
    fine = well_moments()
    assert abs(np.trapezoid(w * coarse ** 2, coarse) / np.trapezoid(w, coarse) - fine[2]) < 1e-8
    assert abs(fine[1]) < 1e-12


@pytest.fixture(scope="module")
def well_runs():
    model = ebmppl.parse(WELL_SRC)
    return RunCache(lambda sampler: run(model, sampler, SEEDS[sampler], **LAYOUT[sampler]))


@pytest.mark.parametrize("power", [2, 4])
@pytest.mark.parametrize("sampler", ["nuts", "mala", "rwmh"])
def test_double_well(well_runs, sampler, power):
    x = draws_of(well_runs(sampler), "x")
    # both wells are visited by every chain (the barrier, 2 nats, is crossable)
    assert ((x < -0.5).mean(axis=1) > 0.2).all() and ((x > 0.5).mean(axis=1) > 0.2).all()
    check_mean(f"{sampler} E[x^{power}]", x ** power, well_moments()[power])


# ------------------------------------------------------------------ Ising
ISING_EXACT = {  # T: (energy per site, <|m|>) for the 4 x 4 periodic lattice, J = 1
    2.0: (-1.755380, 0.918943),
    2.269185: (-1.565624, 0.843861),
    3.0: (-1.017070, 0.601291),
}
ISING_LAYOUT = dict(chains=4, draws=4000, warmup=500)


def ising_enumerate(T: float, L: int = 4):
    n = L * L
    idx = np.arange(2 ** n)
    s = (((idx[:, None] >> np.arange(n)) & 1) * 2 - 1).reshape(-1, L, L).astype(np.float64)
    bonds = (s * np.roll(s, 1, 1) + s * np.roll(s, 1, 2)).sum((1, 2))
    logw = bonds / T
    w = np.exp(logw - logw.max())
    w /= w.sum()
    return float(w @ (-bonds / n)), float(w @ np.abs(s.mean((1, 2))))


@pytest.mark.parametrize("T", sorted(ISING_EXACT))
def test_ising_exact_values(T):
    e, m = ising_enumerate(T)
    assert e == pytest.approx(ISING_EXACT[T][0], abs=1e-6)
    assert m == pytest.approx(ISING_EXACT[T][1], abs=1e-6)


@pytest.fixture(scope="module")
def ising_runs():
    def make(sampler, T):
        model = ebmppl.load(EXAMPLES / "ising.ebm", data={"T": T})
        return run(model, sampler, SEEDS[sampler], **ISING_LAYOUT)
    return RunCache(make)


def _ising(ising_runs, sampler, T):
    s = draws_of(ising_runs(sampler, T), "s")
    assert s.shape[2:] == (4, 4) and set(np.unique(s)) <= {-1.0, 1.0}
    energy = -(s * np.roll(s, 1, axis=2) + s * np.roll(s, 1, axis=3)).sum((2, 3)) / 16.0
    check_means([(f"{sampler} T={T} energy/site", energy, ISING_EXACT[T][0]),
                 (f"{sampler} T={T} <|m|>", np.abs(s.mean((2, 3))), ISING_EXACT[T][1])])


@pytest.mark.parametrize("T", [2.269185])
@pytest.mark.parametrize("sampler", ["gibbs", "gwg"])
def test_ising(ising_runs, sampler, T):
    _ising(ising_runs, sampler, T)


@pytest.mark.slow
@pytest.mark.parametrize("T", [2.0, 3.0])
@pytest.mark.parametrize("sampler", ["gibbs", "gwg"])
def test_ising_other_temperatures(ising_runs, sampler, T):
    _ising(ising_runs, sampler, T)


# -------------------------------------------------------------------- RBM
RBM_SRC = """
var    v : binary[6]
latent h : binary[3]
param  W : real[6, 3] = 0
param  b : real[6] = 0
param  c : real[3] = 0
factor rbm = -(v @ W @ h) - b @ v - c @ h
"""


def rbm_params():
    rng = np.random.default_rng(20240607)
    return {"W": rng.normal(0.0, 1.0, (6, 3)), "b": rng.normal(0.0, 0.5, 6), "c": rng.normal(0.0, 0.5, 3)}


def rbm_exact(p):
    """P(v_i = 1) and P(h_j = 1) by enumerating all 2^9 (v, h)."""
    idx = np.arange(2 ** 9)
    bits = ((idx[:, None] >> np.arange(9)) & 1).astype(np.float64)
    v, h = bits[:, :6], bits[:, 6:]
    logw = np.einsum("ni,ij,nj->n", v, p["W"], h) + v @ p["b"] + h @ p["c"]
    w = np.exp(logw - logw.max())
    w /= w.sum()
    return w @ v, w @ h


@pytest.fixture(scope="module")
def rbm_runs():
    model = ebmppl.parse(RBM_SRC)
    params = {k: jnp.asarray(v, jnp.float32) for k, v in rbm_params().items()}
    return RunCache(lambda sampler: run(model, sampler, SEEDS[sampler], params=params, chains=4, draws=4000,
                                        warmup=500))


@pytest.mark.parametrize("layer", ["v", "h"])
@pytest.mark.parametrize("sampler", ["gibbs", "gwg"])
def test_rbm_marginals(rbm_runs, sampler, layer):
    idata = rbm_runs(sampler)
    exact = dict(zip(("v", "h"), rbm_exact(rbm_params())))[layer]
    a = draws_of(idata, layer)
    assert a.shape[2:] == exact.shape and set(np.unique(a)) <= {0.0, 1.0}
    check_means([(f"{sampler} P({layer}{i}=1)", a[..., i], p) for i, p in enumerate(exact)])


# ----------------------------------------------------------------- mixed
MIXED_SRC = """
var b : binary
var x : real
b ~ bernoulli(0.3)
factor e = 0.5 * (x - 3 * b)^2
"""
# p(b, x) ∝ 0.3^b 0.7^(1-b) N(x | 3b, 1): P(b = 1) = 0.3, E[x] = 0.9, Var[x] = 1 + 9 * 0.3 * 0.7.
MIXED_EXACT = {"P(b=1)": 0.3, "E[x]": 0.9, "Var[x]": 1.0 + 9 * 0.21}


@pytest.fixture(scope="module")
def mixed_runs():
    model = ebmppl.parse(MIXED_SRC)
    return RunCache(lambda sampler, discrete: run(model, sampler, SEEDS[sampler], discrete=discrete, chains=4,
                                                  draws=4000, warmup=1000))


def _mixed(mixed_runs, sampler, discrete, quantity):
    idata = mixed_runs(sampler, discrete)
    b, x = draws_of(idata, "b"), draws_of(idata, "x")
    assert set(np.unique(b)) <= {0.0, 1.0}
    per_draw = {"P(b=1)": b, "E[x]": x, "Var[x]": (x - MIXED_EXACT["E[x]"]) ** 2}[quantity]
    check_mean(f"{sampler}+{discrete} {quantity}", per_draw, MIXED_EXACT[quantity])


@pytest.mark.parametrize("quantity", sorted(MIXED_EXACT))
@pytest.mark.parametrize("sampler", ["nuts", "mala"])
def test_mixed(mixed_runs, sampler, quantity):
    """nuts: NumPyro's HMCGibbs with ebmppl's Gibbs sweep; mala: MALA alternating with the Gibbs sweep."""
    _mixed(mixed_runs, sampler, "gibbs", quantity)


@pytest.mark.slow
@pytest.mark.parametrize("quantity", sorted(MIXED_EXACT))
@pytest.mark.parametrize("sampler,discrete", [("mala", "gwg"), ("rwmh", "gibbs"), ("gibbs", "gibbs"),
                                              ("gwg", "gwg")])
def test_mixed_other_moves(mixed_runs, sampler, discrete, quantity):
    """The other continuous/discrete pairings (sampler gibbs or gwg on a mixed model moves x by MALA)."""
    _mixed(mixed_runs, sampler, discrete, quantity)


# ---------------------------------------------------------- eight schools
SCHOOLS_DRAWS = dict(chains=4, draws=2000, warmup=1000)


@pytest.fixture(scope="module")
def schools_cli(tmp_path_factory):
    from ebmppl.cli import main
    out = tmp_path_factory.mktemp("eight_schools")
    rc = main(["sample", str(EXAMPLES / "eight_schools.ebm"), "--data", str(DATA / "eight_schools.json"),
               "--sampler", "nuts", "--chains", str(SCHOOLS_DRAWS["chains"]), "--draws", str(SCHOOLS_DRAWS["draws"]),
               "--warmup", str(SCHOOLS_DRAWS["warmup"]), "--seed", "0", "--out", str(out), "--no-progress"])
    assert rc == 0
    idata = diagnostics.from_netcdf(out / "samples.nc")
    assert idata.posterior.attrs["sampler"] == "nuts"
    return {k: draws_of(idata, k) for k in ("mu", "tau", "theta_tilde")}


@pytest.fixture(scope="module")
def schools_numpyro():
    import json

    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    data = json.loads((DATA / "eight_schools.json").read_text())
    y, sigma = np.asarray(data["y"], np.float32), np.asarray(data["sigma"], np.float32)

    def model(sigma, y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
        with numpyro.plate("J", len(sigma)):
            theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
            numpyro.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=SCHOOLS_DRAWS["warmup"], num_samples=SCHOOLS_DRAWS["draws"],
                num_chains=SCHOOLS_DRAWS["chains"], chain_method="vectorized", progress_bar=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are not enough devices")
        mcmc.run(jax.random.PRNGKey(1), sigma, y)
    return {k: np.asarray(v, np.float64) for k, v in mcmc.get_samples(group_by_chain=True).items()}


@pytest.mark.parametrize("name", ["mu", "tau", "theta_tilde"])
def test_eight_schools_cli_matches_numpyro(schools_cli, schools_numpyro, name):
    a, b = schools_cli[name], schools_numpyro[name]
    assert a.shape == b.shape
    a = a.reshape(a.shape[:2] + (-1,))
    b = b.reshape(b.shape[:2] + (-1,))
    for i in range(a.shape[2]):
        ea, eb = a[..., i].mean(), b[..., i].mean()
        sa, sb = mcse(a[..., i]), mcse(b[..., i])
        na, nb = ess(a[..., i]), ess(b[..., i])
        se = float(np.hypot(sa, sb))
        label = name if a.shape[2] == 1 else f"{name}[{i}]"
        print(f"eight schools {label}: ebmppl {ea:.4f} (mcse {sa:.4f}, ess {na:.0f}) vs numpyro {eb:.4f} "
              f"(mcse {sb:.4f}, ess {nb:.0f}), {(ea - eb) / se:+.2f} combined mcse")
        assert min(na, nb) >= MIN_ESS, f"{label}: ESS too small ({na:.0f}, {nb:.0f})"
        assert abs(ea - eb) <= Z * se, f"{label}: ebmppl {ea:.4f} vs numpyro {eb:.4f}, combined mcse {se:.4f}"


def _two_layer_sweep(src: str, n_visible: int, seed: int):
    """The model of ``src`` (visible v first, latent h after it), its params, layout, its two Gibbs blocks
    ordered latent h first (as the trainers sweep) and the sweep over them."""
    from ebmppl.infer import gibbs as G
    from ebmppl.infer.target import Target
    m = ebmppl.parse(src)
    p = m.init_params(jax.random.PRNGKey(seed))
    target = Target(m, p)
    lay = G.layout(target)
    blocks = G.find_blocks(target, lay)
    assert len(blocks.blocks) == 2
    order = sorted(range(2), key=lambda i: blocks.blocks[i][0] < n_visible)
    blocks = G.Blocks(tuple(blocks.blocks[i] for i in order), tuple(blocks.affine[i] for i in order),
                      blocks.categorical)
    return m, p, lay, blocks, G.make_sweep(lay, blocks, lambda z, d: m.energy(p, d))


def test_sweep_with_given_uniforms_is_the_exact_block_conditionals():
    # the trainers' sweep (uniforms given, blocks that are whole variables moved in their own arrays) draws
    # each layer of an RBM from its closed-form conditional, h | v then v | h; and the flat-vector path
    # (a block that is not a whole variable) agrees with it
    from ebmppl.infer import gibbs as G
    m, p, lay, blocks, sweep = _two_layer_sweep(
        "var v : binary[5]\nlatent h : binary[3]\nparam W : real[5, 3] ~ normal(0, 1)\n"
        "param b : real[5] ~ normal(0, 1)\nparam c : real[3] ~ normal(0, 1)\n"
        "factor rbm = -(v @ W @ h + b @ v + c @ h)", 5, 1)
    sig = {tuple(sorted(set(np.asarray(lay.element_kinds(), dtype=object)[b]))) for b in blocks.blocks}
    assert sig == {("binary",)}
    rng = np.random.default_rng(0)
    z = jnp.zeros((0,))
    for _ in range(5):
        d = {"v": jnp.asarray(rng.random(5) < 0.5, jnp.float32), "h": jnp.asarray(rng.random(3) < 0.5, jnp.float32)}
        uh, uv = jnp.asarray(rng.random(3), jnp.float32), jnp.asarray(rng.random(5), jnp.float32)
        got = sweep.step_with([uh, uv], z, d)
        h = (uh < jax.nn.sigmoid(p["c"] + d["v"] @ p["W"])).astype(jnp.float32)
        v = (uv < jax.nn.sigmoid(p["b"] + p["W"] @ h)).astype(jnp.float32)
        np.testing.assert_array_equal(got["h"], h)
        np.testing.assert_array_equal(got["v"], v)
        # the same blocks split differently (not whole variables) take the flat path: same draws
        split = G.Blocks((blocks.blocks[0][:2], blocks.blocks[0][2:], blocks.blocks[1]),
                         (True, True, True), blocks.categorical)
        flat = G.make_sweep(lay, split, lambda z, d: m.energy(p, d)).step_with([uh[:2], uh[2:], uv], z, d)
        np.testing.assert_array_equal(flat["h"], h)
        np.testing.assert_array_equal(flat["v"], v)


def test_sweep_whole_variable_blocks_with_non_affine_energy():
    # a whole-variable block whose energy is not affine in it (a square of each binary v_i: no coupling
    # inside the block, but a self-curvature) takes its conditionals from two energies per element:
    # E(v_i = 1) - E(v_i = 0) = -(b + W h)_i + a_i (v_i^2 is 1 or 0)
    m, p, lay, blocks, sweep = _two_layer_sweep(
        "var v : binary[4]\nlatent h : binary[3]\nparam W : real[4, 3] ~ normal(0, 1)\n"
        "param b : real[4] ~ normal(0, 1)\nparam a : real[4] ~ normal(0, 1)\n"
        "factor rbm = -(v @ W @ h + b @ v) + sum(a * v^2)", 4, 2)
    v_block = [i for i, b in enumerate(blocks.blocks) if len(b) == 4]
    assert len(v_block) == 1 and not blocks.affine[v_block[0]]
    rng = np.random.default_rng(1)
    for _ in range(5):
        d = {"v": jnp.asarray(rng.random(4) < 0.5, jnp.float32), "h": jnp.asarray(rng.random(3) < 0.5, jnp.float32)}
        uh, uv = jnp.asarray(rng.random(3), jnp.float32), jnp.asarray(rng.random(4), jnp.float32)
        got = sweep.step_with([uh, uv], jnp.zeros((0,)), d)
        h = (uh < jax.nn.sigmoid(d["v"] @ p["W"])).astype(jnp.float32)
        v = (uv < jax.nn.sigmoid(p["b"] + p["W"] @ h - p["a"])).astype(jnp.float32)
        np.testing.assert_array_equal(got["h"], h)
        np.testing.assert_array_equal(got["v"], v)


def test_ula_noise_blocks_give_fresh_independent_noise_every_step(x64):
    # our kernels draw a block of steps' noise at once (a buffer in the state, refilled every `block`
    # steps). On a standard normal, ULA's noise is recoverable from the path,
    # xi_t = (z_{t+1} - (1 - eps) z_t) / sqrt(2 eps): it must be fresh at every step, across refills,
    # N(0, 1) and uncorrelated from step to step
    from ebmppl.infer.kernel import NOISE_MAX
    from ebmppl.infer.target import Target
    from ebmppl.infer.ula import ULA
    target = Target(ebmppl.parse("var x : real[3]\nfactor f = 0.5 * sum(x^2)"))
    eps, chains, steps = 0.01, 4, 3 * NOISE_MAX + 5
    kernel = ULA(target, step_size=eps)
    z0 = jnp.asarray(np.random.default_rng(0).normal(size=(chains, 3)))
    state = kernel.init(jax.random.split(jax.random.PRNGKey(0), chains), 0, {"z": z0, "d": {}})
    assert kernel.block == NOISE_MAX

    def body(s, _):
        s = kernel.sample(s)
        return s, s.position["z"]
    _, zs = jax.lax.scan(body, state, None, length=steps)
    path = np.concatenate([np.asarray(z0)[None], np.asarray(zs)])
    xi = (path[1:] - (1 - eps) * path[:-1]) / np.sqrt(2 * eps)  # (steps, chains, 3)
    flat = xi.reshape(steps, -1)
    assert len({tuple(np.round(r, 9)) for r in flat}) == steps  # no step reuses another's noise
    n = flat.size
    assert abs(flat.mean()) < 4 / np.sqrt(n) and abs(flat.var() - 1) < 4 * np.sqrt(2 / n)
    for lag in (1, 2, NOISE_MAX - 1, NOISE_MAX):
        r = np.mean(flat[lag:] * flat[:-lag])
        assert abs(r) < 4 / np.sqrt(flat[lag:].size), (lag, r)


def test_noise_block_size_follows_the_chains_and_dimension():
    from ebmppl.infer import kernel as K
    from ebmppl.infer.mala import MALA
    from ebmppl.infer.target import Target

    def block(dim, chains):
        k = MALA(Target(ebmppl.parse(f"var x : real[{dim}]\nfactor f = 0.5 * sum(x^2)")))
        k.init(jax.random.split(jax.random.PRNGKey(0), chains), 10, {"z": jnp.zeros((chains, dim)), "d": {}})
        return k.block
    assert block(2, 4) == K.NOISE_MAX
    assert K.NOISE_MIN <= block(50, 1024) < K.NOISE_MAX  # 51 numbers a step and chain: a shorter block
    assert block(4096, 1024) == 1  # a buffer this large would cost more than it saves: per-step draws
