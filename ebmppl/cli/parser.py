"""The command line's argument parser: one function a command, in the order ``ebmppl --help`` lists them.

argparse's own errors (an unknown option, a value of the wrong type, an invalid choice) are ``error[usage]``
like every other: :class:`Parser` raises them as an :class:`~ebmppl.errors.EbmError`, and ``main`` prints
it and returns 2. The numbers' ranges are checked after parsing, by :mod:`ebmppl.cli.options`.
"""

from __future__ import annotations

import argparse

from ..errors import EbmError
from . import choices
from .launch import add_options as _distributed_options, add_parser as _add_launch

EXIT_CODES = """exit codes:
  0    done
  1    fit stopped on a non-finite loss (the last finite params are written) or its params are not usable
       (none are written); diagnose --strict found a warning
  2    a usage, model, data or output error (error[KIND] on stderr): nothing is written
  130  interrupted (Ctrl-C or SIGTERM): fit first writes the params reached, marked as interrupted"""


SEED_HELP = "random seed, a whole number from 0 to 4294967295 (default 0)"


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors raised as ``error[usage]``."""

    def error(self, message):
        raise EbmError("usage", message, hint=f"run `{self.prog} --help` for the options")


def _overwrite(p: argparse.ArgumentParser):
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in the output folder (default: refuse)")


def _common(p: argparse.ArgumentParser):
    """The options every command has: float64, how much it says, and a JSON result line."""
    p.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")
    talk = p.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bars, notes or warnings on stderr (errors and results still print)")
    talk.add_argument("-v", "--verbose", action="store_true",
                      help="also say what was chosen and how long compiling and running took")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON line on stdout (the human-readable text goes to stderr)")


def _model_args(p: argparse.ArgumentParser, params=None):
    """The model file, its params (when ``params`` names them) and its consts file, as most commands take them."""
    p.add_argument("file", help="the .ebm model file")
    if params:
        p.add_argument("--params", metavar="PARAMS.npz", help=f"{params} (default: the model's initial params)")
    _consts(p)


def _consts(p: argparse.ArgumentParser, default_help: str = ""):
    """``--consts``, and ``--data``: its old name on the commands whose ``--data`` meant consts (a note says so)."""
    p.add_argument("--consts", metavar="CONSTS.json", default=None,
                   help="JSON file binding the model's consts" + default_help)
    p.add_argument("--data", metavar="CONSTS.json", default=None,
                   help="deprecated: the old name of --consts (in fit and score, --data names the training rows)")


def _add_check(sub):
    c = sub.add_parser("check", help="parse and check a .ebm model; print its summary",
                       description="Parse and check a .ebm model and print a summary: variables, params, "
                                   "consts, factors and how the free energy is computed. Exit 0 if the model "
                                   "is valid, 2 with the error otherwise.")
    _model_args(c, params=None)
    _common(c)


def _add_sample(sub):
    s = sub.add_parser("sample", help="draw MCMC chains from a model; write samples.nc and print a summary",
                       description="Sample a model's vars and latents at fixed params with NUTS, HMC, MALA, ULA, "
                                   "random-walk Metropolis, block Gibbs or Gibbs-with-gradients. Writes "
                                   "DIR/samples.nc (ArviZ netCDF, written atomically) and prints mean, sd, R-hat "
                                   "and ESS per variable.")
    _model_args(s, params="fitted params")
    s.add_argument("--sampler", default="auto", choices=choices.SAMPLERS, help="the sampler (default: auto)")
    s.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    s.add_argument("--draws", type=int, default=1000, help="draws kept per chain (default 1000)")
    s.add_argument("--warmup", type=int, default=1000, help="warmup steps per chain (default 1000)")
    s.add_argument("--thin", type=int, default=1, help="keep every THIN-th draw (default 1)")
    s.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    s.add_argument("--step-size", type=float, default=None,
                   help="the initial step size (adapted during warmup; ULA's fixed step); default: the sampler's")
    s.add_argument("--target-accept", type=float, default=None,
                   help="the acceptance rate warmup adapts the step size toward, e.g. 0.9 (default: the sampler's); "
                        "raise it when NUTS reports divergences")
    s.add_argument("--adapt-mass", action=argparse.BooleanOptionalAction, default=None,
                   help="learn a diagonal mass matrix during warmup (default: on)")
    s.add_argument("--temperatures", type=int, default=None,
                   help="--sampler pt: the number of replicas (default 8)")
    s.add_argument("--max-temperature", type=float, default=None,
                   help="--sampler pt: the hottest replica's temperature (default 10)")
    s.add_argument("--chain-method", default="vectorized", choices=["vectorized", "parallel", "sequential"],
                   help="how chains run: vectorized on one device (default), parallel over devices, sequential")
    s.add_argument("--out", metavar="DIR", default="runs/sample", help="output folder (default runs/sample)")
    _predictive(s, None)
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _distributed_options(s)
    _overwrite(s)
    _common(s)


def _add_fit(sub):
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
    f.add_argument("--method", default="auto", choices=choices.FIT_METHODS, help="training method (default: auto)")
    f.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    f.add_argument("--batch-size", type=int, default=256, help="minibatch size (default 256)")
    f.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    f.add_argument("--optimizer", default="adam", choices=choices.OPTIMIZERS, help="optimizer (default adam)")
    f.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    f.add_argument("--val-frac", type=float, default=0.0, help="fraction of rows held out for validation")
    f.add_argument("--patience", type=int, default=None, help="early stopping after this many checks "
                                                                 "without validation improvement")
    f.add_argument("--clip-norm", type=float, default=None, help="clip gradients to this global norm")
    f.add_argument("--average", type=float, default=None, metavar="DECAY",
                   help="return a moving average of the iterates (Polyak averaging), e.g. 0.99")
    f.add_argument("--checkpoint-every", type=int, default=None, help="checkpoint every N steps")
    f.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoints (this run's earlier files in DIR are replaced)")
    f.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. --option k=5 --option sigma=0.1 (repeatable)")
    f.add_argument("--out", metavar="DIR", default="runs/fit", help="output folder (default runs/fit)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    f.add_argument("--no-report", action="store_true",
                   help="skip the training report (fit-report.md, fit-report-*.png)")
    _overwrite(f)
    _common(f)


def _add_logz(sub):
    z = sub.add_parser("logz", help="estimate a model's log partition function",
                       description="Estimate log Z at the given params: exact enumeration (discrete models, with "
                                   "analytic sums over variables the energy is affine in), quadrature (1-2 "
                                   "continuous dimensions), annealed importance sampling, or auto (the cheapest "
                                   "exact method that applies, else AIS). Prints the value, its standard error "
                                   "and how it was computed; with a params file from `ebmppl fit --method nce` "
                                   "also NCE's learned log Z.")
    _model_args(z, params="params")
    z.add_argument("--method", default="auto", choices=choices.LOGZ_METHODS,
                   help="estimation method (default auto)")
    z.add_argument("--runs", type=int, default=256, help="AIS runs (default 256)")
    z.add_argument("--temperatures", type=int, default=1000, help="AIS temperatures (default 1000)")
    z.add_argument("--seed", type=int, default=0, help="AIS " + SEED_HELP)
    _common(z)


def _add_score(sub):
    sc = sub.add_parser("score", help="write an anomaly score (free energy) for every row of a data file",
                        description="Score every row of a CSV/NPZ data file by its free energy F(x) (latents "
                                    "summed out; higher = less likely under the model) and write DIR/scores.csv "
                                    "(atomically) with one score per row, in the file's order; when log Z is "
                                    "known, also the log density log p(x) = -F(x) - log Z (higher = more likely).")
    sc.add_argument("file", help="the .ebm model file")
    sc.add_argument("--params", metavar="PARAMS.npz", help="params (default: the model's initial params)")
    sc.add_argument("--data", required=True, metavar="DATA.csv|npz", help="rows to score")
    sc.add_argument("--consts", metavar="CONSTS.json", help="JSON file binding the model's consts")
    sc.add_argument("--out", metavar="DIR", default="runs/score", help="output folder (default runs/score)")
    sc.add_argument("--ksd", action="store_true",
                    help="also test the fit: the kernel Stein discrepancy of the model against the rows, with a "
                         "wild-bootstrap p-value (real-valued vars only); written to DIR/ksd.json")
    sc.add_argument("--seed", type=int, default=0, help=SEED_HELP + " (--ksd: the bootstrap's weights)")
    sc.add_argument("--logz", default="auto", choices=choices.SCORE_LOGZ,
                    help="where log Z comes from for the log_density column (log p(x) = -F(x) - log Z; higher = "
                         "more normal, scikit-learn's score_samples sign): auto (default: NCE's learned log Z in "
                         "the params file, else exact enumeration or quadrature when they apply, else no column), "
                         "nce, exact, quadrature, ais (--seed) or none")
    _overwrite(sc)
    _common(sc)


def _predictive(p: argparse.ArgumentParser, default):
    """``--predictive WHICH``: bare on ``sample`` (posterior), a choice with a default on ``predict``."""
    nargs = {"nargs": "?", "const": "posterior"} if default is None else {}
    bare = "; a bare --predictive: posterior" if default is None else f" (default {default})"
    p.add_argument("--predictive", default=default, choices=["posterior", "prior", "both"], **nargs,
                   help=f"draw the observed consts: posterior (group posterior_predictive), prior (groups prior "
                        f"and prior_predictive; every var needs its prior by `~`) or both{bare}")


def _add_predict(sub):
    p = sub.add_parser("predict", help="add predictive draws of the observed consts to a samples.nc",
                       description="Read SAMPLES.nc (from `ebmppl sample`) and the model it came from; draw each "
                                   "observed const (`y ~ dist(...)` on a const) at every posterior draw "
                                   "(posterior_predictive) and/or from the prior (prior, prior_predictive); write "
                                   "DIR/samples.nc with these groups added to the draws, observed_data and "
                                   "log_likelihood.")
    p.add_argument("file", help="the .ebm model file the draws came from")
    p.add_argument("samples", help="the samples.nc file written by `ebmppl sample`")
    p.add_argument("--params", metavar="PARAMS.npz", default=None,
                   help="the params the draws used (default: those recorded in the samples, else initial)")
    _consts(p, " (default: the consts stored in the samples)")
    _predictive(p, "posterior")
    p.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    p.add_argument("--out", metavar="DIR", default="runs/predict", help="output folder (default runs/predict)")
    _overwrite(p)
    _common(p)


def _add_diagnose(sub):
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
    _consts(g, " (default: the consts stored in the samples)")
    g.add_argument("--no-figures", action="store_true",
                   help="write only summary.csv and report.md, no figures (the figures take most of the time)")
    g.add_argument("--max-vars", type=int, default=6, metavar="N",
                   help="scalar elements shown in the trace, rank, autocorrelation and pair plots (default 6; "
                        "with more elements, those with the lowest bulk ESS)")
    _overwrite(g)
    _common(g)


def _add_demo(sub):
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
    _overwrite(d)
    _common(d)


SUBCOMMANDS = (_add_check, _add_sample, _add_predict, _add_fit, _add_logz, _add_score, _add_diagnose, _add_demo,
               _add_launch)


def build_parser() -> argparse.ArgumentParser:
    """``ebmppl``'s parser: ``--version`` and one subcommand a command (``args.command``)."""
    from .. import __version__
    ap = Parser(
        prog="ebmppl", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="ebmppl: declare, fit, sample and evaluate energy-based models.",
        epilog="Run `ebmppl COMMAND --help` for the options of a command.\n\n" + EXIT_CODES)
    ap.add_argument("--version", action="version", version=f"ebmppl {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return ap
