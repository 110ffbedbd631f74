"""Syntax errors: a Lark exception becomes an :class:`~ebmppl.errors.EbmSyntaxError` that points
at the user's source and says how to fix it.

The hints are tables and small tests on what the parser saw (the token, the text before it,
the first word of the statement, the terminals it expected), in the spirit of Lark's
``UnexpectedInput.match_examples``. The language's word lists (reserved words, words that
start a statement) live here too, for the parser reads them as well.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..errors import EbmSyntaxError, Source, Span, char_name, did_you_mean

# Words that start a statement; a line starting with one never continues the line before.
STATEMENT_WORDS = {"include", "const", "var", "latent", "param", "let", "factor", "model"}
KEYWORDS = {"include", "const", "var", "latent", "param", "let", "factor", "model", "if", "else",
            "for", "in", "and", "or", "not", "mixture", "condition", "None", "with"}
CLOSE = {"RPAR", "RSQB"}  # the closing-bracket terminals

_TOKEN_WORDS = {
    "_NL": "end of line", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a string", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "TILDE": "'~'", "PLUS": "'+'", "MINUS": "'-'",
    "STAR": "'*'", "SLASH": "'/'", "PERCENT": "'%'", "AT": "'@'", "CARET": "'^'", "BAR": "'|'",
    "COMP_OP": "a comparison", "ELLIPSIS": "'...'",
}
_STATEMENT_START = ("a statement (const, var, latent, param, let, factor, model, include, "
                    "or `name ~ distribution(...)`)")
# Hints for a character the lexer cannot read (None: the message alone says enough).
_CHARACTER_HINTS = {
    "'": "strings use double quotes, and only `include` takes one",
    '"': "this string is not closed: end it with '\"' on the same line",
    ";": "statements end at the end of the line; remove the ';'",
    "{": "the language has no braces; use one statement per line",
    "}": "the language has no braces; use one statement per line",
    "!": "write `not x` for negation; `!=` compares",
    "&": "write `and` for a logical and",
    "\0": "a NUL character: is this a binary file, or text saved as UTF-16? save the model as UTF-8 text",
    "\r": "a carriage return without a line feed (old Mac line ends): save the file with LF or CRLF line ends",
    "\x1b": "a terminal escape sequence starts here; delete it",
    "\ufeff": "a byte-order mark inside the file (two files pasted together?); delete it",
    "\u2028": "a Unicode line separator; use an ordinary line break",
    "\u2029": "a Unicode paragraph separator; use an ordinary line break",
    "\u2212": "write the ASCII minus '-'", "\u2013": "write the ASCII minus '-'", "\u2014": "write the ASCII minus '-'",
    "\u00d7": "write '*' to multiply", "\u00f7": "write '/' to divide", "\u2264": "write '<='", "\u2265": "write '>='",
    "\u2260": "write '!='", "\u201c": "use straight double quotes: include \"file.ebm\"",
    "\u201d": "use straight double quotes: include \"file.ebm\"",
    "\u2018": "strings use straight double quotes, and only `include` takes one",
    "\u2019": "strings use straight double quotes, and only `include` takes one",
}
# Bidirectional controls: they make a line display differently from what it says ("Trojan Source").
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DANGLING = ("<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "@", "^", "|", "=", ",", "<", ">",
             " and", " or", " not", " if", " else")


def token_span(src: Source, tok: Token) -> Span:
    """The span of a Lark token."""
    return Span(src, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)


def eof_span(src: Source) -> Span:
    """The position just past the last non-empty line."""
    lines = src.lines() or [""]
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    col = len(lines[n - 1].expandtabs(1)) + 1
    return Span(src, n, col, n, col + 1)


def syntax_error(src: Source, err: UnexpectedInput) -> EbmSyntaxError:
    """The syntax error to report for Lark's exception: where, what was unexpected, and a hint."""
    tok = getattr(err, "token", None)
    line = getattr(err, "line", -1)
    at_eof = isinstance(err, UnexpectedEOF) or (tok is not None and tok.type == "$END")
    if tok is not None and str(tok) in STATEMENT_WORDS and not src.line(tok.line)[:tok.column - 1].strip():
        # A statement keyword read as a continuation line: the statement before it is unfinished.
        before = _text_before(src, tok)
        if before and before.count("\n") + 1 < tok.line:
            line = before.count("\n") + 1
            tok = Token("_NL", "\n", start_pos=len(before), line=line, column=len(before.split("\n")[-1]) + 1)
    span = _error_span(src, err, tok, line, at_eof)
    if isinstance(err, UnexpectedCharacters):
        ch = src.text[err.pos_in_stream] if 0 <= err.pos_in_stream < len(src.text) else "?"
        return EbmSyntaxError(f"unexpected character {describe_char(ch)}", span, _character_hint(ch))

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
    exp = _expected_words(expected)
    hint = _hint_for(src, tok, expected, at_eof)
    if exp and hint is None:
        hint = f"expected {exp}"
    return EbmSyntaxError(f"unexpected {what}", span, hint)


