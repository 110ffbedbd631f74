"""Numerical faults: energies that are NaN or infinite in part of the space.

Samplers must count the failed moves (``sample_stats.diverging``) and never return a NaN
draw; `fit` must stop at the first non-finite loss, say at which step and with which last
finite loss, and keep the last good params and checkpoint; a model with no finite starting
point must name the factor and its source line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import ebmppl
from ebmppl.cli import main
from ebmppl.errors import EbmError

# log(x - 1) is NaN for x < 1: the density lives on x > 1 only
HALF_LINE = "var x : real\nfactor f = 0.5 * x^2 - log(x - 1)\n"


@pytest.fixture(scope="module")
def half_line():
    return ebmppl.parse(HALF_LINE, "half_line.ebm")


@pytest.mark.parametrize("sampler", ["nuts", "mala", "rwmh", "ula"])
def test_samplers_reject_non_finite_moves_and_count_them(half_line, sampler):
    idata = ebmppl.sample(half_line, sampler=sampler, chains=2, draws=150, warmup=100, progress=False, key=1,
                          step_size=0.5 if sampler == "ula" else None, verbose=False)
    x = idata.posterior["x"].values
    assert np.all(np.isfinite(x)), "a NaN draw escaped"
    assert x.min() > 1.0, "a draw left the region where the density is defined"
    assert np.all(np.isfinite(idata.sample_stats["lp"].values))
    n_div = int(idata.sample_stats["diverging"].sum())
    assert n_div > 0, "moves into the NaN region were not counted"


def test_cli_sample_reports_divergences(tmp_path, capsys):
    model = tmp_path / "half_line.ebm"
    model.write_text(HALF_LINE)
    rc = main(["sample", str(model), "--sampler", "rwmh", "--chains", "2", "--draws", "100", "--warmup", "100",
               "--out", str(tmp_path / "s"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "divergent transitions" in out, out


# ------------------------------------------------------------ init
NO_START = "var x : real\nfactor ok = x^2\nfactor bad = -log(x - 10)   # finite only for x > 10\n"


@pytest.mark.parametrize("sampler", ["mala", "nuts"])
def test_no_finite_start_names_the_factor_and_its_line(sampler):
    m = ebmppl.parse(NO_START, "nostart.ebm")
    with pytest.raises(EbmError) as info:
        ebmppl.sample(m, sampler=sampler, chains=2, draws=10, warmup=10, progress=False, verbose=False)
    e = info.value
    assert e.kind == "init"
    assert "factor 'bad' (nostart.ebm:3)" in e.message
    assert e.span is not None and e.span.line == 3
    assert "nostart.ebm:3:1" in e.render() and "factor bad = -log(x - 10)" in e.render()


def test_cli_no_finite_start_exits_2(tmp_path, capsys):
    model = tmp_path / "nostart.ebm"
    model.write_text(NO_START)
    rc = main(["sample", str(model), "--sampler", "mala", "--draws", "10", "--warmup", "10",
               "--out", str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "error[init]" in err and "nostart.ebm:3" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_given_init_outside_the_region_is_explained(half_line):
    with pytest.raises(EbmError, match=r"the given init: factor 'f' \(half_line.ebm:2\)"):
        ebmppl.sample(half_line, sampler="mala", chains=1, draws=5, warmup=5, init={"x": 0.0}, progress=False,
                      verbose=False)


# ------------------------------------------------------------- fit
# sqrt(a) is NaN for a < 0, and this data pulls a below zero: with this learning rate the loss
# first goes NaN at step 51, just after the checkpoint of step 50
NAN_FIT = "var x : real\nparam a : real = 1.0\nfactor f = 0.5 * x^2 + sqrt(a) * x\n"


@pytest.fixture(scope="module")
def nan_fit_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("nanfit")
    (d / "m.ebm").write_text(NAN_FIT)
    x = np.random.default_rng(0).normal(2.0, 1.0, size=500)
    (d / "d.csv").write_text("x\n" + "".join(f"{v:.6f}\n" for v in x))
    return d


def test_cli_fit_stops_on_nan_and_keeps_the_last_good_params(nan_fit_files, tmp_path, capsys):
    d = nan_fit_files
    out = tmp_path / "out"
    rc = main(["fit", str(d / "m.ebm"), "--data", str(d / "d.csv"), "--method", "sm", "--optimizer", "sgd",
               "--lr", "0.01", "--steps", "400", "--batch-size", "100", "--checkpoint-every", "50",
               "--out", str(out), "--no-progress", "--no-report"])
    cap = capsys.readouterr()
    assert rc == 1, cap.err  # 1: finished, but on a numerical failure
    assert "Traceback" not in cap.err
    assert "warning: stopped at step 51: the loss or its gradient is not finite" in cap.err
    assert "last finite loss" in cap.err and "(step 50)" in cap.err and "kept the params of step 50" in cap.err
    meta = json.loads((out / "params.json").read_text())
    assert meta["final"]["steps"] == 51 and meta["final"]["stopped"].startswith("stopped at step 51")
    m = ebmppl.parse(NAN_FIT, str(d / "m.ebm"))
    params = ebmppl.io.load_params(out / "params.npz", m)  # load_params refuses non-finite arrays
    assert 0 < params["a"] < 1
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["step"] == 50  # the last good checkpoint, not overwritten by the failed chunk
    with np.load(out / "checkpoints" / state["file"], allow_pickle=False) as f:
        assert all(np.all(np.isfinite(f[k])) for k in f.files)
    history = (out / "history.csv").read_text().strip().split("\n")
    assert len(history) == 1 + 51 and "nan" not in (out / "history.csv").read_text()
    assert not [p for p in out.rglob("*.tmp")]


def test_cli_fit_with_no_finite_step(tmp_path, capsys):
    # ring's energy uses norm(x), whose gradient is NaN at the origin: every step fails
    data = tmp_path / "zeros.csv"
    data.write_text("x[0],x[1]\n" + "0,0\n" * 20)
    rc = main(["fit", "examples/ring.ebm", "--data", str(data), "--method", "sm", "--steps", "20",
               "--out", str(tmp_path / "o"), "--no-progress", "--no-report"])
    cap = capsys.readouterr()
    assert rc == 1 and "Traceback" not in cap.err
    assert "stopped at step 0" in cap.err and "no step had a finite loss" in cap.err
    assert "kept the initial params" in cap.err and "final loss none" in cap.out


# ---------------------------------------------------- chains that run away
def test_a_step_far_too_large_gives_finite_draws_and_a_warning():
    m = ebmppl.parse("var x : real[2]\nfactor f = sum(x^2)\n")
    with pytest.warns(UserWarning, match="ran away"):
        idata = ebmppl.sample(m, sampler="ula", chains=2, draws=50, warmup=0, step_size=5.0, progress=False,
                              verbose=False)
    assert np.all(np.isfinite(idata.posterior["x"].values))


@pytest.mark.parametrize("text", ["var x : real\nfactor f = -x^2\n", "var x : real\nfactor f = log(x)\n"])
def test_cli_logz_of_an_improper_model_exits_2(tmp_path, capsys, text):
    model = tmp_path / "m.ebm"
    model.write_text(text)
    rc = main(["logz", str(model)])
    cap = capsys.readouterr()
    assert rc == 2 and "error[logz]" in cap.err and "looks improper" in cap.err and "log Z =" not in cap.out
