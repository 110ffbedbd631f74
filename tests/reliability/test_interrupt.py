"""Interrupted training: `ebmppl fit --checkpoint-every` killed with SIGKILL, again and again,
then resumed, must end with the same params, bit for bit, as a run never interrupted.

Kills land at random moments, and twice on purpose inside a checkpoint write: once with a
half-written checkpoint array on disk (its temporary file truncated), once after the array was
renamed into place but before the JSON that marks it complete. A resume must never read
either; every temporary file must be gone at the end.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import DATA, EXAMPLES, ROOT

# Runs the CLI, but SIGKILLs itself inside the KILL_AT_WRITE-th atomic write: after the temporary file
# is written and truncated to half (a torn write), before it is renamed into place.
KILLER = r"""
import importlib, os, signal, sys
io = importlib.import_module("ebmppl.io")
checkpoint = importlib.import_module("ebmppl.training.checkpoint")  # where checkpoints are written
n, count, orig = int(os.environ["KILL_AT_WRITE"]), [0], io.atomic_write
def atomic_write(path, write):
    count[0] += 1
    if count[0] != n:
        return orig(path, write)
    def torn(tmp):
        write(tmp)
        with open(tmp, "r+b") as f:
            f.truncate(os.path.getsize(tmp) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(path, torn)
io.atomic_write = checkpoint.atomic_write = atomic_write
from ebmppl.cli import main
sys.exit(main(sys.argv[1:]))
"""

STEPS = 20000  # long enough that a random kill lands mid-run even with a warm compile cache


def _args(out, resume=False):
    return ["fit", str(EXAMPLES / "ring.ebm"), "--data", str(DATA / "ring.csv"), "--method", "ssm",
            "--steps", str(STEPS), "--batch-size", "64", "--seed", "7", "--out", str(out),
            "--checkpoint-every", "50", "--no-progress"] + (["--resume"] if resume else [])


def _cli(args, **kw):
    return [sys.executable, "-m", "ebmppl", *args]


def _state(out):
    p = out / "checkpoints" / "state.json"
    return json.loads(p.read_text()) if p.exists() else None


def _run_killed_at_write(out, n, resume):
    env = {**os.environ, "KILL_AT_WRITE": str(n)}
    r = subprocess.run([sys.executable, "-c", KILLER, *_args(out, resume)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]


def _run_killed_at_random(out, rng):
    """Start a resume; once it has written a new checkpoint, kill it a random moment later."""
    before = (_state(out) or {}).get("step", 0)
    p = subprocess.Popen(_cli(_args(out, resume=True)), cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline and (_state(out) or {}).get("step", 0) <= before:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.05))
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()


@pytest.mark.slow
def test_sigkill_anywhere_then_resume_matches_uninterrupted(tmp_path):
    ref = tmp_path / "ref"
    subprocess.run(_cli(_args(ref)), cwd=ROOT, check=True, capture_output=True, timeout=600)

    out = tmp_path / "killed"
    ckpt = out / "checkpoints"
    # 1. killed writing the 3rd checkpoint's array (step 150): a torn temporary file, the JSON still at 100
    _run_killed_at_write(out, 5, resume=False)
    assert _state(out)["step"] == 100
    assert [p.name for p in ckpt.glob(".state-150.npz.*.tmp")], "the torn write should have left its temp file"
    assert not (ckpt / "state-150.npz").exists()

    # 2. resumed from 100, killed writing the JSON of step 200: state-200.npz is in place, unmarked
    _run_killed_at_write(out, 4, resume=True)
    assert _state(out)["step"] == 150
    assert (ckpt / "state-200.npz").exists() and list(ckpt.glob(".state.json.*.tmp"))

    # 3. killed at random moments, each after at least one more checkpoint
    rng = random.Random(20240607)
    steps = []
    for _ in range(3):
        _run_killed_at_random(out, rng)
        steps.append(_state(out)["step"])
    print("checkpoints at the random kills:", steps)
    last = _state(out)["step"]
    assert 200 <= last < STEPS, last  # the kills landed mid-run

    # 4. resumed to the end
    r = subprocess.run(_cli(_args(out, resume=True)), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]

    with np.load(ref / "params.npz", allow_pickle=False) as a, np.load(out / "params.npz", allow_pickle=False) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    h_ref = (ref / "history.csv").read_text().splitlines()
    h_out = (out / "history.csv").read_text().splitlines()
    assert len(h_ref) == len(h_out) == STEPS + 1
    loss = lambda rows: [r.split(",")[1] for r in rows]  # noqa: E731  (time differs; loss must not)
    assert loss(h_ref) == loss(h_out)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], list(out.rglob("*.tmp"))
    assert [p.name for p in ckpt.glob("state-*.npz")] == [f"state-{STEPS}.npz"]


# ---------------------------------------------------------------- Ctrl-C and SIGTERM (the command line)
# Runs the CLI with signals sent to itself at exact moments: SIG after the AFTER_CKPT-th checkpoint file is
# written (the loop is between chunks then, as after a real Ctrl-C), and SIGINT again in the middle of the
# DURING_N-th write of the module DURING ("params": params.npz/.json, "samples": samples.nc), after its
# temporary file is written and before it is renamed into place.
SELF_SIGNAL = r"""
import importlib, os, signal, sys
sig = getattr(signal, os.environ.get("SIG", "SIGINT"))
ckpt = importlib.import_module("ebmppl.training.checkpoint")
after, count = int(os.environ.get("AFTER_CKPT", "0")), [0]
orig_ckpt = ckpt.atomic_write
def ckpt_write(path, write):
    out = orig_ckpt(path, write)
    count[0] += 1
    if count[0] == after:
        os.kill(os.getpid(), sig)
    return out
ckpt.atomic_write = ckpt_write
during = os.environ.get("DURING")
if during:
    module = importlib.import_module({"params": "ebmppl.io.params", "samples": "ebmppl.diagnostics.idata"}[during])
    orig, n, seen = module.atomic_write, int(os.environ.get("DURING_N", "1")), [0]
    def write_then_signal(path, write):
        seen[0] += 1
        if seen[0] != n:
            return orig(path, write)
        def w(tmp):
            write(tmp)
            os.kill(os.getpid(), signal.SIGINT)
        return orig(path, w)
    module.atomic_write = write_then_signal
from ebmppl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _fit_args(out, steps=100000, *more):
    return ["fit", str(EXAMPLES / "ring.ebm"), "--data", str(DATA / "ring.csv"), "--method", "ssm", "--steps",
            str(steps), "--batch-size", "64", "--out", str(out), "--checkpoint-every", "50", "--no-progress",
            "--no-report", *more]


def _finish(p, timeout=60) -> str:
    """The child's stderr once it has ended; one still running after ``timeout`` s is killed (never left to run
    beside the rest of the suite) and the test fails."""
    try:
        return p.communicate(timeout=timeout)[1] or ""
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"the child was still running {timeout} s after the signal")


