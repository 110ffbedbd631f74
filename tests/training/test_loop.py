"""The training loop: NaN guard, checkpoints, exact resume (also after SIGKILL), sharding, data errors, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.cli import main
from ebmppl.errors import EbmError
from ebmppl import fit
from tests.conftest import DATA, EXAMPLES, ROOT

RING_DATA = DATA / "ring.csv"


@pytest.fixture(scope="module")
def ring_xy():
    return np.loadtxt(RING_DATA, delimiter=",", skiprows=1)


def test_history_and_result(ring_xy):
    m = ebm.load(EXAMPLES / "ring.ebm")
    r = fit(m, {"x": ring_xy}, method="ssm", steps=120, batch_size=100, chunk=40, val_frac=0.2, progress=False)
    h = r.history
    assert len(h["loss"]) == 120 and list(h["step"][:3]) == [0, 1, 2]
    assert len(h["val_loss"]) == 3 and list(h["val_step"]) == [40, 80, 120]
    assert np.all(np.isfinite(h["grad_norm"])) and np.all(h["time"] > 0)
    assert r.params["r"] > 0 and r.method == "ssm" and r.fingerprint == m.fingerprint


def test_nan_guard_keeps_last_good_params(capsys):
    # the data pull sqrt(a) below zero, where it is NaN: the run must stop there
    m = ebm.parse("var x : real\nparam a : real = 1.0\nfactor f = 0.5 * x^2 + sqrt(a) * x")
    x = np.random.default_rng(0).normal(2.0, 1.0, size=500)
    r = fit(m, {"x": x}, method="sm", steps=400, batch_size=100, lr=0.1, optimizer="sgd", progress=False, chunk=20)
    assert r.stopped.startswith("stopped at step") and "not finite" in r.stopped and "last finite loss" in r.stopped
    assert np.isfinite(r.params["a"]) and r.params["a"] > 0
    assert len(r.history["loss"]) < 400 and np.all(np.isfinite(r.history["loss"]))
    assert "warning: stopped at step" in capsys.readouterr().err
    # the chunks run unguarded and a chunk with a bad step is replayed under the guard: the kept params are
    # exactly those of an uninterrupted run up to the last good step
    bs = int(r.stopped.split()[3].rstrip(":"))
    upto = fit(m, {"x": x}, method="sm", steps=bs - 1, batch_size=100, lr=0.1, optimizer="sgd", progress=False,
               chunk=20)
    assert r.params["a"] == upto.params["a"]
    np.testing.assert_array_equal(r.history["loss"][:-1], upto.history["loss"])  # + the last good step's loss
    # the same when the bad step is the first of a chunk (the last good params come from the chunk before)
    assert bs >= 2
    edge = fit(m, {"x": x}, method="sm", steps=400, batch_size=100, lr=0.1, optimizer="sgd", progress=False,
               chunk=bs)
    assert edge.stopped == r.stopped and edge.params["a"] == upto.params["a"]


@pytest.mark.parametrize("method", ["pcd", "dsm"])
def test_results_do_not_depend_on_the_block_size(monkeypatch, ring_xy, method):
    # a block of steps gathers its batches and draws its numbers up front; the numbers are those of
    # drawing inside each step, so the block size changes nothing (here 1; 8, which leaves a remainder in each
    # chunk of 29 steps; and the default, one block a chunk)
    from ebmppl.training import trainer
    if method == "pcd":
        m = ebm.parse("var v : binary[6]\nlatent h : binary[3]\nparam W : real[6, 3] ~ normal(0, 0.1)\n"
                      "param b : real[6] = 0\nparam c : real[3] = 0\nfactor rbm = -(v @ W @ h + b @ v + c @ h)")
        data = {"v": (np.random.default_rng(0).random((200, 6)) < 0.3).astype(float)}
        kw = dict(method="pcd", batch_size=10, lr=0.05, optimizer="sgd", average=0.9)
    else:
        m, data = ebm.load(EXAMPLES / "ring.ebm"), {"x": ring_xy}
        kw = dict(method="dsm", batch_size=64, sigma=[0.1, 0.3])
    runs = []
    assert trainer.block_size(29, 8) == 8 and trainer.block_size(30, 8) == 6 and trainer.block_size(1500, 128) == 125
    for block in (1, 8, trainer.BLOCK_MAX):
        monkeypatch.setattr(trainer, "BLOCK_MAX", block)
        runs.append(fit(m, data, steps=58, chunk=29, progress=False, key=2, **kw))
    for r in runs[1:]:
        for name in r.params:
            np.testing.assert_array_equal(r.params[name], runs[0].params[name])
        np.testing.assert_array_equal(r.history["loss"], runs[0].history["loss"])


def test_loop_options_as_one_value_or_one_by_one(ring_xy):
    # fit's loop knobs given as keywords or as one LoopOptions are the same run; giving one both ways is an error
    from ebmppl.training import LoopOptions
    m = ebm.load(EXAMPLES / "ring.ebm")
    kw = dict(steps=60, batch_size=64, chunk=20, val_frac=0.2, patience=5, average=0.9, clip_norm=10.0,
              progress=False)
    plain = fit(m, {"x": ring_xy}, method="ssm", key=4, **kw)
    grouped = fit(m, {"x": ring_xy}, method="ssm", key=4, loop=LoopOptions(**kw))
    for name in plain.params:
        np.testing.assert_array_equal(plain.params[name], grouped.params[name])
    for name in ("loss", "val_loss", "val_step"):
        np.testing.assert_array_equal(plain.history[name], grouped.history[name])
    assert plain.options == grouped.options and plain.stopped == grouped.stopped
    with pytest.raises(EbmError, match="'steps' is given twice"):
        fit(m, {"x": ring_xy}, method="ssm", steps=60, loop=LoopOptions(steps=60, progress=False))
    with pytest.raises(EbmError, match="loop must be a LoopOptions"):
        fit(m, {"x": ring_xy}, method="ssm", loop={"steps": 60})


def test_fit_signature_shows_the_loop_defaults():
    import dataclasses
    import inspect

    from ebmppl.training import LoopOptions
    sig = inspect.signature(fit).parameters
    for f in dataclasses.fields(LoopOptions):
        assert repr(sig[f.name].default) == repr(f.default), f.name


def test_early_stopping(ring_xy):
    m = ebm.load(EXAMPLES / "ring.ebm")
    r = fit(m, {"x": ring_xy}, method="ssm", steps=5000, batch_size=200, lr=0.0, chunk=10, val_frac=0.2,
            patience=2, progress=False)
    assert r.stopped.startswith("early stopping") and len(r.history["loss"]) < 5000


def test_resume_gives_identical_params(tmp_path, ring_xy):
    m = ebm.load(EXAMPLES / "ring.ebm")
    kw = dict(method="ssm", batch_size=128, chunk=25, progress=False, key=3)
    full = fit(m, {"x": ring_xy}, steps=200, **kw)
    fit(m, {"x": ring_xy}, steps=100, checkpoint_dir=tmp_path, checkpoint_every=50, **kw)
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 100
    resumed = fit(m, {"x": ring_xy}, steps=200, checkpoint_dir=tmp_path, checkpoint_every=50, resume=True, **kw)
    for k in full.params:
        np.testing.assert_array_equal(full.params[k], resumed.params[k])
    np.testing.assert_array_equal(full.history["loss"], resumed.history["loss"])
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_refuses_another_method(tmp_path, ring_xy):
    m = ebm.load(EXAMPLES / "ring.ebm")
    fit(m, {"x": ring_xy}, method="ssm", steps=50, batch_size=64, chunk=25, checkpoint_dir=tmp_path,
        checkpoint_every=25, progress=False)
    with pytest.raises(EbmError, match="method 'ssm'"):
        fit(m, {"x": ring_xy}, method="dsm", steps=50, batch_size=64, chunk=25, checkpoint_dir=tmp_path,
            checkpoint_every=25, resume=True, progress=False)


def _cli_fit(out, extra=()):
    return [sys.executable, "-m", "ebmppl", "fit", str(EXAMPLES / "ring.ebm"), "--data", str(RING_DATA),
            "--method", "ssm", "--steps", "3000", "--batch-size", "64", "--seed", "5", "--out", str(out),
            "--checkpoint-every", "100", "--no-progress", *extra]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    ref = tmp_path / "ref"
    subprocess.run(_cli_fit(ref), check=True, capture_output=True, cwd=ROOT)
    out = tmp_path / "killed"
    for attempt in range(3):  # kill it a few times, at different points
        p = subprocess.Popen(_cli_fit(out, ["--resume"] if attempt else []), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(6 + 2 * attempt)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
    subprocess.run(_cli_fit(out, ["--resume"]), check=True, capture_output=True, cwd=ROOT)
    a = np.load(ref / "params.npz")
    b = np.load(out / "params.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_data_parallel_over_four_devices_matches_one(ring_xy):
    code = """
