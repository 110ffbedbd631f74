"""Several processes as one run (ebmppl.distributed, ``ebmppl launch``): chains shared between local processes
talking through gloo on the loopback address give the draws of a single-process run, chain for chain; bad
settings are ebmppl errors on every process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.errors import EbmError

ROOT = Path(__file__).resolve().parents[1]
MODEL = "var x : real[2]\nvar s : positive\nx ~ normal(0, s)\ns ~ gamma(2, 2)\n"
DRAWS = dict(chains=8, draws=40, warmup=40, key=7, progress=False)

# One process of a run: joins it, samples, and (process 0 only) saves the gathered draws.
WORKER = textwrap.dedent("""
    import sys, numpy as np, ebmppl
    out, sampler, n, i, coordinator = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    ebmppl.config(x64=True)
    if n > 1:
        ebmppl.distributed.initialize(coordinator, num_processes=n, process_id=i, timeout=60)
    model = ebmppl.parse({model!r})
    idata = ebmppl.sample(model, sampler=sampler, **{draws!r})
    if ebmppl.distributed.is_main():
        arrays = {{f"posterior/{{k}}": v.values for k, v in idata.posterior.items()}}
        arrays.update({{f"sample_stats/{{k}}": v.values for k, v in idata.sample_stats.items()}})
        np.savez(out, **arrays)
    print("done", i, idata.posterior.sizes["chain"], flush=True)
""").format(model=MODEL, draws=DRAWS)


# One process of a data-parallel fit: the global batch is split over both processes' devices.
FIT_WORKER = textwrap.dedent("""
    import sys, numpy as np, ebmppl
    ebmppl.distributed.initialize(sys.argv[2], num_processes=2, process_id=int(sys.argv[3]), timeout=60)
    import jax
    assert jax.device_count() == 2 and jax.local_device_count() == 1
    from ebmppl.training.trainer import _batch_sharding  # the batch is split over both processes' devices
    assert _batch_sharding({fit[batch_size]}).mesh.devices.size == 2
    x = np.load(sys.argv[4])
    r = ebmppl.fit(ebmppl.load("examples/ring.ebm"), {{"x": x}}, **{fit!r})
    if ebmppl.distributed.is_main():
        np.savez(sys.argv[1], r=np.asarray(r.params["r"]), k=np.asarray(r.params["k"]))
""")
FIT = dict(method="dsm", steps=40, batch_size=128, chunk=20, key=1, progress=False)
FIT_WORKER = FIT_WORKER.format(fit=FIT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "EBMPPL_NUM", "EBMPPL_PROC"))}
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu", **more)
    return env


def _launch(args_of, n: int, timeout: float = 240, cwd=None, **env) -> list[subprocess.CompletedProcess]:
    """Run ``args_of(i)`` for i < n at once (a list of command lines: each its own process); their results."""
    argvs = [args_of(i) for i in range(n)]
    argvs = [a for argv in argvs for a in (argv if isinstance(argv[0], list) else [argv])]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(**env),
                              cwd=cwd) for argv in argvs]
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append(subprocess.CompletedProcess(p.args, p.returncode, o, e))
    return out


@pytest.mark.parametrize("sampler", ["mala", pytest.param("nuts", marks=pytest.mark.slow)])
def test_two_processes_give_the_single_process_draws(tmp_path, sampler):
    """Chain c has the same key and start on whichever process runs it. In float64, so that the comparison
    does not depend on how XLA rounds a batch of 4 chains against one of 8 (in float32 a last-bit
    difference can flip an accept/reject decision; see docs/scale.md)."""
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    coordinator = f"127.0.0.1:{free_port()}"
    two = [[sys.executable, str(worker), str(tmp_path / "two.npz"), sampler, "2", str(i), coordinator]
           for i in range(2)]
    one = [sys.executable, str(worker), str(tmp_path / "one.npz"), sampler, "1", "0", "-"]
    runs = _launch(lambda _: [*two, one], 1)  # the 2-process run and the 1-process run side by side
    for i, r in enumerate(runs):
        assert r.returncode == 0, r.stderr[-3000:]
        assert f"done {i % 2} 8" in r.stdout  # every process holds all 8 chains
    got, want = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert sorted(got.files) == sorted(want.files)
    assert {"posterior/x", "posterior/s", "sample_stats/lp", "sample_stats/step_size"} <= set(got.files)
    for name in want.files:
        assert got[name].shape == want[name].shape and got[name].shape[0] == 8, name
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.slow
def test_two_process_fit_gives_the_single_process_params(tmp_path):
    """DSM with a global batch of 128 split over two processes (one device each) reaches the params of one
    process with one device, the same batches and seed (gradients reduced in another order: to 1e-5)."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 512)
    x = (np.stack([np.cos(t), np.sin(t)], 1) + 0.05 * rng.normal(size=(512, 2))).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    worker = tmp_path / "fit_worker.py"
    worker.write_text(FIT_WORKER)
    out = tmp_path / "params.npz"
    coordinator = f"127.0.0.1:{free_port()}"
    runs = _launch(lambda i: [sys.executable, str(worker), str(out), coordinator, str(i), str(tmp_path / "x.npy")],
                   2, cwd=ROOT)
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
    got = np.load(out)
    ref = ebm.fit(ebm.load(str(ROOT / "examples" / "ring.ebm")), {"x": x}, **FIT)
    for name in ("r", "k"):
        np.testing.assert_allclose(got[name], np.asarray(ref.params[name]), rtol=1e-5, err_msg=name)