def describe_char(ch: str) -> str:
    """A character as a message names it: ``'$'``, ``'é' (U+00E9 LATIN SMALL LETTER E WITH ACUTE)``, or, for
    one a terminal would not show as itself, only its name: ``U+200B ZERO WIDTH SPACE``."""
    if " " < ch < "\x7f":
        return f"'{ch}'"
    if ch.isprintable():
        return f"'{ch}' ({char_name(ch)})"
    return char_name(ch)


def _character_hint(ch: str) -> Optional[str]:
    if ch in _CHARACTER_HINTS:
        return _CHARACTER_HINTS[ch]
    if ch in _BIDI:
        return "a bidirectional-text control: it can make the line display differently from what it says; delete it"
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return "a control character; delete it"
    if not ch.isprintable():
        return "an invisible character (pasted from a web page or a word processor?); delete it"
    if cat.startswith("L") or cat == "Nd":
        return "names use ASCII letters, digits and '_'"
    return None


def _error_span(src: Source, err: UnexpectedInput, tok, line, at_eof: bool) -> Span:
    if at_eof or line is None or line < 1:
        return eof_span(src)
    if tok is not None and tok.type == "_NL":
        # Point just after the end of the statement that was cut short.
        text = src.line(line).split("#")[0].rstrip()
        c = len(text.expandtabs(1)) + 1
        return Span(src, line, c, line, c + 1)
    if tok is not None:
        return token_span(src, tok)
    col = getattr(err, "column", -1)
    return Span(src, line, col, line, col + 1)


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
    if not first.isidentifier() or first in KEYWORDS or text[start + len(first):tok.column - 1].strip():
        return None
    span = Span(src, tok.line, start + 1, tok.line, start + 1 + len(first))
    close = did_you_mean(first, STATEMENT_WORDS)
    if close is None and tok.type == "NAME":
        return None  # `x y`: two names side by side, reported below
    return EbmSyntaxError(f"'{first}' does not start a statement", span,
                          close or f"a line starts {_STATEMENT_START}")


def _hint_for(src: Source, tok, expected, at_eof) -> Optional[str]:
    exp = set(expected)
    before = _text_before(src, tok)
    stmt = _statement_word(src, tok)
    if at_eof or (tok is not None and tok.type == "_NL"):
        return _end_hint(before, stmt, exp, at_eof)
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
    if tok.type == "RSQB" and before.endswith("[") and not re.search(r"(^|[\s(\[,=:~])\[$", before):
        return "an index needs a subscript: `x[0]`, `x[1:3]` or `x[..., 0]`"
    if tok.type in CLOSE:
        if "RPAR" in exp or "RSQB" in exp:
            return f"this '{text}' does not match the open bracket; expected {_expected_words(exp & CLOSE)}"
        return f"this '{text}' closes no bracket; remove it"
    if tok.type == "COMMA" and before[-1:] in ("(", "[", ","):
        return "an argument or list item is missing before this ','"
    if tok.type == "COMMA" and "COMMA" not in exp:
        return "a ',' only separates arguments and list items; remove it"
    if tok.type == "EQUAL":
        hint = _equal_hint(stmt, exp)
        if hint is not None:
            return hint
    if tok.type in ("NAME", "NUMBER") and "NAME" not in exp:
        hint = _word_hint(text, stmt, exp)
        if hint is not None:
            return hint
    if text in KEYWORDS and "NAME" in exp:
        return f"'{text}' is a reserved word and cannot be used as a name"
    if tok.type == "CARET" or text == "**":
        return None
    if tok.type == "STAR" and "STAR" not in exp:
        return "write powers as `x^2`"
    if tok.type == "LSQB" and "RSQB" not in exp and "COLON" in exp:
        return "declare the domain before the shape: `var x : real[3]`"
    return None


def _end_hint(before: str, stmt: str, exp: set, at_eof: bool) -> Optional[str]:
    """The hint for a statement cut short by the end of its line or of the file."""
    where = "the file" if at_eof else "the line"
    dangling = next((op.strip() for op in _DANGLING if before.endswith(op)), None)
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


def _equal_hint(stmt: str, exp: set) -> Optional[str]:
    """The hint for an unexpected '='."""
    if "COMP_OP" in exp:
        return "use `==` to compare; `=` only appears in declarations"
    if "COLON" in exp:
        return "declarations give the domain first: `var x : real`"
    if "NAME" in exp:
        return f"a name is missing after '{stmt}': `{stmt} NAME = ...`"
    if stmt in ("var", "latent"):
        return f"a {stmt} cannot have a value; only params (initial value) and consts (default) take `= value`"
    return None


def _word_hint(text: str, stmt: str, exp: set) -> Optional[str]:
    """The hint for a name or a number where neither fits."""
    if text in KEYWORDS and stmt in ("var", "param", "const", "latent", "let", "factor"):
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
    return None
