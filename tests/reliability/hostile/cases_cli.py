"""Hostile command lines: every numeric option outside its range (refused before any file is read or written),
``--option`` keys and values that are not method options, argparse's own errors, output folders that are files,
unwritable, locked by another run or holding an earlier run's results, and fits whose params are not usable.

An option case names a model and a data file that do not exist: the option must be refused first, so the
error is ``error[usage]`` naming the option, not a missing file, and no output folder is created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .harness import Case, Result

RING = "var x : real[2]\nparam r : positive = 1.0\nfactor f = (norm(x) - r)^2\n"
SCALAR = "var y : real\nparam a : real = 0.0\nfactor f = (y - a)^2\n"
GAUSS = "var x : real\nx ~ normal(0, 1)\n"
_ROWS = [(1.0, 0.1), (0.0, -0.9), (-0.8, 0.5), (0.6, 0.7), (-0.3, -0.95), (0.9, -0.4), (0.2, 1.1), (-1.0, 0.0)]
CSV = "x[0],x[1]\n" + "".join(f"{a},{b}\n" for a, b in _ROWS)
F = {"m.ebm": RING, "d.csv": CSV}

FIT = ("fit", "m.ebm", "--data", "d.csv", "--steps", "5", "--out", "{dir}/o", "--no-progress", "--no-report")
SAMPLE = ("sample", "m.ebm", "--draws", "20", "--warmup", "20", "--chains", "1", "--out", "{dir}/o",
          "--no-progress")
SCORE = ("score", "m.ebm", "--data", "d.csv", "--out", "{dir}/o")
# the files do not exist: an option must be refused before they are looked at
NO_FIT = ("fit", "missing.ebm", "--data", "missing.csv", "--steps", "5", "--out", "{dir}/o", "--no-progress")
NO_SAMPLE = ("sample", "missing.ebm", "--out", "{dir}/o", "--no-progress")
NO_LOGZ = ("logz", "missing.ebm")
NO_DIAGNOSE = ("diagnose", "missing.nc", "--out", "{dir}/o")
NO_DEMO = ("demo", "--out", "{dir}/o", "--no-progress")


# ---------------------------------------------------------------- checks
def _no_temp(res: Result) -> None:
    left = [p for p in res.dir.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".ebmppl")]
    assert not left, left


def _no_out(res: Result) -> None:
    """Nothing written: no output folder (not even an empty one), no temporary or lock file."""
    assert not (res.dir / "o").exists(), sorted(p.name for p in (res.dir / "o").rglob("*"))
    _no_temp(res)


def _names(value: str):
    """The value must be named in the message too."""
    def check(res: Result) -> None:
        assert value.lower() in res.err.lower(), f"the value {value!r} is not named:\n{res.err}"
        _no_out(res)
    return check


def opt(id, argv, flag, shown, *more) -> Case:
    """An option outside its range: ``error[usage]`` naming ``flag`` and the value, before any file is read."""
    return Case(id, tuple(argv) + (flag, *more), {}, kind="usage", phrase=f"{flag} must be", check=_names(shown))


def option(id, value, phrase, method=None) -> Case:
    """A bad ``--option``: ``error[usage]`` before the model is read."""
    argv = NO_FIT + (("--method", method) if method else ()) + ("--option", value)
    return Case(id, argv, {}, kind="usage", phrase=phrase, check=_no_out)


def _earlier(files: dict):
    """An earlier run's results in {dir}/o."""
    def setup(d: Path) -> None:
        (d / "o").mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (d / "o" / name).write_text(text)
    return setup


def _kept(files: dict, only=True):
    """The earlier run's files are still there, byte for byte (and, with ``only``, nothing else is)."""
    def check(res: Result) -> None:
        for name, text in files.items():
            assert (res.dir / "o" / name).read_text() == text, name
        if only:
            assert sorted(p.name for p in (res.dir / "o").iterdir()) == sorted(files)
        _no_temp(res)
    return check


