"""What each command does: ``cmd_NAME(args) -> exit code``, ``args`` parsed by :mod:`ebmppl.cli.parser`."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .. import diagnostics, plots
from ..errors import EbmError
from ..io import atomic_write, load_params, read_data, save_params
from ..model.source import load

EXIT_OK, EXIT_NUMERIC, EXIT_USAGE_OR_MODEL = 0, 1, 2  # 1: fit stopped on a non-finite loss
EXIT_WARNINGS = 1  # diagnose --strict: a warning fired


def cmd_check(args) -> int:
    from ..model.lower import lower
    from ..model.summary import summary
    model = load(args.file, data=args.data)
    low = lower(model) if model.is_bound else None
    print(summary(model, low))
    print("ok")
    return EXIT_OK


def _parse_option(text: str):
    if "=" not in text:
        raise EbmError("usage", f"--option '{text}' is not KEY=VALUE")
    k, v = text.split("=", 1)
    try:
        return k.strip(), json.loads(v)
    except json.JSONDecodeError:
        return k.strip(), v


def cmd_fit(args) -> int:
    from ..training import fit
    model = load(args.file, data=args.consts)
    out = Path(args.out)
    options = dict(_parse_option(o) for o in args.option)
    res = fit(model, args.data, method=args.method, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
              optimizer=args.optimizer, key=args.seed, val_frac=args.val_frac, patience=args.patience,
              checkpoint_dir=out / "checkpoints" if (args.checkpoint_every or args.resume) else None,
              checkpoint_every=args.checkpoint_every or (100 if args.resume else None), resume=args.resume,
              progress=not args.no_progress, clip_norm=args.clip_norm, average=args.average, **options)
    final = _write_fit(out, model, res, args.data)
    loss = f"{final['loss']:.6g}" if final["loss"] is not None else "none"
    print(f"method {res.method}: {final['steps']} steps, final loss {loss}"
          + (f", log Z {res.logz:.4f}" if res.logz is not None else "") + f" ({res.stopped})")
    print(f"wrote {out / 'params.npz'}, {out / 'params.json'}, {out / 'history.csv'}, {out / 'loss.png'}")
    if not args.no_report:
        _fit_report(model, res, args.data, out, args.seed)
    if res.stopped.startswith("stopped at step"):  # a non-finite loss: the params written are the last good ones
        return EXIT_NUMERIC
    return EXIT_OK


def _write_fit(out: Path, model, res, data) -> dict:
    """params.npz (+ .json), history.csv and loss.png under ``out``; the final numbers recorded."""
    h = res.history
    final = {"loss": float(h["loss"][-1]) if len(h["loss"]) else None, "steps": int(len(h["loss"])),
             "stopped": res.stopped}
    if len(h["val_loss"]):
        final["val_loss"] = float(h["val_loss"][-1])
    if res.logz is not None:
        final["logz"] = res.logz
    save_params(out / "params.npz", model, res.params,
                {"method": res.method, "options": res.options, "final": final, "data": str(data)})
    cols = ["step", "loss", "grad_norm", "time"] + sorted(k for k in h if k not in
                                                           ("step", "loss", "grad_norm", "time", "val_step",
                                                            "val_loss") and len(h[k]) == len(h["step"]))
    rows = [",".join(cols)] + [",".join(f"{h[c][i]:.8g}" for c in cols) for i in range(len(h["step"]))]
    atomic_write(out / "history.csv", lambda tmp: Path(tmp).write_text("\n".join(rows) + "\n"))
    plots.loss_curve(out / "loss.png", h, res.method, model.name)
    return final


def _fit_report(model, res, data, out: Path, seed) -> None:
    from ..report import fit_report
    try:  # the fit is saved already: a report that cannot be made is a warning, not a failed fit
        rep = fit_report(model, res, data, out, key=seed)
    except EbmError as e:
        print(f"warning: no training report:\n{e.render()}", file=sys.stderr)
    else:
        print(f"report: MMD {rep.mmd:.4g}, p-value {rep.p_value:.3f} ({rep.n_samples} model draws vs "
              f"{rep.n_data} data rows); wrote {out / 'fit-report.md'}")


def _params(args, model) -> dict:
    """The params file given with --params, else the model's initial params."""
    if args.params:
        return load_params(args.params, model)
    return model.init_params(0) if model.params else {}


