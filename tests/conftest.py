"""Shared fixtures: paths, example models (loaded once per session), random inputs."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"

EXAMPLE_DATA = {
    "eight_schools": DATA / "eight_schools.json",
    "ark": DATA / "arK.json",
    "gp_pois_regr": DATA / "gp_pois_regr.json",
    "censored": DATA / "censored.json",
    "garch": DATA / "garch.json",
}
EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.ebm"))


def load_example(name: str):
    import ebmppl
    return ebmppl.load(EXAMPLES / f"{name}.ebm", data=EXAMPLE_DATA.get(name))


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """After each test module, drop the compiled programs it made (JAX's in-memory caches and the setups
    ``fit``/``sample`` keep), so the suite's memory stays that of one module rather than all of them; and check
    that the module left float64 as it found it (a CLI run with --x64 in the test process switches it on for
    every later test)."""
    x64 = bool(jax.config.jax_enable_x64)
    yield
    leaked = bool(jax.config.jax_enable_x64) != x64
    if leaked:
        jax.config.update("jax_enable_x64", x64)
    import gc
    import sys
    for name in ("ebmppl.infer.sample", "ebmppl.training.api"):
        mod = sys.modules.get(name)
        if mod is not None:
            mod._SETUPS.clear()
    jax.clear_caches()
    gc.collect()
    assert not leaked, "this module switched float64 on or off for the rest of the suite (restored)"


@pytest.fixture
def x64():
    """Compute in float64 inside the test."""
    with jax.enable_x64(True):
        yield


def random_values(model, key, n=None):
    """Random in-domain values for every var and latent (a batch of n if given)."""
    low = model.lowered
    out = {}
    keys = jax.random.split(jax.random.PRNGKey(key) if isinstance(key, int) else key, len(model.random) + 1)
    for k, s in zip(keys, model.random):
        shape = ((n,) if n else ()) + low.shapes[s.name]
        kind = s.domain.kind
        fd = jnp.result_type(float)
        if kind == "real":
            v = jax.random.normal(k, shape, fd)
        elif kind == "positive":
            v = jnp.exp(jax.random.normal(k, shape, fd))
        elif kind == "unit":
            v = jax.random.uniform(k, shape, fd, 0.01, 0.99)
        elif kind == "interval":
            lo, hi = low.domain_args[s.name]
            v = lo + (hi - lo) * jax.random.uniform(k, shape, fd, 0.01, 0.99)
        elif kind == "simplex":
            v = jax.random.dirichlet(k, jnp.ones(shape[-1], fd), shape[:-1])
        elif kind == "ordered":
            v = jnp.cumsum(jnp.exp(jax.random.normal(k, shape, fd)), axis=-1)
        elif kind == "binary":
            v = jax.random.bernoulli(k, 0.5, shape).astype(fd)
        elif kind == "spin":
            v = 2.0 * jax.random.bernoulli(k, 0.5, shape).astype(fd) - 1.0
        elif kind == "categorical":
            v = jax.random.randint(k, shape, 0, low.domain_args[s.name][0])
        else:
            v = jax.random.randint(k, shape, 0, 5)
        out[s.name] = v
    return out


def random_params(model, key):
    """Initial params plus noise, so tests do not depend on special initial values."""
    params = model.init_params(key)
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(key + 1), len(leaves))
    specs = {s.name: s for s in model.params}
    noisy = [l + 0.3 * jax.random.normal(k, l.shape, l.dtype) for l, k in zip(leaves, keys)]
    out = jax.tree_util.tree_unflatten(tree, noisy)
    for name, s in specs.items():  # keep constrained params in their domain
        if s.domain.kind == "positive":
            out[name] = jnp.abs(out[name]) + 0.1
    return out
