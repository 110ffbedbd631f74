"""Error types and their rendering.

Every error a user can cause is an :class:`EbmError`. It carries a kind
(``syntax``, ``semantic``, ``shape``, ``data``, ...), a one-line message, an
optional source :class:`Span` and an optional hint saying how to fix it. Its
``render()`` reads like Stan's or rustc's compiler messages::

    error[semantic]: unknown name 'sigmaa'
      --> model.ebm:4:22
       |
     4 | y ~ normal(theta, sigmaa)
       |                   ^^^^^^
       = help: did you mean 'sigma'?

The CLI prints ``render()`` and exits 2; no Python traceback reaches the user.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Optional


# Every kind an EbmError can have, and what it means; docs/errors.md shows an example of each
# (tests/reliability/test_errors_doc.py checks that the code raises no other kind).
KINDS = {
    "syntax": "the .ebm text does not parse",
    "semantic": "the program parses but means nothing: unknown names, wrong domains, bad composition",
    "shape": "array shapes do not fit together (found when the model is lowered)",
    "data": "a data, consts or params file (or dict) is missing, malformed or does not fit the model",
    "io": "a model file cannot be read",
    "usage": "a command-line option or keyword argument is invalid",
    "value": "a call to a lowered function lacks a value it needs",
    "init": "no starting point with a finite energy and gradient",
    "sample": "a sampling request the model or sampler cannot honour",
    "fit": "a training request the model or method cannot honour, or a checkpoint that does not fit",
    "logz": "a partition-function estimate that does not apply to the model",
    "free-energy": "the latent variables cannot be summed out",
    "diagnose": "draws that cannot be diagnosed",
    "plot": "a figure that does not apply to the model",
    "report": "a training-report computation given unusable inputs",
    "limit": "a size, number or memory estimate beyond what ebmppl will compute or allocate",
    "output": "an output folder that cannot be written, or would lose or mix another run's results",
}


@dataclass(frozen=True, eq=False)
class Source:
    """A piece of source text and the name it is shown under."""

    name: str
    text: str

    @functools.cached_property
    def _lines(self) -> tuple[str, ...]:
        lines = self.text.split("\n")
        if lines and lines[-1] == "" and len(lines) > 1:
            lines.pop()
        return tuple(l[:-1] if l.endswith("\r") else l for l in lines)

    def lines(self) -> list[str]:
        """The lines as the parser counts them: split at ``\\n`` only (a ``\\r`` before it dropped), so a
        form feed or a Unicode line separator inside a line never shifts the line numbers."""
        return list(self._lines)

    def line(self, lineno: int) -> str:
        lines = self._lines
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""

    @property
    def n_lines(self) -> int:
        return max(1, len(self._lines))


@dataclass(frozen=True)
class Span:
    """A 1-based line/column range in a :class:`Source` (end column exclusive)."""

    source: Source = field(compare=False, repr=False)
    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def file(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    def to(self, other: "Span") -> "Span":
        """The span from the start of this one to the end of ``other``."""
        return Span(self.source, self.line, self.col, other.end_line, other.end_col)


class EbmError(Exception):
    """An error in the user's model, data or request, rendered for humans."""

    def __init__(self, kind: str, message: str, span: Optional[Span] = None,
                 hint: Optional[str] = None, notes: Iterable[str] = ()):
        self.kind = kind
        self.message = message
        self.span = span
        self.hint = hint
        self.notes = tuple(notes)
        super().__init__(self.render())

    def render(self) -> str:
        """The message as the command line prints it; every character a terminal would act on (a control,
        an escape sequence, an invisible or bidirectional character) is shown escaped, never raw."""
        out = [f"error[{self.kind}]: {_message_text(self.message)}"]
        if self.span is not None:
            out.extend(_snippet(self.span))
        for note in self.notes:
            out.append(f"   = note: {_message_text(note)}")
        if self.hint:
            out.append(f"   = help: {_message_text(self.hint)}")
        return "\n".join(out)


class EbmSyntaxError(EbmError):
    def __init__(self, message, span=None, hint=None, notes=()):
        super().__init__("syntax", message, span, hint, notes)


class EbmSemanticError(EbmError):
    def __init__(self, message, span=None, hint=None, notes=()):
        super().__init__("semantic", message, span, hint, notes)


class EbmShapeError(EbmError):
    def __init__(self, message, span=None, hint=None, notes=()):
        super().__init__("shape", message, span, hint, notes)


class EbmDataError(EbmError):
    def __init__(self, message, span=None, hint=None, notes=()):
        super().__init__("data", message, span, hint, notes)


