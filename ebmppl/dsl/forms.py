"""The statement and index forms the parser builds with a check of their shape: a slice step that is the literal 0,
the word before a truncation ``T[lo, hi]``, a recurrence's first values ``with s[0]`` / ``with s[:K]``."""

from __future__ import annotations

from dataclasses import replace

from ..errors import EbmSemanticError, EbmSyntaxError, Span, escaped
from . import ast as A


def nonzero_step(step):
    """A slice step written as the literal 0 is refused here (one from a const, when the model is lowered)."""
    literal = step.operand if isinstance(step, A.UnOp) else step
    if isinstance(literal, A.Num) and literal.value == 0:
        raise EbmSemanticError("a slice step cannot be 0", step.span,
                               "use a positive step (x[::2]), or a negative one to go backwards (x[::-1])")
    return step


def truncation_word(word: str, span: Span) -> None:
    """The word before `[lo, hi]` after a density is `T` (a NAME in the grammar, so that `T` stays a name)."""
    if word != "T":
        raise EbmSyntaxError(f"unexpected '{escaped(word)}' after the distribution", span,
                             "a statement ends after the distribution; to truncate it write T[lo, hi]")


def first_values(name: str, init_span: Span, init_name: str, subs):
    """`with s[0]` -> None (one first value); `with s[:K]` or `s[0:K]` -> K."""
    if init_name != name:
        raise EbmSyntaxError(f"the first values after `with` belong to '{name}', not '{init_name}'", init_span,
                             f"write `with {name}[0] = ...`")
    sub = subs[0] if len(subs) == 1 else None
    if isinstance(sub, A.Num) and sub.is_int and sub.value == 0:
        return None
    if isinstance(sub, A.Slice) and sub.step is None and sub.hi is not None and (
            sub.lo is None or (isinstance(sub.lo, A.Num) and sub.lo.value == 0)):
        return sub.hi
    span = sub.span if sub is not None else subs[-1].span
    raise EbmSyntaxError("a recurrence's first values are the first element or the first K elements", span,
                         f"write `with {name}[0] = ...` or `with {name}[:K] = ...`")


def truncated(dist: A.DistCall, trunc) -> A.DistCall:
    return dist if trunc is None else replace(dist, trunc=trunc)
