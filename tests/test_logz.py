"""Partition functions: exact enumeration, quadrature and AIS against known answers."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.partition import log_ratio, logz_ais, logz_exact, logz_quadrature
from tests.conftest import DATA, load_example

ISING = [(2.0, 17.105367), (2.269185, 15.521917), (3.0, 13.281033)]  # 4x4 periodic, J = 1


@pytest.mark.parametrize("temperature, exact", ISING)
def test_ising_exact(temperature, exact, x64):
    r = logz_exact(load_example("ising").bind({"T": temperature}))
    assert r.method == "exact" and abs(r.value - exact) < 1e-5


@pytest.mark.parametrize("temperature, exact", [ISING[1]] + [pytest.param(*c, marks=pytest.mark.slow)
                                                              for c in (ISING[0], ISING[2])])
def test_ising_ais_covers_the_truth(temperature, exact, x64):
    r = logz_ais(load_example("ising").bind({"T": temperature}), runs=128, temperatures=500, key=0)
    assert abs(r.value - exact) < 0.05
    assert abs(r.value - exact) < 3 * r.stderr  # the reported error bar covers the truth


POTTS = """var c : categorical(3)[4]
var b : binary[2]
param w : real[4, 3] = 0.3
factor f = -sum(w[i, c[i]] * (i + 1) for i in range(4)) - 0.8 * sum(c[i] == c[i + 1] for i in range(3))
factor g = -0.5 * b[0] * (c[0] == 2) + 0.3 * b[1]
"""


def test_ais_moves_categorical_variables_and_covers_the_truth(x64):
    """A Potts chain with a binary pair: AIS starts categorical elements uniform and moves them by Gibbs."""
    model = ebm.parse(POTTS, "potts.ebm")
    exact = logz_exact(model).value
    r = logz_ais(model, runs=128, temperatures=300, key=0)
    assert abs(r.value - exact) < 4 * r.stderr + 1e-3, (r, exact)


def test_rbm_exact_sums_the_visible_layer(x64):
    r = logz_exact(load_example("rbm"))
    assert "65536 states of h" in r.detail and "summed v analytically" in r.detail
    # W ~ N(0, 0.01), b = c = 0: log Z is close to (64 + 16) log 2
    assert abs(r.value - 80 * np.log(2)) < 0.1


def test_rbm_ais_within_a_tenth_of_a_nat():
    m = load_example("rbm")
    x = np.loadtxt(DATA / "digits_binarized.csv", delimiter=",", skiprows=1)
    params = ebm.fit(m, {"v": x}, method="pcd", steps=1500, batch_size=20, lr=0.05, optimizer="sgd",
                     average=0.99, progress=False).params
    exact = logz_exact(m, params).value
    t0 = time.perf_counter()
    r = logz_ais(m, params, runs=256, temperatures=1000, data={"v": x})
    assert time.perf_counter() - t0 < 60
    assert abs(r.value - exact) < 0.1


GAUSS = ("var x : real[2]\nparam mu : real[2] = [1.0, -0.5]\n"
         "factor g = 0.5 * (x - mu) @ [[1.0, 0.3], [0.3, 2.0]] @ (x - mu)")


def test_quadrature_matches_a_gaussians_log_z(x64):
    r = logz_quadrature(ebm.parse(GAUSS))
    want = np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(np.array([[1.0, 0.3], [0.3, 2.0]])))
    assert abs(r.value - want) < 1e-4 and r.stderr < 1e-4


def test_ais_agrees_with_quadrature_on_the_ring(x64):
    m = load_example("ring")
    q = logz_quadrature(m)
    a = logz_ais(m, runs=128, temperatures=500)
    assert abs(a.value - q.value) < 0.02


def test_auto_picks_the_cheapest_exact_method():
    assert ebm.logz(load_example("ising")).method == "exact"
    assert ebm.logz(ebm.parse(GAUSS)).method == "quadrature"
    m = ebm.parse("var x : real[3]\nx ~ normal(0, 1)")
    assert ebm.logz(m, runs=32, temperatures=100).method == "ais"
    with pytest.raises(ebm.EbmError, match="unknown method"):
        ebm.logz(m, method="magic")


def test_nce_log_z_agrees_with_quadrature_and_the_cli_reports_both(tmp_path, capsys):
    from ebmppl.cli import main
    out = tmp_path / "fit"
    assert main(["fit", "examples/gaussian.ebm", "--data", str(DATA / "gaussian.csv"), "--method", "nce",
                 "--steps", "1500", "--lr", "0.01", "--batch-size", "500", "--out", str(out), "--no-progress",
                 "--no-report"]) == 0
    capsys.readouterr()
    assert main(["logz", "examples/gaussian.ebm", "--params", str(out / "params.npz")]) == 0
    text = capsys.readouterr().out
    assert "quadrature" in text and "NCE's learned log Z" in text
    diff = float(text.split("difference ")[1].split(")")[0])
    assert abs(diff) < 0.1


def test_log_ratio_needs_no_partition_function(x64):
    m = ebm.parse(GAUSS)
    p = m.init_params(0)
    a, b = {"x": np.array([0.0, 0.0])}, {"x": np.array([1.0, -0.5])}
    z = logz_quadrature(m, p).value
    lp = lambda x: -float(m.energy(p, x)) - z  # noqa: E731
    np.testing.assert_allclose(float(log_ratio(m, p, a, b)), lp(a) - lp(b), rtol=1e-10)


def test_anomaly_scores_separate_injected_outliers():
    from ebmppl.applications import anomaly_score, anomaly_threshold
    m = load_example("ring")  # its default params already describe the unit ring
    ring = np.loadtxt(DATA / "ring.csv", delimiter=",", skiprows=1)
    rng = np.random.default_rng(0)
    outliers = rng.uniform(-3, 3, size=(100, 2))
    outliers = outliers[np.abs(np.linalg.norm(outliers, axis=1) - 1) > 0.4]
    s_in = anomaly_score(m, m.init_params(0), {"x": ring[:1000]})
    s_out = anomaly_score(m, m.init_params(0), {"x": outliers})
    auc = np.mean(s_out[:, None] > s_in[None, :])  # P(score of an outlier > score of a normal row)
    assert auc >= 0.95
    thr = anomaly_threshold(m, m.init_params(0), {"x": ring[1000:]}, false_alarm=0.05)
    assert np.mean(s_in > thr) < 0.1 and np.mean(s_out > thr) > 0.8


def test_denoise_moves_noisy_points_toward_the_ring():
    from ebmppl.applications import denoise
    m = load_example("ring")
    clean = np.loadtxt(DATA / "ring.csv", delimiter=",", skiprows=1)[:300]
    noisy = clean + np.random.default_rng(1).normal(0, 0.3, clean.shape)
    out = denoise(m, m.init_params(0), {"x": noisy}, steps=300, step_size=2e-3, temperature_from=0.5)["x"]

    def err(x):  # squared distance to the unit ring
        return np.mean((np.linalg.norm(x, axis=1) - 1.0) ** 2)
    assert np.all(np.isfinite(out)) and err(out) < 0.5 * err(noisy)


def test_cli_score_writes_one_score_per_row(tmp_path, capsys):
    from ebmppl.cli import main
    assert main(["score", "examples/ring.ebm", "--data", str(DATA / "ring.csv"), "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    assert lines[0] == "row,score,log_density" and len(lines) == 2001  # quadrature gives the ring's log Z
    assert main(["score", "examples/ring.ebm", "--data", str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_cli_score_log_density_is_the_normalized_log_density(tmp_path, capsys):
    """With log Z known, log_density = -F - log Z: for E = x^2 / 2 that is the standard normal's log pdf
    (scikit-learn's score_samples sign: higher = more normal); --logz none leaves the column out. (In float32:
    --x64 in this process would switch float64 on for every later test.)"""
    from scipy.stats import norm

    from ebmppl.cli import main
    (tmp_path / "g.ebm").write_text("var x : real\nfactor f = 0.5 * x^2\n")
    xs = np.array([-3.0, -0.5, 0.0, 1.0, 2.5])
    (tmp_path / "rows.csv").write_text("x\n" + "".join(f"{v}\n" for v in xs))
    base = ["score", str(tmp_path / "g.ebm"), "--data", str(tmp_path / "rows.csv")]  # no --x64: it is global
    assert main(base + ["--out", str(tmp_path / "a")]) == 0
    assert "quadrature" in capsys.readouterr().out
    table = np.loadtxt(tmp_path / "a" / "scores.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], 0.5 * xs ** 2, rtol=1e-6)
    np.testing.assert_allclose(table[:, 2], norm.logpdf(xs), atol=1e-4)
    assert main(base + ["--out", str(tmp_path / "b"), "--logz", "none"]) == 0
    assert (tmp_path / "b" / "scores.csv").read_text().splitlines()[0] == "row,score"
    assert main(base + ["--out", str(tmp_path / "c"), "--logz", "nce"]) == 2  # no params fitted by NCE
    assert "records no learned log Z" in capsys.readouterr().err and not (tmp_path / "c").exists()


# ------------------------------------------------------------ improper models
IMPROPER = [
    ("var x : real\nfactor f = -x^2\n", "quadrature", "grows toward the lower end of 'x'"),
    ("var x : real\nfactor f = 0 * x\n", "quadrature", "stays flat"),
    ("var x : real\nfactor f = x\n", "quadrature", "lower end of 'x'"),
    ("var x : real\nfactor f = 0.5 * log(1 + x^2)\n", "quadrature", "decays too slowly"),
    ("var x : real\nfactor f = log(x)\n", "quadrature", "energy is nan"),
    ("var x : real[2]\nfactor f = x[0]^2\n", "quadrature", "'x[1]'"),
    ("var s : positive\nfactor f = 0 * s\n", "quadrature", "upper end of 's'"),
    ("var s : spin[2]\nfactor f = sum(log(s))\n", "exact", "energy is nan"),
    ("var s : binary\nfactor f = log(s)\n", "exact", "infinite density"),
    ("var s : binary\nfactor f = -log(s - s)\n", "exact", "zero at every state"),
    ("var x : real[3]\nfactor f = 0 * sum(x)\n", "ais", "stays flat"),
    ("var x : real[3]\nfactor f = sum(x)\n", "ais", "lower end of 'x[0]'"),
    ("var x : real[3]\nfactor f = x[0]^2 + x[1]^2\n", "ais", "'x[2]'"),
    ("var x : real[3]\nfactor f = sum(log(x))\n", "ais", "energy is nan"),
    ("var s : binary\nvar x : real\nfactor f = -x^2 + s\n", "ais", "'x'"),
]


@pytest.mark.parametrize("text, method, phrase", IMPROPER, ids=[f"{m}-{i}" for i, (_, m, _) in enumerate(IMPROPER)])
def test_an_improper_model_is_an_error_not_a_number(text, method, phrase):
    opts = dict(runs=32, temperatures=60) if method == "ais" else {}
    with pytest.raises(ebm.EbmError) as info:
        ebm.logz(ebm.parse(text, "m.ebm"), method=method, **opts)
    assert info.value.kind == "logz" and "looks improper" in info.value.message, info.value.render()
    assert phrase in info.value.message, info.value.render()


def test_auto_refuses_an_improper_model_whatever_method_it_picks():
    for text in ("var x : real\nfactor f = -x^2\n", "var s : binary\nfactor f = log(s)\n",
                 "var x : real[3]\nfactor f = -sum(x^2)\n"):
        with pytest.raises(ebm.EbmError, match="looks improper"):
            ebm.logz(ebm.parse(text), runs=32, temperatures=60)


@pytest.mark.parametrize("text, want", [
    ("var x : real\nx ~ normal(0, 5)\n", 0.0),  # the grid is widened until the density vanishes at its edges
    ("var x : real\nx ~ normal(20, 1)\n", 0.0),
    ("var p : unit\nfactor f = 0 * p\n", 0.0),
    ("var x : real[2]\nx ~ normal(0, 4)\n", 0.0),
])
def test_quadrature_widens_its_grid_for_wide_proper_models(text, want):
    r = logz_quadrature(ebm.parse(text))
    assert abs(r.value - want) < 1e-3 and r.stderr < 1e-3, r


def test_proper_models_keep_their_grid_and_value(x64):
    r = logz_quadrature(ebm.parse(GAUSS))
    assert "801^2 points over [-8.0, 8.0]^2" in r.detail  # the edges vanish at once: nothing widened


def test_exact_allows_states_of_zero_probability():
    r = ebm.logz(ebm.parse("var s : binary[2]\nfactor f = -log(s[0])\n"))  # s[0] = 0 has energy +inf
    assert r.method == "exact" and abs(r.value - np.log(2)) < 1e-6


def test_ais_halves_that_disagree_are_an_error():
    from ebmppl.partition.ais import _check_halves
    _check_halves(np.random.default_rng(0).normal(0, 1e-3, 64))  # settled: quiet
    with pytest.raises(ebm.EbmError, match="does not settle"):
        _check_halves(np.r_[np.zeros(32), np.full(32, 10.0)])


def test_ais_with_one_temperature_is_importance_sampling():
    r = logz_ais(ebm.parse("var x : real[2]\nx ~ normal(0, 1)\n"), runs=16, temperatures=1)
    assert abs(r.value) < 1e-4


@pytest.mark.parametrize("fn, kw, phrase", [
    ("ais", dict(runs=0), "runs="), ("ais", dict(runs=1), "at least 2"), ("ais", dict(runs=2.5), "runs="),
    ("ais", dict(temperatures=0), "temperatures="), ("ais", dict(steps=-1), "steps="),
    ("ais", dict(step_size=float("nan")), "step_size="), ("ais", dict(key=-1), "key="),
    ("quadrature", dict(points=2), "at least 3"), ("quadrature", dict(points=0), "points="),
    ("quadrature", dict(radius=-1.0), "radius="), ("quadrature", dict(radius=float("inf")), "radius="),
])
def test_estimator_options_are_checked(fn, kw, phrase):
    m = ebm.parse("var x : real\nx ~ normal(0, 1)\n")
    with pytest.raises(ebm.EbmError, match=phrase) as info:
        (logz_ais if fn == "ais" else logz_quadrature)(m, **kw)
    assert info.value.kind == "usage"


@pytest.mark.parametrize("params, phrase", [({"r": np.nan}, "not finite"), ({"r": -1.0}, "outside the domain"),
                                            ({}, "no value")])
def test_logz_params_are_checked(params, phrase):
    m = load_example("ring")
    for method in ("quadrature", "ais"):
        with pytest.raises(ebm.EbmError, match=phrase):
            ebm.logz(m, {**m.init_params(0), **params} if params else params, method=method)


def test_log_likelihood_refuses_undefined_rows_and_log_z():
    m = ebm.parse("var s : binary[2]\nparam b : real = 0.5\nfactor f = b * sum(s)\n")
    p = m.init_params(0)
    rows = {"s": np.array([[0.0, 1.0], [1.0, 1.0]])}
    z = ebm.logz(m, p)
    np.testing.assert_allclose(ebm.log_likelihood(m, p, rows, logz=z), ebm.log_likelihood(m, p, rows))
    np.testing.assert_allclose(ebm.log_likelihood(m, p, {"s": np.array([[0.0, 0.5]])}),  # a DBN's mean field
                               -0.5 * 0.5 - z.value, rtol=1e-5)
    with pytest.raises(ebm.EbmError, match="log Z is nan"):
        ebm.log_likelihood(m, p, rows, logz=float("nan"))
    x = ebm.parse("var x : real\nfactor f = log(x)\n")
    with pytest.raises(ebm.EbmError, match="row 1 .* is nan") as info:
        ebm.log_likelihood(x, {}, {"x": np.array([1.0, -1.0])}, logz=0.0)
    assert info.value.kind == "data"


def test_a_mixture_of_an_improper_component_is_refused():
    a = ebm.parse("var x : real\nfactor a = x^2 / 2\n")
    b = ebm.parse("var x : real\nfactor b = -x^2\n")
    with pytest.raises(ebm.EbmError, match="looks improper"):
        ebm.mixture([0.5, 0.5], [a, b], logz="estimate")


def test_scores_with_undefined_rows_are_an_error():
    from ebmppl.applications import anomaly_score
    m = ebm.parse("var x : real\nfactor f = log(x)\n")
    with pytest.raises(ebm.EbmError, match=r"row 2 \(counting from 0\) is nan") as info:
        anomaly_score(m, {}, {"x": np.array([1.0, 2.0, -1.0])})
    assert info.value.kind == "data"
    assert np.all(np.isinf(anomaly_score(ebm.parse("var x : real\nfactor f = -log(x^2)\n"), {},
                                         {"x": np.array([0.0])})))  # +inf: impossible, not undefined


def test_an_option_no_method_takes_is_an_error_not_a_type_error():
    m = ebm.parse("var x : real\nx ~ normal(0, 1)\n")
    with pytest.raises(ebm.EbmError, match="method='exact' takes no option 'runs'"):
        ebm.logz(m, method="exact", runs=3)
    with pytest.raises(ebm.EbmError, match="takes no option 'colour'"):
        ebm.logz(m, colour=3)
    assert "401^1 points" in ebm.logz(m, points=401, runs=4).detail  # auto: each option to the method taking it
