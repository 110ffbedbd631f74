"""The training loop shared by every method.

Each method is an :class:`Objective`: a pure ``loss(params, batch, key,
state) -> (value, (state, aux))`` with its extra trainable values (e.g.
NCE's log Z, a flow's weights) and its carried state (persistent chains).
The loop drives any of them with an optax optimizer: minibatches reshuffled
every epoch, jitted steps scanned in chunks (no Python loop per step),
validation and early stopping, a guard that stops on a non-finite loss and
keeps the last good params, atomic checkpoints (NPZ + JSON, never pickle) and
exact resume: the step-t key and the epoch shuffle (fit/shuffle.py) are functions of
(seed, t), so a resumed run retraces the uninterrupted one bit for bit.
Batches are sharded over all devices along a 'data' mesh axis.

Two things keep a small step cheap on a CPU, where per-step overheads rival the
maths:

- *blocks*: a chunk is a scan over blocks of up to 128 steps; each block gathers
  its steps' minibatches and draws their random numbers (the method's
  ``draw(key_t, rows)``, else its step keys) in one vectorized call before an
  inner scan runs the steps. The numbers are the same as drawing them inside
  each step (threefry is counter-based), so results do not depend on the block size;
- *an optimistic guard*: the steps run without the NaN guard's selects; the host
  checks the chunk's losses and gradient norms, and only a chunk with a non-finite
  one is replayed from its start under the guard (compiled on first use), which
  stops at the first bad step and keeps the last good params.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import EbmError
from ..io import _load_npz, atomic_write
from .shuffle import batch_indices

# a block of steps gathers its minibatches and draws its random numbers up front: at most BLOCK_MAX steps
# and about BLOCK_ELEMENTS numbers (1 MiB of float32, cache-sized) per block
BLOCK_MAX, BLOCK_ELEMENTS = 128, 1 << 18


class Objective(NamedTuple):
    """A training method.

    loss: ``loss(params, batch, key, state) -> (value, (state, aux))``; ``params`` holds the
        model's params (constrained) and the method's extras under keys starting with '@'.
    init_extra: ``key -> dict`` of extra trainable values ('@'-keys), or None.
    init_state: ``(key, data) -> state`` carried between steps (e.g. persistent chains), or None.
    groups: for alternating (adversarial) methods, a function ``step -> mask pytree`` of which
        trainables move at that step; None = all every step.
    draw: ``(key, rows) -> pytree`` of the random numbers one step of ``loss`` uses for a batch of
        ``rows`` rows; ``loss`` then receives them in place of the key. None = ``loss`` gets the key.
        The loop draws a block of steps' numbers in one vectorized call (see the module docs).
    """

    loss: Callable
    init_extra: Optional[Callable] = None
    init_state: Optional[Callable] = None
    groups: Optional[Callable] = None
    draw: Optional[Callable] = None


@dataclass(frozen=True)
class FitResult:
    """What :func:`ebmppl.fit` returns.

    Attributes:
        params: fitted params (constrained, like ``model.init_params``).
        history: per-step arrays ``step``, ``loss``, ``grad_norm``, ``time``, the method's own
            figures (cd/pcd: ``e_pos``, ``e_neg``; nce/fce: ``logz``; vi: ``logz_bound``) and per-check
            ``val_step``, ``val_loss``.
        method, options: what was run.
        extra: the method's own trained values (NCE's ``logz``, a flow's params, ...).
        state: the method's carried state at the end (persistent chains).
        stopped: why training ended ('steps', 'early stopping', or the non-finite message).
    """

    params: dict
    history: dict
    method: str
    options: dict
    extra: dict = field(default_factory=dict)
    state: Any = None
    stopped: str = "steps"
    fingerprint: str = ""

    @property
    def logz(self) -> Optional[float]:
        """NCE's learned log Z, if the method learned one."""
        v = self.extra.get("logz")
        return None if v is None else float(v)

    def report(self, model, data, out_dir=None, **kwargs):
        """A training report of this fit: :func:`ebmppl.report.fit_report` ``(model, self, data, out_dir, ...)``."""
        from ..report import fit_report
        return fit_report(model, self, data, out_dir, **kwargs)


