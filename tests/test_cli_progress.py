"""Progress that tells the truth: a compiling phase, a rate that leaves compilation out (checked with a fake
clock, never against wall time), bounded output, a bar that ends its line when interrupted, NumPyro's bar
started only once its sampler is compiled, and the --quiet / --verbose / --json options."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ebmppl
from ebmppl.cli import main
from ebmppl.progress import MININTERVAL_LOG, Progress, Rate, mininterval
from tests.conftest import EXAMPLES, ROOT


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("compile_s", [0.0, 2.0, 300.0])
@pytest.mark.parametrize("per_step", [1e-5, 1e-3])
def test_rate_after_compiling_is_within_2x_of_steps_over_elapsed_after_compile(compile_s, per_step):
    clock = FakeClock()
    rate = Rate(total=2000, clock=clock)
    assert rate.text() == "compiling…" and rate.rate is None
    clock.now += compile_s + 50 * per_step  # the first chunk: compilation and its own 50 steps
    rate.advance(50)
    assert rate.compile_seconds == pytest.approx(compile_s + 50 * per_step)
    rng = np.random.default_rng(0)
    t_after = 0.0
    for n in range(100, 2001, 50):
        dt = 50 * per_step * rng.uniform(0.8, 1.25)  # chunk times jitter by ±25 %
        clock.now += dt
        t_after += dt
        rate.advance(n)
    truth = (2000 - 50) / t_after  # steps / elapsed after compile
    assert truth / 2 <= rate.rate <= 2 * truth
    assert rate.average == pytest.approx(truth)
    # the rate since the start (what the old bar showed) is far off when compiling is long
    if compile_s >= 300:
        assert 2000 / (compile_s + t_after) < truth / 2


def test_rate_eta_counts_the_steps_left():
    clock = FakeClock()
    rate = Rate(total=1000, clock=clock)
    clock.now += 60.0
    rate.advance(100)
    assert rate.eta is None and "compiled in 60.0 s" in rate.text()
    clock.now += 1.0
    rate.advance(200)  # 100 steps/s
    assert rate.rate == pytest.approx(100.0) and rate.eta == pytest.approx(8.0)
    assert rate.text() == "100 steps/s, ETA 0:08"


def test_bar_shows_compiling_then_the_rate_and_ends_its_line():
    clock, out = FakeClock(), io.StringIO()
    with Progress(300, "fit", clock=clock, file=out) as bar:
        clock.now += 100.0
        bar.update(100, loss=0.5)
        clock.now += 0.1
        bar.update(200, loss=0.25)
        clock.now += 0.1
        bar.update(300, loss=0.125)
    text = out.getvalue()
    assert "compiling…" in text.split("\r")[1]
    assert "1,000 steps/s after compiling (100.0 s)" in text and text.endswith("\n")


def test_an_interrupt_closes_the_bar_so_the_next_line_starts_fresh():
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with Progress(100, "fit", file=out) as bar:
            bar.update(10)
            raise KeyboardInterrupt
    assert out.getvalue().endswith("\n")


def test_redraws_are_rate_limited_off_a_terminal():
    assert mininterval(io.StringIO()) == MININTERVAL_LOG >= 0.5


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 2000-step fit with the progress bar on, run as a user runs it (stderr a pipe), with --json."""
    out = tmp_path_factory.mktemp("fit") / "run"
    r = subprocess.run([sys.executable, "-m", "ebmppl", "fit", str(EXAMPLES / "ring.ebm"), "--data",
                        str(EXAMPLES / "data" / "ring.csv"), "--method", "ssm", "--steps", "2000", "--out", str(out),
                        "--no-report", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    return r, out


def test_fit_json_line_parses_and_holds_the_result(fitted):
    r, out = fitted
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1  # with --json, stdout is the JSON line only
    res = json.loads(lines[0])
    assert res["command"] == "fit" and res["exit"] == 0 and res["steps"] == 2000 and res["method"] == "ssm"
    assert np.isfinite(res["final_loss"]) and set(res["params"]) == {"r", "k"}
    assert str(out / "params.npz") in res["files"]
    t = res["timing"]
    assert t["steps_after_compile"] == 1950 and t["steps_per_second"] > 0


def test_fit_bar_rate_agrees_with_the_timings_after_compile(fitted):
    r, _ = fitted
    t = json.loads(r.stdout)["timing"]
    shown = re.findall(r"([\d,]+) steps/s after compiling", r.stderr)
    assert shown, r.stderr
    bar_rate = float(shown[-1].replace(",", ""))
    truth = t["steps_after_compile"] / t["seconds_after_compile"]
    assert truth / 2 <= bar_rate <= 2 * truth


def test_fit_progress_output_is_bounded(fitted):
    r, _ = fitted
    assert "compiling…" in r.stderr
    assert len(r.stderr.encode()) < 2000, r.stderr  # 40 chunks, yet a few redraws only
    assert r.stderr.count("\r") <= 10


def test_quiet_fit_prints_no_bar(tmp_path, capsys):
    code = main(["fit", str(EXAMPLES / "ring.ebm"), "--data", str(EXAMPLES / "data" / "ring.csv"), "--method", "ssm",
                 "--steps", "100", "--out", str(tmp_path / "q"), "--no-report", "--quiet"])
    assert code == 0
    cap = capsys.readouterr()
    assert cap.err == "" and "final loss" in cap.out


def test_verbose_fit_says_how_long_compiling_and_running_took(tmp_path, capsys):
    code = main(["fit", str(EXAMPLES / "ring.ebm"), "--data", str(EXAMPLES / "data" / "ring.csv"), "--method", "ssm",
                 "--steps", "200", "--out", str(tmp_path / "v"), "--no-report", "--verbose", "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert "the first chunk (compiling) took" in err and "steps/s" in err and "s in all" in err


SMALL = "var x : real[2]\nfactor f = sum(x^2) / 2"


@pytest.mark.parametrize("sampler", ["nuts", "mala"])
def test_compiling_before_numpyro_bar_changes_no_draw(sampler, capsys):
    m = ebmppl.parse(SMALL)
    kw = dict(sampler=sampler, chains=2, draws=50, warmup=50, key=7, verbose=False)
    quiet = ebmppl.sample(m, progress=False, **kw).posterior["x"].values
    shown = ebmppl.sample(m, progress=True, **kw).posterior["x"].values
    np.testing.assert_array_equal(quiet, shown)
    # another start with the same seed is not taken from the compile step's cached initial state
    other = ebmppl.sample(m, progress=True, init={"x": np.full(2, 3.0)}, **kw).posterior["x"].values
    assert not np.array_equal(other, shown)


def test_sample_says_compiling_before_numpyro_bar(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}  # NumPyro hides its bar
    model = tmp_path / "m.ebm"
    model.write_text(SMALL)
    r = subprocess.run([sys.executable, "-m", "ebmppl", "sample", str(model), "--draws", "200", "--warmup", "200",
                        "--chains", "2", "--out", str(tmp_path / "s")], capture_output=True, text=True, cwd=ROOT,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert "sample: compiling…" in err
    assert err.index("sample: compiling…") < err.index("/400")  # the bar comes after the compiling line
