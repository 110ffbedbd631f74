"""Diagnostics: the only module that imports ArviZ.

It builds ``arviz.InferenceData`` from draws, reads and writes netCDF files,
computes summaries (R-hat, ESS, MCSE), turns them into plain-words warnings
(:func:`diagnose`), picks the elements worth a figure and writes a
diagnosis folder (:func:`write_report`). Moving to a new ArviZ API is a
change to this file alone; the figures themselves (ArviZ's, drawn with the
ArviZ module this file hands over, and matplotlib's) live in
:mod:`ebmppl.plots`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import plots
from .errors import EbmDataError, EbmError
from .io import atomic_write
from .model.admit import require

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


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


# ------------------------------------------------------------------ diagnose
TARGET_ACCEPT = {"nuts": 0.8, "hmc": 0.8, "mala": 0.574, "rwmh": 0.234}
"""The acceptance rate each kernel's warmup aims at (``ebmppl.sample``'s defaults). ULA has no accept test."""

MAX_TREE_DEPTH = 10
"""NumPyro's default maximum NUTS tree depth, which ``ebmppl.sample`` uses (1023 leapfrog steps)."""

WARNING_KINDS = ("divergences", "rhat", "ess_bulk", "ess_tail", "acceptance", "tree_depth", "chains")


@dataclass(frozen=True)
class DiagnosticWarning:
    """One problem :func:`diagnose` found: a kind code, what it saw, and what to try."""

    kind: str                    # one of WARNING_KINDS
    message: str                 # what was seen, in plain words, with the numbers
    hint: str                    # what to try
    variables: tuple = ()        # the elements concerned, worst first (e.g. ``("x[1]", "x[0]")``)

    def __str__(self) -> str:
        return f"warning[{self.kind}]: {self.message}\n  try: {self.hint}"


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """What :func:`diagnose` returns.

    ``table`` is ArviZ's summary (one row per scalar element: mean, sd, hdi_3%, hdi_97%, mcse_mean, mcse_sd,
    ess_bulk, ess_tail, r_hat); ``warnings`` the problems found, in a fixed order (see ``WARNING_KINDS``).
    """

    table: "pd.DataFrame"
    warnings: tuple
    sampler: Optional[str]
    chains: int
    draws: int

    @property
    def ok(self) -> bool:
        """True when no warning fired."""
        return not self.warnings

    @property
    def kinds(self) -> list:
        return [w.kind for w in self.warnings]

    def __str__(self) -> str:
        return self.text()

    def text(self, max_rows: int = 40) -> str:
        """The sampler line, mean / sd / ESS / R-hat per element (at most ``max_rows``), then the warnings."""
        head = f"sampler {self.sampler or 'unknown'}: {self.chains} chain(s) x {self.draws} draws"
        cols = [c for c in ("mean", "sd", "ess_bulk", "ess_tail", "r_hat") if c in self.table.columns]
        shown = self.table[cols].head(max_rows)
        table = shown.to_string(formatters={c: (lambda x: f"{x:.0f}") if c.startswith("ess") else
                                            (lambda x: f"{x:.3f}") for c in cols})
        if len(self.table) > max_rows:
            table += f"\n... ({len(self.table) - max_rows} more rows in summary.csv)"
        tail = "\n".join(str(w) for w in self.warnings) if self.warnings else "no warnings"
        return f"{head}\n{table}\n{tail}"


