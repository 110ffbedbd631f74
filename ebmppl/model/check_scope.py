"""What the checker's pieces share: the names declared so far, and small helpers for messages.

The :class:`Scope` holds the checker's tables by reference; :mod:`ebmppl.model.check` fills them
statement by statement, and the expression, declaration, distribution and composition checks
read them.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Optional

from ..dsl import ast as A
from ..errors import EbmSemanticError, Span
from . import library as L
from .spec import Factor, LetDef, Spec


@dataclass(frozen=True)
class Scope:
    """The names a program has declared so far.

    Attributes:
        specs: consts, vars, latents and params, by name.
        lets: ``let`` definitions, by name.
        factors: factors, by name (a `~` statement's factor has a made-up name).
        decl_span: where each declared name (spec or let) was declared.
        loops: the numbers each loop variable in scope counts through (an Extent), for range checks.
        cache: what the range checks found out about each let (lets never change once declared).
        warnings: what is legal but suspicious, for the model's warnings.
    """

    specs: dict[str, Spec] = field(default_factory=dict)
    lets: dict[str, LetDef] = field(default_factory=dict)
    factors: dict[str, Factor] = field(default_factory=dict)
    decl_span: dict[str, Span] = field(default_factory=dict)
    loops: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def known(self) -> list[str]:
        """Every name an expression may read (for "did you mean" hints)."""
        return list(self.specs) + list(self.lets) + list(L.CONSTANTS)

    @contextlib.contextmanager
    def looping(self, var: str, counts):
        """Inside a comprehension: the loop variable ``var`` counts through ``counts`` (an Extent)."""
        outer = self.loops.get(var)
        self.loops[var] = counts
        try:
            yield
        finally:
            if outer is None:
                del self.loops[var]
            else:
                self.loops[var] = outer

    def what(self, name: str) -> str:
        """What a declared name is: its role (``param``), or ``let``."""
        if name in self.specs:
            return self.specs[name].role
        return "let"


def err(msg: str, span: Span, hint: Optional[str] = None) -> EbmSemanticError:
    return EbmSemanticError(msg, span, hint)


def warn(scope: Scope, msg: str) -> None:
    """Something legal but suspicious: a warning now, and one of the model's warnings (``ebmppl check`` shows them)."""
    scope.warnings.append(msg)
    warnings.warn(msg, UserWarning, stacklevel=3)


def find_name(e: A.Node, name: str) -> Optional[Span]:
    """The span of the first occurrence of ``name`` inside ``e`` (in source order), or None."""
    return next((n.span for n in A.walk(e) if isinstance(n, A.Name) and n.id == name), None)


def literal(e) -> Optional[float]:
    """The value of a number literal, signed or not (``3``, ``-0.5``, ``1e999``, ``-inf``); None for anything else."""
    if isinstance(e, A.Num):
        return float(e.value)
    if isinstance(e, A.Name) and e.id == "inf":  # a built-in constant: no declaration can take the name
        return math.inf
    if isinstance(e, A.UnOp) and e.op in "+-":
        v = literal(e.operand) if isinstance(e.operand, (A.Num, A.Name)) else None
        return None if v is None else -v if e.op == "-" else v
    return None
