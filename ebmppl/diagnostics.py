"""Diagnostics: the only module that imports ArviZ.

It builds ``arviz.InferenceData`` from draws, computes summaries (R-hat, ESS,
MCSE) and writes netCDF files. Moving to a new ArviZ API is a change to this
file alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def _az():
    with warnings.catch_warnings():  # ArviZ 0.23 announces its 1.0 refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    return az


def to_inference_data(posterior: dict, sample_stats: dict, constant_data: dict, dims: dict, attrs: dict):
    """Arrays shaped (chains, draws, ...) -> ``arviz.InferenceData``."""
    az = _az()
    idata = az.from_dict(posterior={k: np.asarray(v) for k, v in posterior.items()},
                         sample_stats={k: np.asarray(v) for k, v in sample_stats.items()},
                         constant_data={k: np.asarray(v) for k, v in constant_data.items()} or None,
                         dims=dims)
    for group in ("posterior", "sample_stats"):
        if hasattr(idata, group):
            getattr(idata, group).attrs.update({k: str(v) for k, v in attrs.items()})
    return idata


def summary(idata, var_names=None, kind="all"):
    """ArviZ's summary table (mean, sd, HDI, MCSE, ESS bulk/tail, R-hat) as a pandas DataFrame."""
    return _az().summary(idata, var_names=var_names, kind=kind)


def ess(idata, var_names=None, method="bulk"):
    return _az().ess(idata, var_names=var_names, method=method)


def mcse(idata, var_names=None, method="mean"):
    return _az().mcse(idata, var_names=var_names, method=method)


def rhat(idata, var_names=None):
    return _az().rhat(idata, var_names=var_names)


def from_netcdf(path):
    return _az().from_netcdf(path)


def to_netcdf(idata, path) -> Path:
    """Write ``idata`` to ``path`` atomically: a temporary file in the same folder, then a rename."""
    from .io import atomic_write
    return atomic_write(path, idata.to_netcdf)


def short_summary(idata, max_rows: int = 40) -> str:
    """mean, sd, R-hat and bulk ESS per variable (element), as printed by `ebmppl sample`."""
    s = summary(idata, kind="all")
    cols = [c for c in ["mean", "sd", "ess_bulk", "ess_tail", "r_hat"] if c in s.columns]
    s = s[cols]
    text = s.head(max_rows).to_string(float_format=lambda x: f"{x:.3f}")
    if len(s) > max_rows:
        text += f"\n... ({len(s) - max_rows} more rows in the full summary)"
    return text
