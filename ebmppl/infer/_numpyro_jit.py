"""Keep NumPyro's ``MCMC.run`` from retracing its sampling loop on every run.

``numpyro.util.fori_collect`` (0.22) wraps its cached body function in a fresh
``jax.jit`` on every call (``@partial(maybe_jit, donate_argnums=2)`` outside
``@cached_by``) and passes that wrapper as a *static* argument of the jitted
loop. Two wrappers of one function are different static values, so JAX's
tracing cache misses and every ``run()`` of the same ``MCMC`` object traces
and lowers the whole sampling loop again (0.08 s for a small MALA run, 0.15 s
for NUTS on eight schools, on a 2-core CPU). NumPyro fixed the sibling miss of
the loop wrapper in pyro-ppl/numpyro#2171; this one remains in 0.22.

:func:`install` memoizes ``numpyro.util.maybe_jit``: the same function with the
same jit options gets the same wrapper (a bounded LRU, so closures created per
call cannot pile up). A jit wrapper is a pure function of its function and
options, so this changes no result, only whether JAX finds its cached trace.
Only ``numpyro.util``'s own calls are affected (other modules bound the name at
import).
"""

from __future__ import annotations

from collections import OrderedDict

import numpyro.util

KEPT = 64
_memo: "OrderedDict[tuple, object]" = OrderedDict()
_original = None


def _memoized_maybe_jit(fn, *args, **kwargs):
    try:
        key = (fn, args, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:  # unhashable options: no memo
        return _original(fn, *args, **kwargs)
    hit = _memo.get(key)
    if hit is not None:
        _memo.move_to_end(key)
        return hit
    wrapped = _memo[key] = _original(fn, *args, **kwargs)
    while len(_memo) > KEPT:
        _memo.popitem(last=False)
    return wrapped


def install() -> None:
    """Memoize ``numpyro.util.maybe_jit`` (idempotent)."""
    global _original
    if _original is None:
        _original = numpyro.util.maybe_jit
        numpyro.util.maybe_jit = _memoized_maybe_jit
