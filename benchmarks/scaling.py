"""Benchmark: how ebmppl's cost scales with the number of chains and with the data size.

Two sweeps, each in one process, float32, on the machine at hand:

1. **Chains** (1 -> 4096): the MALA kernel that ``ebmppl.sample`` runs
   (``ebmppl.infer.mala.MALA``, fixed step size, ``lax.scan`` over ``kernel.sample`` on the
   vectorized state, as benchmarks/sampling.py times it) on the 16-D MLP energy, and the
   hand-written MALA loop (the floor) at the same sizes. Reported per size: seconds per step
   of all chains, chain-steps per second, the speed-up over the previous size and the
   *vectorization efficiency* (chain-steps/s relative to the best size). Where the speed-up
   per 4x chains falls towards 1.0, the machine is saturated and more chains cost linearly:
   that is where vectorization stops paying. The ebmppl/hand-written ratio is printed per size.

2. **Data size** (rows 1k -> 256k) for ``ebmppl.fit(method="dsm", batch_size=256)`` on the
   16-D MLP energy: per-step time of fit's compiled training chunk (captured from a real
   ``fit`` call, as benchmarks/fitting.py does) — a minibatch step should not grow with the
   data set (the rows live on the device; each step gathers 256 of them) — and the time of one
   epoch, which grows linearly. A full-batch step (batch = all rows) shows the other end.

Method as in benchmarks/harness.py: compiled programs, best of ``--repeats`` interleaved
repeats of inner loops lasting ``--min-time`` seconds; an A/A row (a separately jitted copy of
the 256-chain program) gives the noise floor.

Usage::

    python benchmarks/scaling.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from ebmppl import fit
from ebmppl.infer import mala as ebm_mala
from ebmppl.infer.target import Target
from fitting import capture_jit, mlp_model
from harness import bench_thunks, env_summary, log, make_parser, row, print_table, write_json
from harness import config as harness_config
from harness import environment as harness_environment
from sampling import check_density, hand_init, hand_program, kernel_program, kernel_state, mlp_problem

F32 = jnp.float32
DIM = 16
EPS = 0.05


def bench_chains(cfg) -> tuple[list, dict]:
    prob = mlp_problem(DIM)
    target = Target(prob["model"], prob["params"])
    check_density(prob, target)
    kernel = ebm_mala.MALA(target, step_size=EPS, adapt_step=False, adapt_mass=False)
    n_steps = cfg["steps"]
    progs = {}
    for c in cfg["chains"]:
        z0 = jax.random.normal(jax.random.PRNGKey(c), (c, DIM), F32)
        state = kernel_state(kernel, z0, jax.random.PRNGKey(1))
        ebm = jax.jit(kernel_program(kernel, n_steps)).lower(state).compile()
        hand_args = (jax.random.PRNGKey(2), hand_init(prob["logdensity"], z0))
        hand = jax.jit(hand_program(prob["logdensity"], EPS, n_steps)).lower(*hand_args).compile()
        progs[("ebmppl", c)] = (lambda f=ebm, s=state: f(s))
        progs[("hand", c)] = (lambda f=hand, a=hand_args: f(*a))
        if c == 256:
            copy = jax.jit(kernel_program(kernel, n_steps)).lower(state).compile()
            progs[("ebmppl_copy", c)] = (lambda f=copy, s=state: f(s))
        log(f"  chains {c}: compiled")
    res = bench_thunks(progs, cfg["repeats"], cfg["min_time"], block=True)
    per_step = {k: v["best_s"] / n_steps for k, v in res.items()}
    thr = {k: k[1] / v for k, v in per_step.items()}  # chain-steps per second
    best = max(thr[("ebmppl", c)] for c in cfg["chains"])
    table, rows = [], []
    prev = None
    section = f"Chains: MALA on the {DIM}-D MLP energy, {n_steps} steps per call"
    for c in cfg["chains"]:
        e, h = thr[("ebmppl", c)], thr[("hand", c)]
        speedup = None if prev is None else e / thr[("ebmppl", prev)]
        table.append({"chains": c, "step_s": per_step[("ebmppl", c)], "chain_steps_per_s": e,
                      "hand_chain_steps_per_s": h, "speedup_vs_previous": speedup, "efficiency": e / best})
        rows.append(row(section, f"{c:>5} chains: chain-steps/s, ebmppl vs hand-written", e, h, e / h, None, None,
                        unit="steps/s", note=f"efficiency {e / best:.2f} of the best size"
                        + ("" if speedup is None else f"; x{speedup:.2f} over {prev} chains")))
        prev = c
    if ("ebmppl_copy", 256) in thr:
        a, b = thr[("ebmppl_copy", 256)], thr[("ebmppl", 256)]
        rows.append(row(section, "  A/A: 256 chains, a second compiled copy", a, b, a / b, None, None, unit="steps/s"))
    knee = next((t["chains"] for t in table if t["efficiency"] >= 0.9), None)
    return rows, {"table": table, "knee_chains": knee, "steps": n_steps}


def bench_data(cfg) -> tuple[list, dict]:
    model = mlp_model(DIM)
    batch = 256
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 2, size=(4, DIM))
    table, rows, thunks, meta = [], [], {}, {}
    C = cfg["chunk"]
    for n in cfg["rows"]:
        x = (centers[rng.integers(0, 4, n)] + rng.normal(0, 0.5, size=(n, DIM))).astype(np.float32)
        for label, bs in (("minibatch", batch), ("full batch", n)):
            if label == "full batch" and n > cfg["full_batch_max"]:
                continue
            with capture_jit() as rec:
                fit(model, {"x": x}, method="dsm", steps=C, chunk=C, batch_size=bs, progress=False, key=0)
            run_chunk, args, _ = rec["run_chunk"]
            compiled = run_chunk.lower(*args).compile()
            thunks[(label, n)] = (lambda f=compiled, a=args: f(*a))
            meta[(label, n)] = bs
        log(f"  rows {n}: compiled")
    res = bench_thunks(thunks, cfg["repeats"], cfg["min_time"], block=True)
    section = f"Data size: fit(method='dsm') on the {DIM}-D MLP energy, compiled chunks of {C} steps"
    base = res[("minibatch", cfg["rows"][0])]["best_s"] / C
    for (label, n), v in res.items():
        step = v["best_s"] / C
        epoch = step * max(1, n // meta[(label, n)])
        table.append({"rows": n, "batch": meta[(label, n)], "kind": label, "step_s": step, "epoch_s": epoch})
        rows.append(row(section, f"{label:>10}, {n:>6} rows: step time vs {cfg['rows'][0]} rows (minibatch)",
                        1e6 * step, 1e6 * base, step / base, None, None, unit="us",
                        note=f"one epoch {epoch * 1e3:.1f} ms"))
    return rows, {"table": table}


def main(argv=None) -> int:
    ap = make_parser(__doc__, "fewer sizes, 7 repeats (a minute or two on 2 cores)", only=("chains", "data"))
    args = ap.parse_args(argv)
    cfg = harness_config(
        dict(repeats=7, min_time=0.05, steps=20, chains=(1, 16, 256, 4096), chunk=50, rows=(1024, 16384),
             full_batch_max=16384),
        dict(repeats=11, min_time=0.1, steps=50, chains=(1, 4, 16, 64, 256, 1024, 4096), chunk=100,
             rows=(1024, 4096, 16384, 65536, 262144), full_batch_max=65536),
        args.quick, args.repeats, args.min_time)
    parts = args.only or ["chains", "data"]
    env = harness_environment()
    t0 = time.perf_counter()
    print(f"{env_summary(env)}, load average {env['loadavg_at_start'][0]:.1f}; "
          f"{'quick' if args.quick else 'full'}: {json.dumps(cfg)}", flush=True)
    rows, details = [], {}
    if "chains" in parts:
        r, d = bench_chains(cfg)
        rows += r
        details["chains"] = d
    if "data" in parts:
        r, d = bench_data(cfg)
        rows += r
        details["data"] = d
    print()
    print_table(rows)
    if "chains" in details:
        knee, sizes = details["chains"]["knee_chains"], cfg["chains"]
        if knee == sizes[-1]:
            print(f"\nvectorization: chain-steps/s still rise at the largest size ({knee} chains): on this machine "
                  f"more chains keep paying up to there.")
        else:
            print(f"\nvectorization: chain-steps/s reach 90% of the best at {knee} chains; beyond that, more chains "
                  f"cost about linearly (the cores are saturated).")
    print(f"Total {time.perf_counter() - t0:.0f} s, load average now {os.getloadavg()[0]:.1f}.")
    if args.json:
        write_json(args.json, {"benchmark": "scaling", "config": cfg, "environment": env, "rows": rows,
                               "details": details})
    return 0


if __name__ == "__main__":
    sys.exit(main())
