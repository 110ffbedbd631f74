"""`ebmppl demo`: check every bundled example and evaluate its energy on bundled data."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def examples_dir() -> Path:
    """The bundled examples: beside the package in a source checkout."""
    here = Path(__file__).resolve().parent.parent / "examples"
    return here


# example name -> (consts JSON, data CSV)
_DATA = {
    "eight_schools": ("eight_schools.json", None),
    "ark": ("arK.json", None),
    "gp_pois_regr": ("gp_pois_regr.json", None),
    "ring": (None, "ring.csv"),
    "gaussian": (None, "gaussian.csv"),
    "rbm": (None, "digits_binarized.csv"),
    "mlp": (None, "moons.csv"),
}


def run_demo(folder=None) -> int:
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
