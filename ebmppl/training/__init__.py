"""Fitting: one call, many methods (score matching, NCE, CD/PCD, flow-contrastive, variational).

The public function is ``ebmppl.fit`` (:func:`ebmppl.training.api.fit`); the package's pieces are
imported by their modules, ``from ebmppl.training.api import choose_method`` and the like:

- ``api``: ``fit``, the methods' dispatch (``build_objective``) and ``choose_method``;
- ``options``: ``LoopOptions``, the loop's knobs as one value (``fit(..., loop=LoopOptions(...))``);
- ``objective``: ``Objective``, what a method is to the loop; ``result``: ``FitResult``;
- ``trainer``: the compiled programs (a step, blocks of steps, the NaN guard's replay);
- ``loop``: ``run``, the host loop (chunks, validation, early stopping, checkpoints, progress);
- ``checkpoint``: atomic checkpoints and exact resume; ``shuffle``: the epochs' minibatch order;
- ``problem``: what an objective sees of a model;
- one module a method family: ``score_matching``, ``nce``, ``cd`` (with ``chains``, the negative
  samplers), ``fce``, ``vi``, ``mle``, ``conditional``.
"""

from .api import METHODS, fit
from .options import LoopOptions
from .result import FitResult

__all__ = ["fit", "FitResult", "LoopOptions", "METHODS"]
