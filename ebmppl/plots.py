"""Every figure ebmppl draws, with matplotlib (Agg backend: no window ever opens), written atomically by
one :func:`save`.

- chains (for :mod:`ebmppl.diagnostics`, which passes ArviZ in): :func:`chain_figure` draws ArviZ's
  trace, rank, autocorrelation, forest, pair and energy plots;
- models: :func:`density_figure`, a two-dimensional continuous model's density exp(-E) on a grid with
  draws (and optionally data) over it; :func:`digit_grid`, binary images sampled from a model beside real ones;
- fits (for ``ebmppl fit`` and :mod:`ebmppl.report`): :func:`loss_curve`, :func:`training_curves`,
  :func:`moments_figure` and :func:`fit_samples_figure`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import EbmError


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path, trim: bool = True) -> Path:
    """Write ``fig`` to ``path`` as a PNG (atomically) and close it.

    ``trim``: at 100 dpi, cropped to what is drawn (with a small margin); otherwise at the figure's own
    size and dpi.
    """
    from .io import atomic_write
    opts = {"dpi": 100, "bbox_inches": "tight", "pad_inches": 0.15} if trim else {}
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", **opts))
    finally:
        _plt().close(fig)
    return Path(path)


# ----------------------------------------------------------------------- chains
def _trace(az, data, idata, k):
    axes = az.plot_trace(data, figsize=(10, 1.9 * k + 0.6), compact=False,
                         divergences="bottom" if "diverging" in data.sample_stats else None)
    for row in np.atleast_2d(axes):
        row[0].set_ylabel("density")
        row[1].set_xlabel("draw")
        row[1].set_ylabel("value")
    return axes, "trace: per-chain densities (left) and draws (right)"


def _rank(az, data, idata, k):
    cols = min(3, k)
    axes = az.plot_rank(data, figsize=(max(5, 4 * cols), 3.1 * -(-k // cols) + 0.5), grid=(-(-k // cols), cols))
    return axes, "rank plots: flat, overlapping bars = well-mixed chains"


def _autocorr(az, data, idata, k):
    cols = min(3, k)
    axes = az.plot_autocorr(data, combined=True, max_lag=min(100, data.posterior.sizes["draw"] - 1),
                            figsize=(4 * cols, 2.8 * -(-k // cols) + 0.5), grid=(-(-k // cols), cols))
    for ax in np.asarray(axes).ravel():
        if ax.has_data():
            ax.set_xlabel("lag")
            ax.set_ylabel("autocorrelation")
    return axes, "autocorrelation (chains combined)"


def _forest(az, data, idata, k):
    axes = az.plot_forest(data, combined=False, ess=True,  # R-hat is not defined per chain
                          figsize=(10, min(16, 0.35 * k * max(1, data.posterior.sizes["chain"] / 2) + 1.5)))
    return axes, "each chain's 94% HDI (thick: 50%) and its ESS"


def _pair(az, data, idata, k):
    size = min(2.4 * k, 13)
    axes = az.plot_pair(data, figsize=(size, size), kind="scatter", marginals=k <= 4,
                        divergences="diverging" in data.sample_stats,
                        scatter_kwargs={"alpha": 0.3, "s": 4, "marker": "o"})
    return axes, "pair plot (divergent draws, if any, marked in orange)"


def _energy(az, data, idata, k):
    axes = az.plot_energy(idata, figsize=(7, 4.2))
    axes.set_xlabel("energy (centered)")
    axes.set_ylabel("density")
    return axes, "energy: marginal vs transition (similar widths = good)"


CHAIN_FIGURES = {"trace": _trace, "rank": _rank, "autocorr": _autocorr, "forest": _forest, "pair": _pair,
                 "energy": _energy}


def chain_figure(az, kind: str, data, idata, path, title: Optional[str] = None) -> Path:
    """Draw one of ArviZ's figures of MCMC draws and write it as a PNG.

    Args:
        az: the ArviZ module (:mod:`ebmppl.diagnostics` imports it, and hands it over).
        kind: ``trace`` (draws and per-chain densities), ``rank`` (rank histograms per chain), ``energy``
            (NUTS/HMC energy transitions against marginal energy, with BFMI), ``autocorr`` (chains combined),
            ``forest`` (per-chain 94% HDIs with each chain's ESS) or ``pair`` (scatter of pairs, divergent
            draws marked).
        data: InferenceData with one scalar variable per element shown (and the sample stats).
        idata: the full draws (the energy figure reads their sample stats).
        title: the figure's heading (default: one that says how to read it).
    """
    if kind not in CHAIN_FIGURES:
        raise ValueError(f"unknown figure kind '{kind}'")
    _plt()
    with warnings.catch_warnings(), az.rc_context({"plot.max_subplots": 200}):
        warnings.simplefilter("ignore")
        axes, default = CHAIN_FIGURES[kind](az, data, idata, len(data.posterior.data_vars))
    fig = np.asarray(axes).ravel()[0].figure
    # forest and pair layouts refuse tight_layout: their title goes clear above the axes
    fig.suptitle(title or default, fontsize=12, y=1.03 if kind in ("forest", "pair") else 0.98)
    with warnings.catch_warnings():  # some ArviZ layouts (forest, pair) refuse tight_layout; bbox fixes those
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    return save(fig, path)


# ----------------------------------------------------------------------- models
def density_dims(model) -> Optional[list]:
    """The two scalar elements ``[(name, index), ...]`` of a bound model whose vars and latents are continuous
    and two-dimensional in all (``var x : real[2]``, or two scalars); None for any other model."""
    if not model.is_bound or not model.random or not all(s.domain.continuous for s in model.random):
        return None
    shapes = model.lowered.shapes
    elems = [(s.name, idx) for s in model.random for idx in np.ndindex(*shapes[s.name])]
    return elems if len(elems) == 2 else None


def _label(name, idx) -> str:
    return f"{name}[{', '.join(map(str, idx))}]" if idx else name


def _points(values: dict, elems, lead: int) -> np.ndarray:
    """Rows of the two chosen elements from arrays shaped (*lead axes, *var shape)."""
    cols = []
    for name, idx in elems:
        a = np.asarray(values[name], dtype=np.float64)
        a = a.reshape((-1,) + a.shape[lead:])
        cols.append(a[(slice(None),) + idx])
    return np.stack(cols, axis=-1)


def density_grid(model, params, xlim, ylim, n: int = 200):
    """exp(-E) of a two-dimensional model on an ``n`` x ``n`` grid, normalized to integrate to 1 there.

    Returns ``(xs, ys, density)`` with ``density[i, j]`` at ``(xs[j], ys[i])``; points where the energy is not
    finite (outside a constrained domain) have density 0.
    """
    import jax
    import jax.numpy as jnp

    from .settings import ensure_compile_cache, float_dtype
    ensure_compile_cache()
    elems = density_dims(model)
    shapes = model.lowered.shapes
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    gx, gy = np.meshgrid(xs, ys)
    flat = np.stack([gx.ravel(), gy.ravel()], -1)
    values = {s.name: np.zeros((len(flat),) + tuple(shapes[s.name])) for s in model.random}
    for j, (name, idx) in enumerate(elems):
        values[name][(slice(None),) + idx] = flat[:, j]
    params = params if params is not None else (model.init_params(0) if model.params else {})
    f = jax.jit(jax.vmap(lambda v: model.energy(params, v)))
    e = np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in values.items()}), np.float64)
    logp = np.where(np.isfinite(e), -e, -np.inf)
    logp -= np.max(logp[np.isfinite(logp)]) if np.isfinite(logp).any() else 0.0
    p = np.exp(logp).reshape(n, n)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    total = p.sum() * cell
    return xs, ys, p / total if total > 0 else p


def _limits(pts: np.ndarray, pad: float = 0.2):
    lo, hi = np.percentile(pts, 0.2, axis=0), np.percentile(pts, 99.8, axis=0)
    width = np.maximum(hi - lo, 1e-3)
    return (lo[0] - pad * width[0], hi[0] + pad * width[0]), (lo[1] - pad * width[1], hi[1] + pad * width[1])


def density_figure(model, params, draws: dict, path, data: Optional[dict] = None, max_points: int = 3000,
                   title: Optional[str] = None) -> Path:
    """Write a PNG of a two-dimensional model's density exp(-E) with draws (and optionally data) over it.

    Args:
        model, params: the model (see :func:`density_dims`) and its params (default: initial params).
        draws: dict name -> array shaped (chains, draws, *var shape), e.g. an InferenceData's posterior.
        path: the PNG to write.
        data: optional rows (dict name -> array shaped (rows, *var shape)); when given, a second panel shows
            them over the same density.
        max_points: at most this many points per panel (an even thinning).
    """
    plt = _plt()
    elems = density_dims(model)
    if elems is None:
        raise EbmError("plot", f"the density figure needs a continuous two-dimensional model; '{model.name}' is not")
    pts = _points(draws, elems, 2)
    dpts = _points(data, elems, 1) if data is not None else None
    xlim, ylim = _limits(pts if dpts is None else np.concatenate([pts, dpts]))
    xs, ys, dens = density_grid(model, params, xlim, ylim)
    panels = [("MCMC draws", pts)] + ([("training points", dpts)] if dpts is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1, 5), squeeze=False, layout="constrained")
    from matplotlib.colors import PowerNorm
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=float(dens.max()) or 1.0)  # square-root scale: tails stay visible
    spans = (xlim[1] - xlim[0], ylim[1] - ylim[0])
    for ax, (what, p) in zip(axes[0], panels):
        mesh = ax.pcolormesh(xs, ys, dens, cmap="viridis", shading="auto", norm=norm)
        step = max(1, len(p) // max_points)
        ax.scatter(p[::step, 0], p[::step, 1], s=3, c="#e8233a", alpha=0.6, linewidths=0)  # visible on dark and bright
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if max(spans) < 2.5 * min(spans):  # same units on both axes, unless that squeezes one of them
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(_label(*elems[0]))
        ax.set_ylabel(_label(*elems[1]))
        ax.set_title(f"exp(-E) and {len(p[::step])} {what}", fontsize=11)
    fig.colorbar(mesh, ax=list(axes[0]), label="density (normalized on the grid; square-root scale)", shrink=0.85)
    fig.suptitle(title or f"{model.name}: model density with draws", fontsize=12)
    return save(fig, path)


def digit_grid(real: np.ndarray, sampled: np.ndarray, path, shape=(8, 8), cols: int = 8,
               title: Optional[str] = None) -> Path:
    """Write a PNG with real images (left) beside sampled ones (right), each a ``rows x cols`` grid.

    Args:
        real, sampled: arrays (n, prod(shape)) of pixel values in [0, 1]; the first ``rows * cols`` of each
            are shown, where rows = ceil(n / cols) of the smaller set.
        shape: each image's (height, width).
    """
    plt = _plt()
    n = min(len(real), len(sampled))
    rows = -(-n // cols)
    fig, axes = plt.subplots(1, 2, figsize=(2 * (0.75 * cols + 0.3), 0.75 * rows + 0.9))
    h, w = shape
    for ax, imgs, what in ((axes[0], real, "real digits (training data)"),
                           (axes[1], sampled, "sampled from the model")):
        canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1))
        for i, img in enumerate(np.asarray(imgs, np.float64)[: rows * cols]):
            r, c = divmod(i, cols)
            canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = \
                1.0 - img.reshape(shape)
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(what, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return save(fig, path)


# ------------------------------------------------------------------------- fits
def loss_curve(path, h: dict, method: str, name: str) -> Path:
    """``ebmppl fit``'s loss.png: the training loss per step (and the validation loss)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(h["step"], h["loss"], lw=0.8, label="training loss")
    if len(h["val_loss"]):
        ax.plot(h["val_step"], h["val_loss"], "o-", ms=3, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{name}: {method}")
    ax.legend()
    fig.tight_layout()
    return save(fig, path, trim=False)


def _smooth(y, width):
    if len(y) < 3 * width:
        return None
    c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
    return (c[width:] - c[:-width]) / width


def _noisy_line(ax, step, y, width, color, label):
    """A per-step series drawn faintly when long, with its running mean over ``width`` steps on top."""
    ax.plot(step, y, lw=0.6, alpha=0.5 if len(step) > 150 else 1.0, label=label, **({"color": color} if color else {}))
    sm = _smooth(y, width)
    if sm is not None:
        ax.plot(step[width - 1:], sm, lw=1.4, color=color or "C0", label=f"running mean ({width} steps)")


def _training_panel(ax, panel: str, step, h: dict, width: int):
    if panel == "loss":
        _noisy_line(ax, step, h["loss"], width, None, "training loss")
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
    elif panel in ("params", "norms"):
        pre = "param:" if panel == "params" else "norm:"
        for i, k in enumerate(k for k in h if k.startswith(pre) and len(h[k]) == len(step)):
            if i < 10:  # a legend of more is unreadable: the first ten params
                ax.plot(step, h[k], lw=0.9, label=k[len(pre):])
        ax.set(title="scalar params" if panel == "params" else "array params' L2 norms",
               ylabel="value" if panel == "params" else "norm")
    elif panel == "gap":
        _noisy_line(ax, step, np.asarray(h["e_pos"], float) - np.asarray(h["e_neg"], float), width, "C4",
                    "E_pos − E_neg")
        ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
        ax.set(title="energy gap (0 when the chains match the data)", ylabel="E_pos − E_neg")
    else:
        ax.plot(step, h[panel], lw=0.8, color="C5", label=panel)
        ax.set(title=panel, ylabel=panel)
    ax.set_xlabel("step")
    ax.legend(fontsize=8, loc="best")


def training_curves(path, h: dict, method: str, name: str) -> Path:
    """Loss (and validation loss), gradient norm, the params' traces (scalar params' values, array params'
    norms) and the method's own per-step figures (``cd``/``pcd``: the two phases' energies and their gap),
    two panels a row."""
    plt = _plt()
    step = np.asarray(h["step"])
    base = {"step", "loss", "grad_norm", "time", "val_step", "val_loss", "e_pos", "e_neg"}
    traced = [k for k in h if k.startswith(("param:", "norm:")) and len(h[k]) == len(step)]
    others = [k for k in sorted(h) if k not in base and k not in traced and len(h[k]) == len(step)]
    panels = ["loss", "grad_norm"] + (["energies", "gap"] if "e_pos" in h and len(h["e_pos"]) else []) + others
    for shared, pre in (("params", "param:"), ("norms", "norm:")):  # a panel each (their scales differ), or shared
        mine = [k for k in traced if k.startswith(pre)]
        panels += mine if len(mine) <= 4 else [shared]
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 3.3 * nrows), dpi=100, squeeze=False)
    width = max(5, len(step) // 50)
    for ax, panel in zip(axes.flat, panels):
        _training_panel(ax, panel, step, h, width)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{name}: training with {method}")
    fig.tight_layout()
    return save(fig, path, trim=False)


def moments_figure(path, m, name: str) -> Path:
    """Mean ± sd per dimension, data beside samples (``m``: :class:`ebmppl.report.Moments`)."""
    plt = _plt()
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
    return save(fig, path, trim=False)


def fit_samples_figure(path, data: np.ndarray, samples: np.ndarray, labels, gx, gy, dens, name: str,
                       method: str) -> Path:
    """Three panels on shared axes: the data, the fitted density on the grid ``gx`` x ``gy`` (``dens``,
    normalized there), the model's samples."""
    plt = _plt()
    lo, hi = np.array([gx[0], gy[0]]), np.array([gx[-1], gy[-1]])
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
    fig.suptitle(f"{name}: data, fitted density and samples")
    fig.tight_layout()
    return save(fig, path, trim=False)
