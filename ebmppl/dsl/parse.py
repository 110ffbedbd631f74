"""Source text -> AST, with Lark.

The grammar lives in ``ebmppl/grammar/ebm.lark``. One :class:`_Builder`
(a Lark ``Transformer``) turns the parse tree into :mod:`ebmppl.dsl.ast`
nodes, each carrying its source span. Lark's exceptions become
:class:`~ebmppl.errors.EbmSyntaxError` with a position and a hint.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Optional

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from ..errors import EbmError, EbmSyntaxError, Source, Span, did_you_mean
from . import ast as A

# Tokens after which a newline does not end the statement.
_CONTINUE_AFTER = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "AT", "CARET", "BAR", "TILDE",
                   "COLON", "COMP_OP", "EQUAL", "COMMA", "AND", "OR", "NOT", "IF", "ELSE"}
_OPEN = {"LPAR", "LSQB"}
_CLOSE = {"RPAR", "RSQB"}
# Words that start a statement; a line starting with one never continues the line before.
_STATEMENT_WORDS = {"include", "const", "var", "latent", "param", "let", "factor", "model"}


class _Continuation:
    """Postlexer: drop newlines inside brackets and after a dangling operator.

    A dropped newline is put back when the next line starts with a statement
    keyword, so an unclosed bracket or a dangling operator is reported at the
    end of its own line rather than inside the next statement.
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
            elif held is not None and str(tok) in _STATEMENT_WORDS:
                yield held  # the statement before is unfinished: the parser reports it there
            held = None
            if tok.type in _OPEN:
                depth += 1
            elif tok.type in _CLOSE:
                depth = max(0, depth - 1)
            prev = tok
            yield tok


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("ebmppl").joinpath("grammar/ebm.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_Continuation(),
                propagate_positions=True, maybe_placeholders=True, start="start")


def _tok_span(src: Source, tok: Token) -> Span:
    return Span(src, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)


