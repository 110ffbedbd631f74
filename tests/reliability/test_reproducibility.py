"""Same seed, same results: two separate processes draw the same chains (ebmppl.sample) and fit
the same params (ebmppl.fit), bit for bit, on one machine. docs/errors.md (section
"Reproducibility") says what is bit-identical and what only agrees to float tolerance.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

SCRIPT = r"""
import sys, warnings
import numpy as np
import ebmppl
warnings.simplefilter("ignore")
out = {}
ring = ebmppl.load("examples/ring.ebm")
for sampler in sys.argv[2].split(","):
    idata = ebmppl.sample(ring, sampler=sampler, chains=2, draws=100, warmup=100, key=11, progress=False,
                          verbose=False)
    out[f"{sampler}/x"] = idata.posterior["x"].values
    out[f"{sampler}/lp"] = idata.sample_stats["lp"].values
x = np.loadtxt("examples/data/ring.csv", delimiter=",", skiprows=1)
res = ebmppl.fit(ring, {"x": x}, method="ssm", steps=100, batch_size=64, key=5, progress=False)
for k, v in res.params.items():
    out[f"fit/{k}"] = np.asarray(v)
out["fit/loss"] = res.history["loss"]
np.savez(sys.argv[1], **out)
"""


def _run_twice(tmp_path, samplers):
    procs = []
    for i in range(2):  # two processes side by side: nothing shared but the code
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / f"run{i}.npz"), samplers],
                                      cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": str(i)},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    with np.load(tmp_path / "run0.npz", allow_pickle=False) as a, \
            np.load(tmp_path / "run1.npz", allow_pickle=False) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            assert a[k].tobytes() == b[k].tobytes(), f"{k} differs between two runs with the same seed"


def test_same_seed_same_draws_and_params_across_processes(tmp_path):
    _run_twice(tmp_path, "mala")


@pytest.mark.slow
def test_same_seed_same_draws_every_sampler(tmp_path):
    _run_twice(tmp_path, "nuts,hmc,mala,ula,rwmh")
