"""log Z of a 1- or 2-dimensional continuous model by the trapezoid rule on the unconstrained space, once the
grid has shown that the density is finite everywhere it looked and vanishes at the grid's edges.

The grid starts at [−radius, radius]^d. When the density at an edge is not negligible beside its largest
value (:data:`EDGE_TOL`), the grid is widened (radius doubled, spacing kept while the number of points allows)
until the edges vanish, up to :data:`MAX_RADIUS` and while the edges can still be represented (float32 clips a
bounded variable onto its bound far out). A density that still does not vanish is an ``error[logz]`` naming the
variable and the end of its domain where it grows, stays flat or decays too slowly; a NaN or an infinite
density anywhere on the grid is one too. A model whose edges vanish at once keeps the grid and the result it
always had.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from ..errors import EbmError
from ..infer.target import Target
from ..model.admit import require
from ..model.normalizer import LogZ
from ..settings import ensure_compile_cache, float_dtype
from . import improper
from ..vocabulary import knob, value as spelled

EDGE_TOL = 1e-6  # the density at the grid's edge, relative to its largest value, below which the rest is negligible
MAX_RADIUS = 128.0  # the grid is widened (doubling its radius) at most this far
MAX_POINTS = {1: 12801, 2: 1601}  # points per axis a widened grid may have (then its spacing grows)


def _grid(target, f, points: int, radius: float):
    """(log Z by the trapezoid rule, log density on the grid shaped (points,) * dim, the axis)."""
    g = np.linspace(-radius, radius, points)
    w1 = np.full(points, g[1] - g[0])
    w1[[0, -1]] /= 2
    if target.dim == 1:
        lp = np.asarray(f(jnp.asarray(g[:, None], float_dtype())), np.float64)
        return float(logsumexp(jnp.asarray(lp + np.log(w1)))), lp, g
    uu, vv = np.meshgrid(g, g, indexing="ij")
    lp = np.asarray(f(jnp.asarray(np.stack([uu.ravel(), vv.ravel()], -1), float_dtype())), np.float64)
    return float(logsumexp(jnp.asarray(lp + np.log(np.outer(w1, w1).ravel())))), lp.reshape(points, points), g


def _point(g, index) -> np.ndarray:
    return np.array([g[i] for i in index])


def _check_finite(target, lp, g) -> None:
    """NaN or +inf anywhere on the grid: the density is undefined or infinite there."""
    bad = np.isnan(lp) | (lp == np.inf)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise improper.nonfinite_point(target, _point(g, first), {}, int(bad.sum()), lp.size,
                                       "points of the quadrature grid")
    if np.all(lp == -np.inf):
        raise EbmError("logz", f"the model looks improper: its density is zero at every point of the quadrature "
                               f"grid (the energy is +inf at all {lp.size}), so log Z cannot be estimated",
                       hint="check the factors: the energy must be finite somewhere")


def _worst_edge(lp):
    """(axis, upper, log of the edge's density relative to the largest, index on the grid) for the edge whose
    density is largest, if that is above EDGE_TOL; else None."""
    peak = np.max(lp)
    worst = None
    for axis in range(lp.ndim):
        for upper in (False, True):
            face = np.take(lp, -1 if upper else 0, axis=axis)
            rel = float(np.max(face) - peak)
            if worst is None or rel > worst[2]:
                at = list(np.unravel_index(int(np.argmax(face)), face.shape)) if face.ndim else []
                at.insert(axis, lp.shape[axis] - 1 if upper else 0)
                worst = (axis, upper, rel, tuple(at))
    return worst if worst[2] > np.log(EDGE_TOL) else None


def _edges_representable(target, radius: float) -> bool:
    corners = [np.eye(target.dim)[i] * s for i in range(target.dim) for s in (-1.0, 1.0)]
    corners += [np.full(target.dim, s) for s in (-1.0, 1.0)]
    return bool(np.all(improper.representable(target, radius * np.array(corners))))


def _conclude(target, grids, edge) -> EbmError:
    """The error for an edge whose density did not vanish on the widest grid (``grids``: (points, radius, lp, g)
    from the first to the widest)."""
    axis, upper, rel, at = edge
    points, radius, lp, g = grids[-1]
    z = _point(g, at)
    value = improper.coordinate_value(target, z, axis)
    label = improper.coordinate_labels(target)[axis]
    if len(grids) == 1:
        trend = "does not vanish"
    else:
        prev_lp = grids[-2][2]
        step = float(np.max(np.take(lp, -1 if upper else 0, axis=axis))
                     - np.max(np.take(prev_lp, -1 if upper else 0, axis=axis)))
        trend = "grows" if step > 0.1 else "stays flat" if step > -0.1 else "decays too slowly"
    share = "as large as anywhere else" if rel > -1e-3 else f"{np.exp(rel):.2g} of its largest value"
    widened = f"widened to radius {radius:g}" if len(grids) > 1 else f"of radius {radius:g}"
    beyond = "; or its mass lies beyond the grid" if trend == "grows" else ""
    return improper.tail(target, axis, upper, trend,
                         f"at '{label}' = {value:.3g} it is {share} on the quadrature grid, {widened}{beyond}")


def logz_quadrature(model, params=None, consts=None, points: int = 801, radius: float = 8.0) -> LogZ:
    """log Z of a 1- or 2-dimensional continuous model on a fine grid of the unconstrained space.

    The integrand is exp(−E(x(u)) + log|dx/du|) over u in [−radius, radius]^d (trapezoid rule), the grid
    widened while the density at its edges is not negligible; the stated error is the difference from the
    same rule on a grid half as fine. An improper model (a density that is NaN or infinite somewhere on the
    grid, or does not vanish at its edges) is an ``error[logz]``.
    """
    ensure_compile_cache()
    points = require(points, "size", what="points=")
    radius = require(radius, "positive", what="radius=")
    if points < 3:
        raise EbmError("usage", f"points= must be at least 3; got {points}")
    target = Target(model, params, consts)
    if target.disc or target.dim not in (1, 2):
        raise EbmError("logz", f"quadrature handles 1 or 2 continuous dimensions; this model has {target.dim}"
                               + (" and discrete variables" if target.disc else ""),
                       hint=f"use {knob('method', 'exact')} (discrete) or {spelled('method', 'ais')}")
    f = jax.jit(jax.vmap(lambda z: target.logdensity(z, {})))
    value, lp, g = _grid(target, f, points, radius)
    _check_finite(target, lp, g)
    grids = [(points, radius, lp, g)]
    edge = _worst_edge(lp)
    while edge is not None and radius < MAX_RADIUS and _edges_representable(target, 2 * radius):
        points, radius = min(2 * points - 1, MAX_POINTS[target.dim]), 2 * radius
        value, lp, g = _grid(target, f, points, radius)
        _check_finite(target, lp, g)
        grids.append((points, radius, lp, g))
        edge = _worst_edge(lp)
    if edge is not None:
        raise _conclude(target, grids, edge)
    coarse = _grid(target, f, points // 2 + 1, radius)[0]
    return LogZ(value, abs(value - coarse), "quadrature",
                f"trapezoid rule on {points}^{target.dim} points over [-{radius}, {radius}]^{target.dim} "
                f"(unconstrained space); error = |fine - half-resolution|")
