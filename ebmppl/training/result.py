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
        stopped: why training ended: 'steps', 'early stopping at step N: ...', 'interrupted at step N'
            (Ctrl-C), or 'stopped at step N: ...' (a non-finite loss, or params that are not usable).
        fingerprint: the fitted model's fingerprint.
        steps_done: the steps the params and history have reached (a resumed run counts from 0).
        interrupted: Ctrl-C ended the run; the params and history are those of the last whole chunk
            (checkpointed when checkpoints were on).
        failure: why the result is not a success, or None: a non-finite loss (the params are the last
            finite ones) or params outside their domain or not finite.
        params_usable: the params are finite and inside every param's domain; when False they must not be
            used or written as fitted params.

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
    steps_done: int = 0
    interrupted: bool = False
    failure: Optional[str] = None
    params_usable: bool = True

    @property
    def ok(self) -> bool:
        """The run ended as asked (all its steps, or early stopping) with usable params."""
        return self.failure is None and not self.interrupted and self.params_usable

    @property
    def logz(self) -> Optional[float]:
        """NCE's learned log Z, if the method learned one."""
        v = self.extra.get("logz")
        return None if v is None else float(v)
