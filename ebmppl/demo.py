"""`ebmppl demo`: the whole workflow on a bundled example.

- ``ebmppl demo`` (``ring``): fit ``examples/ring.ebm`` to ``examples/data/ring.csv`` by sliced score
  matching, sample the fitted model with MALA (4 chains), diagnose the draws, compute log Z by quadrature and
  write params, samples, summary, report and figures under ``runs/demo``.
- ``ebmppl demo rbm``: fit ``examples/rbm.ebm`` to binarized 8x8 digits by persistent contrastive divergence,
  compute log Z exactly, draw digits by block Gibbs and write them beside real ones under ``runs/demo-rbm``.
- ``ebmppl demo --examples``: check every bundled example model and evaluate its energy on its data.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

# The demos' settings, chosen so that `ebmppl demo` finishes in about half a minute on two CPU cores.
# MALA crosses the ring slowly (about one lap per few thousand steps), so the chains are thinned by 50:
# 50 000 steps a chain give bulk ESS well above 400.
RING = {"steps": 1500, "lr": 0.05, "chains": 4, "draws": 1000, "warmup": 1000, "thin": 50}
RBM = {"steps": 2000, "lr": 0.01, "batch_size": 100, "average": 0.99, "chains": 32, "draws": 10, "warmup": 500,
       "thin": 1}


def examples_dir() -> Path:
    """The bundled examples: beside the package in a source checkout."""
    here = Path(__file__).resolve().parent.parent / "examples"
    return here


# example name -> (consts JSON, data CSV)
_DATA = {
    "eight_schools": ("eight_schools.json", None),
    "ark": ("arK.json", None),
    "gp_pois_regr": ("gp_pois_regr.json", None),
    "censored": ("censored.json", None),
    "garch": ("garch.json", None),
    "ring": (None, "ring.csv"),
    "gaussian": (None, "gaussian.csv"),
    "rbm": (None, "digits_binarized.csv"),
    "mlp": (None, "moons.csv"),
}


def default_out(target: str) -> Path:
    """Where a demo writes when no folder is given: runs/demo (ring) or runs/demo-rbm."""
    return Path("runs/demo" if target == "ring" else f"runs/demo-{target}")


def run_demo(target: str = "ring", out=None, examples=None, progress: bool = True, before_write=None,
             **sizes) -> int:
    """Run a demo (``ring`` or ``rbm``), or with ``examples`` (a folder, or "" for the bundled ones) check
    every example model. ``sizes`` (steps, draws, warmup, thin, chains; None = the default) shrink the runs;
    ``before_write`` is called once before the first file is written (the command line removes an earlier
    run's files there)."""
    from .settings import ensure_compile_cache
    from .errors import EbmError
    from .model.admit import require
    sizes = {k: require(v, "count" if k == "warmup" else "size", what=f"{k}=")
             for k, v in sizes.items() if v is not None}
    ensure_compile_cache()
    if examples is not None:
        return check_examples(examples or None)
    if target not in ("ring", "rbm"):
        raise EbmError("usage", f"unknown demo '{target}'", hint="choose ring or rbm")
    out = Path(out) if out is not None else default_out(target)
    demo = ring_demo if target == "ring" else rbm_demo
    return demo(out, progress, before_write or (lambda: None), **{**(RING if target == "ring" else RBM), **sizes})


def _fitted(res) -> None:
    """Stop the demo when its fit did not end well: Ctrl-C, or params that cannot be used."""
    if res.interrupted:
        raise KeyboardInterrupt()
    if not res.ok:
        from .errors import EbmError
        raise EbmError("fit", f"the demo's fit failed: {res.failure or res.stopped}")


def _step(text):
    print(f"\n== {text}", flush=True)


def ring_demo(out: Path, progress: bool, before_write, steps, lr, chains, draws, warmup, thin) -> int:
    """Fit, sample, diagnose and evaluate the ring model; write everything under ``out``."""
    import ebmppl
    from . import diagnostics
    from .io import read_csv, save_params
    t_all = time.perf_counter()
    folder = examples_dir()
    model_file, data_file = folder / "ring.ebm", folder / "data" / "ring.csv"
    print(f"ebmppl {ebmppl.__version__} demo: fit, sample and diagnose {model_file.name}; output in {out}/")
    model = ebmppl.load(model_file)
    data = read_csv(data_file, model)
    n = len(data["x"])

    _step(f"1. fit the ring's radius r and stiffness k to {n} points of {data_file.name} by sliced score "
          f"matching ({steps} steps)")
    t0 = time.perf_counter()
    res = ebmppl.fit(model, data, method="ssm", steps=steps, lr=lr, key=0, progress=progress)
    _fitted(res)
    params = {k: np.asarray(v) for k, v in res.params.items()}
    before_write()
    save_params(out / "params.npz", model, params,
                {"method": res.method, "options": res.options, "data": str(data_file),
                 "final": {"loss": float(res.history["loss"][-1]), "steps": int(len(res.history["loss"]))}})
    fit_line = (f"r = {float(params['r']):.3f}, k = {float(params['k']):.1f} (the data: radius 1 with noise sd "
                f"0.1, so k near 1 / (2 * 0.1^2) = 50), final loss {float(res.history['loss'][-1]):.3f}")
    print(f"   {fit_line}  ({time.perf_counter() - t0:.1f} s)")

    _step(f"2. sample the fitted model with MALA: {chains} chains x {draws} draws, thinned by {thin} "
          f"({draws * thin} steps a chain after {warmup} of warmup)")
    t0 = time.perf_counter()
    idata = ebmppl.sample(model, params=params, sampler="mala", chains=chains, draws=draws, warmup=warmup,
                          thin=thin, key=1, progress=progress)
    diagnostics.record_sources(idata, model_file, out / "params.npz")
    diagnostics.to_netcdf(idata, out / "samples.nc")
    acc = float(idata.sample_stats["acceptance_rate"].mean())
    print(f"   mean acceptance {acc:.3f} (MALA's target 0.574)  ({time.perf_counter() - t0:.1f} s)")

    _step("3. log Z by quadrature (the model is two-dimensional) and the data's log-likelihood")
    t0 = time.perf_counter()
    lz = ebmppl.logz(model, params, method="quadrature")
    ll = ebmppl.log_likelihood(model, params, data, logz=lz.value)
    print(f"   log Z = {lz.value:.4f} +/- {lz.stderr:.1g}; mean log-likelihood of the {n} training points "
          f"{ll.mean():.4f}  ({time.perf_counter() - t0:.1f} s)")

    _step("4. diagnose the draws: R-hat, ESS, acceptance, figures")
    t0 = time.perf_counter()
    preamble = "\n".join([
        f"`ebmppl demo` fitted `examples/ring.ebm` to `examples/data/ring.csv` ({n} points) by sliced score "
        f"matching ({steps} steps): {fit_line}.",
        "",
        f"It then drew {chains} MALA chains of {draws} draws, thinned by {thin}, after {warmup} warmup steps "
        f"(mean acceptance {acc:.3f}; MALA aims at 0.574). MALA moves around the ring slowly, hence the thinning.",
        "",
        f"log Z = {lz.value:.4f} +/- {lz.stderr:.1g} by quadrature; the mean log-likelihood of the training "
        f"points is {ll.mean():.4f}."])
    diagnosis, paths = diagnostics.write_report(idata, out, model=model, params=params, data=data,
                                                title="ebmppl demo: the ring model", preamble=preamble)
    print(diagnosis.text())
    print(f"   ({time.perf_counter() - t0:.1f} s)")

    print(f"\ndone in {time.perf_counter() - t_all:.1f} s. Files in {out}/:")
    for f in ["params.npz", "params.json", "samples.nc"] + [p.name for p in paths]:
        print(f"   {out / f}")
    print(f"open {out / 'report.md'} for the table, the warnings and the figures; "
          f"`ebmppl diagnose {out / 'samples.nc'}` redoes step 4.")
    return 0


def rbm_demo(out: Path, progress: bool, before_write, steps, lr, batch_size, average, chains, draws, warmup,
             thin) -> int:
    """Fit the RBM to binarized digits by PCD; write sampled digits beside real ones under ``out``."""
    import ebmppl
    from . import diagnostics, plots
    from .io import read_csv, save_params
    t_all = time.perf_counter()
    folder = examples_dir()
    model_file, data_file = folder / "rbm.ebm", folder / "data" / "digits_binarized.csv"
    print(f"ebmppl {ebmppl.__version__} demo: an RBM on binarized 8x8 digits ({model_file.name}); "
          f"output in {out}/")
    model = ebmppl.load(model_file)
    data = read_csv(data_file, model)
    n = len(data["v"])

    _step(f"1. fit W, b, c to {n} digits of {data_file.name} by persistent contrastive divergence "
          f"({steps} steps, batches of {batch_size}, block Gibbs)")
    t0 = time.perf_counter()
    res = ebmppl.fit(model, data, method="pcd", steps=steps, lr=lr, batch_size=batch_size, average=average,
                     key=0, progress=progress)
    _fitted(res)
    params = {k: np.asarray(v) for k, v in res.params.items()}
    before_write()
    save_params(out / "params.npz", model, params,
                {"method": res.method, "options": res.options, "data": str(data_file)})
    print(f"   ({time.perf_counter() - t0:.1f} s)")

    _step("2. log Z exactly (2^16 hidden states, visible units summed in closed form) and the log-likelihood")
    t0 = time.perf_counter()
    ll0 = ebmppl.log_likelihood(model, model.init_params(0), data).mean()
    ll = ebmppl.log_likelihood(model, params, data).mean()
    print(f"   mean log-likelihood per digit: {ll:.2f} nats after fitting ({ll0:.2f} at the initial params; "
          f"{64 * np.log(2):.2f} = 64 log 2 is a coin flip per pixel)  ({time.perf_counter() - t0:.1f} s)")

    _step(f"3. draw digits by block Gibbs: {chains} chains, the last of {draws} draws after {warmup} sweeps "
          f"of warmup")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ: "more chains than draws" is intended here
        idata = ebmppl.sample(model, params=params, sampler="gibbs", chains=chains, draws=draws, warmup=warmup,
                              thin=thin, key=1, progress=progress)
    diagnostics.record_sources(idata, model_file, out / "params.npz")
    diagnostics.to_netcdf(idata, out / "samples.nc")
    sampled = np.asarray(idata.posterior["v"])[:, -1]
    rng = np.random.default_rng(0)
    real = data["v"][rng.choice(n, size=len(sampled), replace=False)] if len(sampled) <= n else data["v"]
    path = plots.digit_grid(real, sampled, out / "digits.png",
                            title=f"RBM fitted by pcd ({steps} steps): real digits and Gibbs samples")
    print(f"   ({time.perf_counter() - t0:.1f} s)")

    print(f"\ndone in {time.perf_counter() - t_all:.1f} s. Files in {out}/:")
    for f in ("params.npz", "params.json", "samples.nc", path.name):
        print(f"   {out / f}")
    return 0


def check_examples(folder=None) -> int:
    """Check every example model in ``folder`` (default: the bundled ones) and evaluate its energy on its data."""
    import ebmppl
    from .io import read_csv

    folder = Path(folder) if folder else examples_dir()
    files = sorted(folder.glob("*.ebm"))
    if not files:
        from .errors import EbmError
        raise EbmError("io", f"no .ebm examples found in '{folder}'")
    print(f"ebmppl {ebmppl.__version__} demo: checking {len(files)} example models in {folder}\n")
    t_all = time.perf_counter()
    for path in files:
        t0 = time.perf_counter()
        consts, csv = _DATA.get(path.stem, (None, None))
        model = ebmppl.load(path, data=folder / "data" / consts if consts else None)
        params = model.init_params(0)
        low = model.lowered
        n_par = sum(int(np.prod(l.shape)) for l in jax.tree_util.tree_leaves(params))
        kinds = ", ".join(f"{s.name}: {s.type_str()}" for s in model.random)
        print(f"{path.name:<20} {len(model.factors)} factor(s), {n_par} param values; {kinds}")
        print(f"{'':<20} model = {_tree(model)}; free energy: {low.free_energy_plan()[0]}")
        if csv:
            data = read_csv(folder / "data" / csv, model)
            names = [s.name for s in model.vars]
            batch = {k: jnp.asarray(data[k]) for k in names}
            fn = model.free_energy if model.latents else model.energy
            f = jax.jit(jax.vmap(lambda v: fn(params, v)))
            e = np.asarray(f(batch))
            what = "free energy" if model.latents else "energy"
            print(f"{'':<20} mean {what} over {len(e)} rows of data/{csv}: {e.mean():.4f} "
                  f"(min {e.min():.4f}, max {e.max():.4f})")
        else:
            v = low.example_values()
            e = float(jax.jit(model.energy)(params, v))
            print(f"{'':<20} energy at a default point: {e:.4f}")
        print(f"{'':<20} ({time.perf_counter() - t0:.2f} s)\n")
    print(f"all {len(files)} examples checked in {time.perf_counter() - t_all:.1f} s.")
    print("next: `ebmppl check examples/ring.ebm` prints a model's summary; docs/dsl.md describes the language.")
    return 0


def _tree(model) -> str:
    from .model.spec import tree_str
    return tree_str(model.effective_tree)
