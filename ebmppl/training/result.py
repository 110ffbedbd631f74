"""What :func:`ebmppl.fit` returns: :class:`FitResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class FitResult:
    """What :func:`ebmppl.fit` returns.

    Attributes:
        params: fitted params (constrained, like ``model.init_params``).
        history: per-step arrays ``step``, ``loss``, ``grad_norm``, ``time``, the method's own
            figures (cd/pcd: ``e_pos``, ``e_neg``; nce/fce: ``logz``; vi: ``logz_bound``) and per-check
            ``val_step``, ``val_loss``.
        method, options: what was run.
        extra: the method's own trained values (NCE's ``logz``, a flow's params, ...).
        state: the method's carried state at the end (persistent chains).
        stopped: why training ended ('steps', 'early stopping', or the non-finite message).
        fingerprint: the fitted model's fingerprint.

    A training report of a result is :func:`ebmppl.report.fit_report` ``(model, result, data)``.
    """

    params: dict
    history: dict
    method: str
    options: dict
    extra: dict = field(default_factory=dict)
    state: Any = None
    stopped: str = "steps"
    fingerprint: str = ""

    @property
    def logz(self) -> Optional[float]:
        """NCE's learned log Z, if the method learned one."""
        v = self.extra.get("logz")
        return None if v is None else float(v)
