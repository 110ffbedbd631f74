"""The two-sample test of a training report: the maximum mean discrepancy with a Gaussian kernel and its
permutation p-value (:func:`mmd_test`)."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..settings import ensure_compile_cache
from ..errors import EbmError
from ..infer.options import prng_key
from .keywords import admit


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
    ensure_compile_cache()
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    y = y.reshape(len(y), -1) if y.ndim != 2 else y
    if x.shape[1] != y.shape[1]:
        raise EbmError("report", f"mmd_test: the samples have {x.shape[1]} and {y.shape[1]} columns")
    if len(x) < 2 or len(y) < 2:
        raise EbmError("report", "mmd_test needs at least two points in each sample")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise EbmError("report", "mmd_test: the samples are not all finite")
    n = admit(permutations=permutations, bandwidth=bandwidth)
    permutations, bandwidth = n["permutations"], n["bandwidth"]
    rng = prng_key(key, "key=")
    z = jnp.asarray(np.concatenate([x, y]), dtype=jnp.result_type(float))
    stat, p, h = _mmd_permutations(z, len(x), rng, int(permutations),
                                   jnp.asarray(0.0 if bandwidth is None else bandwidth, z.dtype))
    return MMDTest(float(stat), float(p), float(h), int(permutations))
