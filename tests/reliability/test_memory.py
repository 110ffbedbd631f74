"""Peak memory of 1 000 chains x 1 000 draws of a 10-D model stays under 2 GB (benchmarks/memory.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_thousand_chains_thousand_draws_under_two_gigabytes(tmp_path):
    report = tmp_path / "memory.json"
    # the benchmark measures a child of its own: run it as a fresh process, so that no earlier
    # child of the test process sets the peak
    r = subprocess.run([sys.executable, "benchmarks/memory.py", "--json", str(report)], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep["shape"] == [1000, 1000, 10] and rep["finite"]
    assert rep["peak_rss_bytes"] < 2 * 1024**3, rep
    assert rep["mean_abs"] < 0.05 and abs(rep["var"] - 1.0) < 0.05  # it did sample the Gaussian
