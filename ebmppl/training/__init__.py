"""Fitting: one call, many methods (score matching, NCE, CD/PCD, flow-contrastive, variational).

The public function is ``ebmppl.fit`` (:func:`ebmppl.training.api.fit`); the package's pieces are
imported by their modules, ``from ebmppl.training.api import choose_method`` and the like.
"""

from .api import METHODS, fit
from .loop import FitResult

__all__ = ["fit", "FitResult", "METHODS"]