def test_a_stop_request_whose_interrupt_was_swallowed_still_stops_the_fit():
    """A signal whose KeyboardInterrupt lands where Python swallows it (a __del__, a gc callback) is still acted
    on: the request is recorded and the fit loop stops at its next chunk, marked interrupted."""
    import ebmppl
    from ebmppl import stopping
    model = ebmppl.parse("var x : real\nparam m : real = 0\nfactor f = 0.5 * (x - m)^2\n", "g.ebm")
    rows = {"x": np.linspace(-1, 1, 64, dtype=np.float32)}
    stopping.request()
    try:
        res = ebmppl.fit(model, rows, method="dsm", steps=10**6, progress=False)
    finally:
        stopping.clear()
    assert res.interrupted and res.steps_done < 10**6, res


def _self_signal(args, timeout=300, **env):
    return subprocess.run([sys.executable, "-c", SELF_SIGNAL, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **{k: str(v) for k, v in env.items()}})


def _clean(out):
    """No temporary file and no lock left anywhere under ``out``."""
    left = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name == ".ebmppl.lock"]
    assert not left, left


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_during_fit_writes_the_params_reached_and_the_resume_command(tmp_path, sig):
    out = tmp_path / "o"
    r = _self_signal(_fit_args(out), SIG=sig, AFTER_CKPT=4)  # after the second checkpoint (npz + json each)
    assert r.returncode == 130, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    meta = json.loads((out / "params.json").read_text())
    step = meta["final"]["steps"]
    assert meta["final"]["interrupted"] is True and meta["final"]["stopped"] == f"interrupted at step {step}"
    assert step >= 100 and step % 50 == 0, step  # whole chunks only
    assert len((out / "history.csv").read_text().splitlines()) == step + 1
    assert f"interrupted at step {step}" in r.stderr
    line = next(l for l in r.stderr.splitlines() if "to continue from the last checkpoint:" in l)
    command = line.split(": ", 1)[1]
    assert command.startswith("ebmppl fit ") and command.endswith(" --resume"), command
    _clean(out)
    # the printed command resumes the run (fewer steps, so that it ends)
    words = shlex.split(command)[1:]
    words[words.index("--steps") + 1] = str(step + 50)
    r2 = subprocess.run([sys.executable, "-m", "ebmppl", *words], cwd=ROOT, capture_output=True, text=True,
                        timeout=300)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert json.loads((out / "params.json").read_text())["final"]["steps"] == step + 50
    _clean(out)