import json, sys, numpy as np, jax, ebmppl
from ebmppl import fit
x = np.loadtxt("examples/data/ring.csv", delimiter=",", skiprows=1)
r = fit(ebmppl.load("examples/ring.ebm"), {"x": x}, method="dsm", steps=60, batch_size=128, chunk=30,
        progress=False, key=1)
print(json.dumps({"devices": jax.device_count(), "r": float(r.params["r"]), "k": float(r.params["k"])}))
"""
    res = {}
    for n in (1, 4):
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        res[n] = json.loads(out.stdout.strip().splitlines()[-1])
    assert res[4]["devices"] == 4
    np.testing.assert_allclose([res[4]["r"], res[4]["k"]], [res[1]["r"], res[1]["k"]], rtol=1e-4)


@pytest.mark.parametrize("data, pattern", [
    ({"y": np.zeros((3, 2))}, "no values for var 'x'"),
    ({"x": np.zeros((3, 3))}, r"rows of shape \[3\]"),
    ({"x": np.array([[0.0, np.nan]])}, "not finite in row 0"),
])
def test_bad_data(data, pattern):
    with pytest.raises(EbmError, match=pattern):
        fit(ebm.load(EXAMPLES / "ring.ebm"), data, method="ssm", steps=5, progress=False)


def test_bad_requests():
    m = ebm.load(EXAMPLES / "ring.ebm")
    x = {"x": np.zeros((10, 2))}
    with pytest.raises(EbmError, match="unknown method"):
        fit(m, x, method="magic", progress=False)
    with pytest.raises(EbmError, match="bad option for method 'ssm'"):
        fit(m, x, method="ssm", steps=5, progress=False, sigma=0.1)
    with pytest.raises(EbmError, match="needs real-valued variables"):
        fit(ebm.load(EXAMPLES / "rbm.ebm"), {"v": np.zeros((4, 64))}, method="ssm", steps=5, progress=False)
    with pytest.raises(EbmError, match="no params"):
        fit(ebm.parse("var x : real\nx ~ normal(0, 1)"), {"x": np.zeros(3)}, progress=False)


# ---------------------------------------------------------------------- CLI
CLI_CASES = [("ring", "ring.csv", m, []) for m in ["sm", "ssm", "dsm", "nce", "fce", "vi", "cd", "pcd"]] + [
    ("rbm", "digits_binarized.csv", "cd", []), ("rbm", "digits_binarized.csv", "pcd", []),
    ("gaussian", "gaussian.csv", "auto", []), ("mlp", "moons.csv", "ssm", ["--option", "n_projections=2"]),
]


@pytest.mark.parametrize("name, data, method, extra", CLI_CASES)
def test_cli_fit_every_method(tmp_path, capsys, name, data, method, extra):
    rc = main(["fit", str(EXAMPLES / f"{name}.ebm"), "--data", str(DATA / data), "--method", method, "--steps", "40",
               "--batch-size", "64", "--out", str(tmp_path), "--no-progress", "--no-report", *extra])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "params.json").read_text())
    assert meta["fingerprint"] == ebm.load(EXAMPLES / f"{name}.ebm").fingerprint
    assert meta["final"]["steps"] == 40 and np.isfinite(meta["final"]["loss"])
    assert (tmp_path / "history.csv").read_text().count("\n") == 41
    assert (tmp_path / "loss.png").stat().st_size > 1000
    params = ebm.io.load_params(tmp_path / "params.npz", ebm.load(EXAMPLES / f"{name}.ebm"))
    assert set(params) == {s.name for s in ebm.load(EXAMPLES / f"{name}.ebm").params}


def test_cli_fit_bad_data_file(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("x[0],x[1]\n1,2\n3,oops\n")
    rc = main(["fit", str(EXAMPLES / "ring.ebm"), "--data", str(bad), "--out", str(tmp_path / "o"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "row 3, column 2" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_params_of_another_model_are_refused(tmp_path, capsys):
    assert main(["fit", str(EXAMPLES / "ring.ebm"), "--data", str(RING_DATA), "--steps", "5", "--out",
                 str(tmp_path), "--no-progress", "--no-report"]) == 0
    rc = main(["sample", str(EXAMPLES / "gaussian.ebm"), "--params", str(tmp_path / "params.npz"), "--out",
               str(tmp_path)])
    assert rc == 2 and "another model" in capsys.readouterr().err


def test_a_repeated_setup_reuses_its_compiled_programs(ring_xy):
    # fit keeps the compiled programs of its last few setups: the same model, method, options, optimizer
    # and data again (another seed, other steps) traces nothing, and gives what a fresh build gives
    import jax
    from ebmppl.training import api
    m = ebm.load(EXAMPLES / "ring.ebm")
    kw = dict(method="ssm", batch_size=64, chunk=20, progress=False)
    api._SETUPS.clear()
    first = fit(m, {"x": ring_xy}, steps=40, key=1, **kw)
    assert len(api._SETUPS) == 1
    events = []

    def listen(name, seconds, **kwargs):
        events.append(name)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        again = fit(m, {"x": ring_xy}, steps=40, key=2, **kw)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert len(api._SETUPS) == 1
    assert not any("jaxpr_trace" in e or "backend_compile" in e for e in events), events
    api._SETUPS.clear()
    fresh = fit(m, {"x": ring_xy}, steps=40, key=2, **kw)
    for name in fresh.params:
        np.testing.assert_array_equal(again.params[name], fresh.params[name])
    np.testing.assert_array_equal(again.history["loss"], fresh.history["loss"])
    assert not np.array_equal(first.history["loss"], again.history["loss"])  # another seed, another run
    # other data, other options or another model: other setups
    fit(m, {"x": ring_xy[:-1]}, steps=20, key=2, **kw)
    fit(m, {"x": ring_xy}, steps=20, key=2, n_projections=2, **kw)
    fit(ebm.load(EXAMPLES / "ring.ebm"), {"x": ring_xy}, steps=20, key=2, **kw)
    assert len(api._SETUPS) == 4


# ------------------------------------------------------------ fit's keywords, admitted up front
@pytest.mark.parametrize("kw, pattern", [
    (dict(lr=float("nan")), r"lr= must be a number above 0; got nan"),
    (dict(lr=-1e-3), r"lr= must be a number above 0"),
    (dict(steps=0), r"steps= must be a whole number, 1 or more; got 0"),
    (dict(steps=2.5), r"steps= must be a whole number"),
    (dict(batch_size=0), r"batch_size= must be a whole number, 1 or more"),
    (dict(chunk=0), r"chunk= must be a whole number, 1 or more"),
    (dict(average=1.0), r"average= must be a number inside interval\(0, 1\); got 1.0"),
    (dict(clip_norm=-1), r"clip_norm= must be a number above 0; got -1"),
    (dict(patience=0), r"patience= must be a whole number, 1 or more; got 0"),
    (dict(checkpoint_every=0), r"checkpoint_every= must be a whole number, 1 or more"),
    (dict(val_frac=1.5), r"val_frac= must be a number inside interval\(0, 1\); got 1.5"),
    (dict(val_frac=float("inf")), r"val_frac= must be"),
    (dict(key=-1), r"key= must be a whole number, 0 or more; got -1"),
    (dict(key=2**32), r"key= must be at most 2\^32 - 1"),
    (dict(key=True), r"key= must be a whole number"),
    (dict(key=np.zeros(3)), r"key= must be a seed or a jax.random key"),
    (dict(progress="no"), r"progress= must be True or False"),
    (dict(resume=1), r"resume= must be True or False"),
    (dict(steps=True), r"steps= must be a whole number"),
    (dict(steps=2**40), r"steps= is 1099511627776, beyond 2147483647"),
])
def test_fit_keywords_are_admitted_before_anything_runs(kw, pattern):
    from ebmppl.training import LoopOptions
    m = ebm.parse("var x : real\nparam mu : real = 0\nfactor f = (x - mu)^2")
    with pytest.raises(EbmError, match=pattern) as e:
        fit(m, {"x": np.zeros(10)}, method="ssm", **{"progress": False, **kw})
    assert e.value.kind in ("usage", "limit")
    loop_kw = {k: v for k, v in kw.items() if k not in ("lr", "key")}
    if loop_kw:  # the same table admits LoopOptions' fields
        with pytest.raises(EbmError, match=pattern):
            LoopOptions(**loop_kw)


def test_lr_zero_is_admitted_with_a_warning():
    m = ebm.parse("var x : real\nparam mu : real = 0\nfactor f = (x - mu)^2")
    with pytest.warns(UserWarning, match="lr=0: the params will not move"):
        r = fit(m, {"x": np.ones(10)}, method="ssm", steps=2, lr=0, progress=False)
    assert r.params["mu"] == 0 and r.ok


def test_starting_params_are_checked():
    m = ebm.load(EXAMPLES / "ring.ebm")
    with pytest.raises(EbmError, match=r"params\['r'\] is outside the domain positive of param 'r'"):
        fit(m, {"x": np.zeros((10, 2))}, method="ssm", steps=2, params={"r": -1.0, "k": 1.0}, progress=False)


UNDERFLOW = ebm.parse("var x : real\nparam s : positive = 1.0\nfactor f = s * x^2")


@pytest.mark.parametrize("average", [None, 0.5])
def test_params_outside_their_domain_are_no_success(capsys, average):
    # sgd with a huge step sends log(s) so far down that s = exp(log s) is 0 in float32: the loss (0) and its
    # gradient stay finite, so only the domain check sees that the params are not usable
    r = fit(UNDERFLOW, {"x": np.array([1.0, -1.0, 0.5, -2.0, 1.5])}, method="sm", optimizer="sgd", lr=1000.0,
            steps=5, average=average, progress=False)
    assert float(r.params["s"]) == 0.0
    assert not r.ok and not r.params_usable and not r.interrupted
    assert "outside the domain positive of param 's'" in r.failure and r.stopped.startswith("stopped at step 5")
    assert "not usable" in capsys.readouterr().err


# ------------------------------------------------------------ Ctrl-C and exact resume
def _interrupt_at(monkeypatch, name, call, after=False):
    """Raise KeyboardInterrupt in the loop's ``name`` at its ``call``-th call (before it runs, or after)."""
    from ebmppl.training import loop
    real, calls = getattr(loop, name), [0]

    def patched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call and not after:
            raise KeyboardInterrupt
        out = real(*args, **kwargs)
        if calls[0] == call:
            raise KeyboardInterrupt
        return out
    monkeypatch.setattr(loop, name, patched)


