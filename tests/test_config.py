"""Global settings: float64 switch and the persistent cache of compiled programs."""

from __future__ import annotations

import os
import subprocess
import sys

import jax

import ebmppl
from ebmppl.settings import default_cache_dir
from tests.conftest import ROOT


def _run(code: str, **env) -> str:
    e = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# an ebmppl call that compiles (exact enumeration jits the sum over states)
_COMPILE = "ebmppl.logz(ebmppl.parse('var s : spin[2]\\nfactor f = -s[0] * s[1]'))\n"


def test_cache_on_by_default_in_the_users_cache_folder(tmp_path):
    """`import ebmppl` leaves the setting alone; the first ebmppl call that compiles switches the cache on."""
    got = _run("import ebmppl, jax\nbefore = jax.config.jax_compilation_cache_dir\n" + _COMPILE +
               "print(before, jax.config.jax_compilation_cache_dir)",
               EBMPPL_CACHE_DIR=str(tmp_path), EBMPPL_COMPILE_CACHE="1")
    assert got == f"None {tmp_path}"


def test_cache_can_be_switched_off_by_environment(tmp_path):
    got = _run("import ebmppl, jax\n" + _COMPILE + "print(jax.config.jax_compilation_cache_dir)",
               EBMPPL_CACHE_DIR=str(tmp_path), EBMPPL_COMPILE_CACHE="0")
    assert got == "None"


def test_a_users_own_cache_folder_is_kept(tmp_path):
    mine = tmp_path / "mine"
    got = _run(f"import jax\njax.config.update('jax_compilation_cache_dir', {str(mine)!r})\nimport ebmppl\n"
               + _COMPILE + "print(jax.config.jax_compilation_cache_dir)",
               EBMPPL_CACHE_DIR=str(tmp_path / "ebmppl"), EBMPPL_COMPILE_CACHE="1")
    assert got == str(mine)


def test_a_compiled_program_lands_in_the_cache_and_is_reused(tmp_path):
    """A program compiled in one process is written to the cache; a second process loads it (no XLA compile)."""
    code = ("import jax, jax.numpy as jnp, ebmppl\n" + _COMPILE +
            "n = []\n"
            "jax.monitoring.register_event_duration_secs_listener(lambda e, d, **k: "
            "n.append(e) if e == '/jax/core/compile/backend_compile_duration' else None)\n"
            "f = jax.jit(lambda x: jnp.sin(x) @ jnp.cos(x).T + 12345.0)\n"
            "f(jnp.ones((7, 7))).block_until_ready()\n"
            "print(len(n))")
    env = dict(EBMPPL_CACHE_DIR=str(tmp_path), EBMPPL_COMPILE_CACHE="1")
    first = int(_run(code, **env))
    assert first >= 1 and any(tmp_path.iterdir())
    # a cache hit still reports the (short) load as a backend event in some JAX versions: compare the files
    before = sorted(p.name for p in tmp_path.iterdir())
    _run(code, **env)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing new compiled and written


def test_the_second_fit_of_a_model_in_a_new_process_compiles_nothing(tmp_path):
    """`fit` switches the cache on before it compiles, so a second process finds every program there."""
    code = ("import ebmppl\nfrom ebmppl import fit\n"
            "ring = ebmppl.load('examples/ring.ebm')\n"
            "fit(ring, 'examples/data/ring.csv', method='ssm', steps=20, lr=0.05, progress=False)\n"
            "print('ok')")
    env = dict(EBMPPL_CACHE_DIR=str(tmp_path), EBMPPL_COMPILE_CACHE="1")
    assert _run(code, **env) == "ok" and any(tmp_path.iterdir())
    before = sorted(p.name for p in tmp_path.iterdir())
    _run(code, **env)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_config_switches_the_cache(tmp_path):
    old = jax.config.jax_compilation_cache_dir
    try:
        assert ebmppl.config(compile_cache=None)["compile_cache"] is None
        assert jax.config.jax_compilation_cache_dir is None
        assert ebmppl.config(compile_cache=tmp_path / "c")["compile_cache"] == str(tmp_path / "c")
        assert (tmp_path / "c").is_dir()
    finally:
        jax.config.update("jax_compilation_cache_dir", old)


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("EBMPPL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "ebmppl" / "jax"
    monkeypatch.setenv("EBMPPL_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
