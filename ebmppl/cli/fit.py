"""``ebmppl fit``: train, then write what the run reached — never params that are not finite or lie outside
their domain, never a partial set of files, and after Ctrl-C the params and history reached, marked as
interrupted, with the command that resumes the run.

Exit codes: 0 the run ended as asked; 1 it stopped on a non-finite loss (the last finite params are written)
or its params are not usable (none are written); 130 interrupted.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from .. import plots
from ..errors import EbmError
from ..io import atomic_write, check_params, read_data
from ..model.source import load
from .outdir import OutDir, output_folder
from .signals import EXIT_INTERRUPTED
from .talk import fit_result

EXIT_OK, EXIT_NUMERIC = 0, 1


def cmd_fit(args, ctx) -> int:
    from ..training import fit
    resume = bool(args.resume)
    with output_folder(args.out, "fit", overwrite=args.overwrite, own=resume,
                       keep=("checkpoints",) if resume else ()) as out:
        model = load(args.file, data=args.consts)
        data = read_data(args.data, model)
        out.check_free({"--data": args.data, "--consts": args.consts, "the model": args.file})
        if args.checkpoint_every and not resume:  # this run's checkpoints must not mix with an earlier run's
            out.claim(only=("checkpoints",))
        res = fit(model, data, method=args.method, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  optimizer=args.optimizer, key=args.seed, val_frac=args.val_frac, patience=args.patience,
                  checkpoint_dir=out / "checkpoints" if (args.checkpoint_every or resume) else None,
                  checkpoint_every=args.checkpoint_every or (100 if resume else None), resume=resume,
                  progress=not (args.no_progress or args.quiet), clip_norm=args.clip_norm, average=args.average,
                  **args.method_options)
        if res.interrupted:
            return _interrupted(args, ctx, out, model, res)
        usable = _unusable(model, res) is None
        with ctx.interrupts.writing_results():
            out.claim()
            final = _write_fit(out, model, res, args.data, params=usable, figure=True)
        _said(res, final, out, params=usable)
        fit_result(ctx.result, res, final, out.path, params=usable)
        if not usable or res.failure is not None:
            return _failed(args, out, model, res)
        if not args.no_report:
            return _fit_report(model, res, data, out, args.seed, ctx.interrupts)
        return EXIT_OK


def _unusable(model, res):
    """Why the fitted params must not be written (not finite, or outside a param's domain), or None.

    The loop says so (``params_usable``); the params are checked here again by the domain table's test, since
    a params file that ebmppl refuses to load must never be written."""
    if not res.params_usable:
        return res.failure or res.stopped
    try:
        check_params(model, res.params, shapes=False)
    except EbmError as e:
        return f"the fitted params are not usable: {e.message}"
    return None


def _write_fit(out: OutDir, model, res, data, params: bool, figure: bool, extra=None) -> dict:
    """The saved fit (:func:`ebmppl.training.saved.write_fit`: params.npz, extras.npz and params.json when
    ``params``, history.npz), history.csv and loss.png (when ``figure``) under ``out``; the final numbers
    recorded. Every file is written atomically, and if the writing stops (an error, a second
    Ctrl-C) the files of this run already written are removed: the folder never holds part of a result."""
    h = res.history
    final = {"loss": float(h["loss"][-1]) if len(h["loss"]) else None, "steps": int(res.steps_done),
             "stopped": res.stopped, **(extra or {})}
    if len(h["val_loss"]):
        final["val_loss"] = float(h["val_loss"][-1])
    if res.logz is not None:
        final["logz"] = res.logz
    from ..training.saved import EXTRAS, HISTORY, PARAMS, write_fit
    written = [out / HISTORY] + ([out / EXTRAS, out / PARAMS, out / "params.json"] if params else [])
    try:
        write_fit(res, out.path, data=str(data), final=final, params=params)
        written.append(out / "history.csv")
        atomic_write(out / "history.csv", lambda tmp: Path(tmp).write_text(_history_csv(h)))
        if figure:
            written.append(out / "loss.png")
            plots.loss_curve(out / "loss.png", h, res.method, model.name)
    except BaseException as e:
        for p in written:
            p.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise EbmError("output", f"cannot write the results in '{out}': {e.strerror or e}",
                           hint="check the folder's space and permissions, then run again") from None
        raise
    return final


def _history_csv(h: dict) -> str:
    cols = ["step", "loss", "grad_norm", "time"] + sorted(k for k in h if k not in
                                                           ("step", "loss", "grad_norm", "time", "val_step",
                                                            "val_loss") and len(h[k]) == len(h["step"]))
    rows = [",".join(cols)] + [",".join(f"{h[c][i]:.8g}" for c in cols) for i in range(len(h["step"]))]
    return "\n".join(rows) + "\n"


def _said(res, final: dict, out: OutDir, params: bool) -> None:
    loss = f"{final['loss']:.6g}" if final["loss"] is not None else "none"
    print(f"method {res.method}: {final['steps']} steps, final loss {loss}"
          + (f", log Z {res.logz:.4f}" if res.logz is not None else "") + f" ({res.stopped})")
    if params:
        print(res.param_table)
    extras = ["extras.npz"] if _has_extras(res) else []
    names = (["params.npz", "params.json"] + extras if params else []) + ["history.npz", "history.csv", "loss.png"]
    print("wrote " + ", ".join(str(out / n) for n in names))


def _has_extras(res) -> bool:
    """Whether the method left trained values or carried state (saved as extras.npz)."""
    import jax
    return bool(jax.tree_util.tree_leaves((res.extra, res.state)))


def _failed(args, out: OutDir, model, res) -> int:
    """A run that did not end well: what happened, what was written and what to try; exit 1."""
    why = _unusable(model, res)
    if why is not None:
        wrote = f"no params written (only {out / 'history.csv'} and {out / 'loss.png'})"
        what = why
    else:
        wrote = f"wrote the last finite params to {out / 'params.npz'}"
        what = res.failure
    hint = (f"try a smaller --lr (now {args.lr:g}), or --clip-norm 1 to bound each step"
            + ("" if args.clip_norm is None else f" (now {args.clip_norm:g}: try a smaller one)"))
    print(EbmError("fit", f"{what}; {wrote}", hint=hint).render(), file=sys.stderr)
    return EXIT_NUMERIC


def _interrupted(args, ctx, out: OutDir, model, res) -> int:
    """After Ctrl-C: the params and history reached (marked as interrupted), and how to resume; exit 130."""
    done, why = int(res.steps_done), _unusable(model, res)
    print(f"\ninterrupted at step {done} of {args.steps}", file=sys.stderr)
    if done > 0:
        with ctx.interrupts.writing_results():
            out.claim()
            _write_fit(out, model, res, args.data, params=why is None, figure=False,
                       extra={"interrupted": True, "interrupted_at": done, "of": args.steps})
        print(f"wrote the params reached to {out / 'params.npz'} (params.json records 'interrupted at step "
              f"{done}') and {out / 'history.csv'}" if why is None else f"no params written ({why})",
              file=sys.stderr)
    else:
        print("no step was done: nothing written", file=sys.stderr)
    if (out / "checkpoints" / "state.json").is_file():
        print(f"to continue from the last checkpoint: {resume_command(ctx.argv)}", file=sys.stderr)
    else:
        print("no checkpoint was written: to be able to resume an interrupted run, pass --checkpoint-every N",
              file=sys.stderr)
    return EXIT_INTERRUPTED


def resume_command(argv) -> str:
    """The command line that resumes the run of ``argv`` (``--resume`` added, ``--overwrite`` dropped)."""
    words = [a for a in argv if a != "--overwrite"]
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(["ebmppl", *words])


def _fit_report(model, res, data, out: OutDir, seed, interrupts) -> int:
    """The training report; the fit is written already, so a report that cannot be made is a warning, and
    Ctrl-C during it leaves the fit and removes the report's files."""
    from ..report import fit_report
    try:
        rep = fit_report(model, res, data, out.path, key=seed)
    except (KeyboardInterrupt, Exception) as e:
        if not (interrupts.seen or isinstance(e, KeyboardInterrupt)):
            if not isinstance(e, EbmError):
                raise
            print(f"warning: no training report:\n{e.render()}", file=sys.stderr)
            return EXIT_OK
        for p in out.path.glob("fit-report*"):  # an interrupt, however it came back (a JAX callback's error)
            p.unlink(missing_ok=True)
        print("interrupted while making the training report: the fit is written, the report is not",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"report: MMD {rep.mmd:.4g}, p-value {rep.p_value:.3f} ({rep.n_samples} model draws vs "
          f"{rep.n_data} data rows); wrote {out / 'fit-report.md'}")
    return EXIT_OK
