"""The Python front end: declare factors with decorators, compose with ``+``.

Example::

    import ebmppl as ebm
    import jax.numpy as jnp

    @ebm.factor(x=ebm.real(2), r=ebm.param(ebm.positive, init=1.0))
    def ring(x, r):
        return 8.0 * (jnp.linalg.norm(x) - r) ** 2

    model = ring + ebm.normal("x", 0.0, 3.0)

Both front ends build the same :class:`~ebmppl.model.spec.Model`.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..dsl import ast as A
from ..errors import EbmError, EbmSemanticError, Source, Span
from . import domains, library as L
from .check_decl import MAX_ELEMENTS, check_initializer
from .check_dist import dist_args
from .check_names import refuse_axis_collisions, refuse_reserved
from .check_scope import Scope
from .domains import Domain
from .spec import Factor, LetDef, Model, Spec


def _pyspan(name: str) -> Span:
    return Span(Source(f"<python: {name}>", ""), 1, 1, 1, 1)


def _expr(v, what="a value") -> A.Expr:
    """A Python value -> an expression node: str names a variable, numbers and arrays are literals."""
    sp = _pyspan(what)
    if isinstance(v, A.Expr):
        return v
    if isinstance(v, str):
        return A.Name(sp, v)
    if isinstance(v, bool):
        return A.Num(sp, int(v), True)
    if isinstance(v, (int, np.integer)):
        return A.Num(sp, int(v), True)
    if isinstance(v, (float, np.floating)):
        return A.Num(sp, float(v), False)
    return A.Literal(sp, np.asarray(v))


@dataclass(frozen=True)
class Type:
    """A domain with a shape, e.g. ``real(2)``, ``positive``, ``categorical(3)(10)``."""

    domain: Domain
    shape: tuple = ()

    def __call__(self, *shape) -> "Type":
        if self.shape:
            raise EbmSemanticError(f"{self.domain}{list(self.shape)} already has a shape")
        return Type(self.domain, tuple(_dim(d) for d in shape))


def _dim(d, least: int = 0, what: str = "a size"):
    """A size: a whole number (at least ``least``) or the name of an int const."""
    if isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)):
        if d < least:
            must = f"at least {least}" if d >= 0 else "a whole number, 0 or more"
            raise EbmSemanticError(f"{what} must be {must}, got {int(d)}")
        return int(d)
    if isinstance(d, str):
        return A.Name(_pyspan(d), d)
    raise EbmSemanticError(f"{what} must be an int or the name of an int const, got {d!r}")


def _bound(v, what: str) -> A.Expr:
    """An interval bound: a finite number, or the name of a const."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, int, float, np.integer, np.floating)):
        raise EbmSemanticError(f"{what} must be a number or the name of a const, got {v!r}")
    if not isinstance(v, str) and not np.isfinite(v):
        raise EbmSemanticError(f"{what} must be finite, got {v}", None,
                               "for a half-line use ebmppl.positive; for the whole line, ebmppl.real")
    return _expr(v)


real = Type(Domain("real"))
positive = Type(Domain("positive"))
unit = Type(Domain("unit"))
ordered = Type(Domain("ordered"))
simplex = Type(Domain("simplex"))
binary = Type(Domain("binary"))
spin = Type(Domain("spin"))
integer = Type(Domain("int"))


def interval(lo, hi) -> Type:
    """Values in (lo, hi): finite numbers with lo < hi, or names of consts."""
    lo_e, hi_e = _bound(lo, "the lower bound of interval"), _bound(hi, "the upper bound of interval")
    if not isinstance(lo, str) and not isinstance(hi, str) and not lo < hi:
        raise EbmSemanticError(f"empty interval({lo}, {hi})", None, "the lower bound must be below the upper")
    return Type(Domain("interval", (lo_e, hi_e)))


def categorical(k) -> Type:
    """Values 0..k-1 (k >= 1)."""
    k = _dim(k, least=1, what="the number of categories")
    if k == 1:
        warnings.warn("categorical(1) has one category: its value is always 0", UserWarning, stacklevel=2)
    return Type(Domain("categorical", (k,)))


