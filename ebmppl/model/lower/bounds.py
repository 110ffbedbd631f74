"""Bounds that vary with other variables, such as ``interval(0, 1 - alpha)``.

A var declared so has its bounds computed from the value of ``alpha`` wherever it is transformed, so its bijector
(NumPyro's affine-of-sigmoid for the interval) and the log-Jacobian follow ``alpha`` (Stan's
``real<lower=0, upper=1 - alpha>``).

The domain table holds such an argument as a :class:`~ebmppl.model.domains.Varying` (``domain_args`` of the
lowering); :func:`evaluate` turns it into numbers from an environment of consts and values. The vars a bound
reads are declared before the var it bounds (the checker's rule), so walking the vars in declaration order
always has them.

    >>> import ebmppl
    >>> m = ebmppl.parse("var a : unit\\nvar x : interval(0, 1 - a)\\nfactor f = 0 * x + 0 * a")
    >>> float(evaluate(m.lowered, m.lowered.specs["x"], {"a": 0.25})[1])
    0.75
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ...dsl import ast as A
from ...errors import EbmError, EbmShapeError
from ...settings import float_dtype
from .. import domains
from ..library import names_in
from ..spec import Spec
from . import values
from .shapes import text_of

if TYPE_CHECKING:
    from .compiler import Compiler
    from .lowered import Lowered


def reads_random(comp: "Compiler", s: Spec) -> bool:
    """Some domain argument of ``s`` reads a var or latent: its bounds vary."""
    return any(_random_names(comp, a) for a in s.domain.args)


def _random_names(comp: "Compiler", a) -> tuple:
    if not isinstance(a, A.Expr):
        return ()
    return tuple(sorted(n for n in names_in(a) if n in comp.specs and comp.specs[n].role in ("var", "latent")))


def domain_args(comp: "Compiler", s: Spec) -> tuple:
    """``(lo, hi)`` of a var whose bounds read other vars: each a number (known before sampling, checked finite) or
    a :class:`~ebmppl.model.domains.Varying` compiled to ``env -> array``."""
    out = []
    for i, a in enumerate(s.domain.args):
        reads = _random_names(comp, a)
        if reads:
            out.append(domains.Varying(a, reads, comp.compile(a), text_of(a.span) or "<expr>"))
            continue
        v = a if isinstance(a, (int, float)) else comp.static(a, "an interval bound", float)
        values.admit(v, "real", what=f"the {('lower', 'upper')[i]} bound of '{s.name}'", span=s.span)
        out.append(v)
    return tuple(out)


def varies(low: "Lowered", s: Spec) -> bool:
    """The bounds of ``s`` vary with other variables."""
    return domains.varies(low.domain_args[s.name])


def evaluate(low: "Lowered", s: Spec, env: dict, consts=None) -> tuple:
    """The domain arguments of ``s`` with every varying one computed from ``env`` (the values of the vars it reads;
    consts from ``consts`` or the bound ones), broadcast to the shape of ``s``."""
    full = {**low.const_env, **(consts or {}), **env}
    shape = low.shapes[s.name]
    out = []
    for a in low.domain_args[s.name]:
        if not isinstance(a, domains.Varying):
            out.append(a)
            continue
        v = jnp.asarray(a.value(full), dtype=float_dtype())
        try:
            out.append(jnp.broadcast_to(v, shape))
        except ValueError:
            raise EbmShapeError(f"the bound {a.text} of '{s.name}' has shape {low.fmt(tuple(v.shape))}, but '{s.name}' "
                                f"is {s.type_str()} = {low.fmt(shape)}", a.expr.span,
                                "a bound must be a scalar or broadcast to the variable's shape") from None
    return tuple(out)


def constraint(low: "Lowered", s: Spec, env: dict, consts=None):
    """The NumPyro constraint of ``s`` at the values in ``env`` (an interval with array bounds)."""
    return domains.constraint(s.domain.kind, evaluate(low, s, env, consts))


def check_inside(low: "Lowered", s: Spec, value, env: dict) -> None:
    """A concrete value of ``s`` (an initial value) lies strictly inside its bounds at the values in ``env``; while
    JAX traces, nothing is checked (a value outside maps to NaN, which the samplers refuse)."""
    args = evaluate(low, s, env)
    if any(isinstance(x, jax.core.Tracer) for x in (value, *args)):
        return
    x = np.asarray(value)
    ok = domains.contains(s.domain.kind, tuple(np.asarray(a) for a in args), x, interior=True)
    if ok.all():
        return
    at = tuple(int(i) for i in np.argwhere(~ok)[0])
    lo, hi = (np.broadcast_to(np.asarray(a), x.shape)[at] for a in args)
    where = f" element {list(at)}" if at else ""
    raise EbmError("value", f"{s.role} '{s.name}'{where} is {values.show(x[at])}, outside {s.type_str()} = "
                            f"({values.show(lo)}, {values.show(hi)}) at the values of "
                            f"{', '.join(repr(n) for n in _reads(low, s))}", s.span,
                   f"give '{s.name}' a value strictly inside its bounds")


def _reads(low: "Lowered", s: Spec) -> tuple:
    return tuple(n for a in low.domain_args[s.name] if isinstance(a, domains.Varying) for n in a.reads)