@pytest.mark.parametrize("where", [("_chunk", False), ("_record", True), ("_validate", True), ("_progress", False)])
def test_ctrl_c_returns_the_last_whole_chunk(monkeypatch, ring_xy, where):
    m = ebm.load(EXAMPLES / "ring.ebm")
    kw = dict(method="ssm", batch_size=64, chunk=10, val_frac=0.2, key=1, progress=where[0] == "_progress")
    upto = fit(m, {"x": ring_xy}, steps=20, **kw)
    _interrupt_at(monkeypatch, where[0], 3 if where[0] != "_progress" else 2, after=where[1])
    r = fit(m, {"x": ring_xy}, steps=100, **kw)
    assert r.interrupted and not r.ok and r.failure is None and r.params_usable
    assert r.steps_done == 20 and r.stopped == "interrupted at step 20"
    for name in upto.params:
        np.testing.assert_array_equal(r.params[name], upto.params[name])
    for name in ("loss", "step", "val_loss", "val_step"):
        np.testing.assert_array_equal(r.history[name], upto.history[name])


@pytest.mark.parametrize("kw", [dict(lr=0.0, patience=2), dict(lr=0.02, patience=2, average=0.9, clip_norm=5.0)])
def test_ctrl_c_then_resume_with_validation_and_patience_is_exact(monkeypatch, tmp_path, ring_xy, kw):
    import warnings
    m = ebm.load(EXAMPLES / "ring.ebm")
    kw = dict(method="ssm", batch_size=64, chunk=10, val_frac=0.2, key=3, steps=300, progress=False, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # lr=0
        full = fit(m, {"x": ring_xy}, **kw)
        assert full.stopped.startswith("early stopping") and full.steps_done >= 30
        # interrupted before the last validation check; only the interrupt writes a checkpoint
        with monkeypatch.context() as mp:
            _interrupt_at(mp, "_chunk", full.steps_done // 10)
            cut = fit(m, {"x": ring_xy}, checkpoint_dir=tmp_path, checkpoint_every=10_000, **kw)
        assert cut.interrupted and json.loads((tmp_path / "state.json").read_text())["step"] == cut.steps_done
        resumed = fit(m, {"x": ring_xy}, checkpoint_dir=tmp_path, checkpoint_every=10_000, resume=True, **kw)
    assert resumed.stopped == full.stopped and resumed.steps_done == full.steps_done
    for name in full.params:
        np.testing.assert_array_equal(resumed.params[name], full.params[name])
    for name in ("loss", "val_loss", "val_step", "grad_norm"):
        np.testing.assert_array_equal(resumed.history[name], full.history[name])


def test_resume_after_a_checkpoint_keeps_the_nan_guard_exact(tmp_path):
    # the first step after the checkpoint fails: the params kept are those the step before started from,
    # which only the state before the last chunk (kept in the checkpoint) gives
    m = ebm.parse("var x : real\nparam a : real = 1.0\nfactor f = 0.5 * x^2 + sqrt(a) * x")
    x = np.random.default_rng(0).normal(2.0, 1.0, size=500)
    kw = dict(method="sm", batch_size=100, lr=0.1, optimizer="sgd", progress=False)
    probe = fit(m, {"x": x}, steps=400, chunk=20, **kw)
    bs = int(probe.stopped.split()[3].rstrip(":"))
    edge = fit(m, {"x": x}, steps=400, chunk=bs, **kw)  # the bad step is the first of a chunk
    fit(m, {"x": x}, steps=bs, chunk=bs, checkpoint_dir=tmp_path, checkpoint_every=bs, **kw)
    resumed = fit(m, {"x": x}, steps=400, chunk=bs, checkpoint_dir=tmp_path, checkpoint_every=bs, resume=True, **kw)
    assert resumed.stopped == edge.stopped and resumed.failure == edge.stopped
    assert resumed.params["a"] == edge.params["a"]


def _checkpointed(tmp_path, ring_xy, **kw):
    m = ebm.load(EXAMPLES / "ring.ebm")
    base = dict(method="ssm", steps=20, batch_size=64, chunk=10, checkpoint_dir=tmp_path, checkpoint_every=10,
                progress=False, key=0)
    fit(m, {"x": ring_xy}, **base)
    return m, {**base, "resume": True, **kw}


@pytest.mark.parametrize("change, pattern", [
    (dict(lr=1e-2), r"made with lr=0.001; this run has lr=0.01"),
    (dict(batch_size=32), r"made with batch_size=64; this run has batch_size=32"),
    (dict(chunk=5), r"made with chunk=10; this run has chunk=5"),
    (dict(key=1), r"made with seed=0; this run has seed=1"),
    (dict(optimizer="sgd"), r"made with optimizer='adam'; this run has optimizer='sgd'"),
    (dict(average=0.9), r"made with average=None; this run has average=0.9"),
    (dict(clip_norm=1.0), r"made with clip_norm=None; this run has clip_norm=1.0"),
    (dict(val_frac=0.2), r"made with val_frac=0.0; this run has val_frac=0.2"),
    (dict(patience=3), r"made with patience=None; this run has patience=3"),
    (dict(n_projections=3), r"made with <absent>|n_projections"),
    (dict(method="dsm"), r"made with method 'ssm'; this run has method 'dsm'"),
    (dict(data="drop a row"), r"made with the training rows of digest"),
    (dict(steps=15), r"is at step 20, beyond steps=15"),
])
def test_resume_refuses_another_run_naming_the_field(tmp_path, ring_xy, change, pattern):
    m, kw = _checkpointed(tmp_path, ring_xy, **change)
    data = {"x": ring_xy[:-1] if kw.pop("data", None) else ring_xy}
    with pytest.raises(EbmError, match=pattern) as e:
        fit(m, data, **kw)
    assert e.value.kind == "fit"


def test_resume_refuses_float64_over_float32(tmp_path, ring_xy):
    m, kw = _checkpointed(tmp_path, ring_xy)
    with jax.enable_x64(True), pytest.raises(EbmError, match=r"made with x64 off \(float32\); this run has x64 on"):
        fit(m, {"x": ring_xy}, **kw)


@pytest.mark.parametrize("corrupt, pattern", [
    (lambda d, meta: (d / "state.json").write_text("{oops"), r"state.json: cannot read \(not valid JSON"),
    (lambda d, meta: (d / "state.json").write_text("[" * 50_000), r"state.json: cannot read \(the JSON is nested"),
    (lambda d, meta: _rewrite(d, {**meta, "step": "20"}), r"'step' must be a whole number"),
    (lambda d, meta: _rewrite(d, {**meta, "file": "../../params.npz"}), r"'file' must be the name of a state-STEP"),
    (lambda d, meta: _rewrite(d, {**meta, "watch": [None, 0]}), r"'watch' must be"),
    (lambda d, meta: _rewrite(d, {k: v for k, v in meta.items() if k != "record"}), r"does not say how its run"),
    (lambda d, meta: (d / meta["file"]).write_bytes(b"garbage"), r"state-20.npz: not an NPZ file"),
    (lambda d, meta: (d / meta["file"]).unlink(), r"checkpoint file '.*state-20.npz' not found"),
])
def test_corrupt_checkpoints_are_data_errors_naming_the_file(tmp_path, ring_xy, corrupt, pattern):
    m, kw = _checkpointed(tmp_path, ring_xy)
    corrupt(tmp_path, json.loads((tmp_path / "state.json").read_text()))
    with pytest.raises(EbmError, match=pattern) as e:
        fit(m, {"x": ring_xy}, **kw)
    assert e.value.kind == "data"


def _rewrite(folder, meta):
    (folder / "state.json").write_text(json.dumps(meta))


def test_a_checkpoints_folder_that_is_a_file_is_refused_up_front(tmp_path, ring_xy):
    (tmp_path / "ck").write_text("a file")
    with pytest.raises(EbmError, match="is a file, not a folder") as e:
        fit(ebm.load(EXAMPLES / "ring.ebm"), {"x": ring_xy}, method="ssm", steps=5, checkpoint_dir=tmp_path / "ck",
            checkpoint_every=5, progress=False)
    assert e.value.kind == "output"


@pytest.mark.parametrize("method, option, pattern", [
    ("ssm", dict(n_projections=2.5), r"bad option for method 'ssm': n_projections= must be a whole number"),
    ("dsm", dict(sigma=float("inf")), r"bad option for method 'dsm': sigma= must be a number above 0; got inf"),
    ("dsm", dict(sigma=[0.1, -0.2]), r"sigma= must be a number above 0; got -0.2"),
    ("cd", dict(k=0), r"bad option for method 'cd': k= must be a whole number, 1 or more"),
    ("pcd", dict(reinit_prob=1.5), r"reinit_prob= must be a number inside interval\(0, 1\)"),
    ("nce", dict(nu=float("nan")), r"nu= must be a number above 0; got nan"),
])
def test_method_options_are_admitted(ring_xy, method, option, pattern):
    with pytest.raises(EbmError, match=pattern) as e:
        fit(ebm.load(EXAMPLES / "ring.ebm"), {"x": ring_xy}, method=method, steps=2, progress=False, **option)
    assert e.value.kind == "fit"
