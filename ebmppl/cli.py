"""The command line: ``ebmppl check | fit | sample | diagnose | logz | score | demo``.

A model or data error prints the rendered message and exits 2; never a
Python traceback for the user's own mistake.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_NUMERIC, EXIT_USAGE_OR_MODEL = 0, 1, 2  # 1: fit stopped on a non-finite loss
EXIT_WARNINGS = 1  # diagnose --strict: a warning fired


def _common(p: argparse.ArgumentParser):
    p.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")


def _model_args(p: argparse.ArgumentParser, params=None):
    """The model file, its params (when ``params`` names them) and its consts file, as most commands take them."""
    p.add_argument("file", help="the .ebm model file")
    if params:
        p.add_argument("--params", metavar="PARAMS.npz", help=f"{params} (default: the model's initial params)")
    p.add_argument("--data", metavar="CONSTS.json", help="JSON file binding the model's consts")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ebmppl",
        description="ebmppl: declare, fit, sample and evaluate energy-based models.",
        epilog="Run `ebmppl COMMAND --help` for the options of a command.")
    from . import __version__
    ap.add_argument("--version", action="version", version=f"ebmppl {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="parse and check a .ebm model; print its summary",
                       description="Parse and check a .ebm model and print a summary: variables, params, "
                                   "consts, factors and how the free energy is computed. Exit 0 if the model "
                                   "is valid, 2 with the error otherwise.")
    _model_args(c, params=None)
    _common(c)

    s = sub.add_parser("sample", help="draw MCMC chains from a model; write samples.nc and print a summary",
                       description="Sample a model's vars and latents at fixed params with NUTS, HMC, MALA, ULA, "
                                   "random-walk Metropolis, block Gibbs or Gibbs-with-gradients. Writes "
                                   "DIR/samples.nc (ArviZ netCDF, written atomically) and prints mean, sd, R-hat "
                                   "and ESS per variable.")
    _model_args(s, params="fitted params")
    from .infer.sample import SAMPLERS
    s.add_argument("--sampler", default="auto", choices=SAMPLERS, help="the sampler (default: auto)")
    s.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    s.add_argument("--draws", type=int, default=1000, help="draws kept per chain (default 1000)")
    s.add_argument("--warmup", type=int, default=1000, help="warmup steps per chain (default 1000)")
    s.add_argument("--thin", type=int, default=1, help="keep every THIN-th draw (default 1)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--chain-method", default="vectorized", choices=["vectorized", "parallel", "sequential"],
                   help="how chains run: vectorized on one device (default), parallel over devices, sequential")
    s.add_argument("--out", metavar="DIR", default="runs/sample", help="output folder (default runs/sample)")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _common(s)

    f = sub.add_parser("fit", help="fit a model's params to data; write params, history and a loss curve",
                       description="Fit a model's params to data by score matching (sm, ssm, dsm), NCE, contrastive "
                                   "divergence (cd, pcd), flow-contrastive (fce) or variational (vi) training, or "
                                   "maximum likelihood (mle). Writes DIR/params.npz + DIR/params.json, "
                                   "DIR/history.csv, DIR/loss.png and a training report (DIR/fit-report.md with "
                                   "DIR/fit-report-*.png: curves, a sample-vs-data check, chain diagnostics); "
                                   "checkpoints under DIR/checkpoints.")
    f.add_argument("file", help="the .ebm model file")
    f.add_argument("--data", required=True, metavar="DATA.csv|npz", help="training data (columns named after vars)")
    f.add_argument("--consts", metavar="CONSTS.json", help="JSON file binding the model's consts")
    from .training.api import METHODS
    f.add_argument("--method", default="auto", choices=METHODS, help="training method (default: auto)")
    f.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    f.add_argument("--batch-size", type=int, default=256, help="minibatch size (default 256)")
    f.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    f.add_argument("--optimizer", default="adam", help="optax optimizer name (default adam)")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--val-frac", type=float, default=0.0, help="fraction of rows held out for validation")
    f.add_argument("--patience", type=int, default=None, help="early stopping after this many checks "
                                                                 "without validation improvement")
    f.add_argument("--clip-norm", type=float, default=None, help="clip gradients to this global norm")
    f.add_argument("--average", type=float, default=None, metavar="DECAY",
                   help="return a moving average of the iterates (Polyak averaging), e.g. 0.99")
    f.add_argument("--checkpoint-every", type=int, default=None, help="checkpoint every N steps")
    f.add_argument("--resume", action="store_true", help="continue from DIR/checkpoints")
    f.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. --option k=5 --option sigma=0.1 (repeatable)")
    f.add_argument("--out", metavar="DIR", default="runs/fit", help="output folder (default runs/fit)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    f.add_argument("--no-report", action="store_true", help="skip the training report (fit-report.md, fit-report-*.png)")
    _common(f)

    z = sub.add_parser("logz", help="estimate a model's log partition function",
                       description="Estimate log Z at the given params: exact enumeration (discrete models, with "
                                   "analytic sums over variables the energy is affine in), quadrature (1-2 "
                                   "continuous dimensions), annealed importance sampling, or auto (the cheapest "
                                   "exact method that applies, else AIS). Prints the value, its standard error "
                                   "and how it was computed; with a params file from `ebmppl fit --method nce` "
                                   "also NCE's learned log Z.")
    _model_args(z, params="params")
    z.add_argument("--method", default="auto", choices=["auto", "exact", "quadrature", "ais"],
                   help="estimation method (default auto)")
    z.add_argument("--runs", type=int, default=256, help="AIS runs (default 256)")
    z.add_argument("--temperatures", type=int, default=1000, help="AIS temperatures (default 1000)")
    z.add_argument("--seed", type=int, default=0, help="AIS random seed (default 0)")
    _common(z)

    sc = sub.add_parser("score", help="write an anomaly score (free energy) for every row of a data file",
                        description="Score every row of a CSV/NPZ data file by its free energy F(x) (latents "
                                    "summed out; higher = less likely under the model) and write DIR/scores.csv "
                                    "(atomically) with one score per row, in the file's order.")
    sc.add_argument("file", help="the .ebm model file")
    sc.add_argument("--params", metavar="PARAMS.npz", help="params (default: the model's initial params)")
    sc.add_argument("--data", required=True, metavar="DATA.csv|npz", help="rows to score")
    sc.add_argument("--consts", metavar="CONSTS.json", help="JSON file binding the model's consts")
    sc.add_argument("--out", metavar="DIR", default="runs/score", help="output folder (default runs/score)")
    _common(sc)

    g = sub.add_parser("diagnose", help="diagnose MCMC draws: summary, warnings, figures and a report",
                       description="Read DIR/samples.nc (from `ebmppl sample`), print mean, sd, ESS and R-hat per "
                                   "element and plain-words warnings (divergences, R-hat, ESS, acceptance, tree "
                                   "depth, chains) with what to try, and write OUT/summary.csv, OUT/report.md and "
                                   "PNG figures (trace, rank, autocorrelation, forest, pair; energy for NUTS/HMC; "
                                   "the model's density with the draws for a 2-D continuous model). Exit 0, or 1 "
                                   "with --strict when a warning fires; 2 for a bad file.")
    g.add_argument("samples", help="the samples.nc file written by `ebmppl sample`")
    g.add_argument("--out", metavar="DIR", default=None, help="output folder (default: the samples file's folder)")
    g.add_argument("--strict", action="store_true", help="exit 1 if any warning fires")
    g.add_argument("--model", metavar="FILE.ebm", default=None,
                   help="the model, for the density figure (default: the model file recorded in the samples)")
    g.add_argument("--params", metavar="PARAMS.npz", default=None,
                   help="the params the draws used (default: those recorded in the samples, else initial)")
    g.add_argument("--data", metavar="CONSTS.json", default=None,
                   help="JSON file binding the model's consts (default: the consts stored in the samples)")
    g.add_argument("--max-vars", type=int, default=6, metavar="N",
                   help="scalar elements shown in the trace, rank, autocorrelation and pair plots (default 6; "
                        "with more elements, those with the lowest bulk ESS)")
    _common(g)

    d = sub.add_parser("demo", help="fit, sample and diagnose a bundled example (ring, or rbm)",
                       description="ring (default): fit examples/ring.ebm to examples/data/ring.csv by sliced score "
                                   "matching, sample it with MALA (4 chains), diagnose the draws, compute log Z by "
                                   "quadrature and write params, samples, summary, report and figures under "
                                   "runs/demo. rbm: fit examples/rbm.ebm to binarized 8x8 digits by persistent "
                                   "contrastive divergence and write sampled digits beside real ones under "
                                   "runs/demo-rbm. --examples instead checks every bundled example model.")
    d.add_argument("target", nargs="?", default="ring", choices=["ring", "rbm"], help="which demo (default ring)")
    d.add_argument("--out", metavar="DIR", default=None, help="output folder (default runs/demo or runs/demo-rbm)")
    d.add_argument("--examples", nargs="?", const="", default=None, metavar="DIR",
                   help="instead: check every example model in DIR (default: the bundled ones) and evaluate its "
                        "energy on its data")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    for opt in ("--steps", "--draws", "--warmup", "--thin", "--chains"):  # smaller runs for the tests
        d.add_argument(opt, type=int, default=None, help=argparse.SUPPRESS)
    _common(d)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return EXIT_USAGE_OR_MODEL
    from .config import config
    from .errors import EbmError
    if getattr(args, "x64", False):
        config(x64=True)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "fit":
            return cmd_fit(args)
        if args.command == "sample":
            return cmd_sample(args)
        if args.command == "logz":
            return cmd_logz(args)
        if args.command == "score":
            return cmd_score(args)
        if args.command == "diagnose":
            return cmd_diagnose(args)
        if args.command == "demo":
            from .demo import run_demo
            return run_demo(args.target, out=args.out, examples=args.examples, progress=not args.no_progress,
                            steps=args.steps, draws=args.draws, warmup=args.warmup, thin=args.thin,
                            chains=args.chains)
    except EbmError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE_OR_MODEL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE_OR_MODEL


def cmd_check(args) -> int:
    import ebmppl
    from .model.lower import lower
    from .model.summary import summary
    model = ebmppl.load(args.file, data=args.data)
    low = lower(model) if model.is_bound else None
    print(summary(model, low))
    print("ok")
    return EXIT_OK


def _parse_option(text: str):
    import json

    from .errors import EbmError
    if "=" not in text:
        raise EbmError("usage", f"--option '{text}' is not KEY=VALUE")
    k, v = text.split("=", 1)
    try:
        return k.strip(), json.loads(v)
    except json.JSONDecodeError:
        return k.strip(), v


def cmd_fit(args) -> int:
    from pathlib import Path

    import ebmppl
    from .training import fit
    from .io import atomic_write, save_params
    model = ebmppl.load(args.file, data=args.consts)
    out = Path(args.out)
    options = dict(_parse_option(o) for o in args.option)
    res = fit(model, args.data, method=args.method, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
              optimizer=args.optimizer, key=args.seed, val_frac=args.val_frac, patience=args.patience,
              checkpoint_dir=out / "checkpoints" if (args.checkpoint_every or args.resume) else None,
              checkpoint_every=args.checkpoint_every or (100 if args.resume else None), resume=args.resume,
              progress=not args.no_progress, clip_norm=args.clip_norm, average=args.average, **options)
    h = res.history
    final = {"loss": float(h["loss"][-1]) if len(h["loss"]) else None, "steps": int(len(h["loss"])),
             "stopped": res.stopped}
    if len(h["val_loss"]):
        final["val_loss"] = float(h["val_loss"][-1])
    if res.logz is not None:
        final["logz"] = res.logz
    save_params(out / "params.npz", model, res.params,
                {"method": res.method, "options": res.options, "final": final, "data": str(args.data)})
    cols = ["step", "loss", "grad_norm", "time"] + sorted(k for k in h if k not in
                                                           ("step", "loss", "grad_norm", "time", "val_step",
                                                            "val_loss") and len(h[k]) == len(h["step"]))
    rows = [",".join(cols)] + [",".join(f"{h[c][i]:.8g}" for c in cols) for i in range(len(h["step"]))]
    atomic_write(out / "history.csv", lambda tmp: Path(tmp).write_text("\n".join(rows) + "\n"))
    _loss_plot(out / "loss.png", h, res.method, model.name)
    loss = f"{final['loss']:.6g}" if final["loss"] is not None else "none"
    print(f"method {res.method}: {final['steps']} steps, final loss {loss}"
          + (f", log Z {res.logz:.4f}" if res.logz is not None else "") + f" ({res.stopped})")
    print(f"wrote {out / 'params.npz'}, {out / 'params.json'}, {out / 'history.csv'}, {out / 'loss.png'}")
    if not args.no_report:
        from .errors import EbmError
        from .report import fit_report
        try:  # the fit is saved already: a report that cannot be made is a warning, not a failed fit
            rep = fit_report(model, res, args.data, out, key=args.seed)
        except EbmError as e:
            print(f"warning: no training report:\n{e.render()}", file=sys.stderr)
        else:
            print(f"report: MMD {rep.mmd:.4g}, p-value {rep.p_value:.3f} ({rep.n_samples} model draws vs "
                  f"{rep.n_data} data rows); wrote {out / 'fit-report.md'}")
    if res.stopped.startswith("stopped at step"):  # a non-finite loss: the params written are the last good ones
        return EXIT_NUMERIC
    return EXIT_OK


def _loss_plot(path, h, method, name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_write
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(h["step"], h["loss"], lw=0.8, label="training loss")
    if len(h["val_loss"]):
        ax.plot(h["val_step"], h["val_loss"], "o-", ms=3, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{name}: {method}")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _params(args, model) -> dict:
    """The params file given with --params, else the model's initial params."""
    from .io import load_params
    if args.params:
        return load_params(args.params, model)
    return model.init_params(0) if model.params else {}


