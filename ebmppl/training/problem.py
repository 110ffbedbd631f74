"""What a training objective sees: per-example (free) energies of the observed
variables, the params in an unconstrained form for the optimizer, and flat
views of real-valued data for score matching."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from ..errors import EbmError
from ..model import domains


def on_real_line(model, spec) -> bool:
    """Is the var ``spec``'s domain the whole real line (its constraint the table's ``real``), so its values
    need no transform?"""
    row = spec.domain.row
    return row.continuous and domains.constraint(spec.domain.kind, model.lowered.domain_args[spec.name]) \
        is constraints.real


class Problem:
    """A bound model seen by the fitting routines.

    ``energy(params, x)`` is the free energy of one example ``x`` (a dict of the
    model's vars; latents are summed out), so every objective trains the
    marginal model of the observed variables.
    """

    def __init__(self, model):
        self.model = model
        self.low = model.lowered
        self.vars = tuple(s.name for s in model.vars)
        self.specs = {s.name: s for s in model.vars}
        if not self.vars:
            raise EbmError("fit", "the model has no vars to fit to data")
        if model.latents:
            method, why = self.low.free_energy_plan()
            if method == "error":
                raise EbmError("fit", f"cannot fit: {why}", model.latents[0].span)
        self.shapes = {n: self.low.shapes[n] for n in self.vars}
        self.sizes = {n: int(np.prod(self.shapes[n], dtype=np.int64)) for n in self.vars}
        self.dim = sum(self.sizes.values())

    # ---- energies
    def energy(self, params, x):
        return self.model.free_energy(params, x)

    def energies(self, params, batch):
        return jax.vmap(lambda x: self.energy(params, x))(batch)

    # ---- real-valued data as flat vectors (score matching)
    def require_real(self, method: str):
        bad = [s for s in self.specs.values() if not on_real_line(self.model, s)]
        if bad:
            s = bad[0]
            raise EbmError("fit", f"method '{method}' needs real-valued variables, but '{s.name}' is "
                                  f"{s.type_str()}", s.span,
                           "use pcd or cd for discrete variables; for constrained ones declare them real "
                           "(and transform in the energy)")

    def flatten(self, x) -> jnp.ndarray:
        return jnp.concatenate([jnp.reshape(x[n], (-1,)) for n in self.vars])

    def unflatten(self, v) -> dict:
        out, off = {}, 0
        for n in self.vars:
            out[n] = v[off: off + self.sizes[n]].reshape(self.shapes[n])
            off += self.sizes[n]
        return out

    def flat_energy(self, params, v):
        return self.energy(params, self.unflatten(v))

    # ---- params <-> unconstrained
    def transforms(self) -> dict:
        out = {}
        for s in self.model.params:
            if s.domain.row.network:  # an mlp's weights are optimized as they are
                out[s.name] = None
            else:
                out[s.name] = biject_to(domains.constraint(s.domain.kind, self.low.domain_args[s.name]))
        return out

    def unconstrain(self, params) -> dict:
        return {k: (params[k] if t is None else t.inv(jnp.asarray(params[k]))) for k, t in self.transforms().items()}

    def constrain(self, theta) -> dict:
        return {k: (theta[k] if t is None else t(theta[k])) for k, t in self.transforms().items()}
