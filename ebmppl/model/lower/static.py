"""What is known before sampling: the consts' values (bound, defaults, placeholders), the sizes of
every declaration and the bound arguments of every domain."""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from ...dsl import ast as A
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from ...settings import float_dtype
from ..library import names_in
from ..spec import Model, Spec
from . import bounds, limits, values
from .compiler import Compiler
from .shapes import Fmt

# Scalar int consts of an unbound model get distinct primes as sizes, so a shape message can name
# the const a size came from ([N, M] rather than [1009, 1013]) and unrelated sizes never agree.
PRIMES = (1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069, 1087, 1091)
_LAST_PRIME = 997
_PLACEHOLDER = "placeholder"  # the value of an unbound const until its shape is known


class Consts(NamedTuple):
    """The consts' values, the formatter that names placeholder sizes, and the consts that are stand-ins."""

    env: dict
    fmt: Fmt
    unknown: frozenset = frozenset()


def bind_consts(model: Model, placeholders: bool = False, where: str | None = None) -> Consts:
    """Every const's value: bound, its default (``= value``), or with ``placeholders`` a stand-in.

    Bound values and defaults are checked against their domains with their bound arguments (``where`` names
    the file or dict bound values came from).

    Raises:
        EbmError: a const has no value (and ``placeholders`` is off); a bound value outside its domain (data).
        EbmShapeError, EbmSemanticError: a default of the wrong shape, outside its domain, or not an integer
            where it must be.
    """
    env, names = _known(model, placeholders)
    fmt = Fmt(MappingProxyType(names))
    unknown = _stand_ins(model, env, names)
    comp = Compiler(fmt, env, {s.name: s for s in model.specs}, {}, unknown, static_eval=True)
    for s in model.consts:  # in order: a default or a size reads only consts declared before it
        known = not reads(s, unknown)
        if env[s.name] is None:
            env[s.name] = _default(comp, s, check=known)
        elif isinstance(env[s.name], str):
            env[s.name] = _placeholder(comp, s)
        elif known:
            _check_bound(comp, s, env[s.name], where)
    return Consts(env, fmt, unknown)


def _stand_ins(model: Model, env: dict, names: dict) -> frozenset:
    """The consts whose values are stand-ins: placeholders, and defaults computed from them."""
    out = {n for n, v in env.items() if isinstance(v, str) or n in names.values()}
    for s in model.consts:
        if env[s.name] is None and reads(s, out):
            out.add(s.name)
    return frozenset(out)


def reads(s: Spec, names) -> bool:
    """``s``'s default, sizes or domain arguments read one of ``names``."""
    parts = [s.init, *s.shape, *s.domain.args]
    if s.domain.row.network:
        parts = [*s.domain.args[:1], *s.domain.args[1], *s.domain.args[2:3]]
    return any(n in names for p in parts if isinstance(p, A.Expr) for n in names_in(p))


def _check_bound(comp: Compiler, s: Spec, v, where) -> None:
    """A bound value lies in its domain once the domain's arguments (``interval(lo, hi)``, ``categorical(K)``)
    are known."""
    what = f"const '{s.name}' in {where}" if where else f"the value bound to const '{s.name}'"
    values.admit(v, s.domain.kind, domain_args(comp, s), what=what, span=s.span, error="data",
                 hint=f"bind '{s.name}' to {s.domain.row.described}, or fix its declaration")


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


def _default(comp: Compiler, s: Spec, check: bool = True) -> np.ndarray:
    """The value of ``const s = expr``, broadcast to its declared shape and (with ``check``) checked against its
    domain."""
    what = "value" if s.conditioned else "default"
    v = comp.value(s.init, f"the {what} of '{s.name}'")
    shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
    row = s.domain.row
    if v.shape != shape:
        try:
            if np.broadcast_shapes(v.shape, shape) != shape:
                raise ValueError
        except ValueError:
            raise EbmShapeError(f"the {what} of '{s.name}' has shape {list(v.shape)}, "
                                f"declared {s.type_str()} = {comp.fmt(shape)}", s.init.span,
                                f"give a value of shape {comp.fmt(shape)} (or a scalar)") from None
    if row.integer_data and not np.all(v == np.round(v)):
        raise EbmSemanticError(f"the {what} of '{s.name}' must be an integer", s.init.span)
    # the distinct values (before broadcasting) decide; a vector kind needs its whole last axis
    part = np.broadcast_to(v, np.broadcast_shapes(v.shape, shape[-1:])) if row.vector and shape else v
    if check:
        values.admit(part, s.domain.kind, domain_args(comp, s), what=f"the {what} of '{s.name}'",
                     span=s.init.span, hint=f"give '{s.name}' a value that is {row.described}")
    if v.shape != shape:
        limits.check_array(shape, np.float32, f"const '{s.name}'", s.span)
        v = np.broadcast_to(v, shape).copy()
    return v.astype(limits.int_dtype()) if row.integer_data else v


