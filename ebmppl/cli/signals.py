"""Ctrl-C and SIGTERM while a command runs: the first stops the work where it is (a ``KeyboardInterrupt``, which
``fit``'s loop turns into a result marked interrupted); a second, or one while results are being written, stops
at once (:class:`Abort`), and no partial file is written.

The signals are also counted, so an interrupt that reaches the command disguised (a ``KeyboardInterrupt`` raised
inside a JAX host callback comes back as a runtime error) still ends it as interrupted, never as a traceback.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

from .. import stopping

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Abort(BaseException):
    """A second Ctrl-C (or one while results are written): stop now, write nothing more.

    Not a ``KeyboardInterrupt``, so nothing that handles the first one (the training loop saving its last
    checkpoint) catches it."""


@dataclass
class Interrupts:
    """What the signal handler has seen, and whether results are being written."""

    count: int = 0
    signum: Optional[int] = None
    writing: bool = False

    @property
    def seen(self) -> bool:
        return self.count > 0

    @property
    def name(self) -> str:
        return "Ctrl-C" if self.signum in (None, signal.SIGINT) else signal.Signals(self.signum).name

    def handler(self, signum, frame):
        self.count += 1
        self.signum = signum
        if self.count > 1 or self.writing:
            raise Abort()
        stopping.request()  # acted on at the next chunk even if this KeyboardInterrupt is swallowed
        raise KeyboardInterrupt()

    @contextmanager
    def writing_results(self) -> Iterator[None]:
        """While results are written, a signal aborts at once (the writes are atomic: no partial file)."""
        self.writing = True
        try:
            yield
        finally:
            self.writing = False


@contextmanager
def handled() -> Iterator[Interrupts]:
    """Install the handlers for SIGINT and SIGTERM (in the main thread only) and restore the old ones after."""
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    old = {s: signal.getsignal(s) for s in SIGNALS}
    stopping.clear()
    for s in SIGNALS:
        signal.signal(s, state.handler)
    try:
        yield state
    finally:
        stopping.clear()
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
