"""The value of a log partition function: :class:`LogZ`, and where a mixture component's came from.

A plain value (no estimation here): the estimators live in :mod:`ebmppl.partition`, which returns
these; the model algebra (:mod:`ebmppl.model.compose`) records one per mixture component.
"""

from __future__ import annotations

from typing import NamedTuple


class LogZ(NamedTuple):
    """An estimate of log Z: value, standard error (0 when exact), method and a description."""

    value: float
    stderr: float
    method: str
    detail: str

    def __repr__(self) -> str:
        detail = self.detail if len(self.detail) <= 60 else self.detail[:57] + "..."
        return f"LogZ(value={float(self.value)!r}, stderr={float(self.stderr)!r}, method={self.method!r}, detail={detail!r})"

    def _repr_html_(self) -> str:
        import html
        err = f" ± {self.stderr:.3g}" if self.stderr else ""
        return (f"<div><b>log Z</b> = {self.value:.6g}{err} <code>{html.escape(self.method)}</code>: "
                f"{html.escape(self.detail)}</div>")


def normalized() -> LogZ:
    """The log Z of a normalized density: 0, exactly."""
    return LogZ(0.0, 0.0, "normalized", "a normalized density")


def supplied(value, detail: str = "given to ebmppl.mixture") -> LogZ:
    """A log Z given as a number (no error bar recorded)."""
    return LogZ(float(value), 0.0, "supplied", detail)


def recorded(z: LogZ) -> LogZ:
    """A copy of an estimate with plain float fields (an estimate may hold NumPy scalars)."""
    return LogZ(float(z.value), float(z.stderr), z.method, z.detail)
