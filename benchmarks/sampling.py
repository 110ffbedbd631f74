"""Benchmark: ebmppl's samplers side by side with BlackJAX, NumPyro and hand-written JAX loops.

Three comparisons, each in one process, on the same problem, sizes and dtype (float32):

1. **MALA, 64 chains**, on (a) a 50-D correlated Gaussian, the ``.ebm`` energy
   ``0.5 * (x - mu) @ P @ (x - mu)`` (AR(1) covariance, rho = 0.5, P its inverse), and (b) a
   16-D MLP energy (``mlp(16, [32, 32], 1, act=swish)`` plus the Gaussian envelope of
   examples/mlp.ebm).

   *Kernel throughput* (steps x chains per second), all at the same fixed step size, no adaptation:

   * ebmppl: ``ebmppl.infer.mala.MALA(Target(model), step_size=eps, adapt_step=False,
     adapt_mass=False)``; ``kernel.init`` on 64 chain keys gives the vectorized state, and the
     timed program is ``lax.scan`` over ``kernel.sample`` (the very method ``numpyro.infer.MCMC``
     calls inside ``ebmppl.sample``);
   * BlackJAX: ``blackjax.mala(logdensity, eps).step`` in a ``lax.scan`` over pre-split keys,
     ``jax.vmap``-ed over chains (BlackJAX's documented usage);
   * hand-written: the same scan/vmap layout with a minimal MALA step (the floor);
   * diagnostics (no target): the ebmppl kernel as ``ebmppl.sample`` runs it during draws
     (step-size adaptation compiled in, switched off by ``i >= num_warmup``), the bare core
     ``ebmppl.infer.mala.step_with`` with ``target.logdensity_and_grad`` in the hand-written layout,
     and an A/A control (a separately jitted copy of the hand-written loop).
     The bare core is ``step_with(draw(key, z), State(z, lp, grad), ...)`` (BlackJAX's shape,
     split by ebmppl's predraw protocol).

   The peers use a hand-written JAX log density, checked to agree with ebmppl's
   ``Target.logdensity_and_grad`` (its lowering is benchmarked in benchmarks/lowering.py).
   Every timed program returns only its final state (no per-step outputs).

   *Full runs*: ``ebmppl.sample(model, sampler="mala", chains=64, step_size=eps,
   adapt_mass=False, progress=False)`` (its warmup adapts the step size by dual averaging, as
   ``sample`` does by default) vs a BlackJAX run of the same warmup + draws
   steps at the per-chain step sizes ebmppl adapted to (read from a first ebmppl run), starting
   from uniform(-2, 2) like ebmppl, returning an InferenceData built by the same
   ``ebmppl.diagnostics.to_inference_data``. Reported: warm wall time (not the first call),
   the compile time spent inside each warm call (JAX's compile events), the sampling time
   (wall minus that compile), and min-over-elements bulk ESS (``ebmppl.diagnostics.ess``) per
   second of sampling (pooled over the runs: total ESS / total seconds).

2. **NUTS, eight schools** (non-centered; examples/eight_schools.ebm +
   examples/data/eight_schools.json): ``ebmppl.sample(..., sampler="nuts")`` vs a hand-written
   NumPyro model run with ``numpyro.infer.MCMC(NUTS(model))``, same chains/warmup/draws/seed,
   vectorized chains. Min bulk ESS over (mu, tau, theta_tilde) per second of sampling (warm
   runs, compile inside the call subtracted), pooled over seeds (total ESS / total seconds; the
   "paired" column is the median of the per-seed ratios); first-run and in-call compile
   times are reported separately. (Both drivers recompile their sample loop on every call, so
   "warm" wall time still contains an XLA compile.) A diagnostic row gives min ESS per 1000
   gradient evaluations (leapfrog steps of the draws), which should match in expectation.
   The same rows for a Bayesian logistic regression and for examples/garch.ebm, a GARCH(1,1) whose
   variance recurrence ebmppl lowers to one ``lax.scan`` (the hand-written model scans too).

3. **ULA step cost**: one ebmppl ULA step (``ebmppl.infer.ula.ULA``, ``lax.scan`` over
   ``kernel.sample``) on an MLP energy (``mlp(D, [32, 32], 1, swish)`` + envelope), 1024
   chains, D in {2, 16, 64}, divided by one gradient evaluation of the (hand-written) energy,
   ``jax.vmap``-ed over the 1024 chains and jitted. Two ways: amortized in a ``lax.scan`` of the
   same length (gradient loop carries ``x - 1e-4 * grad`` so nothing is hoisted), and one
   jitted call per step / per gradient (dispatch included; each ULA call steps the state the last
   one returned, so the kernel's block draws of noise, one call in ``block``, are amortized as in use).

Method (as benchmarks/lowering.py): compile cost is measured separately (trace + lower, XLA
compile); warm compiled calls are timed in one process, each followed by
``jax.block_until_ready``, in inner loops of >= ``--min-time`` seconds, repeated ``--repeats``
(>= 7) times with the programs interleaved in rotating order, best repeat kept; ``paired`` is
the median over repeats of the ratio within a repeat (robust to load that changes between
repeats on a shared machine); an A/A row shows the noise floor. Full runs are interleaved the
same way (fewer repeats: each is a whole ``sample`` call), with a new seed per repeat.

Ratios are oriented so that the target reads naturally: throughput and ESS/s ratios are
ebmppl / peer (targets: >= 1.0 vs BlackJAX, >= 0.9 vs hand-written, >= 0.95 vs NumPyro's NUTS),
time ratios are peer seconds / ebmppl seconds (>= 1.0 vs BlackJAX), the ULA ratio is step /
gradient (<= 1.7). Rows marked "diag"/"A/A" or without a target are informational. PASS: the
best-of and the paired ratio both meet the target; FAIL: both miss; "~": they disagree (noise).

Usage::

    python benchmarks/sampling.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import blackjax
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import initialize_model

import ebmppl
from ebmppl import diagnostics
from ebmppl.infer import mala as ebm_mala
from ebmppl.infer import ula as ebm_ula
from ebmppl.infer.target import Target
from harness import (bench_thunks, compile_clock, compile_record, env_summary, hlo_diff, interleaved, log,
                     make_parser, paired, print_table, row, timed_call, write_json)
from harness import config as harness_config
from harness import environment as harness_environment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
F32 = jnp.float32

MALA_CHAINS = 64
GAUSS_DIM, MLP_DIM, HIDDEN = 50, 16, (32, 32)
ULA_CHAINS, ULA_DIMS = 1024, (2, 16, 64)
NUTS_CHAINS = 4
LOGREG_N, LOGREG_DIM = 500, 100

T_BLACKJAX, T_HAND, T_NUMPYRO, T_ULA = 1.0, 0.9, 0.95, 1.7


CLOCK = compile_clock()


# ------------------------------------------------------------------ problems
GAUSS_SRC = """
const D  : int
const mu : real[D]
const P  : real[D, D]                      # precision matrix
var   x  : real[D]
factor gauss = 0.5 * (x - mu) @ P @ (x - mu)
"""

MLP_SRC = """
var   x : real[{D}]
param f : mlp({D}, [{H}], 1, act=swish)
factor net     = f(x)[0]
factor confine = 0.5 * sum(x^2) / 16
"""


def gaussian_problem(dim: int) -> dict:
    """A correlated Gaussian: AR(1) covariance (rho = 0.5), mean linspace(-1, 1)."""
    idx = np.arange(dim)
    sigma = 0.5 ** np.abs(idx[:, None] - idx[None, :])
    prec = np.linalg.inv(sigma)
    prec = 0.5 * (prec + prec.T)
    mu = np.linspace(-1.0, 1.0, dim)
    model = ebmppl.parse(GAUSS_SRC, "gauss.ebm", data={"D": dim, "mu": mu.tolist(), "P": prec.tolist()})
    mu_j, P_j = jnp.asarray(mu, F32), jnp.asarray(prec, F32)

    def logdensity(x):
        r = x - mu_j
        return -0.5 * (r @ P_j @ r)

    return {"name": f"gauss {dim}-D", "model": model, "params": None, "logdensity": logdensity, "dim": dim}


def mlp_problem(dim: int, hidden=HIDDEN, seed: int = 0) -> dict:
    """An MLP energy mlp(dim, hidden, 1, swish)(x)[0] + |x|^2 / 32; biases randomized (init has zeros)."""
    src = MLP_SRC.format(D=dim, H=", ".join(str(h) for h in hidden))
    model = ebmppl.parse(src, f"mlp{dim}.ebm")
    rng = np.random.default_rng(seed)
    p = model.init_params(seed)
    p = {"f": {k: v + jnp.asarray(rng.normal(0, 0.1, v.shape), F32) if k.startswith("b") else v
               for k, v in p["f"].items()}}
    w = p["f"]
    n_layers = len(hidden) + 1

    def energy(x):
        h = x
        for i in range(n_layers):
            h = h @ w[f"W{i}"] + w[f"b{i}"]
            if i < n_layers - 1:
                h = jax.nn.swish(h)
        return h[0] + 0.5 * jnp.sum(x ** 2) / 16

    return {"name": f"mlp {dim}-D", "model": model, "params": p, "logdensity": lambda x: -energy(x),
            "energy": energy, "dim": dim}


def check_density(prob: dict, target: Target, n: int = 64) -> float:
    """Assert the hand-written log density and gradient match ebmppl's Target; return max |diff| (scaled)."""
    z = jax.random.normal(jax.random.PRNGKey(7), (n, prob["dim"]), F32) * 1.5
    ref = jax.jit(jax.vmap(jax.value_and_grad(prob["logdensity"])))(z)
    got = jax.jit(jax.vmap(lambda z: target.logdensity_and_grad(z, {})))(z)
    worst = 0.0
    for r, g, what in zip(ref, got, ("logdensity", "gradient")):
        r, g = np.asarray(r), np.asarray(g)
        assert r.dtype == g.dtype == np.float32, f"{prob['name']}: {what} dtypes {r.dtype}, {g.dtype}"
        scale = max(1.0, float(np.max(np.abs(r))))
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4 * scale, err_msg=f"{prob['name']}: {what}")
        worst = max(worst, float(np.max(np.abs(g - r))) / scale)
    return worst