def cmd_logz(args) -> int:
    from ..partition import logz
    model = load(args.file, data=args.data)
    params = _params(args, model)
    opts = {"runs": args.runs, "temperatures": args.temperatures, "key": args.seed} \
        if args.method in ("ais", "auto") else {}
    if args.method == "auto":
        opts = {} if all(s.domain.discrete for s in model.random) else opts
    r = logz(model, params, method=args.method, **opts)
    print(f"log Z = {r.value:.6f} +/- {r.stderr:.2g}  ({r.method}: {r.detail})")
    if args.params:
        side = Path(args.params).with_suffix(".json")
        meta = json.loads(side.read_text()) if side.exists() else {}
        nce = (meta.get("final") or {}).get("logz")
        if nce is not None:
            print(f"NCE's learned log Z = {nce:.6f}  (difference {nce - r.value:+.4f})")
    return EXIT_OK


def cmd_score(args) -> int:
    from ..applications import anomaly_score
    model = load(args.file, data=args.consts)
    params = _params(args, model)
    rows = read_data(args.data, model)
    scores = anomaly_score(model, params, rows)
    out = Path(args.out) / "scores.csv"
    atomic_write(out, lambda tmp: Path(tmp).write_text("row,score\n" + "".join(
        f"{i},{s:.8g}\n" for i, s in enumerate(scores))))
    print(f"scored {len(scores)} rows (mean {scores.mean():.4g}, max {scores.max():.4g}); wrote {out}")
    return EXIT_OK


def cmd_sample(args) -> int:
    from ..infer import sample
    if args.chains < 1 or args.draws < 1 or args.warmup < 0 or args.thin < 1:
        raise EbmError("usage", "--chains, --draws and --thin must be positive, --warmup non-negative")
    model = load(args.file, data=args.data)
    params = load_params(args.params, model) if args.params else None
    if params is None and model.params:
        print("note: no --params given: sampling at the model's initial params", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        idata = sample(model, params=params or (model.init_params(0) if model.params else None),
                       sampler=args.sampler, chains=args.chains, draws=args.draws, warmup=args.warmup,
                       thin=args.thin, key=args.seed, progress=not args.no_progress,
                       chain_method=args.chain_method)
    out = Path(args.out) / "samples.nc"
    diagnostics.record_sources(idata, args.file, args.params, args.data)  # lets `ebmppl diagnose` find the model
    diagnostics.to_netcdf(idata, out)
    print(f"sampler: {idata.posterior.attrs.get('sampler')}, {args.chains} chains x {args.draws} draws "
          f"(warmup {args.warmup})")
    n_div = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    if n_div:
        print(f"warning: {n_div} divergent transitions after warmup")
    print(diagnostics.short_summary(idata))
    print(f"wrote {out}")
    return EXIT_OK


def cmd_diagnose(args) -> int:
    if args.max_vars < 1:
        raise EbmError("usage", "--max-vars must be at least 1")
    idata = diagnostics.read_samples(args.samples)
    out = Path(args.out) if args.out else Path(args.samples).parent
    model, params = _diagnose_model(args, idata)
    diagnosis, paths = diagnostics.write_report(idata, out, model=model, params=params, max_elements=args.max_vars)
    print(diagnosis.text())
    print(f"wrote {out / 'report.md'}, {out / 'summary.csv'} and {len(paths) - 2} figures "
          f"({', '.join(p.name for p in paths[:-2])})")
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
        consts = args.data or attrs.get("consts_file")
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


def cmd_demo(args) -> int:
    from ..demo import run_demo
    return run_demo(args.target, out=args.out, examples=args.examples, progress=not args.no_progress,
                    steps=args.steps, draws=args.draws, warmup=args.warmup, thin=args.thin, chains=args.chains)


COMMANDS = {"check": cmd_check, "fit": cmd_fit, "sample": cmd_sample, "logz": cmd_logz, "score": cmd_score,
            "diagnose": cmd_diagnose, "demo": cmd_demo}
COMPILES = frozenset({"fit", "sample", "logz", "score", "diagnose", "demo"})  # switch the compile cache on first
