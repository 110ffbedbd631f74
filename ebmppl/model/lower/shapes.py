"""Shapes of values and the shape errors the compiled closures raise at a source span."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

import numpy as np

from ...errors import EbmError, EbmShapeError
from .. import library as L


@dataclass(frozen=True)
class Fmt:
    """Renders shapes for messages, naming the placeholder sizes of unbound consts.

    ``Fmt({1009: 'N'})((1009, 3))`` is ``'[N, 3]'``.
    """

    names: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))

    def __call__(self, shape) -> str:
        return "[" + ", ".join(self.names.get(int(d), str(d)) for d in shape) + "]"


def shape_of(x) -> tuple:
    """The shape of an array or a Python number (``()``)."""
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def short(ex) -> Optional[str]:
    """The first line of a JAX error, as a hint under ebmppl's own message."""
    msg = str(ex).strip().splitlines()
    return f"JAX says: {msg[0][:200]}" if msg else None


def checked(fn, span, what, fa, fb, fmt):
    """``fn`` with a JAX broadcasting failure re-raised as a shape error at ``span``."""
    def g(env):
        try:
            return fn(env)
        except EbmError:
            raise
        except (TypeError, ValueError) as ex:
            sa, sb = shape_of(fa(env)), shape_of(fb(env))
            raise EbmShapeError(f"shape mismatch in {what}: {fmt(sa)} and {fmt(sb)} do not broadcast", span,
                                short(ex)) from None
    return g


def check_value_shape(d, y, info: L.DistInfo, fmt, span, what) -> tuple:
    """The broadcast batch shape of distribution ``d`` and its value ``y``; raises where they do not fit."""
    ys = shape_of(y)
    ev = tuple(d.event_shape)
    bs = tuple(d.batch_shape)
    if ev and ys[len(ys) - len(ev):] != ev:
        raise EbmShapeError(f"{info.name} is over vectors of shape {fmt(ev)}, but the value has shape {fmt(ys)}", span)
    yb = ys[: len(ys) - len(ev)]
    try:
        full = np.broadcast_shapes(yb, bs)
    except ValueError:
        raise EbmShapeError(f"shape mismatch in {what}: the value has shape {fmt(ys)}, the distribution "
                            f"{fmt(bs + ev)}", span, "sizes must match or be 1 (NumPy broadcasting)") from None
    return full


def text_of(span) -> Optional[str]:
    """The source text a one-line span covers (``x[i + 1]``), or None."""
    if span is None or span.end_line != span.line or not span.source.text:
        return None
    text = span.source.line(span.line)[span.col - 1: span.end_col - 1].strip()
    return text or None
