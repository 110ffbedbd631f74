"""`ebmppl.fit`: fit a model's params to data with one call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import jax.numpy as jnp
import numpy as np

from ..errors import EbmDataError, EbmError
from ..setups import Setups, context, digest
from .loop import FitResult, Objective, Trainer, make_optimizer, run
from .problem import Problem

METHODS = ("auto", "cd", "pcd", "sm", "ssm", "dsm", "nce", "fce", "vi", "mle", "ce")


def choose_method(model) -> tuple[str, str]:
    """(method, reason) for ``method="auto"``."""
    if any(s.domain.discrete for s in model.vars):
        return "pcd", "the model has discrete variables: persistent contrastive divergence with block Gibbs"
    if _normalized(model):
        return "mle", "every factor is a normalized density: maximum likelihood"
    if all(s.domain.kind == "real" for s in model.vars):
        return "ssm", "real-valued variables and an unnormalized energy: sliced score matching"
    bad = next(s for s in model.vars if s.domain.kind != "real")
    raise EbmError("fit", f"no training method handles the constrained var '{bad.name}' ({bad.type_str()}) of an "
                          f"unnormalized model", bad.span,
                   "declare it real and map it inside the energy (e.g. exp(x) for a positive quantity)")


def _normalized(model) -> bool:
    return bool(model.factors) and all(f.normalized for f in model.factors) and not model.latents \
        and model.tree is None


def mle_objective(problem) -> Objective:
    """Maximum likelihood for a normalized model: the energy is −log p."""
    def loss(params, batch, key, state):
        return jnp.mean(problem.energies(params, batch)), (state, {})
    return Objective(loss)


def build_objective(method: str, problem: Problem, data: dict, batch_size: int, options: dict) -> Objective:
    from . import cd, conditional, fce, nce, score_matching as sm, vi
    opts = dict(options)
    try:
        if method == "sm":
            return sm.sm_loss(problem, **opts)
        if method == "ssm":
            return sm.ssm_loss(problem, **opts)
        if method == "dsm":
            return sm.dsm_loss(problem, **opts)
        if method == "nce":
            return nce.nce_objective(problem, data, **opts)
        if method == "cd":
            return cd.cd_objective(problem, data, persistent=False, batch_size=batch_size, **opts)
        if method == "pcd":
            return cd.cd_objective(problem, data, persistent=True, batch_size=batch_size, **opts)
        if method == "fce":
            return fce.fce_objective(problem, data, **opts)
        if method == "vi":
            return vi.vi_objective(problem, data, **opts)
        if method == "ce":
            return conditional.ce_objective(problem, data, **opts)
        if method == "mle":
            if opts:
                raise TypeError(f"unexpected option {next(iter(opts))!r}")
            if not _normalized(problem.model):
                raise EbmError("fit", "mle needs a normalized model (every factor a `~` density, no latents, "
                                      "no `model =` composition)", hint="use ssm, nce or pcd for energies")
            return mle_objective(problem)
    except (TypeError, ValueError) as e:
        raise EbmError("fit", f"bad option for method '{method}': {e}",
                       hint="see docs/methods.md for each method's options") from None
    raise EbmError("fit", f"unknown method '{method}'", hint=f"choose one of {', '.join(METHODS)}")


def prepare_data(model, data, what="data") -> dict:
    """A dict name -> (rows, *shape) array for every var, from a dict, a CSV or an NPZ path."""
    from ..io import read_data
    if isinstance(data, (str, Path)):
        return read_data(data, model)
    if not isinstance(data, dict):
        raise EbmDataError(f"{what} must be a dict of arrays or a CSV/NPZ file path")
    low = model.lowered
    out, n = {}, None
    for s in model.vars:
        if s.name not in data:
            raise EbmDataError(f"{what} has no values for var '{s.name}'")
        a = np.asarray(data[s.name])
        want = low.shapes[s.name]
        if tuple(a.shape[1:]) != tuple(want):
            raise EbmDataError(f"{what}['{s.name}'] has rows of shape {list(a.shape[1:])}, declared {list(want)}")
        if n is not None and a.shape[0] != n:
            raise EbmDataError(f"{what}: vars have different numbers of rows ({n} and {a.shape[0]})")
        if not np.all(np.isfinite(a)):
            r = int(np.argwhere(~np.isfinite(a))[0][0])
            raise EbmDataError(f"{what}['{s.name}'] is not finite in row {r}")
        n = a.shape[0]
        out[s.name] = a
    return out


def fit(model, data, method: str = "auto", steps: int = 1000, batch_size: int = 256, optimizer="adam",
        lr=1e-3, key=0, val_data=None, val_frac: float = 0.0, patience: Optional[int] = None,
        checkpoint_dir=None, checkpoint_every: Optional[int] = None, resume: bool = False, progress: bool = True,
        params=None, clip_norm=None, average: Optional[float] = None, chunk: int = 50, consts=None,
        **method_options) -> FitResult:
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
        **method_options: the method's options (see docs/methods.md).

    Returns:
        :class:`FitResult` with the fitted params and the per-step history.

    Example:
        >>> import ebmppl
        >>> res = ebmppl.fit(ebmppl.load("examples/ring.ebm"), "examples/data/ring.csv", method="ssm", steps=500)
    """
    if consts is not None:
        model = model.bind(consts)
    if method not in METHODS:
        raise EbmError("fit", f"unknown method '{method}'", hint=f"choose one of {', '.join(METHODS)}")
    if not model.params:
        raise EbmError("fit", "the model has no params to fit", hint="declare some with `param NAME : ...`")
    if steps < 1 or batch_size < 1:
        raise EbmError("fit", "steps and batch_size must be positive")
    clash = sorted(set(method_options) & _FIT_ARGS)
    if clash:
        raise EbmError("fit", f"'{clash[0]}' is an argument of fit, not a method option",
                       hint=f"pass it as {clash[0]}=... (on the command line --{clash[0].replace('_', '-')})")
    if method == "auto":
        method, why = choose_method(model)
        print(f"method=auto: {why}", file=sys.stderr)
    problem = Problem(model)
    data = prepare_data(model, data)
    if val_data is None and val_frac:
        if not 0 < val_frac < 1:
            raise EbmError("fit", "val_frac must be between 0 and 1")
        n = next(iter(data.values())).shape[0]
        perm = np.random.default_rng(0 if not isinstance(key, int) else key).permutation(n)
        n_val = max(1, int(round(val_frac * n)))
        val_data = {k: v[perm[:n_val]] for k, v in data.items()}
        data = {k: v[perm[n_val:]] for k, v in data.items()}
    elif val_data is not None:
        val_data = prepare_data(model, val_data, "val_data")
    if next(iter(data.values())).shape[0] == 0:
        raise EbmError("fit", "the training data has no rows")
    data_j = {k: jnp.asarray(v, dtype=jnp.result_type(float)) for k, v in data.items()}
    val_j = None if val_data is None else {k: jnp.asarray(v, dtype=jnp.result_type(float))
                                           for k, v in val_data.items()}
    ckey = _setup_key(model, method, method_options, data, batch_size, optimizer, lr, clip_norm, average)
    kept = _SETUPS.get(ckey, model)
    if kept is not None:  # the same setup as a recent call: its compiled programs
        problem, trainer = kept
    else:
        objective = build_objective(method, problem, data_j, batch_size, method_options)
        trainer = Trainer(problem, objective, make_optimizer(optimizer, lr, clip_norm), data_j, batch_size, average)
        _SETUPS.put(ckey, model, (problem, trainer))
    return run(problem, trainer, data_j, steps=steps, key=key, params=params, val_data=val_j, patience=patience,
               chunk=chunk, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
               progress=progress, method=method,
               options=_options_for_record({**method_options, "_loop": {
                   "batch_size": batch_size, "lr": lr if isinstance(lr, (int, float)) else "schedule",
                   "optimizer": optimizer if isinstance(optimizer, str) else "custom", "seed": key
                   if isinstance(key, int) else "key", "clip_norm": clip_norm, "average": average, "chunk": chunk}}))


