"""The command line: ``ebmppl check | demo``.

A model or data error prints the rendered message and exits 2; never a
Python traceback for the user's own mistake.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_USAGE_OR_MODEL = 0, 2


def _common(p: argparse.ArgumentParser):
    p.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ebmppl",
        description="ebmppl: declare, fit, sample and evaluate energy-based models.",
        epilog="Run `ebmppl COMMAND --help` for the options of a command.")
    from . import __version__
    ap.add_argument("--version", action="version", version=f"ebmppl {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="parse and check a .ebm model; print its summary",
                       description="Parse and check a .ebm model and print a summary: variables, params, "
                                   "consts, factors and how the free energy is computed. Exit 0 if the model "
                                   "is valid, 2 with the error otherwise.")
    c.add_argument("file", help="the .ebm model file")
    c.add_argument("--data", metavar="CONSTS.json", help="JSON file binding the model's consts")
    _common(c)

    d = sub.add_parser("demo", help="run the demo on the bundled examples",
                       description="Check every bundled example model and evaluate its energy on bundled data.")
    d.add_argument("--examples", default=None, help="folder of examples (default: the bundled ones)")
    _common(d)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return EXIT_USAGE_OR_MODEL
    from .config import config
    from .errors import EbmError
    if getattr(args, "x64", False):
        config(x64=True)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "demo":
            from .demo import run_demo
            return run_demo(args.examples)
    except EbmError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE_OR_MODEL


def cmd_check(args) -> int:
    import ebmppl
    from .model.lower import lower
    from .model.summary import summary
    model = ebmppl.load(args.file, data=args.data)
    low = lower(model) if model.is_bound else None
    print(summary(model, low))
    print("ok")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
