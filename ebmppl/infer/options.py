"""The knobs of :func:`ebmppl.sample`, grouped: the MCMC layout and the kernel's options.

Either group may be given as a frozen dataclass (``layout=Layout(chains=8)``,
``kernel=KernelOptions(step_size=0.2)``) or knob by knob as plain keywords
(``chains=8, step_size=0.2``); giving one knob both ways is an error.

Every knob is checked where it enters, by one table (:data:`KNOBS`: knob -> domain of the domain table,
admitted by :func:`ebmppl.model.admit.require`; :data:`CHOICES` for the knobs that name a method): a
``Layout(chains=0)`` or ``target_accept=1.5`` is an ``error[usage]`` before anything is compiled.

Example::

    idata = ebmppl.sample(model, sampler="mala", layout=Layout(chains=2, draws=500),
                          kernel=KernelOptions(target_accept=0.65))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Optional, Union

import jax
import numpy as np

from ..errors import EbmError
from ..model.admit import require

# knob -> (domain kind, args): what each numeric knob of ebmppl.sample must be
KNOBS = {"chains": ("size", ()), "draws": ("size", ()), "warmup": ("count", ()), "thin": ("size", ()),
         "step_size": ("positive", ()), "target_accept": ("unit", ()), "gwg_steps": ("size", ()),
         "temperatures": ("size", ()), "max_temperature": ("interval", (1.0, 1e30))}
# knob -> the names it may take
CHOICES = {"chain_method": ("vectorized", "parallel", "sequential"), "discrete": ("gibbs", "gwg")}
FLAGS = ("adapt_step", "adapt_mass")
SEED_MAX = 2 ** 32 - 1  # JAX folds larger seeds onto smaller ones (2**32 and 0 give the same key)


def admit(name: str, value):
    """The value of knob ``name`` as ebmppl uses it (``None`` stays None), or an ``error[usage]`` saying what it
    must be. ``step_size`` may also be a schedule (a callable, for ULA)."""
    if value is None or (name == "step_size" and callable(value)):
        return value
    if name in KNOBS:
        kind, args = KNOBS[name]
        return require(value, kind, args, what=f"{name}=")
    if name in CHOICES:
        if not isinstance(value, str) or value not in CHOICES[name]:
            raise EbmError("usage", f"{name}= must be one of {', '.join(CHOICES[name])}; got {value!r}")
        return value
    if name in FLAGS:
        if not isinstance(value, (bool, np.bool_)):
            raise EbmError("usage", f"{name}= must be True or False; got {value!r}")
        return bool(value)
    return value


def prng_key(key, what: str = "key="):
    """A JAX PRNG key from ``key``: a key already, or a seed (a whole number from 0 to 2**32 - 1)."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and (jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
                              or (dtype == np.uint32 and np.shape(key) == (2,))):
        return key
    seed = require(key, "count", what=what, hint="give a seed from 0 to 4294967295, or a jax.random key")
    if seed > SEED_MAX:
        raise EbmError("usage", f"{what} must be a whole number from 0 to {SEED_MAX}; got {key!r}",
                       hint="larger seeds give the same random numbers as smaller ones")
    return jax.random.PRNGKey(seed)


def _admit_fields(obj) -> None:
    """Check (and normalize) every knob of a frozen options dataclass."""
    for f in fields(obj):
        object.__setattr__(obj, f.name, admit(f.name, getattr(obj, f.name)))


@dataclass(frozen=True)
class Layout:
    """How many chains and iterations, and how the chains run.

    Attributes:
        chains: the number of chains.
        draws: draws kept per chain (after thinning).
        warmup: warmup iterations per chain (not kept).
        thin: keep every ``thin``-th iteration: a chain runs ``draws * thin`` iterations after warmup.
        chain_method: ``vectorized``, ``parallel`` (one device a chain) or ``sequential``.
    """

    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    thin: int = 1
    chain_method: str = "vectorized"

    def __post_init__(self):
        _admit_fields(self)


@dataclass(frozen=True)
class KernelOptions:
    """The kernel's knobs; ``None`` means the sampler's default.

    Attributes:
        step_size: the initial step size (adapted during warmup), or ULA's fixed step or schedule.
        target_accept: the acceptance rate the step size is adapted toward.
        adapt_step: adapt the step size during warmup.
        adapt_mass: learn a diagonal preconditioner (mass matrix) during warmup.
        discrete: the discrete move of a mixed model under mala, ula or rwmh: ``gibbs`` or ``gwg``.
        gwg_steps: Gibbs-with-gradients flips per draw (default: one per element).
        temperatures: parallel tempering's number of replicas (``sampler="pt"``; default 8).
        max_temperature: parallel tempering's hottest temperature (default 10; the ladder between 1 and it
            starts geometric and is adapted during warmup).
    """

    step_size: Union[None, float, Callable] = None
    target_accept: Optional[float] = None
    adapt_step: bool = True
    adapt_mass: bool = True
    discrete: str = "gibbs"
    gwg_steps: Optional[int] = None
    temperatures: Optional[int] = None
    max_temperature: Optional[float] = None

    def __post_init__(self):
        _admit_fields(self)


LAYOUT_KNOBS = tuple(f.name for f in fields(Layout))
KERNEL_KNOBS = tuple(f.name for f in fields(KernelOptions))


def resolve(layout: Optional[Layout], kernel: Optional[KernelOptions], keywords: dict) -> tuple[Layout,
                                                                                                 KernelOptions]:
    """The layout and kernel options of a call, from its dataclasses and its plain ``keywords`` (a knob's
    keyword is ``None`` when not given)."""
    return (_group(Layout, "layout", layout, LAYOUT_KNOBS, keywords),
            _group(KernelOptions, "kernel", kernel, KERNEL_KNOBS, keywords))


def _group(cls, arg: str, given, knobs: tuple, keywords: dict):
    as_keywords = {k: keywords[k] for k in knobs if keywords.get(k) is not None}
    if given is None:
        return cls(**as_keywords)
    if not isinstance(given, cls):
        raise EbmError("sample", f"{arg}= must be an ebmppl.infer.{cls.__name__}, not {type(given).__name__}")
    if as_keywords:
        both = ", ".join(sorted(as_keywords))
        raise EbmError("sample", f"{both} given both as a keyword and in {arg}=",
                       hint=f"give each knob once: in {cls.__name__}(...) or as a keyword")
    return given
