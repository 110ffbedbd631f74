"""Admitting the command line's options before any work: one table (option -> a domain of the domain table,
tested by :func:`ebmppl.model.admit.require`, with the range the command accepts), and ``fit --option``.

Every command's numeric options are checked here, before a model is loaded or a file written; an option
outside its range is an ``error[usage]`` naming the option, the value and the legal range:

    >>> from argparse import Namespace
    >>> admit_args(Namespace(command="sample", chains=0))
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmError: error[usage]: --chains must be a whole number from 1 to 2147483647; got 0
       = help: the number of chains, e.g. 4

Seeds are whole numbers from 0 to 2^32 - 1 (JAX keeps 32 bits of a seed; a larger or negative one would
repeat another seed's run).
"""

from __future__ import annotations

import inspect
import json
import math
import re
from dataclasses import dataclass
from typing import Optional

from ..errors import EbmError
from ..model import domains
from ..model.admit import require

INT_MAX = 2**31 - 1  # counts of steps, chains, draws are int32 on the device
SEED_MAX = 2**32 - 1  # JAX keeps 32 bits of a seed
LR_MAX = 1e6  # no learning rate above this trains anything: the first step throws every param to infinity
LR_LARGE = 1.0  # legal, but steps this large usually diverge: a warning


@dataclass(frozen=True)
class Opt:
    """What one option admits: a value of the domain ``kind(args)``, within ``least``..``most``, or one of
    ``off`` (values that switch the option off; None is an option not given)."""

    kind: str
    args: tuple = ()
    least: Optional[float] = None
    most: Optional[float] = None
    off: tuple = (None,)
    off_means: str = ""
    hint: Optional[str] = None
    large: Optional[float] = None  # above this: legal, with a warning

    def legal(self) -> str:
        """The legal values in words (``a whole number from 1 to 2147483647``)."""
        row = domains.lookup(self.kind)
        if row.integer:
            lo = self.least if self.least is not None else domains.extent(self.kind).lo
            text = f"a whole number from {int(lo)} to {int(self.most)}" if self.most is not None else \
                f"a whole number, {int(lo)} or more"
        elif row.bounds:
            text = f"a number strictly between {self.args[0]:g} and {self.args[1]:g}"
        else:
            text = row.described + (f", at most {self.most:g}" if self.most is not None else "")
        return f"{self.off_means} or {text}" if self.off_means else text

    def admit(self, flag: str, value):
        """``value`` as the command uses it; else an ``error[usage]`` naming ``flag``, the range and the value."""
        if any(value is o or (o is not None and not isinstance(value, bool) and value == o) for o in self.off):
            return value
        try:
            number = require(value, self.kind, self.args, what=flag)
        except EbmError:
            number = None
        if number is None or (self.least is not None and number < self.least) or \
                (self.most is not None and number > self.most):
            raise EbmError("usage", f"{flag} must be {self.legal()}; got {value!r}", hint=self.hint)
        return number


def _size(hint: str, least=None) -> Opt:
    return Opt("size", least=least, most=INT_MAX, hint=hint)


# option (its argparse dest) -> what it admits, for every command that has it
OPTIONS = {
    "steps": _size("the number of optimizer steps, e.g. 1000"),
    "batch_size": _size("rows per optimizer step, e.g. 256"),
    "lr": Opt("positive", most=LR_MAX, large=LR_LARGE, hint="a learning rate such as 1e-3"),
    "seed": Opt("count", most=SEED_MAX, hint="a seed is a whole number from 0 to 4294967295 (JAX keeps 32 bits)"),
    "val_frac": Opt("interval", (0, 1), off=(None, 0), off_means="0 (no validation)",
                    hint="the fraction of rows held out for validation, e.g. 0.2"),
    "patience": _size("validation checks without improvement before stopping, e.g. 5"),
    "clip_norm": Opt("positive", hint="a global gradient norm such as 1.0"),
    "average": Opt("interval", (0, 1), off=(None, 0), off_means="0 (the last iterate)",
                   hint="a decay such as 0.99"),
    "checkpoint_every": _size("steps between checkpoints, e.g. 100"),
    "chains": _size("the number of chains, e.g. 4"),
    "draws": _size("draws kept per chain, e.g. 1000"),
    "warmup": Opt("count", most=INT_MAX, hint="warmup steps per chain, e.g. 1000 (0 for none)"),
    "thin": _size("keep every THIN-th draw: 1 keeps them all"),
    "runs": _size("AIS needs at least 2 runs: their spread gives the standard error", least=2),
    "temperatures": _size("at least 2 temperatures: e.g. 1000 for AIS (logz), 8 for parallel tempering (sample)",
                          least=2),
    "max_temperature": Opt("interval", (1, 1e30), hint="the hottest replica's temperature, above 1, e.g. 10"),
    "max_vars": _size("the number of scalar elements the figures show, e.g. 6"),
    "step_size": Opt("positive", hint="an initial step size such as 0.1"),
    "target_accept": Opt("interval", (0, 1), hint="an acceptance rate such as 0.9 (higher: smaller steps)"),
    "num_processes": _size("the number of processes in a multi-process run, e.g. 2"),
    "process_id": Opt("count", most=INT_MAX, hint="this process's number, 0 to the number of processes - 1"),
}

