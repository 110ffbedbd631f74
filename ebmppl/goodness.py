"""Goodness of fit from the score: the kernel Stein discrepancy (KSD) of a model against data rows, with a
wild-bootstrap p-value, needing only ∇log p(x) = −∇F(x) (no sampling, no log Z).

For data x_1..x_n and the model's score s(x) = ∇_x log p(x), the squared KSD is estimated by the
U-statistic (Liu, Lee and Jordan 2016; Chwialkowski, Strathmann and Gretton 2016)

    KSD² = 1/(n(n−1)) Σ_{i≠j} u(x_i, x_j),
    u(x, y) = s(x)ᵀs(y) k(x, y) + s(x)ᵀ∇_y k(x, y) + s(y)ᵀ∇_x k(x, y) + tr ∇_x∇_y k(x, y),

with the inverse multiquadric kernel k(x, y) = (c² + |x − y|²)^β (c = 1, β = −1/2 by default; Gorham and
Mackey 2017 show it detects non-convergence). KSD² is 0 exactly when the data's law is the model's (for
smooth densities on ℝ^d that vanish at infinity). Its null distribution is that of the same sum with
Rademacher weights w_i w_j (the wild bootstrap); the p-value is (1 + #{bootstrap ≥ observed}) / (1 + B).

The n × n matrix of u is never held: rows are taken in blocks (each block's terms are matrix products), so
n = 5000 needs a few tens of MiB. The vars must all live on the whole real line (the Stein identity needs no
boundary); latents are summed out by the free energy.

Example::

    result = ebmppl.ksd(model, params, data)       # data: a dict of rows, or a CSV / NPZ path
    result.statistic, result.p_value                # KSD², and its p-value for "the data are from the model"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .applications import on_the_real_line
from .errors import EbmError
from .infer.options import prng_key
from .infer.values import check_params
from .model.admit import require
from .settings import ensure_compile_cache, float_dtype

__all__ = ["KSDResult", "ksd", "ksd_applies", "stein_kernel_sums"]

BLOCK_NUMBERS = 1 << 21  # a block of rows holds about this many numbers of each n-wide matrix (8 MiB)


@dataclass(frozen=True)
class KSDResult:
    """What :func:`ksd` returns.

    Attributes:
        statistic: the U-statistic estimate of KSD² (may be slightly negative when the model fits).
        p_value: the wild-bootstrap p-value of "the rows are draws from the model".
        n: the number of rows.
        bootstrap: the number of bootstrap replicates B.
        c, beta: the IMQ kernel's parameters, k(x, y) = (c² + |x − y|²)^β.
    """

    statistic: float
    p_value: float
    n: int
    bootstrap: int
    c: float = 1.0
    beta: float = -0.5

    def __str__(self) -> str:
        return (f"KSD² = {self.statistic:.4g} (IMQ c={self.c:g}, β={self.beta:g}; n={self.n}), "
                f"wild-bootstrap p = {self.p_value:.3g} ({self.bootstrap} replicates)")


def _stein_block(xb, sb, x, s, c, beta):
    """u(x_i, x_j) for the rows ``xb`` (scores ``sb``) against all rows ``x`` (scores ``s``): a (b, n) matrix,
    every term a matrix product (no (b, n, d) array)."""
    d = x.shape[1]
    r2 = jnp.maximum(jnp.sum(xb * xb, 1)[:, None] + jnp.sum(x * x, 1)[None, :] - 2.0 * xb @ x.T, 0.0)
    q = c * c + r2
    k = q ** beta
    # (s(x_i) − s(x_j))ᵀ (x_i − x_j)
    ds_dr = (jnp.sum(sb * xb, 1)[:, None] - sb @ x.T - (s @ xb.T).T + jnp.sum(s * x, 1)[None, :])
    return (k * (sb @ s.T) - 2.0 * beta * q ** (beta - 1.0) * ds_dr
            - 4.0 * beta * (beta - 1.0) * q ** (beta - 2.0) * r2 - 2.0 * beta * d * q ** (beta - 1.0))


@partial(jax.jit, static_argnames=("block",))
def stein_kernel_sums(x, s, real, w, c, beta, block: int):
    """(Σ_{i≠j} u_ij, and for each row w_b of ``w`` (B, n) the sum Σ_{i≠j} w_bi w_bj u_ij) over the rows ``x``
    (n, d) with scores ``s``, ``block`` rows at a time (n a multiple of ``block``); ``real`` (n,) is 1 for a
    data row and 0 for padding."""
    n = x.shape[0]

    def one(i):
        start = i * block
        xb, sb = jax.lax.dynamic_slice_in_dim(x, start, block), jax.lax.dynamic_slice_in_dim(s, start, block)
        rows = start + jnp.arange(block)
        keep = (rows[:, None] != jnp.arange(n)[None, :]) & (real[rows][:, None] > 0) & (real[None, :] > 0)
        u = jnp.where(keep, _stein_block(xb, sb, x, s, c, beta), 0.0)
        wb = jax.lax.dynamic_slice_in_dim(w, start, block, axis=1)  # (B, block)
        return jnp.sum(u), jnp.sum(wb.T * (u @ w.T), axis=0)

    totals, quads = jax.lax.map(one, jnp.arange(n // block))
    return jnp.sum(totals), jnp.sum(quads, axis=0)


def _flat_rows(model, rows: dict) -> np.ndarray:
    n = len(next(iter(rows.values())))
    return np.concatenate([np.asarray(rows[s.name], np.float64).reshape(n, -1) for s in model.vars], axis=1)


def _scores(model, params, rows: dict) -> np.ndarray:
    """−∇F(x) for every row, flattened like the rows (latents summed out by the free energy)."""
    names = [s.name for s in model.vars]
    grad = jax.jit(jax.vmap(jax.grad(lambda v: -model.free_energy(params, v))))
    g = grad({k: jnp.asarray(rows[k], float_dtype()) for k in names})
    n = len(rows[names[0]])
    return np.concatenate([np.asarray(g[k], np.float64).reshape(n, -1) for k in names], axis=1)


def ksd_applies(model) -> bool:
    """Whether :func:`ksd` can test ``model``: every var real-valued on the whole line, and no continuous latent
    (discrete latents are summed out by the free energy)."""
    return bool(model.vars) and all(on_the_real_line(s) for s in model.vars) and \
        all(s.domain.discrete for s in model.latents)


def ksd(model, params, data, *, bootstrap: int = 1000, c: float = 1.0, beta: float = -0.5, key=0) -> KSDResult:
    """The kernel Stein discrepancy of ``model`` at ``params`` against data rows, with a wild-bootstrap p-value.

    Args:
        model: a bound model whose vars are all real-valued on the whole line (``real``); latents are summed
            out (:meth:`~ebmppl.Model.free_energy`).
        params: the model's params (a fit's ``result.params``); ``None`` for a model without params.
        data: the rows: a dict var name -> array (rows first), or a CSV / NPZ path.
        bootstrap: wild-bootstrap replicates B (Rademacher weights).
        c, beta: the IMQ kernel k(x, y) = (c² + |x − y|²)^β; c > 0, −1 < β < 0.
        key: seed (or PRNG key) of the bootstrap weights.

    Returns:
        :class:`KSDResult` (``statistic`` = KSD², ``p_value``, ``n``, ``bootstrap``).

    Example:
        >>> r = ebmppl.ksd(model, result.params, "examples/data/ring.csv")
        >>> r.p_value < 0.05   # the data are unlikely under the model
    """
    from .io import prepare_data
    ensure_compile_cache()
    bootstrap = require(bootstrap, "size", what="bootstrap=")
    c = require(c, "positive", what="c=")
    beta = require(beta, "interval", (-1.0, 0.0), what="beta=")
    rng = prng_key(key)
    if not ksd_applies(model):
        bad = [s for s in model.vars if not on_the_real_line(s)] + [s for s in model.latents if not s.domain.discrete]
        raise EbmError("data", f"the kernel Stein discrepancy needs real-valued vars on the whole line and no "
                               f"continuous latents; {bad[0].role} '{bad[0].name}' is {bad[0].domain.kind}"
                       if bad else "the model has no vars", bad[0].span if bad else None,
                       "declare the vars `real` (transform bounded data to the real line first)")
    check_params(model, params)
    params = params if params is not None else (model.init_params(0) if model.params else {})
    rows = prepare_data(model, data)
    x, s = _flat_rows(model, rows), _scores(model, params, rows)
    n = x.shape[0]
    if n < 2:
        raise EbmError("data", f"the kernel Stein discrepancy needs at least 2 rows; got {n}")
    if not np.isfinite(s).all():
        i = int(np.argwhere(~np.isfinite(s))[0][0])
        raise EbmError("data", f"the model's score is not finite at data row {i}",
                       hint="check that the data lie where the energy is finite and differentiable")
    block = int(max(1, min(n, BLOCK_NUMBERS // max(n, bootstrap))))
    pad = -n % block
    dtype = float_dtype()
    w = jnp.pad(jax.random.rademacher(rng, (bootstrap, n), dtype), ((0, 0), (0, pad)))
    real = jnp.pad(jnp.ones(n, dtype), (0, pad))
    xs = [jnp.asarray(np.pad(a, ((0, pad), (0, 0))), dtype) for a in (x, s)]
    total, quads = stein_kernel_sums(*xs, real, w, jnp.asarray(c, dtype), jnp.asarray(beta, dtype), block)
    stat = float(total) / (n * (n - 1))
    null = np.asarray(quads, np.float64) / (n * (n - 1))
    p = (1.0 + np.sum(null >= stat)) / (1.0 + bootstrap)
    return KSDResult(stat, float(p), int(n), int(bootstrap), float(c), float(beta))
