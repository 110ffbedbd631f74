"""Admitting the numeric keywords of :func:`~ebmppl.report.fit_report` and :func:`~ebmppl.report.mmd_test`: one
table (keyword -> a domain of the domain table, tested by :func:`ebmppl.model.admit.require`, with the range the
report needs), so ``draws=nan`` or ``permutations=10**12`` is an ``error[report]`` before anything is sampled.

    >>> admit(draws=3)
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmError: error[report]: draws= must be a whole number from 4 to 1000000; got 3
       = help: R-hat needs at least 4 draws per chain
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..errors import EbmError
from ..model.admit import require


class Keyword(NamedTuple):
    kind: str
    least: int
    most: int
    hint: Optional[str] = None


_MANY = 10**6  # more chains, draws or relabellings than a report ever needs (and a matrix of that many rows)
KEYWORDS = {
    "n_samples": Keyword("size", 2, _MANY, "the model draws compared with the data, e.g. 512"),
    "max_rows": Keyword("size", 2, _MANY, "the data rows compared, e.g. 512"),
    "draws": Keyword("size", 4, _MANY, "R-hat needs at least 4 draws per chain"),
    "thin": Keyword("size", 1, _MANY, "keep every THIN-th state, e.g. 5"),
    "warmup": Keyword("count", 0, 10**8, "warmup steps per chain, e.g. 200"),
    "persistent_chains": Keyword("count", 0, _MANY, "pcd's persistent chains to continue, e.g. 64 (0: none)"),
    "permutations": Keyword("size", 1, _MANY, "relabellings for the p-value, e.g. 200"),
}


def admit(**given) -> dict:
    """The keywords as whole numbers when each is inside its range (:data:`KEYWORDS`); ``bandwidth`` a positive
    number or None. Otherwise an ``error[report]`` naming the keyword, its range and the value."""
    out = {}
    for name, value in given.items():
        if name == "bandwidth":
            out[name] = None if value is None else require(value, "positive", what="bandwidth=", error="report",
                                                           hint="a kernel length scale, or None for the median "
                                                                "heuristic")
            continue
        k = KEYWORDS[name]
        legal = f"a whole number from {k.least} to {k.most}"
        try:
            number = require(value, k.kind, what=f"{name}=", error="report")
        except EbmError:
            number = None
        if number is None or not k.least <= number <= k.most:
            raise EbmError("report", f"{name}= must be {legal}; got {value!r}", hint=k.hint)
        out[name] = number
    return out