def cmd_logz(args) -> int:
    import json
    from pathlib import Path

    import ebmppl
    model = ebmppl.load(args.file, data=args.data)
    params = _params(args, model)
    opts = {"runs": args.runs, "temperatures": args.temperatures, "key": args.seed} \
        if args.method in ("ais", "auto") else {}
    if args.method == "auto":
        opts = {} if all(s.domain.discrete for s in model.random) else opts
    r = ebmppl.logz(model, params, method=args.method, **opts)
    print(f"log Z = {r.value:.6f} +/- {r.stderr:.2g}  ({r.method}: {r.detail})")
    if args.params:
        side = Path(args.params).with_suffix(".json")
        meta = json.loads(side.read_text()) if side.exists() else {}
        nce = (meta.get("final") or {}).get("logz")
        if nce is not None:
            print(f"NCE's learned log Z = {nce:.6f}  (difference {nce - r.value:+.4f})")
    return EXIT_OK


def cmd_score(args) -> int:
    from pathlib import Path

    import ebmppl
    from .io import atomic_write, read_data
    from .partition import anomaly_score
    model = ebmppl.load(args.file, data=args.consts)
    params = _params(args, model)
    rows = read_data(args.data, model)
    scores = anomaly_score(model, params, rows)
    out = Path(args.out) / "scores.csv"
    atomic_write(out, lambda tmp: Path(tmp).write_text("row,score\n" + "".join(
        f"{i},{s:.8g}\n" for i, s in enumerate(scores))))
    print(f"scored {len(scores)} rows (mean {scores.mean():.4g}, max {scores.max():.4g}); wrote {out}")
    return EXIT_OK


def cmd_sample(args) -> int:
    from pathlib import Path

    import ebmppl
    from . import diagnostics
    from .errors import EbmError
    from .infer import sample
    from .io import load_params
    if args.chains < 1 or args.draws < 1 or args.warmup < 0 or args.thin < 1:
        raise EbmError("usage", "--chains, --draws and --thin must be positive, --warmup non-negative")
    model = ebmppl.load(args.file, data=args.data)
    params = load_params(args.params, model) if args.params else None
    if params is None and model.params:
        print("note: no --params given: sampling at the model's initial params", file=sys.stderr)
    import warnings
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
    from pathlib import Path

    from . import diagnostics
    from .errors import EbmError
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
    from pathlib import Path

    import ebmppl
    from . import diagnostics
    from .errors import EbmError
    from .io import load_params
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
        model = ebmppl.load(path)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
