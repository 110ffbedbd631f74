"""Benchmark: jitted gradient of the DSL-lowered energy vs a hand-written JAX energy.

For three example models (RBM 64x16, MLP energy, eight schools non-centered)
this compares ``model.energy`` (the ``.ebm`` file lowered by ebmppl) with a
hand-written JAX energy of the same signature, ``energy(params, values)``, and
the same math. Both are wrapped identically::

    f = jax.jit(jax.vmap(jax.grad(energy, argnums=(0, 1)), in_axes=(None, 0)))

i.e. the gradient with respect to the params and the values, vmapped over a
batch of points (256 for the RBM and the MLP, 1024 for eight schools). Eight
schools also has an unvmapped batch-1 case, ``jax.jit(jax.grad(energy,
argnums=(0, 1)))``, because NUTS evaluates one point at a time.

Method:
  * the two energies (and their gradients) are first checked to agree;
  * compile cost is measured separately (trace + lower, then XLA compile);
  * warm, compiled calls are timed in one process: each call is followed by
    ``jax.block_until_ready`` (latency per call, as a sampler sees it); each
    timing is an inner loop of >= ``--min-time`` seconds, repeated ``--repeats``
    times with the functions interleaved in rotating order (to cancel drift),
    and the best repeat is kept;
  * an A/A control times a second, separately jitted copy of the hand-written
    energy against the first, to show the noise floor;
  * the optimized HLO of the two programs is compared op by op, so that a
    slowdown can be told apart from noise (same ops: any difference is noise).

The ratio is ebmppl / hand-written (target <= 1.05): the ratio of the best
times, and, as a check that is robust to load changing between repeats (a
shared machine), the median of the ratios within each repeat ("paired").

Usage::

    python benchmarks/lowering.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions

import ebmppl
from harness import (calibrate, compile_record, env_summary, hlo_diff, interleaved, make_parser, paired,
                     time_loop, write_json)
from harness import environment as harness_environment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TARGET = 1.05
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# ------------------------------------------------------- hand-written energies
def rbm_energy(params, values):
    """examples/rbm.ebm: E(v, h) = -(v W h) - b.v - c.h."""
    W, b, c = params["W"], params["b"], params["c"]
    v, h = values["v"], values["h"]
    return -(v @ W @ h) - b @ v - c @ h


def mlp_energy(params, values):
    """examples/mlp.ebm: an MLP(2 -> 32 -> 32 -> 1, swish) plus a Gaussian envelope."""
    p, x = params["f"], values["x"]
    h = jax.nn.swish(x @ p["W0"] + p["b0"])
    h = jax.nn.swish(h @ p["W1"] + p["b1"])
    out = h @ p["W2"] + p["b2"]
    return out[0] + 0.5 * jnp.sum(x ** 2) / 16


def make_eight_schools_energy(y, sigma):
    """examples/eight_schools.ebm (non-centered): -log p(mu, tau, theta_tilde, y)."""
    y = jnp.asarray(y, jnp.float32)
    sigma = jnp.asarray(sigma, jnp.float32)
    log_sigma = jnp.log(sigma)

    def energy(params, values):
        mu, tau, tt = values["mu"], values["tau"], values["theta_tilde"]
        theta = mu + tau * tt
        e_mu = 0.5 * (mu / 5) ** 2 + math.log(5) + LOG_SQRT_2PI                 # mu ~ normal(0, 5)
        e_tau = math.log(math.pi * 5) + jnp.log1p((tau / 5) ** 2)              # tau ~ cauchy(0, 5)
        e_tt = jnp.sum(0.5 * tt ** 2 + LOG_SQRT_2PI)                           # theta_tilde ~ normal(0, 1)
        e_y = jnp.sum(0.5 * ((y - theta) / sigma) ** 2 + log_sigma + LOG_SQRT_2PI)  # y ~ normal(theta, sigma)
        return e_mu + e_tau + e_tt + e_y

    return energy


# ------------------------------------------------------------------- the cases
def grad_fn(energy, batched: bool):
    g = jax.grad(energy, argnums=(0, 1))
    return jax.vmap(g, in_axes=(None, 0)) if batched else g


def energy_fn(energy, batched: bool):
    return jax.vmap(energy, in_axes=(None, 0)) if batched else energy


def build_cases(seed: int = 0) -> list[dict]:
    """Each case: model name, case name, the two energies, (params, values) and whether values are batched."""
    rng = np.random.default_rng(seed)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    cases = []

    # RBM 64x16. Random b, c (the file initializes them to 0) so that every gradient term is exercised.
    rbm = ebmppl.load(EXAMPLES / "rbm.ebm")
    p = rbm.init_params(0)
    p = {"W": p["W"], "b": f32(rng.normal(0, 0.1, 64)), "c": f32(rng.normal(0, 0.1, 16))}
    n = 256
    vals = {"v": f32(rng.integers(0, 2, (n, 64))), "h": f32(rng.integers(0, 2, (n, 16)))}
    cases.append(dict(model="rbm 64x16", case=f"vmap grad, batch {n}", dsl=rbm.energy, hand=rbm_energy,
                      params=p, values=vals, batched=True, batch=n))

    # MLP energy.
    mlp = ebmppl.load(EXAMPLES / "mlp.ebm")
    p = mlp.init_params(0)
    p = {"f": {k: v + f32(rng.normal(0, 0.1, v.shape)) if k.startswith("b") else v for k, v in p["f"].items()}}
    vals = {"x": f32(rng.normal(0, 1.5, (n, 2)))}
    cases.append(dict(model="mlp 2-32-32-1", case=f"vmap grad, batch {n}", dsl=mlp.energy, hand=mlp_energy,
                      params=p, values=vals, batched=True, batch=n))

    # Eight schools, non-centered.
    data = EXAMPLES / "data" / "eight_schools.json"
    es = ebmppl.load(EXAMPLES / "eight_schools.ebm", data=str(data))
    d = json.loads(data.read_text())
    hand = make_eight_schools_energy(d["y"], d["sigma"])
    n = 1024
    vals = {"mu": f32(rng.normal(4, 3, n)), "tau": f32(np.exp(rng.normal(1, 1, n))),
            "theta_tilde": f32(rng.normal(0, 1, (n, d["J"])))}
    cases.append(dict(model="eight schools", case=f"vmap grad, batch {n}", dsl=es.energy, hand=hand,
                      params={}, values=vals, batched=True, batch=n))
    one = jax.tree.map(lambda a: a[0], vals)
    cases.append(dict(model="eight schools", case="grad, batch 1 (no vmap)", dsl=es.energy, hand=hand,
                      params={}, values=one, batched=False, batch=1))
    return cases


# ----------------------------------------------------------------- correctness
def check_close(case: dict, rtol: float = 1e-5, atol: float = 1e-5) -> float:
    """Assert energies and gradients agree (atol scaled by the largest |value|); return max |diff| / tolerance."""
    args = (case["params"], case["values"])
    b = case["batched"]
    worst = 0.0
    for what, wrap in (("energy", energy_fn), ("gradient", grad_fn)):
        ref = jax.jit(wrap(case["hand"], b))(*args)
        got = jax.jit(wrap(case["dsl"], b))(*args)
        assert jax.tree.structure(ref) == jax.tree.structure(got), f"{case['model']}: {what} pytrees differ"
        for (path, r), g in zip(jax.tree_util.tree_flatten_with_path(ref)[0], jax.tree.leaves(got)):
            r, g = np.asarray(r), np.asarray(g)
            where = f"{case['model']} ({case['case']}): {what}{jax.tree_util.keystr(path)}"
            assert r.shape == g.shape and r.dtype == g.dtype, f"{where}: {g.shape} {g.dtype} vs {r.shape} {r.dtype}"
            scaled_atol = atol * max(1.0, float(np.max(np.abs(r), initial=0.0)))
            np.testing.assert_allclose(g, r, rtol=rtol, atol=scaled_atol, err_msg=where)
            if r.size:
                worst = max(worst, float(np.max(np.abs(g - r) / (scaled_atol + rtol * np.abs(r)))))
    return worst


# ---------------------------------------------------------------------- timing
def bench_case(case: dict, repeats: int, min_time: float) -> dict:
    b = case["batched"]
    args = (case["params"], case["values"])
    fns = {
        "hand": jax.jit(grad_fn(case["hand"], b)),
        "dsl": jax.jit(grad_fn(case["dsl"], b)),
        # A/A control: a separately jitted (and compiled) copy of the hand-written energy.
        "hand_copy": jax.jit(grad_fn(lambda p, v, _e=case["hand"]: _e(p, v), b)),
    }
    comp = {}
    for name, f in fns.items():
        _, comp[name] = compile_record(f, args)
        for _ in range(3):  # warm up the jit's own cache and the dispatch path
            jax.block_until_ready(f(*args))

    n = calibrate(list(fns.values()), min_time, args)  # one inner-loop length for all three
    samples = interleaved(fns, repeats, lambda k, r: time_loop(fns[k], n, args))
    best = {k: min(v) for k, v in samples.items()}
    return {
        "model": case["model"], "case": case["case"], "batch": case["batch"],
        "inner_loop": n, "repeats": repeats,
        "hand_us": 1e6 * best["hand"], "dsl_us": 1e6 * best["dsl"], "hand_copy_us": 1e6 * best["hand_copy"],
        "ratio": best["dsl"] / best["hand"], "aa_ratio": best["hand_copy"] / best["hand"],
        # Robustness check: the ratio within each repeat (the functions ran back to back), median over repeats.
        "paired_median_ratio": paired(samples["dsl"], samples["hand"]),
        "paired_median_aa_ratio": paired(samples["hand_copy"], samples["hand"]),
        "compile": comp,
        "hlo_diff": hlo_diff(Counter(comp["hand"]["hlo_histogram"]), Counter(comp["dsl"]["hlo_histogram"]), top=None),
        "samples_us": {k: [1e6 * s for s in v] for k, v in samples.items()},
    }


# ---------------------------------------------------------------------- report
def verdict(r: dict) -> str:
    """'> target' when both estimates of the ratio exceed the target; 'noisy' when the A/A control is off."""
    flags = []
    if min(r["ratio"], r["paired_median_ratio"]) > TARGET:
        flags.append("> target")
    if max(abs(math.log(r["aa_ratio"])), abs(math.log(r["paired_median_aa_ratio"]))) > math.log(TARGET):
        flags.append("noisy")
    return "  " + ", ".join(flags) if flags else ""


def print_tables(results: list[dict]) -> None:
    w_model = max(len(r["model"]) for r in results)
    w_case = max(len(r["case"]) + 6 for r in results)
    head = (f"{'model':<{w_model}}  {'case':<{w_case}}  {'hand µs/call':>12}  {'ebmppl µs/call':>14}  {'ratio':>6}"
            f"  {'paired':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        flag = verdict(r)
        print(f"{r['model']:<{w_model}}  {r['case']:<{w_case}}  {r['hand_us']:>12.2f}  {r['dsl_us']:>14.2f}  "
              f"{r['ratio']:>6.3f}  {r['paired_median_ratio']:>6.3f}{flag}")
        print(f"{'':<{w_model}}  {'  A/A (hand vs hand copy)':<{w_case}}  {r['hand_us']:>12.2f}  "
              f"{r['hand_copy_us']:>14.2f}  {r['aa_ratio']:>6.3f}  {r['paired_median_aa_ratio']:>6.3f}")
    print(f"ratio = ebmppl / hand-written, best of {results[0]['repeats']} interleaved repeats each "
          f"(target <= {TARGET});\npaired = median over repeats of the ratio within a repeat (robust to load "
          f"that changes between repeats);\nA/A = a second, separately jitted copy of the hand-written energy "
          f"(the noise floor).\n'> target': both ratios above {TARGET}; 'noisy': an A/A ratio is off by more "
          f"than {TARGET - 1:.0%}, so the row's timings are not conclusive.")
    print()
    head = (f"{'model':<{w_model}}  {'case':<{w_case - 6}}  {'trace+lower ms':>20}  {'XLA compile ms':>20}  "
            f"{'HLO ops':>11}")
    print(head)
    print(f"{'':<{w_model}}  {'':<{w_case - 6}}  {'hand / ebmppl':>20}  {'hand / ebmppl':>20}  {'hand/ebmppl':>11}")
    print("-" * len(head))
    for r in results:
        h, d = r["compile"]["hand"], r["compile"]["dsl"]
        print(f"{r['model']:<{w_model}}  {r['case']:<{w_case - 6}}  "
              f"{h['trace_lower_ms']:>9.1f} / {d['trace_lower_ms']:>8.1f}  "
              f"{h['xla_compile_ms']:>9.1f} / {d['xla_compile_ms']:>8.1f}  {h['hlo_ops']:>5}/{d['hlo_ops']:<5}")
    print()
    print("optimized-HLO op differences (ebmppl vs hand-written; 'same ops' = same opcode counts):")
    for r in results:
        print(f"  {r['model']}, {r['case']}: {r['hlo_diff']}")


def environment() -> dict:
    return harness_environment({"numpyro": numpyro.__version__, "numpyro_validation_default":
                                bool(numpyro.distributions.Distribution._validate_args)}, loadavg=False)


def main(argv=None) -> int:
    ap = make_parser(__doc__, "7 repeats (default: 41), inner loops >= 50 ms",
                     repeats_help="repeats per function (at least 7)",
                     min_time_help="seconds per inner loop (at least 0.05)")
    args = ap.parse_args(argv)
    repeats = max(7, args.repeats or (7 if args.quick else 41))
    min_time = max(0.05, args.min_time or 0.05)

    env = environment()
    validation = "on" if env["numpyro_validation_default"] else "off"
    print(f"{env_summary(env)}; numpyro {env['numpyro']} (validation {validation} by default); "
          f"{repeats} repeats, inner loops >= {1e3 * min_time:.0f} ms")

    cases = build_cases()
    for c in cases:
        c["max_scaled_diff"] = check_close(c)
    print(f"check: ebmppl and hand-written energies and gradients agree (rtol 1e-5) on all {len(cases)} cases",
          flush=True)

    results = []
    for c in cases:
        r = bench_case(c, repeats, min_time)
        r["max_scaled_diff"] = c["max_scaled_diff"]
        results.append(r)
        print(f"  timed {r['model']}, {r['case']}: ratio {r['ratio']:.3f}, A/A {r['aa_ratio']:.3f}", flush=True)
    print()
    print_tables(results)

    if args.json:
        out = {"benchmark": "lowering", "target_ratio": TARGET, "repeats": repeats, "min_time_s": min_time,
               "environment": env, "results": results}
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