# -------------------------------------------------------------- MALA programs
def hand_mala_step(key, x, lp, g, ld_and_grad, eps):
    """A minimal MALA step: the floor."""
    k_noise, k_acc = jax.random.split(key)
    noise = jax.random.normal(k_noise, x.shape, x.dtype)
    prop = x + eps * g + jnp.sqrt(2 * eps) * noise
    lp_p, g_p = ld_and_grad(prop)
    fwd = prop - x - eps * g
    bwd = x - prop - eps * g_p
    log_ratio = lp_p - lp - (jnp.sum(bwd * bwd) - jnp.sum(fwd * fwd)) / (4 * eps)
    acc_prob = jnp.minimum(1.0, jnp.exp(jnp.minimum(log_ratio, 0.0)))
    acc = jax.random.uniform(k_acc, dtype=x.dtype) < acc_prob
    return jnp.where(acc, prop, x), jnp.where(acc, lp_p, lp), jnp.where(acc, g_p, g), acc_prob


def scan_chains(step_one, n_steps: int, collect: bool = False):
    """(key, carry) -> final carry: vmap over chains of a scan over pre-split keys (BlackJAX's layout).

    ``step_one(key, carry) -> (carry, out)``; with ``collect`` the per-step outputs are returned too.
    """
    def chain(key, carry):
        def body(c, k):
            c, out = step_one(k, c)
            return c, (out if collect else None)
        return lax.scan(body, carry, jax.random.split(key, n_steps))

    def run(key, carry):
        keys = jax.random.split(key, jax.tree.leaves(carry)[0].shape[0])
        final, outs = jax.vmap(chain)(keys, carry)
        return (final, outs) if collect else final
    return run


