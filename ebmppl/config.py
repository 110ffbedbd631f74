"""Global numeric settings: float32 by default, float64 on request."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def config(x64: bool | None = None) -> dict:
    """Set (and return) ebmppl's numeric settings.

    Args:
        x64: True to compute in float64 (JAX's ``jax_enable_x64``); call it
            before creating arrays. False goes back to float32.

    Example:
        >>> ebmppl.config(x64=True)
        {'x64': True}
    """
    if x64 is not None:
        jax.config.update("jax_enable_x64", bool(x64))
    return {"x64": bool(jax.config.jax_enable_x64)}


def float_dtype():
    """The current default float dtype (float32, or float64 under ``config(x64=True)``)."""
    return jnp.result_type(float)


def int_dtype():
    return jnp.result_type(int)
