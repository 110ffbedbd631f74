"""What a command says besides its results: warnings as ``warning: <message>`` (once each), hints in the command
line's spelling, ``--quiet``, ``--verbose`` and the ``--json`` result line.

:func:`speaking` wraps one command: inside it

- every Python warning raised (by ebmppl, NumPyro, ArviZ, ...) prints as ``warning: <message>`` on stderr, once
  per distinct message and without the file and line of the code that raised it; ``--quiet`` silences them;
  ``warnings.showwarning`` and the filters are restored afterwards;
- hints are written for the command line (:func:`ebmppl.vocabulary.interface`: ``--target-accept 0.95``, not
  ``target_accept=0.95``);
- with ``--json`` the human-readable text goes to stderr, and one JSON object goes to stdout at the end: the
  command, its exit code and what the command put in :attr:`Said.result`.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..vocabulary import interface


@dataclass
class Said:
    """One command's talk: its options, the result it reports (for ``--json``) and the warnings shown."""

    quiet: bool = False
    verbose: bool = False
    json: bool = False
    result: dict = field(default_factory=dict)
    warned: list = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)
    stdout: object = None

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:
        """``warnings.showwarning``: ``warning: <message>``, once per distinct message."""
        text = str(message)
        if self.quiet or text in self.warned:
            return
        self.warned.append(text)
        print(f"warning: {text}", file=sys.stderr)

    def end(self, code: int, command: str) -> int:
        """After the command: the ``--verbose`` timing line and the ``--json`` line; returns ``code``."""
        seconds = time.perf_counter() - self.began
        if self.verbose:
            t = self.result.get("timing") or {}
            if t.get("steps_per_second"):
                print(f"{command}: the first chunk (compiling) took {t['compile_seconds']:.2f} s, then "
                      f"{t['steps_per_second']:,.0f} steps/s", file=sys.stderr)
            print(f"{command}: {seconds:.2f} s in all", file=sys.stderr)
        if self.json:
            result = {k: v() if callable(v) else v for k, v in self.result.items()}
            line = {"command": command, "exit": code, "seconds": round(seconds, 4), **result,
                    "warnings": list(self.warned) + list(result.get("warnings", ()))}
            print(json.dumps(_plain(line), allow_nan=False), file=self.stdout, flush=True)
        return code


@contextmanager
def speaking(args) -> Iterator[Said]:
    """Run a command with warnings printed as ``warning: ...``, hints for the command line and ``--json``'s
    stdout kept for the result line (see the module)."""
    said = Said(quiet=bool(getattr(args, "quiet", False)), verbose=bool(getattr(args, "verbose", False)),
                json=bool(getattr(args, "json", False)), stdout=sys.stdout)
    with warnings.catch_warnings(), interface("cli"), contextlib.ExitStack() as stack:
        warnings.showwarning = said.show
        if said.quiet:
            warnings.simplefilter("ignore")
        else:  # a user's warnings each once, by message (show() drops repeats); libraries' deprecations stay off
            warnings.simplefilter("always", UserWarning)
            warnings.simplefilter("always", RuntimeWarning)
        if said.json:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        yield said


def _plain(value):
    """``value`` with NumPy numbers and arrays as JSON numbers and lists; non-finite numbers as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def params_summary(params: dict, small: int = 10) -> dict:
    """Each param for the JSON line: its value when it has at most ``small`` elements, else its shape, mean and
    standard deviation (an mlp's weights: one entry a layer array)."""
    out = {}
    for name, value in params.items():
        if isinstance(value, dict):
            out[name] = params_summary(value, small)
            continue
        a = np.asarray(value, dtype=float)
        out[name] = a.tolist() if a.size <= small else {"shape": list(a.shape), "mean": float(a.mean()),
                                                       "sd": float(a.std())}
    return out


def fit_result(result: dict, res, final: dict, folder, params: bool) -> None:
    """What ``ebmppl fit --json`` reports: the method, steps, final loss, why it stopped, the params (when
    written), the files in the output folder when the command ends and the timings (:func:`timings`)."""
    from pathlib import Path
    folder = Path(folder)
    result.update(method=res.method, steps=final["steps"], final_loss=final["loss"], stopped=res.stopped,
                  out=str(folder), timing=timings(res.history.get("time", ())))
    if "val_loss" in final:
        result["final_val_loss"] = final["val_loss"]
    if res.logz is not None:
        result["logz"] = float(res.logz)
    if params:
        result["params"] = params_summary(res.params)
    result["files"] = lambda: sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.name != ".ebmppl.lock")


def timings(per_step) -> dict:
    """From the history's per-step seconds (each chunk's time spread over its steps): the first chunk's seconds
    (compilation and its steps), the seconds and steps after it, and the steps per second after compiling."""
    t = np.asarray(per_step, dtype=float)
    if not t.size:
        return {}
    first = int(np.argmax(t != t[0])) if (t != t[0]).any() else t.size  # the first chunk's steps share one value
    after, n_after = float(t[first:].sum()), int(t.size - first)
    return {"compile_seconds": float(t[:first].sum()), "seconds_after_compile": after, "steps_after_compile": n_after,
            "steps_per_second": n_after / after if after > 0 else None}
