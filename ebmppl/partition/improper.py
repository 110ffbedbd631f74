"""Telling an improper model from a proper one: the checks every log Z estimator makes before it reports a
number, and the ``error[logz]`` it raises instead ("the model looks improper: ...").

A log Z is finite only when the density exp(−E) is a finite number everywhere and vanishes far away in every
direction. The estimators see the model on the unconstrained space of its continuous variables (each domain's
bijector, Jacobian included) and at the states of its discrete ones; this module names what they found, in the
user's terms: the variable element, the end of its domain ("the upper end of 'x[1]'"), the factor whose energy
is not finite, with its source line.

:func:`probe_tails` is the check AIS makes (its runs alone cannot see a density that never vanishes): from a
point, it walks out along every coordinate (and the direction the runs drifted) to distances 8, 16, ...,
65536 and flags a direction in which the density does not fall at least like 1/distance between the two
farthest points that can still be represented.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..errors import EbmError
from ..model import domains

HINT_FINITE = ("make the energy a finite number wherever the variables can go: declare each variable with the "
               "domain on which its factors are defined (e.g. positive for log(x), interval(lo, hi) for a bounded "
               "one), or change the factor")
HINT_TAIL = ("log Z is finite only when the density vanishes far away in every direction: check the energy's sign "
             "and that it grows toward every end of each variable's domain (or give the variable a bounded domain, "
             "interval(lo, hi))")
PROBE_SCALES = 8.0 * 2.0 ** np.arange(14)  # 8 ... 65536, in unconstrained units
SLOW = -np.log(2.0) * 1.05  # a density falling less than this (log) when the distance doubles: not like 1/t


# ------------------------------------------------------------ descriptions
def energy_words(e: float) -> str:
    if np.isnan(e):
        return "nan (not a number)"
    if e == -np.inf:
        return "-inf (an infinite density)"
    return f"{e:g}"


def _value(v) -> str:
    a = np.asarray(v, np.float64)
    whole = bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))
    one = (lambda x: f"{int(x)}") if whole else (lambda x: f"{x:.4g}")  # noqa: E731
    if a.ndim == 0:
        return one(a.item())
    flat = [one(x) for x in a.ravel()]
    text = ", ".join(flat[:8]) + (f", ... ({len(flat)} values)" if len(flat) > 8 else "")
    return f"[{text}]"


def describe(values: dict) -> str:
    """``x = 0.5, s = [-1, 1]``: a point, in the model's own (constrained) values."""
    return ", ".join(f"{k} = {_value(v)}" for k, v in values.items())


def factor_at(model, params, consts, values: dict):
    """(factor, energy) of the first factor whose energy is not finite at ``values``, or None."""
    try:
        energies = model.lowered.factor_energies(params, values, consts)
    except Exception:  # a value the factors cannot take at all: the caller's message says enough
        return None
    for f in model.factors:
        e = float(energies[f.name])
        if not np.isfinite(e):
            return f, e
    return None


def _with_factor(model, params, consts, values: dict) -> tuple[str, object]:
    found = factor_at(model, params, consts, values)
    if found is None:
        return "", None
    f, e = found
    where = f" ({f.span.file}:{f.span.line})" if f.span is not None else ""
    return f"; factor '{f.name}'{where} gives {e:g}", f.span


# ------------------------------------------------------------------ errors
def nonfinite_state(model, params, consts, state: dict, full: dict, energy: float, count: int, total: int,
                    summed=()) -> EbmError:
    """Exact enumeration met a state whose energy (summed over ``summed``) is NaN or −inf."""
    over = f" summed over {', '.join(summed)}" if summed else ""
    factor, span = _with_factor(model, params, consts, full)
    return EbmError("logz", f"the model looks improper: its energy{over} is {energy_words(energy)} at "
                            f"{describe(state)} ({count} of the {total} states enumerated){factor}",
                    span, HINT_FINITE)


