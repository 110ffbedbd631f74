"""Diagnosis files: reading a samples file (and checking its draws), the sources a run came from, the
figures worth drawing and the diagnosis folder (:func:`write_report`). The figures themselves are drawn by
:mod:`ebmppl.plots`."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from .. import plots
from ..errors import EbmDataError
from ..io import atomic_write
from .checks import Diagnosis, _float, check_draws, diagnose
from .idata import _az, from_netcdf


def read_samples(path):
    """Read an ArviZ netCDF file written by ``ebmppl sample``; a missing or unreadable file is an EbmDataError."""
    p = Path(path)
    if p.is_dir():
        raise EbmDataError(f"'{path}' is a folder, not a file", hint="pass the samples.nc in it")
    if not p.is_file():
        raise EbmDataError(f"samples file '{path}' not found",
                           hint="pass the samples.nc written by `ebmppl sample --out DIR`")
    try:
        idata = from_netcdf(p)
    except Exception as e:  # netCDF4/h5netcdf/xarray raise many types for a file that is not netCDF
        raise EbmDataError(f"{path}: cannot read as an ArviZ netCDF file ({type(e).__name__}: {e})",
                           hint="pass the samples.nc written by `ebmppl sample --out DIR`") from None
    if getattr(idata, "posterior", None) is None or not idata.posterior.data_vars:
        raise EbmDataError(f"{path}: the file has no posterior group (no draws)",
                           hint="pass the samples.nc written by `ebmppl sample --out DIR`")
    check_draws(idata, str(path), "data")
    return idata


SOURCE_ATTRS = ("model_file", "params_file", "consts_file")
"""Posterior attributes naming the files the draws came from (absolute paths), so that `ebmppl diagnose`
can find the model for its density figure."""


def record_sources(idata, model_file=None, params_file=None, consts_file=None):
    """Note in ``idata.posterior.attrs`` the model, params and consts files the draws came from."""
    for key, f in zip(SOURCE_ATTRS, (model_file, params_file, consts_file)):
        if f is not None:
            idata.posterior.attrs[key] = str(Path(f).resolve())
    return idata


def consts_of(idata) -> dict:
    """The consts a run used: its ``constant_data`` group plus scalar sizes kept in attributes (``const_J``)."""
    out = {}
    for group in ("constant_data", "observed_data"):
        cd = getattr(idata, group, None)
        if cd is not None:
            out.update({k: np.asarray(v) for k, v in cd.data_vars.items()})
    for k, v in idata.posterior.attrs.items():
        if k.startswith("const_"):
            f = _float(v)
            if f is not None:
                out[k[len("const_"):]] = int(f) if f == int(f) else f
    return out


# ------------------------------------------------------------------- figures
def scalar_names(idata) -> list:
    """The posterior's scalar elements in declaration order, as ArviZ names them (``x[0]``, ``mu``, ``W[1, 2]``)."""
    out = []
    for name, da in idata.posterior.data_vars.items():
        shape = da.shape[2:]
        out += [name] if not shape else [f"{name}[{', '.join(map(str, i))}]" for i in np.ndindex(*shape)]
    return out


def _flat(idata, names):
    """A small InferenceData of the chosen scalar elements (one variable each) plus the sample stats."""
    az = _az()
    post = {}
    for label in names:
        a = _element(idata, label)
        post[label] = a.astype(int) if _discrete(a) else a  # ArviZ draws histograms for integer draws
    stats = {k: np.asarray(v) for k, v in idata.sample_stats.data_vars.items()} \
        if getattr(idata, "sample_stats", None) is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.from_dict(posterior=post, sample_stats=stats or None)


def _element(idata, label) -> np.ndarray:
    """The draws (chains, draws) of one scalar element named like ``x[0]`` or ``W[1, 2]``."""
    var, _, idx = label.partition("[")
    a = np.asarray(idata.posterior[var])
    return a[(slice(None), slice(None)) + tuple(int(i) for i in idx.rstrip("]").split(","))] if idx else a


def _discrete(a) -> bool:
    return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))


