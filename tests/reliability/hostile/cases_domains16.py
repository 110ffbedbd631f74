"""Hostile inputs for issue 16's domains: ``positive_ordered`` values from literals, defaults, data files and
param initial values (all checked by the domain table's row), bounds that read other vars
(``interval(0, 1 - alpha)``: what they may read, their shapes, a sampled run) and ``std(x, ddof=...)``."""

from __future__ import annotations

import json

from .harness import Case, Result

CHECK = ("check", "m.ebm")
CHECK_DATA = ("check", "m.ebm", "--data", "c.json")
SAMPLE = ("sample", "m.ebm", "--draws", "20", "--warmup", "20", "--chains", "1", "--out", "{dir}/o", "--no-progress")


def _nothing_written(res: Result) -> None:
    assert not (res.dir / "o").exists(), "an output folder was written for a model that does not load"


def bad(id, text, phrase, kind="semantic", argv=CHECK, data=None, **kw) -> Case:
    files = {"m.ebm": text, **({} if data is None else {"c.json": json.dumps(data)})}
    return Case(id, argv, files, code=2, kind=kind, phrase=phrase, check=_nothing_written, **kw)


def ok(id, text, phrase="ok", argv=CHECK, **kw) -> Case:
    return Case(id, argv, {"m.ebm": text}, code=0, phrase=phrase, **kw)


X = "var x : real\n"
PO = "an increasing vector of numbers above 0"
ALPHA = "var alpha : unit\nalpha ~ beta(2, 3)\n"

CASES = [
    # ---- positive_ordered: every way a value enters is checked by the row
    bad("po-const-default-zero", "const c : positive_ordered[3] = [0, 1, 2]\n" + X + "factor f = x^2 * sum(c)\n", PO),
    bad("po-const-default-unordered", "const c : positive_ordered[3] = [1, 3, 2]\n" + X + "factor f = x^2 * sum(c)\n",
        PO),
    bad("po-data-negative", "const c : positive_ordered[2]\n" + X + "factor f = x^2 * sum(c)\n", PO, kind="data",
        argv=CHECK_DATA, data={"c": [-1.0, 2.0]}),
    bad("po-data-tie", "const c : positive_ordered[2]\n" + X + "factor f = x^2 * sum(c)\n", PO, kind="data",
        argv=CHECK_DATA, data={"c": [2.0, 2.0]}),
    bad("po-data-nan", "const c : positive_ordered[2]\n" + X + "factor f = x^2 * sum(c)\n", "", kind="data",
        argv=CHECK_DATA, data={"c": [1.0, float("inf")]}),
    bad("po-param-init-negative", "param p : positive_ordered[2] = [-1, 1]\n" + X + "factor f = x^2 * sum(p)\n", PO),
    bad("po-param-init-normal", "param p : positive_ordered[3] ~ normal(0, 1)\n" + X + "factor f = x^2 * sum(p)\n",
        "initializer"),
    bad("po-no-length", "var c : positive_ordered\nfactor f = c^2\n", "give its length"),
    bad("po-size-0", "var c : positive_ordered[0]\nfactor f = sum(c^2)\n", "at least 1"),
    bad("po-binary-target", "var c : positive_ordered[2]\nc ~ bernoulli(0.5)\n", ""),
    ok("po-entry-is-a-temperature", X + "factor f = x^2\nparam T : positive_ordered[2] = [1, 2]\nmodel = f / (T[0])\n"),
    ok("po-sample-order-statistics", "var c : positive_ordered[3]\nc ~ exponential(1)\n", "wrote", argv=SAMPLE),
    # ---- bounds that read other vars
    bad("vb-bound-reads-param", "param p : positive = 1\nvar x : interval(0, p)\nfactor f = x\n", "is a param"),
    bad("vb-bound-reads-later-var", "var x : interval(0, a)\nvar a : unit\nfactor f = x + a\n", "unknown name 'a'"),
    bad("vb-bound-reads-let", ALPHA + "let b = 1 - alpha\nvar x : interval(0, b)\nfactor f = x\n", "is a let"),
    bad("vb-bound-reads-discrete", "var b : binary\nvar x : interval(0, 1 + b)\nfactor f = x + b\n",
        "continuous vars"),
    bad("vb-bound-shape", "var a : unit[2]\nvar x : interval(0, a)[3]\nfactor f = sum(x) + sum(a)\n", "has shape",
        kind="shape"),
    bad("vb-param-bound-reads-var", ALPHA + "param x : interval(0, alpha)\nfactor f = x * alpha\n",
        "may only use consts"),
    bad("vb-bound-inf-literal", ALPHA + "var x : interval(-inf, 1 - alpha)\nfactor f = x\n", "finite"),
    ok("vb-sample-uniform-below-1-minus-alpha", ALPHA + "var x : interval(0, 1 - alpha)\nx ~ uniform(0, 1 - alpha)\n",
       "wrote", argv=(*SAMPLE, "--sampler", "mala")),
    # ---- std with ddof: a number known before sampling
    bad("std-ddof-from-a-var", "var x : real[3]\nlet s = std(x, ddof=x[0])\nfactor f = sum(x^2)\n",
        "known before sampling"),
]
