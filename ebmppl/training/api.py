"""`ebmppl.fit`: fit a model's params to data with one call."""

from __future__ import annotations

import json
import sys
from typing import Optional

import jax.numpy as jnp
import numpy as np

from ..settings import ensure_compile_cache
from ..errors import EbmError
from ..io import check_params, prepare_data
from ..setups import Setups, context, digest
from . import cd, conditional, fce, nce, score_matching as sm, trainer as T, vi
from .loop import run
from .mle import mle_objective, normalized
from .objective import Objective
from .options import LoopOptions, admit_key, admit_lr, admit_method_options, defaults, loop_options
from .problem import Problem, on_real_line
from .result import FitResult

METHODS = ("auto", "cd", "pcd", "sm", "ssm", "dsm", "nce", "fce", "vi", "mle", "ce")


def choose_method(model) -> tuple[str, str]:
    """(method, reason) for ``method="auto"``."""
    if any(s.domain.discrete for s in model.vars):
        return "pcd", "the model has discrete variables: persistent contrastive divergence with block Gibbs"
    if normalized(model):
        return "mle", "every factor is a normalized density: maximum likelihood"
    if all(on_real_line(model, s) for s in model.vars):
        return "ssm", "real-valued variables and an unnormalized energy: sliced score matching"
    bad = next(s for s in model.vars if not on_real_line(model, s))
    raise EbmError("fit", f"no training method handles the constrained var '{bad.name}' ({bad.type_str()}) of an "
                          f"unnormalized model", bad.span,
                   "declare it real and map it inside the energy (e.g. exp(x) for a positive quantity)")


def _mle(problem, data, batch_size, **opts) -> Objective:
    if opts:
        raise TypeError(f"unexpected option {next(iter(opts))!r}")
    return mle_objective(problem)


# each method's objective from (problem, data, batch_size, **its options)
_BUILDERS = {
    "sm": lambda p, d, b, **o: sm.sm_loss(p, **o),
    "ssm": lambda p, d, b, **o: sm.ssm_loss(p, **o),
    "dsm": lambda p, d, b, **o: sm.dsm_loss(p, **o),
    "nce": lambda p, d, b, **o: nce.nce_objective(p, d, **o),
    "cd": lambda p, d, b, **o: cd.cd_objective(p, d, persistent=False, batch_size=b, **o),
    "pcd": lambda p, d, b, **o: cd.cd_objective(p, d, persistent=True, batch_size=b, **o),
    "fce": lambda p, d, b, **o: fce.fce_objective(p, d, **o),
    "vi": lambda p, d, b, **o: vi.vi_objective(p, d, **o),
    "ce": lambda p, d, b, **o: conditional.ce_objective(p, d, **o),
    "mle": _mle,
}


def build_objective(method: str, problem: Problem, data: dict, batch_size: int, options: dict) -> Objective:
    """The :class:`~ebmppl.training.objective.Objective` of ``method`` with its ``options``."""
    builder = _BUILDERS.get(method)
    if builder is None:
        raise EbmError("fit", f"unknown method '{method}'", hint=f"choose one of {', '.join(METHODS)}")
    admit_method_options(method, options)
    try:
        return builder(problem, data, batch_size, **dict(options))
    except (TypeError, ValueError) as e:
        raise EbmError("fit", f"bad option for method '{method}': {e}",
                       hint="see docs/methods.md for each method's options") from None


_D = defaults()


