"""The training loop shared by every method.

Each method is an :class:`~ebmppl.training.objective.Objective`: a pure ``loss(params, batch, key,
state) -> (value, (state, aux))`` with its extra trainable values (e.g. NCE's log Z, a flow's weights)
and its carried state (persistent chains). :func:`run` drives any of them with the compiled programs of
a :class:`~ebmppl.training.trainer.Trainer`: minibatches reshuffled every epoch, jitted steps scanned in
chunks (no Python loop per step), validation and early stopping, a guard that stops on a non-finite loss
and keeps the last good params, atomic checkpoints (:mod:`ebmppl.training.checkpoint`) and exact resume:
the step-t key and the epoch shuffle (:mod:`ebmppl.training.shuffle`) are functions of (seed, t), so a
resumed run retraces the uninterrupted one bit for bit (chunks end at multiples of the chunk length, and
a checkpoint keeps early stopping's state and the state before the last chunk). Batches are sharded over
all devices along a 'data' mesh axis.

Ctrl-C (a KeyboardInterrupt, between chunks or inside one's host-side work) ends a run with the last
whole chunk: its params and history, a checkpoint when checkpoints are on, and a result marked
``interrupted``. Final params that are not finite or lie outside their domain are never a success.

The guard is optimistic: the steps run without the guard's selects; the host checks the chunk's losses
and gradient norms, and only a chunk with a non-finite one is replayed from its start under the guard
(compiled on first use), which stops at the first bad step and keeps the last good params.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import EbmError
from ..io import check_params
from ..progress import Progress
from .. import stopping
from .checkpoint import check_folder, prepare, restore, save_checkpoint
from .options import LoopOptions
from .result import FitResult
from .trainer import Trainer, guard_start


class Keys(NamedTuple):
    """The keys a run derives from its seed: initial params, method extras, carried state, steps, shuffles."""

    init: Any
    extra: Any
    state: Any
    steps: Any
    data: Any

    @classmethod
    def of(cls, key) -> "Keys":
        return cls(*jax.random.split(jax.random.PRNGKey(key) if isinstance(key, int) else key, 5))


class Outcome(NamedTuple):
    """What a chunk of steps gave: the state after it, its per-step figures and, when a step failed, which."""

    state: Any
    losses: np.ndarray
    gnorms: np.ndarray
    auxes: dict
    seconds: float  # per step, of the unguarded run
    bad_step: Optional[int] = None
    kept: Any = None  # with a bad step: the last params whose loss was finite

    def n_ok(self, t: int) -> int:
        return len(self.losses) if self.bad_step is None else self.bad_step - t


class Watch(NamedTuple):
    """Early stopping's state: the best validation loss and the checks since it."""

    best: float = np.inf
    since_best: int = 0


class Reached(NamedTuple):
    """What the loop has reached after a whole chunk: the state, the step, early stopping's watch, the state
    before the chunk with its steps (the NaN guard replays them) and the length of each history list.

    The loop commits it in one assignment, so Ctrl-C at any moment finds a consistent one."""

    state: Any
    t: int
    watch: Watch
    prev: Any
    lengths: dict


class Plan(NamedTuple):
    """The fixed parts of a run the loop's steps read."""

    trainer: Trainer
    inputs: tuple
    val_data: Optional[dict]
    loop: LoopOptions
    steps: int
    chunk: int
    every: Optional[int]
    ckpt: Optional[Path]
    model: Any
    record: dict