def diagnose(idata, var_names=None, rhat_max: float = 1.01, ess_min: float = 400, min_chains: int = 4,
             target_accept: Optional[float] = None, max_tree_depth: Optional[int] = None) -> Diagnosis:
    """Summarize MCMC draws and say, in plain words, what looks wrong and what to try.

    Checks, in this order: divergent transitions after warmup; R-hat above ``rhat_max``; bulk and tail
    effective sample size below ``ess_min``; each chain's mean acceptance far from the kernel's target
    (``TARGET_ACCEPT``; more than half-way from the target to the nearer of 0 and 1 — for NUTS/HMC only the
    low side counts, since a higher rate only means shorter steps); NUTS draws at the maximum tree depth;
    fewer than ``min_chains`` chains. Elements whose R-hat or ESS is undefined (constant draws) are skipped.

    Args:
        idata: ``arviz.InferenceData`` from :func:`ebmppl.sample` (or any with a ``posterior`` group).
        var_names: the variables to summarize and check (default: all of the posterior).
        rhat_max, ess_min, min_chains: the thresholds (defaults after Vehtari et al. 2021).
        target_accept: the acceptance rate warmup aimed at (default: the posterior's ``target_accept``
            attribute, else the kernel's default from ``TARGET_ACCEPT``).
        max_tree_depth: NUTS's depth limit (default: the ``max_tree_depth`` attribute, else 10).

    Returns:
        :class:`Diagnosis` with ``table`` (a pandas DataFrame) and ``warnings``.

    Example:
        >>> d = ebmppl.diagnose(ebmppl.sample(model, sampler="mala"))
        >>> d.ok, d.kinds
    """
    rhat_max, ess_min, min_chains, target_accept, max_tree_depth = _thresholds(
        rhat_max, ess_min, min_chains, target_accept, max_tree_depth)
    post = getattr(idata, "posterior", None)
    if post is None or not post.data_vars:
        raise EbmError("diagnose", "the samples have no posterior group (no draws to diagnose)",
                       hint="diagnose the output of ebmppl.sample / `ebmppl sample`")
    chains, draws = int(post.sizes.get("chain", 1)), int(post.sizes.get("draw", 0))
    if draws < 4:
        raise EbmError("diagnose", f"{draws} draw(s) per chain are too few to diagnose", hint="draw at least 4")
    check_draws(idata, "the samples")
    attrs = dict(post.attrs)
    sampler = attrs.get("sampler")
    with warnings.catch_warnings():  # ArviZ warns about 1-chain R-hat and constant draws; we report those
        warnings.simplefilter("ignore")
        try:
            table = summary(idata, var_names=var_names, kind="all", round_to="none")
        except KeyError as e:
            raise EbmError("diagnose", f"var_names: {e.args[0] if e.args else e}",
                           hint=f"the posterior has {', '.join(map(str, post.data_vars))}") from None
    stats = getattr(idata, "sample_stats", None)
    found = []
    found += _divergences(stats, chains, draws, sampler)
    if chains >= 2:
        found += _threshold(table, "r_hat", rhat_max, True, sampler)
    found += _threshold(table, "ess_bulk", ess_min, False, sampler)
    found += _threshold(table, "ess_tail", ess_min, False, sampler)
    target = target_accept if target_accept is not None else _float(attrs.get("target_accept"))
    found += _acceptance(stats, sampler, target)
    depth = max_tree_depth if max_tree_depth is not None else _float(attrs.get("max_tree_depth"))
    found += _tree_depth(stats, sampler, int(depth) if depth else MAX_TREE_DEPTH, chains, draws)
    if chains < min_chains:
        found.append(DiagnosticWarning(
            "chains", f"only {chains} chain{'s' if chains != 1 else ''}: R-hat and the ESS need at least "
                      f"{min_chains} independent chains to catch chains that disagree",
            f"sample with chains={min_chains} (`--chains {min_chains}`)"))
    return Diagnosis(table, tuple(found), sampler, chains, draws)


def _thresholds(rhat_max, ess_min, min_chains, target_accept, max_tree_depth) -> tuple:
    """diagnose's thresholds, each admitted by the domain table (a NaN threshold would silence its check)."""
    return (require(rhat_max, "positive", what="rhat_max="), require(ess_min, "positive", what="ess_min="),
            require(min_chains, "size", what="min_chains="),
            None if target_accept is None else require(target_accept, "unit", what="target_accept="),
            None if max_tree_depth is None else require(max_tree_depth, "size", what="max_tree_depth="))


def _float(x) -> Optional[float]:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _stat(stats, name):
    if stats is None or name not in stats:
        return None
    return np.asarray(stats[name])