def _lock(pid):
    def setup(d: Path) -> None:
        (d / "o").mkdir(parents=True, exist_ok=True)
        (d / "o" / ".ebmppl.lock").write_text(f"{pid}\n" if pid is not None else "")
        os.utime(d / "o" / ".ebmppl.lock", (1, 1))  # an old lock: only its pid may keep it
    return setup


def _dead_pid(d: Path) -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _stale_lock(d: Path) -> None:
    _lock(_dead_pid(d))(d)


def _lock_kept(res: Result) -> None:
    assert (res.dir / "o" / ".ebmppl.lock").read_text().strip() == str(os.getppid())
    assert not (res.dir / "o" / "params.npz").exists()


def _fitted_alone(res: Result) -> None:
    """A fit succeeded: params and history written, no lock left."""
    o = res.dir / "o"
    assert (o / "params.npz").is_file() and (o / "history.csv").is_file()
    assert not (o / ".ebmppl.lock").exists()
    _no_temp(res)


def _fresh_results(res: Result) -> None:
    """--overwrite: the earlier run's files are gone (its report too, with --no-report), the new params are there."""
    o = res.dir / "o"
    assert not (o / "fit-report.md").exists() and not (o / "fit-report-training.png").exists()
    meta = json.loads((o / "params.json").read_text())
    assert meta.get("fingerprint"), meta
    assert (o / "notes.txt").read_text() == "mine\n"  # not a result: left alone
    _no_temp(res)


def _file_kept(name: str, text: str):
    def check(res: Result) -> None:
        assert (res.dir / name).read_text() == text
        _no_temp(res)
    return check


def _fit_then(*argv):
    """An earlier `ebmppl fit` (with checkpoints) into {dir}/o."""
    def setup(d: Path) -> None:
        import contextlib
        import io
        from ebmppl.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            rc = main(["fit", str(d / "m.ebm"), "--data", str(d / "d.csv"), "--steps", "5", "--out", str(d / "o"),
                       "--no-progress", "--no-report", "--checkpoint-every", "5", *argv])
        assert rc == 0, err.getvalue()
    return setup


def _checkpoints_of_seed(seed: int):
    def check(res: Result) -> None:
        state = json.loads((res.dir / "o" / "checkpoints" / "state.json").read_text())
        assert state["record"]["loop"]["seed"] == seed, state["record"]
        _fitted_alone(res)
    return check


def _stopped(res: Result) -> None:
    """A non-finite loss: the last finite params written, marked as stopped, exit 1."""
    meta = json.loads((res.dir / "o" / "params.json").read_text())
    assert "stopped at step" in json.dumps(meta), meta
    _no_temp(res)


def _no_params(res: Result) -> None:
    assert not (res.dir / "o" / "params.npz").exists() and not (res.dir / "o" / "params.json").exists()
    _no_temp(res)


def _samples_beside_params(res: Result) -> None:
    o = res.dir / "o"
    assert (o / "samples.nc").is_file() and (o / "params.npz").is_file()
    _no_temp(res)


def _earlier_samples(d: Path) -> None:
    (d / "o").mkdir()
    (d / "o" / "samples.nc").write_bytes(b"earlier draws")


def _replaced_samples(res: Result) -> None:
    assert (res.dir / "o" / "samples.nc").read_bytes()[:4] != b"earl"
    _no_temp(res)


def _symlink(target: str, name: str = "o"):
    return lambda d: os.symlink(d / target, d / name)


def _help_exit_codes(res: Result) -> None:
    for code in ("0", "1", "2", "130"):
        assert f"\n  {code} " in res.out or f" {code}:" in res.out or f"{code} " in res.out
    assert "interrupted" in res.out


def _params_with(extra: dict):
    """Good params of m.ebm in {dir}/p, their sidecar carrying ``extra``."""
    def setup(d: Path) -> None:
        import numpy as np
        import ebmppl
        from ebmppl.io import save_params
        save_params(d / "p" / "params.npz", ebmppl.load(d / "m.ebm"), {"r": np.float32(1.0)}, extra)
    return setup


