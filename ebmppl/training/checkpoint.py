"""Checkpoints of a training run: atomic state files and the checks that make a resume exact.

A checkpoint is ``state-STEP.npz`` (every leaf of the loop's state, numbered; the state before the last
chunk, which the NaN guard replays when the next chunk's first step fails; and the history) and
``state.json`` (the step, the model's fingerprint, early stopping's state, the NPZ's name and the run's
*record*: everything that decides the steps — the method and its options, the optimizer, learning
rate, seed, batch size, chunk, clipping, averaging, validation split and patience, float64 or not, and
digests of the training and validation rows). Both are written with :func:`ebmppl.io.atomic_write`, the
JSON last: it names the NPZ and so marks the pair complete, and older NPZ files are removed only after
it is in place, so a kill at any moment leaves a complete checkpoint. Nothing is pickled.

A resume reads ``state.json`` before anything is compiled and refuses a checkpoint of another model or
one whose record differs, naming the field that differs; a file that is not a checkpoint is a data error
naming it.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import EbmDataError, EbmError
from ..io import atomic_write, load_npz, read_json

_AFRESH = "delete the checkpoints folder to start afresh, or drop --resume"
_FILE = re.compile(r"state-[0-9]+\.npz")


class Saved(NamedTuple):
    """A checkpoint read back: the loop's state at ``step``, the history, early stopping's (best validation
    loss, checks since) and the state before the last chunk with that chunk's steps (or None)."""

    state: Any
    step: int
    hist: dict
    watch: tuple
    prev: Optional[tuple]


def check_folder(folder) -> Optional[Path]:
    """The checkpoints folder as a path; one that exists as a file is refused before the run starts."""
    if folder is None:
        return None
    folder = Path(folder)
    for p in (folder, *folder.parents):  # the nearest that exists must be a folder
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == folder else f"cannot be made: '{p}' is a file"
                raise EbmError("output", f"the checkpoints folder '{folder}' {what}, not a folder",
                               hint="give another --out (or checkpoint_dir=), or move the file away")
            break
    return folder


def save_checkpoint(folder: Path, model, record: dict, reached, hist: dict) -> None:
    """Write ``state-STEP.npz`` + ``state.json`` atomically (the JSON last: it marks the pair complete) for the
    loop's ``reached`` (its state, step, early stopping's watch and previous chunk) and history ``hist``."""
    leaves = jax.tree_util.tree_leaves(reached.state)
    arrays = {f"leaf_{i}": np.asarray(a) for i, a in enumerate(leaves)}
    if reached.prev is not None:
        arrays.update({f"prev_{i}": np.asarray(a) for i, a in enumerate(jax.tree_util.tree_leaves(reached.prev[0]))})
    arrays.update({f"hist_{k}": np.asarray(v) for k, v in hist.items()})
    step = int(reached.t)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    prev = None if reached.prev is None else [int(reached.prev[1][0]), int(reached.prev[1][-1]) + 1]
    meta = {"step": step, "fingerprint": model.fingerprint, "record": _jsonable(record), "n_leaves": len(leaves),
            "watch": [float(reached.watch.best), int(reached.watch.since_best)], "prev": prev,
            "file": f"state-{step}.npz"}
    try:
        atomic_write(folder / f"state-{step}.npz", write)
        atomic_write(folder / "state.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    except OSError as e:  # the last complete checkpoint stays (the writes are atomic)
        raise EbmError("output", f"cannot write a checkpoint in {folder}: {e.strerror or e}",
                       hint="free some disk space or fix the folder's permissions, then resume") from None
    for old in folder.glob("state-*.npz"):  # keep only the checkpoint the JSON points to
        if old.name != meta["file"]:
            old.unlink(missing_ok=True)


def prepare(folder: Optional[Path], model, record: dict, steps: int) -> Optional[dict]:
    """The ``state.json`` a ``resume=True`` run continues from, checked to be of this model and this run's
    record and to lie within ``steps``; None when the folder holds no checkpoint (the run starts afresh)."""
    if folder is None:
        raise EbmError("fit", "resume=True needs checkpoint_dir")
    path = folder / "state.json"
    if not path.exists() and not path.is_symlink():
        return None
    meta = _read_meta(path)
    if meta["fingerprint"] != model.fingerprint:
        raise EbmError("fit", f"the checkpoint in {folder} belongs to another model (fingerprint "
                              f"{meta['fingerprint']}, this model {model.fingerprint})",
                       hint="use another --out folder, or drop --resume")
    why = _difference(meta["record"], _jsonable(record))
    if why is not None:
        raise EbmError("fit", f"the checkpoint in {folder} was made with {why[0]}; this run has {why[1]}",
                       hint=f"resume with the same settings, or {_AFRESH}")
    if meta["step"] > steps:
        raise EbmError("fit", f"the checkpoint in {folder} is at step {meta['step']}, beyond steps={steps}",
                       hint=f"resume with steps={meta['step']} or more (--steps), or {_AFRESH}")
    return meta


def restore(folder: Path, meta: dict, like, progress: bool) -> Saved:
    """The checkpoint ``meta`` names (see :func:`prepare`), its arrays shaped like the loop state ``like``."""
    path = folder / meta["file"]
    arrays = load_npz(path, "checkpoint")
    leaves, treedef = jax.tree_util.tree_flatten(like)

    def tree(prefix):
        if any(f"{prefix}{i}" not in arrays or arrays[f"{prefix}{i}"].shape != np.shape(l)
               for i, l in enumerate(leaves)):
            raise EbmError("fit", f"the checkpoint {path} does not match this run's state", hint=_AFRESH)
        return jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(arrays[f"{prefix}{i}"], dtype=l.dtype) for i, l in enumerate(leaves)])
    if meta["n_leaves"] != len(leaves):
        raise EbmError("fit", f"the checkpoint {path} does not match this run's state", hint=_AFRESH)
    prev = None if meta["prev"] is None else (tree("prev_"), jnp.arange(*meta["prev"]))
    hist = {k[5:]: arrays[k].tolist() for k in arrays if k.startswith("hist_")}
    if progress:
        print(f"resuming from step {meta['step']} ({folder})", file=sys.stderr)
    return Saved(tree("leaf_"), meta["step"], hist, tuple(meta["watch"]), prev)