def run(problem, trainer: Trainer, data: dict, loop: LoopOptions, *, key=0, params=None,
        val_data: Optional[dict] = None, method: str = "", options: Optional[dict] = None,
        record: Optional[dict] = None, settings: Optional[dict] = None) -> FitResult:
    """Train with ``trainer`` (see :class:`~ebmppl.training.trainer.Trainer`) on ``data`` (at least one row).

    ``loop`` gives the steps, chunk, validation patience, checkpoints and progress (its batch size,
    averaging and clipping are the trainer's); ``val_data`` are prepared validation arrays or None;
    ``record`` is what a checkpoint must match to be resumed (see :mod:`~ebmppl.training.checkpoint`;
    by default the method, its ``options`` and the loop's ``settings``, which the result keeps as ``loop``).
    Ctrl-C (KeyboardInterrupt) ends the run with the last whole chunk's params, checkpointed when
    checkpoints are on, and a result marked ``interrupted``.
    """
    model = problem.model
    options, settings = dict(options or {}), dict(settings or {})
    steps = int(loop.steps)
    chunk = int(max(1, min(loop.chunk, steps)))
    every = None if loop.checkpoint_every is None else max(chunk, (int(loop.checkpoint_every) // chunk) * chunk)
    ckpt = check_folder(loop.checkpoint_dir)
    record = record if record is not None else {"method": method, "options": options, "loop": settings}
    meta = prepare(ckpt, model, record, steps) if loop.resume else None  # before anything compiles
    keys = Keys.of(key)
    params = params if params is not None else model.init_params(keys.init)  # eager: it checks the domains
    data = {k: jnp.asarray(v) for k, v in data.items()}
    state, hist = _start(trainer, params, keys, data)
    box = [Reached(state, 0, Watch(), None, _lengths(hist))]
    if meta is not None:
        saved = restore(ckpt, meta, state, loop.progress)
        hist = {**hist, **saved.hist}
        box[0] = Reached(saved.state, saved.step, Watch(*saved.watch), saved.prev, _lengths(hist))
    plan = Plan(trainer, (data, keys.steps, keys.data), val_data, loop, steps, chunk, every, ckpt, model, record)
    start, interrupted = box[0].t, False
    try:
        with Progress(steps, "fit", start=start, enabled=loop.progress) as bar:
            stopped, kept = _steps(plan, box, hist, bar)
    except KeyboardInterrupt:
        stopped, kept, interrupted = _interrupted(plan, box[0], hist, start), None, True
    return _result(problem, trainer, box[0].state, kept, hist, (method, options, settings), stopped, interrupted)


def _steps(plan: Plan, box: list, hist: dict, bar: Progress) -> tuple:
    """Run whole chunks from ``box[0]`` to the end, committing each to ``box[0]``: (why the run stopped, the
    params kept after a non-finite step or None); ``bar`` shows the progress."""
    r = box[0]
    last_good_loss = float(hist["loss"][-1]) if hist["loss"] else np.nan
    while r.t < plan.steps:
        t, t_end = r.t, min(plan.steps, (r.t // plan.chunk + 1) * plan.chunk)  # chunks start at multiples
        stopping.check()  # a Ctrl-C whose KeyboardInterrupt was swallowed where it landed
        out = _chunk(plan.trainer, r.state, r.prev, t, t_end, plan.inputs)
        last_good_loss = _record(hist, t, out, last_good_loss)
        if out.bad_step is not None:
            box[0] = r._replace(state=out.state, lengths=_lengths(hist))
            stopped = _failure(out, t, last_good_loss)
            bar.note(f"warning: {stopped}")
            return stopped, out.kept
        watch, stop = r.watch, None
        if plan.val_data is not None:
            watch, stop = _validate(plan.trainer, out.state, plan.val_data, hist, t_end, r.watch, plan.loop.patience)
        r = Reached(out.state, t_end, watch, (r.state, jnp.arange(t, t_end)), _lengths(hist))
        box[0] = r
        if stop is not None:
            if plan.loop.progress:
                bar.note(stop)
            return stop, None
        if plan.ckpt is not None and plan.every and (t_end % plan.every == 0 or t_end == plan.steps):
            save_checkpoint(plan.ckpt, plan.model, plan.record, r, hist)
        _progress(bar, t_end, hist)
    return "steps", None


def _interrupted(plan: Plan, r: Reached, hist: dict, start: int) -> str:
    """After Ctrl-C: the history cut back to the last whole chunk, which is checkpointed (when checkpoints are
    on and it is past where the run started); why the run stopped."""
    for k in list(hist):
        if k in r.lengths:
            del hist[k][r.lengths[k]:]
        else:
            del hist[k]
    if plan.ckpt is not None and r.t > start:
        try:
            save_checkpoint(plan.ckpt, plan.model, plan.record, r, hist)
        except KeyboardInterrupt:  # a second Ctrl-C: the previous checkpoint stays (the writes are atomic)
            pass
    return f"interrupted at step {r.t}"


def _lengths(hist: dict) -> dict:
    return {k: len(v) for k, v in hist.items()}


def _start(trainer: Trainer, params, keys: Keys, data: dict) -> tuple:
    """The loop's state at step 0, ``(theta, opt_state, mstate, avg)``, and an empty history."""
    theta, opt_state, mstate = trainer.start(params, keys.extra, keys.state, data)
    hist = {"step": [], "loss": [], "grad_norm": [], "time": [], "val_step": [], "val_loss": []}
    return (theta, opt_state, mstate, theta), hist


def _chunk(trainer: Trainer, state, prev, t: int, t_end: int, inputs) -> Outcome:
    """The steps ``t .. t_end - 1``; a chunk with a non-finite loss or gradient is replayed under the guard."""
    tick = time.perf_counter()
    ts = jnp.arange(t, t_end)
    new_state, (losses, gnorms, auxes) = trainer.run_chunk(state, ts, inputs)
    losses, gnorms = np.asarray(losses), np.asarray(gnorms)
    seconds = (time.perf_counter() - tick) / (t_end - t)
    if np.isfinite(losses).all() and np.isfinite(gnorms).all():
        return Outcome(new_state, losses, gnorms, auxes, seconds)
    (new_state, _, bad_step, kept), _ = trainer.run_chunk_guarded(guard_start(state), ts, inputs)
    bs = int(bad_step)
    if bs == t and prev is not None:
        # the chunk's first step failed: the last params with a finite loss are those the previous
        # chunk's last step started from, which its (clean) guarded replay keeps
        kept = trainer.run_chunk_guarded(guard_start(prev[0]), prev[1], inputs)[0][3]
    return Outcome(new_state, losses, gnorms, auxes, seconds, bs, kept)


def _record(hist: dict, t: int, out: Outcome, last_good_loss: float) -> float:
    """Append the chunk's good steps to ``hist``; the last finite loss so far."""
    n_ok = out.n_ok(t)
    hist["step"].extend(range(t, t + n_ok))
    hist["loss"].extend(out.losses[:n_ok].tolist())
    hist["grad_norm"].extend(out.gnorms[:n_ok].tolist())
    hist["time"].extend([out.seconds] * n_ok)
    for name, vals in out.auxes.items():  # the method's own per-step figures (e.g. e_pos, e_neg, logz)
        hist.setdefault(name, []).extend(np.asarray(vals)[:n_ok].tolist())
    return float(out.losses[n_ok - 1]) if n_ok else last_good_loss


def _failure(out: Outcome, t: int, last_good_loss: float) -> str:
    """Why the run stopped at ``out.bad_step``, with the last finite loss and which params it keeps."""
    bs = out.bad_step
    what = (f"kept the params of step {bs - 1}, the last with a finite loss" if bs > 0
            else "kept the initial params (no step had a finite loss)")
    last = (f"last finite loss {last_good_loss:.6g} (step {bs - 1})" if np.isfinite(last_good_loss)
            else "no step had a finite loss")
    return (f"stopped at step {bs}: the loss or its gradient is not finite "
            f"(loss {out.losses[bs - t]}); {last}; {what}")


def _validate(trainer: Trainer, state, val_data: dict, hist: dict, t: int, watch: Watch,
              patience: Optional[int]) -> tuple:
    """Record the validation loss after step ``t``: the new :class:`Watch`, and why to stop (or None)."""
    vl = float(trainer.val_loss(state[3] if trainer.average else state[0], state[2], val_data))
    hist["val_step"].append(t)
    hist["val_loss"].append(vl)
    watch = Watch(vl, 0) if vl < watch.best - 1e-12 else Watch(watch.best, watch.since_best + 1)
    if patience is not None and watch.since_best >= patience:
        return watch, f"early stopping at step {t}: no validation improvement in {patience} checks"
    return watch, None


def _result(problem, trainer: Trainer, state, kept, hist: dict, run: tuple, stopped: str,
            interrupted: bool = False) -> FitResult:
    """The :class:`FitResult`: the kept, averaged or last params (constrained), extras, history and state.

    ``run`` is (method, its options, the loop's settings). Params that are not finite or lie outside their
    domain (a ``positive`` param whose log went so far down that it is 0 in float32) are never a success: the
    result says why and that they are not usable."""
    theta, _, mstate, avg = state
    method, options, settings = run
    theta = kept if kept is not None else (avg if trainer.average else theta)
    fitted = {k: np.asarray(v) if not isinstance(v, dict) else jax.tree_util.tree_map(np.asarray, v)
              for k, v in problem.constrain(theta["model"]).items()}
    extra = {k.lstrip("@"): jax.tree_util.tree_map(np.asarray, v) for k, v in theta["extra"].items()}
    history = {k: np.asarray(v) for k, v in hist.items()}
    done = len(hist["loss"])
    failure = None if stopped == "steps" or stopped.startswith(("early stopping", "interrupted")) else stopped
    usable = True
    try:
        check_params(problem.model, fitted, shapes=False)
    except EbmError as e:
        usable = False
        failure = f"stopped at step {done}: the fitted params are not usable: {e.message}"
        stopped = failure if not interrupted else f"{stopped}; the params are not usable: {e.message}"
        print(f"warning: {failure}", file=sys.stderr)
    return FitResult(fitted, history, method, options, extra, mstate, stopped, problem.model.fingerprint,
                     steps_done=done, interrupted=interrupted, failure=failure, params_usable=usable,
                     loop=settings, model_name=problem.model.name)


def _progress(bar: Progress, t: int, hist: dict) -> None:
    """The progress bar after the chunk ending at step ``t``: the steps done, the rate, the last losses."""
    bar.update(t, **_shown(hist))


def _shown(hist: dict) -> dict:
    """What the progress bar shows beside the rate: the last loss and validation loss."""
    shown = {"loss": float(hist["loss"][-1])} if hist["loss"] else {}
    if hist["val_loss"]:
        shown["val"] = float(hist["val_loss"][-1])
    return shown
