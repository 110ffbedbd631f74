"""One vocabulary for hints: how each option is spelled in Python (a keyword) and on the command line (a flag),
and which of the two the hints of the running call are written for.

A hint names an option with :func:`knob`; it reads ``target_accept=0.95`` when ebmppl is called from Python
and ``--target-accept 0.95`` inside ``ebmppl`` (the command line runs its commands inside
``interface("cli")``). An option the command line does not have keeps its Python spelling.

Example::

    >>> knob("sampler", "gibbs")
    "sampler='gibbs'"
    >>> with interface("cli"):
    ...     knob("sampler", "gibbs")
    '--sampler gibbs'
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

# Python keyword -> command-line flag (None: Python only). Booleans are switches: --adapt-mass / --no-adapt-mass.
FLAGS = {
    "sampler": "--sampler", "chains": "--chains", "draws": "--draws", "warmup": "--warmup", "thin": "--thin",
    "step_size": "--step-size", "target_accept": "--target-accept", "adapt_mass": "--adapt-mass",
    "chain_method": "--chain-method", "key": "--seed", "params": "--params", "consts": "--consts",
    "method": "--method", "steps": "--steps", "lr": "--lr", "batch_size": "--batch-size",
    "clip_norm": "--clip-norm", "average": "--average", "runs": "--runs", "temperatures": "--temperatures",
    "init": None, "discrete": None, "gwg_steps": None, "adapt_step": None,
}
INTERFACES = ("python", "cli")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("ebmppl_interface", default="python")


def current() -> str:
    """The interface hints are written for now: ``python`` (default) or ``cli``."""
    return _current.get()


@contextmanager
def interface(which: str) -> Iterator[None]:
    """Write hints for ``which`` (``python`` or ``cli``) inside the block."""
    if which not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}; got {which!r}")
    token = _current.set(which)
    try:
        yield
    finally:
        _current.reset(token)


def knob(name: str, value=None) -> str:
    """Option ``name`` (its Python keyword), with ``value`` when given, spelled for the current interface.

    Python: ``step_size=``, ``target_accept=0.95``, ``sampler='gibbs'``; command line: ``--step-size``,
    ``--target-accept 0.95``, ``--sampler gibbs``, ``--no-adapt-mass``."""
    flag = FLAGS.get(name)
    if current() == "cli" and flag is not None:
        if isinstance(value, bool):
            return flag if value else "--no-" + flag[2:]
        return flag if value is None else f"{flag} {value}"
    if value is None:
        return f"{name}="
    return f"{name}={value!r}"


def value(name: str, v) -> str:
    """A value of option ``name`` alone, as the current interface writes it (``'gibbs'`` / ``gibbs``)."""
    return str(v) if current() == "cli" and FLAGS.get(name) else repr(v)


def knobs(name: str, *values) -> str:
    """Several values of one option: ``sampler='nuts', 'mala' or 'hmc'`` / ``--sampler nuts, mala or hmc``."""
    words = [knob(name, values[0])] + [value(name, v) for v in values[1:]]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
