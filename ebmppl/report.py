"""Training reports: how a fit went, and whether the fitted model's samples look like the data.

:func:`fit_report` takes a model, the :class:`~ebmppl.FitResult` of fitting it and the data,
and measures

- the training curves: loss, validation loss, gradient norm, and the method's own figures
  (``cd``/``pcd``: the positive- and negative-phase energies and their gap);
- a **sample-vs-data check** for every method: draws from the fitted model (block Gibbs for
  discrete models, MALA otherwise; ``pcd`` continues its persistent chains), compared with the
  data by the **MMD** with a Gaussian kernel (median-heuristic bandwidth) and its permutation
  p-value (:func:`mmd_test`), and per-dimension means and standard deviations;
- **R-hat and bulk ESS** per dimension of those chains (ArviZ, through :mod:`ebmppl.diagnostics`).

With ``out_dir`` it writes ``fit-report.md`` and PNG figures there (atomically). ``ebmppl fit`` calls
it after every fit (``--no-report`` skips it).

    >>> import ebmppl
    >>> from ebmppl.report import fit_report
    >>> ring = ebmppl.load("examples/ring.ebm")
    >>> res = ebmppl.fit(ring, "examples/data/ring.csv", method="ssm", steps=300, lr=0.05, progress=False)
    >>> rep = fit_report(ring, res, "examples/data/ring.csv", "runs/ring")   # doctest: +SKIP
    >>> rep.p_value > 0.01                                                  # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .errors import EbmError


# ---------------------------------------------------------------------------- the MMD test
class MMDTest(NamedTuple):
    """The result of :func:`mmd_test`.

    mmd: the distance between the kernel mean embeddings of the two samples (the square root
        of the biased, V-statistic MMD²), 0 for identical samples.
    p_value: the permutation p-value, (1 + #{permuted MMD ≥ observed}) / (1 + permutations).
    bandwidth: the Gaussian kernel's length scale h, k(x, y) = exp(−|x − y|² / (2h²)).
    permutations: how many random relabellings the p-value counts.
    """

    mmd: float
    p_value: float
    bandwidth: float
    permutations: int


@partial(jax.jit, static_argnames=("n", "permutations"))
def _mmd_permutations(z, n, key, permutations, bandwidth):
    total = z.shape[0]
    d2 = jnp.maximum(jnp.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1), 0.0)
    iu = jnp.triu_indices(total, k=1)
    dist = jnp.sqrt(d2[iu])
    med = jnp.median(dist)
    pos_mean = jnp.sum(dist) / jnp.maximum(jnp.sum(dist > 0), 1)
    # the median heuristic; ties at 0 (many repeated rows) fall back to the mean positive distance
    h = jnp.where(bandwidth > 0, bandwidth, jnp.where(med > 0, med, jnp.where(pos_mean > 0, pos_mean, 1.0)))
    k = jnp.exp(-d2 / (2.0 * h * h))
    # MMD² (biased) = sᵀ K s with s = 1/n on the first sample and −1/m on the second
    s = jnp.where(jnp.arange(total) < n, 1.0 / n, -1.0 / (total - n)).astype(k.dtype)
    stat = s @ k @ s
    perms = jax.vmap(lambda kk: jax.random.permutation(kk, total))(jax.random.split(key, permutations))
    sp = s[perms]
    null = jnp.sum((sp @ k) * sp, axis=1)
    tol = 1e-6 * jnp.abs(stat) + 1e-12  # a relabelling that ties the observed value counts as "as extreme"
    p = (1.0 + jnp.sum(null >= stat - tol)) / (1.0 + permutations)
    return jnp.sqrt(jnp.maximum(stat, 0.0)), p, h


def mmd_test(x, y, permutations: int = 200, key=0, bandwidth: Optional[float] = None) -> MMDTest:
    """Two-sample test by the maximum mean discrepancy with a Gaussian kernel.

    Args:
        x, y: samples, arrays of shape (n, d) and (m, d) (or (n,) and (m,) for scalars).
        permutations: random relabellings of the pooled sample for the p-value (vectorized, jitted).
        key: an int seed or a ``jax.random.PRNGKey`` for the relabellings.
        bandwidth: the kernel length scale; default: the median distance between the pooled points.

    Returns:
        :class:`MMDTest` (``mmd``, ``p_value``, ``bandwidth``, ``permutations``). The p-value is
        valid for independent draws; autocorrelated MCMC draws make it too small.

    Example:
        >>> import numpy as np
        >>> r = np.random.default_rng(0)
        >>> mmd_test(r.normal(0, 1, 200), r.normal(1, 1, 200)).p_value < 0.01
        True
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    y = y.reshape(len(y), -1) if y.ndim != 2 else y
    if x.shape[1] != y.shape[1]:
        raise EbmError("report", f"mmd_test: the samples have {x.shape[1]} and {y.shape[1]} columns")
    if len(x) < 2 or len(y) < 2:
        raise EbmError("report", "mmd_test needs at least two points in each sample")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise EbmError("report", "mmd_test: the samples are not all finite")
    if int(permutations) < 1:
        raise EbmError("report", "mmd_test needs at least one permutation")
    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    z = jnp.asarray(np.concatenate([x, y]), dtype=jnp.result_type(float))
    stat, p, h = _mmd_permutations(z, len(x), rng, int(permutations),
                                   jnp.asarray(0.0 if bandwidth is None else bandwidth, z.dtype))
    return MMDTest(float(stat), float(p), float(h), int(permutations))


# ---------------------------------------------------------------------------- the report
class Moments(NamedTuple):
    """Per-dimension mean and standard deviation of the data and of the model's samples."""

    labels: tuple
    data_mean: np.ndarray
    data_sd: np.ndarray
    sample_mean: np.ndarray
    sample_sd: np.ndarray


@dataclass(frozen=True)
class Chains:
    """One sampling run of the fitted model: its layout, and R-hat / bulk ESS per dimension.

    Attributes:
        sampler: the kernel (``gibbs``, ``mala``, ...).
        start: ``"data rows"`` (rows kept out of the comparison), ``"persistent chains"`` (pcd's)
            or ``"random starts"``.
        chains, draws, warmup, thin: the layout (``draws`` kept per chain, every ``thin``-th step).
        rhat, ess_bulk: split R-hat and bulk ESS per flattened dimension of the vars (NaN where
            every draw is the same, so they are undefined).
        mmd, p_value: the :func:`mmd_test` of the chains' last states against the data rows.
    """

    sampler: str
    start: str
    chains: int
    draws: int
    warmup: int
    thin: int
    rhat: np.ndarray
    ess_bulk: np.ndarray
    mmd: float
    p_value: float

    @property
    def rhat_max(self) -> float:
        return float(np.nanmax(self.rhat)) if np.any(np.isfinite(self.rhat)) else float("nan")

    @property
    def ess_min(self) -> float:
        return float(np.nanmin(self.ess_bulk)) if np.any(np.isfinite(self.ess_bulk)) else float("nan")


@dataclass(frozen=True)
class Report:
    """What :func:`fit_report` measured (and wrote, when it had an ``out_dir``).

    Attributes:
        method, steps, stopped: the fit's method, its number of steps and why it stopped.
        final_loss, final_val_loss: the last training and validation losses (None without validation).
        n_data, n_samples: data rows and model draws in the sample-vs-data check.
        mmd, p_value, bandwidth, permutations: the :func:`mmd_test` of the model's draws (the last
            state of each chain) against the data rows.
        moments: :class:`Moments` of the same draws and rows, per flattened dimension of the vars.
        chains: the :class:`Chains` that made the draws, with their R-hat and ESS.
        persistent: pcd: its persistent chains continued with the same kernel (:class:`Chains`), else None.
        energies: cd/pcd: ``e_pos``, ``e_neg`` and ``gap`` averaged over the last tenth of the steps.
        accuracy: ce: the fraction of data rows whose label the classifier gets right.
        files: the files written.
    """

    method: str
    steps: int
    stopped: str
    final_loss: Optional[float]
    final_val_loss: Optional[float]
    n_data: int
    n_samples: int
    mmd: float
    p_value: float
    bandwidth: float
    permutations: int
    moments: Moments
    chains: Chains
    persistent: Optional[Chains] = None
    energies: dict = field(default_factory=dict)
    accuracy: Optional[float] = None
    files: tuple = ()


def fit_report(model, result, data, out_dir=None, *, key=0, n_samples: int = 512, draws: int = 10,
               warmup: int = 200, thin: int = 5, sampler: Optional[str] = None, max_rows: int = 512,
               permutations: int = 200, bandwidth: Optional[float] = None, persistent_chains: int = 64,
               consts=None) -> Report:
    """Measure a fit and, with ``out_dir``, write ``fit-report.md`` and its figures there.

    The model's draws for the sample-vs-data check are the last states of ``n_samples`` chains,
    each started at a data row that is not among the compared rows. If the model is the data's
    distribution, those starts are draws from it, so the last states are independent draws from
    it however slowly the chains mix, and the MMD permutation p-value is valid. A model that
    differs from the data drifts away from the starts, and the test sees it (how soon depends on
    the mixing: a wrong mode far from all data can go unseen).

    Args:
        model: the model that was fitted (bound; ``consts=`` binds it here, as in ``fit``).
        result: the :class:`~ebmppl.FitResult`.
        data: the data it was fitted to (a dict or a CSV / NPZ path, as for ``fit``).
        out_dir: the folder for ``fit-report.md`` and ``fit-report-*.png``; None computes the numbers only.
        key: seed of the sampler, the row split and the permutations.
        n_samples: chains, hence model draws (fewer when the data has too few rows to spare).
        draws, warmup, thin: each chain runs ``warmup`` steps, then keeps ``draws`` states, one
            every ``thin`` steps (for R-hat and ESS); the last one goes into the check.
        sampler: default ``gibbs`` when every var and latent is discrete, else ``mala``.
        max_rows: compare with at most this many data rows (at most half the rows).
        permutations: relabellings for the MMD p-value.
        bandwidth: the MMD kernel's length scale (default: the median heuristic).
        persistent_chains: pcd: how many of its persistent chains to continue.

    Returns:
        :class:`Report` with the numbers (and ``files``, the paths written).

    Raises:
        EbmError: a result of another model, bad sizes, too few data rows, non-finite draws.
    """
    from .training.api import prepare_data
    if consts is not None:
        model = model.bind(consts)
    if result.fingerprint and result.fingerprint != model.fingerprint:
        raise EbmError("report", f"the fit result belongs to another model (fingerprint {result.fingerprint}, "
                                 f"this model {model.fingerprint})", hint="pass the model that was fitted")
    if n_samples < 2 or max_rows < 2 or draws < 4 or thin < 1 or warmup < 0 or persistent_chains < 0:
        raise EbmError("report", "n_samples and max_rows must be at least 2, draws at least 4 (for R-hat), thin "
                                 "positive, warmup and persistent_chains non-negative")
    rows = prepare_data(model, data)
    names = [s.name for s in model.vars]
    flat_all, labels = _flatten_rows(model, rows)
    n_rows = len(flat_all)
    if n_rows < 4:
        raise EbmError("report", f"the data has {n_rows} rows; a sample-vs-data check needs at least 4")
    rng = np.random.default_rng(key if isinstance(key, int) else 0)
    order = rng.permutation(n_rows)
    n_test = min(max_rows, n_rows // 2)
    test_rows, start_rows = order[:n_test], order[n_test:n_test + n_samples]
    flat_data = flat_all[test_rows]
    if sampler is None:
        sampler = "gibbs" if all(s.domain.discrete for s in model.random) else "mala"
    rng_key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    k_run, k_test, k_pers, k_ptest = jax.random.split(rng_key, 4)

    init = _data_starts(model, rows, start_rows, rng)
    run = _Run(model, result.params, sampler, names, draws, thin, bandwidth)
    if init is None:
        chains, last, test = run(k_run, n_samples, warmup, None, "random starts", flat_data, k_test, permutations)
    else:
        chains, last, test = run(k_run, len(start_rows), warmup, init, "data rows", flat_data, k_test,
                                 permutations)
    moments = Moments(tuple(labels), flat_data.mean(0), flat_data.std(0), last.mean(0), last.std(0))

    persistent = None
    state = result.state
    if result.method == "pcd" and persistent_chains >= 2 and isinstance(state, dict) \
            and {s.name for s in model.random} <= set(state):
        n_p = min(persistent_chains, int(np.shape(state[names[0]])[0]))
        if n_p >= 2:
            init_p = {s.name: np.asarray(state[s.name])[:n_p] for s in model.random}
            # Gibbs needs no tuning, so it continues the chains as they are; gradient kernels adapt first
            persistent, _, _ = run(k_pers, n_p, 0 if sampler == "gibbs" else warmup, init_p,
                                   "persistent chains", flat_data, k_ptest, permutations)

    h = result.history
    energies = {}
    if "e_pos" in h and len(h["e_pos"]):
        tail = max(1, len(h["e_pos"]) // 10)
        e_pos, e_neg = float(np.mean(h["e_pos"][-tail:])), float(np.mean(h["e_neg"][-tail:]))
        energies = {"e_pos": e_pos, "e_neg": e_neg, "gap": e_pos - e_neg}
    accuracy = None
    if result.method == "ce":
        from .partition import classify
        label = result.options.get("label", "y")
        p = classify(model, result.params, {n: v for n, v in rows.items() if n != label}, label=label)
        accuracy = float(np.mean(p.argmax(1) == np.asarray(rows[label]).astype(int)))

    rep = Report(method=result.method, steps=int(len(h["loss"])), stopped=result.stopped,
                 final_loss=float(h["loss"][-1]) if len(h["loss"]) else None,
                 final_val_loss=float(h["val_loss"][-1]) if len(h.get("val_loss", ())) else None,
                 n_data=len(flat_data), n_samples=len(last), mmd=test.mmd, p_value=test.p_value,
                 bandwidth=test.bandwidth, permutations=test.permutations, moments=moments, chains=chains,
                 persistent=persistent, energies=energies, accuracy=accuracy)
    if out_dir is None:
        return rep
    out = Path(out_dir)
    files = [_plot_training(out / "fit-report-training.png", h, result.method, model.name)]
    files.append(_plot_moments(out / "fit-report-moments.png", moments, model.name))
    if _is_2d_real(model):
        files.append(_plot_2d(out / "fit-report-samples.png", model, result.params, flat_data, last, labels,
                              result.method))
    files.append(_write_markdown(out / "fit-report.md", model, rep, files, bandwidth is None))
    from dataclasses import replace
    return replace(rep, files=tuple(files))


class _Run:
    """Sample the fitted model: its :class:`Chains`, their last states and the MMD test of those."""

    def __init__(self, model, params, sampler, names, draws, thin, bandwidth):
        self.model, self.params, self.sampler, self.names, self.draws, self.thin, self.bandwidth = \
            model, params, sampler, names, draws, thin, bandwidth

    def __call__(self, key, chains, warmup, init, start, flat_data, test_key, permutations):
        from . import diagnostics
        from .infer.sample import sample
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = sample(self.model, self.params, sampler=self.sampler, chains=chains, draws=self.draws,
                           warmup=warmup, thin=self.thin, key=key, init=init, progress=False, verbose=False)
        post = {n: np.asarray(idata.posterior[n]) for n in self.names}
        flat, _ = _flatten_rows(self.model, {n: a.reshape((-1,) + a.shape[2:]) for n, a in post.items()})
        if not np.all(np.isfinite(flat)):
            raise EbmError("report", f"the {self.sampler} draws from the fitted model are not all finite",
                           hint="the fitted energy may not be normalizable; try another sampler=")
        flat = flat.reshape(chains, self.draws, -1)
        last = flat[:, -1]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rh = diagnostics.rhat(idata, var_names=self.names)
            es = diagnostics.ess(idata, var_names=self.names, method="bulk")
            rhat = np.concatenate([np.asarray(rh[n].values, float).reshape(-1) for n in self.names])
            ess = np.concatenate([np.asarray(es[n].values, float).reshape(-1) for n in self.names])
        moved = flat.reshape(-1, flat.shape[-1]).std(0) > 0  # R-hat and ESS are undefined where nothing moved
        test = mmd_test(flat_data, last, permutations=permutations, key=test_key, bandwidth=self.bandwidth)
        return Chains(self.sampler, start, chains, self.draws, warmup, self.thin, np.where(moved, rhat, np.nan),
                      np.where(moved, ess, np.nan), test.mmd, test.p_value), last, test


def _flatten_rows(model, rows: dict):
    """(rows, D) float array of every var flattened in declaration order, and a label per column."""
    cols, labels = [], []
    for s in model.vars:
        a = np.asarray(rows[s.name], dtype=float)
        shape = a.shape[1:]
        cols.append(a.reshape(len(a), -1))
        labels += [s.name] if not shape else [f"{s.name}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]
    return np.concatenate(cols, axis=1), labels


def _data_starts(model, rows, start_rows, rng):
    """Starts at the given data rows (latents drawn at random), or None when they cannot be used."""
    if len(start_rows) < 2:
        return None
    low = model.lowered
    init = {s.name: np.asarray(rows[s.name])[start_rows] for s in model.vars}
    n = len(start_rows)
    for s in model.latents:
        shape = (n,) + tuple(low.shapes[s.name])
        if s.domain.kind == "binary":
            init[s.name] = rng.integers(0, 2, shape).astype(float)
        elif s.domain.kind == "spin":
            init[s.name] = 2.0 * rng.integers(0, 2, shape) - 1.0
        elif s.domain.kind == "categorical":
            init[s.name] = rng.integers(0, low.domain_args[s.name][0], shape)
        else:  # continuous latents: no data to start them from
            return None
    return init


def _is_2d_real(model) -> bool:
    low = model.lowered
    return all(s.domain.kind == "real" for s in model.vars) \
        and sum(int(np.prod(low.shapes[s.name], dtype=np.int64)) for s in model.vars) == 2 \
        and not any(s.domain.continuous for s in model.latents)


# ---------------------------------------------------------------------------- report.md
def _fmt(v, digits=4) -> str:
    if v is None:
        return "–"
    v = float(v)
    if not np.isfinite(v):
        return "–"
    return f"{v:.{digits}g}"


def _count(v) -> str:
    return f"{float(v):.0f}" if v is not None and np.isfinite(v) else "–"


def _chains_line(c: Chains) -> str:
    return (f"`{c.sampler}`, {c.chains} chains (start: {c.start}), {c.warmup} warmup steps, then {c.draws} "
            f"draws one every {c.thin} steps")


def _write_markdown(path: Path, model, rep: Report, figures, median_bw: bool) -> Path:
    from .io import atomic_write
    c = rep.chains
    bw_how = " by the median heuristic" if median_bw else ""
    lines = [f"# Training report: {model.name} ({rep.method})", "",
             f"- **fit**: {rep.steps} steps of `{rep.method}`; stopped: {rep.stopped}",
             f"- **final loss**: {_fmt(rep.final_loss, 6)}"
             + (f"; final validation loss {_fmt(rep.final_val_loss, 6)}" if rep.final_val_loss is not None else "")]
    if rep.energies:
        e = rep.energies
        lines.append(f"- **energies** (means over the last tenth of the steps): positive phase (data) "
                     f"{_fmt(e['e_pos'])}, negative phase (chains) {_fmt(e['e_neg'])}, gap {_fmt(e['gap'])}")
    if rep.accuracy is not None:
        lines.append(f"- **classification accuracy** on the data: {rep.accuracy:.3f} (`ce` fits p(label | rest) "
                     "only; the sample check below is of the joint model, which `ce` does not train)")
    verdict = ("the model's draws and the data **differ detectably** (p < 0.05)" if rep.p_value < 0.05 else
               "no detectable difference between the model's draws and the data at this sample size (p ≥ 0.05)")
    lines += ["", "## Training curves", "", f"![training curves]({figures[0].name})", "",
              "## Samples vs data", "",
              f"The model's draws: the last states of {_chains_line(c)}; compared with {rep.n_data} other data "
              "rows.", "",
              "| check | value |", "| --- | --- |",
              f"| MMD (Gaussian kernel, bandwidth {_fmt(rep.bandwidth, 3)}{bw_how}) | "
              f"{_fmt(rep.mmd)} |",
              f"| permutation p-value ({rep.permutations} permutations) | {rep.p_value:.3f} |",
              f"| chains: max R-hat / min bulk ESS over the dimensions | {_fmt(c.rhat_max, 3)} / "
              f"{_count(c.ess_min)} |", "",
              f"Verdict: {verdict}. "
              + ("The chains start at data rows: if the model matches the data, their last states are "
                 "independent draws from it even when the chains mix slowly (R-hat above 1.01). A model that "
                 "differs drifts away from the data, though a slowly mixing one may not get far in the run."
                 if c.start == "data rows" else
                 "The chains start at random points, so slowly mixing chains (R-hat above 1.01) make the "
                 "p-value too small."), ""]
    if rep.persistent is not None:
        pc = rep.persistent
        lines += ["### Persistent chains", "",
                  f"pcd's persistent chains continued: {_chains_line(pc)}.", "",
                  f"- max R-hat {_fmt(pc.rhat_max, 3)}, min bulk ESS {_count(pc.ess_min)} over the dimensions",
                  f"- their last states vs the data: MMD {_fmt(pc.mmd)}, p-value {pc.p_value:.3f}", ""]
    m = rep.moments
    order = np.arange(len(m.labels))
    note = ""
    if len(order) > 16:
        pooled = np.sqrt((m.data_sd ** 2 + m.sample_sd ** 2) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(pooled > 0, np.abs(m.sample_mean - m.data_mean) / pooled,
                         np.where(m.sample_mean != m.data_mean, np.inf, 0.0))
        order = np.sort(np.argsort(-z, kind="stable")[:16])
        note = f"The 16 of {len(m.labels)} dimensions whose means differ most (in pooled sds):"
    lines += ["### Moments per dimension", ""] + ([note, ""] if note else [])
    lines += ["| dim | data mean | model mean | data sd | model sd | R-hat | bulk ESS |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i in order:
        lines.append(f"| `{m.labels[i]}` | {m.data_mean[i]:.4g} | {m.sample_mean[i]:.4g} | {m.data_sd[i]:.4g} | "
                     f"{m.sample_sd[i]:.4g} | {_fmt(c.rhat[i], 3)} | {_count(c.ess_bulk[i])} |")
    lines += ["", f"![moments per dimension]({figures[1].name})", ""]
    if len(figures) > 2:
        lines += [f"![data, fitted density and samples]({figures[2].name})", ""]
    text = "\n".join(lines)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------- figures
def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> Path:
    from .io import atomic_write
    plt = _pyplot()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return path


def _smooth(y, width):
    if len(y) < 3 * width:
        return None
    c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
    return (c[width:] - c[:-width]) / width


def _plot_training(path: Path, h: dict, method: str, name: str) -> Path:
    """Loss (and validation loss), gradient norm, and the method's own per-step figures."""
    plt = _pyplot()
    step = np.asarray(h["step"])
    base = {"step", "loss", "grad_norm", "time", "val_step", "val_loss", "e_pos", "e_neg"}
    others = [k for k in sorted(h) if k not in base and len(h[k]) == len(step)]
    panels = ["loss", "grad_norm"] + (["energies", "gap"] if "e_pos" in h and len(h["e_pos"]) else []) + others
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 3.3 * nrows), dpi=100, squeeze=False)
    width = max(5, len(step) // 50)
    for ax, panel in zip(axes.flat, panels):
        if panel == "loss":
            ax.plot(step, h["loss"], lw=0.6, alpha=0.5 if len(step) > 150 else 1.0, label="training loss")
            sm = _smooth(h["loss"], width)
            if sm is not None:
                ax.plot(step[width - 1:], sm, lw=1.4, color="C0", label=f"running mean ({width} steps)")
            if len(h.get("val_loss", ())):
                ax.plot(h["val_step"], h["val_loss"], "o-", ms=3, color="C1", label="validation loss")
            ax.set(title="loss", ylabel="loss")
        elif panel == "grad_norm":
            g = np.asarray(h["grad_norm"], float)
            ax.plot(step, g, lw=0.7, color="C2", label="gradient norm")
            if np.all(g > 0) and g.max() > 20 * g.min():  # log only over a decade or more: readable ticks
                ax.set_yscale("log")
            ax.set(title="gradient norm", ylabel="global norm")
        elif panel == "energies":
            ax.plot(step, h["e_pos"], lw=0.7, color="C0", label="positive phase (data)")
            ax.plot(step, h["e_neg"], lw=0.7, color="C3", label="negative phase (chains)")
            ax.set(title="mean energies of the two phases", ylabel="mean (free) energy")
        elif panel == "gap":
            gap = np.asarray(h["e_pos"], float) - np.asarray(h["e_neg"], float)
            ax.plot(step, gap, lw=0.6, alpha=0.5 if len(step) > 150 else 1.0, color="C4", label="E_pos − E_neg")
            sm = _smooth(gap, width)
            if sm is not None:
                ax.plot(step[width - 1:], sm, lw=1.4, color="C4", label=f"running mean ({width} steps)")
            ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
            ax.set(title="energy gap (0 when the chains match the data)", ylabel="E_pos − E_neg")
        else:
            ax.plot(step, h[panel], lw=0.8, color="C5", label=panel)
            ax.set(title=panel, ylabel=panel)
        ax.set_xlabel("step")
        ax.legend(fontsize=8, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{name}: training with {method}")
    fig.tight_layout()
    return _save(fig, path)


def _plot_moments(path: Path, m: Moments, name: str) -> Path:
    """Mean ± sd per dimension, data beside samples."""
    plt = _pyplot()
    d = len(m.labels)
    fig, ax = plt.subplots(figsize=(min(13.0, max(6.5, 0.3 * d + 3.5)), 3.8), dpi=100)
    i = np.arange(d)
    off = 0.18 if d > 1 else 0.05
    ax.errorbar(i - off, m.data_mean, yerr=m.data_sd, fmt="o", ms=3.5, capsize=2, color="C0", label="data")
    ax.errorbar(i + off, m.sample_mean, yerr=m.sample_sd, fmt="s", ms=3.5, capsize=2, color="C3",
                label="model samples")
    if d <= 16:
        ax.set_xticks(i, m.labels, rotation=0 if d <= 8 else 45, ha="center" if d <= 8 else "right")
    else:
        ticks = i[:: max(1, d // 16)]
        ax.set_xticks(ticks, [m.labels[t] for t in ticks], rotation=45, ha="right")
    ax.set(xlabel="dimension", ylabel="mean ± sd", title=f"{name}: mean ± sd per dimension")
    ax.set_xlim(-0.6, d - 0.4)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return _save(fig, path)


def _plot_2d(path: Path, model, params, data, samples, labels, method) -> Path:
    """Three panels on shared axes: the data, the fitted density exp(−E) on a grid, the model's samples."""
    from .training.problem import Problem
    plt = _pyplot()
    lo, hi = data.min(0), data.max(0)
    pad = 0.15 * np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad, hi + pad
    n = 140
    gx, gy = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    problem = Problem(model)
    e = np.asarray(jax.jit(jax.vmap(lambda v: problem.flat_energy(params, v)))(
        jnp.asarray(grid, jnp.result_type(float))), float)
    e = np.where(np.isfinite(e), e, np.inf)
    dens = np.exp(-(e - np.min(e))).reshape(n, n)
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    dens = dens / max(dens.sum() * cell, 1e-300)  # normalized over the grid
    span = hi - lo
    ratio = span[1] / span[0]
    equal = 1 / 3 < ratio < 3  # same units on both axes, unless that squashes a panel flat
    height = min(max(3.6 * ratio, 2.6), 7.0) + 0.9 if equal else 4.4
    fig, axes = plt.subplots(1, 3, figsize=(13, height), dpi=100, sharex=True, sharey=True)
    kw = dict(s=5, alpha=0.5, linewidths=0)
    axes[0].scatter(data[:, 0], data[:, 1], color="C0", **kw)
    axes[0].set_title(f"data ({len(data)} rows)")
    im = axes[1].pcolormesh(gx, gy, dens, shading="auto", cmap="viridis")
    axes[1].contour(gx, gy, dens, levels=5, colors="white", linewidths=0.6, alpha=0.8)
    axes[1].set_title(f"fitted density exp(−E) / Z ({method})")
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04, label="density (normalized on the grid)")
    axes[2].scatter(samples[:, 0], samples[:, 1], color="C3", **kw)
    axes[2].set_title(f"model samples ({len(samples)} draws)")
    for ax in axes:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel(labels[0])
        if equal:
            ax.set_aspect("equal", adjustable="box")
    axes[0].set_ylabel(labels[1])
    fig.suptitle(f"{model.name}: data, fitted density and samples")
    fig.tight_layout()
    return _save(fig, path)
