"""Admitting arrays of numbers that enter from files or dicts: finite, and inside their domain, as computed.

Data and params must be numbers (not objects or text), finite in the float type ebmppl computes in
(float32 unless float64 is on, so ``1e39`` is refused where it would become ``inf``), and inside their
domain (the domain table's ``contains``) after that cast (``1e-50`` is 0 in float32, outside ``positive``).

    >>> from ebmppl.io.values import first_bad
    >>> first_bad(np.array([1.0, 1e39]), "real", ()).why        # in float32
    'overflow'
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax.numpy as jnp
import numpy as np

from ..model import domains


def compute_dtype() -> np.dtype:
    """The float type arrays are computed in now: float32, or float64 when x64 is on."""
    return np.dtype(jnp.result_type(float))


def numeric(a: np.ndarray, bools: bool = True) -> bool:
    """Whether an array holds numbers (integers, floats and, when ``bools``, booleans)."""
    return isinstance(a, np.ndarray) and a.dtype.kind in ("biuf" if bools else "iuf")


class Bad(NamedTuple):
    """The first value of an array that is not admitted: where, its value, why, and its value once cast.

    ``why`` is ``nonfinite`` (nan or inf as given), ``overflow`` (finite as given, infinite once cast to the
    compute type), ``domain`` (outside the domain) or ``rounded`` (inside the domain as given, outside once
    cast: ``1e-50`` is 0 in float32)."""

    index: tuple
    value: float
    why: str
    cast: float


def first_bad(a, kind: Optional[str], args=(), dtype=None, means: bool = False) -> Optional[Bad]:
    """The first value of ``a`` not finite in ``dtype`` (default :func:`compute_dtype`) or outside the domain
    ``kind(args)`` there; None when every value is admitted. ``kind=None`` checks finiteness only; the vector
    kinds (ordered, simplex) are checked for finiteness only, since data written with a few digits would
    miss the table's tolerance on a simplex's sum. With ``means``, a finite discrete kind also admits any
    value between its smallest and largest state: an expected value, such as the probabilities p(h = 1 | v)
    a deep belief net's upper layers train on."""
    a = np.asarray(a)
    dtype = compute_dtype() if dtype is None else np.dtype(dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = a.astype(dtype)
        given = np.isfinite(a)
        ok = given & np.isfinite(cast)
    if not ok.all():
        i = tuple(int(j) for j in np.argwhere(~ok)[0])
        return Bad(i, float(a[i]), "nonfinite" if not given[i] else "overflow", float(cast[i]))
    row = None if kind is None else domains.lookup(kind)
    if row is None or row.vector:
        return None
    i = domains.first_outside(kind, tuple(args), cast)
    if i is not None and means and row.finite:
        states = row.states(tuple(args))
        between = (cast >= np.min(states)) & (cast <= np.max(states))
        outside = np.argwhere(~between)
        i = tuple(int(j) for j in outside[0]) if len(outside) else None
    if i is None:
        return None
    inside_as_given = bool(domains.contains(kind, tuple(args), a[i]).all())
    return Bad(i, float(a[i]), "rounded" if inside_as_given else "domain", float(cast[i]))


def describe(bad: Bad, domain, name: str) -> str:
    """The end of a message about ``bad``, a value of ``name`` declared with ``domain``."""
    dt = compute_dtype().name
    if bad.why == "nonfinite":
        return f"value is {bad.value}"
    if bad.why == "overflow":
        return f"{bad.value:g} is too large for {dt} (at most {float(np.finfo(dt).max):.3g})"
    if bad.why == "rounded":
        return f"{bad.value:g} is {bad.cast:g} in {dt}, outside the domain {domain} of '{name}'"
    return f"{bad.value:g} is outside the domain {domain} of '{name}'"


def hint(bad: Bad) -> Optional[str]:
    """How to fix ``bad``: for a value that float32 cannot hold, rescaling or float64."""
    if bad.why in ("overflow", "rounded"):
        return ("rescale the values, or compute in float64 (on the command line --x64; in Python "
                "ebmppl.config(x64=True))")
    return None
