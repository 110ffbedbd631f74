"""What a training report measured: :class:`Report`, with the :class:`Moments` and :class:`Chains` in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np


class Moments(NamedTuple):
    """Per-dimension mean and standard deviation of the data and of the model's samples."""

    labels: tuple
    data_mean: np.ndarray
    data_sd: np.ndarray
    sample_mean: np.ndarray
    sample_sd: np.ndarray


@dataclass(frozen=True)
class Chains:
    """One sampling run of the fitted model: its layout, and R-hat / bulk ESS per dimension.

    Attributes:
        sampler: the kernel (``gibbs``, ``mala``, ...).
        start: ``"data rows"`` (rows kept out of the comparison), ``"persistent chains"`` (pcd's)
            or ``"random starts"``.
        chains, draws, warmup, thin: the layout (``draws`` kept per chain, every ``thin``-th step).
        rhat, ess_bulk: split R-hat and bulk ESS per flattened dimension of the vars (NaN where
            every draw is the same, so they are undefined).
        mmd, p_value: the :func:`mmd_test` of the chains' last states against the data rows.
    """

    sampler: str
    start: str
    chains: int
    draws: int
    warmup: int
    thin: int
    rhat: np.ndarray
    ess_bulk: np.ndarray
    mmd: float
    p_value: float

    @property
    def rhat_max(self) -> float:
        return float(np.nanmax(self.rhat)) if np.any(np.isfinite(self.rhat)) else float("nan")

    @property
    def ess_min(self) -> float:
        return float(np.nanmin(self.ess_bulk)) if np.any(np.isfinite(self.ess_bulk)) else float("nan")


@dataclass(frozen=True)
class Report:
    """What :func:`fit_report` measured (and wrote, when it had an ``out_dir``).

    Attributes:
        method, steps, stopped: the fit's method, its number of steps and why it stopped.
        final_loss, final_val_loss: the last training and validation losses (None without validation).
        n_data, n_samples: data rows and model draws in the sample-vs-data check.
        mmd, p_value, bandwidth, permutations: the :func:`mmd_test` of the model's draws (the last
            state of each chain) against the data rows.
        moments: :class:`Moments` of the same draws and rows, per flattened dimension of the vars.
        chains: the :class:`Chains` that made the draws, with their R-hat and ESS.
        persistent: pcd: its persistent chains continued with the same kernel (:class:`Chains`), else None.
        energies: cd/pcd: ``e_pos``, ``e_neg`` and ``gap`` averaged over the last tenth of the steps
            (``tail`` steps), and ``gap_se``, the gap's standard error by batch means (NaN when too few).
        accuracy: ce: the fraction of data rows whose label the classifier gets right.
        params: the fitted params' values (:func:`ebmppl.model.summary.param_values`).
        ksd, ksd_p_value: the kernel Stein discrepancy (KSD², :func:`ebmppl.ksd`) of the fitted model against the
            same data rows and its wild-bootstrap p-value; None for a model it does not apply to (vars that
            are not all ``real``, continuous latents).
        files: the files written.
    """

    method: str
    steps: int
    stopped: str
    final_loss: Optional[float]
    final_val_loss: Optional[float]
    n_data: int
    n_samples: int
    mmd: float
    p_value: float
    bandwidth: float
    permutations: int
    moments: Moments
    chains: Chains
    persistent: Optional[Chains] = None
    energies: dict = field(default_factory=dict)
    accuracy: Optional[float] = None
    params: dict = field(default_factory=dict)
    ksd: Optional[float] = None
    ksd_p_value: Optional[float] = None
    files: tuple = ()

    @property
    def gap_off_zero(self) -> bool:
        """cd/pcd: the energy gap lies more than 3 standard errors from zero (the chains' mean energy is not
        the data's, so the chains do not sample the fitted model, or it does not fit)."""
        e = self.energies
        se = e.get("gap_se", float("nan"))
        return bool(e) and np.isfinite(se) and abs(e["gap"]) > 3 * se
