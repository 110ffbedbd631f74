"""Lowering: a bound :class:`~ebmppl.model.spec.Model` -> pure JAX functions.

Expressions are compiled once into nested closures over ``jax.numpy`` (:mod:`.compiler`, with
:mod:`.calls` and :mod:`.arrays`); under ``jax.jit`` they trace to the same XLA program as
hand-written code. Every closure re-raises a JAX shape or type failure as an
:class:`~ebmppl.errors.EbmShapeError` at the expression's source span, and
:meth:`Lowered.check_shapes` runs the whole model abstractly (``jax.eval_shape``) so that shape
errors appear when a model is loaded.

The modules, one concept each: :mod:`.static` (consts, sizes, domain arguments), :mod:`.shapes`
(shape messages), :mod:`.compiler`, :mod:`.energies` (lets, factors, the model tree),
:mod:`.params` (initial params, casting), :mod:`.transforms` (unconstrained space),
:mod:`.free_energy`, :mod:`.numpyro_model`, and :mod:`.lowered`, the :class:`Lowered` facade.
"""

from .compiler import Compiler, Env
from .free_energy import ENUMERATION_LIMIT, Plan
from .lowered import Lowered, lower
from .numpyro_model import FlatDiscrete

__all__ = ["Compiler", "ENUMERATION_LIMIT", "Env", "FlatDiscrete", "Lowered", "Plan", "lower"]
