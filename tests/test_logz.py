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
    assert lines[0] == "row,score" and len(lines) == 2001
    assert main(["score", "examples/ring.ebm", "--data", str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err and not (tmp_path / "x").exists()
