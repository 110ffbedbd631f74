"""Keep NumPyro's ``MCMC.run`` from retracing its sampling loop on every run.

``numpyro.util.fori_collect`` (0.22) wraps its cached body function in a fresh
``jax.jit`` on every call (``@partial(maybe_jit, donate_argnums=2)`` outside
``@cached_by``) and passes that wrapper as a *static* argument of the jitted
loop. Two wrappers of one function are different static values, so JAX's
tracing cache misses and every ``run()`` of the same ``MCMC`` object traces
and lowers the whole sampling loop again. NumPyro fixed the sibling miss of
the loop wrapper in pyro-ppl/numpyro#2171; this one remains in 0.22.

Inside :func:`memoized`, ``numpyro.util.maybe_jit`` is memoized: the same
function with the same jit options gets the same wrapper (a bounded LRU kept
across runs, so closures created per call cannot pile up). A jit wrapper is a
pure function of its function and options, so this changes no result, only
whether JAX finds its cached trace. ``ebmppl.sample`` wraps each of its own
``mcmc.run`` calls in it; outside, ``numpyro.util.maybe_jit`` is NumPyro's own
(nothing is patched at import). Only ``numpyro.util``'s own calls are affected
(other modules bound the name at import). The patch is process-wide while it
lasts: runs in other threads at the same time see it too.

Example::

    with memoized():
        mcmc.run(key)
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator

import numpyro.util

KEPT = 64
_memo: "OrderedDict[tuple, object]" = OrderedDict()
_active = {"on": False}  # inside a memoized block


def memoize(original: Callable) -> Callable:
    """``maybe_jit`` with its wrappers kept in the shared memo (``original`` makes the missing ones)."""

    def memoized_maybe_jit(fn, *args, **kwargs):
        try:
            key = (fn, args, tuple(sorted(kwargs.items())))
            hash(key)
        except TypeError:  # unhashable options: no memo
            return original(fn, *args, **kwargs)
        hit = _memo.get(key)
        if hit is not None:
            _memo.move_to_end(key)
            return hit
        wrapped = _memo[key] = original(fn, *args, **kwargs)
        while len(_memo) > KEPT:
            _memo.popitem(last=False)
        return wrapped

    return memoized_maybe_jit


@contextmanager
def memoized() -> Iterator[None]:
    """Memoize ``numpyro.util.maybe_jit`` for the duration of the block, then put NumPyro's back
    (re-entrant: an inner block leaves the outer one's patch in place)."""
    if _active["on"]:
        yield
        return
    original = numpyro.util.maybe_jit
    numpyro.util.maybe_jit = memoize(original)
    _active["on"] = True
    try:
        yield
    finally:
        numpyro.util.maybe_jit = original
        _active["on"] = False
