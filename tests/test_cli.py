"""The command line: help, exit codes, no tracebacks for user mistakes, float64 switch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ebmppl.cli import main
from tests.conftest import EXAMPLES, ROOT


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "check" in out and "demo" in out


@pytest.mark.parametrize("cmd", ["check", "diagnose", "demo"])
def test_command_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: ebmppl " + cmd in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_check_summary(capsys):
    assert main(["check", str(EXAMPLES / "rbm.ebm")]) == 0
    out = capsys.readouterr().out
    for text in ["v : binary[64]", "h : binary[16]", "1104 values in all", "W : real[64, 16]",
                 "unnormalized energy", "summed out analytically", "ok"]:
        assert text in out


def test_check_missing_file(capsys):
    assert main(["check", "no/such/file.ebm"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err


def test_check_bad_data_file(tmp_path, capsys):
    bad = tmp_path / "d.json"
    bad.write_text('{"J": 2, "y": [1, 2]}')
    assert main(["check", str(EXAMPLES / "eight_schools.ebm"), "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "error[data]" in err and "'sigma'" in err and "eight_schools.ebm:5:" in err


def test_x64_switch_in_a_fresh_process():
    code = ("import jax.numpy as jnp, ebmppl; m = ebmppl.parse('var x : real\\nfactor f = x^2');"
            "print(m.energy({}, {'x': 1.0}).dtype); ebmppl.config(x64=True); print(m.energy({}, {'x': 1.0}).dtype)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["float32", "float64"]


def test_console_script_exit_code_and_stderr(tmp_path):
    bad = tmp_path / "bad.ebm"
    bad.write_text("var x : real\nfactor f = x +\n")
    r = subprocess.run([sys.executable, "-m", "ebmppl", "check", str(bad), "--x64"], capture_output=True, text=True)
    assert r.returncode == 2 and "error[syntax]" in r.stderr and "Traceback" not in r.stderr


def test_demo_examples_checks_every_bundled_example(capsys):
    assert main(["demo", "--examples"]) == 0
    out = capsys.readouterr().out
    assert "all 11 examples checked" in out and "digits_binarized.csv" in out


RING_FILES = ["params.npz", "params.json", "samples.nc", "summary.csv", "report.md", "trace.png", "rank.png",
              "autocorr.png", "forest.png", "pair.png", "density.png"]


def test_demo_small_run_writes_everything(tmp_path, capsys):
    """`ebmppl demo` with hidden smaller sizes: fit, sample, log Z, diagnose, files, in about ten seconds."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "100", "--draws", "100", "--warmup", "100", "--thin", "1",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    for step in ["1. fit", "2. sample", "3. log Z by quadrature", "4. diagnose", "sampler mala: 4 chain(s)"]:
        assert step in text
    for f in RING_FILES:
        assert (out / f).is_file() and f in text, f
    md = (out / "report.md").read_text()
    assert "sliced score matching" in md and "log Z =" in md and "![density](density.png)" in md
    assert main(["diagnose", str(out / "samples.nc"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "density.png").is_file()  # the model file is recorded in samples.nc


@pytest.mark.slow
def test_demo_full_size_is_healthy(tmp_path, capsys):
    """The real `ebmppl demo` settings: the fit recovers the ring and the MALA draws pass every check."""
    import json

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "no warnings" in text and "warning[" not in text
    meta = json.loads((out / "params.json").read_text())
    assert meta["method"] == "ssm"
    import numpy as np
    with np.load(out / "params.npz") as p:
        assert abs(float(p["r"]) - 1.0) < 0.05 and 35 < float(p["k"]) < 65  # radius 1, noise sd 0.1: k near 50


@pytest.mark.slow
def test_demo_rbm(tmp_path, capsys):
    out = tmp_path / "rbm"
    assert main(["demo", "rbm", "--out", str(out), "--steps", "200", "--chains", "8", "--draws", "2",
                 "--warmup", "20", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "mean log-likelihood per digit" in text
    import matplotlib.image as mpimg
    img = mpimg.imread(out / "digits.png")
    assert img.shape[1] > img.shape[0] > 150 and img.std() > 0.1
    for f in ["params.npz", "params.json", "samples.nc"]:
        assert (out / f).is_file()


def test_demo_rejects_bad_sizes(capsys):
    assert main(["demo", "--draws", "0", "--no-progress"]) == 2
    assert "error[usage]" in capsys.readouterr().err


# ---------------------------------------------------------------------- options, folders, exit codes
def test_every_numeric_option_has_a_row_in_the_options_table():
    """Every int or float option of every command is admitted by the one table (option -> domain), so a new
    option cannot skip the range check."""
    import argparse
    from ebmppl.cli.options import OPTIONS
    from ebmppl.cli.parser import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [(name, a.dest) for name, p in sub.choices.items() for a in p._actions
               if a.type in (int, float) and a.dest not in OPTIONS]
    assert not missing, missing


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code, words in [("0", "done"), ("1", "non-finite loss"), ("2", "error"), ("130", "interrupted")]:
        assert any(line.strip().startswith(code + " ") and words in line for line in out.splitlines()), (code, out)


def test_argparse_errors_print_like_every_other_error(capsys):
    assert main(["sample", "m.ebm", "--chains", "many"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error[usage]: argument --chains: invalid int value: 'many'") and "= help:" in err


def test_resume_command_adds_resume_and_drops_overwrite():
    from ebmppl.cli.fit import resume_command
    assert resume_command(["fit", "m b.ebm", "--data", "d.csv", "--overwrite"]) == \
        "ebmppl fit 'm b.ebm' --data d.csv --resume"
    assert resume_command(["fit", "m.ebm", "--resume"]).count("--resume") == 1


def test_a_second_concurrent_run_into_one_folder_is_refused(tmp_path, capsys):
    """A real second process: the first run holds the folder's lock, the second stops with error[output] naming
    its pid and writes nothing; the first, interrupted, ends normally and leaves no lock."""
    import os
    import signal
    import time
    out = tmp_path / "o"
    args = ["fit", str(EXAMPLES / "ring.ebm"), "--data", str(EXAMPLES / "data" / "ring.csv"), "--steps", "10000000",
            "--out", str(out), "--no-progress", "--no-report"]
    p = subprocess.Popen([sys.executable, "-m", "ebmppl", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / ".ebmppl.lock").exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # the pid is written right after the lock is created
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"error[output]: another ebmppl run (pid {p.pid}) is writing to '{out}'" in err, err
        assert (out / ".ebmppl.lock").read_text().strip() == str(p.pid)
    finally:
        os.kill(p.pid, signal.SIGINT)
        try:
            _, perr = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # never leave a 10^7-step fit running beside the rest of the suite
            p.kill()
            raise
    assert p.returncode == 130, perr[-2000:]
    assert not (out / ".ebmppl.lock").exists()


def test_a_failed_run_removes_the_folders_it_created_and_its_lock(tmp_path, capsys):
    bad = tmp_path / "bad.ebm"
    bad.write_text("var x : real\nfactor f = y^2\n")
    assert main(["sample", str(bad), "--out", str(tmp_path / "a" / "b" / "c"), "--no-progress"]) == 2
    assert "error[semantic]" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ebm"]


def test_a_summary_that_fails_after_sampling_is_a_warning_and_the_draws_are_kept(tmp_path, capsys, monkeypatch):
    from ebmppl import diagnostics
    monkeypatch.setattr(diagnostics, "short_summary", lambda idata: 1 / 0)
    model = tmp_path / "m.ebm"
    model.write_text("var x : real\nfactor f = x^2\n")
    out = tmp_path / "o"
    assert main(["sample", str(model), "--draws", "20", "--warmup", "20", "--chains", "1", "--out", str(out),
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: error[diagnose]: no summary of the draws: ZeroDivisionError" in err and "Traceback" not in err
    assert diagnostics.read_samples(out / "samples.nc").posterior["x"].shape == (1, 20)


def test_samples_that_cannot_be_written_are_an_output_error_and_no_file(tmp_path, capsys, monkeypatch):
    import arviz
    def broken(self, path, *a, **k):
        Path(path).write_bytes(b"half a file")
        raise ValueError("cannot encode")
    monkeypatch.setattr(arviz.InferenceData, "to_netcdf", broken)
    model = tmp_path / "m.ebm"
    model.write_text("var x : real\nfactor f = x^2\n")
    out = tmp_path / "o"
    assert main(["sample", str(model), "--draws", "20", "--warmup", "20", "--chains", "1", "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error[output]: cannot write" in err and "ValueError: cannot encode" in err
    assert not out.exists()
