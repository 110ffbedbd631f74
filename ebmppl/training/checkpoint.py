"""Checkpoints of a training run: atomic state files and the checks that make a resume exact.

A checkpoint is ``state-STEP.npz`` (every leaf of the loop's state, numbered, and the history) and
``state.json`` (the step, the model's fingerprint, the method and its options, the NPZ's name). Both are
written with :func:`ebmppl.io.atomic_write`, the JSON last: it names the NPZ and so marks the pair
complete, and older NPZ files are removed only after it is in place, so a kill at any moment leaves a
complete checkpoint. Nothing is pickled. A resume refuses a checkpoint of another model, method or
options, or one whose arrays do not match the run's state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import EbmError
from ..io import atomic_write, load_npz

_AFRESH = "delete the checkpoints folder to start afresh, or drop --resume"


def save_checkpoint(folder: Path, model, method, options, tree, step: int, hist: dict) -> None:
    """Write ``state-STEP.npz`` + ``state.json`` atomically (the JSON last: it marks the pair complete)."""
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


def load_checkpoint(folder: Path, model, method, options, like) -> Optional[tuple]:
    """``(state, step, history)`` from the checkpoint in ``folder``, shaped like ``like``; None when there is none.

    Raises:
        EbmError: the checkpoint is unreadable, of another model, method or options, or does not match ``like``.
    """
    meta = _read_meta(folder / "state.json")
    if meta is None:
        return None
    _check_meta(meta, folder, model, method, options)
    arrays = load_npz(folder / meta["file"], "checkpoint")
    leaves, treedef = jax.tree_util.tree_flatten(like)
    if meta.get("n_leaves") != len(leaves) or any(
            f"leaf_{i}" not in arrays or arrays[f"leaf_{i}"].shape != np.shape(l) for i, l in enumerate(leaves)):
        raise EbmError("fit", f"the checkpoint in {folder} does not match this run's state", hint=_AFRESH)
    restored = [jnp.asarray(arrays[f"leaf_{i}"], dtype=l.dtype) for i, l in enumerate(leaves)]
    hist = {k[5:]: arrays[k].tolist() for k in arrays if k.startswith("hist_")}
    return jax.tree_util.tree_unflatten(treedef, restored), int(meta["step"]), hist


def resume(folder: Optional[Path], model, method, options, state, progress: bool) -> Optional[tuple]:
    """The checkpoint a ``resume=True`` run continues from (see :func:`load_checkpoint`), or None to start afresh."""
    if folder is None:
        raise EbmError("fit", "resume=True needs checkpoint_dir")
    loaded = load_checkpoint(folder, model, method, options, state)
    if loaded is not None and progress:
        print(f"resuming from step {loaded[1]} ({folder})", file=sys.stderr)
    return loaded


def _read_meta(path: Path) -> Optional[dict]:
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta["step"], meta["file"], meta["fingerprint"]  # noqa: B018 -- the keys a checkpoint must have
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise EbmError("fit", f"cannot read the checkpoint {path} ({e})", hint=_AFRESH) from None
    return meta


def _check_meta(meta: dict, folder: Path, model, method, options) -> None:
    """Refuse a checkpoint of another model, or of another method or options."""
    if meta["fingerprint"] != model.fingerprint:
        raise EbmError("fit", f"the checkpoint in {folder} belongs to another model (fingerprint "
                              f"{meta['fingerprint']}, this model {model.fingerprint})",
                       hint="use another --out folder, or drop --resume")
    if meta["method"] != method or meta["options"] != _jsonable(options):
        raise EbmError("fit", f"the checkpoint in {folder} was made with method '{meta['method']}' and options "
                              f"{meta['options']}, not '{method}' {_jsonable(options)}",
                       hint="resume with the same method and options")


def _jsonable(d: Any):
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
