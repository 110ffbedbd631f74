"""Distribution factors for the Python front end: ``dists.normal("x", 0, 1)`` is ``x ~ normal(0, 1)``.

Strings name variables, numbers and arrays are literals. The common ones are
also at the top level (``ebmppl.normal``).
"""

from .model.decorators import DIST_SHORTCUTS as _S

globals().update(_S)
__all__ = sorted(_S)
