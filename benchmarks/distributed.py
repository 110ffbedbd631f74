"""Benchmark: weak scaling of chain-parallel sampling over devices — the same chains a device on 1, 2 and 4
devices, so a perfect run takes the same time at every size.

Each size runs in a child process of its own with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(simulated CPU devices: each is a slice of the machine's cores, so efficiency here measures ebmppl's overhead
and the cores at hand, not a real multi-device machine). The child runs ``ebmppl.sample(model,
sampler="mala", chains=per_device * N, chain_method="parallel")`` once to compile, then times ``--repeats``
runs with other seeds (the kept setup: no retracing); the best time is reported. Weak-scaling efficiency is
``t(1) / t(N)``; 1.0 is perfect. On a machine with fewer cores than devices it cannot reach 1.0.

Usage::

    python benchmarks/distributed.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = "var x : real[16]\nx ~ normal(0, 1)\n"
SECTION = "Weak scaling: chain-parallel MALA sampling over simulated CPU devices (chains a device fixed)"


def child(devices: int, per_device: int, draws: int, warmup: int, repeats: int) -> dict:
    """In a process started with ``devices`` simulated devices: the compile and best run times."""
    import jax
    import ebmppl
    assert jax.device_count() == devices, (jax.device_count(), devices)
    model = ebmppl.parse(MODEL)
    kw = dict(sampler="mala", chains=per_device * devices, draws=draws, warmup=warmup, chain_method="parallel",
              progress=False, verbose=False)
    t0 = time.perf_counter()
    idata = ebmppl.sample(model, key=0, **kw)
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        idata = ebmppl.sample(model, key=r + 1, **kw)
        times.append(time.perf_counter() - t0)
    sd = float(idata.posterior["x"].values.std())
    return {"devices": devices, "chains": per_device * devices, "first_s": first, "best_s": min(times),
            "times": times, "sd": sd}


def run_child(devices: int, cfg: dict) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(devices), "--per-device",
           str(cfg["per_device"]), "--draws", str(cfg["draws"]), "--warmup", str(cfg["warmup"]),
           "--repeats", str(cfg["repeats"])]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the {devices}-device run failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer draws and repeats (about a minute on 2 cores)")
    ap.add_argument("--json", metavar="PATH", help="write the results to PATH")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    for name, default in (("per-device", None), ("draws", None), ("warmup", None), ("repeats", None)):
        ap.add_argument(f"--{name}", type=int, default=default)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.per_device, args.draws, args.warmup, args.repeats)))
        return 0
    cfg = dict(per_device=64, draws=500, warmup=500, repeats=3) if args.quick else \
        dict(per_device=256, draws=2000, warmup=1000, repeats=5)
    cfg.update({k: v for k, v in (("per_device", args.per_device), ("draws", args.draws),
                                  ("warmup", args.warmup), ("repeats", args.repeats)) if v})
    sys.path.insert(0, str(HERE))
    from harness import print_table, row, write_json
    results, rows = [], []
    print(f"{SECTION}\n{cfg['per_device']} chains a device, {cfg['draws']} draws + {cfg['warmup']} warmup, "
          f"best of {cfg['repeats']}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    for n in (1, 2, 4):
        r = run_child(n, cfg)
        results.append(r)
        eff = results[0]["best_s"] / r["best_s"]
        print(f"  {n} device(s), {r['chains']:5d} chains: {r['best_s']:.3f} s (compile+first {r['first_s']:.1f} s),"
              f" efficiency {eff:.2f}", flush=True)
        rows.append(row(SECTION, f"{n} device(s), {r['chains']} chains: time, and t(1) / t({n})",
                        r["best_s"], results[0]["best_s"], eff, None, None, unit="s",
                        note=f"first call (compile) {r['first_s']:.1f} s; draws' sd {r['sd']:.3f} (exact 1)"))
    print_table(rows)
    if args.json:
        write_json(args.json, {"benchmark": "distributed", "config": cfg, "rows": rows,
                               "environment": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()[0]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
