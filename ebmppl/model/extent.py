"""Intervals of values: the range of a domain, of a distribution's support or of an expression, and the
interval arithmetic the checker uses to tell what an expression's declared inputs guarantee.

An :class:`Extent` is an interval whose ends are each included or not; an infinite end that is
included means the value itself may be infinite (a literal ``inf``), which no domain allows.

    >>> POSITIVE.within(REAL), REAL.within(POSITIVE)
    (True, False)
    >>> add(POSITIVE, point(1.0)) == Extent(1.0, math.inf)
    True
    >>> mul(neg(POSITIVE), POSITIVE) == Extent(-math.inf, 0.0)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

INF = math.inf


@dataclass(frozen=True)
class Extent:
    """The numbers from ``lo`` to ``hi``; ``lo_in``/``hi_in``: the end itself is one of them."""

    lo: float = -INF
    hi: float = INF
    lo_in: bool = False
    hi_in: bool = False

    def within(self, other: "Extent") -> bool:
        """Every number of this extent is one of ``other``'s."""
        lo_ok = self.lo > other.lo or (self.lo == other.lo and (other.lo_in or not self.lo_in))
        hi_ok = self.hi < other.hi or (self.hi == other.hi and (other.hi_in or not self.hi_in))
        return lo_ok and hi_ok

    def meets(self, other: "Extent") -> bool:
        """Some number is in both extents."""
        if self.lo > other.hi or other.lo > self.hi:
            return False
        if self.lo == other.hi:
            return self.lo_in and other.hi_in
        if other.lo == self.hi:
            return other.lo_in and self.hi_in
        return True

    @property
    def finite(self) -> bool:
        """No number of the extent is infinite."""
        return not ((self.lo_in and math.isinf(self.lo)) or (self.hi_in and math.isinf(self.hi)))

    def holds(self, v: float) -> bool:
        return point(v).within(self)

    def __str__(self) -> str:
        if self == REAL:
            return "a finite number"
        return f"{'[' if self.lo_in else '('}{_num(self.lo)}, {_num(self.hi)}{']' if self.hi_in else ')'}"


def _num(v: float) -> str:
    return "inf" if v == INF else "-inf" if v == -INF else f"{v:g}"


REAL = Extent()
ANY = Extent(-INF, INF, True, True)  # any number, infinities included (1/0, unknown functions)
POSITIVE = Extent(0.0, INF)
NONNEGATIVE = Extent(0.0, INF, True)
UNIT = Extent(0.0, 1.0)
PROBABILITY = Extent(0.0, 1.0, True, True)
BOOLEAN = PROBABILITY


def point(v: float) -> Extent:
    v = float(v)
    return ANY if math.isnan(v) else Extent(v, v, True, True)


def hull(extents: Iterable[Extent]) -> Extent:
    """The smallest extent holding all of them."""
    es = list(extents)
    lo = min(e.lo for e in es)
    hi = max(e.hi for e in es)
    return Extent(lo, hi, any(e.lo_in for e in es if e.lo == lo), any(e.hi_in for e in es if e.hi == hi))


def _safe(f: Callable, *xs) -> float:
    try:
        v = f(*xs)
    except OverflowError:
        return INF
    except (ValueError, ZeroDivisionError):
        return math.nan
    return v


def neg(a: Extent) -> Extent:
    return Extent(-a.hi, -a.lo, a.hi_in, a.lo_in)


def add(a: Extent, b: Extent) -> Extent:
    lo, hi = a.lo + b.lo, a.hi + b.hi
    if math.isnan(lo) or math.isnan(hi):  # inf - inf
        return ANY
    return Extent(lo, hi, a.lo_in and b.lo_in, a.hi_in and b.hi_in)


def _parts(a: Extent) -> list[tuple[int, Extent]]:
    """``a`` cut at 0: (sign, part) with each part's numbers of one sign (the negative part negated)."""
    out = []
    if a.hi > 0:
        out.append((1, Extent(max(a.lo, 0.0), a.hi, a.lo_in if a.lo > 0 else False, a.hi_in)))
    if a.lo < 0:
        out.append((-1, Extent(max(-a.hi, 0.0), -a.lo, a.hi_in if a.hi < 0 else False, a.lo_in)))
    if a.holds(0.0):
        out.append((0, point(0.0)))
    return out


