"""A stop request from outside (Ctrl-C, SIGTERM) that long loops check between their compiled chunks.

The command line's signal handler raises ``KeyboardInterrupt`` where Python happens to be; when that lands
where Python swallows exceptions (a ``__del__``, a weakref or garbage-collector callback: "Exception ignored
in ..."), the request recorded here still stops the loop at its next chunk boundary.
"""

from __future__ import annotations

_requested = [False]


def request() -> None:
    """Record a stop request (the signal handler calls this before raising ``KeyboardInterrupt``)."""
    _requested[0] = True


def clear() -> None:
    """Forget any earlier request (a command starts and ends with none)."""
    _requested[0] = False


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested and not yet acted on (the request is consumed)."""
    if _requested[0]:
        _requested[0] = False
        raise KeyboardInterrupt()
