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
    "usage": "a command-line option is invalid",
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

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""

    @property
    def n_lines(self) -> int:
        return max(1, len(self.text.splitlines()))


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
        out = [f"error[{self.kind}]: {self.message}"]
        if self.span is not None:
            out.extend(_snippet(self.span))
        for note in self.notes:
            out.append(f"   = note: {note}")
        if self.hint:
            out.append(f"   = help: {self.hint}")
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


def _snippet(span: Span) -> list[str]:
    src = span.source
    if not src.text:  # defined in Python: no source line to show
        return [f"  --> {src.name}"]
    line = min(max(span.line, 1), src.n_lines)
    col = max(span.col, 1)
    text = src.line(line).rstrip("\n").expandtabs(1)
    col = min(col, len(text) + 1)
    if span.end_line == span.line and span.end_col > span.col:
        width = min(span.end_col, len(text) + 1) - col
    elif span.end_line > span.line:
        width = len(text) - col + 1
    else:
        width = 1
    width = max(1, width)
    gutter = " " * len(str(line))
    return [
        f"{gutter}--> {src.name}:{line}:{col}",
        f"{gutter} |",
        f"{line} | {text}",
        f"{gutter} | {' ' * (col - 1)}{'^' * width}",
    ]


def did_you_mean(name: str, candidates: Iterable[str]) -> Optional[str]:
    """A 'did you mean' hint for ``name`` among ``candidates``, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
