"""The continuous variables on the real line: each domain's bijector (``biject_to`` of the domain
table's constraint), the maps to and from unconstrained space and the potential with its Jacobian.

A var whose bounds read other vars (``interval(0, 1 - alpha)``, :mod:`.bounds`) has its bijector built from
their values, so the vars are transformed in declaration order: the Jacobian of the whole map is triangular,
and its log-determinant the sum of each var's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to

from ...errors import EbmError
from ...settings import float_dtype
from .. import domains
from ..spec import Spec
from . import bounds

if TYPE_CHECKING:
    from .lowered import Lowered


def constraint(low: "Lowered", s: Spec, values=None, consts=None):
    """The NumPyro constraint of ``s``'s domain with its bound arguments; for bounds that read other vars, at
    their ``values`` (the constrained values drawn so far)."""
    if bounds.varies(low, s):
        if values is None:  # NumPyro's model form (NUTS, HMC, Predictive) asks before any value is drawn
            raise EbmError("value", f"the bounds of '{s.name}' ({s.type_str()}) depend on other variables' values, "
                                    f"which the model's NumPyro form (NUTS, HMC) does not compute", s.span,
                           "sample it with one of ebmppl's kernels: the sampler mala or rwmh")
        return bounds.constraint(low, s, values, consts)
    return domains.constraint(s.domain.kind, low.domain_args[s.name])


def transforms(low: "Lowered") -> dict:
    """name -> bijector from the reals onto the domain, for every continuous var and latent whose bounds are known
    before sampling (the others' bijectors are built from the values they read, in the functions below)."""
    return {s.name: biject_to(constraint(low, s)) for s in low.continuous if not bounds.varies(low, s)}


def to_unconstrained(low: "Lowered", values, consts=None) -> dict:
    out = {}
    for s in low.continuous:
        x = jnp.asarray(values[s.name], dtype=float_dtype())
        if bounds.varies(low, s):
            bounds.check_inside(low, s, x, values)
        out[s.name] = biject_to(constraint(low, s, values, consts)).inv(x)
    return out


def to_constrained(low: "Lowered", unconstrained, consts=None) -> dict:
    out = {}
    for s in low.continuous:
        out[s.name] = biject_to(constraint(low, s, out, consts))(unconstrained[s.name])
    return out


def potential(low: "Lowered", params, unconstrained, consts=None, fixed=None):
    """The energy in unconstrained coordinates: E(T(u)) − log|det ∂T/∂u|, the discrete values ``fixed``."""
    total_ladj = 0.0
    values = dict(fixed or {})
    for s in low.continuous:
        u = unconstrained[s.name]
        t = biject_to(constraint(low, s, values, consts))
        x = t(u)
        total_ladj = total_ladj + jnp.sum(t.log_abs_det_jacobian(u, x))
        values[s.name] = x
    return low.energy(params, values, consts) - total_ladj
