"""What is known before sampling: the consts' values (bound, defaults, placeholders), the sizes of
every declaration and the bound arguments of every domain."""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from ...errors import EbmError, EbmSemanticError, EbmShapeError
from ..spec import Model, Spec
from .compiler import Compiler
from .shapes import Fmt

# Scalar int consts of an unbound model get distinct primes as sizes, so a shape message can name
# the const a size came from ([N, M] rather than [1009, 1013]) and unrelated sizes never agree.
PRIMES = (1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069, 1087, 1091)
_LAST_PRIME = 997
_PLACEHOLDER = "placeholder"  # the value of an unbound const until its shape is known


class Consts(NamedTuple):
    """The consts' values and the formatter that names placeholder sizes."""

    env: dict
    fmt: Fmt


def bind_consts(model: Model, placeholders: bool = False) -> Consts:
    """Every const's value: bound, its default (``= value``), or with ``placeholders`` a stand-in.

    Raises:
        EbmError: a const has no value (and ``placeholders`` is off).
        EbmShapeError, EbmSemanticError: a default of the wrong shape, or not an integer where it must be.
    """
    env, names = _known(model, placeholders)
    fmt = Fmt(MappingProxyType(names))
    comp = Compiler(fmt, env, {s.name: s for s in model.specs}, {})
    for s in model.consts:  # in order: a default or a size reads only consts declared before it
        if env[s.name] is None:
            env[s.name] = _default(comp, s)
        elif isinstance(env[s.name], str):
            env[s.name] = _placeholder(comp, s)
    return Consts(env, fmt)


def _known(model: Model, placeholders: bool):
    """(const -> value, None for a default, or a placeholder marker; placeholder size -> const name)."""
    env: dict = {}
    names: dict[int, str] = {}
    primes = iter(PRIMES)
    for s in model.consts:
        row = s.domain.row
        if s.name in model.const_values:
            env[s.name] = np.asarray(model.const_values[s.name])
        elif s.init is not None:
            env[s.name] = None  # evaluated in order, once the consts before it are known
        elif placeholders:
            if row.integer and not row.finite and not s.shape:
                p = next(primes, _LAST_PRIME)
                names[p] = s.name
                env[s.name] = np.asarray(p)
            else:
                env[s.name] = _PLACEHOLDER
        else:
            missing = [c.name for c in model.consts if c.name not in model.const_values and c.init is None]
            raise EbmError("data", f"const{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(repr(n) for n in missing)} ha{'ve' if len(missing) > 1 else 's'} no value",
                           s.span, "bind them: model.bind({'name': value, ...}) or a JSON file "
                                   "(`--data consts.json` on the command line)")
    return env, names


def _default(comp: Compiler, s: Spec) -> np.ndarray:
    """The value of ``const s = expr``, broadcast to its declared shape."""
    v = np.asarray(comp.compile(s.init)(dict(comp.static_env)))
    shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
    what = "value" if s.conditioned else "default"
    if v.shape != shape:
        try:
            v = np.broadcast_to(v, shape).copy()
        except ValueError:
            raise EbmShapeError(f"the {what} of '{s.name}' has shape {list(v.shape)}, "
                                f"declared {s.type_str()} = {comp.fmt(shape)}", s.init.span,
                                f"give a value of shape {comp.fmt(shape)} (or a scalar)") from None
    if s.domain.row.integer_data:
        if not np.all(v == np.round(v)):
            raise EbmSemanticError(f"the {what} of '{s.name}' must be an integer", s.init.span)
        v = v.astype(np.int32)
    return v


def _placeholder(comp: Compiler, s: Spec) -> np.ndarray:
    """A stand-in value for an unbound const: the domain's default, in the declared shape."""
    shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
    row = s.domain.row
    dtype = np.int32 if row.integer_data else np.float32
    return np.asarray(row.default(shape, domain_args(comp, s), dtype))


def resolve_shapes(comp: Compiler, model: Model) -> dict[str, tuple]:
    """The shape of every declaration, its sizes evaluated; a negative size is an error."""
    shapes = {s.name: tuple(d if isinstance(d, int) else comp.static(d, f"a size of '{s.name}'")
                            for d in s.shape) for s in model.specs}
    for s in model.specs:
        for d in shapes[s.name]:
            if d < 0:
                raise EbmSemanticError(f"a size of '{s.name}' is negative ({d})", s.span)
    return shapes


def domain_args(comp: Compiler, s: Spec) -> tuple:
    """The bound arguments of ``s``'s domain: ``(lo, hi)`` of an interval, ``(K,)`` of a categorical,
    ``(n_in, hidden, n_out, act)`` of an mlp, ``()`` for a kind without arguments."""
    row = s.domain.row
    if row.network:
        n_in, hidden, n_out, act = s.domain.args
        st = lambda d: d if isinstance(d, int) else comp.static(d, "an mlp size")  # noqa: E731
        return (st(n_in), tuple(st(h) for h in hidden), st(n_out), act)
    if not row.arity:
        return ()
    if row.continuous:  # bounds: interval(lo, hi)
        lo, hi = (a if isinstance(a, (int, float)) else comp.static(a, "an interval bound", float)
                  for a in s.domain.args)
        if not lo < hi:
            raise EbmSemanticError(f"empty {s.domain.kind}({lo}, {hi}) for '{s.name}'", s.span)
        return (lo, hi)
    if row.finite:  # the number of states: categorical(K)
        k = s.domain.args[0]
        k = k if isinstance(k, int) else comp.static(k, "the number of categories")
        if k < 1:
            raise EbmSemanticError(f"{s.domain.kind}({k}) for '{s.name}' needs at least one category", s.span)
        return (k,)
    raise TypeError(f"the lowering cannot bind the arguments of a {s.domain.kind} domain")