def mul(a: Extent, b: Extent) -> Extent:
    out = []
    for sa, pa in _parts(a):
        for sb, pb in _parts(b):
            if sa == 0 or sb == 0:
                out.append(point(0.0))
                continue
            # both parts hold numbers >= 0 and are not empty; 0 * inf at the low end can only be an open 0
            # times an included inf, whose products are all inf
            lo, lo_in = pa.lo * pb.lo, pa.lo_in and pb.lo_in
            if math.isnan(lo):
                lo, lo_in = INF, True
            p = Extent(lo, pa.hi * pb.hi, lo_in, pa.hi_in and pb.hi_in)
            out.append(p if sa * sb > 0 else neg(p))
    return hull(out)


def inv(a: Extent) -> Extent:
    """1 / a: any number (infinities included) when a may be 0 or has both signs."""
    if a.holds(0.0) or (a.lo < 0 < a.hi):
        return ANY
    if a.lo < 0:
        return neg(inv(neg(a)))
    lo = 0.0 if a.hi == INF else 1 / a.hi  # a.hi > 0: a holds a number above 0
    hi = INF if a.lo == 0 else 0.0 if a.lo == INF else 1 / a.lo
    return Extent(lo, hi, a.hi_in, a.lo_in and a.lo != 0)


def div(a: Extent, b: Extent) -> Extent:
    return mul(a, inv(b))


def increasing(f: Callable[[float], float], a: Extent, lo_at: float = -INF) -> Extent:
    """f(a) for f increasing on [lo_at, inf]; an extent reaching below lo_at gives ANY (NaN there)."""
    if a.lo < lo_at:
        return ANY
    lo, hi = _safe(f, a.lo), _safe(f, a.hi)
    if math.isnan(lo) or math.isnan(hi):
        return ANY
    return Extent(lo, hi, a.lo_in, a.hi_in)


def absolute(a: Extent) -> Extent:
    return hull(p for _, p in _parts(a))


def power(a: Extent, k: float) -> Extent:
    """a ^ k for a number k."""
    if k == 0:
        return point(1.0)
    if k < 0:
        return inv(power(a, -k))
    if k == int(k) and int(k) % 2 == 0:
        return increasing(lambda x: x ** k, absolute(a))
    if k == int(k):
        return hull(increasing(lambda x: x ** k, p) if s >= 0 else neg(increasing(lambda x: x ** k, p))
                    for s, p in _parts(a))
    return increasing(lambda x: x ** k, a, lo_at=0.0)


def maximum(a: Extent, b: Extent) -> Extent:
    """max(x, y) for x in a and y in b."""
    lo = max(a.lo, b.lo)
    lo_in = a.lo_in and b.lo_in if a.lo == b.lo else (a.lo_in if a.lo == lo else b.lo_in)
    hi = max(a.hi, b.hi)
    return Extent(lo, hi, lo_in, (a.hi == hi and a.hi_in) or (b.hi == hi and b.hi_in))


def minimum(a: Extent, b: Extent) -> Extent:
    return neg(maximum(neg(a), neg(b)))


def total(a: Extent) -> Extent:
    """The sum of one or more numbers of ``a`` (their count unknown)."""
    lo, lo_in = (a.lo, a.lo_in) if a.lo >= 0 else (-INF, a.lo_in and a.lo == -INF)
    hi, hi_in = (a.hi, a.hi_in) if a.hi <= 0 else (INF, a.hi_in and a.hi == INF)
    return Extent(lo, hi, lo_in, hi_in)


def product_of(a: Extent) -> Extent:
    """The product of one or more numbers of ``a``."""
    if a.within(POSITIVE):
        return POSITIVE
    if a.within(NONNEGATIVE):
        return NONNEGATIVE
    return REAL if a.finite else ANY
