"""Fitting: one call, many methods (score matching, NCE, CD/PCD, flow-contrastive, variational).

``ebmppl.fit`` is the function :func:`ebmppl.fit.api.fit` (it shadows this package's name at the top
level); import the package's pieces with ``from ebmppl.fit.api import choose_method`` and the like.
The function also carries ``METHODS``, ``FitResult`` and ``api`` as attributes for convenience.
"""

from . import api
from .api import METHODS, fit
from .loop import FitResult

fit.METHODS = METHODS
fit.FitResult = FitResult
fit.api = api

__all__ = ["fit", "FitResult", "METHODS"]
