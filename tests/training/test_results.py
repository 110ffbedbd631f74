"""Fit results shown and kept: the param table (stdout, params.json, fit-report.md), per-step param traces in
the history, FitResult.save / ebmppl.load_fit round trips, hostile saved fits, short reprs."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import typing
import zipfile

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.cli import main
from ebmppl.errors import EbmError
from ebmppl.report.fit import _energies
from ebmppl.report.markdown import _verdict
from ebmppl.report.values import Chains, Moments, Report

TINY = """var x : real[2]
param a : positive = 1.0
param mu : real[2] = 0.0
param f : mlp(2, [4], 1)
factor e = a * sum((x - mu)^2) + f(x)[0]
"""
BITS = """var v : binary[3]
param w : real[3] = 0.0
param b : real = 0.0
factor e = -sum(w * v) - b * v[0] * v[1]
"""
GAUSS = """var x : real[2]
param a : positive = 1.0
param mu : real[2] = 0.0
factor e = a * sum((x - mu)^2)
"""
STEPS = 60


@pytest.fixture(scope="module")
def tiny():
    x = np.random.default_rng(0).normal(0.5, 1.0, size=(200, 2)).astype(np.float32)
    return ebm.parse(TINY, "tiny.ebm"), {"x": x}


@pytest.fixture(scope="module")
def bits():
    v = (np.random.default_rng(1).random((300, 3)) < [0.2, 0.5, 0.8]).astype(np.float32)
    return ebm.parse(BITS, "bits.ebm"), {"v": v}


@pytest.fixture(scope="module")
def ssm_fit(tiny):
    model, data = tiny
    return ebm.fit(model, data, method="ssm", steps=STEPS, chunk=30, lr=0.01, progress=False)


@pytest.fixture(scope="module")
def pcd_fit(bits):
    model, data = bits
    return ebm.fit(model, data, method="pcd", steps=STEPS, chunk=30, lr=0.05, progress=False)


@pytest.fixture(scope="module")
def vi_fit(tiny):
    model, data = tiny
    return ebm.fit(model, data, method="vi", steps=4, chunk=4, progress=False, flow_layers=1, hidden=4, q_steps=1)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "gauss.ebm").write_text(GAUSS)
    x = np.random.default_rng(2).normal(0.5, 1.0, size=(200, 2))
    np.savetxt(d / "x.csv", x, delimiter=",", header="x[0],x[1]", comments="")
    out = d / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["fit", str(d / "gauss.ebm"), "--data", str(d / "x.csv"), "--method", "ssm", "--steps", "40",
                     "--lr", "0.01", "--out", str(out), "--no-progress", "--no-report"])
    assert code == 0
    return out, buf.getvalue(), ebm.parse(GAUSS, str(d / "gauss.ebm"))


# ------------------------------------------------------------------ the param table
def test_cli_prints_every_scalar_param_after_the_final_loss(cli_run):
    out, stdout, model = cli_run
    saved = np.load(out / "params.npz", allow_pickle=False)
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "final loss" in line)
    assert lines[at + 1] == "params:"
    table = {m.group(1): m.group(2) for m in (re.match(r"  (\S+)\s+(.*)$", line) for line in lines[at + 2:])
             if m}
    assert float(table["a"]) == pytest.approx(float(saved["a"]), rel=1e-5)
    mu = [float(t) for t in table["mu"].strip("[]").split(",")]
    np.testing.assert_allclose(mu, saved["mu"], rtol=1e-5)
    assert set(table) == {"a", "mu"}
    assert lines[at + 4].startswith("wrote ")


def test_the_table_shows_an_mlp_by_its_arrays(ssm_fit):
    lines = ssm_fit.param_table.splitlines()
    assert lines[0] == "params:" and [line.split()[0] for line in lines[1:]] == ["a", "mu", "f/W0", "f/W1", "f/b0",
                                                                                  "f/b1"]
    assert lines[1].split()[1] == f"{float(ssm_fit.params['a']):.6g}"


def test_params_json_has_the_values_and_no_internal_key(cli_run):
    out, _, _ = cli_run
    meta = json.loads((out / "params.json").read_text())
    saved = np.load(out / "params.npz", allow_pickle=False)
    assert meta["values"]["a"] == pytest.approx(float(saved["a"]), rel=1e-7)
    np.testing.assert_allclose(meta["values"]["mu"], saved["mu"], rtol=1e-7)
    assert "_loop" not in json.dumps(meta)
    assert meta["loop"]["lr"] == 0.01 and meta["loop"]["steps"] == 40 and meta["options"] == {}


def test_large_arrays_are_summarized_by_their_moments():
    from ebmppl.model.summary import param_lines, param_values
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = param_values({"w": w, "s": np.float32(2.5)})
    assert v["s"] == 2.5
    assert v["w"] == {"shape": [3, 4], "mean": 5.5, "sd": pytest.approx(float(w.std())), "min": 0.0, "max": 11.0}
    assert param_lines({"w": w})[0].split() == ["w", "shape", "[3,", "4]", "mean", "5.5", "sd", f"{w.std():.4g}",
                                                "min", "0", "max", "11"]


def test_history_has_per_step_param_traces(ssm_fit, pcd_fit):
    h = ssm_fit.history
    assert {"param:a", "norm:mu", "norm:f"} <= set(h)
    for k in ("param:a", "norm:mu", "norm:f"):
        assert len(h[k]) == len(h["loss"]) == STEPS
    # without averaging, the last trace is the returned params
    assert h["param:a"][-1] == pytest.approx(float(ssm_fit.params["a"]), rel=1e-6)
    assert h["norm:mu"][-1] == pytest.approx(float(np.linalg.norm(ssm_fit.params["mu"])), rel=1e-5)
    w = np.concatenate([np.ravel(a) for a in ssm_fit.params["f"].values()])
    assert h["norm:f"][-1] == pytest.approx(float(np.linalg.norm(w)), rel=1e-5)
    assert h["param:a"][0] != h["param:a"][-1]  # it moved, step by step
    assert len(pcd_fit.history["param:b"]) == STEPS and len(pcd_fit.history["norm:w"]) == STEPS


def test_the_training_figure_draws_the_traces(ssm_fit, tmp_path):
    from ebmppl import plots
    import matplotlib
    matplotlib.use("Agg")
    path = plots.training_curves(tmp_path / "t.png", ssm_fit.history, "ssm", "tiny")
    assert path.stat().st_size > 0


def test_the_report_tables_the_params(pcd_fit):
    from ebmppl.model.summary import param_values
    from ebmppl.report.markdown import write_markdown
    import pathlib
    import tempfile
    from dataclasses import replace
    rep = replace(_report(0.5, {}), params=param_values(pcd_fit.params))
    with tempfile.TemporaryDirectory() as d:
        figs = [pathlib.Path(d) / "a.png", pathlib.Path(d) / "b.png"]
        text = write_markdown(pathlib.Path(d) / "r.md", ebm.parse(BITS, "bits.ebm"), rep, figs, True).read_text()
    w = ", ".join(f"{x:.6g}" for x in pcd_fit.params["w"])
    assert f"| `w` | [{w}] |" in text and f"| `b` | {float(pcd_fit.params['b']):.6g} |" in text


@pytest.mark.slow
def test_fit_report_shows_the_params(pcd_fit, bits, tmp_path):
    from ebmppl.report import fit_report
    model, data = bits
    rep = fit_report(model, pcd_fit, data, tmp_path, n_samples=16, draws=4, warmup=5, thin=1, permutations=20,
                     persistent_chains=0)
    text = (tmp_path / "fit-report.md").read_text()
    assert "## Fitted params" in text
    assert f"| `b` | {float(pcd_fit.params['b']):.6g} |" in text
    assert rep.params["b"] == pytest.approx(float(pcd_fit.params["b"]))
    # 6 steps in the last tenth: too few for the gap's standard error, so the verdict is left alone
    assert rep.energies["tail"] == STEPS // 10 and np.isnan(rep.energies["gap_se"]) and not rep.gap_off_zero


# ------------------------------------------------------------------ reconciling the report's signals
def _report(p_value, energies):
    m = Moments(("x",), np.zeros(1), np.ones(1), np.zeros(1), np.ones(1))
    c = Chains("gibbs", "data rows", 4, 4, 0, 1, np.ones(1), np.ones(1), 0.0, p_value)
    return Report("pcd", 100, "steps", 0.1, None, 10, 10, 0.0, p_value, 1.0, 50, m, c, energies=energies)


def test_an_energy_gap_away_from_zero_is_named_next_to_the_mmd_verdict():
    rng = np.random.default_rng(0)
    stuck = {"e_pos": rng.normal(-1.0, 0.1, 2000), "e_neg": rng.normal(-0.4, 0.1, 2000)}
    e = _energies(stuck)
    assert e["gap"] == pytest.approx(-0.6, abs=0.05) and 0 < e["gap_se"] < 0.05 and e["tail"] == 200
    verdict = _verdict(_report(0.6, e))
    assert "no detectable difference" not in verdict and "energy gap is not zero" in verdict
    assert "-0.6" in verdict or "−0.6" in verdict
    # a gap that is noise around zero leaves the verdict alone
    fine = _energies({"e_pos": rng.normal(-1.0, 0.1, 2000), "e_neg": rng.normal(-1.0, 0.1, 2000)})
    assert abs(fine["gap"]) < 3 * fine["gap_se"]
    assert _verdict(_report(0.6, fine)).startswith("no detectable difference")
    assert _verdict(_report(0.6, {})).startswith("no detectable difference")


# ------------------------------------------------------------------ saving and loading
def _same_tree(a, b):
    import jax
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("which", ["ssm_fit", "pcd_fit", "vi_fit"])
def test_save_and_load_round_trip(which, request, tmp_path, tiny, bits):
    res = request.getfixturevalue(which)
    model = bits[0] if which == "pcd_fit" else tiny[0]
    res.save(tmp_path / "run")
    for back in (ebm.load_fit(tmp_path / "run"), ebm.load_fit(tmp_path / "run", model)):
        _same_tree(back.params, res.params)
        assert np.asarray(back.params["a" if which != "pcd_fit" else "b"]).dtype == np.float32
        _same_tree(back.history, res.history)
        _same_tree(back.extra, res.extra)
        _same_tree(back.state, res.state)
        for f in ("method", "options", "loop", "stopped", "fingerprint", "steps_done", "interrupted", "failure",
                  "params_usable", "model_name"):
            assert getattr(back, f) == getattr(res, f), f
    if which == "vi_fit":
        assert back.extra["q"]  # the sampler's weights
    if which == "pcd_fit":
        assert back.state["v"].shape[1:] == (3,)  # the persistent chains


def test_load_fit_reads_a_cli_run(cli_run):
    out, _, model = cli_run
    back = ebm.load_fit(out, model)
    assert back.method == "ssm" and back.steps_done == 40 and len(back.history["param:a"]) == 40
    assert np.asarray(back.params["a"]).shape == () and np.asarray(back.params["a"]).dtype == np.float32


def _copy(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def _rewrite_npz(path, change):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _pickled_member(path):
    with zipfile.ZipFile(path, "a") as z:
        buf = io.BytesIO()
        np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        z.writestr("evil.npy", buf.getvalue())


def _edit_json(path, change):
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


HOSTILE = {
    "missing params": lambda d: (d / "params.npz").unlink(),
    "missing history": lambda d: (d / "history.npz").unlink(),
    "missing sidecar": lambda d: (d / "params.json").unlink(),
    "not a folder": lambda d: shutil.rmtree(d),
    "wrong dtype": lambda d: _rewrite_npz(d / "params.npz", lambda a: a.update(a=a["a"].astype(np.float64))),
    "tampered shape": lambda d: _rewrite_npz(d / "params.npz", lambda a: a.update(mu=np.zeros(3, np.float32))),
    "tampered history": lambda d: _rewrite_npz(d / "history.npz", lambda a: a.update(loss=a["loss"][:-1])),
    "string array": lambda d: _rewrite_npz(d / "history.npz", lambda a: a.update(loss=np.array(["x"]))),
    "pickle in params": lambda d: _pickled_member(d / "params.npz"),
    "pickle in history": lambda d: _pickled_member(d / "history.npz"),
    "sidecar shape": lambda d: _edit_json(d / "params.json", lambda m: m["arrays"]["mu"].update(shape=[3])),
    "sidecar dtype": lambda d: _edit_json(d / "params.json", lambda m: m["arrays"]["a"].update(dtype="object")),
    "history shape": lambda d: _edit_json(d / "params.json",
                                          lambda m: m["history"]["arrays"]["loss"].update(shape=[1, 2])),
    "history file": lambda d: _edit_json(d / "params.json", lambda m: m["history"].update(file="../x.npz")),
    "bad json": lambda d: (d / "params.json").write_text("{"),
    "bad result": lambda d: (d / "params.json").write_text(json.dumps(
        {**json.loads((d / "params.json").read_text()), "result": {"stopped": 3}})),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_saved_fit_is_an_ebm_error(case, ssm_fit, tmp_path, monkeypatch):
    ssm_fit.save(tmp_path / "run")
    d = _copy(tmp_path / "run", tmp_path)
    HOSTILE[case](d)
    import pickle
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(EbmError):
        ebm.load_fit(d)


def test_another_models_fit_is_refused(ssm_fit, bits, tmp_path):
    ssm_fit.save(tmp_path / "run")
    with pytest.raises(EbmError, match="another model"):
        ebm.load_fit(tmp_path / "run", bits[0])


def test_hostile_extras_are_refused(pcd_fit, tmp_path):
    pcd_fit.save(tmp_path / "run")
    _rewrite_npz(tmp_path / "run" / "extras.npz", lambda a: a.update({"state/v": a["state/v"][:2]}))
    with pytest.raises(EbmError, match="extras.npz"):
        ebm.load_fit(tmp_path / "run")


# ------------------------------------------------------------------ reprs
def _short(text, lines=3, width=200):
    assert len(text.splitlines()) <= lines and all(len(line) <= width for line in text.splitlines()), text


def test_reprs_are_short_and_html_is_produced(ssm_fit, tiny):
    _short(repr(ssm_fit))
    assert "a=" in repr(ssm_fit) and "ssm" in repr(ssm_fit)
    assert "<table>" in ssm_fit._repr_html_() and "f/W0" in ssm_fit._repr_html_()
    model = tiny[0]
    _short(repr(model))
    assert "<pre>" in model._repr_html_()
    z = ebm.LogZ(1.5, 0.01, "ais", "annealed importance sampling " * 10)
    _short(repr(z))
    assert "log Z" in z._repr_html_()


def test_diagnosis_repr_and_type_hints():
    import arviz as az
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"x": rng.normal(size=(4, 200))})
    d = ebm.diagnose(idata)
    _short(repr(d))
    assert repr(d).startswith("Diagnosis(") and "<table" in d._repr_html_()
    hints = typing.get_type_hints(ebm.Diagnosis)
    assert set(hints) >= {"table", "warnings", "sampler", "chains", "draws"}


def test_the_package_is_typed():
    from importlib.resources import files
    assert files("ebmppl").joinpath("py.typed").is_file()
