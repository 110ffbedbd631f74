"""Training reports: the MMD test is right, the sample-vs-data check tells a fitted model from an
unfitted one, and every fitting method gets a report (files and finite numbers)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

import ebmppl as ebm
from ebmppl.cli import main
from ebmppl import fit
from ebmppl.training.api import METHODS
from ebmppl.report import fit_report, mmd_test
from tests.conftest import DATA, EXAMPLES

RING, RING_DATA = EXAMPLES / "ring.ebm", DATA / "ring.csv"


# ---------------------------------------------------------------------- the MMD test
def test_mmd_statistic_and_median_bandwidth_match_a_direct_computation():
    r = np.random.default_rng(0)
    x, y = r.normal(size=(40, 3)), r.normal(0.5, 1.0, size=(55, 3))
    h = np.median(pdist(np.concatenate([x, y])))

    def k(a, b):
        return np.exp(-cdist(a, b, "sqeuclidean") / (2 * h * h))
    mmd2 = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    t = mmd_test(x, y, permutations=50)
    assert t.bandwidth == pytest.approx(h, rel=1e-5)
    assert t.mmd == pytest.approx(np.sqrt(mmd2), rel=1e-4)
    assert mmd_test(x, y, bandwidth=0.7).bandwidth == pytest.approx(0.7)
    same = mmd_test(x, x)
    assert same.mmd < 1e-3 and same.p_value == 1.0


def test_mmd_rejects_a_shift_of_one_sd():
    r = np.random.default_rng(1)
    for _ in range(5):
        t = mmd_test(r.normal(0, 1, 200), r.normal(1, 1, 200), key=int(r.integers(1000)))
        assert t.p_value < 0.01 and t.permutations == 200


def test_mmd_p_values_are_uniform_for_one_distribution():
    r = np.random.default_rng(2)
    p = np.array([mmd_test(r.normal(0, 1, 200), r.normal(0, 1, 200), key=i).p_value for i in range(60)])
    # under the null the p-value is uniform: mean 1/2 (sd of the mean 0.037), P(p < 0.05) = 0.05
    assert 0.38 < p.mean() < 0.62, p
    assert (p < 0.05).sum() <= 8, p
    assert p.min() >= 1 / 201


def test_mmd_test_errors():
    with pytest.raises(ebm.EbmError, match="columns"):
        mmd_test(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ebm.EbmError, match="not all finite"):
        mmd_test(np.array([0.0, np.nan, 1.0]), np.zeros(3))


# ---------------------------------------------------------------------- fitted vs unfitted
@pytest.fixture(scope="module")
def gaussian():
    m = ebm.load(EXAMPLES / "gaussian.ebm")
    fitted = fit(m, DATA / "gaussian.csv", method="sm", steps=300, lr=0.05, progress=False)
    unfitted = fit(m, DATA / "gaussian.csv", method="sm", steps=1, lr=0.0, progress=False)  # the init params
    return m, fitted, unfitted


def test_a_fitted_gaussian_passes_and_an_unfitted_one_is_rejected(gaussian):
    m, fitted, unfitted = gaussian
    good = fit_report(m, fitted, DATA / "gaussian.csv")
    bad = fit_report(m, unfitted, DATA / "gaussian.csv")
    assert good.p_value > 0.01, good
    assert bad.p_value < 0.01 and bad.mmd > 3 * good.mmd, (bad, good)
    # the data's mean is [1, -0.5]; the unfitted model's is 0
    np.testing.assert_allclose(good.moments.sample_mean, good.moments.data_mean, atol=0.2)
    np.testing.assert_allclose(bad.moments.sample_mean, [0.0, 0.0], atol=0.2)
    assert good.chains.start == "data rows" and good.chains.sampler == "mala"
    assert good.chains.rhat_max < 1.1 and good.chains.ess_min > 100
    # the kernel Stein discrepancy (the score alone) agrees with the MMD verdicts
    assert good.ksd_p_value > 0.01 and bad.ksd_p_value < 0.01 and bad.ksd > 3 * good.ksd, (bad, good)


def test_the_report_shows_the_ksd_rows_and_leaves_them_out_where_ksd_does_not_apply(gaussian, tmp_path):
    from ebmppl.report.markdown import _ksd_rows
    m, fitted, _ = gaussian
    rep = fit_report(m, fitted, DATA / "gaussian.csv", out_dir=tmp_path)
    text = (tmp_path / "fit-report.md").read_text()
    assert "kernel Stein discrepancy" in text and f"{rep.ksd_p_value:.3f}" in text
    bits = ebm.parse("var b : binary[3]\nparam w : real[3] = 0\nfactor f = -(w @ b)\n", "bits.ebm")
    rows = {"b": np.tile(np.eye(3, dtype=np.float32), (4, 1))}
    bres = fit(bits, rows, method="cd", steps=2, progress=False)
    assert fit_report(bits, bres, rows).ksd is None
    assert _ksd_rows(rep) and not _ksd_rows(replace(rep, ksd=None))


def test_a_report_for_another_model_is_refused(gaussian):
    _, fitted, _ = gaussian
    with pytest.raises(ebm.EbmError, match="another model"):
        fit_report(ebm.load(RING), fitted, RING_DATA)


# ---------------------------------------------------------------------- every method
def _ring_xy():
    return np.loadtxt(RING_DATA, delimiter=",", skiprows=1)[:600]


def _case(method):
    """(model, data) small enough for a fit of a few steps and a report."""
    if method in ("cd", "pcd"):
        v = np.loadtxt(DATA / "digits_binarized.csv", delimiter=",", skiprows=1)[:300]
        return ebm.load(EXAMPLES / "rbm.ebm"), {"v": v}
    if method == "mle":
        return ebm.parse("var x : real[2]\nparam m : real[2]\nparam s : positive\nx ~ normal(m, s)"), \
            {"x": _ring_xy()}
    if method == "ce":
        d = np.loadtxt(DATA / "moons.csv", delimiter=",", skiprows=1)[:400]
        return ebm.parse("var x : real[2]\nvar y : categorical(2)\nparam f : mlp(2, [8], 2)\n"
                         "factor e = -f(x)[y] + 0.5 * sum(x^2) / 16"), {"x": d[:, :2], "y": d[:, 2]}
    return ebm.load(RING), {"x": _ring_xy()}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gets_a_report(tmp_path, method):
    model, data = _case(method)
    res = fit(model, data, method=method, steps=20, batch_size=64, chunk=20, progress=False)
    rep = fit_report(model, res, data, tmp_path, n_samples=64, draws=4, warmup=20, thin=1, permutations=50)
    assert rep.method == res.method and rep.steps == 20
    assert np.isfinite([rep.mmd, rep.p_value, rep.bandwidth]).all() and 0 < rep.p_value <= 1
    m = rep.moments
    assert len(m.labels) == m.data_mean.shape[0] == m.sample_sd.shape[0] > 0
    assert np.isfinite(np.concatenate([m.data_mean, m.data_sd, m.sample_mean, m.sample_sd])).all()
    assert np.isfinite(rep.chains.rhat_max) and np.isfinite(rep.chains.ess_min)
    assert rep.n_data == min(512, len(next(iter(data.values()))) // 2) and rep.n_samples == 64
    text = (tmp_path / "fit-report.md").read_text()
    assert f"({rep.method})" in text and "permutation p-value" in text and "| `" in text
    names = {p.name for p in rep.files}
    assert {"fit-report.md", "fit-report-training.png", "fit-report-moments.png"} <= names
    assert ("fit-report-samples.png" in names) == (method not in ("cd", "pcd", "ce"))  # the 2-D real models
    for f in rep.files:
        assert f.exists() and f.stat().st_size > 500
        assert f"]({f.name})" in text or f.name == "fit-report.md"
    if method in ("cd", "pcd"):
        e = rep.energies
        assert np.isfinite([e["e_pos"], e["e_neg"]]).all() and e["gap"] == pytest.approx(e["e_pos"] - e["e_neg"])
        assert "positive phase" in text
        assert rep.chains.sampler == "gibbs"
    if method == "pcd":
        pc = rep.persistent
        assert pc is not None and pc.start == "persistent chains" and pc.chains == 64 and pc.warmup == 0
        assert np.isfinite([pc.rhat_max, pc.ess_min, pc.mmd, pc.p_value]).all()
        assert "Persistent chains" in text
    else:
        assert rep.persistent is None
    if method == "ce":
        assert 0.0 <= rep.accuracy <= 1.0 and "classification accuracy" in text


# ---------------------------------------------------------------------- the command line
def test_cli_fit_writes_a_report_unless_told_not_to(tmp_path, capsys):
    args = ["fit", str(RING), "--data", str(RING_DATA), "--method", "dsm", "--steps", "20", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "report: MMD" in out and "fit-report.md" in out
    text = (tmp_path / "a" / "fit-report.md").read_text()
    assert "# Training report: ring (dsm)" in text
    for name in ("fit-report-training.png", "fit-report-moments.png", "fit-report-samples.png"):
        assert (tmp_path / "a" / name).stat().st_size > 1000
    assert main(args + ["--out", str(tmp_path / "b"), "--no-report"]) == 0
    assert (tmp_path / "b" / "params.npz").exists() and not list((tmp_path / "b").glob("fit-report*"))


# ---------------------------------------------------------------------- keywords, unusable results
@pytest.mark.parametrize("keyword, value", [
    ("draws", 3), ("draws", float("nan")), ("thin", 0), ("thin", 1.5), ("warmup", -1), ("n_samples", 1),
    ("max_rows", True), ("persistent_chains", -2), ("permutations", 0), ("permutations", 10**12),
    ("bandwidth", 0.0), ("bandwidth", float("inf")), ("key", -1), ("key", 2**32)])
def test_bad_report_keywords_are_refused_before_sampling(gaussian, keyword, value):
    m, fitted, _ = gaussian
    with pytest.raises(ebm.EbmError, match=f"{keyword}= must be") as e:
        fit_report(m, fitted, DATA / "gaussian.csv", **{keyword: value})
    assert e.value.kind in ("report", "usage")


@pytest.mark.parametrize("keyword, value", [("permutations", 0), ("permutations", 2.5), ("bandwidth", -1.0),
                                            ("key", -3)])
def test_bad_mmd_keywords_are_refused(keyword, value):
    with pytest.raises(ebm.EbmError, match=f"{keyword}= must be"):
        mmd_test(np.zeros((5, 2)), np.ones((5, 2)), **{keyword: value})


def test_a_result_with_unusable_params_gets_no_report(gaussian):
    from dataclasses import replace
    m, fitted, _ = gaussian
    bad = replace(fitted, params_usable=False, failure="stopped at step 3: the fitted params are not usable")
    with pytest.raises(ebm.EbmError, match="not usable"):
        fit_report(m, bad, DATA / "gaussian.csv")