def mlp(n_in: int, hidden, n_out: int, act: str = "swish") -> Type:
    """A neural network param: ``f = param(mlp(2, [64, 64], 1))``, then ``f(x)`` in the factor."""
    if act not in L.ACTIVATIONS:
        raise EbmSemanticError(f"unknown activation '{act}'; choose one of {', '.join(L.ACTIVATIONS)}")
    sizes = (_dim(n_in, 1, "the mlp's input size"), tuple(_dim(h, 1, "a hidden size") for h in hidden),
             _dim(n_out, 1, "the mlp's output size"))
    if not all(isinstance(d, int) for d in (sizes[0], *sizes[1], sizes[2])):
        raise EbmSemanticError("the sizes of a Python mlp must be whole numbers")
    return Type(Domain("mlp", (*sizes, act)))


@dataclass(frozen=True)
class Decl:
    role: str
    type: Type
    init: Any = None
    init_dist: Any = None


def _as_type(t) -> Type:
    if isinstance(t, Type):
        return t
    raise EbmSemanticError(f"expected a type such as ebmppl.real(2), got {t!r}")


def var(t: Type = real) -> Decl:
    return Decl("var", _as_type(t))


def latent(t: Type) -> Decl:
    return Decl("latent", _as_type(t))


def const(t: Type = real, default=None) -> Decl:
    return Decl("const", _as_type(t), None if default is None else _expr(default))


def param(t: Type = real, init=None, init_dist: Optional[tuple] = None) -> Decl:
    """A learned parameter. ``init``: a value; ``init_dist``: e.g. ``("normal", 0, 0.01)``."""
    d = None
    if init_dist is not None:
        name, *args = init_dist
        d = A.DistCall(_pyspan(name), name, tuple(_expr(a) for a in args), ())
    return Decl("param", _as_type(t), None if init is None else _expr(init), d)


def _specs(decls: dict) -> tuple[Spec, ...]:
    out = []
    for name, d in decls.items():
        if isinstance(d, Type):
            d = Decl("var", d)
        if not isinstance(d, Decl):
            raise EbmSemanticError(f"'{name}': expected a declaration (ebmppl.var/param/const/latent or a type), "
                                   f"got {d!r}")
        row = domains.DOMAINS.get(d.type.domain.kind)
        if row is None:
            raise EbmSemanticError(f"'{name}': unknown domain {d.type.domain.kind}")
        if row.network and d.role != "param":
            raise EbmSemanticError(f"'{name}': only a param can be an mlp")
        spec = Spec(name, d.role, d.type.domain, d.type.shape, d.init, d.init_dist, _pyspan(name))
        _check_spec(spec)
        out.append(spec)
    refuse_axis_collisions(out, ())
    return tuple(out)


def _check_spec(s: Spec) -> None:
    """What the .ebm checker asks of a declaration, asked of one made in Python."""
    refuse_reserved(s.name, s.role, s.span)
    row = s.domain.row
    if s.role == "param" and not row.param:
        raise EbmSemanticError(f"'{s.name}': a param is learned by gradients, so it must be continuous, "
                               f"not {s.domain.kind}", s.span, "declare it real, positive, unit, interval(lo, hi), "
                               "ordered or simplex, or make it a const")
    sizes = [d for d in s.shape if isinstance(d, int)]
    if sizes and math.prod(sizes) > MAX_ELEMENTS:
        raise EbmError("limit", f"'{s.name}' would have {math.prod(sizes):,} elements, more than {MAX_ELEMENTS:,}",
                       s.span, "declare a smaller shape")
    if row.vector and (not s.shape or s.shape[-1] == 0):
        raise EbmSemanticError(f"'{s.name}': {'an' if s.domain.kind[0] in 'aeiou' else 'a'} {s.domain.kind} value is "
                               f"a vector of at least 1 entry; give its length", s.span,
                               f"write ebmppl.{s.domain.kind}(K) with K >= 1")
    if 0 in sizes and s.role != "const":
        raise EbmSemanticError(f"'{s.name}' would be empty: a size is 0", s.span,
                               f"give every size of a {s.role} 1 or more, or remove the {s.role}")
    if s.init_dist is not None:
        check_initializer(Scope(), s)


