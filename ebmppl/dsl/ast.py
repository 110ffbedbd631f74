"""The abstract syntax tree of the .ebm language.

Every node is a frozen dataclass carrying a :class:`~ebmppl.errors.Span`, so
any later stage (checker, lowering) can point at the user's source. The AST
knows nothing about Lark or JAX; the checker reads it and the lowering turns
its expressions into JAX functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Iterator, Optional

from ..errors import Span


@dataclass(frozen=True)
class Node:
    span: Span = field(repr=False, compare=False)


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr(Node):
    pass


@dataclass(frozen=True)
class Num(Expr):
    value: float | int
    is_int: bool


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class BinOp(Expr):
    op: str  # + - * / % @ ^
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnOp(Expr):
    op: str  # + -
    operand: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str  # and / or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class IfElse(Expr):
    cond: Expr
    then: Expr
    orelse: Expr


@dataclass(frozen=True)
class KwArg(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]
    func_span: Span = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    given: bool = False  # written `f(y | a, b)`: the first argument is the value


@dataclass(frozen=True)
class Comprehension(Expr):
    body: Expr
    var: str
    iter: Expr  # a call to range(...)


@dataclass(frozen=True)
class GenCall(Expr):
    """`sum(body for i in range(n))`: a reduction over a comprehension."""

    func: str
    comp: Comprehension
    func_span: Span = field(repr=False, compare=False, default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class Recurrence(Expr):
    """`let s[t in start:stop] = body with s[0] = init`: the values s[0], ..., s[stop - 1], each from earlier ones.

    ``body`` reads ``var`` and earlier values ``name[var - k]``; ``init`` gives the first values: one
    (``with s[0] = ...``, ``count`` None) or ``count`` of them stacked (``with s[:K] = ...``).
    """

    name: str
    var: str
    start: Expr
    stop: Expr
    body: Expr
    init: Expr
    count: Optional[Expr] = None


@dataclass(frozen=True)
class Array(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Slice(Node):
    lo: Optional[Expr]
    hi: Optional[Expr]
    step: Optional[Expr]


@dataclass(frozen=True)
class NewAxis(Node):
    pass


@dataclass(frozen=True)
class EllipsisIndex(Node):
    pass


@dataclass(frozen=True)
class Index(Expr):
    value: Expr
    subs: tuple[Node, ...]  # Expr | Slice | NewAxis | EllipsisIndex


# ------------------------------------------------------- composition (model =)
@dataclass(frozen=True)
class CExpr(Node):
    pass


@dataclass(frozen=True)
class CRef(CExpr):
    name: str


@dataclass(frozen=True)
class CProduct(CExpr):
    items: tuple[CExpr, ...]


@dataclass(frozen=True)
class CTemper(CExpr):
    child: CExpr
    temperature: Expr


@dataclass(frozen=True)
class CMixture(CExpr):
    weights: tuple[Expr, ...]
    components: tuple[CExpr, ...]


@dataclass(frozen=True)
class CCondition(CExpr):
    child: CExpr
    bindings: tuple[KwArg, ...]


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class TypeExpr(Node):
    domain: str
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]
    dims: tuple[Expr, ...]


@dataclass(frozen=True)
class Truncation(Node):
    """`T[lo, hi]` after a density: the distribution restricted to [lo, hi]; a bound left out is None."""

    lo: Optional[Expr]
    hi: Optional[Expr]


@dataclass(frozen=True)
class DistCall(Node):
    name: str
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]
    trunc: Optional[Truncation] = None  # `~ dist(...) T[lo, hi]`


@dataclass(frozen=True)
class Stmt(Node):
    pass


@dataclass(frozen=True)
class Include(Stmt):
    path: str


@dataclass(frozen=True)
class Decl(Stmt):
    role: str  # const | var | latent | param
    name: str
    name_span: Span = field(repr=False, compare=False)
    type: TypeExpr = None  # type: ignore[assignment]
    init: Optional[Expr] = None  # `= expr` (param initial value, const default)
    init_dist: Optional[DistCall] = None  # `~ dist(...)` (param initializer)


@dataclass(frozen=True)
class Let(Stmt):
    name: str
    name_span: Span = field(repr=False, compare=False)
    expr: Expr = None  # type: ignore[assignment]


@dataclass(frozen=True)
class FactorStmt(Stmt):
    """`factor NAME = expr`: an energy term."""

    name: str
    name_span: Span = field(repr=False, compare=False)
    expr: Expr = None  # type: ignore[assignment]


@dataclass(frozen=True)
class TildeStmt(Stmt):
    """`target ~ dist(...)` or `factor NAME : target ~ dist(...)`."""

    name: Optional[str]
    target: Expr  # Name or Index of a Name
    dist: DistCall


@dataclass(frozen=True)
class ModelStmt(Stmt):
    expr: CExpr


@dataclass(frozen=True)
class Program(Node):
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True)
class Literal(Expr):
    """A constant array given from Python (the decorator front end)."""

    value: object = field(compare=False)

    def __repr__(self):
        import numpy as np
        return f"Literal({np.asarray(self.value).tolist()!r})"


# ------------------------------------------------------------------ traversal
def children(node: Node) -> tuple[Node, ...]:
    """The child nodes of ``node``, in field order: every field that holds a node or a tuple of nodes.

    Every pass walks the tree through this one function (or :func:`walk`), so a new node type is
    seen by all of them. Anything that is not a :class:`Node` is an error, never skipped.

    Example:
        >>> [type(c).__name__ for c in children(BinOp(None, "+", Num(None, 1, True), Name(None, "x")))]
        ['Num', 'Name']
    """
    if not isinstance(node, Node):
        raise TypeError(f"not an AST node: {type(node).__name__}")
    out: list[Node] = []
    for f in fields(node):
        if f.name == "span" or f.name.endswith("_span"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, Node):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(x for x in v if isinstance(x, Node))
    return tuple(out)


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node`` (``node`` first), depth first in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def free_names(node: Optional[Node], is_builtin: Callable[[str], bool] = lambda name: False,
               bound: frozenset = frozenset()) -> set[str]:
    """The names an expression reads: not loop variables, and not functions ``is_builtin`` knows.

    A call of a name that is not built in (an ``mlp`` param called as a function) reads that name.
    """
    out: set[str] = set()
    stack = [(node, frozenset(bound))] if node is not None else []
    while stack:  # no recursion: a statement may be a few hundred operators deep
        e, inner = stack.pop()
        if isinstance(e, Name):
            if e.id not in inner:
                out.add(e.id)
            continue
        if isinstance(e, Call) and e.func != "range" and not is_builtin(e.func):
            out.add(e.func)
        if isinstance(e, Comprehension):
            stack.append((e.iter, inner))
            stack.append((e.body, inner | {e.var}))
            continue
        if isinstance(e, Recurrence):  # the body reads the loop variable and the recurrence's earlier values
            stack.extend((c, inner) for c in (e.start, e.stop, e.init, e.count) if c is not None)
            stack.append((e.body, inner | {e.var, e.name}))
            continue
        stack.extend((c, inner) for c in children(e))
    return out


def recurrence_lags(e: Recurrence) -> dict[int, int]:
    """``id(name node) -> k`` for each read ``s[t - k]`` of a recurrence's own values in its body, k an int literal
    (``s[t]`` is 0, ``s[t + 1]`` is -1); reads of another form are left out."""
    lags = {}
    for n in walk(e.body):
        if isinstance(n, Index) and isinstance(n.value, Name) and n.value.id == e.name and n.subs:
            k = _lag(n.subs[0], e.var)
            if k is not None:
                lags[id(n.value)] = k
    return lags


def _lag(sub: Node, var: str) -> Optional[int]:
    if isinstance(sub, Name) and sub.id == var:
        return 0
    if (isinstance(sub, BinOp) and sub.op in "+-" and isinstance(sub.left, Name) and sub.left.id == var
            and isinstance(sub.right, Num) and sub.right.is_int):
        return int(sub.right.value) * (1 if sub.op == "-" else -1)
    return None
