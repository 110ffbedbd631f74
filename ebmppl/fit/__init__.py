"""Fitting: one call, many methods (score matching, NCE, CD/PCD, flow-contrastive, variational)."""

from .api import METHODS, fit
from .loop import FitResult

__all__ = ["fit", "FitResult", "METHODS"]
