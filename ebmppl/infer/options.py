"""The knobs of :func:`ebmppl.sample`, grouped: the MCMC layout and the kernel's options.

Either group may be given as a frozen dataclass (``layout=Layout(chains=8)``,
``kernel=KernelOptions(step_size=0.2)``) or knob by knob as plain keywords
(``chains=8, step_size=0.2``); giving one knob both ways is an error.

Example::

    idata = ebmppl.sample(model, sampler="mala", layout=Layout(chains=2, draws=500),
                          kernel=KernelOptions(target_accept=0.65))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Optional, Union

from ..errors import EbmError


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
    """

    step_size: Union[None, float, Callable] = None
    target_accept: Optional[float] = None
    adapt_step: bool = True
    adapt_mass: bool = True
    discrete: str = "gibbs"
    gwg_steps: Optional[int] = None


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
