""":func:`fit_report`: sample the fitted model from data rows, compare its draws with the data, write the files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .. import diagnostics, plots
from ..applications import classify, on_the_real_line
from ..settings import ensure_compile_cache
from ..errors import EbmError
from ..goodness import ksd, ksd_applies
from ..infer.options import prng_key
from ..infer.sample import sample
from ..model.summary import param_values
from ..vocabulary import knob
from .keywords import admit
from .markdown import write_markdown
from .mmd import mmd_test
from .values import Chains, Moments, Report


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
    from ..io import prepare_data
    ensure_compile_cache()
    model = model.bind(consts) if consts is not None else model
    _check_result(model, result)
    n = admit(n_samples=n_samples, max_rows=max_rows, draws=draws, thin=thin, warmup=warmup,
              persistent_chains=persistent_chains, permutations=permutations, bandwidth=bandwidth)
    n_samples, max_rows, draws, thin, warmup, persistent_chains, permutations, bandwidth = (
        n[k] for k in ("n_samples", "max_rows", "draws", "thin", "warmup", "persistent_chains", "permutations",
                       "bandwidth"))
    rng_key = prng_key(key, "key=")
    rows = prepare_data(model, data)
    flat_all, labels = _flatten_rows(model, rows)
    split = _split_rows(len(flat_all), key, max_rows, n_samples)
    flat_data = flat_all[split.test]
    if sampler is None:
        sampler = "gibbs" if all(s.domain.discrete for s in model.random) else "mala"
    k_run, k_test, k_pers, k_ptest = jax.random.split(rng_key, 4)

    init = _data_starts(model, rows, split.start, split.rng)
    run = _Run(model, result.params, sampler, tuple(s.name for s in model.vars), draws, thin, bandwidth, flat_data,
               permutations)
    if init is None:
        chains, last, test = run(k_run, n_samples, warmup, None, "random starts", k_test)
    else:
        chains, last, test = run(k_run, len(split.start), warmup, init, "data rows", k_test)
    moments = Moments(tuple(labels), flat_data.mean(0), flat_data.std(0), last.mean(0), last.std(0))
    persistent = _continue_persistent(model, result, run, persistent_chains, warmup, k_pers, k_ptest)
    h = result.history
    rep = Report(method=result.method, steps=int(len(h["loss"])), stopped=result.stopped,
                 final_loss=float(h["loss"][-1]) if len(h["loss"]) else None,
                 final_val_loss=float(h["val_loss"][-1]) if len(h.get("val_loss", ())) else None,
                 n_data=len(flat_data), n_samples=len(last), mmd=test.mmd, p_value=test.p_value,
                 bandwidth=test.bandwidth, permutations=test.permutations, moments=moments, chains=chains,
                 persistent=persistent, energies=_energies(h), accuracy=_accuracy(model, result, rows),
                 params=param_values(result.params), **_ksd(model, result, rows, split.test, k_test))
    if out_dir is None:
        return rep
    files = _write_files(Path(out_dir), model, result, rep, flat_data, last, labels, bandwidth is None)
    return replace(rep, files=files)


KSD_BOOTSTRAP = 500  # the report's wild-bootstrap replicates (ebmppl.ksd's default is 1000)


def _ksd(model, result, rows: dict, test_rows, key) -> dict:
    """``ksd`` and ``ksd_p_value`` of the fitted model against the report's data rows (the score alone, no
    sampling), or nothing for a model :func:`ebmppl.ksd` does not apply to."""
    if not ksd_applies(model):
        return {}
    picked = {k: np.asarray(v)[test_rows] for k, v in rows.items()}
    r = ksd(model, result.params, picked, bootstrap=KSD_BOOTSTRAP, key=key)
    return {"ksd": r.statistic, "ksd_p_value": r.p_value}


def _check_result(model, result) -> None:
    """A result of this model whose params can be used (finite, inside their domains)."""
    if result.fingerprint and result.fingerprint != model.fingerprint:
        raise EbmError("report", f"the fit result belongs to another model (fingerprint {result.fingerprint}, "
                                 f"this model {model.fingerprint})", hint="pass the model that was fitted")
    if not getattr(result, "params_usable", True):
        raise EbmError("report", f"the fit result's params are not usable ({result.failure or result.stopped})",
                       hint="fit again with a smaller learning rate or gradient clipping")


class _Split(NamedTuple):
    """Which data rows the draws are compared with, which start the chains, and the generator that chose."""

    test: np.ndarray
    start: np.ndarray
    rng: np.random.Generator


def _split_rows(n_rows: int, key, max_rows: int, n_samples: int) -> _Split:
    if n_rows < 4:
        raise EbmError("report", f"the data has {n_rows} rows; a sample-vs-data check needs at least 4")
    rng = np.random.default_rng(key if isinstance(key, int) else 0)
    order = rng.permutation(n_rows)
    n_test = min(max_rows, n_rows // 2)
    return _Split(order[:n_test], order[n_test:n_test + n_samples], rng)


def _continue_persistent(model, result, run, persistent_chains, warmup, key, test_key) -> Optional[Chains]:
    """pcd: its persistent chains continued with the report's kernel (None for other methods)."""
    state = result.state
    if not (result.method == "pcd" and persistent_chains >= 2 and isinstance(state, dict)
            and {s.name for s in model.random} <= set(state)):
        return None
    n_p = min(persistent_chains, int(np.shape(state[model.vars[0].name])[0]))
    if n_p < 2:
        return None
    init_p = {s.name: np.asarray(state[s.name])[:n_p] for s in model.random}
    # Gibbs needs no tuning, so it continues the chains as they are; gradient kernels adapt first
    chains, _, _ = run(key, n_p, 0 if run.sampler == "gibbs" else warmup, init_p, "persistent chains", test_key)
    return chains