def block_size(length: int, block: int) -> int:
    """Steps per block for a chunk of ``length`` steps: at most ``block``, and a divisor of ``length`` when one
    lies in ``[block / 2, block]``, so the chunk is one scan of equal blocks (the step body is traced and
    compiled once, not again for a remainder)."""
    if length <= block:
        return length
    for d in range(block, max(1, block // 2) - 1, -1):
        if length % d == 0:
            return d
    return block


def make_optimizer(optimizer, lr, clip_norm=None):
    if isinstance(optimizer, optax.GradientTransformation):
        opt = optimizer
    else:
        names = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd, "rmsprop": optax.rmsprop,
                 "adagrad": optax.adagrad, "lamb": optax.lamb, "adabelief": optax.adabelief}
        if optimizer not in names:
            raise EbmError("fit", f"unknown optimizer '{optimizer}'", hint=f"choose one of {', '.join(names)}, "
                                                                           "or pass an optax transformation")
        opt = names[optimizer](lr)
    if clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(clip_norm), opt)
    return opt


def _batch_sharding(batch_size: int):
    devices = jax.devices()
    if len(devices) > 1 and batch_size % len(devices) == 0:
        mesh = Mesh(np.array(devices), ("data",))
        return NamedSharding(mesh, PartitionSpec("data"))
    return None


