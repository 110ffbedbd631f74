"""The continuous variables on the real line: each domain's bijector (``biject_to`` of the domain
table's constraint), the maps to and from unconstrained space and the potential with its Jacobian."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to

from ...settings import float_dtype
from .. import domains
from ..spec import Spec

if TYPE_CHECKING:
    from .lowered import Lowered


def constraint(low: "Lowered", s: Spec):
    """The NumPyro constraint of ``s``'s domain with its bound arguments."""
    return domains.constraint(s.domain.kind, low.domain_args[s.name])


def transforms(low: "Lowered") -> dict:
    """name -> bijector from the reals onto the domain, for every continuous var and latent."""
    return {s.name: biject_to(constraint(low, s)) for s in low.continuous}


def to_unconstrained(low: "Lowered", values) -> dict:
    return {k: t.inv(jnp.asarray(values[k], dtype=float_dtype())) for k, t in transforms(low).items()}


def to_constrained(low: "Lowered", unconstrained) -> dict:
    return {k: t(unconstrained[k]) for k, t in transforms(low).items()}


def potential(low: "Lowered", params, unconstrained, consts=None, fixed=None):
    """The energy in unconstrained coordinates: E(T(u)) − log|det ∂T/∂u|, the discrete values ``fixed``."""
    total_ladj = 0.0
    values = dict(fixed or {})
    for name, t in transforms(low).items():
        u = unconstrained[name]
        x = t(u)
        ladj = t.log_abs_det_jacobian(u, x)
        total_ladj = total_ladj + jnp.sum(ladj)
        values[name] = x
    return low.energy(params, values, consts) - total_ladj