def _energies(h: dict) -> dict:
    """cd/pcd: the two phases' mean energies and their gap over the last tenth of the steps, with the gap's
    standard error by batch means (10 batches of consecutive steps, which absorbs the steps' correlation;
    NaN with fewer than 20 steps in the tail)."""
    if "e_pos" not in h or not len(h["e_pos"]):
        return {}
    tail = max(1, len(h["e_pos"]) // 10)
    pos, neg = np.asarray(h["e_pos"][-tail:], float), np.asarray(h["e_neg"][-tail:], float)
    e_pos, e_neg = float(np.mean(pos)), float(np.mean(neg))
    se = float("nan")
    if tail >= 20:
        means = [b.mean() for b in np.array_split(pos - neg, 10)]
        se = float(np.std(means, ddof=1) / np.sqrt(len(means)))
    return {"e_pos": e_pos, "e_neg": e_neg, "gap": e_pos - e_neg, "gap_se": se, "tail": tail}


def _accuracy(model, result, rows) -> Optional[float]:
    """ce: the fraction of data rows whose label the fitted classifier gets right."""
    if result.method != "ce":
        return None
    label = result.options.get("label", "y")
    p = classify(model, result.params, {n: v for n, v in rows.items() if n != label}, label=label)
    return float(np.mean(p.argmax(1) == np.asarray(rows[label]).astype(int)))


def _write_files(out: Path, model, result, rep: Report, flat_data, last, labels, median_bw: bool) -> tuple:
    """The figures and fit-report.md under ``out``; the paths, the markdown last."""
    files = [plots.training_curves(out / "fit-report-training.png", result.history, result.method, model.name)]
    files.append(plots.moments_figure(out / "fit-report-moments.png", rep.moments, model.name))
    if _is_2d_real(model):
        gx, gy, dens = _grid_density(model, result.params, flat_data)
        files.append(plots.fit_samples_figure(out / "fit-report-samples.png", flat_data, last, labels, gx, gy, dens,
                                              model.name, result.method))
    files.append(write_markdown(out / "fit-report.md", model, rep, files, median_bw))
    return tuple(files)


@dataclass(frozen=True)
class _Run:
    """Sample the fitted model: its :class:`Chains`, their last states and the MMD test of those
    against the compared data rows."""

    model: Any
    params: Any
    sampler: str
    names: tuple  # the vars, in declaration order
    draws: int
    thin: int
    bandwidth: Optional[float]
    flat_data: np.ndarray
    permutations: int

    def __call__(self, key, chains, warmup, init, start, test_key):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = sample(self.model, self.params, sampler=self.sampler, chains=chains, draws=self.draws,
                           warmup=warmup, thin=self.thin, key=key, init=init, progress=False, verbose=False)
        post = {n: np.asarray(idata.posterior[n]) for n in self.names}
        flat, _ = _flatten_rows(self.model, {n: a.reshape((-1,) + a.shape[2:]) for n, a in post.items()})
        if not np.all(np.isfinite(flat)):
            raise EbmError("report", f"the {self.sampler} draws from the fitted model are not all finite",
                           hint=f"the fitted energy may not be normalizable; try another {knob('sampler')}")
        flat = flat.reshape(chains, self.draws, -1)
        last = flat[:, -1]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rh = diagnostics.rhat(idata, var_names=list(self.names))
            es = diagnostics.ess(idata, var_names=list(self.names), method="bulk")
            rhat = np.concatenate([np.asarray(rh[n].values, float).reshape(-1) for n in self.names])
            ess = np.concatenate([np.asarray(es[n].values, float).reshape(-1) for n in self.names])
        moved = flat.reshape(-1, flat.shape[-1]).std(0) > 0  # R-hat and ESS are undefined where nothing moved
        test = mmd_test(self.flat_data, last, permutations=self.permutations, key=test_key,
                        bandwidth=self.bandwidth)
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
    """Starts at the given data rows (latents drawn at random among their states), or None when they
    cannot be used (continuous latents: no data to start them from)."""
    if len(start_rows) < 2:
        return None
    low = model.lowered
    init = {s.name: np.asarray(rows[s.name])[start_rows] for s in model.vars}
    n = len(start_rows)
    for s in model.latents:
        if not s.domain.row.finite:
            return None
        states = np.asarray(s.domain.row.states(low.domain_args[s.name]))
        init[s.name] = states[rng.integers(0, len(states), (n,) + tuple(low.shapes[s.name]))]
    return init


def _is_2d_real(model) -> bool:
    low = model.lowered
    return all(on_the_real_line(s) for s in model.vars) \
        and sum(int(np.prod(low.shapes[s.name], dtype=np.int64)) for s in model.vars) == 2 \
        and not any(s.domain.continuous for s in model.latents)


def _grid_density(model, params, data: np.ndarray, n: int = 140):
    """The fitted density exp(−E) of a two-dimensional model on an ``n`` x ``n`` grid around the data
    (15% margins), normalized over the grid: ``(gx, gy, dens)`` with ``dens[i, j]`` at ``(gx[j], gy[i])``."""
    from ..training.problem import Problem
    lo, hi = data.min(0), data.max(0)
    pad = 0.15 * np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad, hi + pad
    gx, gy = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    problem = Problem(model)
    e = np.asarray(jax.jit(jax.vmap(lambda v: problem.flat_energy(params, v)))(
        jnp.asarray(grid, jnp.result_type(float))), float)
    e = np.where(np.isfinite(e), e, np.inf)
    dens = np.exp(-(e - np.min(e))).reshape(n, n)
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    return gx, gy, dens / max(dens.sum() * cell, 1e-300)  # normalized over the grid