def test_launch_runs_a_command_on_every_process_and_prefixes_its_stderr(tmp_path):
    script = tmp_path / "who.py"
    script.write_text("import os, sys\nprint('hello from', os.environ['EBMPPL_PROCESS_ID'], file=sys.stderr)\n"
                      "sys.exit(int(os.environ['EBMPPL_PROCESS_ID']) * 3)\n")
    r = subprocess.run([sys.executable, "-m", "ebmppl", "launch", "-n", "2", "--", sys.executable, str(script)],
                       capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 3  # the worst exit code
    assert "[0] hello from 0" in r.stderr and "[1] hello from 1" in r.stderr


def test_unreachable_coordinator_is_an_error_after_the_timeout():
    with pytest.raises(EbmError, match=r"127.0.0.1:\d+ did not answer within 1 s"):
        ebm.distributed.initialize(f"127.0.0.1:{free_port()}", num_processes=2, process_id=1, timeout=1)


@pytest.mark.parametrize("args, message", [
    (("127.0.0.1:12355", 2, 2), r"process_id=2 is not one of the run's 2 processes"),
    (("127.0.0.1:12355", 0, 0), r"num_processes= must be a whole number, 1 or more; got 0"),
    (("127.0.0.1:99999", 2, 0), r"port must be at most 65535"),
    (("localhost", 2, 0), r"is not HOST:PORT"),
    (("127.0.0.1:12355", None, 1), r"needs the number of processes"),
])
def test_bad_settings_are_usage_errors(args, message):
    with pytest.raises(EbmError, match=message) as e:
        ebm.distributed.initialize(*args)
    assert e.value.kind == "usage"


def test_missing_process_is_an_error_on_every_process_with_exit_2(tmp_path):
    """Two of three processes start: each says so and exits 2 after the timeout (no hang, no traceback)."""
    model = tmp_path / "m.ebm"
    model.write_text(MODEL)
    coordinator = f"127.0.0.1:{free_port()}"
    runs = _launch(lambda i: [sys.executable, "-m", "ebmppl", "sample", str(model), "--out", str(tmp_path / f"o{i}"),
                              "--coordinator", coordinator, "--num-processes", "3", "--process-id", str(i)],
                     2, timeout=120, EBMPPL_DISTRIBUTED_TIMEOUT="3")
    for i, r in enumerate(runs):
        assert r.returncode == 2, r.stderr[-2000:]
        assert f"error[usage]: not all 3 processes joined the run within 3 s (this is process {i})" in r.stderr
        assert "Traceback" not in r.stderr
        assert not (tmp_path / f"o{i}").exists()  # nothing written


def test_chains_not_shared_evenly_is_an_error_on_every_process(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER.replace("'chains': 8", "'chains': 3"))  # 3 chains, 2 processes
    coordinator = f"127.0.0.1:{free_port()}"
    runs = _launch(lambda i: [sys.executable, str(worker), str(tmp_path / "x.npz"), "mala", "2", str(i),
                              coordinator], 2)
    for r in runs:
        assert r.returncode != 0
        assert "error[usage]: 3 chains cannot be shared evenly by 2 processes" in r.stderr
