"""The precision guard: a float32 NUTS/HMC run that diverges often while its step size collapses (or its mass
matrix spreads over many orders of magnitude, or its gradients are not finite) is told to rerun in float64."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ebmppl
from ebmppl import diagnostics as D
from ebmppl.cli import main

ROOT = Path(__file__).resolve().parents[2]
GP, GP_DATA = ROOT / "examples" / "gp_pois_regr.ebm", ROOT / "examples" / "data" / "gp_pois_regr.json"


def _stats(div_frac, step, chains=4, draws=200):
    """Per-draw statistics: in each chain the first ``div_frac[c]`` of the draws diverged; step sizes ``step[c]``."""
    div = np.zeros((chains, draws), bool)
    for c, f in enumerate(div_frac):
        div[c, : int(round(f * draws))] = True
    return div, np.repeat(np.asarray(step, float)[:, None], draws, axis=1)


HEALTHY = ([0.0, 0.005, 0.0, 0.0], [0.3, 0.25, 0.4, 0.3])


@pytest.mark.parametrize("div_frac, step, mass, grads, fires", [
    (*HEALTHY, None, True, False),
    ([0.0, 0.05, 0.0, 0.0], [0.3, 1e-5, 0.4, 0.3], None, True, True),  # one chain collapsed and diverging
    ([0.0, 0.005, 0.0, 0.0], [0.3, 1e-5, 0.4, 0.3], None, True, False),  # collapsed, but divergences at 0.5%
    ([0.3, 0.3, 0.3, 0.3], [0.3, 0.25, 0.4, 0.3], None, True, False),  # diverging at a sane step: geometry
    ([0.3, 0.3, 0.3, 0.3], [0.3, 0.25, 0.4, 0.3], np.array([[1.0, 1e-9]] * 4), True, True),  # mass spread 1e9
    ([0.3, 0.3, 0.3, 0.3], [0.3, 0.25, 0.4, 0.3], np.array([[1.0, 1e-3]] * 4), True, False),
    (*HEALTHY, None, False, True),  # non-finite gradients
])
def test_rule(div_frac, step, mass, grads, fires):
    div, ss = _stats(div_frac, step)
    found = D.precision(div, ss, True, "nuts", mass, grads)
    assert bool(found) == fires
    if fires:
        (w,) = found
        assert w.kind == "precision" and "--x64" in w.hint and "ebmppl.config(x64=True)" in w.hint


@pytest.mark.parametrize("float32, sampler", [(False, "nuts"), (True, "mala"), (True, "gibbs")])
def test_rule_is_for_float32_nuts_and_hmc_only(float32, sampler):
    div, ss = _stats([0.5] * 4, [1e-6] * 4)
    assert D.precision(div, ss, float32, sampler) == []
    assert D.precision(div, ss, True, "hmc")


def test_mass_matrix_of_other_chains_is_ignored():
    div, ss = _stats([0.3] * 4, [0.3] * 4)
    assert D.precision(div, ss, True, "nuts", np.array([[1.0, 1e-12]] * 2)) == []  # 2 rows for 4 chains


def test_a_healthy_run_is_not_warned_and_diagnose_agrees():
    m = ebmppl.parse("var x : real[2]\nx ~ normal(0, [1, 100])\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ebmppl.sample(m, sampler="nuts", chains=2, draws=200, warmup=200, progress=False, verbose=False)
    assert not [w for w in caught if "precision" in str(w.message)]
    assert "precision" not in ebmppl.diagnose(idata).kinds


@pytest.mark.slow
def test_gp_pois_regr_in_float32_prints_the_precision_warning(tmp_path, capsys):
    # the smallest run that showed it for each of 6 seeds tried: 4 chains of 100 warmup steps and 100 draws
    code = main(["sample", str(GP), "--data", str(GP_DATA), "--chains", "4", "--warmup", "100", "--draws", "100",
                 "--seed", "0", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: the nuts run in float32 shows the signs of too little precision" in err and "--x64" in err
    assert "precision" in D.diagnose(D.from_netcdf(tmp_path / "o" / "samples.nc")).kinds


@pytest.mark.slow
def test_gp_pois_regr_as_documented_in_float64_is_not_warned(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ebmppl", "sample", str(GP), "--data", str(GP_DATA), "--x64",
                          "--chains", "4", "--warmup", "500", "--draws", "500", "--seed", "0",
                          "--out", str(tmp_path / "o"), "--no-progress"], capture_output=True, text=True, cwd=ROOT,
                         timeout=900)
    assert out.returncode == 0, out.stderr
    assert "precision" not in out.stderr
    idata = D.from_netcdf(tmp_path / "o" / "samples.nc")
    div = float(np.asarray(idata.sample_stats["diverging"]).mean())
    assert div < 0.01 and float(D.rhat(idata, ["rho", "alpha"]).to_array().max()) < 1.05
