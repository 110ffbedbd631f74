"""Memory: 1 000 chains x 1 000 draws of a 10-D model stay under 2 GB (benchmarks/memory.py), and a file that
claims a huge array allocates nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
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


def test_a_crafted_npy_header_allocates_nothing(tmp_path):
    # an NPZ whose array header claims 2^40 x 2 float64 (16 TiB) over 32 bytes of data: refused from the header
    # and the member's size alone, before numpy allocates anything
    import io
    import tracemalloc
    import zipfile

    from ebmppl.errors import EbmDataError
    from ebmppl.io import load_npz
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": "<f8", "fortran_order": False, "shape": (2**40, 2)})
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", b.getvalue() + bytes(32))
    tracemalloc.start()
    try:
        with pytest.raises(EbmDataError, match=r"its header claims shape \[1099511627776, 2\]"):
            load_npz(path, "data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024**2, peak
