"""The training loop's options, :class:`LoopOptions`, given to ``ebmppl.fit`` as ``loop=`` or one by one.

``fit(model, data, steps=500, chunk=25)`` and ``fit(model, data, loop=LoopOptions(steps=500, chunk=25))``
are the same call. ``fit``'s own keyword defaults are :class:`Default` markers, so a knob given as a
keyword is told apart from one left alone even when its value equals the default; giving one knob
both ways is an error. Every knob is admitted when the options are made, by the domain table's test
(:func:`ebmppl.model.admit.require`, the table :data:`KNOBS`), so ``steps=0`` or ``lr=nan`` is refused
before anything runs.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import EbmError
from ..model.admit import require


@dataclass(frozen=True)
class Knob:
    """What a keyword of ``fit`` (or a field of :class:`LoopOptions`) admits: a number of the domain
    ``kind(args)`` (a row of the domain table), or one of the values in ``off``, which switch it off."""

    kind: str
    args: tuple = ()
    off: tuple = ()
    hint: Optional[str] = None

    def admit(self, name: str, value):
        """``value`` when admitted; else an error naming ``name=``, the domain and the value."""
        if any(value is o or (o is not None and _plain_number(value) and value == o) for o in self.off):
            return value
        return require(value, self.kind, self.args, what=f"{name}=", hint=self.hint)


def _plain_number(value) -> bool:
    return not isinstance(value, (bool, np.bool_))


# Every numeric knob of the loop (and fit's lr and key) with its domain
KNOBS = {
    "steps": Knob("size"),
    "batch_size": Knob("size"),
    "chunk": Knob("size"),
    "val_frac": Knob("interval", (0, 1), off=(0,), hint="the fraction of rows held out for validation, e.g. 0.2; "
                                                       "0 for none"),
    "patience": Knob("size", off=(None,), hint="the number of validation checks without improvement; None for "
                                               "no early stopping"),
    "checkpoint_every": Knob("size", off=(None,)),
    "clip_norm": Knob("positive", off=(None,)),
    "average": Knob("interval", (0, 1), off=(None, 0), hint="a decay such as 0.99; None for the last iterate"),
    "lr": Knob("positive", off=(0,), hint="a learning rate such as 1e-3, or an optax schedule"),
    "key": Knob("count", hint="a seed from 0 to 2^32 - 1, or a jax.random key"),
}
FLAGS = ("resume", "progress")

# The numeric options of each method (the rest, such as names, are checked by the method itself)
_SIZE, _SIZE_OR_NONE, _POSITIVE = Knob("size"), Knob("size", off=(None,)), Knob("positive")
_NONNEGATIVE = Knob("positive", off=(0,))
_CD = {"k": _SIZE, "step_size": _POSITIVE, "alpha": _NONNEGATIVE, "chains": _SIZE_OR_NONE,
       "buffer_size": _SIZE_OR_NONE, "reinit_prob": Knob("interval", (0, 1), off=(0, 1))}
METHOD_KNOBS = {
    "ssm": {"n_projections": _SIZE},
    "dsm": {"sigma": _POSITIVE},  # one noise level, or a list of them
    "cd": _CD, "pcd": _CD,
    "nce": {"nu": _POSITIVE},
    "fce": {"flow_layers": Knob("count"), "hidden": _SIZE, "nu": _POSITIVE},
    "vi": {"n_samples": _SIZE_OR_NONE, "flow_layers": Knob("count"), "hidden": _SIZE, "q_steps": Knob("count"),
           "alpha": _NONNEGATIVE},
}
STEPS_MAX = 2**31 - 1  # step indices are int32 on the device
SEED_MAX = 2**32 - 1  # JAX's PRNGKey keeps 32 bits of a seed: 2^32 would be seed 0 again


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

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in KNOBS:
                KNOBS[f.name].admit(f.name, value)
            elif f.name in FLAGS and not isinstance(value, (bool, np.bool_)):
                raise EbmError("usage", f"{f.name}= must be True or False; got {value!r}")
        if not (self.checkpoint_dir is None or isinstance(self.checkpoint_dir, (str, os.PathLike))):
            raise EbmError("usage", f"checkpoint_dir= must be a folder's path; got "
                                    f"{type(self.checkpoint_dir).__name__}")
        if self.val_data is not None and not isinstance(self.val_data, (dict, str, Path)):
            raise EbmError("usage", f"val_data= must be a dict of arrays or a CSV/NPZ file path; got "
                                    f"{type(self.val_data).__name__}")
        if int(self.steps) > STEPS_MAX:
            raise EbmError("limit", f"steps= is {int(self.steps)}, beyond {STEPS_MAX}, the most steps a run counts",
                           hint="train in several runs (resume from a checkpoint) if you really need more")


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


def admit_lr(lr):
    """A learning rate: a positive number (0 is admitted, with a warning: nothing will move) or a schedule."""
    if callable(lr):
        return lr
    KNOBS["lr"].admit("lr", lr)
    if lr == 0:
        warnings.warn("lr=0: the params will not move", UserWarning, stacklevel=3)
    return lr


def admit_key(key):
    """A seed from 0 to 2^32 - 1 (larger ones would collide with smaller ones), or a JAX key as it is."""
    if hasattr(key, "dtype") and np.ndim(key) > 0:
        import jax
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or (np.shape(key) == (2,) and key.dtype == np.uint32):
            return key
        raise EbmError("usage", f"key= must be a seed or a jax.random key; got an array of {key.dtype} and shape "
                                f"{list(np.shape(key))}", hint=KNOBS["key"].hint)
    seed = KNOBS["key"].admit("key", key)
    if seed > SEED_MAX:
        raise EbmError("usage", f"key= must be at most 2^32 - 1 = {SEED_MAX}; got {key!r}",
                       hint="JAX keeps 32 bits of a seed, so a larger one would repeat a smaller one's run")
    return seed


def admit_method_options(method: str, options: dict) -> None:
    """Refuse a method option outside its domain (:data:`METHOD_KNOBS`), naming the method and the option."""
    for name, knob in METHOD_KNOBS.get(method, {}).items():
        if name not in options:
            continue
        value = options[name]
        for v in (value if isinstance(value, (list, tuple)) and value else [value]):
            try:
                knob.admit(name, v)
            except EbmError as e:
                raise EbmError("fit", f"bad option for method '{method}': {e.message}", hint=e.hint) from None
