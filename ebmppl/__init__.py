"""ebmppl: a probabilistic-programming toolkit for energy-based models.

Declare a model in a ``.ebm`` file or with decorators, and get pure JAX
functions: energy, log density, score, free energy, the unconstrained
potential and a NumPyro model.

    >>> import ebmppl
    >>> model = ebmppl.load("examples/ring.ebm")
    >>> params = model.init_params(0)
"""

from __future__ import annotations

from pathlib import Path

from . import dists
from .config import config, init_compile_cache
from .errors import EbmDataError, EbmError, EbmSemanticError, EbmShapeError, EbmSyntaxError
from .model.compose import mixture
from .model.decorators import (binary, categorical, const, declare, density, factor, integer, interval, latent,
                               let, mlp, ordered, param, positive, real, simplex, spin, tilde, unit, var)
from .training import FitResult, fit
from .infer.sample import sample
from .diagnostics import Diagnosis, DiagnosticWarning, diagnose
from .partition import (LogZ, anomaly_score, anomaly_threshold, classify, denoise, log_likelihood, log_ratio,
                        logz)
from . import report  # ebmppl.report.fit_report, mmd_test: training reports
from . import dbn
from .model.spec import Model


cauchy = dists.cauchy
normal = dists.normal
half_normal = dists.half_normal
half_cauchy = dists.half_cauchy
student_t = dists.student_t
laplace = dists.laplace
exponential = dists.exponential
gamma = dists.gamma
beta = dists.beta
lognormal = dists.lognormal
uniform = dists.uniform
multi_normal = dists.multi_normal
multi_normal_cholesky = dists.multi_normal_cholesky
dirichlet = dists.dirichlet
bernoulli = dists.bernoulli
binomial = dists.binomial
poisson = dists.poisson

__version__ = "0.1.0"
_COMPILE_CACHE = init_compile_cache()


def _finish(model: Model, data=None) -> Model:
    from .model.lower import lower
    if data is not None:
        model = model.bind(data)
    if model.is_bound:
        lower(model)  # checks shapes now, at the source
    else:
        lower(model, placeholders=True)
    return model


def parse(text: str, name: str = "<string>", data=None) -> Model:
    """Parse and check .ebm source text; bind consts from ``data`` (dict or JSON path) if given."""
    from .model.check import check
    from .dsl.parse import parse as _parse
    return _finish(check(_parse(text, name), name=Path(name).stem if name[:1] != "<" else "model"), data)


def load(path, data=None) -> Model:
    """Load, parse and check a .ebm file; bind consts from ``data`` (dict or JSON path) if given."""
    from .model.check import check
    from .dsl.parse import parse_file
    prog = parse_file(path)
    model = check(prog, name=Path(path).stem)
    from dataclasses import replace
    model = replace(model, source=str(path))
    return _finish(model, data)


__all__ = [
    "fit", "FitResult", "sample", "diagnose", "Diagnosis", "DiagnosticWarning", "logz", "LogZ", "log_likelihood",
    "log_ratio", "anomaly_score", "anomaly_threshold", "denoise", "classify", "dbn", "report", "Model", "parse", "load", "config", "mixture", "factor", "density", "let", "tilde", "declare",
    "var", "latent", "param", "const", "real", "positive", "unit", "interval", "ordered", "simplex", "binary",
    "spin", "categorical", "integer", "mlp", "dists", "EbmError", "EbmSyntaxError", "EbmSemanticError",
    "EbmShapeError", "EbmDataError",
]