class _Builder(Transformer):
    """Parse tree -> AST. One method per grammar alias; no meaning added here."""

    def __init__(self, src: Source):
        super().__init__()
        self.src = src

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.src, 1, 1, 1, 1)
        return Span(self.src, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        return _tok_span(self.src, tok)

    def _new_name(self, tok: Token) -> str:
        """A name being declared: not a reserved word."""
        if str(tok) in _KEYWORDS:
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
    def factor_energy(self, meta, name, expr):
        return A.FactorStmt(self._span(meta), self._new_name(name), self._tspan(name), expr)

    @v_args(meta=True, inline=True)
    def factor_tilde(self, meta, name, target, _tilde, dist):
        return A.TildeStmt(self._span(meta), self._new_name(name), target, dist)

    @v_args(meta=True, inline=True)
    def tilde(self, meta, target, _tilde, dist):
        return A.TildeStmt(self._span(meta), None, target, dist)

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
        text = str(tok)
        is_int = text.isdigit()
        return A.Num(self._tspan(tok), int(text) if is_int else float(text), is_int)

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
        return tuple(i for i in items if i is not None)

    @v_args(meta=True)
    def slice(self, meta, items):
        # items: lo, COLON, hi, COLON-or-None, step
        lo, _c1, hi, _c2, step = (list(items) + [None] * 5)[:5]
        return A.Slice(self._span(meta), lo, hi, step)

    @v_args(meta=True)
    def newaxis(self, meta, items):
        return A.NewAxis(self._span(meta))

    @v_args(meta=True, inline=True)
    def ellipsis(self, meta, tok):
        return A.EllipsisIndex(self._tspan(tok))


# ----------------------------------------------------------------- errors
_TOKEN_WORDS = {
    "_NL": "end of line", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a string", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "TILDE": "'~'", "PLUS": "'+'", "MINUS": "'-'",
    "STAR": "'*'", "SLASH": "'/'", "PERCENT": "'%'", "AT": "'@'", "CARET": "'^'", "BAR": "'|'",
    "COMP_OP": "a comparison", "ELLIPSIS": "'...'",
}
_STATEMENT_START = ("a statement (const, var, latent, param, let, factor, model, include, "
                    "or `name ~ distribution(...)`)")


def _describe(tok: Optional[Token]) -> str:
    if tok is None:
        return "end of file"
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    return f"'{tok}'"


def _expected_words(expected) -> str:
    words = []
    for e in sorted(expected):
        w = _TOKEN_WORDS.get(e)
        if w is None:
            if e.isupper() and len(e) > 1 and not e.startswith("_") and not e.startswith("__"):
                w = f"'{e.lower()}'"
            else:
                continue
        if w not in words:
            words.append(w)
    if not words:
        return ""
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def _eof_span(src: Source) -> Span:
    lines = src.text.splitlines() or [""]
    # Point just past the last non-empty line.
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    col = len(lines[n - 1].expandtabs(1)) + 1
    return Span(src, n, col, n, col + 1)


def _syntax_error(src: Source, err: UnexpectedInput) -> EbmSyntaxError:
    tok = getattr(err, "token", None)
    line, col = getattr(err, "line", -1), getattr(err, "column", -1)
    at_eof = isinstance(err, UnexpectedEOF) or (tok is not None and tok.type == "$END")
    if tok is not None and str(tok) in _STATEMENT_WORDS and not src.line(tok.line)[:tok.column - 1].strip():
        # A statement keyword read as a continuation line: the statement before it is unfinished.
        before = _text_before(src, tok)
        if before and before.count("\n") + 1 < tok.line:
            line = before.count("\n") + 1
            tok = Token("_NL", "\n", start_pos=len(before), line=line, column=len(before.split("\n")[-1]) + 1)
    if at_eof or line is None or line < 1:
        span = _eof_span(src)
    elif tok is not None and tok.type == "_NL":
        # Point just after the end of the statement that was cut short.
        text = src.line(line).split("#")[0].rstrip()
        c = len(text.expandtabs(1)) + 1
        span = Span(src, line, c, line, c + 1)
    elif tok is not None:
        span = _tok_span(src, tok)
    else:
        span = Span(src, line, col, line, col + 1)

    if isinstance(err, UnexpectedCharacters):
        ch = src.text[err.pos_in_stream] if 0 <= err.pos_in_stream < len(src.text) else "?"
        hint = None
        if ch == "'":
            hint = "strings use double quotes, and only `include` takes one"
        elif ch == ";":
            hint = "statements end at the end of the line; remove the ';'"
        elif ch in "{}":
            hint = "the language has no braces; use one statement per line"
        elif ch == "=":
            hint = None
        elif ch == "!":
            hint = "write `not x` for negation; `!=` compares"
        elif ch == "&":
            hint = "write `and` for a logical and"
        return EbmSyntaxError(f"unexpected character '{ch}'", span, hint)

    # The terminals the parser accepts here (the lexer's list also holds always-accepted newlines).
    ip = getattr(err, "interactive_parser", None)
    if ip is not None:
        expected = {t for t in ip.choices() if t.isupper()}
    else:
        expected = getattr(err, "expected", None) or getattr(err, "accepts", None) or set()
    stray = _unknown_statement(src, tok, expected)
    if stray is not None:
        return stray
    what = _describe(tok) if not at_eof else "end of file"
    msg = f"unexpected {what}"
    exp = _expected_words(expected)
    hint = _hint_for(src, tok, expected, at_eof)
    if exp and hint is None:
        hint = f"expected {exp}"
    return EbmSyntaxError(msg, span, hint)


_KEYWORDS = {"include", "const", "var", "latent", "param", "let", "factor", "model", "if", "else",
             "for", "in", "and", "or", "not", "mixture", "condition", "None"}
_DANGLING = ("<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "@", "^", "|", "=", ",", "<", ">",
             " and", " or", " not", " if", " else")


def _text_before(src: Source, tok) -> str:
    """The source before ``tok`` (all of it at the end of file), without comments and trailing blanks."""
    pos = getattr(tok, "start_pos", None)
    if tok is None or tok.type == "$END" or pos is None:
        pos = len(src.text)
    return "\n".join(l.split("#")[0] for l in src.text[:pos].split("\n")).rstrip()


def _statement_word(src: Source, tok) -> str:
    """The first word of the line ``tok`` is on (of the last non-empty line at the end of file)."""
    before = _text_before(src, tok)
    words = before.split("\n")[-1].split() if tok is None or tok.type in ("$END", "_NL") else \
        src.line(tok.line).split()
    return words[0] if words else ""


def _unknown_statement(src: Source, tok, expected) -> Optional[EbmSyntaxError]:
    """`vra x : real`: a line whose first word is no keyword, read as the start of `x ~ ...`."""
    if tok is None or tok.type not in ("NAME", "COLON", "EQUAL") or "TILDE" not in expected:
        return None
    text = src.line(tok.line)
    first = text.split()[0] if text.split() else ""
    start = text.find(first)
    if not first.isidentifier() or first in _KEYWORDS or text[start + len(first):tok.column - 1].strip():
        return None
    span = Span(src, tok.line, start + 1, tok.line, start + 1 + len(first))
    close = did_you_mean(first, _STATEMENT_WORDS)
    if close is None and tok.type == "NAME":
        return None  # `x y`: two names side by side, reported below
    return EbmSyntaxError(f"'{first}' does not start a statement", span,
                          close or f"a line starts {_STATEMENT_START}")


def _hint_for(src: Source, tok, expected, at_eof) -> Optional[str]:
    exp = set(expected)
    before = _text_before(src, tok)
    stmt = _statement_word(src, tok)
    dangling = next((op.strip() for op in _DANGLING if before.endswith(op)), None)
    if at_eof or (tok is not None and tok.type == "_NL"):
        where = "the file" if at_eof else "the line"
        if "RPAR" in exp or "RSQB" in exp:
            return "a bracket is never closed" if at_eof else "a bracket is not closed before the end of the line"
        if before.endswith("~"):
            return "`~` needs a distribution: `x ~ normal(0, 1)`"
        if before.endswith(":") and stmt in ("const", "var", "latent", "param"):
            return f"give the domain after ':', e.g. `{stmt} x : real`"
        if dangling is not None:
            return f"{where} ends with '{dangling}'; complete the expression or remove the '{dangling}'"
        if at_eof:
            return None
        if "TILDE" in exp and len(exp) <= 3:
            return "a declaration's initializer needs `= value` or `~ distribution(...)`"
        return "the statement is incomplete"
    if tok is None:
        return None
    text = str(tok)
    if before.endswith("~") and "NAME" in exp:
        return "`~` needs a distribution: `x ~ normal(0, 1)`"
    if tok.type == "MINUS" and stmt == "model" and before.endswith("/"):
        return "a temperature must be positive: `A / T` with T > 0"
    if tok.type == "TILDE" and stmt == "factor":
        return "a density factor is written `factor NAME : x ~ distribution(...)`"
    if tok.type == "STRING":
        return "strings only appear in `include \"file.ebm\"`"
    if re.search(r"\bif$", before) and "NAME" not in exp:
        return "a conditional reads `a if condition else b`"
    if tok.type in _CLOSE:
        if "RPAR" in exp or "RSQB" in exp:
            return f"this '{text}' does not match the open bracket; expected {_expected_words(exp & _CLOSE)}"
        return f"this '{text}' closes no bracket; remove it"
    if tok.type == "COMMA" and before[-1:] in ("(", "[", ","):
        return "an argument or list item is missing before this ','"
    if tok.type == "COMMA" and "COMMA" not in exp:
        return "a ',' only separates arguments and list items; remove it"
    if tok.type == "EQUAL":
        if "COMP_OP" in exp:
            return "use `==` to compare; `=` only appears in declarations"
        if "COLON" in exp:
            return "declarations give the domain first: `var x : real`"
        if "NAME" in exp:
            return f"a name is missing after '{stmt}': `{stmt} NAME = ...`"
        if stmt in ("var", "latent"):
            return (f"a {stmt} cannot have a value; only params (initial value) and consts (default) "
                    f"take `= value`")
    if tok.type in ("NAME", "NUMBER") and "NAME" not in exp:
        if text in _KEYWORDS and stmt in ("var", "param", "const", "latent", "let", "factor"):
            return f"'{text}' is a reserved word; choose another name"
        if exp == {"COLON"}:
            return f"put ':' between the name and its domain: `{stmt} x : real`"
        if stmt == "model" and "EQUAL" in exp:
            return "write `model = A + B`, naming the factors to combine"
        if stmt == "factor" and "EQUAL" in exp:
            return "write `factor NAME = energy` or `factor NAME : x ~ distribution(...)`"
        if stmt == "let" and "EQUAL" in exp:
            return "write `let NAME = expression`"
        if "_NL" in exp and "PLUS" in exp:
            return "two expressions stand side by side; is an operator or a line break missing?"
    if text in _KEYWORDS and "NAME" in exp:
        return f"'{text}' is a reserved word and cannot be used as a name"
    if tok.type == "CARET" or text == "**":
        return None
    if tok.type == "STAR" and "STAR" not in exp:
        return "write powers as `x^2`"
    if tok.type == "LSQB" and "RSQB" not in exp and "COLON" in exp:
        return "declare the domain before the shape: `var x : real[3]`"
    return None


# Deeper trees would exhaust Python's recursion limit in the (recursive) AST builder,
# checker and lowering; no hand-written model comes near it.
MAX_DEPTH = 200


def _check_depth(src: Source, tree) -> None:
    """Refuse a statement nested more than MAX_DEPTH levels deep (iteratively: no recursion here)."""
    stack = [(tree, 0, None)]
    while stack:
        node, depth, stmt = stack.pop()
        if depth == 1:
            stmt = node
        if depth > MAX_DEPTH:
            meta = getattr(stmt, "meta", None)
            span = (Span(src, meta.line, meta.column, meta.end_line, meta.end_column)
                    if meta is not None and not getattr(meta, "empty", True) else _eof_span(src))
            raise EbmSyntaxError(f"this statement is nested more than {MAX_DEPTH} levels deep", span,
                                 "split it into shorter pieces with `let`, or sum an array with sum(...)")
        stack.extend((c, depth + 1, stmt) for c in getattr(node, "children", ()) if hasattr(c, "children"))


def parse(text: str, name: str = "<string>", *, _resolve_includes=True, _stack=()) -> A.Program:
    """Parse .ebm source text into a :class:`~ebmppl.dsl.ast.Program`.

    ``include "file.ebm"`` statements are replaced by the included file's
    statements (paths relative to the including file; cycles are errors).

    Raises:
        EbmSyntaxError: with the line, column and a hint.
    """
    src = Source(name, text)
    body = text if text.endswith("\n") else text + "\n"
    try:
        tree = _parser().parse(body)
        _check_depth(src, tree)
        prog = _Builder(src).transform(tree)
    except UnexpectedInput as err:
        raise _syntax_error(src, err) from None
    except VisitError as err:  # an error raised while building the AST
        if isinstance(err.orig_exc, EbmError):
            raise err.orig_exc from None
        raise
    if _resolve_includes:
        prog = _expand_includes(prog, src, _stack + (str(Path(name).resolve()) if name[:1] != "<" else name,))
    return prog


def _expand_includes(prog: A.Program, src: Source, stack) -> A.Program:
    out = []
    for st in prog.stmts:
        if not isinstance(st, A.Include):
            out.append(st)
            continue
        base = Path(src.name).parent if src.name[:1] != "<" else Path.cwd()
        path = (base / st.path)
        key = str(path.resolve())
        if key in stack:
            others = len(set(stack[stack.index(key):])) - 1
            through = f" through {others} other file{'s' if others > 1 else ''}" if others else ""
            raise EbmSyntaxError(f"'{st.path}' includes itself{through}", st.span, "remove the circular include")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EbmSyntaxError(f"included file '{st.path}' not found", st.span,
                                 f"paths are relative to the including file's folder ({base})") from None
        except (UnicodeDecodeError, OSError) as e:
            raise EbmSyntaxError(f"cannot read included file '{st.path}': {e}", st.span) from None
        sub = parse(text, str(path) if src.name[:1] == "<" else _display(path), _stack=stack + (key,))
        out.extend(sub.stmts)
    return A.Program(prog.span, tuple(out))


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_file(path) -> A.Program:
    """Read and parse a .ebm file (UTF-8)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EbmError("io", f"model file '{path}' not found") from None
    except UnicodeDecodeError as e:
        raise EbmError("io", f"model file '{path}' is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise EbmError("io", f"cannot read model file '{path}': {e.strerror}") from None
    return parse(text, str(path))