class Trainer:
    """The compiled programs of a training run: ``start`` (trainables, optimizer and carried state from the
    params), ``run_chunk`` (a chunk of steps, unguarded), ``run_chunk_guarded`` (the replay under the NaN
    guard) and ``val_loss``, for one problem, objective,
    optimizer, batch size, number of rows and averaging. They take the data, keys and state as arguments,
    so another ``fit`` of the same setup on the same data (another seed, more steps, a resume) reuses them
    without tracing or compiling again; ``ebmppl.fit`` keeps the last few (``fit/api.py``). (An objective
    may hold constants from the data it was built on, e.g. NCE's fitted noise, so the data are part of
    the setup.)"""

    def __init__(self, problem, objective: Objective, opt, data: dict, batch_size: int, average):
        n = int(next(iter(data.values())).shape[0])
        batch_size = int(min(batch_size, n))
        sharding = _batch_sharding(batch_size)
        draw = objective.draw or (lambda key, rows: key)

        def loss_of(theta, batch, rand, mstate):
            p = {**problem.constrain(theta["model"]), **theta["extra"]}
            return objective.loss(p, batch, rand, mstate)

        def update(state, t, batch, rand):
            """One optimizer step: the new (theta, opt_state, mstate, avg) and the step's (loss, gnorm, aux)."""
            theta, opt_state, mstate, avg = state
            if sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, sharding)
            (loss, (mstate_new, aux)), g = jax.value_and_grad(loss_of, has_aux=True)(theta, batch, rand, mstate)
            if objective.groups is not None:  # alternating turns: a sign per trainable, 0 = resting
                mask = objective.groups(t)
                g = jax.tree_util.tree_map(lambda gi, m: gi * m, g, mask)
            gnorm = _global_norm(g)
            updates, opt_state_new = opt.update(g, opt_state, theta)
            if objective.groups is not None:  # momentum must not move the resting side
                updates = jax.tree_util.tree_map(lambda u, m: u * jnp.abs(m), updates, mask)
            theta_new = optax.apply_updates(theta, updates)
            if average:  # Polyak-Ruppert: an exponential moving average of the iterates
                avg = jax.tree_util.tree_map(lambda a, b: average * a + (1.0 - average) * b, avg, theta_new)
            return (theta_new, opt_state_new, mstate_new, avg), (loss, gnorm, aux)

        def fast_step(state, xs):
            return update(state, *xs)

        def guarded_step(carry, xs):
            # the replay of a chunk that met a non-finite loss: stop moving at the first bad step
            state, bad, bad_step, good = carry
            new, out = update(state, *xs)
            loss, gnorm, _ = out
            ok = jnp.isfinite(loss) & jnp.isfinite(gnorm) & ~bad
            keep = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(ok, x, y), a, b)  # noqa: E731
            # `good`: the last params whose loss was finite (what a failed run returns)
            return (keep(new, state), bad | ~ok, jnp.where(bad | ok, bad_step, xs[0]).astype(bad_step.dtype),
                    keep(state[0], good)), out

        def block_inputs(ts, inputs):
            """The minibatches and random numbers of the steps ``ts``, gathered and drawn in one go."""
            data, k_steps, k_data = inputs
            idx = jax.vmap(lambda t: batch_indices(k_data, t, batch_size, n))(ts)
            batches = jax.tree_util.tree_map(lambda a: a[idx], data)
            rands = jax.vmap(lambda t: draw(jax.random.fold_in(k_steps, t), batch_size))(ts)
            return ts, batches, rands

        row_size = sum(int(np.prod(v.shape[1:], dtype=np.int64)) for v in data.values())
        rand_size = sum(int(np.prod(a.shape, dtype=np.int64)) for a in jax.tree_util.tree_leaves(
            jax.eval_shape(lambda k: draw(k, batch_size), jax.random.PRNGKey(0))))
        block = int(max(1, min(BLOCK_MAX, BLOCK_ELEMENTS // max(1, batch_size * row_size + rand_size))))

        def scan_blocks(step, carry, ts, inputs):
            """``lax.scan(step)`` over the steps ``ts`` in blocks of ``block`` steps (see the module docs)."""
            size = block_size(ts.shape[0], block)
            q = ts.shape[0] // size
            outs = []
            if q:
                def one_block(c, tb):
                    return jax.lax.scan(step, c, block_inputs(tb, inputs))
                carry, out = jax.lax.scan(one_block, carry, ts[:q * size].reshape(q, size))
                outs.append(jax.tree_util.tree_map(lambda a: a.reshape((q * size,) + a.shape[2:]), out))
            if ts.shape[0] > q * size:
                carry, out = jax.lax.scan(step, carry, block_inputs(ts[q * size:], inputs))
                outs.append(out)
            return carry, jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *outs) if len(outs) > 1 else outs[0]

        @jax.jit
        def run_chunk(state, ts, inputs):
            # data and keys are arguments, not closed-over constants: the compiled chunk is then the same
            # program for another seed or another data set of the same shape (a persistent-cache hit)
            return scan_blocks(fast_step, state, ts, inputs)

        @jax.jit
        def run_chunk_guarded(carry, ts, inputs):
            return scan_blocks(guarded_step, carry, ts, inputs)

        @jax.jit
        def val_loss(theta, mstate, val_data):
            rows = int(next(iter(val_data.values())).shape[0])
            return loss_of(theta, val_data, draw(jax.random.PRNGKey(12345), rows), mstate)[0]

        @jax.jit
        def start(params, k_extra, k_state, data):
            """The trainables, optimizer state and carried state a run starts from (one compiled call)."""
            theta = {"model": problem.unconstrain(params),
                     "extra": objective.init_extra(k_extra) if objective.init_extra else {}}
            mstate = objective.init_state(k_state, data) if objective.init_state else ()
            return theta, opt.init(theta), mstate

        self.opt, self.run_chunk, self.run_chunk_guarded, self.val_loss = opt, run_chunk, run_chunk_guarded, val_loss
        self.average = average
        self.start = start


def run(problem, trainer: "Trainer", data: dict, *, steps: int, key=0, params=None, val_data: Optional[dict] = None,
        patience: Optional[int] = None, chunk: int = 50, checkpoint_dir=None, checkpoint_every: Optional[int] = None,
        resume: bool = False, progress: bool = True, method: str = "", options: Optional[dict] = None) -> FitResult:
    """Train with ``trainer`` (the compiled programs of one problem, objective, optimizer, batch size, rows and
    averaging; see :class:`Trainer`) on ``data`` (at least one row)."""
    model = problem.model
    average = trainer.average
    options = dict(options or {})
    steps = int(steps)
    chunk = int(max(1, min(chunk, steps)))
    if checkpoint_every is not None:
        checkpoint_every = max(chunk, (int(checkpoint_every) // chunk) * chunk)
    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    k_init, k_extra, k_state, k_steps, k_data = jax.random.split(rng, 5)
    params = params if params is not None else model.init_params(k_init)  # eager: it checks the domains
    data = {k: jnp.asarray(v) for k, v in data.items()}
    theta, opt_state, mstate = trainer.start(params, k_extra, k_state, data)
    run_chunk, run_chunk_guarded = trainer.run_chunk, trainer.run_chunk_guarded

    avg = theta
    inputs = (data, k_steps, k_data)
    hist = {"step": [], "loss": [], "grad_norm": [], "time": [], "val_step": [], "val_loss": []}
    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        if ckpt is None:
            raise EbmError("fit", "resume=True needs checkpoint_dir")
        loaded = load_checkpoint(ckpt, model, method, options, (theta, opt_state, mstate, avg))
        if loaded is not None:
            (theta, opt_state, mstate, avg), start, hist = loaded
            if progress:
                print(f"resuming from step {start} ({ckpt})", file=sys.stderr)
    state = (theta, opt_state, mstate, avg)
    best, since_best, stopped = np.inf, 0, "steps"
    last_good_loss = np.nan
    kept = None  # the params a failed run returns
    prev = None  # the last chunk's start state and steps
    t0 = time.perf_counter()
    t = start
    while t < steps:
        t_end = min(steps, t + chunk)
        tick = time.perf_counter()
        ts = jnp.arange(t, t_end)
        new_state, (losses, gnorms, auxes) = run_chunk(state, ts, inputs)
        losses, gnorms = np.asarray(losses), np.asarray(gnorms)
        dt = (time.perf_counter() - tick) / (t_end - t)
        bad = not (np.isfinite(losses).all() and np.isfinite(gnorms).all())
        if bad:  # replay the chunk from its start under the guard: stop at the first bad step
            (new_state, _, bad_step, kept), _ = run_chunk_guarded(_guard_start(state), ts, inputs)
            bs = int(bad_step)
            if bs == t and prev is not None:
                # the chunk's first step failed: the last params with a finite loss are those the previous
                # chunk's last step started from, which its (clean) guarded replay keeps
                kept = run_chunk_guarded(_guard_start(prev[0]), prev[1], inputs)[0][3]
        prev = (state, ts)
        state = new_state
        n_ok = (t_end - t) if not bad else bs - t
        hist["step"].extend(range(t, t + n_ok))
        hist["loss"].extend(losses[:n_ok].tolist())
        hist["grad_norm"].extend(gnorms[:n_ok].tolist())
        hist["time"].extend([dt] * n_ok)
        for name, vals in auxes.items():  # the method's own per-step figures (e.g. e_pos, e_neg, logz)
            hist.setdefault(name, []).extend(np.asarray(vals)[:n_ok].tolist())
        if n_ok:
            last_good_loss = float(losses[n_ok - 1])
        if bad:
            what = (f"kept the params of step {bs - 1}, the last with a finite loss" if bs > 0
                    else "kept the initial params (no step had a finite loss)")
            last = (f"last finite loss {last_good_loss:.6g} (step {bs - 1})" if np.isfinite(last_good_loss)
                    else "no step had a finite loss")
            stopped = (f"stopped at step {bs}: the loss or its gradient is not finite "
                       f"(loss {losses[bs - t]}); {last}; {what}")
            print(f"warning: {stopped}", file=sys.stderr)
            t = bs
            break
        t = t_end
        if val_data is not None:
            vl = float(trainer.val_loss(state[3] if average else state[0], state[2], val_data))
            hist["val_step"].append(t)
            hist["val_loss"].append(vl)
            if vl < best - 1e-12:
                best, since_best = vl, 0
            else:
                since_best += 1
            if patience is not None and since_best >= patience:
                stopped = f"early stopping at step {t}: no validation improvement in {patience} checks"
                if progress:
                    print(stopped, file=sys.stderr)
                break
        if ckpt is not None and checkpoint_every and (t % checkpoint_every == 0 or t == steps):
            save_checkpoint(ckpt, model, method, options, state, t, hist)
        if progress:
            _progress(t, steps, hist, time.perf_counter() - t0, start)
    if progress:
        print(file=sys.stderr)
    theta, _, mstate, avg = state
    theta = kept if kept is not None else (avg if average else theta)
    fitted = {k: np.asarray(v) if not isinstance(v, dict) else jax.tree_util.tree_map(np.asarray, v)
              for k, v in problem.constrain(theta["model"]).items()}
    extra = {k.lstrip("@"): jax.tree_util.tree_map(np.asarray, v) for k, v in theta["extra"].items()}
    history = {k: np.asarray(v) for k, v in hist.items()}
    return FitResult(fitted, history, method, options, extra, mstate, stopped, model.fingerprint)


def _global_norm(tree):
    """The gradient's global norm as one reduction over its concatenated leaves (a small step pays per op)."""
    leaves = [jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)]
    if not leaves:
        return jnp.zeros(())
    return jnp.sqrt(jnp.sum(jnp.square(jnp.concatenate(leaves))))


def _guard_start(state):
    """The guarded replay's carry at a chunk start: (state, no bad step yet, bad step, last good params)."""
    return state, jnp.zeros((), bool), jnp.zeros((), jnp.int32), state[0]


def _progress(t, steps, hist, elapsed, start):
    rate = (t - start) / max(elapsed, 1e-9)
    width = 24
    done = int(width * t / steps)
    val = f" val {hist['val_loss'][-1]:.4g}" if hist["val_loss"] else ""
    line = f"\r[{'#' * done}{'.' * (width - done)}] step {t}/{steps} loss {hist['loss'][-1]:.4g}{val} {rate:.0f} steps/s"
    print(line, end="", file=sys.stderr, flush=True)


# -------------------------------------------------------------- checkpoints
def save_checkpoint(folder: Path, model, method, options, tree, step: int, hist: dict):
    """Write ``state.npz`` + ``state.json`` atomically (the JSON last: it marks the pair complete)."""
    leaves = jax.tree_util.tree_leaves(tree)
    arrays = {f"leaf_{i}": np.asarray(a) for i, a in enumerate(leaves)}
    arrays.update({f"hist_{k}": np.asarray(v) for k, v in hist.items()})

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write(folder / f"state-{step}.npz", write)
    meta = {"step": step, "fingerprint": model.fingerprint, "method": method, "options": _jsonable(options),
            "n_leaves": len(leaves), "file": f"state-{step}.npz"}
    atomic_write(folder / "state.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    for old in folder.glob("state-*.npz"):  # keep only the checkpoint the JSON points to
        if old.name != meta["file"]:
            old.unlink(missing_ok=True)


def load_checkpoint(folder: Path, model, method, options, like):
    meta_path = folder / "state.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["step"], meta["file"], meta["fingerprint"]  # noqa: B018 -- the keys a checkpoint must have
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise EbmError("fit", f"cannot read the checkpoint {meta_path} ({e})",
                       hint="delete the checkpoints folder to start afresh, or drop --resume") from None
    if meta["fingerprint"] != model.fingerprint:
        raise EbmError("fit", f"the checkpoint in {folder} belongs to another model (fingerprint "
                              f"{meta['fingerprint']}, this model {model.fingerprint})",
                       hint="use another --out folder, or drop --resume")
    if meta["method"] != method or meta["options"] != _jsonable(options):
        raise EbmError("fit", f"the checkpoint in {folder} was made with method '{meta['method']}' and options "
                              f"{meta['options']}, not '{method}' {_jsonable(options)}",
                       hint="resume with the same method and options")
    arrays = _load_npz(folder / meta["file"], "checkpoint")
    leaves, treedef = jax.tree_util.tree_flatten(like)
    if meta.get("n_leaves") != len(leaves) or any(
            f"leaf_{i}" not in arrays or arrays[f"leaf_{i}"].shape != np.shape(l) for i, l in enumerate(leaves)):
        raise EbmError("fit", f"the checkpoint in {folder} does not match this run's state",
                       hint="delete the checkpoints folder to start afresh, or drop --resume")
    restored = [jnp.asarray(arrays[f"leaf_{i}"], dtype=l.dtype) for i, l in enumerate(leaves)]
    hist = {k[5:]: arrays[k].tolist() for k in arrays if k.startswith("hist_")}
    return jax.tree_util.tree_unflatten(treedef, restored), int(meta["step"]), hist


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))

