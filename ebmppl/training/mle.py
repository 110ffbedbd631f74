"""Maximum likelihood for a normalized model: the energy is −log p, so the loss is the mean energy."""

from __future__ import annotations

import jax.numpy as jnp

from ..errors import EbmError
from .objective import Objective


def normalized(model) -> bool:
    """Is every factor a normalized density, with no latents and no ``model =`` composition?"""
    return bool(model.factors) and all(f.normalized for f in model.factors) and not model.latents \
        and model.tree is None


def mle_objective(problem) -> Objective:
    """Maximum likelihood for a normalized model: the energy is −log p."""
    if not normalized(problem.model):
        raise EbmError("fit", "mle needs a normalized model (every factor a `~` density, no latents, "
                              "no `model =` composition)", hint="use ssm, nce or pcd for energies")

    def loss(params, batch, key, state):
        return jnp.mean(problem.energies(params, batch)), (state, {})
    return Objective(loss)
