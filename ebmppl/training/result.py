"""What :func:`ebmppl.fit` returns: :class:`FitResult`, which saves itself to a folder, and :func:`load_fit`,
which reads one back."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..model.summary import param_lines, param_table, param_values


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
        loop: the loop's settings (batch size, learning rate, optimizer, seed, clipping, averaging, chunk).
        model_name: the fitted model's name.

    ``history`` also holds each param's per-step trace, recorded inside the compiled steps: a scalar param's
    value as ``param:NAME``, an array param's L2 norm as ``norm:NAME``. :attr:`param_table` is the table
    ``ebmppl fit`` prints; :meth:`save` writes the result to a folder and :func:`load_fit` reads it back.

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
    loop: dict = field(default_factory=dict)
    model_name: str = ""

    @property
    def ok(self) -> bool:
        """The run ended as asked (all its steps, or early stopping) with usable params."""
        return self.failure is None and not self.interrupted and self.params_usable

    @property
    def logz(self) -> Optional[float]:
        """NCE's learned log Z, if the method learned one."""
        v = self.extra.get("logz")
        return None if v is None else float(v)

    @property
    def param_table(self) -> str:
        """The fitted params, one line each: in full when small, else ``shape  mean  sd  min  max``."""
        return param_table(self.params)

    def save(self, folder) -> Path:
        """Write the result into ``folder`` (made if missing): ``params.npz``, ``history.npz``,
        ``extras.npz`` (the method's extras and carried state, when it has any) and ``params.json``, the
        same layout ``ebmppl fit --out`` writes; :func:`load_fit` reads it back. Nothing is pickled.

        Raises:
            EbmError: the params are not usable (kind ``output``), or a file cannot be written.

        Example:
            >>> res.save("runs/ring")              # doctest: +SKIP
            >>> ebmppl.load_fit("runs/ring")       # doctest: +SKIP
        """
        from .saved import refuse_unusable, write_fit
        refuse_unusable(self)
        try:
            write_fit(self, folder)
        except OSError as e:
            from ..errors import EbmError
            raise EbmError("output", f"cannot save the fit in '{folder}': {e.strerror or e}",
                           hint="check the folder's space and permissions") from None
        return Path(folder)

    def _final_loss(self) -> str:
        loss = self.history.get("loss", ())
        return f"{float(loss[-1]):.6g}" if len(loss) else "none"

    def __repr__(self) -> str:
        vals = param_values(self.params)
        shown = [f"{k}={_short(v)}" for k, v in list(vals.items())[:6]]
        more = ", ..." if len(vals) > 6 else ""
        return (f"FitResult(method={self.method!r}, steps={self.steps_done}, final loss {self._final_loss()}, "
                f"stopped={self.stopped!r}, params: {', '.join(shown)}{more})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(line.split('  ', 1)[0])}</code></td>"
                       f"<td>{html.escape(line.split('  ', 1)[1].strip())}</td></tr>"
                       for line in param_lines(self.params))
        return (f"<div><b>FitResult</b>: <code>{html.escape(self.method)}</code>, {self.steps_done} steps, "
                f"final loss {self._final_loss()} ({html.escape(self.stopped)})"
                f"<table><tr><th>param</th><th>value</th></tr>{rows}</table></div>")


def _short(v) -> str:
    """A param's value in a repr: a number, a small array's numbers, or a large one's shape."""
    if isinstance(v, dict):
        return f"<array {'x'.join(map(str, v['shape']))}>"
    if isinstance(v, list):
        a = np.asarray(v)
        if a.ndim > 1 or a.size > 3:
            return f"<array {'x'.join(map(str, a.shape))}>"
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def load_fit(folder, model=None) -> FitResult:
    """The :class:`FitResult` saved in ``folder`` by :meth:`FitResult.save` or ``ebmppl fit --out``: params
    in the dtypes and shapes they were saved with, history, options, the loop's settings, the method's
    extras and carried state. Nothing is unpickled.

    Args:
        folder: the folder.
        model: the fitted model, to check the params against (its fingerprint, shapes and domains).

    Raises:
        EbmDataError: a file is missing, unreadable, of another run, of another model, or does not match
            what ``params.json`` records of it (shape, dtype, digest).

    Example:
        >>> res = ebmppl.load_fit("runs/ring")   # doctest: +SKIP
    """
    from .saved import read_fit
    return FitResult(**read_fit(folder, model))
