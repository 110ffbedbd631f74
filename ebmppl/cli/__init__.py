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
from .parser import build_parser
from .signals import EXIT_INTERRUPTED, Abort, Interrupts, handled

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_NUMERIC", "EXIT_USAGE_OR_MODEL", "EXIT_WARNINGS",
           "EXIT_INTERRUPTED"]
EXIT_OK, EXIT_NUMERIC, EXIT_WARNINGS, EXIT_USAGE_OR_MODEL = 0, 1, 1, 2  # as .commands and .fit define them

# Only the parser is imported with this package, so that `ebmppl --help` and `--version` import no JAX; the
# option checks, the settings and the commands (JAX, NumPyro, ArviZ) are imported once a command is parsed.


def main(argv=None) -> int:
    """Run ``ebmppl`` with ``argv`` (default: the process's arguments); returns the exit code."""
    argv = tuple(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
        if args.command is None:
            ap.print_help()
            return EXIT_USAGE_OR_MODEL
        from .options import admit_args, consts_alias, method_options
        for warning in admit_args(args):
            if not args.quiet:
                print(f"warning: {warning}", file=sys.stderr)
        for note in consts_alias(args):
            if not args.quiet:
                print(f"note: {note}", file=sys.stderr)
        if args.command == "fit":
            args.method_options = method_options(args.option, args.method)
    except EbmError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    from ..settings import config, ensure_compile_cache
    from .commands import COMPILES, Context
    if getattr(args, "x64", False):
        config(x64=True)
    if args.command in COMPILES:
        ensure_compile_cache()
    from .talk import speaking
    with handled() as interrupts, speaking(args) as said:  # warnings as `warning: ...`, hints as flags, --json
        return said.end(_run(args, Context(interrupts, argv, said)), args.command)


def _run(args, ctx: Context) -> int:
    """The command, its errors rendered; an interrupt, however it reaches here, is exit 130."""
    from .commands import COMMANDS
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
