"""Number literals: the text of a number in a model becomes a value only if some number type can hold it.

An integer must fit in 64 bits; a real must be finite. Both are refused at the literal's span
(``error[limit]``), with the number shown shortened, before Python converts thousands of digits. Whether the
value fits the precision in use (int32 or int64, float32 or float64) is decided when the model is lowered,
which knows it. A real that becomes 0 in every precision (``1e-999``) is loaded with a warning that says so.
"""

from __future__ import annotations

import math
import warnings

from ..errors import EbmError, Span

INT_MAX = 2**63 - 1  # the largest integer literal: int64's (the lowering makes one beyond int32 a real)


def shown(text: str) -> str:
    """A number as messages show it: long ones cut in the middle, with their number of digits."""
    if len(text) <= 40:
        return text
    digits = sum(c.isdigit() for c in text)
    return f"{text[:12]}...{text[-6:]} ({digits} digits)"


def integer(text: str, span: Span) -> int:
    """An integer literal (digits only), refused if no integer type holds it."""
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(INT_MAX)) or int(digits) > INT_MAX:  # never converts thousands of digits
        raise EbmError("limit", f"integer {shown(text)} is too large: no integer type holds it (the largest is "
                       f"{INT_MAX})", span, "write a large constant as a real number, with an exponent (e.g. 2.5e30)")
    return int(digits)


def real(text: str, span: Span) -> float:
    """A real literal, refused if infinite; one that is not 0 but becomes 0 warns."""
    value = float(text)  # no digit limit for floats: 5000 digits give inf, refused below
    if math.isinf(value):
        raise EbmError("limit", f"number {shown(text)} is too large for a real: it would be infinite", span,
                       "the largest real is about 1.8e308 (3.4e38 in float32, the default); write a smaller "
                       "number, or work on a log scale")
    if value == 0.0 and any(c in "123456789" for c in text.lower().split("e")[0]):
        warnings.warn(f"{span.file}:{span.line}:{span.col}: number {shown(text)} is smaller than the smallest "
                      "real and becomes 0; write 0 if that is meant, or work on a log scale", UserWarning,
                      stacklevel=2)
    return value
