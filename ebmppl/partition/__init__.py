"""Partition functions: exact enumeration (with analytic sums over two-state variables the energy is affine
in), quadrature, annealed importance sampling; the likelihoods and mixtures that build on them.

``ebmppl.logz(model, params, method=...)`` picks the cheapest method that applies. Every method first makes
sure the model is proper where it looks (:mod:`.improper`): a density that is NaN or infinite somewhere, or
that does not vanish far away, is an ``error[logz]`` saying the model looks improper, never a number. What
uses a log Z without estimating one (anomaly scores, denoising, classification) is in
:mod:`ebmppl.applications`.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import EbmError, EbmSemanticError
from ..infer.target import Target
from ..infer.values import check_params
from ..model import compose
from ..model.normalizer import LogZ, normalized
from ..model.spec import Mixture, Model, Product, Temper, tree_str
from ..settings import ensure_compile_cache, float_dtype
from . import improper
from .ais import logz_ais
from .exact import EXACT_LIMIT, TooManyStates, logz_exact, plan_exact  # noqa: F401 (EXACT_LIMIT, plan_exact: API)
from .quadrature import logz_quadrature

__all__ = ["logz", "logz_exact", "logz_quadrature", "logz_ais", "log_likelihood", "log_ratio", "mixture",
           "with_component_logz"]
METHODS = ("auto", "exact", "quadrature", "ais")


# ------------------------------------------------------------------------- auto
def logz(model, params=None, method: str = "auto", consts=None, **options) -> LogZ:
    """Estimate log Z of a model at ``params``.

    method: ``exact`` (enumeration with analytic sums; discrete models up to 2^24 states),
    ``quadrature`` (1–2 continuous dimensions), ``ais``, or ``auto`` — the cheapest exact method that
    applies, else AIS (the choice is in the returned ``method`` and ``detail``). ``options`` go to the
    method (with ``auto``, each to the method that takes it); one that no method takes is an error.
    An improper model (a density that is NaN or infinite somewhere, or does not vanish far away) is an
    ``error[logz]`` whichever method runs.
    """
    ensure_compile_cache()
    if not isinstance(method, str) or method not in METHODS:
        raise EbmError("logz", f"unknown method '{method}'", hint="choose auto, exact, quadrature or ais")
    if method != "auto":
        _known_options(method, options)
        return ESTIMATORS[method](model, params, consts, **options)
    _known_options(method, options)
    random = model.random
    if random and all(s.domain.discrete for s in random):
        try:
            return logz_exact(model, params, consts, **_options_of("exact", options))
        except TooManyStates:
            pass
    elif random and all(s.domain.continuous for s in random):
        if Target(model, params, consts).dim in (1, 2):
            return logz_quadrature(model, params, consts, **_options_of("quadrature", options))
    return logz_ais(model, params, consts, **_options_of("ais", options))


ESTIMATORS = {"exact": logz_exact, "quadrature": logz_quadrature, "ais": logz_ais}


def _takes(method: str) -> list:
    """The options of one method (``auto``: of any)."""
    if method == "auto":
        return sorted({o for m in ESTIMATORS for o in _takes(m)})
    return [p for p in inspect.signature(ESTIMATORS[method]).parameters if p not in ("model", "params", "consts")]


def _options_of(method: str, options: dict) -> dict:
    return {k: v for k, v in options.items() if k in _takes(method)}


def _known_options(method: str, options: dict) -> None:
    """Every option is one the method takes (an unknown one is an error[usage], not a TypeError)."""
    unknown = sorted(set(options) - set(_takes(method)))
    if unknown:
        raise EbmError("usage", f"method='{method}' takes no option '{unknown[0]}'",
                       hint=f"its options: {', '.join(_takes(method)) or 'none'}")


# ------------------------------------------------------------------ likelihoods
def log_likelihood(model, params, data: dict, logz=None) -> np.ndarray:
    """Per-row log p(x) = −F(x) − log Z (free energies sum out latents).

    ``logz``: a number or an :class:`~ebmppl.LogZ` (default: exact enumeration). Rows are taken as given (a
    deep belief net scores a layer on the mean-field probabilities of the one below, which are not 0 or 1);
    a row whose free energy is NaN or −inf, or a log Z that is not finite, is an error rather than a NaN in
    the result.
    """
    ensure_compile_cache()
    check_params(model, params)
    if logz is None:
        logz = logz_exact(model, params)
    value = float(logz.value if isinstance(logz, LogZ) else logz)
    if not np.isfinite(value):
        raise EbmError("logz", f"log Z is {value}, so no likelihood is defined", hint="estimate log Z with "
                       "ebmppl.logz(model, params); a model whose log Z is not finite looks improper")
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    free = np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in data.items()}))
    improper.check_rows(free, "free energy")
    return -free - value


def log_ratio(model, params, x: dict, y: dict):
    """log p(x) − log p(y) = F(y) − F(x): needs no partition function (free energies sum out latents)."""
    fx = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in x.items()})
    fy = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in y.items()})
    return fy - fx


# --------------------------------------------------------------------- mixtures
def mixture(weights, components, logz=None, params=None, **logz_options) -> Model:
    """A convex mixture of models: p(x) = sum_k w_k p_k(x), with p_k = exp(-E_k - log Z_k).

    ``logz`` says where each component's log Z comes from:

    - ``None``: every component is a normalized density (all ``~`` factors over the same
      variables), so every log Z is 0 and the mixture is exact;
    - ``"estimate"``: estimate each unnormalized component's log Z with :func:`ebmppl.logz` at
      ``params`` (default: the mixture's initial params); ``logz_options`` (``method="auto"``,
      ``runs=``, ``points=``, ...) go to it. Normalized components keep log Z = 0;
    - one entry per component: a number (supplied), an ``ebmppl.LogZ`` (from :func:`ebmppl.logz`;
      its method and error are recorded) or ``None`` for a normalized component.

    ``model.component_logz`` and ``model.summary()`` say which value each component uses and where it
    came from. A log Z holds at the params it was computed at: after fitting, re-estimate it with
    ``ebmppl.with_component_logz(model, params)``.

    Example:
        >>> a = ebmppl.parse("var x : real\nfactor a = (x + 1)^2 / 2")
        >>> b = ebmppl.parse("var x : real\nfactor b = (x - 2)^2 / 0.5")
        >>> m = ebmppl.mixture([0.4, 0.6], [a, b], logz="estimate")   # quadrature: 1-D
        >>> [round(z.value, 4) for z in m.component_logz]
        [0.9189, 0.2258]
    """
    compose.check_mixture_arguments(weights, components, logz)
    if not isinstance(logz, str):  # numbers, LogZ values or None: the model algebra alone
        if params is not None or logz_options:
            raise EbmSemanticError("params and log Z options are for logz='estimate'")
        return compose.mixture(weights, components, logz)
    # placeholders: with_component_logz sets every component's log Z and where it came from
    unestimated = compose.mixture(weights, components, [0.0] * len(components))
    return with_component_logz(unestimated, params, **logz_options)


def with_component_logz(model: Model, params=None, method: str = "auto", **logz_options) -> Model:
    """The model with every unnormalized mixture component's log Z estimated at ``params``.

    Each component is a sub-model (the same specs, its own composition subtree); its log Z comes from
    :func:`logz` with ``method`` and ``logz_options``; normalized components keep log Z = 0.
    Nested mixtures are resolved innermost first. The values and where they came from are in
    ``model.component_logz`` and ``model.summary()``.

    Example:
        >>> mix2 = ebmppl.with_component_logz(mix, {**mix.init_params(0), "sb": 0.8})
    """
    if not compose.mixture_nodes(model.effective_tree):
        raise EbmError("logz", f"model '{model.name}' has no mixture", hint="build one with ebmppl.mixture(...)")
    params = model.init_params(0) if params is None else params

    def visit(node):
        if isinstance(node, Product):
            return Product(tuple(visit(c) for c in node.children))
        if isinstance(node, Temper):
            return replace(node, child=visit(node.child))
        if not isinstance(node, Mixture):
            return node
        children = tuple(visit(c) for c in node.children)
        sources = tuple(_component_logz(model, c, params, method, logz_options) for c in children)
        return replace(node, children=children, logz=tuple(float(s.value) for s in sources), logz_source=sources)

    return replace(model, tree=visit(model.effective_tree))


def _component_logz(model: Model, node, params, method: str, options: dict) -> LogZ:
    """One component's log Z: 0 for a normalized density, else estimated on the sub-model of its subtree."""
    if compose.normalized_over(model, node) is not None:
        return normalized()
    sub = replace(model, tree=node, name=f"{model.name}[{tree_str(node)}]")
    return logz(sub, params, method=method, **options)
