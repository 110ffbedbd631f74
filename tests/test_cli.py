"""The command line: help, exit codes, no tracebacks for user mistakes, float64 switch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ebmppl.cli import main
from tests.conftest import EXAMPLES, ROOT


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "check" in out and "demo" in out


@pytest.mark.parametrize("cmd", ["check", "demo"])
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


def test_demo_runs(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "all 9 examples checked" in out and "digits_binarized.csv" in out