# The compiled training programs of the last few setups, so that another fit of the same model, method,
# options, optimizer and data (another seed, more steps, a resume) neither traces nor compiles again:
# a warm RBM fit drops from 0.22 s to 0.048 s, against 0.101 s for scikit-learn's whole fit.
_SETUPS = Setups(kept=4)
_DIGEST_MAX_BYTES = 1 << 26  # larger data sets are not digested (and their setups not kept)


def _setup_key(model, method, options, data, batch_size, optimizer, lr, clip_norm, average) -> Optional[tuple]:
    """What the compiled programs depend on, or None when a part of it cannot be keyed safely (an option
    that is not plain JSON, data too large to digest cheaply). The model is keyed by identity (see
    ebmppl/setups.py), an optax optimizer or schedule likewise (the kept trainer holds it)."""
    try:
        opts = json.dumps(options, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        return None
    if sum(np.asarray(v).nbytes for v in data.values()) > _DIGEST_MAX_BYTES:
        return None
    ident = lambda v: v if isinstance(v, (str, int, float, type(None))) else ("object", id(v))  # noqa: E731
    return (id(model), method, opts, digest(data), int(batch_size), ident(optimizer), ident(lr),
            ident(clip_norm), ident(average), *context())


_FIT_ARGS = {"model", "data", "method", "steps", "batch_size", "optimizer", "lr", "key", "val_data", "val_frac",
             "patience", "checkpoint_dir", "checkpoint_every", "resume", "progress", "params", "clip_norm",
             "average", "chunk", "consts"}


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
