"""The built-in library: distributions (from ``numpyro.distributions``),
functions callable in expressions, and the ``mlp`` neural energy.

The checker reads the metadata here (names, arities, argument domains); the
lowering calls the implementations. Adding a function is one table entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpyro.distributions as dist

from ..dsl import ast as A
from ..errors import did_you_mean
from . import domains


# ------------------------------------------------------------- distributions
@dataclass(frozen=True)
class DistInfo:
    """A distribution usable as `x ~ name(...)` and `name_lpdf(x | ...)`."""

    name: str
    build: Callable  # positional arguments, in the order of `params`
    params: tuple[str, ...]
    param_domains: tuple[str, ...]  # words of the domain table's ARGUMENTS (real, positive, cov, ...)
    support: str  # a word of the domain table's SUPPORTS (real, positive, bounded, count, ...)
    event_dim: int = 0
    bounds: tuple[str, ...] = ()  # two arguments that bound the support: the first must be below the second

    def __post_init__(self):
        domains.support(self.support)  # an unknown word is a mistake in the table below
        for word in self.param_domains:
            domains.argument(word)

    @property
    def discrete(self) -> bool:
        return domains.support(self.support).discrete

    @property
    def support_guaranteed(self) -> bool:
        """True when the checker's domain test alone keeps `x ~ dist` targets in the support,
        so NumPyro's per-call support check (a `where` in every log_prob) can be skipped."""
        return domains.support(self.support).guaranteed

    @property
    def lp_suffix(self) -> str:
        return "lpmf" if self.discrete else "lpdf"

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


def _d(name, build, params, arg_domains, support, event_dim=0, bounds=()):
    return DistInfo(name, build, tuple(params), tuple(arg_domains), support, event_dim, tuple(bounds))


DISTRIBUTIONS: dict[str, DistInfo] = {d.name: d for d in [
    _d("normal", dist.Normal, ["loc", "scale"], ["real", "positive"], "real"),
    _d("half_normal", dist.HalfNormal, ["scale"], ["positive"], "positive"),
    _d("cauchy", dist.Cauchy, ["loc", "scale"], ["real", "positive"], "real"),
    _d("half_cauchy", dist.HalfCauchy, ["scale"], ["positive"], "positive"),
    _d("student_t", dist.StudentT, ["df", "loc", "scale"], ["positive", "real", "positive"], "real"),
    _d("laplace", dist.Laplace, ["loc", "scale"], ["real", "positive"], "real"),
    _d("logistic", dist.Logistic, ["loc", "scale"], ["real", "positive"], "real"),
    _d("exponential", dist.Exponential, ["rate"], ["positive"], "positive"),
    _d("gamma", dist.Gamma, ["concentration", "rate"], ["positive", "positive"], "positive"),
    _d("inv_gamma", dist.InverseGamma, ["concentration", "rate"], ["positive", "positive"], "positive"),
    _d("lognormal", dist.LogNormal, ["loc", "scale"], ["real", "positive"], "positive"),
    _d("beta", dist.Beta, ["concentration1", "concentration0"], ["positive", "positive"], "unit"),
    _d("uniform", dist.Uniform, ["low", "high"], ["real", "real"], "bounded", bounds=("low", "high")),
    _d("multi_normal", lambda loc, cov, **kw: dist.MultivariateNormal(loc, covariance_matrix=cov, **kw),
       ["loc", "cov"], ["real", "cov"], "real", 1),
    _d("multi_normal_cholesky", lambda loc, L, **kw: dist.MultivariateNormal(loc, scale_tril=L, **kw),
       ["loc", "L"], ["real", "chol"], "real", 1),
    _d("dirichlet", dist.Dirichlet, ["concentration"], ["positive"], "simplex", 1),
    _d("bernoulli", lambda p, **kw: dist.Bernoulli(probs=p, **kw), ["probs"], ["unit"], "binary"),
    _d("bernoulli_logit", lambda l, **kw: dist.Bernoulli(logits=l, **kw), ["logits"], ["real"], "binary"),
    _d("binomial", lambda n, p, **kw: dist.Binomial(total_count=n, probs=p, **kw), ["total_count", "probs"],
       ["int", "unit"], "count"),
    _d("poisson", dist.Poisson, ["rate"], ["positive"], "count"),
    _d("poisson_log", lambda lr, **kw: dist.Poisson(jnp.exp(lr), **kw), ["log_rate"], ["real"], "count"),
    _d("categorical", lambda p, **kw: dist.Categorical(probs=p, **kw), ["probs"], ["simplex"], "categorical"),
    _d("categorical_logit", lambda l, **kw: dist.Categorical(logits=l, **kw), ["logits"], ["real"], "categorical"),
]}


