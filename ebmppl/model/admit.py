"""Admitting a value where it enters ebmppl — a command-line option, a keyword argument, a number read
from a file — by the one test the domain table gives (:func:`ebmppl.model.domains.contains`).

    >>> require(1e-3, "positive", what="--lr")
    0.001
    >>> require(0, "size", what="--chains")
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmError: error[usage]: --chains must be a whole number, 1 or more; got 0
"""

from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

from ..errors import EbmError
from . import domains


def require(value, kind: str, args=(), *, what: str, error: str = "usage", hint: Optional[str] = None):
    """``value`` as a Python number when it is a finite number inside the domain ``kind(args)``; otherwise an
    :class:`EbmError` of kind ``error`` that names ``what`` (``--lr``, ``lr=``), the domain and the value.

    Booleans are not numbers here (``True`` as a learning rate is a mistake, not 1)."""
    row = domains.lookup(kind)
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        number = float(value)
        ok = math.isfinite(number) and bool(domains.contains(kind, tuple(args), number))
    if not ok:
        described = row.described if not args else f"a number inside {domains.Domain(kind, tuple(args))}"
        raise EbmError(error, f"{what} must be {described}; got {value!r}", hint=hint)
    return int(round(float(value))) if row.integer else float(value)
