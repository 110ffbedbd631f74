"""``ebmppl predict``: predictive draws of a model's observed consts added to a samples file; and the LOO
lines ``ebmppl diagnose`` prints for draws with a ``log_likelihood`` group."""

from __future__ import annotations

import sys

from .. import diagnostics
from ..io import load_params
from ..model.source import load
from .fit import EXIT_OK
from .outdir import output_folder

WHICH = {"posterior": dict(posterior=True, prior=False), "prior": dict(posterior=False, prior=True),
         "both": dict(posterior=True, prior=True)}
"""``--predictive WHICH`` -> the groups :func:`ebmppl.predict` adds."""


def cmd_predict(args, ctx) -> int:
    from ..infer.predictive import predict
    from .commands import _write_samples
    # the folder holds what `sample` writes (samples.nc): checked and locked as sample's
    with output_folder(args.out, "sample", overwrite=args.overwrite) as out:
        idata = diagnostics.read_samples(args.samples)
        model = load(args.file, data=args.consts)
        if model.consts and not model.is_bound:
            model = model.bind(diagnostics.consts_of(idata))
        params_file = args.params or idata.posterior.attrs.get("params_file")
        params = load_params(params_file, model) if params_file else None
        out.check_free({"the samples": args.samples, "--params": args.params, "--consts": args.consts,
                        "the model": args.file})
        idata = predict(model, idata, params=params, key=args.seed, **WHICH[args.predictive])
        path = out / "samples.nc"
        with ctx.interrupts.writing_results():
            out.claim()
            _write_samples(idata, path)
    added = [g for g in ("prior", "prior_predictive", "posterior_predictive") if g in idata.groups()]
    print(f"added {', '.join(added)} to the draws; wrote {path}")
    ctx.result.update(groups=list(idata.groups()), files=[str(path)])
    return EXIT_OK


def sample_predictive(args, model, params, idata):
    """``ebmppl sample --predictive WHICH``: the draws with the predictive groups added."""
    from ..infer.predictive import predict
    if params is None and model.params:
        params = model.init_params(0)  # sample() already warned that the draws use the initial params
    return predict(model, idata, params=params, key=args.seed, **WHICH[args.predictive])


def report_loo(idata, ctx) -> None:
    """Print PSIS-LOO (elpd_loo, se, p_loo, Pareto-k counts; a warning for k > 0.7) when the draws have a
    ``log_likelihood`` group."""
    if "log_likelihood" not in idata.groups():
        return
    text, warning, r = diagnostics.loo_text(idata)
    print(text)
    ctx.result["loo"] = {"elpd_loo": float(r.elpd_loo), "se": float(r.se), "p_loo": float(r.p_loo),
                         "n_observations": int(r.n_data_points)}
    if warning:
        print(warning, file=sys.stderr)
        ctx.result.setdefault("warnings", []).append(warning)

