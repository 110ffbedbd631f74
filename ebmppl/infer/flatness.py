"""Elements of continuous variables that never enter the energy: the density is flat along them, so the model is
improper there and a sampler wanders off along them (R-hat far above 1, with no other reason given).

``ebmppl check`` lints a bound model with :func:`flat_elements`: the gradient of the energy with respect to every
unconstrained coordinate, at a few random points (uniform(-2, 2) on the unconstrained space, discrete variables
at their example values) and with the real-valued params perturbed as for the Gibbs interaction graph, so that a
param initialized to 0 does not hide an element. A coordinate whose gradient is exactly 0 at every point does
not enter the energy (or enters only through steps, such as a comparison).
"""

from __future__ import annotations

import jax
import numpy as np

from ..settings import float_dtype
from .gibbs import perturbed_params
from .target import Target

POINTS = 3


def flat_elements(model, params=None, points: int = POINTS, key: int = 0) -> dict:
    """{variable name: the labels of its elements the energy does not change with} for a bound model, variables
    of unbounded domains only (flat over a bounded one is a proper uniform): ``x[1]``, or ``x (unconstrained
    coordinate i)`` for a variable whose transform mixes elements (e.g. ``ordered``)."""
    target = Target(model, params)
    if not target.dim:
        return {}
    labels = _labels(target)
    d = target.d_example

    def energy(z, p):
        return target.low.energy(p, {**target.constrain(z), **d}, target.consts)
    grad = jax.jit(jax.grad(energy))
    rng = np.random.default_rng(key)
    moved = np.zeros(target.dim, bool)
    for k in range(points):
        z = rng.uniform(-2.0, 2.0, target.dim).astype(float_dtype())
        g = np.asarray(grad(z, perturbed_params(target, rng) if k else target.params))
        moved |= g != 0  # NaN counts as moving: only an exact 0 is flat
    out: dict = {}
    unbounded = {s.name for s in target.cont if _unbounded(target, s)}
    for i in np.flatnonzero(~moved):
        name, label = labels[i]
        if name in unbounded:
            out.setdefault(name, []).append(label)
    return out


def _unbounded(target, spec) -> bool:
    """The variable's domain reaches infinity (real, positive, ordered ...): flat along it is improper; flat over
    a bounded domain (unit, interval, simplex) is a proper uniform."""
    try:
        e = spec.domain.row.extent(tuple(target.low.domain_args[spec.name]))
    except Exception:  # bounds that depend on other variables: bounded by them, so not flagged
        return False
    return not (np.isfinite(e.lo) and np.isfinite(e.hi))


def _labels(target) -> list:
    """(variable name, label) of each coordinate of the flat unconstrained vector, in ravel order."""
    u = target.unravel(target.z_example)
    out = []
    for name in sorted(u):  # ravel_pytree flattens a dict in sorted key order
        shape = np.shape(u[name])
        elementwise = tuple(shape) == tuple(target.low.shapes[name])
        for j, idx in enumerate(np.ndindex(*shape) if shape else [()]):
            if not idx:
                out.append((name, name))
            elif elementwise:
                out.append((name, f"{name}[{', '.join(map(str, idx))}]"))
            else:
                out.append((name, f"{name} (unconstrained coordinate {j})"))
    return out


def flat_warnings(model, params=None) -> list[str]:
    """The lint's warnings: one per variable with elements the energy does not change with (a variable in no
    factor at all is already named by the checker's own warning)."""
    out = []
    flat = flat_elements(model, params)
    specs = {s.name: s for s in model.random}
    for name, labels in flat.items():
        s = specs[name]
        if any(f"'{name}'" in w and "appears in no factor" in w for w in model.warnings):
            continue
        n = int(np.prod(model.lowered.shapes[name], dtype=np.int64))
        which = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        out.append(f"{s.role} '{name}' (line {s.span.line}): {which} ({len(labels)} of {n} element(s)) never "
                   f"change(s) the energy: the density is flat along them, so the model is improper there and "
                   f"sampling drifts; add a factor that confines them (e.g. `{name} ~ normal(0, 10)`), or drop "
                   f"the elements the energy does not use")
    return out
