"""The sampling driver: InferenceData layout, faults, initialization, reproducibility, chains, CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl as ebm
from ebmppl import diagnostics
from ebmppl.cli import main
from ebmppl.errors import EbmError
from tests.conftest import DATA, EXAMPLE_NAMES, EXAMPLES, ROOT, load_example


@pytest.fixture(scope="module")
def schools_idata():
    return ebm.sample(load_example("eight_schools"), sampler="mala", chains=2, draws=300, warmup=300,
                      progress=False, key=1)


def test_inference_data_layout(schools_idata):
    post = schools_idata.posterior
    assert dict(post["theta_tilde"].sizes) == {"chain": 2, "draw": 300, "J": 8}
    assert "theta" in post and post["theta"].shape == (2, 300, 8)  # a let
    np.testing.assert_allclose(post["theta"], post["mu"] + post["tau"] * post["theta_tilde"], rtol=1e-4, atol=1e-4)
    assert bool((post["tau"] > 0).all())  # a positive var comes back in its domain
    stats = schools_idata.sample_stats
    for name in ["acceptance_rate", "diverging", "step_size", "lp"]:
        assert stats[name].shape == (2, 300)
    const = schools_idata.constant_data  # the data of `y ~ ...` is observed_data (issue 16), the other consts here
    assert schools_idata.observed_data["y"].shape == (8,) and "y" not in const
    assert dict(const["sigma"].sizes) == {"J": 8}
    assert post.attrs["sampler"] == "mala" and post.attrs["fingerprint"] == load_example("eight_schools").fingerprint


def test_nuts_sample_stats():
    idata = ebm.sample(ebm.parse("var x : real[2]\nx ~ normal(0, 1)"), sampler="nuts", chains=2, draws=100,
                       warmup=100, progress=False)
    for name in ["diverging", "acceptance_rate", "n_steps", "tree_depth", "step_size", "energy", "lp"]:
        assert idata.sample_stats[name].shape == (2, 100)


def test_thinning_keeps_draws():
    idata = ebm.sample(ebm.parse("var x : real\nx ~ normal(0, 1)"), sampler="mala", chains=1, draws=50,
                       warmup=20, thin=3, progress=False)
    assert idata.posterior["x"].shape == (1, 50)


def test_same_seed_same_draws_and_different_seed_different_draws():
    m = load_example("ring")
    p = m.init_params(0)
    a = ebm.sample(m, p, sampler="mala", chains=2, draws=50, warmup=50, key=3, progress=False)
    b = ebm.sample(m, p, sampler="mala", chains=2, draws=50, warmup=50, key=3, progress=False)
    c = ebm.sample(m, p, sampler="mala", chains=2, draws=50, warmup=50, key=4, progress=False)
    np.testing.assert_array_equal(a.posterior["x"], b.posterior["x"])
    assert not np.array_equal(a.posterior["x"], c.posterior["x"])


# a density that is NaN for x > 2 (log of a negative number) and +inf at the wall
WALL = "var x : real\nfactor wall = 0.5 * x^2 - log(2 - x)"


@pytest.mark.parametrize("sampler", ["mala", "rwmh", "ula", "nuts"])
def test_nan_region_is_rejected_not_returned(sampler):
    idata = ebm.sample(ebm.parse(WALL), sampler=sampler, chains=2, draws=400, warmup=100, progress=False,
                       step_size=0.8 if sampler != "nuts" else None, adapt_mass=False, key=0,
                       init={"x": jnp.array([1.9, 1.95])})
    x = np.asarray(idata.posterior["x"])
    assert np.all(np.isfinite(x)) and np.all(x < 2)
    assert int(idata.sample_stats["diverging"].sum()) > 0


def test_no_finite_start_names_the_factor():
    m = ebm.parse("var x : real[2]\nfactor ok = sum(x^2)\nfactor bad = log(-1 - sum(x^2))", name="bad.ebm")
    with pytest.raises(EbmError, match=r"factor 'bad' \(bad.ebm:3\) gives energy nan") as e:
        ebm.sample(m, sampler="mala", chains=2, draws=10, warmup=10, progress=False)
    assert "bad.ebm:3:" in e.value.render()


def test_init_is_used_and_validated():
    m = ebm.parse("var x : positive\nx ~ exponential(1)")
    idata = ebm.sample(m, sampler="rwmh", chains=2, draws=5, warmup=0, init={"x": jnp.array([0.5, 3.0])},
                       progress=False, step_size=1e-6, adapt_mass=False)
    np.testing.assert_allclose(idata.posterior["x"][:, 0], [0.5, 3.0], rtol=1e-3)
    with pytest.raises(EbmError, match="init has no value for 'x'"):
        ebm.sample(m, sampler="mala", chains=1, draws=5, warmup=5, init={"y": 1.0}, progress=False)


def test_auto_sampler_choices(capsys):
    assert ebm.infer.choose_sampler(load_example("ring"))[0] == "nuts"
    assert ebm.infer.choose_sampler(load_example("ising"))[0] == "gibbs"
    idata = ebm.sample(load_example("ising"), sampler="auto", chains=2, draws=20, warmup=10, progress=False)
    assert "block Gibbs" in capsys.readouterr().err and idata.posterior.attrs["sampler"] == "gibbs"


def test_bad_requests_are_clear_errors():
    m = load_example("ring")
    with pytest.raises(EbmError, match="unknown sampler 'nutz'"):
        ebm.sample(m, sampler="nutz", progress=False)
    with pytest.raises(EbmError, match="has none"):
        ebm.sample(load_example("ising"), sampler="mala", chains=1, draws=5, warmup=5, progress=False)
    with pytest.raises(EbmError, match="categorical"):
        ebm.sample(ebm.parse("var z : categorical(3)\nfactor f = 1.0 * z"), sampler="gwg", progress=False)
    with pytest.raises(EbmError, match="no values"):
        ebm.sample(ebm.parse("const J : int\nvar x : real[J]\nx ~ normal(0, 1)"), progress=False)


def test_ula_output_says_it_is_biased(capsys):
    idata = ebm.sample(ebm.parse("var x : real\nx ~ normal(0, 1)"), sampler="ula", chains=1, draws=10,
                       warmup=0, progress=False)
    assert "unadjusted" in idata.posterior.attrs["note"] and "unadjusted" in capsys.readouterr().err


def test_blocks_found_for_rbm_and_ising():
    from ebmppl.infer import gibbs
    from ebmppl.infer.target import Target
    upd = gibbs.build_update(Target(load_example("rbm")))
    sizes = sorted(len(b) for b in upd.blocks.blocks)
    assert sizes == [16, 64] and all(upd.blocks.affine)  # the two layers, closed form
    upd = gibbs.build_update(Target(load_example("ising")))
    blocks = upd.blocks.blocks
    assert [len(b) for b in blocks] == [8, 8]  # a checkerboard
    colour = np.zeros(16, int)
    colour[blocks[1]] = 1
    grid = colour.reshape(4, 4)
    assert np.all(grid != np.roll(grid, 1, 0)) and np.all(grid != np.roll(grid, 1, 1))


def test_parallel_chains_over_four_cpu_devices():
    code = """
