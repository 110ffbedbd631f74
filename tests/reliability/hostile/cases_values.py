"""Hostile values known when a model is lowered: const defaults and param initial values outside their
domains, static mixture weights, temperatures and distribution arguments, indices whose static range
leaves the axis, static arithmetic that divides by zero or overflows, sizes beyond what ebmppl allocates,
and consts bound from JSON files that are not numbers of the dtype used."""

from __future__ import annotations

import json

from .harness import Case, Result

CHECK = ("check", "m.ebm")
CHECK_DATA = ("check", "m.ebm", "--data", "c.json")
SAMPLE = ("sample", "m.ebm", "--draws", "20", "--warmup", "20", "--chains", "1", "--out", "{dir}/o", "--no-progress")
FIT = ("fit", "m.ebm", "--data", "d.csv", "--consts", "c.json", "--steps", "5", "--out", "{dir}/o", "--no-progress",
       "--no-report")


def _nothing_written(res: Result) -> None:
    assert not (res.dir / "o").exists(), "an output folder was written for a model that does not load"


def bad(id, text, phrase, kind="semantic", argv=CHECK, data=None, files=None, **kw) -> Case:
    """A model (with its consts file ``data``) that must be refused when it is loaded."""
    more = dict(files or {})
    if data is not None:
        more["c.json"] = data if isinstance(data, str) else json.dumps(data)
    check = _nothing_written if argv in (SAMPLE, FIT) else None
    return Case(id, argv, {"m.ebm": text, **more}, code=2, kind=kind, phrase=phrase, check=check, **kw)


def ok(id, text, phrase="ok", argv=CHECK, data=None, **kw) -> Case:
    """A legal model: it loads and says ``phrase``."""
    more = {} if data is None else {"c.json": data if isinstance(data, str) else json.dumps(data)}
    return Case(id, argv, {"m.ebm": text, **more}, code=0, phrase=phrase, **kw)


X = "var x : real\n"
X3 = "var x : real[3]\n"
MIX = X + "factor a : x ~ normal(0, 1)\nfactor b : x ~ normal(2, 1)\n"
TEMPER = X + "factor f = x^2\n"
USE = "factor f = x^2 * {}\n"  # a factor that reads a const or param

