"""Cumulative distribution functions of the library's distributions and truncation ``~ dist(...) T[lo, hi]``.

``cdf``/``ccdf``/``lcdf``/``lccdf`` (:func:`cdf_function`) come from the NumPyro distribution's own ``cdf``, with the
log forms computed stably where a tail would round to 0 or 1: through ``log_ndtr`` for the normal and lognormal,
by symmetry about ``loc`` for the symmetric distributions, from the regularized incomplete gamma function for
the gamma and the Poisson, exactly for the exponential. A truncated density (:func:`truncate`) is NumPyro's
``TruncatedDistribution`` for the location families it supports (normal, cauchy, student_t, laplace, logistic),
``TruncatedGamma`` for the gamma, and :class:`Truncated` (the base log density minus log(F(hi) − F(lo))) for
the rest.

Example:
    >>> import numpyro.distributions as dist
    >>> round(float(cdf_function("normal", "lccdf")(dist.Normal(0.0, 1.0), 40.0)), 1)
    -804.6
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpyro.distributions as dist
from numpyro.distributions import constraints

_SYMMETRIC = frozenset({"normal", "cauchy", "student_t", "laplace", "logistic"})
# NumPyro's truncated classes, by library name
_NUMPYRO_TRUNCATED = {name: dist.TruncatedDistribution for name in _SYMMETRIC}


def _log_cdf(name: str, d, x):
    """log P(X <= x), stably in the lower tail."""
    if name == "normal":
        return jss.log_ndtr((x - d.loc) / d.scale)
    if name == "lognormal":
        z = (jnp.log(jnp.maximum(x, 0.0)) - d.base_dist.loc) / d.base_dist.scale
        return jss.log_ndtr(z)
    if name == "exponential":
        return jnp.log(-jnp.expm1(-d.rate * jnp.maximum(x, 0.0)))
    if name == "half_normal":
        return jnp.log(jss.erf(jnp.maximum(x, 0.0) / (d.scale * math.sqrt(2.0))))
    return jnp.log(d.cdf(x))


def _log_ccdf(name: str, d, x):
    """log P(X > x), stably in the upper tail."""
    if name == "normal":
        return jss.log_ndtr(-(x - d.loc) / d.scale)
    if name in _SYMMETRIC:  # P(X > x) = P(X < 2 loc - x): a small probability keeps its digits
        return jnp.log(d.cdf(2 * d.loc - x))
    if name == "lognormal":
        z = (jnp.log(jnp.maximum(x, 0.0)) - d.base_dist.loc) / d.base_dist.scale
        return jss.log_ndtr(-z)
    if name == "exponential":
        return -d.rate * jnp.maximum(x, 0.0)
    if name == "half_normal":
        return math.log(2.0) + jss.log_ndtr(-jnp.maximum(x, 0.0) / d.scale)
    if name == "gamma":
        return jnp.log(jss.gammaincc(d.concentration, d.rate * jnp.maximum(x, 0.0)))
    if name in ("poisson", "poisson_log"):  # P(Y > k) = P(k + 1, rate), the regularized lower gamma
        k = jnp.floor(x)
        return jnp.where(k < 0, 0.0, jnp.log(jss.gammainc(jnp.maximum(k, 0.0) + 1, d.rate)))
    return jnp.log1p(-d.cdf(x))


def cdf_function(name: str, kind: str) -> Callable:
    """``(distribution, x) -> value`` of ``NAME_cdf``, ``_ccdf``, ``_lcdf`` or ``_lccdf`` for library name ``name``."""
    if kind == "cdf":
        return lambda d, x: d.cdf(x)
    if kind == "lcdf":
        return lambda d, x: _log_cdf(name, d, x)
    if kind == "lccdf":
        return lambda d, x: _log_ccdf(name, d, x)
    if kind == "ccdf":
        return lambda d, x: jnp.exp(_log_ccdf(name, d, x))
    raise ValueError(f"not a cdf kind: {kind}")


def log_mass(name: str, d, lo, hi):
    """log(F(hi) − F(lo)): the log probability of [lo, hi] (a bound None is the support's end), computed from
    the tail in which the interval lies."""
    if lo is None:
        return _log_cdf(name, d, hi)
    if hi is None:
        return _log_ccdf(name, d, lo)
    lower = _log_cdf(name, d, hi) + jnp.log1p(-jnp.exp(_log_cdf(name, d, lo) - _log_cdf(name, d, hi)))
    upper = _log_ccdf(name, d, lo) + jnp.log1p(-jnp.exp(_log_ccdf(name, d, hi) - _log_ccdf(name, d, lo)))
    return jnp.where(d.cdf(lo) > 0.5, upper, lower)


def truncate(name: str, d, lo, hi, support_lo: float, support_hi: float):
    """``d`` restricted to [lo, hi] (NumPyro's truncated class where there is one); ``support_lo``/``support_hi``:
    the ends of the base support."""
    if name in _NUMPYRO_TRUNCATED:
        return _NUMPYRO_TRUNCATED[name](d, low=lo, high=hi, validate_args=False)
    if name == "gamma":
        return dist.TruncatedGamma(d.concentration, d.rate, low=lo, high=hi, validate_args=False)
    return Truncated(name, d, lo, hi, support_lo, support_hi)


class Truncated(dist.Distribution):
    """A univariate distribution restricted to [low, high]: log p(x) − log(F(high) − F(low)) inside, −∞ outside.

    Draws come from the base distribution's ``icdf`` where NumPyro has one (half_normal, half_cauchy, exponential,
    lognormal, uniform); for the others ``sample`` raises NotImplementedError.
    """

    pytree_data_fields = ("base_dist", "low", "high", "_log_mass")
    pytree_aux_fields = ("name", "_bounded")

    def __init__(self, name: str, base_dist, low, high, support_lo: float = -math.inf,
                 support_hi: float = math.inf, validate_args=None):
        self.name, self.base_dist = name, base_dist
        self._bounded = (low is not None, high is not None)
        self._log_mass = log_mass(name, base_dist, low, high)
        self.low = jnp.asarray(support_lo if low is None else low, dtype=jnp.result_type(float))
        self.high = jnp.asarray(support_hi if high is None else high, dtype=jnp.result_type(float))
        shape = jax.lax.broadcast_shapes(base_dist.batch_shape, jnp.shape(self.low), jnp.shape(self.high))
        super().__init__(batch_shape=shape, event_shape=(), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def log_prob(self, value):
        inside = (value >= self.low) & (value <= self.high)
        return jnp.where(inside, self.base_dist.log_prob(value) - self._log_mass, -jnp.inf)

    def cdf(self, value):
        lo = jnp.where(self._bounded[0], self.base_dist.cdf(self.low), 0.0)
        inner = (self.base_dist.cdf(jnp.clip(value, self.low, self.high)) - lo) / jnp.exp(self._log_mass)
        return jnp.clip(inner, 0.0, 1.0)

    def sample(self, key, sample_shape=()):
        try:
            self.base_dist.icdf(jnp.asarray(0.5))
        except (NotImplementedError, ImportError):
            raise NotImplementedError(f"a truncated {self.name} cannot be drawn from: NumPyro's "
                                      f"{type(self.base_dist).__name__} has no icdf") from None
        lo = jnp.where(self._bounded[0], self.base_dist.cdf(self.low), 0.0)
        hi = jnp.where(self._bounded[1], self.base_dist.cdf(self.high), 1.0)
        u = jax.random.uniform(key, sample_shape + self.batch_shape)
        return jnp.clip(self.base_dist.icdf(lo + u * (hi - lo)), self.low, self.high)