def declare(**decls) -> Model:
    """A model with declarations only, to combine with factors: ``declare(J=const(integer)) + ...``."""
    return Model(_specs(decls), (), name="declarations")


def _args_of(fn: Callable) -> tuple[str, ...]:
    sig = inspect.signature(fn)
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise EbmSemanticError(f"factor '{fn.__name__}' cannot take *args or **kwargs; name each input")
    return tuple(sig.parameters)


def factor(_fn: Optional[Callable] = None, *, name: Optional[str] = None, **decls):
    """Decorator: an energy term. The function's arguments name declared values.

    Keyword arguments declare names (a bare type means a var). Returns a
    :class:`Model` with one factor, to compose with ``+``.
    """
    def wrap(fn):
        fname = name or fn.__name__
        args = _args_of(fn)
        f = Factor(fname, "energy", fn=fn, args=args, span=_pyspan(fname))
        return Model(_specs(decls), (f,), name=fname)
    return wrap(_fn) if _fn is not None else wrap


def density(target: str, _fn: Optional[Callable] = None, *, name: Optional[str] = None, **decls):
    """Decorator: a normalized term; the function returns a ``numpyro.distributions`` distribution of target."""
    def wrap(fn):
        fname = name or fn.__name__
        f = Factor(fname, "density", target=A.Name(_pyspan(target), target), fn=fn, args=_args_of(fn),
                   span=_pyspan(fname))
        return Model(_specs(decls), (f,), name=fname)
    return wrap(_fn) if _fn is not None else wrap


def let(_fn: Optional[Callable] = None, *, name: Optional[str] = None, **decls):
    """Decorator: a deterministic quantity, recorded in samples and readable by factors."""
    def wrap(fn):
        lname = name or fn.__name__
        refuse_reserved(lname, "let", _pyspan(lname))
        return Model(_specs(decls), (), (LetDef(lname, fn=fn, args=_args_of(fn), span=_pyspan(lname)),), name=lname)
    return wrap(_fn) if _fn is not None else wrap


def tilde(target: str, dist_name: str, *args, name: Optional[str] = None, **kwargs) -> Model:
    """`target ~ dist_name(args...)` as a model; strings name variables, numbers/arrays are literals."""
    info = L.DISTRIBUTIONS.get(dist_name)
    if info is None:
        raise EbmSemanticError(f"unknown distribution '{dist_name}'")
    n = len(args) + len(kwargs)
    if n != len(info.params):
        raise EbmSemanticError(f"{dist_name} takes {len(info.params)} arguments ({', '.join(info.params)}), got {n}")
    sp = _pyspan(target)
    d = A.DistCall(sp, dist_name, tuple(_expr(a) for a in args),
                   tuple(A.KwArg(sp, k, _expr(v)) for k, v in kwargs.items()))
    dist_args(Scope(), d, info, lambda a: None)  # literal arguments now; names once declared (compose)
    fname = name or f"{target}_{dist_name}"
    return Model((), (Factor(fname, "density", target=A.Name(sp, target), dist=d, span=sp),), name=fname)


def _dist_shortcut(dname):
    info = L.DISTRIBUTIONS[dname]

    def shortcut(target: str, *args, name: Optional[str] = None, **kwargs) -> Model:
        return tilde(target, dname, *args, name=name, **kwargs)
    shortcut.__name__ = dname
    shortcut.__doc__ = f"`target ~ {info.signature()}`: a normalized factor from numpyro.distributions."
    return shortcut


DIST_SHORTCUTS = {n: _dist_shortcut(n) for n in L.DISTRIBUTIONS}
