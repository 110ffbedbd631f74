"""Rewrite the golden error messages of the bad-program corpus (for maintainers).

Usage, from anywhere::

    .venv/bin/python tests/dsl/regen_bad.py            # every tests/dsl/bad/*.ebm
    .venv/bin/python tests/dsl/regen_bad.py NAME ...   # only these cases

For each ``tests/dsl/bad/NAME.ebm`` it runs ``ebmppl check tests/dsl/bad/NAME.ebm``
from the repository root (adding ``--data tests/dsl/bad/NAME.data.json`` when
that file exists) and writes the error it prints to ``NAME.expected``.

The ``.expected`` files are the specification of the error messages: this
script only records what the code prints now. Review every diff it makes
(``git diff tests/dsl/bad``) before committing: a changed message must be at
least as clear as the old one, still point at the right line and column, and
still say how to fix the problem. A case that no longer fails is reported and
its file is left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAD = Path("tests") / "dsl" / "bad"


def argv_for(case: Path) -> list[str]:
    """The `ebmppl` arguments for a case, relative to the repository root."""
    rel = BAD / case.name
    argv = ["check", str(rel)]
    data = case.with_name(case.stem + ".data.json")
    if data.exists():
        argv += ["--data", str(BAD / data.name)]
    return argv


def normalize(text: str) -> str:
    """Make the output independent of where the repository lives."""
    return text.replace(str(ROOT) + os.sep, "")


def run_case(case: Path) -> tuple[int, str]:
    """Run `ebmppl check` on a case in-process, from the repository root: (exit code, stderr)."""
    from ebmppl.cli import main
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(argv_for(case))
    finally:
        os.chdir(cwd)
    return rc, normalize(err.getvalue())


def main(names: list[str]) -> int:
    cases = [ROOT / BAD / f"{n.removesuffix('.ebm')}.ebm" for n in names] if names \
        else sorted((ROOT / BAD).glob("*.ebm"))
    status = 0
    for case in cases:
        rc, err = run_case(case)
        if rc != 2:
            print(f"{case.stem}: exit code {rc}, not 2; not written", file=sys.stderr)
            status = 1
            continue
        exp = case.with_suffix(".expected")
        old = exp.read_text(encoding="utf-8") if exp.exists() else None
        if old != err:
            exp.write_text(err, encoding="utf-8")
            print(f"{case.stem}: {'written' if old is None else 'CHANGED'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
