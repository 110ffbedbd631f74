"""What each command does: ``cmd_NAME(args, ctx) -> exit code``, ``args`` parsed by :mod:`ebmppl.cli.parser` and
admitted by :mod:`ebmppl.cli.options`, ``ctx`` the run's :class:`Context` (its interrupts, its command line).

A command that writes opens its output folder first (:func:`ebmppl.cli.outdir.output_folder`), reads its
inputs, refuses a folder holding an earlier run's results, computes, and only then writes (``fit`` lives in
:mod:`ebmppl.cli.fit`).
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .. import diagnostics
from ..errors import EbmError
from ..io import atomic_write, load_params, read_data
from ..model.source import load
from .fit import EXIT_NUMERIC, EXIT_OK, cmd_fit
from .predict import cmd_predict, report_loo, sample_predictive
from .launch import cmd_launch, join_run, unwritten_folder
from .outdir import output_folder
from .signals import EXIT_INTERRUPTED, Interrupts
from .talk import Said
from ..vocabulary import knob

EXIT_USAGE_OR_MODEL = 2  # an EbmError: a usage, model, data or output error
EXIT_WARNINGS = 1  # diagnose --strict: a warning fired
__all__ = ["COMMANDS", "COMPILES", "Context", "EXIT_OK", "EXIT_NUMERIC", "EXIT_USAGE_OR_MODEL", "EXIT_WARNINGS",
           "EXIT_INTERRUPTED"]


@dataclass(frozen=True)
class Context:
    """What a command knows beyond its options: the signals seen so far, its command line (for the
    ``--resume`` command an interrupted fit prints) and its talk (notes, ``--json``'s result)."""

    interrupts: Interrupts
    argv: tuple = ()
    said: Said = field(default_factory=Said)

    @property
    def result(self) -> dict:
        """What ``--json`` reports (the command fills it in)."""
        return self.said.result


def progress(args) -> bool:
    """Whether to show progress bars: not with ``--no-progress`` or ``--quiet``."""
    return not (getattr(args, "no_progress", False) or getattr(args, "quiet", False))


def cmd_check(args, ctx) -> int:
    from ..model.lower import lower
    from ..model.summary import summary
    from ..infer.flatness import flat_warnings
    model = load(args.file, data=args.consts)
    low = lower(model) if model.is_bound else None
    print(summary(model, low), flush=True)
    if low is not None and not low.placeholders:
        for w in flat_warnings(model):  # elements the energy never changes with: improper along them
            warnings.warn(w, stacklevel=1)
    print("ok")
    ctx.result.update(model=model.name, ok=True, bound=model.is_bound)
    return EXIT_OK


def _params(args, model) -> dict:
    """The params file given with --params, else the model's initial params."""
    if args.params:
        return load_params(args.params, model)
    return model.init_params(0) if model.params else {}


def cmd_logz(args, ctx) -> int:
    from ..partition import logz
    model = load(args.file, data=args.consts)
    params = _params(args, model)
    opts = {"runs": args.runs, "temperatures": args.temperatures, "key": args.seed} \
        if args.method in ("ais", "auto") else {}
    if args.method == "auto":
        opts = {} if all(s.domain.discrete for s in model.random) else opts
    r = logz(model, params, method=args.method, **opts)
    print(f"log Z = {r.value:.6f} +/- {r.stderr:.2g}  ({r.method}: {r.detail})")
    ctx.result.update(value=float(r.value), stderr=float(r.stderr), method=r.method, detail=r.detail)
    nce = _learned_logz(args.params, model) if args.params else None
    if nce is not None:
        print(f"NCE's learned log Z = {nce:.6f}  (difference {nce - r.value:+.4f})")
        ctx.result["nce_logz"] = nce
    return EXIT_OK


def _learned_logz(params_file, model):
    """NCE's learned log Z recorded in a params file's sidecar (``final.logz``), when it is a finite number."""
    from ..io.params import read_sidecar
    final = read_sidecar(params_file, model).get("final")
    value = final.get("logz") if isinstance(final, dict) else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _score_logz(args, model, params) -> tuple:
    """(log Z, where it came from) for ``score``'s log_density column, or (None, why there is none)."""
    from ..partition import logz
    how = args.logz
    if how == "none":
        return None, "not asked for (--logz none)"
    if how in ("auto", "nce") and args.params:
        learned = _learned_logz(args.params, model)
        if learned is not None:
            return learned, "learned by NCE, from the params file"
    if how == "nce":
        raise EbmError("usage", f"--logz nce: '{args.params or 'the initial params'}' records no learned log Z",
                       hint="fit with --method nce, or pass --logz exact, quadrature or ais")
    if how != "auto":
        r = logz(model, params, method=how, **({"key": args.seed} if how == "ais" else {}))
        return float(r.value), f"{r.method}, +/- {r.stderr:.2g}"
    method = _exact_method(model)
    if method is None:
        return None, "log Z is not known (pass --logz ais to estimate it, or fit by NCE)"
    try:
        r = logz(model, params, method=method)
    except EbmError as e:
        return None, f"{method} does not apply ({e.message}); pass --logz ais to estimate log Z"
    return float(r.value), f"{r.method}, +/- {r.stderr:.2g}"


def _exact_method(model):
    """The log Z method without sampling that may apply: exact enumeration for discrete models, quadrature for
    one or two continuous numbers; None otherwise."""
    if all(s.domain.discrete for s in model.random):
        return "exact"
    if any(s.domain.discrete for s in model.random):
        return None
    size = sum(int(math.prod(model.lowered.shapes[s.name])) for s in model.random)
    return "quadrature" if size <= 2 else None


def _scores_csv(scores, log_z) -> str:
    """``row,score`` (the free energy: higher = more anomalous), with ``log_density`` when log Z is known."""
    if log_z is None:
        return "row,score\n" + "".join(f"{i},{s:.8g}\n" for i, s in enumerate(scores))
    return "row,score,log_density\n" + "".join(f"{i},{s:.8g},{-s - log_z:.8g}\n" for i, s in enumerate(scores))


def cmd_score(args, ctx) -> int:
    from ..applications import anomaly_score
    from ..goodness import ksd
    with output_folder(args.out, "score", overwrite=args.overwrite) as out:
        model = load(args.file, data=args.consts)
        params = _params(args, model)
        rows = read_data(args.data, model)
        out.check_free({"--data": args.data, "--params": args.params, "--consts": args.consts})
        scores = anomaly_score(model, params, rows)
        log_z, source = _score_logz(args, model, params)
        test = ksd(model, params, rows, key=args.seed) if args.ksd else None
        path = out / "scores.csv"
        with ctx.interrupts.writing_results():
            out.claim()
            atomic_write(path, lambda tmp: Path(tmp).write_text(_scores_csv(scores, log_z)))
            if test is not None:
                atomic_write(out / "ksd.json", lambda tmp: Path(tmp).write_text(json.dumps(vars(test), indent=1)))
    print(f"scored {len(scores)} rows (mean {scores.mean():.4g}, max {scores.max():.4g}); wrote {path}")
    print(f"log_density = -score - log Z with log Z = {log_z:.6g} ({source})" if log_z is not None else
          f"no log_density column: {source}")
    ctx.result.update(rows=len(scores), mean=float(scores.mean()), max=float(scores.max()), files=[str(path)],
                      log_z=log_z, log_z_source=source)
    if test is not None:
        print(test)
        ctx.result.update(ksd=test.statistic, ksd_p_value=test.p_value, files=[str(path), str(out / "ksd.json")])
    return EXIT_OK


def cmd_sample(args, ctx) -> int:
    from ..infer import sample
    main = join_run(args)  # a multi-process run: joined first; only process 0 opens --out and writes
    with (output_folder if main else unwritten_folder)(args.out, "sample", overwrite=args.overwrite) as out:
        model = load(args.file, data=args.consts)
        params = load_params(args.params, model) if args.params else None
        out.check_free({"--params": args.params, "--consts": args.consts, "the model": args.file})
        # without --params, sample() warns (once, as `warning: ...`) that it uses the initial params
        idata = sample(model, params=params, sampler=args.sampler, chains=args.chains, draws=args.draws,
                       warmup=args.warmup, thin=args.thin, key=args.seed, progress=progress(args) and main,
                       chain_method=args.chain_method, step_size=args.step_size,
                       target_accept=args.target_accept, adapt_mass=args.adapt_mass, verbose=not args.quiet,
                       temperatures=args.temperatures, max_temperature=args.max_temperature)
        if args.predictive:
            idata = sample_predictive(args, model, params, idata)
        path = out / "samples.nc"
        diagnostics.record_sources(idata, args.file, args.params, args.consts)  # lets `ebmppl diagnose` find the model
        if not main:
            return EXIT_OK
        with ctx.interrupts.writing_results():
            out.claim()
            _write_samples(idata, path)
    _sample_summary(args, idata, path, ctx)
    return EXIT_OK


def _write_samples(idata, path: Path) -> None:
    """samples.nc, atomically; a failure is an ``error[output]`` (and no partial file)."""
    try:
        diagnostics.to_netcdf(idata, path)
    except EbmError:
        raise
    except Exception as e:  # netCDF4/h5netcdf/xarray raise many types
        raise EbmError("output", f"cannot write {path}: {type(e).__name__}: {e}",
                       hint="check the folder's space and permissions, then sample again") from None


def _sample_summary(args, idata, path: Path, ctx) -> None:
    """What was drawn; the draws are written already, so a summary that cannot be made is a warning."""
    sampler = idata.posterior.attrs.get('sampler')
    print(f"sampler: {sampler}, {args.chains} chains x {args.draws} draws (warmup {args.warmup})")
    ctx.result.update(sampler=sampler, chains=args.chains, draws=args.draws, warmup=args.warmup,
                      files=[str(path)], warnings=[])
    try:
        n_div = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
        text = diagnostics.short_summary(idata)
    except Exception as e:  # ArviZ on unusual draws: the samples are saved, the summary is only a view of them
        err = e if isinstance(e, EbmError) else EbmError("diagnose", f"no summary of the draws: "
                                                                      f"{type(e).__name__}: {e}")
        print(f"warning: {err.render()}", file=sys.stderr)
        ctx.result["warnings"].append(err.render())
    else:
        if n_div:
            said = (f"{n_div} divergent transitions after warmup: raise {knob('target_accept', 0.95)} so the "
                    f"step size shrinks, or reparameterize")
            print(f"warning: {said}")
            ctx.result["warnings"].append(said)
        print(text)
    print(f"wrote {path}")


def cmd_diagnose(args, ctx) -> int:
    with output_folder(args.out or Path(args.samples).parent, "diagnose", overwrite=args.overwrite) as out:
        idata = diagnostics.read_samples(args.samples)
        model, params = (None, None) if args.no_figures else _diagnose_model(args, idata)  # the density figure's
        out.check_free({"the samples": args.samples, "--model": args.model, "--params": args.params,
                        "--consts": args.consts})
        with ctx.interrupts.writing_results():
            out.claim()
            diagnosis, paths = diagnostics.write_report(idata, out.path, model=model, params=params,
                                                        max_elements=args.max_vars, figures=not args.no_figures)
    print(diagnosis.text())
    report_loo(idata, ctx)
    print(f"wrote {out / 'report.md'}, {out / 'summary.csv'} and {len(paths) - 2} figures"
          + (f" ({', '.join(p.name for p in paths[:-2])})" if len(paths) > 2 else " (--no-figures)"))
    ctx.result.update(warnings=[str(w) for w in diagnosis.warnings], files=[str(p) for p in paths])
    return EXIT_WARNINGS if args.strict and diagnosis.warnings else EXIT_OK


def _diagnose_model(args, idata):
    """(model, params) for the density figure: from --model/--params, else the files recorded in the samples.

    An explicit --model that is not the sampled one is an error; a recorded file that is gone or has changed
    since sampling only costs the density figure (with a note on stderr)."""
    attrs = idata.posterior.attrs
    given = args.model is not None
    path = args.model or attrs.get("model_file")
    if path is None:
        return None, None
    if not given and not Path(path).is_file():
        print(f"note: the model file recorded in the samples ({path}) is gone: no density figure "
              f"(pass --model FILE.ebm)", file=sys.stderr)
        return None, None
    try:
        model = load(path)
        consts = args.consts or attrs.get("consts_file")
        if model.consts and not model.is_bound:
            model = model.bind(consts if consts and Path(consts).is_file() else diagnostics.consts_of(idata))
        if attrs.get("fingerprint") not in (None, model.fingerprint):
            raise EbmError("data", f"{args.samples} holds draws of model '{attrs.get('model')}' (fingerprint "
                                   f"{attrs.get('fingerprint')}), not of {path} (fingerprint {model.fingerprint})",
                           hint="pass the model file the draws came from, or sample this model again")
        params_file = args.params or attrs.get("params_file")
        params = load_params(params_file, model) if params_file else (model.init_params(0) if model.params
                                                                      else {})
    except EbmError as e:
        if given:
            raise
        print(f"note: no density figure: the recorded model cannot be used ({e.message})", file=sys.stderr)
        return None, None
    return model, params


def cmd_demo(args, ctx) -> int:
    from ..demo import default_out, run_demo
    sizes = dict(steps=args.steps, draws=args.draws, warmup=args.warmup, thin=args.thin, chains=args.chains)
    if args.examples is not None:
        return run_demo(args.target, examples=args.examples, progress=progress(args), **sizes)
    with output_folder(args.out or default_out(args.target), "demo", overwrite=args.overwrite) as out:
        out.check_free()
        return run_demo(args.target, out=out.path, progress=progress(args), before_write=out.claim, **sizes)


COMMANDS = {"check": cmd_check, "fit": cmd_fit, "sample": cmd_sample, "logz": cmd_logz, "score": cmd_score,
            "predict": cmd_predict, "diagnose": cmd_diagnose, "demo": cmd_demo, "launch": cmd_launch}
# the commands that switch the compile cache on first
COMPILES = frozenset({"fit", "sample", "predict", "logz", "score", "diagnose", "demo"})
