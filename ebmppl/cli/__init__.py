"""The command line: ``ebmppl check | fit | sample | diagnose | logz | score | demo``.

Every option is admitted before any work (:mod:`.options`); a command that writes checks and locks its
output folder before it loads anything (:mod:`.outdir`); Ctrl-C and SIGTERM stop a command cleanly
(:mod:`.signals`). A usage, model, data or output error prints the rendered message and exits 2; never a
Python traceback for the user's own mistake. Exit codes: 0 done, 1 a numeric failure (``fit``) or a warning
(``diagnose --strict``), 2 an error, 130 interrupted. The parser is in :mod:`.parser`, the commands in
:mod:`.commands` and :mod:`.fit`.
"""

from __future__ import annotations

import sys

from ..errors import EbmError
from ..settings import config, ensure_compile_cache
from .commands import (COMMANDS, COMPILES, EXIT_INTERRUPTED, EXIT_NUMERIC, EXIT_OK, EXIT_USAGE_OR_MODEL,
                       EXIT_WARNINGS, Context)
from .options import admit_args, method_options
from .parser import build_parser
from .signals import Abort, Interrupts, handled

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_NUMERIC", "EXIT_USAGE_OR_MODEL", "EXIT_WARNINGS",
           "EXIT_INTERRUPTED"]


def main(argv=None) -> int:
    """Run ``ebmppl`` with ``argv`` (default: the process's arguments); returns the exit code."""
    argv = tuple(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
        if args.command is None:
            ap.print_help()
            return EXIT_USAGE_OR_MODEL
        for warning in admit_args(args):
            print(f"warning: {warning}", file=sys.stderr)
        if args.command == "fit":
            args.method_options = method_options(args.option, args.method)
    except EbmError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    if getattr(args, "x64", False):
        config(x64=True)
    if args.command in COMPILES:
        ensure_compile_cache()
    with handled() as interrupts:
        return _run(args, Context(interrupts, argv))


def _run(args, ctx: Context) -> int:
    """The command, its errors rendered; an interrupt, however it reaches here, is exit 130."""
    interrupts = ctx.interrupts
    try:
        return COMMANDS[args.command](args, ctx)
    except (KeyboardInterrupt, Abort):
        return _interrupted(interrupts)
    except EbmError as e:
        if interrupts.seen:
            return _interrupted(interrupts)
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    except Exception:
        if interrupts.seen:  # a KeyboardInterrupt inside a JAX callback comes back as a runtime error
            return _interrupted(interrupts)
        raise


def _interrupted(interrupts: Interrupts) -> int:
    print(f"\ninterrupted ({interrupts.name}): stopped; no partial file written", file=sys.stderr)
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
