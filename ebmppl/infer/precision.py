"""The precision guard of a NUTS/HMC run: after sampling in float32, warn (the ``precision`` warning of
:func:`ebmppl.diagnostics.precision`) when the chains show the signs of too few digits, with the adapted mass
matrix and the last gradients from NumPyro's final state besides the draws' statistics."""

from __future__ import annotations

import warnings
from typing import Optional

import jax
import numpy as np

from .. import diagnostics
from ..settings import float_dtype


def final_state(mcmc) -> tuple[Optional[np.ndarray], bool]:
    """(the adapted inverse mass matrix, one row per chain, or None; whether every last gradient is finite) of
    NumPyro's last HMC state (inside HMCGibbs's state for a model with discrete variables)."""
    state = getattr(mcmc, "last_state", None)
    state = getattr(state, "hmc_state", state)
    adapt = getattr(state, "adapt_state", None)
    if adapt is None:
        return None, True
    grads = jax.tree_util.tree_leaves(getattr(state, "z_grad", {}))
    finite = all(bool(np.all(np.isfinite(np.asarray(g)))) for g in grads)
    mass = adapt.inverse_mass_matrix
    blocks = list(mass.values()) if isinstance(mass, dict) else [mass]
    lead = np.ndim(np.asarray(state.i))  # 1 with a chain axis (several chains), else 0
    chains = int(np.shape(np.asarray(state.i))[0]) if lead else 1
    if not blocks or any(np.ndim(b) != lead + 1 for b in blocks):
        return None, finite  # a dense mass matrix: its spread is not read here
    rows = np.concatenate([np.asarray(b, float).reshape(chains, -1) for b in blocks], axis=1)
    return rows, finite


def check(sampler: str, stats: dict, mcmc) -> None:
    """Warn when a float32 NUTS/HMC run (``stats``: its per-draw statistics; ``mcmc``: NumPyro's MCMC after the
    run) shows the signs of precision failure."""
    if sampler not in ("nuts", "hmc") or np.dtype(float_dtype()) != np.float32 or not stats:
        return
    mass, finite = final_state(mcmc) if mcmc is not None else (None, True)
    for w in diagnostics.precision(stats.get("diverging"), stats.get("step_size"), True, sampler, mass, finite):
        warnings.warn(f"{w.message}; {w.hint}", UserWarning, stacklevel=3)