import jax, ebmppl
assert jax.device_count() == 4, jax.devices()
m = ebmppl.load("examples/ring.ebm")
a = ebmppl.sample(m, sampler="mala", chains=4, draws=30, warmup=30, chain_method="parallel", progress=False)
b = ebmppl.sample(m, sampler="nuts", chains=4, draws=30, warmup=30, chain_method="parallel", progress=False)
print(a.posterior["x"].shape, b.posterior["x"].shape)
"""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[0] == "(4, 30, 2) (4, 30, 2)"


# ------------------------------------------------------------------ the CLI
def test_cli_sample_writes_netcdf_and_summary(tmp_path, capsys):
    rc = main(["sample", str(EXAMPLES / "eight_schools.ebm"), "--data", str(DATA / "eight_schools.json"),
               "--sampler", "mala", "--chains", "2", "--draws", "200", "--warmup", "200", "--out", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "r_hat" in out and "ess_bulk" in out and "mu" in out and "theta_tilde[7]" in out
    idata = diagnostics.from_netcdf(tmp_path / "samples.nc")
    assert idata.posterior["theta_tilde"].shape == (2, 200, 8)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_cli_sample_every_example(name, tmp_path, capsys):
    data = {"eight_schools": "eight_schools.json", "ark": "arK.json", "gp_pois_regr": "gp_pois_regr.json",
            "censored": "censored.json", "garch": "garch.json"}
    args = ["sample", str(EXAMPLES / f"{name}.ebm"), "--chains", "2", "--draws", "30", "--warmup", "30",
            "--out", str(tmp_path), "--no-progress"]
    if name in data:
        args += ["--data", str(DATA / data[name])]
    assert main(args) == 0
    assert diagnostics.from_netcdf(tmp_path / "samples.nc").posterior.sizes["draw"] == 30


def test_cli_sample_bad_params_file(tmp_path, capsys):
    p = tmp_path / "p.npz"
    np.savez(p, W=np.zeros((3, 3)))
    assert main(["sample", str(EXAMPLES / "rbm.ebm"), "--params", str(p), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error[data]" in err and "Traceback" not in err


def test_ula_accepts_a_step_schedule():
    import optax
    sched = optax.exponential_decay(0.1, transition_steps=100, decay_rate=0.5)
    idata = ebm.sample(ebm.parse("var x : real\nx ~ normal(0, 1)"), sampler="ula", chains=2, draws=100,
                       warmup=0, step_size=sched, progress=False, verbose=False)
    assert np.all(np.isfinite(idata.posterior["x"]))


@pytest.mark.parametrize("sampler, target", [("mala", 0.574), ("rwmh", 0.234)])
def test_step_size_adapts_toward_target_acceptance(sampler, target):
    m = ebm.parse("var x : real[10]\nx ~ normal(0, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5])")
    idata = ebm.sample(m, sampler=sampler, chains=4, draws=1000, warmup=1000, progress=False, key=2)
    acc = float(idata.sample_stats["acceptance_rate"].mean())
    assert abs(acc - target) < 0.08, acc


def test_blocks_do_not_trust_couplings_that_vanish_at_the_current_values():
    """A coupling J that is 0 at the example point (a real var at 0, a param initialized to 0) is still an
    interaction: putting the lattice in one block would update neighbours together, which is wrong."""
    from ebmppl.infer import gibbs
    from ebmppl.infer.target import Target
    lattice = "-J * sum(s * roll(s, 1, axis=0) + s * roll(s, 1, axis=1))"
    for src in [f"var J : real\nvar s : spin[4, 4]\nJ ~ normal(0.5, 0.1)\nfactor e = {lattice}",
                f"var s : spin[4, 4]\nparam J : real = 0\nfactor e = {lattice}"]:
        upd = gibbs.build_update(Target(ebm.parse(src)))
        assert [len(b) for b in upd.blocks.blocks] == [8, 8]


@pytest.mark.parametrize("sampler", ["mala", "nuts"])
def test_a_repeated_setup_runs_its_compiled_loop_again(sampler):
    # sample keeps its last few setups (model object, params, consts, sampler, layout): another seed traces
    # and compiles nothing (NumPyro's MCMC would retrace its loop on every run without ebmppl's jit memo),
    # and gives exactly what a fresh setup gives
    import jax
    import importlib
    S = importlib.import_module("ebmppl.infer.sample")  # the module (the package exports the function)
    m = ebm.parse("var x : real[2]\nparam s : positive = 1.5\nfactor f = 0.5 * sum(x^2) / s^2")
    kw = dict(sampler=sampler, chains=2, warmup=50, draws=50, progress=False, verbose=False)
    S._SETUPS.clear()
    ebm.sample(m, {"s": 1.5}, key=1, **kw)
    events = []

    def listen(name, seconds, **kwargs):
        events.append(name)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        again = ebm.sample(m, {"s": 1.5}, key=2, **kw)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    allowed = 0 if sampler == "mala" else 1  # NumPyro's HMC init jits a fresh closure on every run
    assert sum("jaxpr_trace" in e for e in events) <= allowed and sum("backend_compile" in e for e in events) \
        <= allowed, events
    S._SETUPS.clear()
    fresh = ebm.sample(m, {"s": 1.5}, key=2, **kw)
    np.testing.assert_array_equal(again.posterior["x"].values, fresh.posterior["x"].values)
    # other params: another setup, and draws that follow them (the target is not reused)
    wide = ebm.sample(m, {"s": 15.0}, key=2, **kw)
    assert len(S._SETUPS) == 2
    assert wide.posterior["x"].values.std() > 3 * fresh.posterior["x"].values.std()


@pytest.mark.parametrize("sampler, chains, dim", [("ula", 2048, 64), ("nuts", 4, 2)])
def test_a_large_run_is_kept_and_its_setup_holds_no_draws(sampler, chains, dim):
    """2048 chains x 50 draws x 64 numbers (6.6M, once too many to keep): the setup is kept, and its MCMC object
    lets go of the draws once they are read (only the compiled loop stays); NumPyro's NUTS alike."""
    import importlib
    S = importlib.import_module("ebmppl.infer.sample")
    m = ebm.parse(f"var x : real[{dim}]\nfactor f = 0.5 * sum(x^2)")
    S._SETUPS.clear()
    idata = ebm.sample(m, sampler=sampler, chains=chains, draws=50, warmup=5 if sampler == "nuts" else 0,
                       progress=False, verbose=False)
    assert idata.posterior["x"].shape == (chains, 50, dim)
    assert len(S._SETUPS) == 1
    (_, (_, setup)), = S._SETUPS._entries.values()
    assert setup["mcmc"]._states is None and setup["mcmc"]._states_flat is None
    S._SETUPS.clear()