def _read_meta(path: Path) -> dict:
    """``state.json``, every field checked: an error names the file and the field."""
    meta = read_json(path, "checkpoint")

    def bad(field, want):
        return EbmDataError(f"{path}: cannot read the checkpoint: '{field}' must be {want}, not "
                            f"{json.dumps(meta.get(field))[:40]}", hint=_AFRESH)
    if not _whole(meta.get("step")):
        raise bad("step", "a whole number, 0 or more")
    if not isinstance(meta.get("file"), str) or not _FILE.fullmatch(meta["file"]):
        raise bad("file", "the name of a state-STEP.npz file in the same folder")
    if not isinstance(meta.get("fingerprint"), str):
        raise bad("fingerprint", "a model fingerprint")
    if not _whole(meta.get("n_leaves")):
        raise bad("n_leaves", "a whole number")
    if "record" not in meta:
        raise EbmDataError(f"{path}: the checkpoint does not say how its run was made (an older ebmppl wrote it)",
                           hint=_AFRESH)
    if not isinstance(meta["record"], dict):
        raise bad("record", "an object")
    w = meta.get("watch")
    if not (isinstance(w, list) and len(w) == 2 and _number(w[0]) and _whole(w[1])):
        raise bad("watch", "[best validation loss, checks since]")
    p = meta.get("prev")
    if not (p is None or (isinstance(p, list) and len(p) == 2 and all(map(_whole, p)) and p[0] < p[1])):
        raise bad("prev", "null or [first step, end step]")
    return meta


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


_WORDS = {"x64": lambda v: "x64 on (float64)" if v else "x64 off (float32)",
          "data": lambda v: f"the training rows of digest {str(v)[:12]}",
          "val_data": lambda v: f"the validation rows of digest {str(v)[:12]}" if v else "no validation rows"}


def _difference(saved: dict, now: dict) -> Optional[tuple]:
    """The first field of the two records that differs, as (``name=saved``, ``name=now``), or None."""
    for key in dict.fromkeys([*now, *saved]):
        a, b = saved.get(key, "<absent>"), now.get(key, "<absent>")
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _difference(a, b)
            if inner is not None:
                return inner
            continue
        word = _WORDS.get(key, lambda v: f"{key}={v!r}" if key != "method" else f"method {v!r}")
        return word(a), word(b)
    return None


def _jsonable(d: Any):
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
