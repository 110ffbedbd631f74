"""The hostile-input corpus: each case runs the ``ebmppl`` command line in-process on files it writes
into a fresh folder, under a time limit, and states what must happen.

A case passes when the command exits with ``code``; for an error (exit 2) stderr holds
``error[kind]`` and ``phrase`` and no Python traceback; nothing escapes as an exception; it ends
within ``timeout`` seconds; and the case's own ``check`` (an earlier result kept, no partial file)
holds. Paths in ``argv`` and in file contents may use ``{dir}``, the case's folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Union

import jax


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    dir: Path


@dataclass(frozen=True)
class Case:
    """One hostile input and what ebmppl must do with it."""

    id: str
    argv: tuple
    files: Mapping[str, Union[str, bytes]] = field(default_factory=dict)
    code: int = 2
    kind: Optional[str] = None  # the error kind: `error[kind]` on stderr (exit 2)
    phrase: str = ""  # a phrase of the message (case-insensitive)
    setup: Optional[Callable[[Path], None]] = None  # e.g. a FIFO, an earlier run's results
    check: Optional[Callable[[Result], None]] = None  # e.g. the earlier result is still there
    timeout: float = 60.0
    slow: bool = False  # runs a fit or a sampler before the point under test


class Hung(Exception):
    pass


def _alarm(signum, frame):
    raise Hung()


def run(case: Case, tmp: Path) -> Result:
    """Write the case's files, run the command line in-process and return what it did."""
    from ebmppl import cli
    for name, content in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{dir}", str(tmp)), encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp)
    argv = [a.replace("{dir}", str(tmp)) for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    x64 = jax.config.jax_enable_x64
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, case.timeout)
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as e:  # argparse's usage errors
                code = e.code if isinstance(e.code, int) else 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
        jax.config.update("jax_enable_x64", x64)
    return Result(int(code or 0), out.getvalue(), err.getvalue(), tmp)


def verify(case: Case, res: Result) -> None:
    """The case's promises, with the output in every failure message."""
    shown = f"\n--- exit {res.code}\n--- stdout\n{res.out[-3000:]}\n--- stderr\n{res.err[-3000:]}"
    assert "Traceback" not in res.err, "a traceback reached the user" + shown
    assert res.code == case.code, f"exit {res.code}, expected {case.code}" + shown
    if case.kind is not None:
        assert f"error[{case.kind}]" in res.err, f"no error[{case.kind}]" + shown
    if case.phrase:
        assert case.phrase.lower() in (res.err + res.out).lower(), f"no phrase {case.phrase!r}" + shown
    if case.check is not None:
        case.check(res)
