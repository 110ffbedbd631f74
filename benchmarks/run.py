"""Run every benchmark and gather the results: ``make bench`` (full) and ``make bench-quick``.

Each comparison script (lowering.py, sampling.py, fitting.py, scaling.py, memory.py, startup.py, tempering.py, distributed.py,
versus_torch.py — the last one only when torch and torchebm are installed: ``pip install -e '.[bench-torch]'``)
runs in its own process (one process per script: ebmppl and its peers side by side in it), writes its rows to
``runs/bench/<name>.json``, and prints its own tables as it goes. Then this runner prints the
headline table — every row that has a target, with its verdict — and, for a full run, writes
``benchmarks/RESULTS.md``: the machine, versions, date and command, the headline table, every
script's full table, and the findings of the profiles (``benchmarks/findings.md``, kept by hand:
what was measured where a ratio misses its target). A quick run writes
``runs/bench/RESULTS-quick.md`` instead, so the published file always comes from a full run.

Usage::

    python benchmarks/run.py [--quick] [--only lowering,sampling,...,versus_torch] [--out DIR]
    python benchmarks/run.py --render     # rebuild RESULTS.md from runs/bench/*.json (e.g. after findings.md)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from harness import fmt_val  # noqa: E402  (benchmarks/ is not a package; the runner itself only formats)
SCRIPTS = ("lowering", "sampling", "fitting", "scaling", "memory", "startup", "tempering", "distributed", "versus_torch")
LOWERING_TARGET = 1.05


def lowering_rows(out: dict) -> list[dict]:
    """benchmarks/lowering.py reports its own shape; turn each case into a comparison row."""
    rows = []
    for r in out["results"]:
        ok = [x <= out["target_ratio"] for x in (r["ratio"], r["paired_median_ratio"])]
        rows.append({"section": "DSL lowering vs hand-written energies (value and gradient, jitted)",
                     "comparison": f"{r['model']}, {r['case']}: ebmppl / hand-written time",
                     "ebmppl": r["dsl_us"], "peer": r["hand_us"], "unit": "us", "ratio": r["ratio"],
                     "paired": r["paired_median_ratio"], "target": out["target_ratio"], "higher_better": False,
                     "verdict": "PASS" if all(ok) else ("FAIL" if not any(ok) else "~"),
                     "note": f"A/A {r['aa_ratio']:.3f}"})
    return rows


def memory_rows(out: dict) -> list[dict]:
    """benchmarks/memory.py reports one run; its peak RSS against the 2 GB budget is a row."""
    gib = out["peak_rss_bytes"] / 1024**3
    budget = out["budget_bytes"] / 1024**3
    return [{"section": "Memory: peak RSS of one sample() run (a fresh child process)",
             "comparison": f"{out['chains']} chains x {out['draws']} draws of a 10-D model, mala: peak GiB / budget",
             "ebmppl": gib, "peer": budget, "unit": "", "ratio": gib / budget, "paired": None, "target": 1.0,
             "higher_better": False, "verdict": "PASS" if gib < budget and out["finite"] else "FAIL",
             "note": f"draws array {out['draws_bytes'] / 1024**2:.0f} MiB; sample() wall {out['wall_s']:.1f} s"}]


def load_rows(path: Path) -> tuple[list[dict], dict]:
    out = json.loads(path.read_text())
    if "peak_rss_bytes" in out:
        return memory_rows(out), {}
    rows = lowering_rows(out) if out.get("benchmark") == "lowering" else out["rows"]
    return rows, out.get("environment", {})


def fmt(v, unit) -> str:
    return fmt_val(v, unit, compact=True)


def target_str(r) -> str:
    if r["target"] is None:
        return ""
    if r["unit"] == "nats":
        return f"≥ +{r['target']:.2f}"
    return ("≥ " if r["higher_better"] else "≤ ") + f"{r['target']:.2f}"


def ratio_str(v, unit) -> str:
    if v is None:
        return "-"
    return f"{v:+.3f}" if unit == "nats" else f"{v:.3f}"


def md_table(rows: list[dict], with_section: bool = False) -> str:
    head = (["section"] if with_section else []) + ["comparison", "ebmppl", "peer", "ratio", "paired", "target",
                                                     "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = ([r["section"]] if with_section else []) + [
            r["comparison"].strip().replace("|", "\\|"), fmt(r["ebmppl"], r["unit"]), fmt(r["peer"], r["unit"]),
            ratio_str(r["ratio"], r["unit"]), ratio_str(r["paired"], ""), target_str(r),
            "" if r["verdict"] == "info" else f"**{r['verdict']}**"]
        lines.append("| " + " | ".join(cells) + " |")
        if r.get("note"):
            lines.append("| " + ("| " if with_section else "") + f"↳ {r['note']}".replace("|", "\\|")
                         + " |" * (len(head) - (2 if with_section else 1)) + " |")
    return "\n".join(lines)


def by_section(rows):
    out = {}
    for r in rows:
        out.setdefault(r["section"], []).append(r)
    return out


def headline(all_rows: dict) -> list[dict]:
    return [dict(r, script=name) for name, rows in all_rows.items() for r in rows if r["target"] is not None]


def print_headline(rows: list[dict]) -> None:
    w = max(len(r["comparison"].strip()) for r in rows) if rows else 10
    print(f"\n{'=' * 20} headline: every comparison with a target {'=' * 20}")
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            print(f"[{section}]")
        print(f"  {r['comparison'].strip():<{w}}  ratio {ratio_str(r['ratio'], r['unit']):>7}  paired "
              f"{ratio_str(r['paired'], ''):>6}  target {target_str(r):<8} {r['verdict']}")
    n_pass = sum(r["verdict"] == "PASS" for r in rows)
    print(f"{n_pass} of {len(rows)} targets met (PASS); see benchmarks/findings.md for the profiles of the misses.")


def write_results(path: Path, all_rows: dict, envs: dict, command: str, quick: bool, wall: float) -> None:
    env = next(iter(envs.values()), {})
    versions = {k: v for e in envs.values() for k, v in e.items()
                if k in ("jax", "numpyro", "blackjax", "sklearn", "optax", "ebmppl", "python")}
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"({'quick' if quick else 'full'} run{f', {wall / 60:.0f} min' if wall else ''}). Do not edit by hand: `make bench` rewrites "
        "this file; the findings at the end come from `benchmarks/findings.md`.",
        "",
        f"Machine: {env.get('platform', '?')}, {env.get('cpus', '?')} CPUs, JAX backend "
        f"{env.get('backend', '?')} ({env.get('device_kind') or env.get('device', '?')}), "
        f"float64 {'on' if env.get('x64') else 'off'} (all comparisons in float32).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "Method: each script runs ebmppl and its peer in one process on the same problem, sizes and dtype; "
        "compiled calls are timed warm, best of N ≥ 7 interleaved repeats, compile time reported apart; "
        "*ratio* is oriented so that the target reads naturally (throughput ebmppl/peer, time peer/ebmppl, "
        "except rows that say 'ebmppl / ...'); *paired* is the median of the within-repeat ratios; A/A rows "
        "(ebmppl or the peer against a second copy of itself) show the noise floor. PASS: both ratios meet "
        "the target; FAIL: both miss; ~: they disagree (noise).",
        "",
        "## Headline: every comparison with a target",
        "",
        md_table(headline(all_rows), with_section=True),
        "",
    ]
    for name, rows in all_rows.items():
        lines += [f"## {name}.py", ""]
        for section, rs in by_section(rows).items():
            lines += [f"### {section}", "", md_table(rs), ""]
    findings = HERE / "findings.md"
    if findings.exists():
        lines += ["## Findings (profiles of the misses)", "", findings.read_text(encoding="utf-8").strip(), ""]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the scripts' quick settings (a few minutes each)")
    ap.add_argument("--only", help="comma-separated scripts to run (default: all): " + ", ".join(SCRIPTS))
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench"), help="folder for the JSON files")
    ap.add_argument("--render", action="store_true",
                    help="only rebuild the markdown from the JSON files of the last run (after editing findings.md)")
    ap.add_argument("--results", help="where to write the markdown (default: benchmarks/RESULTS.md for a full "
                                      "run of every script, runs/bench/RESULTS-quick.md otherwise)")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.only.split(",")] if args.only else list(SCRIPTS)
    bad = [n for n in names if n not in SCRIPTS]
    if bad:
        ap.error(f"unknown benchmark(s) {bad}; choose from {', '.join(SCRIPTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    all_rows, envs, failed = {}, {}, []
    for name in names:
        js = out / f"{name}.json"
        if args.render:
            if js.exists():
                all_rows[name], envs[name] = load_rows(js)
            else:
                failed.append(name)
            continue
        cmd = [sys.executable, str(HERE / f"{name}.py"), "--json", str(js)] + (["--quick"] if args.quick else [])
        print(f"\n{'#' * 10} {' '.join(cmd[1:])}", flush=True)
        if js.exists():
            js.unlink()
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0 or not js.exists():
            failed.append(name)
            print(f"benchmark {name} failed (exit {rc})", file=sys.stderr)
            continue
        all_rows[name], envs[name] = load_rows(js)
    wall = time.perf_counter() - t0
    if args.render:  # the run's own length is in the JSON files' absence; say when they were written
        wall = 0.0
    print_headline(headline(all_rows))
    command = "make bench-quick" if args.quick else "make bench"
    if args.results:
        dest = Path(args.results)
    elif args.quick or set(names) != set(SCRIPTS) or failed:
        dest = out / ("RESULTS-quick.md" if args.quick else "RESULTS-partial.md")
    else:
        dest = HERE / "RESULTS.md"
    if all_rows:
        write_results(dest, all_rows, envs, command, args.quick, wall)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
