"""Hostile expressions for the expression compiler (issue 16): booleans in arithmetic count as 0 and 1 (``+`` is
never a logical or), a slice step that is a const bound to 0 is refused at the slice, and the new constructs
(truncation ``T[lo, hi]``, recurrences ``let s[t in 1:N] = ... with s[0] = ...``) refuse what they cannot mean."""

from __future__ import annotations

from .harness import Case

CHECK = ("check", "m.ebm")
CHECK_DATA = ("check", "m.ebm", "--data", "c.json")
X = "var x : real\n"


def bad(id, text, phrase, kind="semantic", argv=CHECK, data=None) -> Case:
    files = {"m.ebm": text}
    if data is not None:
        files["c.json"] = data
    return Case(id, argv, files, code=2, kind=kind, phrase=phrase)


def ok(id, text, phrase) -> Case:
    return Case(id, CHECK, {"m.ebm": text}, code=0, phrase=phrase)


CASES = [
    # True + True is 2, as in Python and NumPy's integer arithmetic, not True (a logical or)
    bad("compiler16-bool-plus-bool-is-2", "const k : categorical(2) = (1 < 2) + (1 < 2)\n" + X + "factor f = x^2 * k\n",
        "got 2"),
    ok("compiler16-bool-sum-sizes", "const n : int = (1 < 2) + (2 < 3) + (3 < 4)\nvar x : real[n]\n"
       "factor f = sum(x^2)\n", "real[n] = [3]"),
    # True - True is 0 (JAX refuses to subtract booleans: no traceback)
    bad("compiler16-bool-minus-bool-is-0", "const s : positive = (1 < 2) - (1 < 2)\n" + X + "factor f = x^2 * s\n",
        "got 0"),
    # True * True + True * True is 2, not True
    bad("compiler16-bool-times-bool", "const k : categorical(2) = (1 < 2) * (2 < 3) + (1 < 2) * (1 < 2)\n" + X
        + "factor f = x^2 * k\n", "got 2"),
    # a slice step from data that is 0: an error at the slice, not a raw ValueError
    bad("compiler16-slice-step-const-0", "const N : int\nvar x : real[4]\nfactor f = sum(x[1::N]^2)\n",
        "slice step N is 0", kind="value", argv=CHECK_DATA, data='{"N": 0}'),
    bad("compiler16-slice-step-default-0", "const N : int = 2 - 2\nvar x : real[4]\nfactor f = sum(x[::N]^2)\n",
        "slice step N is 0", kind="value"),
    # truncation
    bad("compiler16-truncate-discrete", "var n : int\nn ~ poisson(3) T[0, 5]\n", "discrete distribution (poisson)"),
    bad("compiler16-truncate-no-cdf", "var x : real[2]\nx ~ multi_normal([0.0, 0.0], eye(2)) T[0, 1]\n",
        "multi_normal cannot be truncated"),
    bad("compiler16-truncate-var-outside", "var x : real\nx ~ normal(0, 1) T[0, ]\n", "declare 'x' inside"),
    bad("compiler16-truncate-no-bound", "var x : real\nx ~ normal(0, 1) T[, ]\n", "needs a bound"),
    bad("compiler16-truncate-other-word", "var x : real\nx ~ normal(0, 1) Q[0, 1]\n", "T[lo, hi]", kind="syntax"),
    # recurrences
    bad("compiler16-recurrence-future", "const N : int = 4\nvar a : real\nlet s[t in 1:N] = a * s[t + 1] "
        "with s[0] = 1.0\nfactor f = a^2 + sum(s)\n", "reads a value not computed yet"),
    bad("compiler16-recurrence-too-long", "const N : int = 2000000000\nvar a : real\nlet s[t in 1:N] = a * s[t - 1] "
        "with s[0] = 1.0\nfactor f = a^2 + sum(s)\n", "GiB", kind="limit"),
    bad("compiler16-recurrence-var-bound", "var a : real\nlet s[t in 1:a] = a * s[t - 1] with s[0] = 1.0\n"
        "factor f = a^2 + sum(s)\n", "'a' is a var"),
]
