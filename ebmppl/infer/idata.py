"""Draws and sampler statistics -> ``arviz.InferenceData``: the posterior with dims named from the declared
shapes, the consts the run used (``constant_data``; scalar size consts as attributes), the observed consts and
their pointwise log-likelihood, and the attributes ``ebmppl diagnose`` reads (sampler, target acceptance,
lets, notes)."""

from __future__ import annotations

import numpy as np

from .. import diagnostics
from ..dsl import ast as A
from . import predictive


def dims_of(model, name, shape) -> list[str]:
    """The dim names of a value of ``name`` shaped ``shape``: the declared size names (``J``), else
    ``name_dim_i``; repeated names get ``_1`` (xarray needs distinct dims)."""
    spec = None
    try:
        spec = model.spec(name)
    except KeyError:
        pass
    out = []
    for i, n in enumerate(shape):
        d = spec.shape[i] if spec is not None and i < len(spec.shape) else None
        dim = d.id if isinstance(d, A.Name) else f"{name}_dim_{i}"
        while dim in out:  # xarray needs distinct dims: real[L, L] -> (L, L_1)
            dim = f"{dim}_1"
        out.append(dim)
    return out


def to_idata(model, target, samples, stats, sampler, note, reason, target_accept=None):
    low = target.low
    dims = {k: dims_of(model, k, np.shape(v)[2:]) for k, v in samples.items()}
    used = {**low.const_env, **(target.consts or {})}
    const_data = {s.name: np.asarray(used[s.name]) for s in model.consts}
    for s in model.consts:
        dims[s.name] = dims_of(model, s.name, np.shape(const_data[s.name]))
    attrs = {"sampler": sampler, "model": model.name, "fingerprint": model.fingerprint,
             "inference_library": "ebmppl"}
    # a scalar size const (J) names a dim; xarray cannot hold a variable of the same name: keep it in attrs
    dim_names = {d for ds in dims.values() for d in ds}
    for name in [n for n in const_data if n in dim_names and np.ndim(const_data[n]) == 0]:
        attrs[f"const_{name}"] = const_data.pop(name).item()
        dims.pop(name, None)
    if model.lets:  # diagnose tells derived quantities (which may be NaN at some draws) from variables
        attrs["lets"] = ",".join(let.name for let in model.lets)
    if note:
        attrs["note"] = note
    if reason:
        attrs["sampler_choice"] = reason
    if target_accept is not None:  # what diagnose checks the acceptance against
        attrs["target_accept"] = float(target_accept)
    stats = {k: np.asarray(v) for k, v in stats.items()}
    groups = predictive.observation_groups(model, target, samples)  # observed_data, log_likelihood
    for name in groups.get("observed_data", ({}, {}))[0]:
        const_data.pop(name, None)
    idata = diagnostics.to_inference_data(samples, stats, const_data, dims, attrs)
    return diagnostics.add_groups(idata, groups) if groups else idata
