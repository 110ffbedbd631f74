"""Params files: an NPZ of arrays with a JSON sidecar naming the model and the arrays.

An mlp's weights are flattened as ``name/...``; the sidecar holds the model's fingerprint and a digest of
the arrays. Loading refuses a file without its sidecar, a sidecar of another model or of another run,
and any array that is not a param of the model with its shape, numeric, finite in the float type ebmppl
computes in and inside the param's domain (:func:`check_params`, which ``ebmppl.fit`` also applies to
starting params).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import EbmDataError
from ..model.spec import Model
from ..setups import digest
from . import values
from .files import atomic_write, load_npz, read_json, regular_file, sidecar


def _flatten(params: dict, prefix="", convert=True) -> dict:
    out = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/", convert))
        else:
            out[key] = np.asarray(v) if convert else v
    return out


def _unflatten(flat: dict) -> dict:
    out: dict = {}
    for k, v in flat.items():
        parts = k.split("/")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def save_params(path, model: Model, params: dict, extra: dict | None = None) -> Path:
    """Write params as NPZ (nested dicts flattened with '/') and a JSON sidecar with the model's fingerprint
    and a digest of the arrays (so a sidecar of another run is told apart). Both writes are atomic."""
    return write_params(path, model.fingerprint, model.name, params, extra)


def write_params(path, fingerprint: str, name: str, params: dict, extra: dict | None = None) -> Path:
    """:func:`save_params` for the model of ``fingerprint`` and ``name``; the sidecar also holds ``extra`` and
    the arrays' shapes and dtypes, which loading checks. The NPZ is written first, the sidecar last."""
    path = Path(path)
    flat = _flatten(params)

    def write_npz(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **flat)
    atomic_write(path, write_npz)
    meta = {**(extra or {}), "fingerprint": fingerprint, "model": name, "digest": digest(flat),
            "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in flat.items()}}
    atomic_write(sidecar(path), lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return path


def load_params(path, model: Model) -> dict:
    """Read params written by :func:`save_params` (never unpickles), each array in the dtype and shape it was
    saved with.

    Raises:
        EbmDataError: the file or its sidecar is missing, unreadable, of another model or of another run,
            or an array does not fit the model (see :func:`check_params`); the message names the file and
            the array.
    """
    path = Path(path)
    flat = load_npz(path, "params")
    meta = read_sidecar(path, model)
    check_params(model, flat, path)
    _same_run(path, flat, meta)
    return _unflatten(flat)


def read_params(path) -> tuple:
    """``(params, sidecar)`` of a params file read without its model: every array must be one the sidecar
    records, with the shape and dtype it records, numeric and finite (with the model, use
    :func:`load_params`, which also checks each param's domain)."""
    from .trees import check_array
    path = Path(path)
    flat = load_npz(path, "params")
    side = sidecar(path)
    if not side.exists() and not side.is_symlink():
        raise EbmDataError(f"{path}: its sidecar {side} is missing", hint=_TOGETHER)
    meta = read_json(regular_file(side, "params sidecar"), "params sidecar")
    arrays = meta.get("arrays")
    if not isinstance(arrays, dict) or not all(isinstance(v, dict) for v in arrays.values()):
        raise EbmDataError(f"{side}: cannot read (no 'arrays' object naming the params)", hint=_TOGETHER)
    if set(arrays) != set(flat):
        extra = sorted(set(arrays) ^ set(flat))[0]
        raise EbmDataError(f"{path}: array '{extra}' is in one of {path.name} and {side.name} but not the other",
                           hint=_TOGETHER)

    def bad(why):
        return EbmDataError(f"{path}: {why}", hint=_TOGETHER)
    for k, a in flat.items():
        check_array(a, k, arrays[k].get("shape"), arrays[k].get("dtype"), bad)
    _same_run(path, flat, meta)
    return _unflatten(flat), meta


_TOGETHER = "keep params.npz and params.json together, as `ebmppl fit` and FitResult.save wrote them"


def _same_run(path: Path, flat: dict, meta: dict) -> None:
    if meta.get("digest") is not None and meta["digest"] != digest(flat):
        raise EbmDataError(f"{path} and {sidecar(path)} are from different runs: the sidecar describes other "
                           f"arrays", hint="copy params.npz and params.json together, as `ebmppl fit` wrote them")


def read_sidecar(path, model: Model) -> dict:
    """The sidecar of the params file ``path``, checked to be of ``model``."""
    side = sidecar(path)
    if not side.exists() and not side.is_symlink():
        raise EbmDataError(f"{path}: its sidecar {side} is missing (it holds the fingerprint of the model the "
                           f"params belong to)", hint="keep params.npz and params.json together, as `ebmppl fit` "
                                                      "and ebmppl.io.save_params write them")
    meta = read_json(regular_file(side, "params sidecar"), "params sidecar")
    fingerprint = meta.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise EbmDataError(f"{side}: cannot read (no model fingerprint, found {_short(fingerprint)})",
                           hint="keep params.npz and params.json together, as `ebmppl fit` wrote them")
    if fingerprint != model.fingerprint:
        raise EbmDataError(f"{path} holds params of another model ('{meta.get('model')}', fingerprint "
                           f"{fingerprint}); this model's fingerprint is {model.fingerprint}",
                           hint="fit this model, or load the model the params were fitted for")
    return meta


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_params(model: Model, params: dict, path: Optional[Path] = None, shapes: bool = True) -> None:
    """Refuse params that are not every param of ``model`` with its shape, as numbers, finite in the compute
    type and inside its domain. Messages name the array of the file ``path`` (``params.npz: array 'r'``), or
    with no path the key of the dict (``params['r']``). ``shapes=False`` checks the values only, for params
    the model itself made (no trace of ``init_params`` for their shapes)."""
    import jax
    label = (lambda k: f"{path}: array '{k}'") if path is not None else (lambda k: f"params['{k}']")
    flat = _flatten(params, convert=False)
    if not shapes:
        for k, v in flat.items():
            _check_param_values(model, k, np.asarray(v), label)
        return
    want = _flatten(jax.eval_shape(lambda: model.init_params(0)), convert=False)
    for k, v in want.items():
        if k not in flat:
            raise EbmDataError(f"{path}: no array '{k}'" if path is not None else f"params has no value for '{k}'",
                               hint=f"{'arrays' if path is not None else 'keys'} present: {', '.join(flat) or 'none'}")
        try:
            a = np.asarray(flat[k])
        except (TypeError, ValueError):
            raise EbmDataError(f"{label(k)} is not an array of numbers") from None
        if tuple(a.shape) != tuple(v.shape):
            raise EbmDataError(f"{label(k)} has shape {list(a.shape)}, the model needs {list(v.shape)}")
        if not values.numeric(a, bools=False):
            raise EbmDataError(f"{label(k)} has dtype {a.dtype}, not numbers")
        _check_param_values(model, k, a, label)
    extra = set(flat) - set(want)
    if extra:
        raise EbmDataError(f"{label(sorted(extra)[0])} is not a param of this model")


def _check_param_values(model: Model, key: str, a: np.ndarray, label) -> None:
    spec = model.spec(key.split("/")[0])
    network = spec.domain.row.network
    kind = None if network else spec.domain.kind
    bad = values.first_bad(a, kind, () if network else model.lowered.domain_args[spec.name])
    if bad is None:
        return
    at = f" at {list(bad.index)}" if bad.index else ""
    if bad.why == "nonfinite":
        raise EbmDataError(f"{label(key)} is not finite{at}")
    if bad.why == "domain":  # a value outside its domain would make every density NaN
        raise EbmDataError(f"{label(key)} is outside the domain {spec.domain} of param '{spec.name}'{at} "
                           f"({bad.value:g})")
    raise EbmDataError(f"{label(key)}{at}: {values.describe(bad, spec.domain, spec.name)}", hint=values.hint(bad))