def nonfinite_point(target, z, d: dict, count: int, total: int, what: str) -> EbmError:
    """An estimator met a point (unconstrained ``z``, discrete ``d``) where the log density is NaN or +inf."""
    values = {**{k: np.asarray(v) for k, v in target.constrain(jnp.asarray(z)).items()},
              **{k: np.asarray(v) for k, v in d.items()}}
    energy = float(target.low.energy(target.params, values, target.consts))
    factor, span = _with_factor(target.model, target.params, target.consts, values)
    return EbmError("logz", f"the model looks improper: its energy is {energy_words(energy)} at {describe(values)} "
                            f"({count} of the {total} {what} are not finite){factor}", span, HINT_FINITE)


def tail(target, coordinate: int, upper: bool, trend: str, detail: str) -> EbmError:
    """The density does not vanish toward one end of one coordinate."""
    label = coordinate_labels(target)[coordinate]
    spec = target.model.spec(label.split("[")[0])  # a variable's name has no bracket
    return EbmError("logz", f"the model looks improper: its density {trend} toward the {'upper' if upper else 'lower'} "
                            f"end of '{label}' ({detail})", spec.span, HINT_TAIL)


# ------------------------------------------------------------- coordinates
def _coordinates(target) -> dict:
    """name -> the unconstrained array of its coordinates' indices in ``z`` (shaped as the variable's
    unconstrained value)."""
    index = target.unravel(jnp.arange(target.dim, dtype=target.z_example.dtype))
    return {k: np.round(np.asarray(v)).astype(int) for k, v in index.items()}


def coordinate_labels(target) -> list[str]:
    """The name of every coordinate of the unconstrained vector ``z`` (``x``, ``x[1]``, ``w[0, 2]``); a vector
    domain's (simplex, ordered) coordinates are its unconstrained ones."""
    labels = [""] * target.dim
    for name, index in _coordinates(target).items():
        for pos in np.ndindex(*index.shape):
            labels[int(index[pos])] = f"{name}[{', '.join(map(str, pos))}]" if pos else name
    return labels


def coordinate_value(target, z, coordinate: int) -> float:
    """The value of coordinate ``coordinate`` at ``z`` in the variable's own units (for a scalar domain, its
    constrained value; for a vector domain, the unconstrained one)."""
    for name, index in _coordinates(target).items():
        j = np.flatnonzero(np.ravel(index) == coordinate)
        if len(j):
            if target.model.spec(name).domain.row.vector:
                return float(z[coordinate])
            return float(np.ravel(np.asarray(target.constrain(jnp.asarray(z))[name]))[int(j[0])])
    raise IndexError(coordinate)


def representable(target, zs) -> np.ndarray:
    """For each row of ``zs``: its constrained values are finite, inside their domains, and map back to it
    (float32 has not clipped or rounded them onto a bound)."""
    zs = jnp.asarray(zs, target.z_example.dtype)
    values = jax.vmap(target.constrain)(zs)
    back = jax.vmap(lambda v: ravel_pytree(target.low.to_unconstrained(v))[0])(values)
    ok = np.all(np.abs(np.asarray(back) - np.asarray(zs)) <= 0.05 * np.abs(np.asarray(zs)) + 1e-3, axis=1)
    for s in target.cont:
        v = np.asarray(values[s.name])
        inside = domains.contains(s.domain.kind, target.low.domain_args[s.name], v) & np.isfinite(v)
        ok &= inside.reshape(len(zs), -1).all(axis=1)
    return ok


