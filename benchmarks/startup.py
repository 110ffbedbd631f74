"""Benchmark: io & start-up — reading a 50 000 x 64 CSV against pandas, and how long ``ebmppl --help`` and
``import ebmppl`` take.

* CSV: ``ebmppl.io.read_csv`` (every cell admitted: a number, finite in float32, inside its domain) against
  ``pandas.read_csv`` on the same file (50 000 rows x 64 columns of ``repr``-printed float64, generated to a
  temporary file), in one process, in interleaved repeats; target: ebmppl / pandas <= 2.
* ``ebmppl --help`` (the console script beside this interpreter) and ``python -c "import ebmppl"``: wall time
  of a fresh process, median of 10, against the budgets 0.3 s and 1 s; the bare interpreter's start
  (``python -c pass``) is noted as the floor.

    python benchmarks/startup.py [--quick] [--json out.json]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import environment, interleaved, log, make_parser, paired, print_table, row, write_json

SECTION = "io & start-up"
ROOT = Path(__file__).resolve().parents[1]
HELP_BUDGET_S, IMPORT_BUDGET_S, CSV_TARGET = 0.3, 1.0, 2.0


def csv_rows(rows: int, cols: int, repeats: int) -> list[dict]:
    import pandas as pd

    import ebmppl
    from ebmppl.io import read_csv
    model = ebmppl.parse(f"var x : real[{cols}]\nfactor f = 0.5 * sum(x^2)\n", "csv_bench.ebm")
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, cols))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.csv"
        header = ",".join(f"x[{j}]" for j in range(cols))
        path.write_text(header + "\n" + "\n".join(",".join(map(repr, r)) for r in values.tolist()) + "\n")
        got = read_csv(path, model)["x"]
        assert np.array_equal(got, values), "the CSV reader did not read back the numbers written"
        progs = {"ebmppl": lambda: read_csv(path, model), "pandas": lambda: pd.read_csv(path).to_numpy()}
        for p in progs.values():  # warm the page cache and both readers' imports
            p()

        def once(name, _r):
            t0 = time.perf_counter()
            progs[name]()
            return time.perf_counter() - t0
        s = interleaved(progs, repeats, once)
        size = path.stat().st_size
    e, p = min(s["ebmppl"]), min(s["pandas"])
    return [row(SECTION, f"read_csv {rows:,} x {cols} ({size / 2**20:.0f} MiB): ebmppl / pandas time", e, p,
                e / p, paired(s["ebmppl"], s["pandas"]), CSV_TARGET, higher_better=False, unit="s",
                note=f"best of {repeats}; medians {statistics.median(s['ebmppl']):.3f} s / "
                     f"{statistics.median(s['pandas']):.3f} s")]


def wall(argv: list[str], n: int) -> list[float]:
    """Wall seconds of ``n`` fresh processes running ``argv`` (output discarded)."""
    out = []
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def start_rows(n: int) -> list[dict]:
    script = Path(sys.executable).with_name("ebmppl")
    help_argv = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "ebmppl", "--help"]
    floor = statistics.median(wall([sys.executable, "-c", "pass"], n))
    out = []
    for what, argv, budget in (("`ebmppl --help`", help_argv, HELP_BUDGET_S),
                               ("`ebmppl --version`", help_argv[:-1] + ["--version"], HELP_BUDGET_S),
                               ("`python -c 'import ebmppl'`", [sys.executable, "-c", "import ebmppl"],
                                IMPORT_BUDGET_S)):
        t = wall(argv, n)
        med = statistics.median(t)
        out.append(row(SECTION, f"{what}: wall time (median of {n}) / budget {budget:g} s", med, budget,
                       med / budget, None, 1.0, higher_better=False, unit="s",
                       note=f"min {min(t):.3f} s, max {max(t):.3f} s; a bare `python -c pass` takes {floor:.3f} s"))
    return out


def main(argv=None) -> int:
    ap = make_parser(__doc__, "3 CSV repeats instead of 7")
    args = ap.parse_args(argv)
    repeats = max(7, args.repeats or 7) if not args.quick else 3
    env = environment({"pandas": __import__("pandas").__version__, "numpy": np.__version__})
    log(f"{SECTION}: {env['cpus']} CPUs, load average at start {env['loadavg_at_start']}")
    rows = csv_rows(50_000, 64, repeats) + start_rows(10)
    print_table(rows, compact=True)
    if args.json:
        write_json(args.json, {"benchmark": "startup", "rows": rows, "environment": env})
    return 0 if all(r["verdict"] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
