"""A fit on disk: the files :meth:`FitResult.save <ebmppl.FitResult.save>` and ``ebmppl fit`` write, and
reading them back for :func:`ebmppl.load_fit`. Nothing is pickled.

The layout of a folder:

- ``params.npz``: the fitted params, each in its dtype and shape (an mlp's weights as ``name/...``);
- ``history.npz``: every per-step history array (``step``, ``loss``, ``grad_norm``, ``param:NAME`` ...);
- ``extras.npz`` (only when the method has any): the method's own trained values (NCE's log Z, the
  ``vi``/``fce`` sampler's weights) and its carried state (PCD's persistent chains);
- ``params.json``, written last (it marks the set complete): the model's name and fingerprint, the
  params' values (:func:`ebmppl.model.summary.param_values`), shapes and dtypes, the method, its options,
  the loop's settings, how the run ended, and for each NPZ its arrays' shapes and dtypes and a digest, so
  a file of another run or one tampered with is refused.

Reading goes through the hardened readers of :mod:`ebmppl.io` (``allow_pickle=False``, headers checked
before anything is allocated), and every field is checked: a bad file is an ``EbmDataError`` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import EbmDataError, EbmError
from ..io import atomic_write, load_npz
from ..io.params import load_params, read_params, read_sidecar, write_params
from ..io.trees import check_array, decode, encode
from ..model.summary import param_values
from ..setups import digest

PARAMS, HISTORY, EXTRAS = "params.npz", "history.npz", "extras.npz"
_HINT = "keep the files of a saved fit together, as FitResult.save and `ebmppl fit` wrote them"


def _npz(path: Path, arrays: dict) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write(path, write)


def _described(arrays: dict) -> dict:
    return {"digest": digest(arrays),
            "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in arrays.items()}}


def write_fit(result, folder, *, data: Optional[str] = None, final: Optional[dict] = None,
              params: bool = True) -> list:
    """Write ``result`` into ``folder`` (made if missing); the paths written, ``params.json`` last.

    ``params=False`` writes the history only (for a run whose params are not usable). ``data`` and ``final``
    (the final numbers) are recorded in ``params.json``."""
    folder = Path(folder)
    hist = {k: np.asarray(v) for k, v in result.history.items()}
    written = [folder / HISTORY]
    _npz(folder / HISTORY, hist)
    if not params:
        return written
    extra_s, extra_a = encode(dict(result.extra), "extra")
    state_s, state_a = encode(result.state, "state")
    extras = None
    if extra_a or state_a:
        arrays = {**extra_a, **state_a}
        _npz(folder / EXTRAS, arrays)
        written.append(folder / EXTRAS)
        extras = {"file": EXTRAS, **_described(arrays), "extra": extra_s, "state": state_s}
    else:
        extras = {"file": None, "extra": extra_s, "state": state_s}
    meta = {"method": result.method, "options": result.options, "loop": dict(result.loop),
            "values": param_values(result.params), "final": final or {}, "data": data,
            "result": {"stopped": result.stopped, "steps_done": int(result.steps_done),
                       "interrupted": bool(result.interrupted), "failure": result.failure,
                       "params_usable": bool(result.params_usable)},
            "history": {"file": HISTORY, **_described(hist)}, "extras": extras}
    write_params(folder / PARAMS, result.fingerprint, result.model_name, result.params, meta)
    return written + [folder / PARAMS, folder / "params.json"]


def read_fit(folder, model=None) -> dict:
    """The fields of a :class:`~ebmppl.FitResult` saved in ``folder`` (see :func:`write_fit`), each checked;
    with ``model``, the params must be this model's (fingerprint, shapes, domains)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EbmDataError(f"'{folder}' is not a folder holding a saved fit" if folder.exists() else
                           f"the saved-fit folder '{folder}' does not exist",
                           hint="give the folder FitResult.save or `ebmppl fit --out` wrote")
    path = folder / PARAMS
    if not path.exists():
        raise EbmDataError(f"'{folder}' holds no {PARAMS} (a run whose params were not usable writes none)",
                           hint="give the folder FitResult.save or `ebmppl fit --out` wrote")
    params, meta = read_params(path)
    if model is not None:
        read_sidecar(path, model)
        params = load_params(path, model)
    side = path.with_suffix(".json")
    res = _field(meta, "result", dict, side)
    hist = _arrays(folder, _field(meta, "history", dict, side), side, finite=False)
    ex = _field(meta, "extras", dict, side)
    ex_arrays = _arrays(folder, ex, side) if ex.get("file") is not None else {}
    where = f"{side} (extras)"
    return dict(params=params, history=hist, method=_field(meta, "method", str, side),
                options=_field(meta, "options", dict, side), loop=_field(meta, "loop", dict, side),
                extra=decode(ex.get("extra"), ex_arrays, where), state=decode(ex.get("state"), ex_arrays, where),
                stopped=_field(res, "stopped", str, side), fingerprint=_field(meta, "fingerprint", str, side),
                steps_done=_field(res, "steps_done", int, side), interrupted=_field(res, "interrupted", bool, side),
                failure=_field(res, "failure", (str, type(None)), side),
                params_usable=_field(res, "params_usable", bool, side), model_name=_field(meta, "model", str, side))


def _field(meta: dict, name: str, kind, side: Path):
    v = meta.get(name)
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise EbmDataError(f"{side}: cannot read the saved fit: '{name}' is missing or of the wrong type",
                           hint=_HINT)
    return v


def _arrays(folder: Path, desc: dict, side: Path, finite: bool = True) -> dict:
    """The arrays of the NPZ ``desc`` names, checked against the shapes, dtypes and digest it records."""
    name, recorded = desc.get("file"), desc.get("arrays")
    if name not in (HISTORY, EXTRAS) or not isinstance(recorded, dict):
        raise EbmDataError(f"{side}: cannot read the saved fit: a file entry is malformed", hint=_HINT)
    path = folder / name
    arrays = load_npz(path, "saved fit")

    def bad(why):
        return EbmDataError(f"{path}: {why}", hint=_HINT)
    if set(arrays) != set(recorded):
        raise bad(f"array '{sorted(set(arrays) ^ set(recorded))[0]}' is in one of {name} and {side.name} but not "
                  "the other")
    for k, a in arrays.items():
        r = recorded[k] if isinstance(recorded[k], dict) else {}
        check_array(a, k, r.get("shape"), r.get("dtype"), bad, finite=finite)
    if desc.get("digest") != digest(arrays):
        raise bad(f"it and {side.name} are from different runs (the digest differs)")
    return arrays


def refuse_unusable(result) -> None:
    """A result whose params are not usable is not saved as a fit."""
    if not result.params_usable:
        raise EbmError("output", f"the fit's params are not usable ({result.failure or result.stopped}): "
                                 "nothing saved", hint="fit again with a smaller learning rate or clip_norm=")
