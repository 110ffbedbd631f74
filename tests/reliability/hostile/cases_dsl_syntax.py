"""Hostile model text: syntax, encodings, invisible characters."""

from __future__ import annotations

from .harness import Case

CASES = [
    Case("syntax-missing-colon", ("check", "m.ebm"), {"m.ebm": "var x real\n"}, kind="syntax", phrase="m.ebm:1:"),
    Case("syntax-empty-file-check", ("check", "m.ebm"), {"m.ebm": ""}, kind=None, code=2),
]