def _chains_text(per_chain, fmt) -> str:
    return ", ".join(f"chain {i}: {fmt(v)}" for i, v in enumerate(per_chain))


def _divergences(stats, chains, draws, sampler) -> list:
    div = _stat(stats, "diverging")
    if div is None:
        return []
    per = div.reshape(div.shape[0], -1).sum(axis=1).astype(int)
    n = int(per.sum())
    if n == 0:
        return []
    total = chains * draws
    if sampler in ("nuts", "hmc"):
        hint = ("raise target_accept (ebmppl.sample(..., target_accept=0.95)) so the step size shrinks; if "
                "divergences persist, reparameterize the model (e.g. non-centered: z ~ normal(0, 1), "
                "theta = mu + tau * z) or bound the region where the energy changes steeply")
    else:
        hint = ("proposals reached non-finite energies: pass a smaller step_size, lengthen warmup, or check the "
                "energy for overflow (log of a non-positive value, exp of a large one)")
    return [DiagnosticWarning(
        "divergences", f"{n} of {total} draws after warmup diverged ({100 * n / total:.1f}%; "
                       f"{_chains_text(per, str)}): the sampler failed to follow the energy there, so the draws "
                       f"may miss part of the distribution", hint)]


def _further(sampler) -> str:
    """The advice to switch samplers, where there is a better one to switch to."""
    if sampler in ("mala", "ula", "rwmh", "hmc"):
        return ", or use a sampler that moves further per step (nuts)"
    if sampler == "gibbs":
        return ", or try gwg (Gibbs-with-gradients), which flips the most promising elements"
    return ""


def _threshold(table, col, limit, above, sampler=None) -> list:
    if col not in table.columns:
        return []
    v = table[col].astype(float)
    bad = v[(v > limit) if above else (v < limit)].dropna()
    if bad.empty:
        return []
    bad = bad.sort_values(ascending=not above)
    names = tuple(str(i) for i in bad.index)
    worst = ", ".join(f"{n} {x:.3g}" if col == "r_hat" else f"{n} {x:.0f}" for n, x in bad.head(3).items())
    of = f"{len(bad)} of {int(v.notna().sum())} elements"
    if col == "r_hat":
        return [DiagnosticWarning(
            "rhat", f"R-hat is above {limit} for {of} (worst: {worst}): the chains disagree, so they have not "
                    f"yet mixed or sit in different modes", "run longer (more warmup and draws); if the chains "
                    "stay apart, the distribution is multimodal or badly scaled: start the chains closer together "
                    f"or reparameterize{_further(sampler)}", names)]
    what = "bulk" if col == "ess_bulk" else "tail"
    meaning = ("means and medians are uncertain" if what == "bulk" else
               "the 5% and 95% quantiles (and intervals) are uncertain")
    return [DiagnosticWarning(
        f"ess_{what}", f"{what} effective sample size is below {limit:.0f} for {of} (lowest: {worst}): "
                       f"the draws are strongly autocorrelated and {meaning}",
        f"draw more (draws=; with a slowly mixing sampler, thin= keeps the files small){_further(sampler)}",
        names)]


def _acceptance(stats, sampler, target) -> list:
    acc = _stat(stats, "acceptance_rate")
    if acc is None or sampler not in TARGET_ACCEPT:
        return []
    target = TARGET_ACCEPT[sampler] if target is None else target
    per = acc.reshape(acc.shape[0], -1).mean(axis=1)
    tol = 0.5 * min(target, 1 - target)
    low = [i for i, a in enumerate(per) if a < target - tol]
    high = [i for i, a in enumerate(per) if a > target + tol] if sampler not in ("nuts", "hmc") else []
    if not low and not high:
        return []
    rates = _chains_text(per, lambda a: f"{a:.2f}")
    if low:
        hint = ("the steps are too long for the energy's curvature: lengthen warmup (warmup=) so the step size "
                "settles, pass a smaller step_size=, or reparameterize to even out the scales")
        if sampler in ("nuts", "hmc"):
            hint = ("lengthen warmup (warmup=) so step-size adaptation settles, or raise target_accept; a low "
                    "rate that persists means the curvature varies: reparameterize")
        side = "below"
    else:
        hint = ("the steps are too short, so the chains crawl: lengthen warmup (warmup=) so the step size can "
                "grow, or pass a larger step_size=")
        side = "above"
    chains_bad = sorted(low + high)
    return [DiagnosticWarning(
        "acceptance", f"mean acceptance is {side} {sampler}'s target {target:g} in chain(s) "
                      f"{', '.join(map(str, chains_bad))} ({rates}; acceptable {max(0.0, target - tol):.2f}"
                      f"-{min(1.0, target + tol) if sampler not in ('nuts', 'hmc') else 1:.2f})", hint)]