def fit(model, data, method: str = "auto", steps: int = _D["steps"], batch_size: int = _D["batch_size"],
        optimizer="adam", lr=1e-3, key=0, val_data=_D["val_data"], val_frac: float = _D["val_frac"],
        patience: Optional[int] = _D["patience"], checkpoint_dir=_D["checkpoint_dir"],
        checkpoint_every: Optional[int] = _D["checkpoint_every"], resume: bool = _D["resume"],
        progress: bool = _D["progress"], params=None, clip_norm=_D["clip_norm"],
        average: Optional[float] = _D["average"], chunk: int = _D["chunk"], consts=None, *,
        loop: Optional[LoopOptions] = None, **method_options) -> FitResult:
    """Fit a model's params to data.

    Args:
        model: a bound :class:`~ebmppl.Model` (``consts=`` binds it here).
        data: dict name -> array (rows first), or a CSV / NPZ path.
        method: ``auto``, ``sm``, ``ssm``, ``dsm``, ``nce``, ``cd``, ``pcd``, ``fce``, ``vi``, ``mle`` or ``ce``
            (a classifier's conditional likelihood of a categorical var).
        steps, batch_size, optimizer (name or optax transformation), lr (float or optax schedule).
        key: seed. val_data / val_frac: validation data or the fraction of rows held out.
        patience: stop after this many validation checks without improvement.
        checkpoint_dir, checkpoint_every, resume: atomic checkpoints and exact resume.
        params: starting params (default ``model.init_params(key)``).
        clip_norm: clip gradients to this global norm.
        average: return an exponential moving average of the iterates with this decay (e.g. 0.99;
            Polyak-Ruppert averaging, which smooths the noise of stochastic methods such as PCD).
        loop: the loop's options (steps, batch_size, chunk, validation, patience, checkpoints, progress,
            clip_norm, average) as one :class:`~ebmppl.training.options.LoopOptions`, instead of one by one;
            giving a knob both ways is an error.
        **method_options: the method's options (see docs/methods.md).

    Returns:
        :class:`FitResult` with the fitted params and the per-step history.

    Example:
        >>> import ebmppl
        >>> res = ebmppl.fit(ebmppl.load("examples/ring.ebm"), "examples/data/ring.csv", method="ssm", steps=500)
    """
    ensure_compile_cache()
    lr, key = admit_lr(lr), admit_key(key)
    opts = loop_options(loop, steps=steps, batch_size=batch_size, chunk=chunk, val_data=val_data,
                        val_frac=val_frac, patience=patience, checkpoint_dir=checkpoint_dir,
                        checkpoint_every=checkpoint_every, resume=resume, progress=progress, clip_norm=clip_norm,
                        average=average)
    if consts is not None:
        model = model.bind(consts)
    method = _check_request(model, method, opts, method_options)
    if params is not None:
        check_params(model, params)
    problem = Problem(model)
    train, val = _split(model, data, opts, key)
    data_j = _as_float(train)
    val_j = None if val is None else _as_float(val)
    problem, trainer = _trainer(model, problem, method, method_options, train, data_j, opts, optimizer, lr)
    settings = {"steps": opts.steps, "batch_size": opts.batch_size, "lr": _plain(lr, "schedule"),
                "optimizer": _plain(optimizer, "custom"), "seed": key if isinstance(key, int) else "key",
                "clip_norm": opts.clip_norm, "average": opts.average, "chunk": opts.chunk}
    return run(problem, trainer, data_j, opts, key=key, params=params, val_data=val_j, method=method,
               options=_options_for_record(method_options), settings=_options_for_record(settings),
               record=_run_record(method, method_options, opts, optimizer, lr, key, train, val))


def _run_record(method, method_options, opts: LoopOptions, optimizer, lr, key, train, val) -> Optional[dict]:
    """Everything that decides a run's steps, which a checkpoint must match to be resumed (None without
    checkpoints: the data are then not digested)."""
    if opts.checkpoint_dir is None:
        return None
    import jax
    seed = key if isinstance(key, int) else "key " + str(digest(np.asarray(jax.random.key_data(key)) if
                                                               jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                                               else np.asarray(key)))
    loop = {"batch_size": int(opts.batch_size), "chunk": int(opts.chunk), "lr": _plain(lr, "schedule"),
            "optimizer": _plain(optimizer, "custom"), "seed": seed, "clip_norm": opts.clip_norm,
            "average": opts.average or None, "val_frac": opts.val_frac if opts.val_data is None else None,
            "patience": opts.patience}
    return {"method": method, "options": _options_for_record(method_options), "loop": loop,
            "x64": bool(jax.config.jax_enable_x64), "data": digest(train),
            "val_data": None if val is None else digest(val)}


def _plain(value, otherwise: str):
    return value if isinstance(value, (str, int, float)) else otherwise


