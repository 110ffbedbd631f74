"""ebmppl.diagnose and `ebmppl diagnose`: each warning fires on a constructed case and stays silent on a
healthy one; the command reports a deliberately bad real run (two chains stuck in different wells), stays
quiet on a good one, writes its report and figures, and fails cleanly on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import ebmppl
from ebmppl import diagnostics as D
from ebmppl.cli import main
from ebmppl.errors import EbmError
from tests.docs_util import ROOT, cli_options

C, N = 4, 1000  # chains, draws of the synthetic cases


def _idata(post=None, sampler="nuts", chains=C, draws=N, seed=0, **stats):
    """Synthetic InferenceData: iid normal draws (healthy) unless ``post`` is given; healthy sample stats
    for ``sampler`` unless overridden."""
    rng = np.random.default_rng(seed)
    post = post if post is not None else {"mu": rng.normal(size=(chains, draws)),
                                           "x": rng.normal(size=(chains, draws, 2))}
    base = {"diverging": np.zeros((chains, draws), bool), "lp": rng.normal(size=(chains, draws))}
    if sampler in D.TARGET_ACCEPT:
        base["acceptance_rate"] = np.clip(rng.normal(D.TARGET_ACCEPT[sampler] + 0.02, 0.1, (chains, draws)), 0, 1)
    if sampler == "nuts":
        base["tree_depth"] = rng.integers(1, 4, (chains, draws))
    base.update(stats)
    return D.to_inference_data(post, base, {}, {}, {"sampler": sampler})


def _ar1(phi, chains=C, draws=N, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(chains, draws)) * np.sqrt(1 - phi ** 2)
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("sampler", ["nuts", "hmc", "mala", "rwmh", "ula", "gibbs"])
def test_healthy_draws_raise_no_warning(sampler):
    d = ebmppl.diagnose(_idata(sampler=sampler))
    assert d.ok and d.warnings == () and d.kinds == []
    assert (d.sampler, d.chains, d.draws) == (sampler, C, N)
    assert list(d.table.index) == ["mu", "x[0]", "x[1]"]
    for col in ["mean", "sd", "hdi_3%", "hdi_97%", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"]:
        assert col in d.table.columns
    assert "no warnings" in str(d)


def test_rhat_fires_for_chains_stuck_at_different_means():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(C, N)) + np.array([0, 0, 3, 3])[:, None]
    d = ebmppl.diagnose(_idata({"mu": mu, "ok": rng.normal(size=(C, N))}))
    w = {w.kind: w for w in d.warnings}
    assert "rhat" in w and w["rhat"].variables == ("mu",)
    assert "1 of 2 elements" in w["rhat"].message and "run longer" in w["rhat"].hint
    assert d.table.loc["mu", "r_hat"] > 1.01


def test_rhat_threshold_is_strict_and_adjustable():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(C, N)) + np.array([0, 0, 0.08, 0.08])[:, None]  # R-hat a little above 1
    d = ebmppl.diagnose(_idata({"mu": mu}))
    r = d.table.loc["mu", "r_hat"]
    assert 1.0 < r < 1.5
    assert ("rhat" in d.kinds) == (r > 1.01)
    assert "rhat" not in ebmppl.diagnose(_idata({"mu": mu}), rhat_max=r + 1e-6).kinds
    assert "rhat" in ebmppl.diagnose(_idata({"mu": mu}), rhat_max=r - 1e-6).kinds


def test_ess_fires_for_a_slowly_mixing_ar1_chain():
    d = ebmppl.diagnose(_idata({"slow": _ar1(0.99), "fast": _ar1(0.0, seed=1)}))
    w = {w.kind: w for w in d.warnings}
    assert w["ess_bulk"].variables == ("slow",) and w["ess_tail"].variables == ("slow",)
    assert "below 400" in w["ess_bulk"].message and "draw more" in w["ess_bulk"].hint
    assert d.table.loc["slow", "ess_bulk"] < 200 and d.table.loc["fast", "ess_bulk"] > 2000
    assert "ess_bulk" not in ebmppl.diagnose(_idata({"slow": _ar1(0.99)}), ess_min=10).kinds


def test_divergences_after_warmup_are_counted_per_chain():
    div = np.zeros((C, N), bool)
    div[1, :5] = True
    div[3, 10] = True
    d = ebmppl.diagnose(_idata(diverging=div))
    assert d.kinds == ["divergences"]
    w = d.warnings[0]
    assert "6 of 4000 draws" in w.message and "chain 1: 5" in w.message and "chain 3: 1" in w.message
    assert "target_accept" in w.hint and "reparameterize" in w.hint
    mala = ebmppl.diagnose(_idata(sampler="mala", diverging=div)).warnings[0]
    assert mala.kind == "divergences" and "step_size" in mala.hint  # our kernels: non-finite proposals


def test_maximum_tree_depth_fires_for_nuts_only():
    depth = np.full((C, N), 4)
    depth[0, :30] = D.MAX_TREE_DEPTH
    d = ebmppl.diagnose(_idata(tree_depth=depth))
    assert d.kinds == ["tree_depth"]
    assert "30 of 4000" in d.warnings[0].message and "chain 0: 30" in d.warnings[0].message
    assert ebmppl.diagnose(_idata(tree_depth=depth), max_tree_depth=12).ok
    assert ebmppl.diagnose(_idata(sampler="hmc", tree_depth=depth)).ok  # HMC's depth is not a NUTS limit


@pytest.mark.parametrize("sampler, rate, fires", [
    ("mala", 0.2, True), ("mala", 0.55, False), ("mala", 0.95, True),
    ("rwmh", 0.05, True), ("rwmh", 0.25, False), ("rwmh", 0.7, True),
    ("nuts", 0.5, True), ("nuts", 0.8, False), ("nuts", 0.97, False),  # NUTS: only too low matters
    ("hmc", 0.5, True), ("ula", 0.0, False),  # ULA has no accept test
])
def test_acceptance_far_from_the_kernels_target(sampler, rate, fires):
    acc = np.full((C, N), D.TARGET_ACCEPT.get(sampler, 1.0) + 0.01)
    acc[2] = rate
    d = ebmppl.diagnose(_idata(sampler=sampler, acceptance_rate=acc))
    assert ("acceptance" in d.kinds) == fires
    if fires:
        w = d.warnings[0]
        assert "chain(s) 2" in w.message and f"chain 2: {rate:.2f}" in w.message
        assert "warmup" in w.hint and ("smaller step_size" in w.hint or "larger step_size" in w.hint
                                       or "target_accept" in w.hint)


def test_acceptance_target_comes_from_the_attrs_or_the_argument():
    acc = np.full((C, N), 0.9)
    assert "acceptance" in ebmppl.diagnose(_idata(sampler="mala", acceptance_rate=acc)).kinds
    assert ebmppl.diagnose(_idata(sampler="mala", acceptance_rate=acc), target_accept=0.9).ok
    idata = _idata(sampler="mala", acceptance_rate=acc)
    idata.posterior.attrs["target_accept"] = "0.9"
    assert ebmppl.diagnose(idata).ok


def test_sample_records_a_user_target_accept_for_diagnose():
    """MALA run at target_accept=0.95 accepts ~0.95: healthy for that target (the default 0.574 would warn)."""
    m = ebmppl.parse("var x : real[2]\nx ~ normal(0, 1)")
    idata = ebmppl.sample(m, sampler="mala", chains=4, draws=200, warmup=300, target_accept=0.95, progress=False)
    assert float(idata.posterior.attrs["target_accept"]) == 0.95
    acc = float(idata.sample_stats["acceptance_rate"].mean())
    assert acc > 0.85
    assert "acceptance" not in [w.kind for w in ebmppl.diagnose(idata).warnings]
    assert "acceptance" in [w.kind for w in ebmppl.diagnose(idata, target_accept=0.574).warnings]


def test_fewer_than_four_chains():
    d = ebmppl.diagnose(_idata(chains=2))
    assert d.kinds == ["chains"] and "only 2 chains" in d.warnings[0].message
    assert ebmppl.diagnose(_idata(chains=2), min_chains=2).ok
    one = ebmppl.diagnose(_idata(chains=1))  # R-hat needs two chains: not checked, not NaN-warned
    assert one.kinds == ["chains"]


def test_constant_elements_are_skipped_and_var_names_selects():
    rng = np.random.default_rng(3)
    d = ebmppl.diagnose(_idata({"const": np.ones((C, N)), "mu": rng.normal(size=(C, N)), "slow": _ar1(0.99)}),
                        var_names=["const", "mu"])
    assert d.ok and list(d.table.index) == ["const", "mu"]


def test_warning_order_and_text():
    rng = np.random.default_rng(4)
    div = np.zeros((2, N), bool)
    div[0, 0] = True
    mu = rng.normal(size=(2, N)) + np.array([0, 5])[:, None]
    d = ebmppl.diagnose(_idata({"mu": mu}, sampler="mala", chains=2, diverging=div,
                               acceptance_rate=np.full((2, N), 0.1)))
    assert d.kinds == ["divergences", "rhat", "ess_bulk", "ess_tail", "acceptance", "chains"]
    assert set(d.kinds) <= set(D.WARNING_KINDS)
    text = str(d.warnings[1])
    assert text.startswith("warning[rhat]: ") and "\n  try: " in text


@pytest.mark.filterwarnings("ignore:More chains")
def test_no_posterior_is_an_error():
    import arviz as az  # the test may import ArviZ; the package imports it in diagnostics/idata.py only
    with pytest.raises(EbmError, match="no posterior"):
        ebmppl.diagnose(az.InferenceData())
    with pytest.raises(EbmError, match="too few"):
        ebmppl.diagnose(_idata(draws=3))
    with pytest.raises(EbmError, match="nope"):
        ebmppl.diagnose(_idata(), var_names=["nope"])


def test_only_diagnostics_imports_arviz():
    hits = [p.relative_to(ROOT).as_posix() for p in (ROOT / "ebmppl").rglob("*.py")
            if "import arviz" in p.read_text(encoding="utf-8") or "from arviz" in p.read_text(encoding="utf-8")]
    assert hits == ["ebmppl/diagnostics/idata.py"]


# ----------------------------------------------------------------- real runs
TWO_WELLS = "# two deep wells at x = -2 and x = 2; MALA never crosses the barrier\nvar x : real\n" \
            "factor well = 8 * (x^2 - 4)^2\n"
GAUSS = "# an anisotropic 2-D Gaussian\nvar x : real[2]\nparam s : positive = 0.5\n" \
        "factor q = 0.5 * (x[0]^2 + (x[1] / s)^2)\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A bad run (two MALA chains started in different wells: they never meet) and a good one (`ebmppl
    sample` with NUTS, 4 chains, on a 2-D Gaussian), each as a samples.nc."""
    root = tmp_path_factory.mktemp("diag")
    (root / "wells.ebm").write_text(TWO_WELLS)
    (root / "gauss.ebm").write_text(GAUSS)
    model = ebmppl.load(root / "wells.ebm")
    bad = ebmppl.sample(model, sampler="mala", chains=2, draws=300, warmup=200, key=0, progress=False,
                        init={"x": np.array([-2.0, 2.0])})
    D.record_sources(bad, root / "wells.ebm")
    D.to_netcdf(bad, root / "bad" / "samples.nc")
    assert main(["sample", str(root / "gauss.ebm"), "--sampler", "nuts", "--draws", "1000", "--warmup", "500",
                 "--out", str(root / "good"), "--no-progress"]) == 0
    return root