# commands whose --data named the consts file: now --consts, with --data kept as its old name (and a note)
CONSTS_ALIAS = ("check", "sample", "logz", "diagnose", "predict")


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def admit_args(args) -> list[str]:
    """Check every numeric option of the parsed ``args`` (in place: whole numbers become ints) and ``--out``;
    returns the warnings to print (legal but suspicious values)."""
    warnings = []
    for dest, opt in OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        value = opt.admit(flag(dest), value)
        setattr(args, dest, value)
        if opt.large is not None and value > opt.large:
            warnings.append(f"{flag(dest)} {value:g} is large: steps this big usually diverge (a NaN loss); "
                            f"typical values are 1e-4 to 1e-1")
    if getattr(args, "out", None) == "":
        raise EbmError("usage", "--out is empty", hint="give a folder, e.g. --out runs/mine")
    if getattr(args, "resume", False) and getattr(args, "overwrite", False):
        raise EbmError("usage", "--resume continues the run in --out, and --overwrite would remove it first",
                       hint="give one of them")
    return warnings


def consts_alias(args) -> list[str]:
    """``--data`` on a command where it names the consts becomes ``--consts`` (both is an error); the notes to
    print."""
    if args.command not in CONSTS_ALIAS or getattr(args, "data", None) is None:
        return []
    if args.consts is not None:
        raise EbmError("usage", f"--data and --consts both name the consts file ({args.data} and {args.consts})",
                       hint="give --consts only (--data is its old name)")
    args.consts = args.data
    return [f"--data is deprecated for `ebmppl {args.command}`: use --consts {args.data} (--data names training "
            f"rows in `ebmppl fit` and `ebmppl score`)"]


# ------------------------------------------------------------------ fit --option
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")  # a bare word is a name (projection=gaussian, sampler=gibbs)
_INTERNAL = ("problem", "data", "persistent", "batch_size")  # what fit passes the method itself


def method_option_names() -> dict[str, tuple]:
    """method -> the names of its options (the keyword arguments of its objective)."""
    from ..training import cd, conditional, fce, nce, score_matching as sm, vi
    funcs = {"sm": sm.sm_loss, "ssm": sm.ssm_loss, "dsm": sm.dsm_loss, "nce": nce.nce_objective,
             "cd": cd.cd_objective, "pcd": cd.cd_objective, "fce": fce.fce_objective, "vi": vi.vi_objective,
             "ce": conditional.ce_objective, "mle": None}
    return {m: () if f is None else tuple(p for p in inspect.signature(f).parameters if p not in _INTERNAL)
            for m, f in funcs.items()}


def fit_arguments() -> tuple:
    """The keyword arguments of ``ebmppl.fit`` itself (not method options)."""
    from ..training.api import fit
    return tuple(p.name for p in inspect.signature(fit).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
                 or p.kind is p.KEYWORD_ONLY)


def method_options(texts, method: str) -> dict:
    """``--option KEY=VALUE`` (repeatable) as a dict, every key an option of ``method`` (of some method for
    ``auto``) and every value a literal of the option's domain; else an ``error[usage]``."""
    names = method_option_names()
    known = names.get(method) if method != "auto" else tuple(sorted({n for v in names.values() for n in v}))
    own = fit_arguments()
    options, given = {}, {}
    for text in texts:
        key, raw = _split(text)
        if key in options:
            raise EbmError("usage", f"--option {key} is given twice ({key}={options[key]!r} and {text})",
                           hint="give each method option once")
        if key in own:
            cli = flag(key) if key in OPTIONS or key in ("optimizer", "method") else None
            raise EbmError("usage", f"--option {text}: '{key}' is an argument of `ebmppl fit` itself, not a method "
                                    f"option", hint=f"use {cli} {raw}" if cli else "it cannot be set from the "
                                                                                   "command line")
        if key not in known:
            where = f"method '{method}' has no option '{key}'" if method != "auto" else \
                f"no method has an option '{key}'"
            raise EbmError("usage", f"--option {text}: {where}",
                           hint=f"its options: {', '.join(known)}" if known else
                           (f"method '{method}' takes no options" if method != "auto" else None))
        options[key], given[key] = _literal(raw, text), text
    _admit_values(method, options, names, given)
    return options


def _split(text: str) -> tuple[str, str]:
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not _KEY.fullmatch(key):
        raise EbmError("usage", f"--option {text!r} is not KEY=VALUE", hint="e.g. --option k=5 --option sigma=0.1")
    return key, raw.strip()


def _literal(raw: str, text: str):
    """A number, true/false/null, a list of numbers, a quoted string or a bare name; nothing else."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError as e:  # JSONDecodeError, and NaN/Infinity refused by _no_constant
        if "not a finite number" in str(e):
            raise EbmError("usage", f"--option {text}: {raw} is not a finite number") from None
        if _NAME.fullmatch(raw):
            return raw
        raise EbmError("usage", f"--option {text}: the value {raw!r} is not a literal",
                       hint="give a number, true/false, a list such as [0.1,0.5] or a name") from None
    if isinstance(value, dict) or not _plain(value):
        raise EbmError("usage", f"--option {text}: the value {raw!r} is not a literal",
                       hint="give a number, true/false, a list such as [0.1,0.5] or a name")
    if not _finite(value):
        raise EbmError("usage", f"--option {text}: {raw} is not a finite number")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _plain(value) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _finite(value) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(not isinstance(v, float) or math.isfinite(v) for v in values)


def _admit_values(method: str, options: dict, names: dict, given: dict) -> None:
    """Numeric method options inside their domains (training's table, ``admit_method_options``), for ``method``
    or, with ``auto``, for every method that has the option."""
    from ..training.options import admit_method_options
    methods = [method] if method != "auto" else [m for m in names if m != "auto"]
    for m in methods:
        mine = {k: v for k, v in options.items() if k in names.get(m, ())}
        try:
            admit_method_options(m, mine)
        except EbmError as e:
            key = next((k for k in mine if f"{k}=" in e.message), next(iter(mine), ""))
            raise EbmError("usage", f"--option {given.get(key, key)}: {e.message.split(': ', 1)[-1]}",
                           hint=e.hint) from None
