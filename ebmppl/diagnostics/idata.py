"""InferenceData and ArviZ: the only module that imports ArviZ.

It builds ``arviz.InferenceData`` from draws (and adds groups to it), reads and writes netCDF files and
computes summaries (R-hat, ESS, MCSE) and PSIS-LOO. Moving to a new ArviZ API is a change to this file alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..io import atomic_write


def _az():
    with warnings.catch_warnings():  # ArviZ 0.23 announces its 1.0 refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    return az


# the dims of sampler statistics with more than one value a draw (parallel tempering's)
STAT_DIMS = {"swap_acceptance_rate": ["pair"], "temperature": ["replica"]}


def to_inference_data(posterior: dict, sample_stats: dict, constant_data: dict, dims: dict, attrs: dict):
    """Arrays shaped (chains, draws, ...) -> ``arviz.InferenceData``."""
    az = _az()
    dims = {**{k: v for k, v in STAT_DIMS.items() if k in sample_stats}, **dims}
    with warnings.catch_warnings():  # many chains of few draws is a layout ebmppl allows (e.g. 1024 x 100 ULA)
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)
        idata = az.from_dict(posterior={k: np.asarray(v) for k, v in posterior.items()},
                             sample_stats={k: np.asarray(v) for k, v in sample_stats.items()},
                             constant_data={k: np.asarray(v) for k, v in constant_data.items()} or None,
                             dims=dims)
    for group in ("posterior", "sample_stats"):
        if hasattr(idata, group):
            getattr(idata, group).attrs.update({k: str(v) for k, v in attrs.items()})
    return idata


def add_groups(idata, groups: dict):
    """``idata`` with more groups: {group: (arrays, dims)} (``observed_data``, ``log_likelihood``, ``prior``,
    ``prior_predictive``, ``posterior_predictive``; each group's dims its own, so a log-likelihood per row of a
    matrix-valued observation gets the row dim only)."""
    az = _az()
    out = idata.copy()
    for group, (arrays, dims) in groups.items():
        with warnings.catch_warnings():  # a group alone: ArviZ notes the posterior is missing
            warnings.simplefilter("ignore", UserWarning)
            part = az.from_dict(**{group: {k: np.asarray(v) for k, v in arrays.items()}}, dims=dims)
        out.extend(part, join="right")
    return out


def loo(idata):
    """ArviZ's PSIS-LOO (``elpd_loo``, ``se``, ``p_loo``, Pareto k) of draws with a ``log_likelihood`` group, with
    every observed site's pointwise values together (ArviZ asks to choose one when there are several)."""
    az = _az()
    ll = idata.log_likelihood
    names = list(ll.data_vars)
    if len(names) > 1:  # one joint elpd: stack the sites' observations along one dim
        stacked = np.concatenate([np.asarray(ll[n].values).reshape(ll[n].shape[:2] + (-1,)) for n in names], -1)
        idata = az.from_dict(posterior={"_": np.zeros(stacked.shape[:2])}, log_likelihood={"all": stacked})
        names = ["all"]
    with warnings.catch_warnings():  # the Pareto-k warning: loo_text says it in its own words
        warnings.simplefilter("ignore", UserWarning)
        return az.loo(idata, var_name=names[0], pointwise=True)


def loo_text(idata) -> tuple:
    """(text, warning or None, ArviZ's result) of :func:`loo`: elpd_loo with its standard error, p_loo and the
    Pareto-k counts."""
    r = loo(idata)
    k = np.asarray(r.pareto_k)
    bins = [(k <= 0.5).sum(), ((k > 0.5) & (k <= 0.7)).sum(), (k > 0.7).sum()]
    text = (f"LOO: elpd_loo {float(r.elpd_loo):.2f} (se {float(r.se):.2f}), p_loo {float(r.p_loo):.2f}, "
            f"{k.size} observations; Pareto k <= 0.5: {bins[0]}, (0.5, 0.7]: {bins[1]}, > 0.7: {bins[2]}")
    warn = None
    if bins[2]:
        warn = (f"warning[loo]: {bins[2]} of {k.size} observations have Pareto k > 0.7 (largest {k.max():.2f}): "
                f"PSIS-LOO's elpd is unreliable for them\n  try: check those observations (influential points or a "
                f"misspecified model); refit without each one (exact LOO) or use K-fold cross-validation")
    return text, warn, r


def summary(idata, var_names=None, kind="all", round_to=2):
    """ArviZ's summary table (mean, sd, HDI, MCSE, ESS bulk/tail, R-hat) as a pandas DataFrame.

    An element that never moves (a constant draw, e.g. a clamped unit of an RBM) has R-hat and ESS NaN in
    the table; NumPy's divide-by-zero warnings about it are not shown to the user.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _az().summary(idata, var_names=var_names, kind=kind, round_to=round_to)


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
