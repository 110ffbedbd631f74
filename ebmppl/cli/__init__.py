"""The command line: ``ebmppl check | fit | sample | diagnose | logz | score | demo``.

A model or data error prints the rendered message and exits 2; never a
Python traceback for the user's own mistake. The parser is in :mod:`.parser`, each command in
:mod:`.commands`.
"""

from __future__ import annotations

import sys

from ..settings import config, ensure_compile_cache
from ..errors import EbmError
from .commands import COMMANDS, COMPILES, EXIT_NUMERIC, EXIT_OK, EXIT_USAGE_OR_MODEL, EXIT_WARNINGS
from .parser import build_parser

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_NUMERIC", "EXIT_USAGE_OR_MODEL", "EXIT_WARNINGS"]


def main(argv=None) -> int:
    """Run ``ebmppl`` with ``argv`` (default: the process's arguments); returns the exit code."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return EXIT_USAGE_OR_MODEL
    if getattr(args, "x64", False):
        config(x64=True)
    if args.command in COMPILES:
        ensure_compile_cache()
    try:
        return COMMANDS[args.command](args)
    except EbmError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