def _tree_depth(stats, sampler, depth, chains, draws) -> list:
    td = _stat(stats, "tree_depth")
    if td is None or sampler != "nuts":
        return []
    per = (td.reshape(td.shape[0], -1) >= depth).sum(axis=1).astype(int)
    n = int(per.sum())
    if n == 0:
        return []
    return [DiagnosticWarning(
        "tree_depth", f"{n} of {chains * draws} NUTS draws hit the maximum tree depth {depth} "
                      f"({2 ** depth - 1} leapfrog steps; {_chains_text(per, str)}): trajectories were cut short, "
                      f"so NUTS explored like a random walk",
        "reparameterize so the variables have similar scales and little correlation (the step size can then "
        "grow); or run NumPyro's NUTS directly with a larger max_tree_depth")]


# ------------------------------------------------------------------- reading
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


def check_draws(idata, source: str, kind: str = "diagnose") -> None:
    """Every posterior variable holds MCMC draws: dims (chain, draw, ...), numbers, at least one draw, none of
    them NaN or infinite (a ``let``, listed in the ``lets`` attribute, may be non-finite at some draws, never at
    all); otherwise an ``error[kind]`` naming ``source`` and the variable."""
    post = idata.posterior
    lets = set(str(post.attrs.get("lets", "")).split(","))
    hint = "diagnose the samples.nc written by `ebmppl sample` (this one is damaged or comes from elsewhere)"
    for name, da in post.data_vars.items():
        if tuple(da.dims[:2]) != ("chain", "draw"):
            raise EbmError(kind, f"{source}: '{name}' has dims ({', '.join(map(str, da.dims))}), not (chain, draw, "
                                 f"...): these are not MCMC draws", hint=hint)
        a = np.asarray(da.values)
        if a.dtype.kind not in "biuf":
            raise EbmError(kind, f"{source}: '{name}' holds {a.dtype} values, not numbers", hint=hint)
        if a.size == 0:
            raise EbmError(kind, f"{source}: '{name}' has no draws (shape {list(a.shape)})", hint=hint)
        finite = np.isfinite(a)
        if not finite.any():
            raise EbmError(kind, f"{source}: '{name}' has no finite draw (every value is {a.flat[0]})", hint=hint)
        if not finite.all() and name not in lets:
            at = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise EbmError(kind, f"{source}: '{name}' is not finite at chain {at[0]}, draw {at[1]} ({a[at]}; "
                                 f"{int((~finite).sum())} values in all): ebmppl never writes such draws of a "
                                 f"variable", hint=hint)


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
    cd = getattr(idata, "constant_data", None)
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
                 max_elements: int = 6, title: Optional[str] = None, preamble: str = "") -> tuple:
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

    Returns:
        ``(diagnosis, paths)``: the diagnosis and the files written, report.md last.
    """
    diagnosis = diagnosis or diagnose(idata)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        figs, why, n_forest = _write_figures(tmp, idata, diagnosis, max_elements, model, params, data)
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
    for f, cap in figs:
        parts += [f"### {f[:-4]}", "", f"![{f[:-4]}]({f})", "", cap, ""]
    return "\n".join(parts).rstrip() + "\n"