def hand_program(ld, eps, n_steps, collect=False):
    ld_and_grad = jax.value_and_grad(ld)

    def one(k, c):
        x, lp, g, a = hand_mala_step(k, *c, ld_and_grad, eps)
        return (x, lp, g), a
    return scan_chains(one, n_steps, collect)


def hand_init(ld, z0):
    lp, g = jax.vmap(jax.value_and_grad(ld))(z0)
    return (z0, lp, g)


def ebm_core_program(target, eps, n_steps, collect=False):
    """ebmppl.infer.mala.step_with(draw(key, z), ...) with target.logdensity_and_grad, in the hand-written
    layout."""
    ld_and_grad = lambda z: target.logdensity_and_grad(z, {})  # noqa: E731

    def one(k, c):
        state = ebm_mala.State(*c)
        state, info = ebm_mala.step_with(ebm_mala.draw(k, state.position), state, ld_and_grad,
                                         jnp.asarray(eps, F32), jnp.ones_like(state.position))
        return tuple(state), info.acceptance_rate
    return scan_chains(one, n_steps, collect)


def blackjax_program(ld, eps, n_steps, collect=False):
    alg = blackjax.mala(ld, eps)

    def one(k, s):
        s, info = alg.step(k, s)
        return s, info.acceptance_rate
    return scan_chains(one, n_steps, collect)


def blackjax_init(ld, z0):
    return jax.vmap(lambda z: blackjax.mala.init(z, ld))(z0)


def kernel_program(kernel, n_steps, collect=False):
    """lax.scan over an EbmKernel's (vectorized) ``sample``."""
    def run(state):
        def body(s, _):
            s = kernel.sample(s)
            return s, (s.accept_prob if collect else None)
        final, outs = lax.scan(body, state, None, length=n_steps)
        return (final, outs) if collect else final
    return run


def kernel_state(kernel, z0, key, num_warmup=0, past_warmup=False):
    keys = jax.random.split(key, z0.shape[0])
    state = kernel.init(keys, num_warmup, {"z": z0, "d": {}})
    if past_warmup:
        state = state._replace(i=jnp.full_like(state.i, num_warmup))
    return state


# ---------------------------------------------------------------------- timing
def bench_programs(progs: dict, repeats: int, min_time: float, chained=()) -> dict:
    """progs: {name: (jitted fn, args)} -> {name: {best_s, samples, compile, hlo}}; interleaved, best of repeats.

    ``chained``: names of one-argument programs ``state -> state`` that each call feeds its last result
    (successive kernel steps, as a user stepping a kernel from Python would), not the same args again."""
    thunks, out = {}, {}
    for name, (f, args) in progs.items():
        compiled, out[name] = compile_record(f, args)
        if name in chained:
            box = list(args)

            def step(c=compiled, box=box):
                box[0] = c(box[0])
                return box[0]
            thunks[name] = step
        else:
            thunks[name] = (lambda c=compiled, a=args: c(*a))
    # each program's loop lasts >= min_time
    for k, v in bench_thunks(thunks, repeats, min_time, block=True).items():
        out[k].update(v)
    return out


# ----------------------------------------------------------------- 1. MALA
def mala_first_run(prob, cfg):
    """First (cold) ebmppl.sample call: its time, and the per-chain step sizes its warmup adapted to."""
    c0, t0 = CLOCK.seconds(), time.perf_counter()
    idata = ebmppl.sample(prob["model"], prob["params"], sampler="mala", chains=MALA_CHAINS, warmup=cfg["warmup"],
                          draws=cfg["draws"], key=0, step_size=0.1, adapt_mass=False, progress=False, verbose=False)
    wall = time.perf_counter() - t0
    steps = np.asarray(idata.sample_stats["step_size"].values[:, 0], np.float32)
    return {"wall_s": wall, "compile_s": CLOCK.seconds() - c0, "step_sizes": steps,
            "acceptance": float(idata.sample_stats["acceptance_rate"].mean())}


