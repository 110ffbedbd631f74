"""The training loop's options, :class:`LoopOptions`, given to ``ebmppl.fit`` as ``loop=`` or one by one.

``fit(model, data, steps=500, chunk=25)`` and ``fit(model, data, loop=LoopOptions(steps=500, chunk=25))``
are the same call. ``fit``'s own keyword defaults are :class:`Default` markers, so a knob given as a
keyword is told apart from one left alone even when its value equals the default; giving one knob
both ways is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Optional

from ..errors import EbmError


@dataclass(frozen=True)
class LoopOptions:
    """How the loop runs, whatever the method.

    Attributes:
        steps: optimizer steps (not epochs).
        batch_size: rows per step (clipped to the number of training rows).
        chunk: steps per compiled scan; progress, validation and checkpoints happen between chunks.
        val_data: validation data (a dict or a CSV / NPZ path), or None.
        val_frac: the fraction of the rows held out for validation when ``val_data`` is None.
        patience: stop after this many validation checks without improvement (None: never).
        checkpoint_dir: the folder of checkpoints (None: none).
        checkpoint_every: checkpoint every this many steps (rounded down to whole chunks).
        resume: continue from the checkpoint in ``checkpoint_dir``.
        progress: a progress bar on stderr (and ``auto``'s reason).
        clip_norm: clip the gradient to this global norm (None: no clipping).
        average: return an exponential moving average of the iterates with this decay (None: the last).

    Example::

        res = ebmppl.fit(model, data, method="ssm", loop=LoopOptions(steps=500, chunk=25, progress=False))
    """

    steps: int = 1000
    batch_size: int = 256
    chunk: int = 50
    val_data: Any = None
    val_frac: float = 0.0
    patience: Optional[int] = None
    checkpoint_dir: Any = None
    checkpoint_every: Optional[int] = None
    resume: bool = False
    progress: bool = True
    clip_norm: Optional[float] = None
    average: Optional[float] = None


@dataclass(frozen=True)
class Default:
    """A keyword argument left at its default (``value``); it prints as the value, so a signature reads
    ``steps=1000``."""

    value: Any

    def __repr__(self) -> str:
        return repr(self.value)


def defaults() -> dict:
    """``{knob: Default(value)}`` for every field of :class:`LoopOptions`."""
    return {f.name: Default(f.default) for f in fields(LoopOptions)}


def loop_options(loop: Optional[LoopOptions], **knobs) -> LoopOptions:
    """The loop's options from ``loop=`` and the knobs given one by one (a :class:`Default` is not given).

    Raises:
        EbmError: ``loop`` is not a :class:`LoopOptions`, or a knob is given both ways.
    """
    given = {name: value for name, value in knobs.items() if not isinstance(value, Default)}
    if loop is None:
        return replace(LoopOptions(), **given)
    if not isinstance(loop, LoopOptions):
        raise EbmError("fit", f"loop must be a LoopOptions, not {type(loop).__name__}",
                       hint="from ebmppl.training import LoopOptions; fit(..., loop=LoopOptions(steps=...))")
    if given:
        name = next(iter(given))
        raise EbmError("fit", f"'{name}' is given twice: as {name}= and in loop=LoopOptions(...)",
                       hint=f"give it in one place: LoopOptions({name}=...) or {name}=...")
    return loop
