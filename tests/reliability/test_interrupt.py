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
