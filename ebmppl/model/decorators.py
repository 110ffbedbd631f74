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
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..dsl import ast as A
from ..errors import EbmSemanticError, Source, Span
from . import domains, library as L
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


def _dim(d):
    if isinstance(d, (int, np.integer)):
        return int(d)
    if isinstance(d, str):
        return A.Name(_pyspan(d), d)
    raise EbmSemanticError(f"a size must be an int or the name of an int const, got {d!r}")


real = Type(Domain("real"))
positive = Type(Domain("positive"))
unit = Type(Domain("unit"))
ordered = Type(Domain("ordered"))
simplex = Type(Domain("simplex"))
binary = Type(Domain("binary"))
spin = Type(Domain("spin"))
integer = Type(Domain("int"))


def interval(lo, hi) -> Type:
    """Values in (lo, hi)."""
    return Type(Domain("interval", (_expr(lo), _expr(hi))))


def categorical(k) -> Type:
    """Values 0..k-1."""
    return Type(Domain("categorical", (_dim(k),)))


def mlp(n_in: int, hidden, n_out: int, act: str = "swish") -> Type:
    """A neural network param: ``f = param(mlp(2, [64, 64], 1))``, then ``f(x)`` in the factor."""
    if act not in L.ACTIVATIONS:
        raise EbmSemanticError(f"unknown activation '{act}'; choose one of {', '.join(L.ACTIVATIONS)}")
    return Type(Domain("mlp", (int(n_in), tuple(int(h) for h in hidden), int(n_out), act)))


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
        out.append(Spec(name, d.role, d.type.domain, d.type.shape, d.init, d.init_dist, _pyspan(name)))
    return tuple(out)


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
