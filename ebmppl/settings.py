"""Global settings: float32 by default, float64 on request; a persistent cache of compiled programs."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp

CACHE_MAX_BYTES = 2 << 30  # least recently used entries are evicted beyond this


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("EBMPPL_CACHE_DIR") or Path(base) / "ebmppl" / "jax")


def set_compile_cache(path) -> str | None:
    """Keep compiled programs (XLA executables) on disk in ``path``; ``None`` or ``False`` switches it off.

    A training chunk or a sampler takes seconds to compile and is the same program for every seed
    and every data set of the same shape, so a second ``fit`` or ``sample`` — in this process or
    the next — loads it instead. Returns the folder in use, or None. A folder that cannot be
    created leaves the cache off (nothing else changes).
    """
    if not path:
        jax.config.update("jax_compilation_cache_dir", None)
        return None
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    return str(path)


_cache_state = {"done": False}


def ensure_compile_cache() -> str | None:
    """Switch on the persistent compile cache the first time ebmppl is about to compile (``fit``,
    ``sample``, ``logz``), not at import: ``import ebmppl`` changes no JAX setting. Later calls, and a
    choice made with :func:`config` first, are left alone."""
    if _cache_state["done"]:
        return jax.config.jax_compilation_cache_dir
    _cache_state["done"] = True
    return init_compile_cache()


def init_compile_cache() -> str | None:
    """On by default in :func:`default_cache_dir`; ``EBMPPL_COMPILE_CACHE=0`` keeps it off, and a
    cache folder the user already gave JAX is left alone."""
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    if os.environ.get("EBMPPL_COMPILE_CACHE", "1").strip().lower() in ("0", "off", "false", "no"):
        return None
    return set_compile_cache(default_cache_dir())


_UNSET = object()


def config(x64: bool | None = None, compile_cache=_UNSET) -> dict:
    """Set (and return) ebmppl's global settings.

    Args:
        x64: True to compute in float64 (JAX's ``jax_enable_x64``); call it
            before creating arrays. False goes back to float32.
        compile_cache: a folder for the persistent cache of compiled programs (on by default in
            ``~/.cache/ebmppl/jax``, or ``$EBMPPL_CACHE_DIR``; ``EBMPPL_COMPILE_CACHE=0`` starts with it
            off), or None/False to switch it off.

    Example:
        >>> ebmppl.config(x64=True)["x64"]
        True
    """
    if x64 is not None:
        jax.config.update("jax_enable_x64", bool(x64))
    if compile_cache is not _UNSET:
        _cache_state["done"] = True  # the user's choice stands
        set_compile_cache(compile_cache)
    return {"x64": bool(jax.config.jax_enable_x64), "compile_cache": jax.config.jax_compilation_cache_dir}


def float_dtype():
    """The current default float dtype (float32, or float64 under ``config(x64=True)``)."""
    return jnp.result_type(float)


def int_dtype():
    return jnp.result_type(int)