CASES = [
    # ---- const defaults: the domain table's test, with the domain's bound arguments
    bad("values-const-binary-3", "const b : binary = 3\n" + X + USE.format("b"), "default of 'b' must be 0 or 1"),
    bad("values-const-positive-negative-expr", "const s : positive = 0 - 1\n" + X + USE.format("s"),
        "got -1"),
    bad("values-const-simplex-sum", "const p : simplex[3] = [0.5, 0.5, 0.5]\n" + X3 + "factor f = sum(x^2 * p)\n",
        "default of 'p' must be a vector of numbers"),
    bad("values-const-unit-boundary", "const u : unit = 1\n" + X + USE.format("u"), "strictly between 0 and 1"),
    bad("values-const-interval-const-bound", "const lo : real = 0\nconst a : interval(lo, 1) = 1\n" + X
        + USE.format("a"), "default of 'a'"),
    bad("values-const-categorical-k", "const k : categorical(3) = 3\n" + X + USE.format("k"), "got 3"),
    bad("values-const-ordered", "const o : ordered[3] = [1, 3, 2]\n" + X3 + "factor f = sum(x^2 * o)\n",
        "increasing"),
    bad("values-const-spin-element", "const s : spin[2] = [1, 0]\n" + X + "factor f = x^2 * sum(s)\n",
        "element [1] is 0"),
    bad("values-const-overflows-float32", "const a : real = 1e39\n" + X + USE.format("a"), "float32"),
    bad("values-const-exp-overflows", "const a : real = exp(1000)\n" + X + USE.format("a"), "exp(1000)"),
    bad("values-const-log-of-zero", "const a : real = log(0)\n" + X + USE.format("a"), "-inf"),
    bad("values-const-sqrt-of-negative", "const a : real = sqrt(0 - 1)\n" + X + USE.format("a"), "nan"),
    ok("values-const-positive-expression", "const s : positive = 2 - 1\n" + X + USE.format("s")),
    ok("values-const-simplex-default", "const p : simplex[2] = [0.25, 0.75]\nvar x : real[2]\n"
       "factor f = sum(x^2 * p)\n"),
    # ---- param initial values: strict at open bounds, in the dtype used
    bad("values-param-unit-1", "param u : unit = 1\n" + X + USE.format("u"), "initial value of 'u'"),
    bad("values-param-interval-upper-bound", "param u : interval(0, 1) = 1\n" + X + USE.format("u"),
        "strictly inside"),
    bad("values-param-positive-expression", "param s : positive = 1 - 2\n" + X + USE.format("s"), "got -1"),
    bad("values-param-simplex", "param p : simplex[2] = [0.7, 0.7]\nvar x : real[2]\nfactor f = sum(x^2 * p)\n",
        "initial value of 'p'"),
    bad("values-param-overflows-float32", "param a : real = 1e39\n" + X + USE.format("a"), "float32"),
    bad("values-param-sample", "param u : unit = 0\n" + X + USE.format("u"), "initial value of 'u'", argv=SAMPLE),
    ok("values-param-interval-inside", "param u : interval(0, 2) = 1\n" + X + USE.format("u")),
    # ---- static temperatures and mixture weights
    bad("values-temper-negative", TEMPER + "model = f / (0 - 2)\n", "temperature"),
    bad("values-temper-zero", TEMPER + "model = f / (1 - 1)\n", "temperature"),
    bad("values-temper-overflow", TEMPER + "model = f / (1e30 * 1e30)\n", "inf"),
    bad("values-weight-negative", MIX + "model = mixture(1: a, (0 - 1): b)\n", "mixture weight"),
    bad("values-weight-zero-sample", MIX + "model = mixture(1: a, (2 - 2): b)\n", "mixture weight", argv=SAMPLE),
    ok("values-weight-expressions", MIX + "model = mixture(0.25: a, 3 / 4: b)\n"),
    # ---- distribution arguments that are static values
    bad("values-dirichlet-negative", "var p : simplex[3]\np ~ dirichlet([1, -1, 1])\n", "concentration"),
    bad("values-categorical-not-summing", "var k : categorical(3)\nk ~ categorical([0.5, 0.2, 0.2])\n", "probs"),
    bad("values-categorical-negative", "var k : categorical(3)\nk ~ categorical([1.5, -0.3, -0.2])\n", "probs"),
    bad("values-cov-not-positive-definite", "var x : real[2]\nx ~ multi_normal([0, 0], [[1, 2], [2, 1]])\n",
        "cov of multi_normal"),
    bad("values-cov-not-symmetric", "var x : real[2]\nx ~ multi_normal([0, 0], [[1, 0.5], [0, 1]])\n",
        "cov of multi_normal"),
    bad("values-cholesky-negative-diagonal", "var x : real[2]\n"
        "x ~ multi_normal_cholesky([0, 0], [[-1, 0], [0, 1]])\n", "multi_normal_cholesky"),
    bad("values-uniform-bounds-from-const", "const a : real = 3\nvar x : interval(0, 1)\nx ~ uniform(a, 1)\n",
        "uniform"),
    bad("values-normal-scale-expression", X + "x ~ normal(0, 1 - 2)\n", "scale of normal"),
    bad("values-normal-loc-nan", X + "x ~ normal(inf - inf, 1)\n", "nan"),
    bad("values-lpdf-scale-expression", X + "factor f = -normal_lpdf(x | 0, 0 - 1)\n", "scale of normal"),
    bad("values-bernoulli-probs-list", "var b : binary[2]\nb ~ bernoulli([0.5, 1.5])\n", "probs of bernoulli"),
    bad("values-binomial-count-negative", "var k : int\nk ~ binomial(0 - 3, 0.5)\n", "total_count"),
    bad("values-poisson-rate-zero-sample", "var k : int\nk ~ poisson(1 - 1)\n", "rate of poisson", argv=SAMPLE),
    bad("values-init-dist-scale", "param a : real ~ normal(0, 0 - 1)\n" + X + USE.format("a"), "scale of normal"),
    ok("values-categorical-zero-probability", "var k : categorical(3)\nk ~ categorical([1, 0, 0])\n"),
    # ---- indices: their static range against the axis
    bad("values-index-comprehension-beyond", X3 + "factor f = sum([x[i] for i in range(5)])\n",
        "out of range for axis 0 of size 3", kind="shape"),
    bad("values-index-plus-one", X3 + "factor f = sum([x[i + 1] for i in range(3)])\n", "from 1 to 3",
        kind="shape"),
    bad("values-index-categorical-var", "var k : categorical(5)\n" + X3 + "factor f = x[k]^2\n",
        "size 3", kind="shape"),
    bad("values-index-literal", X3 + "factor f = x[3]^2\n", "out of range", kind="shape"),
    bad("values-index-negative-literal", X3 + "factor f = x[-4]^2\n", "out of range", kind="shape"),
    bad("values-index-bound-int-array", "const g : int[4]\nvar mu : real[3]\nfactor f = sum(mu[g]^2)\n",
        "from 0 to 3", kind="shape", argv=CHECK_DATA, data={"g": [0, 1, 2, 3]}),
    bad("values-index-int-const-default", "const j : int = 5\n" + X3 + "factor f = x[j]^2\n", "5", kind="shape"),
    bad("values-index-second-axis", "var W : real[2, 3]\nfactor f = sum([W[1, i] for i in range(4)])\n",
        "axis 1 of size 3", kind="shape"),
    bad("values-index-nested-comprehension", X3 + "factor f = sum([[x[i + j] for j in range(2)] for i in range(3)])\n",
        "from 0 to 3", kind="shape"),
    bad("values-index-sample", X3 + "factor f = sum([x[i] for i in range(4)])\n", "out of range", kind="shape",
        argv=SAMPLE),
    ok("values-index-categorical-fits", "var k : categorical(3)\n" + X3 + "factor f = x[k]^2 + sum(x^2)\n"),
    ok("values-index-shifted-range", X3 + "factor f = sum([x[i] * x[i - 1] for i in range(1, 3)])\n"),
    ok("values-index-guarded-by-condition", X3 + "factor f = sum([x[i + 1] - x[i] if i < 2 else 0 for i in range(3)])\n"),
    bad("values-index-condition-not-guarding", X3 + "factor f = sum([x[i + 1] if i < 3 else 0 for i in range(3)])\n",
        "from 1 to 3", kind="shape"),
    ok("values-index-modulo", X3 + "factor f = sum([x[(i + 1) % 3] * x[i] for i in range(3)])\n"),
    # ---- static arithmetic: never a ZeroDivisionError, an OverflowError or a MemoryError
    bad("values-const-division-by-zero", "const n : int = 4 / 0\nvar x : real[n]\nfactor f = sum(x^2)\n",
        "division by zero"),
    bad("values-size-modulo-zero", "const n : int = 3\nvar x : real[n % 0]\nfactor f = sum(x^2)\n", "by zero"),
    bad("values-range-step-zero", X3 + "factor f = sum([x[i] for i in range(0, 3, 0)])\n", "step 0"),
    bad("values-arange-step-zero", X3 + "factor f = sum(x * arange(0, 3, 0))\n", "arange(0, 3, 0)"),
    bad("values-size-int32-overflow", "const n : int = 100000 * 100000\nvar x : real[n]\nfactor f = sum(x^2)\n",
        "int32", kind="limit"),
    bad("values-size-gigabytes", "const n : int = 100000\nvar x : real[n, n]\nfactor f = sum(x^2)\n", "GiB",
        kind="limit", timeout=30),
    bad("values-size-gigabytes-bound", "const N : int\nvar x : real[N, N]\nfactor f = sum(x^2)\n", "GiB",
        kind="limit", argv=CHECK_DATA, data={"N": 100000}, timeout=30),
    bad("values-range-gigabytes", X + "factor f = x^2 + sum(i * 1.0 for i in range(0, 2000000000))\n", "GiB",
        kind="limit", timeout=30),
    bad("values-mlp-gigabytes", "var x : real[2]\nparam g : mlp(2, [100000, 100000], 1)\nfactor f = sum(g(x))\n",
        "GiB", kind="limit", timeout=30),
    bad("values-zeros-gigabytes", X + "factor f = x^2 + sum(zeros(100000, 100000))\n", "GiB", kind="limit",
        timeout=30),
    bad("values-eye-gigabytes", X + "factor f = x^2 + trace(eye(100000))\n", "GiB", kind="limit", timeout=30),
    bad("values-outer-gigabytes", "var x : real[100000]\nfactor f = sum(outer(x, x))\n", "GiB", kind="limit",
        timeout=30),
    bad("values-simplex-size-computed-zero", "const n : int = 1 - 1\nvar p : simplex[n]\nfactor f = sum(p^2)\n",
        "empty"),
    # ---- consts bound from JSON
    bad("values-bind-true", "const b : binary\n" + X + USE.format("b"), "write 1 or 0", kind="data",
        argv=CHECK_DATA, data='{"b": true}'),
    bad("values-bind-true-in-list", "const y : real[2]\n" + X + "factor f = x^2 * sum(y)\n", "element [1]",
        kind="data", argv=CHECK_DATA, data='{"y": [1.0, true]}'),
    bad("values-bind-bools-for-binary-fit", "const b : binary[2]\n" + X + "param a : real = 0\n"
        "factor f = (x - a)^2 * (1 + sum(b))\n",
        "write 1 or 0", kind="data", argv=FIT, data='{"b": [true, false]}', files={"d.csv": "x\n1\n2\n"}),
    bad("values-bind-overflows-float32", "const a : real\n" + X + USE.format("a"), "float32", kind="data",
        argv=CHECK_DATA, data='{"a": 1e39}'),
    bad("values-bind-int-beyond-int32", "const n : int\n" + X + USE.format("n"), "int32", kind="data",
        argv=CHECK_DATA, data={"n": 3000000000}),
    bad("values-bind-huge-int", "const n : int\n" + X + USE.format("n"), "too large", kind="data",
        argv=CHECK_DATA, data='{"n": 1' + "0" * 400 + "}"),
    bad("values-bind-interval-outside", "const lo : real\nconst a : interval(lo, 1)\n" + X + USE.format("a"),
        "'a'", kind="data", argv=CHECK_DATA, data={"lo": 0, "a": 2}),
    bad("values-bind-categorical-outside", "const K : int\nconst k : categorical(K)[2]\n" + X
        + "factor f = x^2 * sum(k)\n", "element [1] is 3", kind="data", argv=CHECK_DATA, data={"K": 3, "k": [0, 3]}),
    bad("values-bind-simplex-sum", "const p : simplex[3]\n" + X3 + "factor f = sum(x^2 * p)\n", "'p'", kind="data",
        argv=CHECK_DATA, data={"p": [0.5, 0.5, 0.5]}),
    bad("values-bind-ragged", "const y : real[2, 2]\n" + X + "factor f = x^2 * sum(y)\n", "ragged", kind="data",
        argv=CHECK_DATA, data={"y": [[1, 2], [3]]}),
    bad("values-bind-string", "const y : real[2]\n" + X + "factor f = x^2 * sum(y)\n", "string", kind="data",
        argv=CHECK_DATA, data={"y": [1, "2"]}),
    bad("values-bind-object", "const y : real\n" + X + USE.format("y"), "object", kind="data", argv=CHECK_DATA,
        data={"y": {"a": 1}}),
    bad("values-bind-null", "const y : real[2]\n" + X + "factor f = x^2 * sum(y)\n", "null", kind="data",
        argv=CHECK_DATA, data={"y": [1, None]}),
    bad("values-bind-nan", "const y : real\n" + X + USE.format("y"), "not finite", kind="data", argv=CHECK_DATA,
        data='{"y": NaN}'),
    bad("values-bind-deeply-nested", "const y : real[2]\n" + X + "factor f = x^2 * sum(y)\n", "c.json",
        kind="data", argv=CHECK_DATA, data='{"y": ' + "[" * 100000 + "]" * 100000 + "}"),
    ok("values-bind-interval-inside", "const lo : real\nconst a : interval(lo, 1)\n" + X + USE.format("a"),
       argv=CHECK_DATA, data={"lo": 0, "a": 0.5}),
]
