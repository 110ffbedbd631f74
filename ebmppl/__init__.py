"""ebmppl: a probabilistic-programming toolkit for energy-based models.

Declare a model in a ``.ebm`` file or with decorators, and get pure JAX
functions: energy, log density, score, free energy, the unconstrained
potential and a NumPyro model.

    >>> import ebmppl
    >>> model = ebmppl.load("examples/ring.ebm")
    >>> params = model.init_params(0)

This file only re-exports public names from their modules; importing it changes no global setting
(the persistent compile cache is switched on by the first call that compiles, see
:func:`ebmppl.settings.ensure_compile_cache`).
"""

from __future__ import annotations

from . import dbn, dists, report
from .applications import anomaly_score, anomaly_threshold, classify, denoise
from .settings import config
from .diagnostics import Diagnosis, DiagnosticWarning, diagnose
from .dists import (bernoulli, beta, binomial, cauchy, dirichlet, exponential, gamma, half_cauchy, half_normal,
                    laplace, lognormal, multi_normal, multi_normal_cholesky, normal, poisson, student_t, uniform)
from .errors import EbmDataError, EbmError, EbmSemanticError, EbmShapeError, EbmSyntaxError
from .infer import KernelOptions, Layout
from .infer.sample import sample
from .model.decorators import (binary, categorical, const, declare, density, factor, integer, interval, latent,
                               let, mlp, ordered, param, positive, real, simplex, spin, tilde, unit, var)
from .model.normalizer import LogZ
from .model.source import load, parse
from .model.spec import Model
from .partition import log_likelihood, log_ratio, logz, mixture, with_component_logz
from .training import FitResult, LoopOptions, fit

__version__ = "0.1.0"

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
    "fit", "FitResult", "LoopOptions", "sample", "Layout", "KernelOptions", "diagnose", "Diagnosis", "DiagnosticWarning", "report",
    # partition functions and what uses them
    "logz", "LogZ", "log_likelihood", "log_ratio", "with_component_logz", "anomaly_score", "anomaly_threshold",
    "denoise", "classify", "dbn",
    # settings and errors
    "config", "EbmError", "EbmSyntaxError", "EbmSemanticError", "EbmShapeError", "EbmDataError",
]
