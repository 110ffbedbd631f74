"""Hostile declarations: what a declared domain guarantees (temperatures, mixture weights, distribution
arguments fed by params, vars and lets), domain arguments and sizes, the domain table's value tests, and
names that would collide with what ``ebmppl sample`` writes beside the draws."""

from __future__ import annotations

import json

from .harness import Case, Result

CHECK = ("check", "m.ebm")
SAMPLE = ("sample", "m.ebm", "--draws", "20", "--warmup", "20", "--chains", "1", "--out", "{dir}/o")


def _nothing_written(res: Result) -> None:
    assert not (res.dir / "o").exists(), "an output folder was written for a model that does not load"


def bad(id, text, phrase, kind="semantic", argv=CHECK, **kw) -> Case:
    """A model that must be refused when it is loaded (before anything is sampled or written)."""
    check = _nothing_written if argv is SAMPLE else None
    return Case(id, argv, {"m.ebm": text}, code=2, kind=kind, phrase=phrase, check=check, **kw)


def ok(id, text, phrase="ok", argv=CHECK, files=None, **kw) -> Case:
    """A model that is legal: it loads (and samples) and says ``phrase``."""
    return Case(id, argv, {"m.ebm": text, **(files or {})}, code=0, phrase=phrase, **kw)


X = "var x : real\n"
MIX = X + "factor a : x ~ normal(0, 1)\nfactor b : x ~ normal(2, 1)\n"
TEMPER = X + "factor f = x^2\n"