def test_numpyro_jit_memo_returns_one_wrapper_per_function_and_options():
    import numpyro.util
    from ebmppl.infer import _numpyro_jit
    original = numpyro.util.maybe_jit

    def f(x):
        return x + 1
    with _numpyro_jit.memoized():
        with _numpyro_jit.memoized():  # re-entrant
            assert numpyro.util.maybe_jit(f, donate_argnums=0) is numpyro.util.maybe_jit(f, donate_argnums=0)
        assert numpyro.util.maybe_jit is not original  # the inner block left the outer one's memo in place
        assert numpyro.util.maybe_jit(f) is not numpyro.util.maybe_jit(f, donate_argnums=0)
        assert float(numpyro.util.maybe_jit(f)(1.0)) == 2.0
    assert numpyro.util.maybe_jit is original


def test_sample_leaves_numpyro_maybe_jit_as_it_was():
    # the memo is scoped to ebmppl's own MCMC runs: before and after sample, maybe_jit is NumPyro's
    import numpyro.util
    original = numpyro.util.maybe_jit
    assert original.__module__ == "numpyro.util"
    for sampler in ("mala", "nuts"):
        ebm.sample(ebm.parse("var x : real\nx ~ normal(0, 1)"), sampler=sampler, chains=1, draws=5, warmup=5,
                   progress=False)
        assert numpyro.util.maybe_jit is original