# ------------------------------------------------------------------ characters shown to a terminal
# The C0 and C1 controls have no name in unicodedata; these are their Unicode aliases.
_CONTROL_NAMES = dict(enumerate((
    "NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION", "ENQUIRY", "ACKNOWLEDGE",
    "BELL", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED", "LINE TABULATION", "FORM FEED", "CARRIAGE RETURN",
    "SHIFT OUT", "SHIFT IN", "DATA LINK ESCAPE", "DEVICE CONTROL ONE", "DEVICE CONTROL TWO", "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE", "SYNCHRONOUS IDLE", "END OF TRANSMISSION BLOCK", "CANCEL",
    "END OF MEDIUM", "SUBSTITUTE", "ESCAPE", "INFORMATION SEPARATOR FOUR", "INFORMATION SEPARATOR THREE",
    "INFORMATION SEPARATOR TWO", "INFORMATION SEPARATOR ONE")))
_CONTROL_NAMES.update({0x7F: "DELETE", 0x85: "NEXT LINE", 0x9B: "CONTROL SEQUENCE INTRODUCER",
                       0x9D: "OPERATING SYSTEM COMMAND"})
_LONG_WORD = 300  # a run of characters longer than this in a message is shortened around "..."


def char_name(c: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: the code point and the Unicode name of one character."""
    name = unicodedata.name(c, None) or _CONTROL_NAMES.get(ord(c), "<control>" if unicodedata.category(c) == "Cc"
                                                           else "<unassigned>")
    return f"U+{ord(c):04X} {name}"


def escaped(text: str, keep: str = "") -> str:
    """``text`` with every character a terminal would act on or not show written as ``\\u{200B}``.

    Controls, escape sequences, format characters (zero-width, bidirectional) and spaces other than
    ' ' are not printable; ``keep`` lists characters to leave as they are (a message keeps its ``\\n``).
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else f"\\u{{{ord(c):X}}}" for c in text)


def shortened(word: str, keep: int = 24) -> str:
    """A long word cut in the middle, ``123456...(5000 characters)...67890``, so a message stays readable."""
    if len(word) <= 2 * keep + 20:
        return word
    return f"{word[:keep]}...({len(word)} characters)...{word[-8:]}"


def _message_text(text: str) -> str:
    text = escaped(str(text), keep="\n")
    if len(text) <= _LONG_WORD:
        return text
    return " ".join(shortened(w, 40) if len(w) > _LONG_WORD else w for w in text.split(" "))


def _width(c: str) -> int:
    """How many terminal columns a character of an (escaped) source line takes."""
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def _cells(text: str) -> list[tuple[str, int]]:
    """Each character of a source line as (what is shown, its width in columns)."""
    out = []
    for c in text:
        if c == "\t":
            out.append((" ", 1))  # a tab is one column wide, as the parser counts it
        elif not c.isprintable():
            shown = f"\\u{{{ord(c):X}}}"
            out.append((shown, len(shown)))
        else:
            out.append((c, _width(c)))
    return out


_WINDOW = 100  # columns of a long source line shown around the caret


def _window(cells, i: int, j: int) -> tuple[int, int]:
    """The characters [a, b) of a line to show so that the caret over [i, j) is visible."""
    widths = [w for _, w in cells]
    if sum(widths) <= _WINDOW + 20:
        return 0, len(cells)
    a, room = i, _WINDOW // 3
    while a > 0 and room - widths[a - 1] >= 0:
        a -= 1
        room -= widths[a]
    b, room = a, _WINDOW
    while b < len(cells) and room - widths[b] >= 0:
        room -= widths[b]
        b += 1
    return a, max(b, i + 1)


def _snippet(span: Span) -> list[str]:
    src = span.source
    if not src.text:  # defined in Python: no source line to show
        return [f"  --> {escaped(src.name)}"]
    line = min(max(span.line, 1), src.n_lines)
    raw = src.line(line)
    col = min(max(span.col, 1), len(raw) + 1)
    if span.end_line == span.line and span.end_col > span.col:
        end = min(span.end_col, len(raw) + 1)
    elif span.end_line > span.line:
        end = len(raw) + 1
    else:
        end = col + 1
    end = max(end, col + 1)
    cells = _cells(raw)
    i, j = col - 1, min(end - 1, len(cells))
    a, b = _window(cells, i, j)
    lead = "..." if a > 0 else ""
    text = lead + "".join(s for s, _ in cells[a:b]) + ("..." if b < len(cells) else "")
    offset = len(lead) + sum(w for _, w in cells[a:i])
    width = max(1, sum(w for _, w in cells[i:min(j, b)]))
    gutter = " " * len(str(line))
    return [
        f"{gutter}--> {escaped(src.name)}:{line}:{col}",
        f"{gutter} |",
        f"{line} | {text}",
        f"{gutter} | {' ' * offset}{'^' * width}",
    ]


def did_you_mean(name: str, candidates: Iterable[str]) -> Optional[str]:
    """A 'did you mean' hint for ``name`` among ``candidates``, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