CASES = [
    # ---- temperatures: a param must be declared (or transformed to be) positive
    bad("decl-temper-real-param", TEMPER + "param T : real = -1\nmodel = f / T\n", "declare 'T' as positive"),
    bad("decl-temper-real-param-sample", TEMPER + "param T : real = 2\nmodel = f / T\n", "temperature",
        argv=SAMPLE),
    bad("decl-temper-negated-positive", TEMPER + "param T : positive = 1\nmodel = f / (0 - T)\n",
        "temperature must be positive"),
    bad("decl-temper-difference", TEMPER + "param T : positive = 2\nmodel = f / (T - 1)\n",
        "may be 0 or negative"),
    bad("decl-temper-square-of-real", TEMPER + "param t : real = 1\nmodel = f / (t^2)\n", "'t' is declared real"),
    bad("decl-temper-abs-of-real", TEMPER + "param t : real = 1\nmodel = f / (abs(t))\n", "may be 0"),
    bad("decl-temper-interval-straddles-0", TEMPER + "param T : interval(-1, 1) = 0.5\nmodel = f / T\n",
        "declare 'T' as positive"),
    bad("decl-temper-ordered-entry", TEMPER + "param T : ordered[2]\nmodel = f / (T[1])\n", "'T' is declared ordered"),
    bad("decl-temper-inf-literal", TEMPER + "model = f / inf\n", "finite"),
    # a literal too large for a float is refused where it is read (the parser); the value never gets here
    bad("decl-temper-1e999-literal", TEMPER + "model = f / 1e999\n", "", kind=None),
    ok("decl-temper-exp-of-real", TEMPER + "param t : real = 0\nmodel = f / (exp(t))\n"),
    ok("decl-temper-softplus-sample", TEMPER + "param t : real = 0\nmodel = f / (softplus(t))\n", "wrote",
       argv=SAMPLE),
    ok("decl-temper-unit-and-sum", TEMPER + "param u : unit = 0.5\nparam T : positive = 1\nmodel = f / (u + 2 * T)\n"),
    ok("decl-temper-interval-above-0", TEMPER + "param T : interval(0.5, 2) = 1\nmodel = f / T\n"),
    # ---- mixture weights
    bad("decl-weight-real-param", MIX + "param w : real = 0.5\nmodel = mixture(w: a, 1: b)\n",
        "declare 'w' as positive"),
    bad("decl-weight-real-param-sample", MIX + "param w : real = 0.5\nmodel = mixture(w: a, 1: b)\n",
        "mixture weight", argv=SAMPLE),
    bad("decl-weight-negated", MIX + "param w : positive = 1\nmodel = mixture((0 - w): a, 1: b)\n",
        "mixture weight must be positive"),
    bad("decl-weight-one-minus-positive", MIX + "param w : positive = 0.5\nmodel = mixture(w: a, (1 - w): b)\n",
        "may be 0 or negative"),
    bad("decl-weight-inf", MIX + "model = mixture(inf: a, 1: b)\n", "finite"),
    ok("decl-weight-simplex-entries", MIX + "param w : simplex[2]\nmodel = mixture(w[0]: a, w[1]: b)\n"),
    ok("decl-weight-unit-complement", MIX + "param w : unit = 0.3\nmodel = mixture(w: a, (1 - w): b)\n"),
    # ---- distribution arguments fed by params, vars and lets
    bad("decl-scale-real-param-times-2", X + "param s : real = 1\nx ~ normal(0, s * 2)\n", "declare 's' as positive"),
    bad("decl-scale-real-var", X + "var s : real\nx ~ normal(0, s)\n", "declare 's' as positive"),
    bad("decl-scale-through-let", X + "param s : real = 1\nlet sd = s + 1\nx ~ normal(0, sd)\n",
        "'s' is declared real"),
    bad("decl-scale-minus-positive", X + "param s : positive = 1\nx ~ normal(0, (0 - s))\n", "negative"),
    bad("decl-scale-sample", X + "param s : real = 1\nlet sd = 2 * s\nx ~ normal(0, sd)\n", "positive",
        argv=SAMPLE),
    bad("decl-rate-real-param", "var y : positive\nparam r : real = 1\ny ~ exponential(r)\n",
        "declare 'r' as positive"),
    bad("decl-lpdf-scale-expression", X + "param s : real = 1\nfactor f = -normal_lpdf(x | 0, s * s)\n",
        "may be 0"),
    bad("decl-concentration-real-vector", "var p : simplex[3]\nparam a : real[3]\np ~ dirichlet(a)\n",
        "declare 'a' as positive"),
    bad("decl-probs-real-vector", "var k : categorical(3)\nparam p : real[3]\nk ~ categorical(p)\n",
        "declare 'p' as simplex"),
    bad("decl-probs-positive-vector", "var k : categorical(3)\nparam p : positive[3]\nk ~ categorical(p)\n",
        "simplex"),
    bad("decl-probs-exp-expression", "var k : categorical(3)\nparam l : real[3]\nk ~ categorical(exp(l))\n",
        "softmax"),
    bad("decl-bernoulli-probs-positive", "var b : binary\nparam p : positive = 0.5\nb ~ bernoulli(p)\n",
        "in (0, 1)"),
    bad("decl-cov-real-matrix", "var x : real[2]\nparam S : real[2, 2]\nx ~ multi_normal([0, 0], S)\n",
        "covariance"),
    bad("decl-chol-real-matrix", "var x : real[2]\nparam L : real[2, 2]\nx ~ multi_normal_cholesky([0, 0], L)\n",
        "Cholesky"),
    ok("decl-probs-softmax", "var k : categorical(3)\nparam l : real[3]\nk ~ categorical(softmax(l))\n"),
    ok("decl-bernoulli-sigmoid", "var b : binary\nparam a : real = 0\nb ~ bernoulli(sigmoid(a))\n"),
    ok("decl-scale-through-exp-let-sample", X + "param s : real = 0\nlet sd = exp(s) + 0.1\nx ~ normal(0, sd)\n",
       "wrote", argv=SAMPLE),
    bad("decl-weight-const-real", MIX + "const w : real = 0.5\nmodel = mixture(w: a, 1: b)\n",
        "declare 'w' as positive"),
    bad("decl-lpdf-uniform-reversed", "var x : interval(0, 1)\nfactor f = -uniform_lpdf(x | 1, 0)\n", "below"),
    bad("decl-probs-through-let", "var k : categorical(3)\nparam l : real[3]\nlet q = exp(l)\nk ~ categorical(q)\n",
        "'q' is not known to sum to 1"),
    ok("decl-probs-normalized-positive",
       "var k : categorical(3)\nparam w : positive[3]\nk ~ categorical(w / sum(w))\n"),
    ok("decl-probs-let-softmax", "var k : categorical(3)\nparam l : real[3]\nlet q = softmax(l)\nk ~ categorical(q)\n"),
    ok("decl-scale-loop-variable", "var x : real[3]\nparam s : positive = 1\n"
       "factor f = -sum(normal_lpdf(x[i] | 0, s * (i + 1)) for i in range(3))\n"),
    ok("decl-cov-from-positive-diag", "var x : real[2]\nparam sd : positive[2]\nlet S = diag(sd^2)\n"
       "x ~ multi_normal([0, 0], S)\n"),
    # ---- literal arguments that are not finite, bounds the wrong way round
    bad("decl-scale-inf", X + "x ~ normal(0, inf)\n", "finite"),
    bad("decl-scale-1e999", X + "x ~ normal(0, 1e999)\n", "", kind=None),
    bad("decl-loc-inf", X + "x ~ normal(inf, 1)\n", "finite"),
    bad("decl-loc-minus-inf", X + "x ~ normal(-inf, 1)\n", "finite"),
    bad("decl-uniform-reversed", "var x : interval(0, 1)\nx ~ uniform(1, 0)\n", "below"),
    bad("decl-uniform-empty", "var x : interval(0, 1)\nx ~ uniform(1, 1)\n", "below"),
    # ---- param initializers must draw inside the param's domain
    bad("decl-init-normal-for-positive", X + "param s : positive ~ normal(0, 1)\nx ~ normal(0, s)\n",
        "initializer"),
    bad("decl-init-normal-for-ordered", X + "param o : ordered[3] ~ normal(0, 1)\nfactor f = sum(o) * x^2\n",
        "initializer"),
    bad("decl-init-normal-for-unit", X + "param u : unit ~ normal(0.5, 0.1)\nfactor f = u * x^2\n", "initializer"),
    bad("decl-init-uniform-beyond-interval", X + "param u : interval(0, 1) ~ uniform(0, 2)\nfactor f = u * x^2\n",
        "initializer"),
    ok("decl-init-beta-for-unit", X + "param u : unit ~ beta(2, 2)\nfactor f = (1 + u) * x^2\n"),
    ok("decl-init-gamma-for-positive", X + "param s : positive ~ gamma(2, 2)\nx ~ normal(0, s)\n"),
    # ---- domain arguments and sizes
    bad("decl-interval-inf-bound", "var x : interval(0, inf)\nfactor f = x^2\n", "finite"),
    bad("decl-interval-1e999-bound", "var x : interval(0, 1e999)\nfactor f = x^2\n", "", kind=None),
    bad("decl-interval-equal-bounds", "var x : interval(1, 1)\nfactor f = x^2\n", "empty"),
    bad("decl-interval-reversed-negative", "var x : interval(-1, -2)\nfactor f = x^2\n", "empty"),
    bad("decl-simplex-size-0", "var p : simplex[0]\nfactor f = sum(p^2)\n", "at least 1"),
    bad("decl-ordered-size-0", "var o : ordered[0]\nfactor f = sum(o^2)\n", "at least 1"),
    bad("decl-categorical-0", "var k : categorical(0)\nfactor f = k\n", "at least 1"),
    bad("decl-categorical-negative", "var k : categorical(-2)\nfactor f = k\n", "negative"),
    bad("decl-var-size-0", "var x : real[0]\nfactor f = sum(x^2)\n", "empty"),
    bad("decl-param-size-0", X + "param w : real[0]\nfactor f = sum(w) + x^2\n", "empty"),
    bad("decl-var-size-negative", "var x : real[-1]\nfactor f = sum(x^2)\n", "negative"),
    bad("decl-var-size-is-param", X + "param n : real = 2\nvar y : real[n]\nfactor f = sum(y^2) + x^2\n",
        "known before sampling"),
    bad("decl-mlp-hidden-0", "var x : real[2]\nparam g : mlp(2, [0], 1)\nfactor f = sum(g(x))\n", "at least 1"),
    bad("decl-var-too-many-elements", "var x : real[100000, 100000]\nfactor f = sum(x^2)\n", "elements",
        kind="limit"),
    ok("decl-simplex-1-warns", X + "var p : simplex[1]\nfactor f = x^2 + sum(p)\n", "always [1]"),
    ok("decl-categorical-1-warns", "var k : categorical(1)\nfactor f = k\n", "one category"),
    ok("decl-const-size-0-is-empty-data", X + "const y : real[0]\nfactor f = x^2 + sum(y)\n"),
    # ---- names that ebmppl sample writes beside the draws
    bad("decl-name-lp-var", "var lp : real\nfactor f = lp^2\n", "rename"),
    bad("decl-name-diverging-vector-sample", "var diverging : real[3]\nfactor f = sum(diverging^2)\n",
        "sample statistic", argv=SAMPLE),
    bad("decl-name-energy-let", X + "let energy = [x, x]\nfactor f = x^2\n", "rename"),
    bad("decl-name-step-size-latent", X + "latent step_size : real\nfactor f = x^2 + step_size^2\n", "rename"),
    bad("decl-name-tree-depth", "var tree_depth : real\nfactor f = tree_depth^2\n", "rename"),
    bad("decl-name-acceptance-rate", "var acceptance_rate : real\nfactor f = acceptance_rate^2\n", "rename"),
    bad("decl-name-chain", "var chain : real\nfactor f = chain^2\n", "rename"),
    bad("decl-name-draw-sample", "var draw : real[2]\nfactor f = sum(draw^2)\n", "rename", argv=SAMPLE),
    bad("decl-name-dim-suffix", "var x : real[3]\nvar x_dim_0 : real\nfactor f = sum(x^2) + x_dim_0^2\n",
        "rename"),
    bad("decl-name-size-dim-collision", "const N : int = 2\nvar W : real[N, N]\nvar N_1 : real\n"
        "factor f = sum(W^2) + N_1^2\n", "rename"),
    bad("decl-name-let-dim-suffix", X + "let y_dim_2 = 2 * x\nfactor f = x^2\n", "rename"),
    bad("decl-name-n-steps-after-condition", "var n_steps : real\nvar x : real\nfactor f = x^2 + n_steps^2\n"
        "model = condition(f, x = 1)\n", "rename"),
    ok("decl-name-energy-param-is-fine", X + "param energy : positive = 1\nfactor f = energy * x^2\n"),
    # ---- the domain table's value tests, through bound data
    Case("decl-data-positive-inf", ("check", "m.ebm", "--data", "d.json"),
         {"m.ebm": X + "const s : positive\nx ~ normal(0, s)\n", "d.json": '{"s": Infinity}'},
         kind="data", phrase="'s'"),
    ok("decl-data-simplex-zero-entry", X + "const p : simplex[3]\nfactor f = x^2 + sum(p)\n",
       files={"d.json": json.dumps({"p": [0.5, 0.5, 0.0]})}, argv=("check", "m.ebm", "--data", "d.json")),
]