def _placeholder(comp: Compiler, s: Spec) -> np.ndarray:
    """A stand-in value for an unbound const: the domain's default, in the declared shape (a broadcast view:
    nothing the size of the placeholder shape is allocated)."""
    shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
    row = s.domain.row
    dtype = np.int32 if row.integer_data else np.float32
    one = np.asarray(row.default(shape[-1:] if row.vector else (), domain_args(comp, s), dtype))
    return np.broadcast_to(one, shape)


def resolve_shapes(comp: Compiler, model: Model) -> dict[str, tuple]:
    """The shape of every declaration, its sizes evaluated: a negative size, an empty var, latent, param or
    vector, and a declaration beyond :data:`~.limits.MAX_ARRAY_BYTES` are errors."""
    shapes = {s.name: tuple(d if isinstance(d, int) else comp.static(d, f"a size of '{s.name}'")
                            for d in s.shape) for s in model.specs}
    for s in model.specs:
        shape = shapes[s.name]
        for d in shape:
            if d < 0:
                raise EbmSemanticError(f"a size of '{s.name}' is negative ({d})", s.span)
        if 0 in shape and (s.role != "const" or (s.domain.row.vector and shape[-1] == 0)):
            raise EbmSemanticError(f"'{s.name}' would be empty: {s.type_str()} = {comp.fmt(shape)}", s.span,
                                   "a var, latent or param (and a vector) needs every size to be at least 1")
        if not reads(s, comp.unknown):
            limits.check_array(shape, np.int32 if s.domain.row.integer_data else float_dtype(),
                               f"{s.role} '{s.name}' ({s.type_str()} = {comp.fmt(shape)})", s.span)
    return shapes


def domain_args(comp: Compiler, s: Spec) -> tuple:
    """The bound arguments of ``s``'s domain: ``(lo, hi)`` of an interval, ``(K,)`` of a categorical,
    ``(n_in, hidden, n_out, act)`` of an mlp, ``()`` for a kind without arguments."""
    row = s.domain.row
    if row.network:
        return _mlp_args(comp, s)
    if not row.arity:
        return ()
    if row.continuous and bounds.reads_random(comp, s):  # bounds computed from other vars: interval(0, 1 - a)
        return bounds.domain_args(comp, s)
    if row.continuous:  # bounds: interval(lo, hi)
        lo, hi = (a if isinstance(a, (int, float)) else comp.static(a, "an interval bound", float)
                  for a in s.domain.args)
        values.check_bounds(lo, hi, f"the bounds of {s.domain.kind}({lo:g}, {hi:g}) for '{s.name}'", s.span)
        return (lo, hi)
    if row.finite:  # the number of states: categorical(K)
        k = s.domain.args[0]
        k = k if isinstance(k, int) else comp.static(k, "the number of categories")
        if k < 1:
            raise EbmSemanticError(f"{s.domain.kind}({k}) for '{s.name}' needs at least one category", s.span)
        if not comp.unknown:
            limits.check_array((k,), np.int32, f"the states of {s.domain.kind}({k}) for '{s.name}'", s.span,
                               "use fewer categories")
        return (k,)
    raise TypeError(f"the lowering cannot bind the arguments of a {s.domain.kind} domain")


def _mlp_args(comp: Compiler, s: Spec) -> tuple:
    """``(n_in, hidden, n_out, act)``: each size at least 1, each weight matrix within the limit."""
    n_in, hidden, n_out, act = s.domain.args
    sizes = [d if isinstance(d, int) else comp.static(d, "an mlp size") for d in (n_in, *hidden, n_out)]
    for d in sizes:
        if d < 1:
            raise EbmSemanticError(f"the mlp '{s.name}' has a layer of size {d}", s.span,
                                   "every size of an mlp must be at least 1")
    if not comp.unknown:
        for a, b in zip(sizes, sizes[1:]):
            limits.check_array((a, b), float_dtype(), f"a weight matrix of the mlp '{s.name}' ({a} x {b})", s.span,
                               "use smaller hidden sizes")
    return (sizes[0], tuple(sizes[1:-1]), sizes[-1], act)