# ------------------------------------------------------------------- tails
def probe_tails(target, z_ref, d_ref: dict, drift=None) -> Optional[EbmError]:
    """The error for the first direction from ``z_ref`` (discrete values ``d_ref``) in which the density does not
    vanish, or None. Directions: every coordinate both ways, and ``drift`` (where the runs went) if given."""
    dim = target.dim
    dirs = [np.eye(dim)[i] for i in range(dim)]
    if drift is not None and dim > 1 and np.all(np.isfinite(drift)) and np.linalg.norm(drift) > 0:
        dirs.append(np.asarray(drift, np.float64) / np.linalg.norm(drift))
    steps = np.array([sign * s * v for v in dirs for sign in (-1.0, 1.0) for s in PROBE_SCALES])
    points = np.asarray(z_ref, np.float64)[None, :] + steps
    lp = np.asarray(jax.jit(lambda zs: jax.lax.map(lambda z: target.logdensity(z, d_ref), zs, batch_size=1024))(
        jnp.asarray(points, target.z_example.dtype)), np.float64)
    ok = representable(target, points) & ~np.isnan(lp)
    lp, ok = lp.reshape(len(dirs), 2, -1), ok.reshape(len(dirs), 2, -1)
    points = points.reshape(len(dirs), 2, len(PROBE_SCALES), dim)
    for k in range(len(dirs)):
        for side in (0, 1):
            found = _ray(lp[k, side], ok[k, side])
            if found is None:
                continue
            trend, near, far = found
            axis = k if k < dim else int(np.argmax(np.abs(dirs[k])))
            upper = bool((dirs[k][axis] > 0) == (side == 1))
            a, b = (coordinate_value(target, points[k, side, j], axis) for j in (near, far))
            along = "along the axis" if k < dim else "along the direction the runs drifted"
            return tail(target, axis, upper, trend, f"at '{_label(target, axis)}' = {b:.3g} it is "
                                                    f"{_times(lp[k, side, far] - lp[k, side, near])} its value at "
                                                    f"{a:.3g}, looking out {along} from where the best AIS run "
                                                    f"ended")
    return None


def _times(log_ratio: float) -> str:
    """``2.5 times``, or ``e^812 times`` beyond what a float holds."""
    if log_ratio == np.inf:
        return "infinitely many times"
    return f"{np.exp(log_ratio):.3g} times" if log_ratio < 50 else f"e^{log_ratio:.4g} times"


def _label(target, axis: int) -> str:
    return coordinate_labels(target)[axis]


def _ray(lp: np.ndarray, ok: np.ndarray):
    """(trend, near, far) when the log density along one ray does not vanish: judged between its two
    farthest points that can be evaluated; None when it falls fast enough (or nothing can be told)."""
    usable = np.flatnonzero(ok)
    if len(usable) < 2:
        return None
    near, far = int(usable[-2]), int(usable[-1])
    if lp[far] == np.inf:
        return "grows without bound", near, far
    if lp[far] == -np.inf:
        return None
    step = lp[far] - lp[near]
    if step > 0.1:
        return "grows", near, far
    if step > -0.1:
        return "stays flat", near, far
    if step > SLOW * (far - near):
        return "decays too slowly (slower than 1/distance)", near, far
    return None


# -------------------------------------------------------------------- rows
def check_rows(energies, what: str = "free energy") -> None:
    """Per-row (free) energies are numbers below +inf where a caller reports them: a row where the energy is NaN
    (the density undefined) or −inf (an infinite density) is an ``error[data]`` naming it (counting from 0)."""
    e = np.asarray(energies, np.float64)
    e = e.reshape(len(e), -1) if e.ndim else e.reshape(1, 1)
    wrong = np.isnan(e) | (e == -np.inf)
    bad = np.flatnonzero(wrong.any(axis=1))
    if len(bad):
        i = int(bad[0])
        first = float(e[i][wrong[i]][0])
        raise EbmError("data", f"the {what} of data row {i} (counting from 0) is {energy_words(first)}"
                               + (f" (and of {len(bad) - 1} more rows)" if len(bad) > 1 else "")
                               + ": the model's density is not defined there",
                       hint="check the row against the model's factors (a log of 0 or of a negative number?), and "
                            "declare each variable with the domain on which its factors are defined, so that such "
                            "values are refused when they are read")