def test_cli_reports_a_bad_run(runs, capsys, tmp_path):
    out = tmp_path / "report"
    assert main(["diagnose", str(runs / "bad" / "samples.nc"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for kind in ["rhat", "ess_bulk", "chains"]:
        assert f"warning[{kind}]" in text
    assert "try: " in text and "no warnings" not in text
    md = (out / "report.md").read_text()
    assert "**rhat**" in md and "*try*" in md and "![trace](trace.png)" in md
    assert not (out / "density.png").exists() and not (out / "energy.png").exists()  # 1-D, MALA
    assert main(["diagnose", str(runs / "bad" / "samples.nc"), "--out", str(tmp_path / "strict"), "--strict"]) == 1


def test_cli_good_run_has_no_warnings_and_all_figures(runs, capsys):
    samples = runs / "good" / "samples.nc"
    assert main(["diagnose", str(samples), "--strict"]) == 0  # --out defaults to the samples' folder
    text = capsys.readouterr().out
    assert "no warnings" in text and "warning[" not in text and "sampler nuts" in text
    out = runs / "good"
    names = ["trace", "rank", "autocorr", "forest", "energy", "pair", "density"]
    import matplotlib.image as mpimg
    for name in names:
        img = mpimg.imread(out / f"{name}.png")
        assert img.shape[0] > 200 and img.shape[1] > 300 and img.std() > 0.01, name
    md = (out / "report.md").read_text()
    assert "None of the checks fired" in md
    for name in names:
        assert f"![{name}]({name}.png)" in md
    import pandas as pd
    table = pd.read_csv(out / "summary.csv", index_col=0)
    assert list(table.index) == ["x[0]", "x[1]"] and table.loc["x[1]", "sd"] == pytest.approx(0.5, rel=0.15)
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # no temporary folders left behind


def test_cli_density_needs_the_sampled_model(runs, tmp_path, capsys):
    samples = runs / "good" / "samples.nc"
    other = tmp_path / "other.ebm"
    other.write_text(GAUSS.replace("0.5 *", "0.25 *"))
    assert main(["diagnose", str(samples), "--out", str(tmp_path / "a"), "--model", str(other)]) == 2
    err = capsys.readouterr().err
    assert "error[data]" in err and "fingerprint" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()


def test_cli_bad_files_exit_2(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "none.nc")]) == 2
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netcdf file")
    assert main(["diagnose", str(junk), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error[data]" in err and "cannot read" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_error_mid_report_leaves_no_half_folder(runs, tmp_path, monkeypatch):
    calls = []

    def failing(kind, *a, **k):
        calls.append(kind)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(kind, *a, **k)
    real = D.plot_figure
    monkeypatch.setattr(D.folder, "plot_figure", failing)  # where write_report looks it up
    idata = D.read_samples(runs / "bad" / "samples.nc")
    with pytest.raises(RuntimeError):
        D.write_report(idata, tmp_path / "rep")
    assert not (tmp_path / "rep").exists() and list(tmp_path.iterdir()) == []


def test_every_diagnose_option_is_documented():
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    missing = [o for o in cli_options("diagnose") if f"`{o}" not in text]
    assert not missing, f"`ebmppl diagnose` options missing from docs/diagnostics.md: {missing}"
    for kind in D.WARNING_KINDS:
        assert f"`{kind}`" in text, f"docs/diagnostics.md does not describe the '{kind}' warning"


@pytest.mark.slow
def test_doc_python_blocks_run(tmp_path):
    from tests.docs_util import python_blocks, run_blocks
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert python_blocks(text)
    run_blocks("docs/diagnostics.md", text, tmp_path)


# ------------------------------------------------------------ hostile draws
def test_draws_that_are_not_finite_are_refused():
    rng = np.random.default_rng(0)
    nan_only = {"mu": rng.normal(size=(C, N)), "bad": np.full((C, N), np.nan)}
    with pytest.raises(EbmError, match="'bad' has no finite draw") as info:
        ebmppl.diagnose(_idata(nan_only))
    assert info.value.kind == "diagnose"
    some = rng.normal(size=(C, N))
    some[2, 17] = np.inf
    with pytest.raises(EbmError, match=r"'mu' is not finite at chain 2, draw 17 \(inf"):
        ebmppl.diagnose(_idata({"mu": some}))


def test_a_let_may_be_undefined_at_some_draws():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(C, N))
    q[0, 0] = np.nan  # let q = log(x) at a draw where x < 0
    idata = D.to_inference_data({"x": rng.normal(size=(C, N)), "q": q}, {}, {}, {},
                                {"sampler": "nuts", "lets": "q"})
    assert "x" in ebmppl.diagnose(idata).table.index


def test_sample_records_its_lets():
    m = ebmppl.parse("var x : real\nlet q = 2 * x\nx ~ normal(0, 1)\n")
    idata = ebmppl.sample(m, sampler="mala", chains=1, draws=5, warmup=5, progress=False, verbose=False)
    assert idata.posterior.attrs["lets"] == "q"


def test_read_samples_refuses_files_that_hold_no_draws(tmp_path):
    import xarray as xr
    (tmp_path / "d").mkdir()
    with pytest.raises(EbmError, match="is a folder, not a file"):
        D.read_samples(tmp_path / "d")
    xr.Dataset({"x": ("sample", np.arange(10.0))}).to_netcdf(tmp_path / "flat.nc", group="posterior",
                                                              engine="h5netcdf")
    with pytest.raises(EbmError, match=r"'x' has dims \(sample\), not \(chain, draw") as info:
        D.read_samples(tmp_path / "flat.nc")
    assert info.value.kind == "data"
    xr.Dataset({"x": (("chain", "draw"), np.array([["a"] * 5] * 2, dtype=object))}).to_netcdf(
        tmp_path / "text.nc", group="posterior", engine="h5netcdf")
    with pytest.raises(EbmError, match="not numbers"):
        D.read_samples(tmp_path / "text.nc")


@pytest.mark.parametrize("kw", [dict(rhat_max=float("nan")), dict(ess_min=-1), dict(min_chains=0),
                                dict(target_accept=1.5), dict(max_tree_depth=0)])
def test_thresholds_are_checked(kw):
    with pytest.raises(EbmError, match=f"{next(iter(kw))}=") as info:
        ebmppl.diagnose(_idata(), **kw)
    assert info.value.kind == "usage"


@pytest.mark.parametrize("states, suggests, never", [((0, 1), "gwg", None), ((-1, 1), "gwg", None),
                                                      ((0, 1, 2), "pt", "gwg")])
def test_a_slow_gibbs_run_is_sent_only_to_samplers_that_accept_the_model(states, suggests, never):
    """gwg moves binary and spin variables only: a categorical model's hint names parallel tempering instead."""
    rng = np.random.default_rng(0)
    stuck = np.repeat(rng.choice(states, size=(4, 10, 3)), 20, axis=1)  # 200 draws in runs of 20: low ESS
    idata = D.to_inference_data({"c": stuck}, {}, {}, {}, {"sampler": "gibbs"})
    hints = " ".join(w.hint for w in D.diagnose(idata).warnings if w.kind.startswith("ess"))
    assert f"sampler='{suggests}'" in hints, hints
    assert never is None or never not in hints, hints