def test_layout_and_kernel_options_or_plain_keywords():
    # the grouped form and the plain keywords are the same call: the same draws
    from ebmppl.infer import KernelOptions, Layout
    m = ebm.parse("var x : real[2]\nx ~ normal(0, 1)")
    plain = ebm.sample(m, sampler="mala", chains=2, draws=30, warmup=20, thin=2, step_size=0.3, adapt_mass=False,
                       target_accept=0.6, key=3, progress=False)
    grouped = ebm.sample(m, sampler="mala", layout=Layout(chains=2, draws=30, warmup=20, thin=2),
                         kernel=KernelOptions(step_size=0.3, adapt_mass=False, target_accept=0.6), key=3,
                         progress=False)
    mixed = ebm.sample(m, sampler="mala", layout=Layout(chains=2, draws=30, warmup=20, thin=2), step_size=0.3,
                       adapt_mass=False, target_accept=0.6, key=3, progress=False)
    assert plain.posterior["x"].shape == (2, 30, 2)
    np.testing.assert_array_equal(plain.posterior["x"], grouped.posterior["x"])
    np.testing.assert_array_equal(plain.posterior["x"], mixed.posterior["x"])
    assert float(grouped.posterior.attrs["target_accept"]) == 0.6
    fixed = ebm.sample(m, sampler="mala", kernel=KernelOptions(step_size=0.3, adapt_step=False), chains=1,
                       draws=10, warmup=10, progress=False)
    np.testing.assert_allclose(fixed.sample_stats["step_size"], 0.3)  # adapt_step=False keeps the step


def test_a_knob_given_twice_is_an_error():
    from ebmppl.infer import KernelOptions, Layout
    m = ebm.parse("var x : real\nx ~ normal(0, 1)")
    with pytest.raises(EbmError, match=r"chains given both as a keyword and in layout="):
        ebm.sample(m, layout=Layout(chains=2), chains=2, progress=False)
    with pytest.raises(EbmError, match=r"step_size, target_accept given both as a keyword and in kernel="):
        ebm.sample(m, kernel=KernelOptions(), step_size=0.1, target_accept=0.5, progress=False)
    with pytest.raises(EbmError, match=r"layout= must be an ebmppl.infer.Layout"):
        ebm.sample(m, layout={"chains": 2}, progress=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Layout().chains = 3