@pytest.mark.parametrize("n", [1, 2])
def test_second_ctrl_c_while_writing_exits_at_once_with_no_partial_result(tmp_path, n):
    """A second Ctrl-C while the params reached are written (inside params.npz's write, or params.json's after
    params.npz is in place): exit 130 at once, and neither file is left (a params.npz without its sidecar
    is a partial result)."""
    out = tmp_path / "o"
    r = _self_signal(_fit_args(out), AFTER_CKPT=2, DURING="params", DURING_N=n)
    assert r.returncode == 130, r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "interrupted" in r.stderr
    assert not (out / "params.npz").exists() and not (out / "params.json").exists()
    assert (out / "checkpoints" / "state.json").is_file()  # the last checkpoint stays
    _clean(out)


def test_ctrl_c_while_samples_are_written_leaves_no_samples_file(tmp_path):
    out = tmp_path / "s"
    r = _self_signal(["sample", str(EXAMPLES / "ring.ebm"), "--draws", "50", "--warmup", "50", "--chains", "1",
                      "--out", str(out), "--no-progress"], DURING="samples")
    assert r.returncode == 130, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert not out.exists() or not list(out.iterdir()), list(out.iterdir())


def test_real_ctrl_c_during_fit_and_sample(tmp_path):
    """A real SIGINT from outside, at whatever moment it lands: exit 130 within seconds, no traceback, no
    partial file; sampling with the progress bar on (its callback must not swallow the interrupt)."""
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-m", "ebmppl", *_fit_args(out, 10**7)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while p.poll() is None and time.time() < deadline and not (out / "checkpoints" / "state.json").exists():
        time.sleep(0.05)
    assert p.poll() is None, f"fit ended before the signal (exit {p.returncode}):\n{p.stderr.read()[-3000:]}"
    os.kill(p.pid, signal.SIGINT)
    err = _finish(p)
    assert p.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert json.loads((out / "params.json").read_text())["final"]["interrupted"] is True
    _clean(out)

    s, log = tmp_path / "s", tmp_path / "sample.err"
    with open(log, "w") as err_file:
        p = subprocess.Popen([sys.executable, "-m", "ebmppl", "sample", str(EXAMPLES / "ring.ebm"), "--sampler",
                              "mala", "--draws", "1000", "--thin", "100000", "--warmup", "10", "--chains", "1",
                              "--out", str(s)],  # 10^8 iterations: hours, so the signal always lands mid-run
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err_file)
        deadline = time.time() + 240
        while p.poll() is None and time.time() < deadline and "it/s" not in log.read_text():
            time.sleep(0.1)  # the progress bar is running: the draws are under way
        assert p.poll() is None, f"sample ended before the signal (exit {p.returncode}):\n{log.read_text()[-3000:]}"
        os.kill(p.pid, signal.SIGINT)
        _finish(p)
    err = log.read_text()
    assert p.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert not (s / "samples.nc").exists()
    _clean(tmp_path)
