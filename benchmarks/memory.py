"""Benchmark: peak memory of a large sampling run.

1 000 chains x 1 000 draws of a 10-D Gaussian energy (``0.5 * sum(x^2)`` over ``real[10]``)
with ``ebmppl.sample(sampler="mala", progress=False)``, in a fresh child process, so the
figure is the run's own: the child's peak resident set size (``ru_maxrss`` of
``resource.getrusage(RUSAGE_CHILDREN)``), which includes the Python interpreter, JAX and the
compiled program. The draws alone are 1 000 x 1 000 x 10 float32 = 40 MB; the budget is 2 GB.

    python benchmarks/memory.py               # the full run; exit 1 above the budget
    python benchmarks/memory.py --quick       # 100 chains x 100 draws
    python benchmarks/memory.py --json out.json

Run on the CPU (the default device here); on a GPU, host RSS excludes device memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BUDGET_BYTES = 2 * 1024**3
ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
import ebmppl
chains, draws, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
model = ebmppl.parse("var x : real[10]\nfactor gauss = 0.5 * sum(x^2)\n", "gauss10.ebm")
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    idata = ebmppl.sample(model, sampler="mala", chains=chains, draws=draws, warmup=warmup, key=0, progress=False,
                          verbose=False)
wall = time.perf_counter() - t0
x = idata.posterior["x"].values
print(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype), "wall_s": wall,
                  "draws_bytes": int(x.nbytes), "finite": bool(np.isfinite(x).all()),
                  "mean_abs": float(np.abs(x.mean())), "var": float(x.var())}))
"""


def measure(chains: int, draws: int, warmup: int) -> dict:
    """Run the child and return its report plus ``peak_rss_bytes``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CHILD, str(chains), str(draws), str(warmup)], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the sampling child failed:\n{r.stderr[-3000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    if peak_kib <= before:  # an earlier child of this process peaked higher: no reading
        raise RuntimeError("run measure() in a fresh process, or before larger children")
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report.update(chains=chains, draws=draws, warmup=warmup, peak_rss_bytes=peak_kib * 1024,
                  total_s=time.perf_counter() - t0, budget_bytes=BUDGET_BYTES)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 chains x 100 draws")
    ap.add_argument("--chains", type=int, default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = ap.parse_args(argv)
    n = 100 if args.quick else 1000
    chains, draws = args.chains or n, args.draws or n
    warmup = args.warmup if args.warmup is not None else (100 if args.quick else 500)
    rep = measure(chains, draws, warmup)
    gib = rep["peak_rss_bytes"] / 1024**3
    ok = rep["peak_rss_bytes"] < BUDGET_BYTES and rep["finite"]
    print(f"memory: {chains} chains x {draws} draws (warmup {warmup}) of a 10-D Gaussian, mala")
    print(f"  draws array      {rep['shape']} {rep['dtype']}, {rep['draws_bytes'] / 1024**2:.1f} MiB")
    print(f"  peak RSS (child) {rep['peak_rss_bytes'] / 1024**2:.0f} MiB = {gib:.2f} GiB "
          f"(budget {BUDGET_BYTES / 1024**3:.0f} GiB)  {'PASS' if ok else 'FAIL'}")
    print(f"  sample() wall    {rep['wall_s']:.1f} s; draws mean |{rep['mean_abs']:.3f}|, var {rep['var']:.3f} "
          f"(exact 0, 1)")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