def mala_kernels(prob, target, eps, cfg):
    """Kernel throughput of ebmppl vs BlackJAX vs hand-written, plus diagnostics."""
    n_steps = cfg["mala_steps"]
    ld = prob["logdensity"]
    z0 = jax.random.uniform(jax.random.PRNGKey(3), (MALA_CHAINS, prob["dim"]), F32, -2.0, 2.0)
    key = jax.random.PRNGKey(11)
    k_fixed = ebm_mala.MALA(target, step_size=eps, adapt_step=False, adapt_mass=False)
    k_sample = ebm_mala.MALA(target, step_size=eps, adapt_mass=False)  # as ebmppl.sample builds it
    s_fixed = kernel_state(k_fixed, z0, key)
    s_sample = kernel_state(k_sample, z0, key, num_warmup=cfg["warmup"], past_warmup=True)
    k_default = ebm_mala.MALA(target, step_size=eps)  # ebmppl.sample's default, adapt_mass=True
    s_default = kernel_state(k_default, z0, key, num_warmup=cfg["warmup"], past_warmup=True)
    hand0, bj0 = hand_init(ld, z0), blackjax_init(ld, z0)

    # Same step size means the same kernel: mean acceptance over a short collected run must agree.
    acc = {}
    n_chk = 200
    _, a = jax.jit(hand_program(ld, eps, n_chk, collect=True))(key, hand0)
    acc["hand"] = float(jnp.mean(a[:, n_chk // 2:]))
    _, a = jax.jit(blackjax_program(ld, eps, n_chk, collect=True))(key, bj0)
    acc["blackjax"] = float(jnp.mean(a[:, n_chk // 2:]))
    _, a = jax.jit(kernel_program(k_fixed, n_chk, collect=True))(s_fixed)
    acc["ebmppl"] = float(jnp.mean(a[n_chk // 2:]))
    spread = max(acc.values()) - min(acc.values())
    assert spread < 0.05, f"{prob['name']}: acceptance rates differ at the same step size: {acc}"

    hand = hand_program(ld, eps, n_steps)
    progs = {
        "hand": (jax.jit(hand), (key, hand0)),
        "blackjax": (jax.jit(blackjax_program(ld, eps, n_steps)), (key, bj0)),
        "ebmppl": (jax.jit(kernel_program(k_fixed, n_steps)), (s_fixed,)),
        "ebmppl_sample": (jax.jit(kernel_program(k_sample, n_steps)), (s_sample,)),
        "ebmppl_sample_default": (jax.jit(kernel_program(k_default, n_steps)), (s_default,)),
        "ebmppl_core": (jax.jit(ebm_core_program(target, eps, n_steps)), (key, hand_init(
            lambda z: target.logdensity(z, {}), z0))),
        "hand_copy": (jax.jit(lambda k, c, _h=hand: _h(k, c)), (key, hand0)),
    }
    res = bench_programs(progs, cfg["repeats"], cfg["min_time"])
    per = n_steps * MALA_CHAINS
    thr = {k: per / v["best_s"] for k, v in res.items()}
    S = {k: v["samples_s"] for k, v in res.items()}
    name = f"MALA {prob['name']}, {MALA_CHAINS} chains, eps {eps:.3g} (kernel loops of {n_steps} steps)"
    rows = [
        row(name, "kernel steps·chains/s vs BlackJAX", thr["ebmppl"], thr["blackjax"],
            thr["ebmppl"] / thr["blackjax"], paired(S["blackjax"], S["ebmppl"]), T_BLACKJAX, unit="steps/s"),
        row(name, "kernel steps·chains/s vs hand-written", thr["ebmppl"], thr["hand"],
            thr["ebmppl"] / thr["hand"], paired(S["hand"], S["ebmppl"]), T_HAND, unit="steps/s"),
        row(name, "  diag: kernel as sample() runs it (draw phase) vs hand", thr["ebmppl_sample"], thr["hand"],
            thr["ebmppl_sample"] / thr["hand"], paired(S["hand"], S["ebmppl_sample"]), None, unit="steps/s"),
        row(name, "  diag: same, sample()'s default adapt_mass=True", thr["ebmppl_sample_default"], thr["hand"],
            thr["ebmppl_sample_default"] / thr["hand"], paired(S["hand"], S["ebmppl_sample_default"]), None,
            unit="steps/s"),
        row(name, "  diag: core mala.step + Target vs hand", thr["ebmppl_core"], thr["hand"],
            thr["ebmppl_core"] / thr["hand"], paired(S["hand"], S["ebmppl_core"]), None, unit="steps/s"),
        row(name, "  A/A: hand copy vs hand", thr["hand_copy"], thr["hand"], thr["hand_copy"] / thr["hand"],
            paired(S["hand"], S["hand_copy"]), None, unit="steps/s"),
    ]
    detail = {"eps": eps, "n_steps": n_steps, "acceptance_same_eps": acc, "programs": res,
              "hlo_diff_vs_hand": {k: hlo_diff(Counter(res["hand"]["hlo_histogram"]), Counter(v["hlo_histogram"]))
                                   for k, v in res.items() if k != "hand"}}
    return rows, detail


def blackjax_full(prob, cfg):
    """A full BlackJAX MALA run (uniform(-2, 2) starts, warmup + draws at fixed per-chain step sizes)."""
    ld, dim, W, D = prob["logdensity"], prob["dim"], cfg["warmup"], cfg["draws"]
    kernel = blackjax.mala.build_kernel()

    @jax.jit
    def run(key, eps):
        k_init, k_run = jax.random.split(key)
        z0 = jax.random.uniform(k_init, (eps.shape[0], dim), F32, -2.0, 2.0)
        state = jax.vmap(lambda z: blackjax.mala.init(z, ld))(z0)

        def chain(k, s, e):
            k_warm, k_draw = jax.random.split(k)
            s = lax.scan(lambda s, k: (kernel(k, s, ld, e)[0], None), s, jax.random.split(k_warm, W))[0]

            def draw(s, k):
                s, info = kernel(k, s, ld, e)
                return s, (s.position, info.acceptance_rate)
            return lax.scan(draw, s, jax.random.split(k_draw, D))[1]
        return jax.vmap(chain)(jax.random.split(k_run, eps.shape[0]), state, eps)

    def full(seed, eps):
        x, acc = run(jax.random.PRNGKey(seed), jnp.asarray(eps, F32))
        return diagnostics.to_inference_data({"x": np.asarray(x)}, {"acceptance_rate": np.asarray(acc)}, {},
                                             {"x": ["x_dim_0"]}, {"inference_library": "blackjax"})
    return full


def min_ess(idata, var_names=None) -> float:
    ess = diagnostics.ess(idata, var_names=var_names, method="bulk")
    return float(min(float(v.min()) for v in ess.data_vars.values()))


def mean_ess(idata, var_names=None) -> float:
    """Bulk ESS averaged over every element: a steadier figure than the min (one noisy extreme)."""
    ess = diagnostics.ess(idata, var_names=var_names, method="bulk")
    vals = np.concatenate([np.ravel(v.values) for v in ess.data_vars.values()])
    return float(np.mean(vals))


def full_runs(runners: dict, repeats: int, ess_vars=None) -> dict:
    """runners: {name: seed -> InferenceData}; interleaved warm runs, seed r+1 in repeat r."""
    rec = {k: [] for k in runners}

    def one(k, r):
        idata, wall, comp, n_comp = timed_call(lambda: runners[k](r + 1))
        out = {"seed": r + 1, "wall_s": wall, "compile_s": comp, "xla_compiles": n_comp,
               "sampling_s": max(wall - comp, 1e-9), "min_bulk_ess": min_ess(idata, ess_vars),
               "mean_bulk_ess": mean_ess(idata, ess_vars)}
        if "n_steps" in idata.sample_stats:  # NUTS: leapfrog steps = gradient evaluations in the draws
            out["grad_evals"] = int(idata.sample_stats["n_steps"].values.sum())
        rec[k].append(out)
        return wall
    interleaved(runners, repeats, one)
    return rec


def full_rows(name, rec, first, peer_name, time_target, ess_target):
    """Rows for warm full runs (rec) and the first, cold calls (first: {"ebmppl"|"peer": {wall_s, compile_s}})."""
    e, p = rec["ebmppl"], rec["peer"]
    med = lambda xs: float(np.median(xs))  # noqa: E731
    best = lambda rs, k: min(r[k] for r in rs)  # noqa: E731
    pr = lambda f: paired([f(b) for b in p], [f(a) for a in e])  # noqa: E731  peer / ebmppl within a repeat
    es = lambda r: r["min_bulk_ess"] / r["sampling_s"]  # noqa: E731
    ew = lambda r: r["min_bulk_ess"] / r["wall_s"]  # noqa: E731
    # ESS/s pooled over the seeds (total min-ESS / total sampling seconds): the min ESS of one run varies by
    # +-15% from seed to seed, so a median of per-run ratios is noisy; pooling n runs shrinks that by sqrt(n)
    pool = lambda rs: sum(r["min_bulk_ess"] for r in rs) / sum(r["sampling_s"] for r in rs)  # noqa: E731
    rows = [
        row(name, f"min bulk ESS / s of sampling vs {peer_name}", pool(e), pool(p), pool(e) / pool(p),
            1.0 / pr(es), ess_target, unit="ess/s",
            note=f"pooled over {len(e)} seeds (paired: median of the per-seed ratios); median min bulk ESS: "
                 f"ebmppl {med([r['min_bulk_ess'] for r in e]):.0f}, {peer_name} "
                 f"{med([r['min_bulk_ess'] for r in p]):.0f}; sampling = warm wall - compile inside it"),
        row(name, f"full run: sampling time (wall - compile) vs {peer_name}", best(e, "sampling_s"),
            best(p, "sampling_s"), best(p, "sampling_s") / best(e, "sampling_s"), pr(lambda r: r["sampling_s"]),
            time_target, unit="s"),
        row(name, f"full run: warm wall time vs {peer_name}", best(e, "wall_s"), best(p, "wall_s"),
            best(p, "wall_s") / best(e, "wall_s"), pr(lambda r: r["wall_s"]), time_target, unit="s",
            note=f"compile inside each warm call: ebmppl {med([r['compile_s'] for r in e]):.2f} s "
                 f"({med([r['xla_compiles'] for r in e]):.0f} XLA compiles), "
                 f"{peer_name} {med([r['compile_s'] for r in p]):.2f} s ({med([r['xla_compiles'] for r in p]):.0f})"),
        row(name, f"  min bulk ESS / s of warm wall time vs {peer_name}", med([ew(r) for r in e]),
            med([ew(r) for r in p]), med([ew(r) for r in e]) / med([ew(r) for r in p]), 1.0 / pr(ew), None,
            unit="ess/s"),
    ]
    mpool = lambda rs: sum(r["mean_bulk_ess"] for r in rs) / sum(r["sampling_s"] for r in rs)  # noqa: E731
    rows.append(row(name, f"  mean-over-elements bulk ESS / s of sampling vs {peer_name}", mpool(e), mpool(p),
                    mpool(e) / mpool(p), 1.0 / pr(lambda r: r["mean_bulk_ess"] / r["sampling_s"]), None,
                    unit="ess/s", note="pooled over the seeds like the row above; the mean over elements is a "
                                       "steadier estimate of the same efficiency than the min"))
    if all("grad_evals" in r for r in e + p):
        eg = lambda r: 1e3 * r["min_bulk_ess"] / r["grad_evals"]  # noqa: E731
        rows.append(row(name, "  min bulk ESS per 1000 gradient evals (draws)", med([eg(r) for r in e]),
                        med([eg(r) for r in p]), med([eg(r) for r in e]) / med([eg(r) for r in p]), 1.0 / pr(eg),
                        None, note="statistical efficiency: the two NUTS should match in expectation"))
    fe, fp = first["ebmppl"], first["peer"]
    rows.append(row(name, "  first (cold) call wall time", fe["wall_s"], fp["wall_s"], fp["wall_s"] / fe["wall_s"],
                    None, None, unit="s", note=f"compile inside it: ebmppl {fe['compile_s']:.2f} s, "
                                               f"{peer_name} {fp['compile_s']:.2f} s"))
    return rows


def bench_mala(prob, cfg, log):
    target = Target(prob["model"], prob["params"])
    worst = check_density(prob, target)
    first = mala_first_run(prob, cfg)
    eps = float(np.median(first["step_sizes"]))
    log(f"  {prob['name']}: densities agree (max scaled diff {worst:.1e}); first ebmppl.sample "
        f"{first['wall_s']:.1f} s ({first['compile_s']:.1f} s compiling); adapted step sizes "
        f"{first['step_sizes'].min():.3g}..{first['step_sizes'].max():.3g} (median {eps:.3g}), "
        f"acceptance {first['acceptance']:.2f}")
    rows, detail = mala_kernels(prob, target, eps, cfg)
    log(f"  {prob['name']}: kernels timed (acceptance at eps {eps:.3g}: "
        + ", ".join(f"{k} {v:.3f}" for k, v in detail["acceptance_same_eps"].items()) + ")")

    bj = blackjax_full(prob, cfg)
    steps = first["step_sizes"]
    _, bj_first, bj_first_comp, _ = timed_call(lambda: bj(0, steps))
    runners = {
        "ebmppl": lambda seed: ebmppl.sample(prob["model"], prob["params"], sampler="mala", chains=MALA_CHAINS,
                                             warmup=cfg["warmup"], draws=cfg["draws"], key=seed, step_size=0.1,
                                             adapt_mass=False, progress=False, verbose=False),
        "peer": lambda seed: bj(seed, steps),
    }
    rec = full_runs(runners, cfg["full_repeats"])
    name = f"MALA {prob['name']}, {MALA_CHAINS} chains, {cfg['warmup']}+{cfg['draws']} (full runs)"
    rows += full_rows(name, rec, {"ebmppl": first, "peer": {"wall_s": bj_first, "compile_s": bj_first_comp}},
                      "BlackJAX", T_BLACKJAX, T_BLACKJAX)
    detail.update(first_run={"ebmppl_wall_s": first["wall_s"], "ebmppl_compile_s": first["compile_s"],
                             "blackjax_wall_s": bj_first, "blackjax_compile_s": bj_first_comp},
                  step_sizes=steps.tolist(), full_runs=rec)
    log(f"  {prob['name']}: full runs timed (first run: ebmppl {first['wall_s']:.1f} s, BlackJAX {bj_first:.1f} s)")
    return rows, detail


# ----------------------------------------------------------------- 2. NUTS
def eight_schools_numpyro(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", J):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


LOGREG_SRC = """
const N : int
const D : int
const X : real[N, D]
const y : int[N]
var alpha : real
var beta  : real[D]
alpha ~ normal(0, 5)
beta ~ normal(0, 1)
y ~ bernoulli_logit(alpha + X @ beta)
"""


def logreg_numpyro(X, y=None):
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 5.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=alpha + X @ beta), obs=y)


def garch_numpyro(y, s1):
    """examples/garch.ebm by hand: the GARCH(1,1) variance recurrence as a lax.scan."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    omega = numpyro.sample("omega", dist.HalfNormal(1.0))  # normal(0, 1) T[0, ]
    alpha = numpyro.sample("alpha", dist.Uniform(0.0, 1.0))
    beta = numpyro.sample("beta", dist.Uniform(0.0, 1.0))

    def step(prev, y_prev):
        v = omega + alpha * (y_prev - mu) ** 2 + beta * prev
        return v, v
    first = jnp.full((1,), s1 ** 2, y.dtype)
    _, rest = jax.lax.scan(step, first[0], y[:-1])
    numpyro.sample("y", dist.Normal(mu, jnp.sqrt(jnp.concatenate([first, rest]))), obs=y)


def nuts_problems():
    """(name, ebmppl model, hand-written NumPyro model, its args, variables for ESS, seeds factor) per NUTS
    problem. The seeds factor multiplies the configured number of seeds: a run of eight schools takes 0.2 s
    and its min ESS over 10 elements varies by +-15% from seed to seed, so it gets 3x the seeds."""
    data_path = EXAMPLES / "data" / "eight_schools.json"
    d = json.loads(data_path.read_text())
    yield ("eight schools (non-centered)", ebmppl.load(EXAMPLES / "eight_schools.ebm", data=str(data_path)),
           eight_schools_numpyro, (d["J"], jnp.asarray(d["sigma"], F32), jnp.asarray(d["y"], F32)),
           ("mu", "tau", "theta_tilde"), 3)
    g_path = EXAMPLES / "data" / "garch.json"
    g = json.loads(g_path.read_text())
    yield (f"GARCH(1,1) recurrence, {g['T']} returns (ebmppl `let ... with`; NumPyro lax.scan)",
           ebmppl.load(EXAMPLES / "garch.ebm", data=str(g_path)), garch_numpyro,
           (jnp.asarray(g["y"], F32), float(g["sigma1"])), ("mu", "omega", "alpha", "beta"), 1)
    rng = np.random.default_rng(0)
    n, dim = LOGREG_N, LOGREG_DIM
    X = rng.normal(size=(n, dim)) / np.sqrt(dim)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * X @ rng.normal(size=dim)))).astype(np.int32)
    model = ebmppl.parse(LOGREG_SRC, "logreg.ebm", data={"N": n, "D": dim, "X": X.tolist(), "y": y.tolist()})
    yield (f"logistic regression {dim}-D, {n} rows", model, logreg_numpyro,
           (jnp.asarray(X, F32), jnp.asarray(y)), ("alpha", "beta"), 1)


def blackjax_nuts_runner(nmodel, args, warmup, draws, chains):
    """seed -> InferenceData: BlackJAX NUTS (window adaptation, then draws), vmapped over chains, on the
    potential of the same NumPyro model (``numpyro.infer.util.initialize_model``), jitted once."""
    info = initialize_model(jax.random.PRNGKey(0), nmodel, model_args=args, dynamic_args=False)
    logdensity = lambda z: -info.potential_fn(z)  # noqa: E731

    def chain(key, pos):
        k_warm, k_draw = jax.random.split(key)
        adapt = blackjax.window_adaptation(blackjax.nuts, logdensity, target_acceptance_rate=0.8)
        (state, kparams), _ = adapt.run(k_warm, pos, num_steps=warmup)
        step = blackjax.nuts(logdensity, **kparams).step

        def body(s, k):
            s, inf = step(k, s)
            return s, (s.position, inf.num_integration_steps, inf.is_divergent)
        _, out = lax.scan(body, state, jax.random.split(k_draw, draws))
        return out

    @jax.jit
    def run(key):
        k_init, k_run = jax.random.split(key)
        starts = initialize_model(jax.random.split(k_init, chains), nmodel, model_args=args,
                                  dynamic_args=False).param_info.z
        return jax.vmap(chain)(jax.random.split(k_run, chains), starts)

    def runner(seed):
        pos, n_steps, div = jax.block_until_ready(run(jax.random.PRNGKey(seed)))
        return diagnostics.to_inference_data({k: np.asarray(v) for k, v in pos.items()},
                                             {"diverging": np.asarray(div), "n_steps": np.asarray(n_steps)},
                                             {}, {}, {"inference_library": "blackjax"})
    return runner


def bench_nuts(cfg, log):
    """Each NUTS problem: ebmppl.sample vs hand-written NumPyro (target) and vs BlackJAX NUTS (info)."""
    W, D = cfg["nuts_warmup"], cfg["nuts_draws"]
    rows, details = [], {}
    for name, model, nmodel, args, keep, seeds_factor in nuts_problems():
        mcmc = MCMC(NUTS(nmodel), num_warmup=W, num_samples=D, num_chains=NUTS_CHAINS,
                    chain_method="vectorized", progress_bar=False)

        def peer(seed, mcmc=mcmc, args=args):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="There are not enough devices")
                mcmc.run(jax.random.PRNGKey(seed), *args, extra_fields=("diverging", "num_steps"))
            s = mcmc.get_samples(group_by_chain=True)
            ef = mcmc.get_extra_fields(group_by_chain=True)
            return diagnostics.to_inference_data({k: np.asarray(v) for k, v in s.items()},
                                                 {"diverging": np.asarray(ef["diverging"]),
                                                  "n_steps": np.asarray(ef["num_steps"])}, {}, {},
                                                 {"inference_library": "numpyro"})

        def ebm(seed, model=model):
            return ebmppl.sample(model, sampler="nuts", chains=NUTS_CHAINS, warmup=W, draws=D, key=seed,
                                 progress=False, verbose=False)

        runners = {"ebmppl": ebm, "peer": peer, "blackjax": blackjax_nuts_runner(nmodel, args, W, D, NUTS_CHAINS)}
        first = {}
        for k, f in runners.items():
            _, wall, comp, _ = timed_call(lambda f=f: f(1000))
            first[k] = {"wall_s": wall, "compile_s": comp}
        log(f"  NUTS {name}: first runs ebmppl {first['ebmppl']['wall_s']:.1f} s, NumPyro "
            f"{first['peer']['wall_s']:.1f} s, BlackJAX {first['blackjax']['wall_s']:.1f} s")
        rec = full_runs(runners, cfg["nuts_seeds"] * seeds_factor, ess_vars=list(keep))
        title = f"NUTS {name}, {NUTS_CHAINS} chains x {W}+{D}"
        rows += full_rows(title, rec, first, "NumPyro", None, T_NUMPYRO)
        bj = {"ebmppl": rec["ebmppl"], "peer": rec["blackjax"]}
        rows += full_rows(title, bj, {"ebmppl": first["ebmppl"], "peer": first["blackjax"]}, "BlackJAX",
                          None, None)[:1]
        details[f"nuts {name}"] = {"first_run": first, "runs": rec, "warmup": W, "draws": D}
    return rows, details


# ----------------------------------------------------------------- 3. ULA
def hand_ula_program(ld, eps, n_steps):
    """A minimal ULA loop (the floor), per-chain keys in BlackJAX's layout."""
    ld_and_grad = jax.value_and_grad(ld)

    def one(k, c):
        x, lp, g = c
        x = x + eps * g + jnp.sqrt(2 * eps) * jax.random.normal(k, x.shape, x.dtype)
        lp, g = ld_and_grad(x)
        return (x, lp, g), None
    return scan_chains(one, n_steps)


def noise_program(dim, n_steps):
    """Only the Langevin noise: N(0, 1) draws for every chain from per-chain keys, n_steps times."""
    def run(key, x):
        def body(i, x):
            keys = jax.random.split(jax.random.fold_in(key, i), x.shape[0])
            return x + 1e-3 * jax.vmap(lambda k: jax.random.normal(k, (dim,), x.dtype))(keys)
        return lax.fori_loop(0, n_steps, body, x)
    return run


def bench_ula(dim, cfg):
    prob = mlp_problem(dim)
    target = Target(prob["model"], prob["params"])
    check_density(prob, target)
    n_steps, eps = cfg["ula_steps"], 1e-2
    z0 = jax.random.normal(jax.random.PRNGKey(5), (ULA_CHAINS, dim), F32) * 2.0
    key = jax.random.PRNGKey(6)
    kernel = ebm_ula.ULA(target, step_size=eps)
    state = kernel_state(kernel, z0, key)
    grad = jax.vmap(jax.grad(prob["energy"]))

    def grad_loop(x):
        return lax.fori_loop(0, n_steps, lambda i, x: x - 1e-4 * grad(x), x)

    progs = {
        "grad_loop": (jax.jit(grad_loop), (z0,)),
        "ula_loop": (jax.jit(kernel_program(kernel, n_steps)), (state,)),
        "hand_ula_loop": (jax.jit(hand_ula_program(prob["logdensity"], eps, n_steps)),
                          (key, hand_init(prob["logdensity"], z0))),
        "noise_loop": (jax.jit(noise_program(dim, n_steps)), (key, z0)),
        "grad_call": (jax.jit(grad), (z0,)),
        "ula_call": (jax.jit(lambda s: kernel.sample(s)), (state,)),
        "grad_call_copy": (jax.jit(lambda x, _g=grad: _g(x)), (z0,)),
    }
    res = bench_programs(progs, cfg["repeats"], cfg["min_time"], chained=("ula_call",))
    us = {k: 1e6 * v["best_s"] / (n_steps if k.endswith("loop") else 1) for k, v in res.items()}
    S = {k: v["samples_s"] for k, v in res.items()}
    name = f"ULA mlp {dim}-D, {ULA_CHAINS} chains"

    def r(comparison, a, b, target):
        return row(name, comparison, us[a], us[b], us[a] / us[b], paired(S[a], S[b]), target, higher_better=False,
                   unit="us")
    rows = [
        r("ULA step / gradient eval (in lax.scan)", "ula_loop", "grad_loop", T_ULA),
        r("ULA step / gradient eval (1 jitted call each)", "ula_call", "grad_call", T_ULA),
        r("  diag: hand-written ULA step / gradient (floor)", "hand_ula_loop", "grad_loop", None),
        r("  diag: ebmppl ULA step / hand-written ULA step", "ula_loop", "hand_ula_loop", None),
        r("  diag: N(0,1) noise alone (threefry) / gradient", "noise_loop", "grad_loop", None),
        r("  A/A: grad call copy / grad call", "grad_call_copy", "grad_call", None),
    ]
    return rows, {"n_steps": n_steps, "programs": res,
                  "hlo_diff_ula_loop_vs_hand_ula_loop": hlo_diff(Counter(res["hand_ula_loop"]["hlo_histogram"]),
                                                                 Counter(res["ula_loop"]["hlo_histogram"]))}


# ---------------------------------------------------------------------- report
def environment() -> dict:
    return harness_environment({"numpyro": numpyro.__version__, "blackjax": blackjax.__version__})


def config(quick: bool, repeats=None, min_time=None) -> dict:
    return harness_config(
        dict(repeats=7, min_time=0.05, mala_steps=200, warmup=300, draws=300, full_repeats=3,
             nuts_warmup=300, nuts_draws=300, nuts_seeds=3, ula_steps=50),
        dict(repeats=15, min_time=0.1, mala_steps=500, warmup=1000, draws=1000, full_repeats=7,
             nuts_warmup=1000, nuts_draws=1000, nuts_seeds=12, ula_steps=100),
        quick, repeats, min_time)


def main(argv=None) -> int:
    ap = make_parser(__doc__, "smaller runs, 7 repeats (a few minutes on 2 cores)", only=("mala", "nuts", "ula"))
    args = ap.parse_args(argv)
    cfg = config(args.quick, args.repeats, args.min_time)
    parts = args.only or ["mala", "nuts", "ula"]
    t_start = time.perf_counter()

    env = environment()
    print(f"{env_summary(env)}, load average {env['loadavg_at_start'][0]:.1f}; numpyro {env['numpyro']}, "
          f"blackjax {env['blackjax']}; "
          f"{'quick' if args.quick else 'full'}: {json.dumps(cfg)}", flush=True)
    rows, details = [], {}
    if "mala" in parts:
        for prob in (gaussian_problem(GAUSS_DIM), mlp_problem(MLP_DIM)):
            r, dt = bench_mala(prob, cfg, log)
            rows += r
            details[f"mala {prob['name']}"] = dt
    if "nuts" in parts:
        r, dt = bench_nuts(cfg, log)
        rows += r
        details.update(dt)
    if "ula" in parts:
        for dim in ULA_DIMS:
            r, dt = bench_ula(dim, cfg)
            rows += r
            details[f"ula mlp {dim}"] = dt
            log(f"  ULA D={dim}: timed")
    print()
    print_table(rows)
    print(f"\nratios: throughput and ESS/s = ebmppl / peer; wall and sampling time = peer s / ebmppl s; ULA = step / "
          f"gradient. Timed programs: best of {cfg['repeats']} interleaved repeats; full runs: best (times) or "
          f"median (ESS/s) of {cfg['full_repeats']} (MALA) / {cfg['nuts_seeds']} (NUTS; 3x that for eight schools) interleaved warm runs. "
          f"paired = median over repeats of the within-repeat ratio. PASS/FAIL: both ratios meet/miss the "
          f"target; '~': they disagree. Total {time.perf_counter() - t_start:.0f} s, load average now "
          f"{os.getloadavg()[0]:.1f}.")
    for k, dt in details.items():
        if "hlo_diff_vs_hand" in dt:
            print(f"optimized-HLO op differences vs the hand-written loop, {k}:")
            for prog, diff in dt["hlo_diff_vs_hand"].items():
                print(f"  {prog}: {diff}")

    if args.json:
        out = {"benchmark": "sampling", "config": cfg, "environment": env, "rows": rows, "details": details}
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
