"""Limits on what the lowering computes: an array's bytes estimated from its shape before it is
allocated, and integer arithmetic checked against the integer type JAX uses (int32 unless float64
is on).

    >>> check_array((100000, 100000), np.float32, "'x'", None)
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmError: 'x' would need 37.3 GiB (10,000,000,000 elements of float32), more than the 2 GiB ebmppl allocates for one array
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import EbmError, Span
from ...settings import float_dtype

MAX_ARRAY_BYTES = 2 * 2**30  # one array: a declaration, a const, an intermediate value, an mlp's weights


def int_dtype() -> type:
    """The integer type JAX computes with: int64 when float64 is on, else int32."""
    return np.int64 if np.dtype(float_dtype()) == np.float64 else np.int32


def gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.3g} MiB"


def check_array(shape, dtype, what: str, span, hint: str = "declare smaller sizes") -> int:
    """The number of elements of an array of ``shape``; an ``error[limit]`` when it would need more than
    :data:`MAX_ARRAY_BYTES` (computed with Python integers, so no product overflows)."""
    n = math.prod(int(d) for d in shape)
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise EbmError("limit", f"{what} would need {gib(nbytes)} ({n:,} elements of {np.dtype(dtype).name}), "
                                f"more than the {MAX_ARRAY_BYTES // 2**30} GiB ebmppl allocates for one array",
                       span, hint)
    return n


def check_int(exact, what: str, span: Span | None) -> None:
    """``exact`` (Python or float64 numbers) fits the integer type used; an ``error[limit]`` otherwise."""
    info = np.iinfo(int_dtype())
    x = np.asarray(exact, dtype=np.float64)
    bad = np.argwhere(~((x >= info.min) & (x <= info.max)))
    if len(bad):
        v = x[tuple(bad[0])] if x.ndim else x
        raise EbmError("limit", f"{what} is {v:,.0f}, beyond the {info.dtype.name} range "
                                f"({info.min:,} to {info.max:,})", span,
                       "use smaller numbers" + ("" if info.dtype == np.int64 else
                                                ", or compute in 64 bits (--x64, ebmppl.config(x64=True))"))
