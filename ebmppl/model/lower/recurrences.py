"""Compiling recurrences ``let s[t in a:b] = body with s[0] = init`` to one ``jax.lax.scan``.

The checker has proved that the body reads ``s`` only as ``s[t - k]`` with k ≥ 1, and here k is at most the number
of first values K. So the scan carries only the last K values (a window, oldest first): each read ``s[t - k]`` of
the body is rewritten to a name bound to ``window[K - k]``, step ``t`` computes ``s[t]`` and shifts it into the
window, and the scan's outputs after the first values are ``s``. Reverse-mode gradients go through
``lax.scan``'s own transpose, as for a hand-written scan.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...dsl import ast as A
from ...errors import EbmSemanticError, EbmShapeError
from ...settings import float_dtype
from . import limits
from .shapes import shape_of

if TYPE_CHECKING:
    from .compiler import Compiler


def recurrence(c: "Compiler", e: A.Recurrence):
    """``env -> s``: an array of ``stop`` values along its first axis."""
    start, stop = c.static(e.start, "the start of a recurrence"), c.static(e.stop, "the end of a recurrence")
    first = 1 if e.count is None else c.static(e.count, "the number of first values")
    written = f"{e.name}[0]" if e.count is None else f"{e.name}[:{first}]"
    if first != start:
        raise EbmSemanticError(f"`with {written}` gives {first} first value{'s' if first != 1 else ''}, but the "
                               f"recurrence starts at {e.var} = {start}", e.init.span,
                               f"start the recurrence at {e.var} in {first}:..., or give the first {start} values "
                               f"with `with {e.name}[:{start}] = ...`")
    if stop <= start:
        raise EbmSemanticError(f"the recurrence {e.var} in {start}:{stop} computes no value", e.stop.span,
                               f"the end must be above the start ({start})")
    limits.check_array((stop,), np.int32, f"{e.name}[{e.var} in {start}:{stop}]", e.span, "use a smaller range")
    lags = A.recurrence_lags(e)
    for node in A.walk(e.body):
        k = lags.get(id(node))
        if k is not None and k > start:
            raise EbmSemanticError(f"{e.name}[{e.var} - {k}] reads before {e.name}[0] at {e.var} = {start}", node.span,
                                   f"give the first {k} values (`with {e.name}[:{k}] = ...`, the recurrence "
                                   f"starting at {e.var} in {k}:...)")
    body = c.within(e.var, np.arange(start, stop, dtype=np.int32)).compile(_windowed(e.body, e, lags))
    init = c.compile(e.init)
    var, fmt, span = e.var, c.fmt, e.span
    one = e.count is None
    lag_names = {k: _lag_name(e.name, k) for k in set(lags.values())}

    def run(env):
        v0 = jnp.asarray(init(env), dtype=float_dtype())
        v0 = v0[None] if one else v0
        if v0.ndim == 0 or v0.shape[0] != first:
            raise EbmShapeError(f"`with {written}` needs {first} first values along the first axis, got shape "
                                f"{fmt(shape_of(v0))}", span, f"give a value of shape [{first}, ...]")
        elem = tuple(v0.shape[1:])

        def step(window, t):  # window: the last `first` values, oldest first
            v = jnp.asarray(body({**env, var: t, **{n: window[first - k] for k, n in lag_names.items()}}))
            if shape_of(v) != elem:
                raise EbmShapeError(f"the recurrence computes {e.name}[{var}] of shape {fmt(shape_of(v))}, but its "
                                    f"first value{'s have' if not one else ' has'} shape {fmt(elem)}", span,
                                    "each step must compute a value of the shape of the first value")
            v = v.astype(window.dtype)
            return jnp.concatenate([window[1:], v[None]]), v

        _, rest = lax.scan(step, v0, jnp.arange(start, stop, dtype=limits.int_dtype()))
        return jnp.concatenate([v0, rest])
    return run


def _lag_name(name: str, k: int) -> str:
    """The name the body reads ``name[t - k]`` by: not a name a model can declare."""
    return f"{name}[-{k}]"


def _windowed(node, e: A.Recurrence, lags: dict):
    """The body with each read ``s[t - k, rest...]`` replaced by ``s[-k][rest...]`` (a name bound to that value)."""
    if isinstance(node, A.Index) and id(node.value) in lags:
        name = A.Name(node.value.span, _lag_name(e.name, lags[id(node.value)]))
        rest = tuple(_windowed(s, e, lags) for s in node.subs[1:])
        return A.Index(node.span, name, rest) if rest else name
    if not isinstance(node, A.Node):
        return node
    changes = {}
    for f in fields(node):
        v = getattr(node, f.name)
        if isinstance(v, A.Node):
            changes[f.name] = _windowed(v, e, lags)
        elif isinstance(v, tuple) and any(isinstance(x, A.Node) for x in v):
            changes[f.name] = tuple(_windowed(x, e, lags) for x in v)
    return replace(node, **changes) if changes else node