def pick_elements(idata, diagnosis: Diagnosis, n: int = 6) -> tuple:
    """Up to ``n`` scalar elements for the figures, and why: all of them if there are at most ``n``,
    else the ``n`` with the lowest bulk ESS (the ones most worth looking at), in declaration order."""
    names = scalar_names(idata)
    if len(names) <= n:
        return names, "all elements"
    ess = diagnosis.table["ess_bulk"].reindex(names).astype(float).fillna(np.inf)
    worst = set(ess.sort_values(kind="stable").index[:n])
    return [x for x in names if x in worst], f"the {n} of {len(names)} elements with the lowest bulk ESS"


def plot_figure(kind: str, idata, names, path, title: Optional[str] = None) -> Path:
    """Write one ArviZ figure of the chosen scalar elements as a PNG (:func:`ebmppl.plots.chain_figure`
    draws it): ``trace``, ``rank``, ``autocorr``, ``forest``, ``pair`` or ``energy``."""
    return plots.chain_figure(_az(), kind, _flat(idata, names), idata, path, title)


# -------------------------------------------------------------------- report
FIGURES = {
    "trace": "trace.png", "rank": "rank.png", "energy": "energy.png", "autocorr": "autocorr.png",
    "forest": "forest.png", "pair": "pair.png", "density": "density.png",
}


def write_report(idata, out, model=None, params=None, data=None, diagnosis: Optional[Diagnosis] = None,
                 max_elements: int = 6, title: Optional[str] = None, preamble: str = "",
                 figures: bool = True) -> tuple:
    """Diagnose ``idata`` and write ``out``: summary.csv, report.md and PNG figures.

    Everything is rendered in a temporary folder beside ``out`` and moved in only when all of it succeeded,
    so an error leaves ``out`` as it was.

    Args:
        idata: the draws (``arviz.InferenceData``).
        out: the folder to write (created if missing; files of the same names are replaced).
        model, params: when the model is continuous and two-dimensional, also draw its density
            exp(-E) with the draws over it (``density.png``).
        data: optional training rows (dict name -> array) drawn beside the draws on the density figure.
        diagnosis: a :class:`Diagnosis` already computed (default: ``diagnose(idata)``).
        max_elements: how many scalar elements the trace, rank, autocorrelation and pair plots show.
        title, preamble: the report's heading and markdown put before the table.
        figures: False writes only summary.csv and report.md (the figures take most of the time).

    Returns:
        ``(diagnosis, paths)``: the diagnosis and the files written, report.md last.
    """
    diagnosis = diagnosis or diagnose(idata)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        figs, why, n_forest = _write_figures(tmp, idata, diagnosis, max_elements, model, params, data) \
            if figures else ([], None, 0)
        table = diagnosis.table
        atomic_write(tmp / "summary.csv", lambda t: table.to_csv(t, float_format="%.6g"))
        text = _report_md(diagnosis, figs, why, n_forest, len(scalar_names(idata)),
                          title or f"Diagnosis: {idata.posterior.attrs.get('model', 'model')}", preamble)
        atomic_write(tmp / "report.md", lambda t: Path(t).write_text(text, encoding="utf-8"))
        out.mkdir(parents=True, exist_ok=True)
        files = [f for f, _ in figs] + ["summary.csv", "report.md"]
        for f in files:
            os.replace(tmp / f, out / f)
        for f in set(FIGURES.values()) - set(files):  # a figure left by an earlier report would mislead
            (out / f).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return diagnosis, [out / f for f in files]


def _write_figures(folder: Path, idata, diagnosis: Diagnosis, max_elements, model, params, data) -> tuple:
    """Draw the report's figures into ``folder``: ([(file, caption)], which elements they show and why,
    how many the forest plot shows)."""
    names, why = pick_elements(idata, diagnosis, max_elements)
    figs = []  # (file, caption)
    # intervals and scatter plots say little about 0/1 draws: forest and pair plots show continuous ones
    cont = [x for x in names if not _discrete(_element(idata, x))]
    forest_names = [x for x in scalar_names(idata) if not _discrete(_element(idata, x))][:20]
    chosen = {"trace": names, "rank": names, "autocorr": names, "forest": forest_names, "pair": cont,
              "energy": names}
    kinds = ["trace", "rank", "autocorr"] + (["forest"] if forest_names else [])
    if diagnosis.sampler in ("nuts", "hmc") and "energy" in getattr(idata, "sample_stats", {}):
        kinds.append("energy")
    if len(cont) >= 2:
        kinds.append("pair")
    for kind in kinds:
        plot_figure(kind, idata, chosen[kind], folder / FIGURES[kind])
        figs.append((FIGURES[kind], _CAPTIONS[kind]))
    if model is not None and plots.density_dims(model) is not None:
        plots.density_figure(model, params, idata_draws(idata), folder / FIGURES["density"], data=data)
        figs.append((FIGURES["density"], _CAPTIONS["density"]))
    return figs, why, len(forest_names)


