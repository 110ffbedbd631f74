"""Shared measurement harness of the benchmark scripts (lowering.py, sampling.py, fitting.py).

The scripts import it as ``from harness import ...``: run as ``python benchmarks/X.py``, the
script's own folder (benchmarks/) is on ``sys.path``.

What lives here, one definition each:

* compile cost: :func:`compile_times` (trace + lower, XLA compile of a jitted function),
  :func:`compile_record` (the same plus the optimized-HLO opcode histogram), and
  :class:`CompileClock` / :func:`compile_clock` / :func:`timed_call` (JAX's own compile events
  inside a call, for calls that compile internally);
* optimized-HLO inspection: :func:`hlo_histogram`, :func:`hlo_diff`;
* timing: :func:`time_loop` (an inner loop of waited-for calls), :func:`calibrate` (its length),
  :func:`interleaved` (repeats with the programs in rotating order, GC off), :func:`bench_thunks`
  (warm-up, calibration and interleaved best-of-N for a dict of programs), :func:`paired`
  (median of the within-repeat ratios);
* reporting: :func:`row`, :func:`fmt_val`, :func:`print_table` (the PASS/FAIL comparison table),
  :func:`environment` and :func:`env_summary` (the machine and versions), :func:`make_parser`
  and :func:`config` (the command line), :func:`write_json`.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import jax
import numpy as np

import ebmppl


# ------------------------------------------------------------------ compile cost
def compile_times(f, args) -> tuple[float, float, object]:
    """(trace + lower seconds, XLA compile seconds, compiled) for a jitted f called on args."""
    t0 = time.perf_counter()
    lowered = f.lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, compiled


def compile_record(f, args) -> tuple[object, dict]:
    """(compiled, {trace_lower_ms, xla_compile_ms, hlo_ops, hlo_histogram}) for a jitted f called on args."""
    trace_s, xla_s, compiled = compile_times(f, args)
    ops = hlo_histogram(compiled)
    return compiled, {"trace_lower_ms": 1e3 * trace_s, "xla_compile_ms": 1e3 * xla_s,
                      "hlo_ops": sum(ops.values()), "hlo_histogram": dict(ops)}


class CompileClock:
    """Sums JAX's compile events (tracing, lowering to MLIR, XLA compile) between snapshots.

    Registers a ``jax.monitoring`` listener when constructed; use the process-wide instance from
    :func:`compile_clock` rather than making more than one.
    """

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        import jax.monitoring

        self.total = defaultdict(float)
        self.count = defaultdict(int)
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event, duration, **kwargs):
        if event in self.EVENTS:
            self.total[event] += duration
            self.count[event] += 1

    def seconds(self) -> float:
        """All compile seconds so far."""
        return sum(self.total.values())

    def snapshot(self) -> dict:
        """The per-event totals so far, for :meth:`since`."""
        return dict(self.total)

    def since(self, snap: dict) -> dict:
        """{'trace', 'lower', 'xla'} seconds since snap."""
        short = dict(zip(self.EVENTS, ("trace", "lower", "xla")))
        return {short[e]: self.total[e] - snap.get(e, 0.0) for e in self.EVENTS}

    def compiles(self) -> int:
        """XLA compiles so far."""
        return self.count["/jax/core/compile/backend_compile_duration"]


_CLOCK = None


def compile_clock() -> CompileClock:
    """The process-wide :class:`CompileClock` (created, and its listener registered, on first use)."""
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = CompileClock()
    return _CLOCK


def timed_call(fn, breakdown: bool = False):
    """(result, wall seconds, compile seconds inside the call, XLA compiles inside the call) of ``fn()``.

    The compile time is a float of seconds, or with ``breakdown`` a dict ``{'trace', 'lower', 'xla'}``.
    """
    clock = compile_clock()
    snap, c0, n0, t0 = clock.snapshot(), clock.seconds(), clock.compiles(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    comp = clock.since(snap) if breakdown else clock.seconds() - c0
    return out, wall, comp, clock.compiles() - n0


# ------------------------------------------------------------------------- HLO
_OP = re.compile(r"\s+(?:ROOT )?%\S+ = .*?\s([a-z][\w\-]*)\(")


def hlo_histogram(hlo) -> Counter:
    """Opcode counts of optimized HLO (fused computations included, parameters excluded).

    ``hlo``: a compiled JAX function (its ``as_text()`` is read) or HLO text.
    """
    text = hlo if isinstance(hlo, str) else hlo.as_text()
    ops = Counter()
    for line in text.splitlines():
        m = _OP.match(line)
        if m and m.group(1) != "parameter":
            ops[m.group(1)] += 1
    return ops


def hlo_diff(ref: Counter, got: Counter, top: int | None = 12) -> str:
    """'+9 compare, +3 select, -1 add': the ops ``got`` has more (+) or fewer (-) of than ``ref``.

    At most ``top`` opcodes each way (``None``: all of them); "same ops" when the counts agree.
    """
    more, fewer = got - ref, ref - got
    parts = [f"+{n} {op}" for op, n in more.most_common(top)] + [f"-{n} {op}" for op, n in fewer.most_common(top)]
    return ", ".join(parts) if parts else "same ops"


# ---------------------------------------------------------------------- timing
def time_loop(f, n: int, args=(), block: bool = True) -> float:
    """Seconds per call over n back-to-back calls ``f(*args)``.

    With ``block`` each result is waited for (``jax.block_until_ready``); without, ``f`` must wait
    for its own result (e.g. a thunk from :func:`blocking`, or a non-JAX call).
    """
    t0 = time.perf_counter()
    if block:
        for _ in range(n):
            jax.block_until_ready(f(*args))
    else:
        for _ in range(n):
            f(*args)
    return (time.perf_counter() - t0) / n


def calibrate(fns, min_time: float, args=(), block: bool = True) -> int:
    """Inner-loop length such that the fastest of ``fns`` (a list) runs its loop for at least min_time.

    Pass a one-element list to calibrate a single program.
    """
    n = 1
    while True:
        fastest = min(time_loop(f, n, args, block) for f in fns)
        if fastest * n >= min_time:
            return n
        n = max(n + 1, math.ceil(1.2 * min_time / max(fastest, 1e-9)))


def interleaved(names, repeats: int, per_repeat) -> dict:
    """{name: [per_repeat(name, r) for each repeat r]}: every repeat runs every name, in an order rotated
    each repeat (to cancel drift), with the garbage collector off."""
    names = list(names)
    samples = {k: [] for k in names}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            for k in names[r % len(names):] + names[: r % len(names)]:
                samples[k].append(per_repeat(k, r))
    finally:
        if gc_was:
            gc.enable()
    return samples


def blocking(f, *args):
    """A thunk that calls f(*args) and waits for the result."""
    return lambda: jax.block_until_ready(f(*args))


def bench_thunks(thunks: dict, repeats: int, min_time: float, block: bool = False, warmup: int = 2) -> dict:
    """thunks: {name: () -> result} -> {name: {best_s, samples_s, inner_loop}}.

    Each thunk is called ``warmup`` times, gets its own inner-loop length (>= min_time), and the
    loops are timed in ``repeats`` interleaved repeats; ``best_s`` is the best repeat, seconds per
    call. ``block``: wait for each result here (otherwise the thunks wait themselves).
    """
    for t in thunks.values():
        for _ in range(warmup):
            jax.block_until_ready(t()) if block else t()
    n = {k: calibrate([t], min_time, block=block) for k, t in thunks.items()}
    samples = interleaved(thunks, repeats, lambda k, r: time_loop(thunks[k], n[k], block=block))
    return {k: {"best_s": min(v), "samples_s": v, "inner_loop": n[k]} for k, v in samples.items()}


def paired(num: list, den: list) -> float:
    """Median over repeats of num / den within each repeat (robust to load changing between repeats)."""
    return float(np.median(np.divide(num, den)))


# ---------------------------------------------------------------------- tables
def row(section, comparison, ebm, peer, ratio, paired_ratio, target, higher_better=True, unit="", note=""):
    """One comparison-table row; target None = informational. Verdict: PASS when the best-of ratio and the
    paired ratio (None: not checked) both meet the target, FAIL when both miss, "~" when they disagree."""
    if target is None:
        verdict = "info"
    else:
        ok = [(r >= target) if higher_better else (r <= target) for r in (ratio, paired_ratio) if r is not None]
        verdict = "PASS" if all(ok) else ("FAIL" if not any(ok) else "~")
    return {"section": section, "comparison": comparison, "ebmppl": ebm, "peer": peer, "unit": unit,
            "ratio": ratio, "paired": paired_ratio, "target": target, "higher_better": higher_better,
            "verdict": verdict, "note": note}


def fmt_val(v, unit, compact: bool = False) -> str:
    """A table cell for value v in unit ('s', 'ms', 'us', 'steps/s', 'ess/s', 'nats' or '').

    ``compact``: large times in coarser form ('123 s', '150 ms', '12.3 ms' rather than '12345.6 µs').
    """
    if v is None:
        return "-"
    if unit == "steps/s":
        return f"{v / 1e6:.3f}M/s" if v >= 1e6 else f"{v / 1e3:.1f}k/s"
    if unit == "s":
        return f"{v:.0f} s" if compact and v >= 100 else f"{v:.3f} s"
    if unit == "ms":
        return f"{v:.0f} ms" if compact and v >= 100 else f"{v:.2f} ms"
    if unit == "us":
        return f"{v / 1e3:.1f} ms" if compact and v >= 1e4 else f"{v:.1f} µs"
    if unit == "ess/s":
        return f"{v:.0f}/s"
    if unit == "nats":
        return f"{v:.3f}"
    return f"{v:.4g}"


def print_table(rows, compact: bool = False) -> None:
    """Print rows from :func:`row`, grouped under their sections, notes indented below their row.

    'nats' rows are differences: signed ratio, target '≥ +t'. ``compact`` is passed to :func:`fmt_val`.
    """
    cols = ("comparison", "ebmppl", "peer", "ratio", "paired", "target", "")
    cells = []
    for r in rows:
        if r["target"] is None:
            tgt = "-"
        elif r["unit"] == "nats":
            tgt = f"≥ +{r['target']:.2f}"
        else:
            tgt = ("≥ " if r["higher_better"] else "≤ ") + f"{r['target']:.2f}"
        ratio = f"{r['ratio']:+.3f}" if r["unit"] == "nats" else f"{r['ratio']:.3f}"
        cells.append((r["comparison"], fmt_val(r["ebmppl"], r["unit"], compact),
                      fmt_val(r["peer"], r["unit"], compact), ratio,
                      "-" if r["paired"] is None else f"{r['paired']:.3f}", tgt,
                      r["verdict"] if r["verdict"] != "info" else ""))
    w = [max(len(c[i]) for c in cells + [cols]) for i in range(len(cols))]
    line = lambda c: "  ".join(s.ljust(w[i]) if i == 0 else s.rjust(w[i]) for i, s in enumerate(c))  # noqa: E731
    head = line(cols)
    print(head)
    print("-" * len(head))
    section = None
    for r, c in zip(rows, cells):
        if r["section"] != section:
            section = r["section"]
            print(f"[{section}]")
        print(line(c))
        if r["note"]:
            print(" " * 4 + r["note"])


# ----------------------------------------------------------------- environment
def environment(extra: dict | None = None, loadavg: bool = True) -> dict:
    """Versions and machine: jax, then ``extra`` (the script's own packages), then ebmppl, the backend
    and device, x64, Python, platform, CPU count and (with ``loadavg``) the load average at start."""
    dev = jax.devices()[0]
    env = {"jax": jax.__version__, **(extra or {}),
           "ebmppl": ebmppl.__version__, "backend": jax.default_backend(), "device": str(dev),
           "device_kind": getattr(dev, "device_kind", ""), "x64": bool(jax.config.jax_enable_x64),
           "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}
    if loadavg:
        env["loadavg_at_start"] = os.getloadavg()
    return env


def env_summary(env: dict) -> str:
    """'jax 0.4.x on cpu (cpu), 16 CPUs, x64=False': the start of each script's first line."""
    return (f"jax {env['jax']} on {env['backend']} ({env['device_kind'] or env['device']}), {env['cpus']} CPUs, "
            f"x64={env['x64']}")


def log(s: str) -> None:
    """Print a progress line at once."""
    print(s, flush=True)


# ---------------------------------------------------------------- command line
def make_parser(doc: str, quick_help: str, repeats_help: str = "repeats per timed program (at least 7)",
                min_time_help: str = "seconds per inner timing loop", only=None) -> argparse.ArgumentParser:
    """The shared options: --quick, --repeats, --min-time, --only (when ``only`` lists the parts), --json.

    The description is the first paragraph of the script's docstring ``doc``.
    """
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--repeats", type=int, help=repeats_help)
    ap.add_argument("--min-time", type=float, help=min_time_help)
    if only:
        ap.add_argument("--only", choices=tuple(only), action="append", help="run only these parts")
    ap.add_argument("--json", metavar="PATH", help="write the results to PATH")
    return ap


def config(quick_cfg: dict, full_cfg: dict, quick: bool, repeats=None, min_time=None,
           repeat_keys=("repeats",)) -> dict:
    """The quick or full settings, with --repeats (at least 7, applied to every key in repeat_keys) and
    --min-time (at least 0.02 s) applied."""
    cfg = dict(quick_cfg if quick else full_cfg)
    if repeats:
        for k in repeat_keys:
            cfg[k] = max(7, repeats)
    if min_time:
        cfg["min_time"] = max(0.02, min_time)
    return cfg


# ------------------------------------------------------------------------ JSON
def to_jsonable(o):
    """o with numpy scalars and arrays made plain Python, tuples made lists, dict keys made strings."""
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return o


def write_json(path, out: dict) -> None:
    """Write out (via :func:`to_jsonable`) to path, making its folder, and say so."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(to_jsonable(out), indent=2) + "\n")
    print(f"\nwrote {path}")
