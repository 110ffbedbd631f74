"""Shared checks for the reliability tests."""

from __future__ import annotations

import re

from ebmppl.errors import EbmError

LOCATION = re.compile(r"^ *--> (.*):(\d+):(\d+)$", re.M)


def assert_well_formed(err: EbmError) -> None:
    """An error renders, and its span (if any) points inside its source: 1-based, never past the end."""
    text = err.render()
    assert text.startswith(f"error[{err.kind}]: "), text
    assert "Traceback" not in text
    s = err.span
    if s is None or not s.source.text:
        return
    lines = s.source.text.splitlines() or [""]
    assert 1 <= s.line <= len(lines), (s, len(lines), text)
    assert 1 <= s.col <= len(lines[s.line - 1].expandtabs(1)) + 1, (s, lines[s.line - 1], text)
    assert s.end_line >= s.line, (s, text)
    loc = LOCATION.search(text)
    assert loc is not None and (int(loc.group(2)), int(loc.group(3))) == (s.line, s.col), text
