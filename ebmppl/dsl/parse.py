"""Source text -> AST, with Lark.

The grammar lives in ``ebmppl/grammar/ebm.lark``. One :class:`_Builder`
(a non-recursive Lark ``Transformer``) turns the parse tree into :mod:`ebmppl.dsl.ast`
nodes, each carrying its source span; ``include`` statements are expanded here (files are read by
:mod:`ebmppl.dsl.files`, number literals admitted by :mod:`ebmppl.dsl.literals`, nesting limited by
:mod:`ebmppl.dsl.nesting`). Lark's exceptions become :class:`~ebmppl.errors.EbmSyntaxError` with a
position and a hint (:mod:`ebmppl.dsl.hints`).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedInput, VisitError

from ..errors import EbmError, EbmSyntaxError, Source, Span, escaped
from . import ast as A
from . import forms, literals
from .files import IncludeBudget, include_target, read_source
from .hints import KEYWORDS, STATEMENT_WORDS, syntax_error, token_span
from .nesting import MAX_DEPTH, TooDeep, bracket_depth, check_depth, ensure_stack, too_deep_brackets

__all__ = ["parse", "parse_file", "MAX_DEPTH"]

# Tokens after which a newline does not end the statement.
_CONTINUE_AFTER = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "AT", "CARET", "BAR", "TILDE",
                   "COLON", "COMP_OP", "EQUAL", "COMMA", "AND", "OR", "NOT", "IF", "ELSE", "WITH"}


class _Continuation:
    """Postlexer: drop newlines inside brackets and after a dangling operator.

    A dropped newline is put back when the next line starts with a statement
    keyword, so an unclosed bracket or a dangling operator is reported at the
    end of its own line rather than inside the next statement. Brackets nested
    more than MAX_DEPTH deep stop the parse at the one too many.
    """

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        prev = None
        held = None  # the newline just dropped, if any
        for tok in stream:
            if tok.type == "_NL":
                if depth > 0 or (prev is not None and prev.type in _CONTINUE_AFTER):
                    held = held or tok
                    continue
            elif held is not None and str(tok) in STATEMENT_WORDS:
                yield held  # the statement before is unfinished: the parser reports it there
            held = None
            depth = bracket_depth(depth, tok)
            prev = tok
            yield tok


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("ebmppl").joinpath("grammar/ebm.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_Continuation(),
                propagate_positions=True, maybe_placeholders=True, start="start")


class _Builder(Transformer_NonRecursive):
    """Parse tree -> AST. One method per grammar alias; no meaning added here (but literals are admitted
    and index forms that can never mean anything are refused). Non-recursive: a statement may be a few
    hundred operators deep."""

    def __init__(self, src: Source):
        super().__init__()
        self.src = src

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.src, 1, 1, 1, 1)
        return Span(self.src, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        return token_span(self.src, tok)

    def _new_name(self, tok: Token) -> str:
        """A name being declared: not a reserved word."""
        if str(tok) in KEYWORDS:
            raise EbmSyntaxError(f"'{tok}' is a reserved word and cannot be used as a name", self._tspan(tok),
                                 "choose another name")
        return str(tok)

    # ---- program and statements
    @v_args(meta=True)
    def start(self, meta, items):
        return A.Program(self._span(meta), tuple(items))

    @v_args(meta=True, inline=True)
    def include(self, meta, path):
        return A.Include(self._span(meta), str(path)[1:-1])

    def _decl(self, role, meta, name, typ, init=None, init_dist=None):
        return A.Decl(self._span(meta), role, self._new_name(name), self._tspan(name), typ, init, init_dist)

    @v_args(meta=True, inline=True)
    def const_decl(self, meta, name, typ, default):
        return self._decl("const", meta, name, typ, init=default)

    @v_args(meta=True, inline=True)
    def var_decl(self, meta, name, typ):
        return self._decl("var", meta, name, typ)

    @v_args(meta=True, inline=True)
    def latent_decl(self, meta, name, typ):
        return self._decl("latent", meta, name, typ)

    @v_args(meta=True, inline=True)
    def param_decl(self, meta, name, typ, init):
        if init is None:
            return self._decl("param", meta, name, typ)
        kind, value = init
        if kind == "value":
            return self._decl("param", meta, name, typ, init=value)
        return self._decl("param", meta, name, typ, init_dist=value)

    @v_args(inline=True)
    def init_value(self, expr):
        return ("value", expr)

    @v_args(inline=True)
    def init_dist(self, _tilde, call):
        return ("dist", call)

    @v_args(meta=True, inline=True)
    def let_stmt(self, meta, name, expr):
        return A.Let(self._span(meta), self._new_name(name), self._tspan(name), expr)

    @v_args(meta=True, inline=True)
    def let_rec(self, meta, name, var, start, _colon, stop, body, init_name, subs, init):
        count = forms.first_values(str(name), self._tspan(init_name), str(init_name), subs)
        rec = A.Recurrence(self._span(meta), str(name), self._new_name(var), start, stop, body, init, count)
        return A.Let(self._span(meta), self._new_name(name), self._tspan(name), rec)

    @v_args(meta=True, inline=True)
    def factor_energy(self, meta, name, expr):
        return A.FactorStmt(self._span(meta), self._new_name(name), self._tspan(name), expr)

    @v_args(meta=True, inline=True)
    def factor_tilde(self, meta, name, target, _tilde, dist, trunc):
        return A.TildeStmt(self._span(meta), self._new_name(name), target, forms.truncated(dist, trunc))

    @v_args(meta=True, inline=True)
    def tilde(self, meta, target, _tilde, dist, trunc):
        return A.TildeStmt(self._span(meta), None, target, forms.truncated(dist, trunc))

    @v_args(meta=True, inline=True)
    def truncation(self, meta, word, lo, hi):
        forms.truncation_word(str(word), self._tspan(word))
        return A.Truncation(self._span(meta), lo, hi)

    @v_args(meta=True, inline=True)
    def model_stmt(self, meta, cexpr):
        return A.ModelStmt(self._span(meta), cexpr)

    @v_args(meta=True, inline=True)
    def target_name(self, meta, name):
        return A.Name(self._tspan(name), str(name))

    @v_args(meta=True, inline=True)
    def target_index(self, meta, name, subs):
        return A.Index(self._span(meta), A.Name(self._tspan(name), str(name)), subs)

    @v_args(meta=True, inline=True)
    def type(self, meta, name, args, dims):
        pos, kw = args if args is not None else ((), ())
        return A.TypeExpr(self._span(meta), str(name), pos, kw, tuple(dims) if dims is not None else ())

    @v_args(meta=True, inline=True)
    def dist_call(self, meta, name, args):
        pos, kw = args if args is not None else ((), ())
        return A.DistCall(self._span(meta), str(name), pos, kw)

    # ---- composition
    @v_args(meta=True, inline=True)
    def c_ref(self, meta, name):
        return A.CRef(self._tspan(name), str(name))

    @v_args(meta=True, inline=True)
    def c_product(self, meta, left, _plus, right):
        items = left.items if isinstance(left, A.CProduct) else (left,)
        return A.CProduct(self._span(meta), items + (right,))

    @v_args(meta=True, inline=True)
    def c_temper(self, meta, child, _slash, temp):
        return A.CTemper(self._span(meta), child, temp)

    @v_args(meta=True)
    def c_mixture(self, meta, items):
        items = [i for i in items if i is not None]
        return A.CMixture(self._span(meta), tuple(w for w, _ in items), tuple(c for _, c in items))

    @v_args(inline=True)
    def mix_arg(self, weight, comp):
        return (weight, comp)

    @v_args(meta=True)
    def c_condition(self, meta, items):
        items = [i for i in items if i is not None]
        return A.CCondition(self._span(meta), items[0], tuple(items[1:]))

    # ---- expressions
    @v_args(meta=True, inline=True)
    def number(self, meta, tok):
        text, span = str(tok), self._tspan(tok)
        if text.isdigit():
            return A.Num(span, literals.integer(text, span), True)
        return A.Num(span, literals.real(text, span), False)

    @v_args(meta=True, inline=True)
    def name(self, meta, tok):
        return A.Name(self._tspan(tok), str(tok))

    @v_args(meta=True, inline=True)
    def binop(self, meta, left, op, right):
        return A.BinOp(self._span(meta), str(op), left, right)

    @v_args(meta=True, inline=True)
    def unop(self, meta, op, operand):
        return A.UnOp(self._span(meta), str(op), operand)

    @v_args(meta=True, inline=True)
    def compare(self, meta, left, op, right):
        return A.Compare(self._span(meta), str(op), left, right)

    @v_args(meta=True, inline=True)
    def or_op(self, meta, left, right):
        return A.BoolOp(self._span(meta), "or", left, right)

    @v_args(meta=True, inline=True)
    def and_op(self, meta, left, right):
        return A.BoolOp(self._span(meta), "and", left, right)

    @v_args(meta=True, inline=True)
    def not_op(self, meta, operand):
        return A.Not(self._span(meta), operand)

    @v_args(meta=True, inline=True)
    def ifelse(self, meta, then, cond, orelse):
        return A.IfElse(self._span(meta), cond, then, orelse)

    @v_args(meta=True, inline=True)
    def call(self, meta, name, args):
        pos, kw = args if args is not None else ((), ())
        return A.Call(self._span(meta), str(name), pos, kw, self._tspan(name))

    @v_args(meta=True, inline=True)
    def given_call(self, meta, name, value, _bar, args):
        pos, kw = args
        return A.Call(self._span(meta), str(name), (value,) + pos, kw, self._tspan(name), given=True)

    @v_args(meta=True, inline=True)
    def gen_call(self, meta, name, body, comp):
        var, it = comp
        return A.GenCall(self._span(meta), str(name), A.Comprehension(self._span(meta), body, var, it),
                         self._tspan(name))

    @v_args(meta=True, inline=True)
    def comprehension(self, meta, body, comp):
        var, it = comp
        return A.Comprehension(self._span(meta), body, var, it)

    @v_args(inline=True)
    def comp_for(self, name, it):
        return (self._new_name(name), it)

    @v_args(meta=True, inline=True)
    def array(self, meta, items):
        return A.Array(self._span(meta), tuple(items) if items is not None else ())

    def exprlist(self, items):
        return tuple(i for i in items if i is not None)

    def arglist(self, items):
        items = [i for i in items if i is not None]
        pos = tuple(i for i in items if not isinstance(i, A.KwArg))
        kw = tuple(i for i in items if isinstance(i, A.KwArg))
        return (pos, kw)

    @v_args(meta=True, inline=True)
    def kwarg(self, meta, name, value):
        return A.KwArg(self._span(meta), str(name), value)

    @v_args(meta=True, inline=True)
    def index(self, meta, value, subs):
        return A.Index(self._span(meta), value, subs)

    def subscripts(self, items):
        subs = tuple(i for i in items if i is not None)
        ellipses = [s for s in subs if isinstance(s, A.EllipsisIndex)]
        if len(ellipses) > 1:
            raise EbmSyntaxError("an index has at most one '...'", ellipses[1].span,
                                 "remove the second '...': one stands for all the axes not named")
        return subs

    @v_args(meta=True)
    def slice(self, meta, items):
        # items: lo, COLON, hi, COLON-or-None, step
        lo, _c1, hi, _c2, step = (list(items) + [None] * 5)[:5]
        return A.Slice(self._span(meta), lo, hi, forms.nonzero_step(step))

    @v_args(meta=True)
    def newaxis(self, meta, items):
        return A.NewAxis(self._span(meta))

    @v_args(meta=True, inline=True)
    def ellipsis(self, meta, tok):
        return A.EllipsisIndex(self._tspan(tok))


def parse(text: str, name: str = "<string>", *, _resolve_includes=True, _stack=(), _budget=None) -> A.Program:
    """Parse .ebm source text into a :class:`~ebmppl.dsl.ast.Program`.

    ``include "file.ebm"`` statements are replaced by the included file's statements (a .ebm file in the
    including file's folder or below it; cycles are errors). A leading byte-order mark is dropped.

    Raises:
        EbmSyntaxError: with the line, column and a hint.
    """
    text = text[1:] if text.startswith("\ufeff") else text
    src = Source(name, text)
    body = text if text.endswith("\n") else text + "\n"
    try:
        tree = _parser().parse(body)
        ensure_stack(check_depth(src, tree))
        prog = _Builder(src).transform(tree)
    except TooDeep as err:
        raise too_deep_brackets(src, err.token) from None
    except UnexpectedInput as err:
        raise syntax_error(src, err) from None
    except VisitError as err:  # an error raised while building the AST
        if isinstance(err.orig_exc, EbmError):
            raise err.orig_exc from None
        raise
    if _resolve_includes:
        key = str(Path(name).resolve()) if name[:1] != "<" and "\0" not in name else name
        prog = _expand_includes(prog, src, _stack + (key,), _budget or IncludeBudget())
    return prog


def _expand_includes(prog: A.Program, src: Source, stack, budget: IncludeBudget) -> A.Program:
    out = []
    for st in prog.stmts:
        if not isinstance(st, A.Include):
            out.append(st)
            continue
        base = Path(src.name).parent if src.name[:1] != "<" else Path.cwd()
        real = include_target(base, st.path, st.span)
        key = str(real)
        if key in stack:
            others = len(set(stack[stack.index(key):])) - 1
            through = f" through {others} other file{'s' if others > 1 else ''}" if others else ""
            raise EbmSyntaxError(f"'{escaped(st.path)}' includes itself{through}", st.span,
                                 "remove the circular include")
        shown = _display(base / st.path)
        try:
            text = read_source(real, "included file", shown, st.span)
        except FileNotFoundError:
            raise EbmSyntaxError(f"included file '{escaped(st.path)}' not found", st.span,
                                 f"paths are relative to the including file's folder ({escaped(str(base))})") from None
        budget.spend(len(text), st.span)
        sub = parse(text, str(base / st.path) if src.name[:1] == "<" else shown, _stack=stack + (key,),
                    _budget=budget)
        out.extend(sub.stmts)
    return A.Program(prog.span, tuple(out))


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_file(path) -> A.Program:
    """Read and parse a .ebm file (UTF-8, a regular file of at most 1 MiB; see :mod:`ebmppl.dsl.files`)."""
    try:
        text = read_source(path, "model file")
    except FileNotFoundError:
        raise EbmError("io", f"model file '{escaped(str(path))}' not found") from None
    return parse(text, str(path))