def idata_draws(idata) -> dict:
    """The posterior's variables as numpy arrays shaped (chains, draws, ...)."""
    return {k: np.asarray(v) for k, v in idata.posterior.data_vars.items()}


_CAPTIONS = {
    "trace": "Trace: each chain's density (left) and its draws in order (right). Healthy chains overlap and "
             "look like stationary noise; a chain stuck apart or drifting shows here first.",
    "rank": "Rank plots: the draws of all chains ranked together, one histogram per chain. Flat, similar "
            "histograms mean the chains mix; a chain whose bars lean one way sits apart.",
    "autocorr": "Autocorrelation of the draws (chains combined) by lag. The faster it falls to zero, the more "
                "independent information each draw carries (the higher the ESS).",
    "forest": "Forest plot: each chain's 94% highest-density interval per element (thick: 50%), with the "
              "chain's own effective sample size. The chains' intervals should coincide.",
    "energy": "Energy (NUTS/HMC): the marginal energy distribution against the energy change between "
              "draws. When the transition distribution is much narrower (low BFMI, under 0.3), the sampler "
              "cannot reach the tails.",
    "pair": "Pair plot of the elements shown above; divergent draws, if any, are marked. Look for funnels and "
            "strong correlations, where samplers struggle.",
    "density": "The model's density exp(-E(x)) on a grid, normalized there (square-root colour scale), with "
               "the draws over it in red (and the training data, when given). The draws should cover the bright "
               "regions and only them.",
}


def _md_table(df, digits=3) -> str:
    cols = list(df.columns)
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for idx, row in df.iterrows():
        cells = [f"{v:.{0 if c.startswith('ess') else digits}f}" if isinstance(v, (float, np.floating))
                 and np.isfinite(v) else str(v) for c, v in zip(cols, row.tolist())]
        lines.append(f"| {idx} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _report_md(d: Diagnosis, figs, why, n_forest, n_all, title, preamble) -> str:
    parts = [f"# {title}", ""]
    if preamble:
        parts += [preamble.rstrip(), ""]
    parts += [f"Sampler **{d.sampler or 'unknown'}**, {d.chains} chain(s) x {d.draws} draws after warmup.", ""]
    parts += ["## Warnings", ""]
    if d.warnings:
        for w in d.warnings:
            parts += [f"- **{w.kind}**: {w.message}", f"  - *try*: {w.hint}"]
    else:
        parts += ["None of the checks fired (divergences, R-hat, bulk and tail ESS, acceptance rate, NUTS tree "
                  "depth, number of chains). They cannot prove convergence: look at the figures too."]
    table = d.table
    parts += ["", "## Summary", "",
              "Mean, sd, 94% HDI, Monte Carlo standard errors, bulk and tail effective sample sizes and "
              "rank-normalized R-hat per element (ArviZ). The full table is in `summary.csv`.", ""]
    shown = table.head(40)
    parts += [_md_table(shown)]
    if len(table) > len(shown):
        parts += ["", f"({len(table) - len(shown)} more rows in `summary.csv`.)"]
    parts += ["", "## Figures", ""]
    if figs:
        parts += [f"The trace, rank, autocorrelation and pair plots show {why}; the forest plot shows "
                  + (f"the first {n_forest} of {n_all} elements." if n_forest < n_all else "every element."), ""]
    elif why is None:
        parts += ["None drawn (figures were switched off: `ebmppl diagnose --no-figures`, or `figures=False`)."]
    for f, cap in figs:
        parts += [f"### {f[:-4]}", "", f"![{f[:-4]}]({f})", "", cap, ""]
    return "\n".join(parts).rstrip() + "\n"
