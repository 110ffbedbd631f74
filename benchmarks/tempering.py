"""Benchmark: parallel tempering (``sampler="pt"``) against single-chain MALA on a 2-D double well at low
temperature, in effective samples per second.

The target is E(x) = 8 (x0² − 1)² + x1²/2: two wells at x0 = ±1 behind an 8-nat barrier (MALA crosses it
about once in e⁸ steps), and an easy Gaussian direction x1. Both samplers run through ``ebmppl.sample``
with the same chains, warmup and draws (PT: 6 replicas up to T = 20, its ladder adapted in warmup; MALA:
its default adaptation). Each is called once to compile (the kept setup), then ``repeats`` times with new
seeds, interleaved; reported per sampler: min bulk ESS of x0 (the direction between the modes; ArviZ's
rank-normalized ESS over all chains, so chains stuck in different wells give a tiny ESS) and of x1,
summed over the repeats and divided by the summed wall time of the warm calls; the R-hat of x0 and the
share of draws with x0 > 0 (exactly 1/2) of the last repeat are in the note.

Target: PT's ESS/s between the modes at least MALA's (ratio ≥ 1). The x1 row is informational: there PT
pays for its replicas (each step moves 6 replicas and evaluates each one's energy gradient for the swaps).

Usage::

    python benchmarks/tempering.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import ebmppl  # noqa: E402
from ebmppl import diagnostics  # noqa: E402
from harness import environment, env_summary, log, make_parser, paired, print_table, row, write_json  # noqa: E402

WELL = "var x : real[2]\nfactor well = 8 * (x[0]^2 - 1)^2 + 0.5 * x[1]^2\n"
SECTION = "Parallel tempering vs MALA: 2-D double well, 8-nat barrier (ESS per second of a warm sample call)"
QUICK = {"chains": 4, "draws": 2000, "warmup": 1000, "repeats": 3}
FULL = {"chains": 4, "draws": 5000, "warmup": 1000, "repeats": 5}
PT = {"temperatures": 6, "max_temperature": 20.0}


def one_run(model, sampler: str, seed: int, cfg: dict) -> tuple[float, np.ndarray, object]:
    kw = dict(PT) if sampler == "pt" else {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = ebmppl.sample(model, sampler=sampler, chains=cfg["chains"], draws=cfg["draws"],
                              warmup=cfg["warmup"], key=seed, progress=False, verbose=False, **kw)
    wall = time.perf_counter() - t0
    x = np.asarray(idata.posterior["x"].values, np.float64)
    ess = np.array([float(diagnostics.ess(x[..., i])) for i in range(2)])
    return wall, ess, idata


def main(argv=None) -> int:
    ap = make_parser(__doc__, "fewer draws and repeats (about a minute)")
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.repeats:
        cfg["repeats"] = args.repeats
    env = environment()
    log(f"{env_summary(env)}; {cfg}")
    model = ebmppl.parse(WELL)
    samplers = ("pt", "mala")
    for s in samplers:  # compile (kept setups make the later calls warm)
        one_run(model, s, 0, cfg)
    walls = {s: [] for s in samplers}
    ess = {s: [] for s in samplers}
    last = {}
    for r in range(cfg["repeats"]):
        order = samplers if r % 2 == 0 else samplers[::-1]
        for s in order:
            wall, e, idata = one_run(model, s, 100 + r, cfg)
            walls[s].append(wall), ess[s].append(e)
            last[s] = idata
            log(f"  repeat {r} {s}: {wall:.2f} s, ESS x0 {e[0]:.0f}, x1 {e[1]:.0f}")
    rate = {s: np.sum(ess[s], axis=0) / np.sum(walls[s]) for s in samplers}
    per = {s: [e / w for e, w in zip(ess[s], walls[s])] for s in samplers}
    notes = {}
    for s in samplers:
        x0 = np.asarray(last[s].posterior["x"].values, np.float64)[..., 0]
        notes[s] = f"R-hat x0 {float(diagnostics.rhat(x0)):.3f}, share x0 > 0 {float((x0 > 0).mean()):.3f}"
    swaps = last["pt"].sample_stats["swap_acceptance_rate"].mean(("chain", "draw")).values
    rows = []
    for i, name, target in ((0, "x0 (between the wells)", 1.0), (1, "x1 (Gaussian direction)", None)):
        rows.append(row(SECTION, f"{name}: pt / mala ESS/s", rate["pt"][i], rate["mala"][i],
                        rate["pt"][i] / rate["mala"][i],
                        paired([p[i] for p in per["pt"]], [m[i] for m in per["mala"]]), target, unit="ess/s",
                        note=(f"pt: {notes['pt']}, swap rates {[round(float(r), 2) for r in swaps]}; "
                              f"mala: {notes['mala']}; "
                              f"warm call pt {np.median(walls['pt']):.2f} s, mala {np.median(walls['mala']):.2f} s; "
                              f"{cfg['chains']} chains x {cfg['draws']} draws, warmup {cfg['warmup']}")
                        if i == 0 else ""))
    print_table(rows)
    if args.json:
        write_json(args.json, {"benchmark": "tempering", "config": cfg, "environment": env, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