def lp_function_name(name: str) -> Optional[tuple[DistInfo, str]]:
    """`normal_lpdf` -> (normal, 'lpdf'); None if not a density function name."""
    for suffix in ("_lpdf", "_lpmf"):
        if name.endswith(suffix) and name[: -len(suffix)] in DISTRIBUTIONS:
            return DISTRIBUTIONS[name[: -len(suffix)]], suffix[1:]
    return None


# Distributions with a cumulative distribution function: `NAME_cdf`, `NAME_ccdf`, `NAME_lcdf`, `NAME_lccdf`
# in expressions and `~ NAME(...) T[lo, hi]` (continuous ones); computed in ebmppl/model/lower/cdfs.py.
WITH_CDF = frozenset({"normal", "half_normal", "cauchy", "half_cauchy", "student_t", "laplace", "logistic",
                      "exponential", "gamma", "inv_gamma", "lognormal", "beta", "uniform", "poisson", "poisson_log"})
CDF_KINDS = ("cdf", "ccdf", "lcdf", "lccdf")


def cdf_function_name(name: str) -> Optional[tuple[DistInfo, str]]:
    """`normal_lccdf` -> (normal, 'lccdf'); None if not a cdf function name."""
    base, _, kind = name.rpartition("_")
    if kind in CDF_KINDS and base in WITH_CDF:
        return DISTRIBUTIONS[base], kind
    return None


def domain_constraint(kind: str, args=()):
    """The NumPyro constraint of a value domain (the domain table's)."""
    return domains.constraint(kind, args)


SPIN, INTEGER = domains.SPIN, domains.INTEGER


# ------------------------------------------------------------------ functions
@dataclass(frozen=True)
class FnInfo:
    """A function callable in expressions.

    ``static``: positional indices / keyword names whose values must be known
    when the model is compiled (axes, sizes); they are evaluated from literals
    and int consts, never traced.
    """

    name: str
    impl: Callable
    min_args: int
    max_args: Optional[int]  # None: any number
    kwargs: tuple[str, ...] = ()
    static: tuple = ()
    doc: str = ""


_SAME = object()


def _f(name, impl, min_args, max_args=_SAME, kwargs=(), static=(), doc=""):
    """max_args: omitted = exactly min_args; None = any number."""
    return FnInfo(name, impl, min_args, min_args if max_args is _SAME else max_args, tuple(kwargs),
                  tuple(static), doc)


def _log_mix(w, a, b=None):
    """Stan's log_mix: log(w e^a + (1-w) e^b), or log sum_k w_k e^{a_k} for vectors."""
    if b is None:
        return jss.logsumexp(jnp.log(w) + a, axis=-1)
    return jnp.logaddexp(jnp.log(w) + a, jnp.log1p(-w) + b)


def _logdet(a):
    return jnp.linalg.slogdet(a)[1]


def _norm(x, axis=None):
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=axis))


def _solve_triangular(a, b, lower=True):
    return jax.scipy.linalg.solve_triangular(a, b, lower=bool(lower))


def _cholesky_solve(L, b):
    return jax.scipy.linalg.cho_solve((L, True), b)


def _diag(x):
    return jnp.diag(x) if jnp.ndim(x) <= 2 else jnp.diagonal(x, axis1=-2, axis2=-1)


def _transpose(x, *axes):
    if axes:
        return jnp.transpose(x, axes)
    return jnp.swapaxes(x, -1, -2) if jnp.ndim(x) >= 2 else x


def _reshape(x, *shape):
    return jnp.reshape(x, shape)


