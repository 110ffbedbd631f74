"""Figures drawn with matplotlib alone (ArviZ's figures are in :mod:`ebmppl.diagnostics`).

- :func:`density_figure`: a two-dimensional continuous model's density exp(-E) on a grid, with draws (and
  optionally data) over it;
- :func:`digit_grid`: binary images (e.g. 8x8 digits) sampled from a model beside real ones.

Every figure uses the Agg backend (no window ever opens) and is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> Path:
    from .io import atomic_write
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", pad_inches=0.15))
    _plt().close(fig)
    return Path(path)


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

    from .config import float_dtype
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
        from .errors import EbmError
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
    return _save(fig, path)


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
    return _save(fig, path)
