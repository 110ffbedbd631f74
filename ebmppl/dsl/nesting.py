"""How deep model text nests, and its limits: brackets at most 200 deep, a statement at most 600 operations deep.

Brackets are parentheses, calls, lists and indexing (:data:`MAX_DEPTH`); in a statement's tree
(:data:`MAX_OPERATIONS`) a chain ``a + b + c`` counts one level per operator.

A flat sum of a few hundred terms is fine; what is refused is refused with a syntax error, found without
recursion, never by a ``RecursionError``. The checker, the lowering and the JAX trace after the parser walk the
tree recursively, a few Python frames a level: :func:`ensure_stack` raises Python's recursion limit to what the
deepest statement allowed here needs (a few thousand frames at most, well within the C stack).
"""

from __future__ import annotations

import sys

from lark import Token, Tree

from ..errors import EbmSyntaxError, Source, Span
from .hints import CLOSE

MAX_DEPTH = 200  # brackets nested in one another
MAX_OPERATIONS = 600  # levels of one statement's tree, each operator of a chain one level
_FRAMES_PER_LEVEL = 5  # the most Python frames a recursive pass takes a level (the checker: 4 a call)
_FRAMES_SPARE = 500  # for the callers: the command line, the sampler, a test runner
_OPEN = {"LPAR", "LSQB"}
_LISTS = {"arglist", "exprlist", "subscripts"}  # tuples in the AST: no level of their own
_CHAINS = {"binop", "compare", "or_op", "and_op", "ifelse", "c_product"}


class TooDeep(Exception):
    """Raised by the postlexer at the bracket that opens one level too many (the parser makes it a message)."""

    def __init__(self, token: Token):
        super().__init__(str(token))
        self.token = token


def bracket_depth(depth: int, tok: Token) -> int:
    """The bracket depth after ``tok``; raises :class:`TooDeep` past :data:`MAX_DEPTH`."""
    if tok.type in _OPEN:
        depth += 1
        if depth > MAX_DEPTH:
            raise TooDeep(tok)
        return depth
    if tok.type in CLOSE:
        return max(0, depth - 1)
    return depth


def too_deep_brackets(src: Source, tok: Token) -> EbmSyntaxError:
    span = Span(src, tok.line, tok.column, tok.line, tok.column + 1)
    return EbmSyntaxError(f"brackets are nested more than {MAX_DEPTH} levels deep", span,
                          "name an inner part with `let` and use the name, or sum an array with sum(...)")


def _span(src: Source, tree: Tree) -> Span:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return Span(src, 1, 1, 1, 2)
    return Span(src, meta.line, meta.column, meta.end_line, meta.end_column)


def check_depth(src: Source, tree: Tree) -> int:
    """Refuse a statement more than :data:`MAX_OPERATIONS` levels deep (iteratively: no recursion here);
    returns the depth of the deepest statement."""
    deepest = 0
    for stmt in tree.children:
        if not isinstance(stmt, Tree):
            continue
        stack = [(stmt, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_OPERATIONS:
                raise _too_deep(src, stmt)
            deepest = max(deepest, depth)
            stack.extend((c, depth if c.data in _LISTS else depth + 1) for c in node.children if isinstance(c, Tree))
    return deepest


def _longest_chain(stmt: Tree) -> int:
    """The most operators in a row (``a + b - c`` is two) anywhere in a statement."""
    longest, stack = 0, [(stmt, 0)]
    while stack:
        node, run = stack.pop()
        longest = max(longest, run)
        for c in node.children:
            if isinstance(c, Tree):
                stack.append((c, run + 1 if c.data == node.data and c.data in _CHAINS else
                              1 if c.data in _CHAINS else 0))
    return longest


def _too_deep(src: Source, stmt: Tree) -> EbmSyntaxError:
    hint = "sum an array with sum(...), or split the statement with `let`: name a part and use the name"
    chain = _longest_chain(stmt)
    if 2 * chain > MAX_OPERATIONS:
        return EbmSyntaxError(f"this expression chains {chain} operators in a row; ebmppl compiles statements at "
                              f"most {MAX_OPERATIONS} operations deep", _span(src, stmt), hint)
    return EbmSyntaxError(f"this statement is nested more than {MAX_OPERATIONS} operations deep", _span(src, stmt),
                          hint)


def ensure_stack(depth: int) -> None:
    """Let the recursive passes after the parser (checker, lowering, tracing) walk a tree ``depth`` levels deep:
    raise Python's recursion limit if it is lower than they need (never lower it)."""
    need = _FRAMES_PER_LEVEL * depth + _FRAMES_SPARE
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