CASES = [
    # ---- fit: every numeric option, refused before the model or the data is read
    opt("cli-fit-lr-nan", NO_FIT, "--lr", "nan", "nan"),
    opt("cli-fit-lr-inf", NO_FIT, "--lr", "inf", "inf"),
    opt("cli-fit-lr-zero", NO_FIT, "--lr", "0.0", "0"),
    opt("cli-fit-lr-negative", NO_FIT, "--lr", "-0.1", "-0.1"),
    opt("cli-fit-lr-huge", NO_FIT, "--lr", "1e+30", "1e30"),
    opt("cli-fit-average-one", NO_FIT, "--average", "1.0", "1"),
    opt("cli-fit-average-negative", NO_FIT, "--average", "-0.5", "-0.5"),
    opt("cli-fit-average-nan", NO_FIT, "--average", "nan", "nan"),
    opt("cli-fit-clip-norm-zero", NO_FIT, "--clip-norm", "0.0", "0"),
    opt("cli-fit-clip-norm-nan", NO_FIT, "--clip-norm", "nan", "nan"),
    opt("cli-fit-patience-zero", NO_FIT, "--patience", "0", "0"),
    opt("cli-fit-patience-negative", NO_FIT, "--patience", "-3", "-3"),
    opt("cli-fit-checkpoint-every-zero", NO_FIT, "--checkpoint-every", "0", "0"),
    opt("cli-fit-batch-size-zero", NO_FIT, "--batch-size", "0", "0"),
    opt("cli-fit-val-frac-one", NO_FIT, "--val-frac", "1.0", "1"),
    opt("cli-fit-val-frac-negative", NO_FIT, "--val-frac", "-0.1", "-0.1"),
    opt("cli-fit-val-frac-nan", NO_FIT, "--val-frac", "nan", "nan"),
    opt("cli-fit-steps-zero", NO_FIT, "--steps", "0", "0"),
    opt("cli-fit-steps-beyond-int32", NO_FIT, "--steps", "99999999999", "99999999999"),
    opt("cli-fit-seed-overflows", NO_FIT, "--seed", "99999999999999999999", "99999999999999999999"),
    opt("cli-fit-seed-2-to-the-32", NO_FIT, "--seed", "4294967296", "4294967296"),
    opt("cli-fit-seed-negative", NO_FIT, "--seed", "-1", "-1"),
    # ---- fit --option: keys of fit itself, keys no method has, values that are not literals
    option("cli-option-duplicates-steps", "steps=5", "use --steps"),
    option("cli-option-duplicates-lr", "lr=0.1", "use --lr"),
    option("cli-option-duplicates-batch-size", "batch_size=3", "use --batch-size"),
    option("cli-option-fit-keyword-chunk", "chunk=3", "'chunk'"),
    option("cli-option-unknown-to-every-method", "bogus=1", "no method has an option 'bogus'"),
    option("cli-option-unknown-to-the-method", "k=2", "method 'ssm' has no option 'k'", method="ssm"),
    option("cli-option-sm-has-no-options", "n_projections=2", "method 'sm' has no option", method="sm"),
    option("cli-option-not-key-value", "k", "KEY=VALUE"),
    option("cli-option-empty-key", "=5", "KEY=VALUE"),
    option("cli-option-expression-value", "k=1+1", "not a literal"),
    option("cli-option-code-value", "k=__import__('os')", "not a literal"),
    option("cli-option-nan-value", "sigma=NaN", "not a finite number", method="dsm"),
    option("cli-option-overflowing-value", "nu=1e400", "not a finite number", method="nce"),
    option("cli-option-value-outside-domain", "n_projections=0", "n_projections", method="ssm"),
    option("cli-option-word-for-a-number", "k=five", "'five'", method="cd"),
    Case("cli-option-given-twice", NO_FIT + ("--method", "cd", "--option", "k=2", "--option", "k=3"), {},
         kind="usage", phrase="given twice", check=_no_out),
    option("cli-option-object-value", 'k={"a":1}', "not a literal", method="cd"),
    # ---- legal values at the edges pass the table: the missing model file is the error then
    Case("cli-option-name-value-accepted", NO_FIT + ("--method", "ssm", "--option", "projection=gaussian"), {},
         kind="io", phrase="not found", check=_no_out),
    Case("cli-average-zero-accepted", NO_FIT + ("--average", "0", "--val-frac", "0", "--seed", "4294967295"), {},
         kind="io", phrase="not found", check=_no_out),
    # ---- sample, logz, diagnose, demo
    opt("cli-sample-chains-zero", NO_SAMPLE, "--chains", "0", "0"),
    opt("cli-sample-chains-beyond-int32", NO_SAMPLE, "--chains", "10000000000", "10000000000"),
    opt("cli-sample-draws-zero", NO_SAMPLE, "--draws", "0", "0"),
    opt("cli-sample-warmup-negative", NO_SAMPLE, "--warmup", "-1", "-1"),
    opt("cli-sample-thin-zero", NO_SAMPLE, "--thin", "0", "0"),
    opt("cli-sample-seed-negative", NO_SAMPLE, "--seed", "-5", "-5"),
    opt("cli-sample-seed-overflows", NO_SAMPLE, "--seed", "4294967296", "4294967296"),
    opt("cli-logz-runs-zero", NO_LOGZ, "--runs", "0", "0"),
    opt("cli-logz-runs-one", NO_LOGZ, "--runs", "1", "1"),
    opt("cli-logz-temperatures-zero", NO_LOGZ, "--temperatures", "0", "0"),
    opt("cli-logz-seed-negative", NO_LOGZ, "--seed", "-1", "-1"),
    opt("cli-diagnose-max-vars-zero", NO_DIAGNOSE, "--max-vars", "0", "0"),
    opt("cli-demo-steps-zero", NO_DEMO, "--steps", "0", "0"),
    opt("cli-demo-chains-negative", NO_DEMO, "--chains", "-2", "-2"),
    opt("cli-demo-warmup-negative", NO_DEMO, "--warmup", "-1", "-1"),
    # ---- argparse's own errors, in the same style, exit 2
    Case("cli-argparse-bad-float", NO_FIT + ("--lr", "abc"), {}, kind="usage", phrase="--lr", check=_no_out),
    Case("cli-argparse-bad-int", NO_SAMPLE + ("--chains", "2.5"), {}, kind="usage", phrase="--chains",
         check=_no_out),
    Case("cli-argparse-unknown-option", NO_SAMPLE + ("--frobnicate",), {}, kind="usage", phrase="--frobnicate",
         check=_no_out),
    Case("cli-argparse-invalid-choice", NO_SAMPLE + ("--sampler", "magic"), {}, kind="usage",
         phrase="invalid choice", check=_no_out),
    Case("cli-argparse-missing-required", ("fit", "m.ebm", "--out", "{dir}/o"), {}, kind="usage", phrase="--data",
         check=_no_out),
    Case("cli-argparse-unknown-command", ("frobnicate",), {}, kind="usage", phrase="frobnicate"),
    Case("cli-argparse-unknown-optimizer", NO_FIT + ("--optimizer", "magic"), {}, kind="usage", phrase="magic",
         check=_no_out),
    Case("cli-help-lists-exit-codes", ("--help",), {}, code=0, phrase="130", check=_help_exit_codes),
    Case("cli-empty-out", NO_FIT[:-3] + ("--out", ""), {}, kind="usage", phrase="--out", check=_no_out),
    Case("cli-resume-and-overwrite", NO_FIT + ("--resume", "--overwrite"), {}, kind="usage", phrase="--overwrite",
         check=_no_out),
    # ---- output folders: checked before any work
    Case("cli-out-is-a-file", FIT, {**F, "o": "my notes\n"}, kind="output", phrase="is a file",
         check=_file_kept("o", "my notes\n")),
    Case("cli-sample-out-is-a-file", SAMPLE, {"m.ebm": GAUSS, "o": "my notes\n"}, kind="output",
         phrase="is a file", check=_file_kept("o", "my notes\n")),
    Case("cli-demo-out-is-a-file", NO_DEMO + ("--steps", "5"), {"o": "my notes\n"}, kind="output",
         phrase="is a file", check=_file_kept("o", "my notes\n")),
    Case("cli-out-under-a-file", FIT[:-4] + ("--out", "{dir}/f/sub", "--no-progress", "--no-report"),
         {**F, "f": "a file\n"}, kind="output", phrase="cannot create", check=_file_kept("f", "a file\n")),
    Case("cli-out-unwritable", FIT[:-4] + ("--out", "/sys/ebmppl-out", "--no-progress", "--no-report"), F,
         kind="output", phrase="/sys/ebmppl-out"),
    Case("cli-out-unwritable-existing", FIT[:-4] + ("--out", "/sys/kernel", "--no-progress", "--no-report"), F,
         kind="output", phrase="cannot be written"),
    Case("cli-out-dangling-symlink", FIT, F, setup=_symlink("nowhere"), kind="output",
         phrase="cannot create"),
    Case("cli-out-symlink-to-folder-accepted", FIT, {**F, "real/keep.txt": "x\n"}, setup=_symlink("real"), code=0,
         check=lambda r: (r.dir / "real" / "params.npz").is_file() and _no_temp(r)),
    # ---- an earlier run's results: refused, kept byte for byte; --overwrite replaces them
    Case("cli-fit-refuses-earlier-params", FIT, F, setup=_earlier({"params.npz": "old", "params.json": "{}"}),
         kind="output", phrase="earlier run", check=_kept({"params.npz": "old", "params.json": "{}"})),
    Case("cli-fit-refuses-earlier-report", FIT, F, setup=_earlier({"fit-report.md": "# old\n"}), kind="output",
         phrase="fit-report.md", check=_kept({"fit-report.md": "# old\n"})),
    Case("cli-fit-refuses-earlier-checkpoints", FIT, F, setup=_fit_then(), kind="output", phrase="checkpoints"),
    Case("cli-fit-overwrite-removes-the-earlier-run", FIT + ("--overwrite",), F,
         setup=_earlier({"params.npz": "old", "params.json": "{}", "history.csv": "old", "fit-report.md": "# old",
                         "fit-report-training.png": "old", "notes.txt": "mine\n"}), code=0, check=_fresh_results),
    Case("cli-fit-overwrite-replaces-earlier-checkpoints", FIT + ("--overwrite", "--checkpoint-every", "5", "--seed",
                                                                  "3"), F, setup=_fit_then(), code=0,
         check=_checkpoints_of_seed(3)),
    Case("cli-fit-resume-into-its-own-folder", FIT + ("--resume", "--checkpoint-every", "5"), F, setup=_fit_then(),
         code=0, check=_fitted_alone),
    Case("cli-fit-beside-unrelated-files", FIT, {**F, "o/notes.txt": "mine\n"}, code=0,
         check=lambda r: _fitted_alone(r) or _kept({"notes.txt": "mine\n"}, only=False)(r)),
    Case("cli-sample-refuses-earlier-samples", SAMPLE, {"m.ebm": GAUSS}, setup=_earlier_samples, kind="output",
         phrase="samples.nc", check=lambda r: (r.dir / "o" / "samples.nc").read_bytes() == b"earlier draws"),
    Case("cli-sample-overwrite", SAMPLE + ("--overwrite",), {"m.ebm": GAUSS}, setup=_earlier_samples, code=0,
         check=_replaced_samples),
    Case("cli-sample-beside-fit-results", SAMPLE + ("--params", "{dir}/o/params.npz"), F, setup=_fit_then(),
         code=0, check=_samples_beside_params),
    Case("cli-score-refuses-earlier-scores", SCORE, F, setup=_earlier({"scores.csv": "row,score\n0,1\n"}),
         kind="output", phrase="scores.csv", check=_kept({"scores.csv": "row,score\n0,1\n"})),
    Case("cli-score-overwrite-would-remove-its-input", ("score", "m.ebm", "--data", "{dir}/o/scores.csv", "--out",
                                                        "{dir}/o", "--overwrite"),
         {"m.ebm": RING, "o/scores.csv": CSV}, kind="output", phrase="reads",
         check=_kept({"scores.csv": CSV})),
    Case("cli-diagnose-refuses-earlier-report", ("diagnose", "{dir}/s/samples.nc", "--out", "{dir}/o"),
         {"m.ebm": GAUSS}, setup=lambda d: (_sample_into(d, "s"), _earlier({"report.md": "old\n"})(d)),
         kind="output", phrase="report.md", check=_kept({"report.md": "old\n"}), slow=False),
    # ---- two runs, one folder: a lock
    Case("cli-fit-locked-by-a-live-run", FIT, F, setup=_lock(os.getppid()), kind="output",
         phrase="another ebmppl run", check=_lock_kept),
    Case("cli-sample-locked-by-a-live-run", SAMPLE, {"m.ebm": GAUSS}, setup=_lock(os.getppid()), kind="output",
         phrase="another ebmppl run"),
    Case("cli-fit-takes-over-a-stale-lock", FIT, F, setup=_stale_lock, code=0, phrase="taking it over",
         check=_fitted_alone),
    Case("cli-fit-takes-over-an-empty-old-lock", FIT, F, setup=_lock(None), code=0, phrase="taking it over",
         check=_fitted_alone),
    # ---- a model error leaves no folder behind, and an existing folder as it was
    Case("cli-model-error-no-folder", FIT, {**F, "m.ebm": "var x : real[2]\nfactor f = y^2\n"}, kind="semantic",
         phrase="unknown name", check=_no_out),
    Case("cli-model-error-keeps-folder", FIT, {**F, "m.ebm": "var x : real[2]\nfactor f = y^2\n",
                                               "o/notes.txt": "mine\n"}, kind="semantic", phrase="unknown name",
         check=_kept({"notes.txt": "mine\n"})),
    Case("cli-sample-stat-named-let", SAMPLE, {"m.ebm": "var x : real\nlet diverging = [x, x]\nfactor f = x^2\n"},
         kind="semantic", phrase="diverging", check=_no_out),
    # ---- fits whose params are not usable: exit 1, never params outside their domain
    Case("cli-fit-nonfinite-loss-exit-1", ("fit", "m.ebm", "--data", "d.csv", "--steps", "20", "--method", "sm",
                                           "--optimizer", "sgd", "--lr", "100000", "--out", "{dir}/o",
                                           "--no-progress", "--no-report"),
         {"m.ebm": SCALAR, "d.csv": "y\n1\n-1\n0.5\n-2\n1.5\n"}, code=1, phrase="smaller --lr", check=_stopped),
    Case("cli-fit-param-underflow-exit-1", ("fit", "m.ebm", "--data", "d.csv", "--method", "sm", "--optimizer",
                                            "sgd", "--lr", "1000", "--steps", "5", "--out", "{dir}/o",
                                            "--no-progress", "--no-report"),
         {"m.ebm": "var x : real\nparam s : positive = 1.0\nfactor f = s * x^2\n", "d.csv": "x\n1\n-1\n0.5\n-2\n1.5\n"},
         code=1, phrase="--clip-norm", check=_no_params),
    Case("cli-logz-sidecar-final-not-an-object", ("logz", "m.ebm", "--params", "p/params.npz"), F,
         setup=_params_with({"final": "oops"}), code=0, phrase="log Z ="),
    Case("cli-logz-sidecar-logz-not-a-number", ("logz", "m.ebm", "--params", "p/params.npz", "--method",
                                                "quadrature"), F,
         setup=_params_with({"final": {"logz": "NaN"}}), code=0, phrase="log Z =",
         check=lambda r: "NCE" not in r.out),
    Case("cli-fit-large-lr-warns", FIT + ("--lr", "5"), F, code=0, phrase="--lr 5", check=_fitted_alone),
]


def _sample_into(d: Path, folder: str) -> None:
    """An earlier `ebmppl sample` of m.ebm into {dir}/FOLDER."""
    import contextlib
    import io
    from ebmppl.cli import main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        rc = main(["sample", str(d / "m.ebm"), "--draws", "20", "--warmup", "20", "--chains", "1", "--out",
                   str(d / folder), "--no-progress"])
    assert rc == 0, err.getvalue()