def _one_hot(i, k):
    return jax.nn.one_hot(i, k)


def _float(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _int(x):
    return jnp.asarray(x).astype(jnp.int32)


def _size(shape):
    return tuple(int(s) for s in shape)


_UNARY = {
    "exp": jnp.exp, "log": jnp.log, "log1p": jnp.log1p, "expm1": jnp.expm1, "log2": jnp.log2,
    "log10": jnp.log10, "sqrt": jnp.sqrt, "abs": jnp.abs, "square": jnp.square, "sign": jnp.sign,
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh,
    "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan, "floor": jnp.floor, "ceil": jnp.ceil,
    "round": jnp.round, "sigmoid": jax.nn.sigmoid, "inv_logit": jax.nn.sigmoid, "logit": jss.logit,
    "softplus": jax.nn.softplus, "log_sigmoid": jax.nn.log_sigmoid, "log_inv_logit": jax.nn.log_sigmoid,
    "relu": jax.nn.relu, "swish": jax.nn.swish, "silu": jax.nn.silu, "gelu": jax.nn.gelu, "elu": jax.nn.elu,
    "erf": jss.erf, "erfc": jss.erfc, "lgamma": jss.gammaln, "digamma": jss.digamma,
    "log1m": lambda x: jnp.log1p(-x), "log1m_exp": lambda x: jnp.log(-jnp.expm1(x)),
    "inv": jnp.reciprocal, "float": _float, "int": _int, "flatten": jnp.ravel, "isfinite": jnp.isfinite,
}

_REDUCE = {
    "sum": jnp.sum, "mean": jnp.mean, "prod": jnp.prod, "max": jnp.max, "min": jnp.min,
    "logsumexp": jss.logsumexp, "norm": _norm, "any": jnp.any,
    "all": jnp.all, "argmax": jnp.argmax, "argmin": jnp.argmin,
}

FUNCTIONS: dict[str, FnInfo] = {}
for _n, _impl in _UNARY.items():
    FUNCTIONS[_n] = _f(_n, _impl, 1, doc="elementwise")
for _n, _impl in _REDUCE.items():
    FUNCTIONS[_n] = _f(_n, _impl, 1, 2, kwargs=("axis",), static=(1, "axis"), doc="reduction")
# std and var divide by N, like NumPy's, unless given ddof: std(x, ddof=1) is Stan's sd, var(x, ddof=1) its variance
for _n, _impl in (("std", jnp.std), ("var", jnp.var)):
    FUNCTIONS[_n] = _f(_n, _impl, 1, 2, kwargs=("axis", "ddof"), static=(1, "axis", "ddof"), doc="reduction")
for _fi in [
    _f("pow", jnp.power, 2), _f("maximum", jnp.maximum, 2), _f("minimum", jnp.minimum, 2),
    _f("logaddexp", jnp.logaddexp, 2), _f("atan2", jnp.arctan2, 2), _f("hypot", jnp.hypot, 2),
    _f("where", jnp.where, 3), _f("clip", jnp.clip, 3),
    _f("log_mix", _log_mix, 2, 3, doc="Stan's log_mix"),
    _f("softmax", lambda x, axis=-1: jax.nn.softmax(x, axis=axis), 1, 2, ("axis",), (1, "axis")),
    _f("log_softmax", lambda x, axis=-1: jax.nn.log_softmax(x, axis=axis), 1, 2, ("axis",), (1, "axis")),
    _f("cumsum", lambda x, axis=0: jnp.cumsum(x, axis=axis), 1, 2, ("axis",), (1, "axis")),
    _f("roll", lambda x, shift, axis=None: jnp.roll(x, shift, axis=axis), 2, 3, ("axis",), (2, "axis")),
    _f("dot", jnp.dot, 2), _f("outer", jnp.outer, 2), _f("matmul", jnp.matmul, 2),
    _f("cholesky", jnp.linalg.cholesky, 1), _f("solve", jnp.linalg.solve, 2),
    _f("solve_triangular", _solve_triangular, 2, 3, ("lower",), (2, "lower")),
    _f("cholesky_solve", _cholesky_solve, 2),
    _f("inverse", jnp.linalg.inv, 1), _f("det", jnp.linalg.det, 1), _f("logdet", _logdet, 1),
    _f("diag", _diag, 1), _f("trace", jnp.trace, 1),
    _f("transpose", _transpose, 1, None, static=tuple(range(1, 9))),
    _f("reshape", _reshape, 2, None, static=tuple(range(1, 9))),
    _f("eye", lambda n: jnp.eye(n), 1, static=(0,)),
    _f("zeros", lambda *s: jnp.zeros(_size(s)), 0, None, static=tuple(range(0, 9))),
    _f("ones", lambda *s: jnp.ones(_size(s)), 0, None, static=tuple(range(0, 9))),
    _f("arange", lambda *a: jnp.arange(*a), 1, 3, static=(0, 1, 2)),
    _f("linspace", lambda a, b, n: jnp.linspace(a, b, n), 3, static=(0, 1, 2)),
    _f("concat", lambda *xs, axis=0: jnp.concatenate(xs, axis=axis), 1, None, ("axis",), ("axis",)),
    _f("stack", lambda *xs, axis=0: jnp.stack(xs, axis=axis), 1, None, ("axis",), ("axis",)),
    _f("one_hot", _one_hot, 2, static=(1,)),
    _f("sort", jnp.sort, 1),
]:
    FUNCTIONS[_fi.name] = _fi

CONSTANTS = {"pi": jnp.pi, "e": jnp.e, "inf": jnp.inf}

# Functions of other languages (Stan, R) that ebmppl names differently or computes differently: the hint for a
# call of one says what to write instead (a near name would be a trap: std divides by N, Stan's sd by N - 1).
PORTED = {
    "sd": "std(x) divides by N, like NumPy's; Stan's and R's sd divide by N - 1: write std(x, ddof=1)",
    "variance": "var(x) divides by N, like NumPy's; Stan's variance divides by N - 1: write var(x, ddof=1)",
}


def unknown_function_hint(name: str, candidates) -> str:
    """The hint for a call of a function the library does not have: what to write for a function of another
    language (:data:`PORTED`), else the nearest name, else where the functions are listed."""
    return PORTED.get(name) or did_you_mean(name, candidates) or "see docs/dsl.md for the functions"


def is_builtin(name: str) -> bool:
    """True for a function the language provides (not a name the model declares)."""
    return name in FUNCTIONS or lp_function_name(name) is not None or cdf_function_name(name) is not None


def names_in(expr, bound: frozenset = frozenset()) -> set[str]:
    """Free names an expression reads (not loop variables, not built-in functions)."""
    return A.free_names(expr, is_builtin, bound)


# ------------------------------------------------------------------------ mlp
ACTIVATIONS = {
    "swish": jax.nn.swish, "silu": jax.nn.silu, "relu": jax.nn.relu, "tanh": jnp.tanh,
    "softplus": jax.nn.softplus, "elu": jax.nn.elu, "gelu": jax.nn.gelu, "sigmoid": jax.nn.sigmoid,
    "leaky_relu": jax.nn.leaky_relu, "identity": lambda x: x,
}


def mlp_init(key, n_in: int, hidden: tuple, n_out: int, dtype=None) -> dict:
    """LeCun-normal weights, zero biases: {'W0', 'b0', 'W1', 'b1', ...}."""
    sizes = (n_in, *hidden, n_out)
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{i}"] = jax.random.normal(keys[i], (a, b), dtype=dtype) / jnp.sqrt(a)
        params[f"b{i}"] = jnp.zeros((b,), dtype=dtype)
    return params


def mlp_apply(params: dict, x, act: str, n_layers: int):
    """Apply an MLP to x (trailing axis = features); no activation after the last layer."""
    f = ACTIVATIONS[act]
    h = x
    for i in range(n_layers):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < n_layers - 1:
            h = f(h)
    return h


class MLP:
    """A bound MLP: `f(x)` in an expression calls this."""

    def __init__(self, params: dict, act: str, n_layers: int):
        self.params, self.act, self.n_layers = params, act, n_layers

    def __call__(self, x):
        return mlp_apply(self.params, x, self.act, self.n_layers)
