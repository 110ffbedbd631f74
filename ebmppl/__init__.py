"""ebmppl: a probabilistic-programming toolkit for energy-based models.

Declare a model in a ``.ebm`` file or with decorators, and get pure JAX
functions: energy, log density, score, free energy, the unconstrained
potential and a NumPyro model.

    >>> import ebmppl
    >>> model = ebmppl.load("examples/ring.ebm")
    >>> params = model.init_params(0)

This file only re-exports public names from their modules, and lazily: ``import ebmppl`` imports
neither JAX, NumPyro, ArviZ nor matplotlib; the first use of a name (``ebmppl.fit``,
``from ebmppl import sample``) imports its module. Importing changes no global setting (the
persistent compile cache is switched on by the first call that compiles, see
:func:`ebmppl.settings.ensure_compile_cache`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> the module that defines it (a module itself where the name is "");
# the imports under TYPE_CHECKING below say the same for type checkers and tools/structure.py
_EXPORTS = {
    **dict.fromkeys(("dbn", "distributed", "dists", "report"), ""),
    **dict.fromkeys(("anomaly_score", "anomaly_threshold", "classify", "denoise"), "applications"),
    "config": "settings",
    **dict.fromkeys(("KSDResult", "ksd"), "goodness"),
    **dict.fromkeys(("Diagnosis", "DiagnosticWarning", "diagnose"), "diagnostics"),
    **dict.fromkeys(("bernoulli", "beta", "binomial", "cauchy", "dirichlet", "exponential", "gamma", "half_cauchy",
                     "half_normal", "laplace", "lognormal", "multi_normal", "multi_normal_cholesky", "normal",
                     "poisson", "student_t", "uniform"), "dists"),
    **dict.fromkeys(("EbmDataError", "EbmError", "EbmSemanticError", "EbmShapeError", "EbmSyntaxError"), "errors"),
    **dict.fromkeys(("KernelOptions", "Layout"), "infer"),
    "sample": "infer.sample",
    "predict": "infer.predictive",
    **dict.fromkeys(("binary", "categorical", "const", "declare", "density", "factor", "integer", "interval",
                     "latent", "let", "mlp", "ordered", "param", "positive", "real", "simplex", "spin", "tilde",
                     "unit", "var"), "model.decorators"),
    "LogZ": "model.normalizer",
    **dict.fromkeys(("load", "parse"), "model.source"),
    "Model": "model.spec",
    **dict.fromkeys(("log_likelihood", "log_ratio", "logz", "mixture", "with_component_logz"), "partition"),
    **dict.fromkeys(("FitResult", "LoopOptions", "fit"), "training"),
    "load_fit": "training.result",
}

if TYPE_CHECKING:  # pragma: no cover - what _EXPORTS resolves, spelled out for type checkers
    from . import dbn, distributed, dists, report
    from .applications import anomaly_score, anomaly_threshold, classify, denoise
    from .diagnostics import Diagnosis, DiagnosticWarning, diagnose
    from .goodness import KSDResult, ksd
    from .dists import (bernoulli, beta, binomial, cauchy, dirichlet, exponential, gamma, half_cauchy,
                        half_normal, laplace, lognormal, multi_normal, multi_normal_cholesky, normal, poisson,
                        student_t, uniform)
    from .errors import EbmDataError, EbmError, EbmSemanticError, EbmShapeError, EbmSyntaxError
    from .infer import KernelOptions, Layout
    from .infer.predictive import predict
    from .infer.sample import sample
    from .model.decorators import (binary, categorical, const, declare, density, factor, integer, interval,
                                   latent, let, mlp, ordered, param, positive, real, simplex, spin, tilde, unit,
                                   var)
    from .model.normalizer import LogZ
    from .model.source import load, parse
    from .model.spec import Model
    from .partition import log_likelihood, log_ratio, logz, mixture, with_component_logz
    from .settings import config
    from .training import FitResult, LoopOptions, fit
    from .training.result import load_fit


def __getattr__(name: str):
    """Import a public name's module the first time the name is used (PEP 562)."""
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'ebmppl' has no attribute '{name}'")
    value = importlib.import_module(f"{__name__}.{where or name}")
    if where:
        value = getattr(value, name)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    # models
    "Model", "parse", "load", "mixture", "factor", "density", "let", "tilde", "declare",
    "var", "latent", "param", "const", "real", "positive", "unit", "interval", "ordered", "simplex", "binary",
    "spin", "categorical", "integer", "mlp",
    # distributions for `~` factors
    "dists", "cauchy", "normal", "half_normal", "half_cauchy", "student_t", "laplace", "exponential", "gamma",
    "beta", "lognormal", "uniform", "multi_normal", "multi_normal_cholesky", "dirichlet", "bernoulli", "binomial",
    "poisson",
    # fitting, sampling, diagnosing
    "fit", "FitResult", "load_fit", "LoopOptions", "sample", "predict", "distributed", "Layout", "KernelOptions", "diagnose", "Diagnosis", "DiagnosticWarning", "report",
    # partition functions and what uses them
    "logz", "LogZ", "log_likelihood", "log_ratio", "with_component_logz", "anomaly_score", "anomaly_threshold",
    "denoise", "classify", "dbn", "ksd", "KSDResult",
    # settings and errors
    "config", "EbmError", "EbmSyntaxError", "EbmSemanticError", "EbmShapeError", "EbmDataError",
]