def _check_request(model, method: str, opts: LoopOptions, method_options: dict) -> str:
    """Refuse a request no method can honour; the method to run (``auto`` resolved, its reason on stderr)."""
    if method not in METHODS:
        raise EbmError("fit", f"unknown method '{method}'", hint=f"choose one of {', '.join(METHODS)}")
    if not model.params:
        raise EbmError("fit", "the model has no params to fit", hint="declare some with `param NAME : ...`")
    clash = sorted(set(method_options) & _FIT_ARGS)
    if clash:
        raise EbmError("fit", f"'{clash[0]}' is an argument of fit, not a method option",
                       hint=f"pass it as {clash[0]}=... (on the command line --{clash[0].replace('_', '-')})")
    if method == "auto":
        method, why = choose_method(model)
        print(f"method=auto: {why}", file=sys.stderr)
    admit_method_options(method, method_options)
    return method


def _split(model, data, opts: LoopOptions, key) -> tuple:
    """(training rows, validation rows or None), prepared; ``val_frac`` holds out a seeded random fraction."""
    data = prepare_data(model, data)
    val_data = opts.val_data
    if val_data is None and opts.val_frac:
        n = next(iter(data.values())).shape[0]
        perm = np.random.default_rng(0 if not isinstance(key, int) else key).permutation(n)
        n_val = max(1, int(round(opts.val_frac * n)))
        val_data = {k: v[perm[:n_val]] for k, v in data.items()}
        data = {k: v[perm[n_val:]] for k, v in data.items()}
    elif val_data is not None:
        val_data = prepare_data(model, val_data, "val_data")
    if next(iter(data.values())).shape[0] == 0:
        raise EbmError("fit", "the training data has no rows")
    return data, val_data


def _as_float(data: dict) -> dict:
    return {k: jnp.asarray(v, dtype=jnp.result_type(float)) for k, v in data.items()}


def _trainer(model, problem, method, method_options, data, data_j, opts: LoopOptions, optimizer, lr) -> tuple:
    """(problem, trainer): a kept setup's (its programs compiled already), else a new one, kept."""
    ckey = _setup_key(model, method, method_options, data, opts.batch_size, optimizer, lr, opts.clip_norm,
                      opts.average)
    kept = _SETUPS.get(ckey, model)
    if kept is not None:  # the same setup as a recent call: its compiled programs
        return kept
    objective = build_objective(method, problem, data_j, opts.batch_size, method_options)
    trainer = T.make_trainer(problem, objective, T.make_optimizer(optimizer, lr, opts.clip_norm), data_j,
                             opts.batch_size, opts.average)
    _SETUPS.put(ckey, model, (problem, trainer))
    return problem, trainer


# The compiled training programs of the last few setups, so that another fit of the same model, method,
# options, optimizer and data (another seed, more steps, a resume) neither traces nor compiles again
# (benchmarks/findings.md has the warm-fit times).
_SETUPS = Setups(kept=4)
_DIGEST_MAX_BYTES = 1 << 26  # larger data sets are not digested (and their setups not kept)


def _setup_key(model, method, options, data, batch_size, optimizer, lr, clip_norm, average) -> Optional[tuple]:
    """What the compiled programs depend on, or None when a part of it cannot be keyed safely (an option
    that is not plain JSON, data too large to digest cheaply). The model is keyed by identity (see
    ebmppl/setups.py), an optax optimizer or schedule likewise (the kept trainer holds it); the block
    cap is read when a trainer is built."""
    try:
        opts = json.dumps(options, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        return None
    if sum(np.asarray(v).nbytes for v in data.values()) > _DIGEST_MAX_BYTES:
        return None
    ident = lambda v: v if isinstance(v, (str, int, float, type(None))) else ("object", id(v))  # noqa: E731
    return (id(model), method, opts, digest(data), int(batch_size), ident(optimizer), ident(lr),
            ident(clip_norm), ident(average), T.BLOCK_MAX, *context())


_FIT_ARGS = {"model", "data", "method", "steps", "batch_size", "optimizer", "lr", "key", "val_data", "val_frac",
             "patience", "checkpoint_dir", "checkpoint_every", "resume", "progress", "params", "clip_norm",
             "average", "chunk", "consts", "loop"}


def _options_for_record(opts: dict) -> dict:
    out = {}
    for k, v in opts.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)):
            out[k] = list(v)
        elif isinstance(v, dict):
            out[k] = _options_for_record(v)
        else:
            out[k] = type(v).__name__
    return out
