"""Progress on stderr for long runs: "compiling…" until the first compiled chunk returns, then a smoothed
rate that leaves compilation out, an ETA, and a bar redrawn at most every few seconds (tqdm).

The numbers come from :class:`Rate`, which reads an injectable clock, so they can be tested without
waiting; :class:`Progress` shows them with ``tqdm.auto`` (a widget in a notebook, a line in a terminal)
and limits how often the line is rewritten (``mininterval``: 0.5 s on a terminal, 10 s when stderr is a
file or a pipe, so a long run's log stays small).

Example::

    with Progress(total=1000, desc="fit") as bar:
        for t in range(50, 1001, 50):
            run_chunk()
            bar.update(t, loss=0.5)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

MININTERVAL_TTY = 0.5  # seconds between redraws on a terminal
MININTERVAL_LOG = 10.0  # when stderr is a file or a pipe: one line every 10 s at most
SMOOTHING = 0.3  # tqdm's own exponential smoothing factor (its default)


@dataclass
class Rate:
    """Steps per second after compilation, smoothed, and the time left.

    The first :meth:`advance` marks the end of compilation (the first compiled chunk has returned); the
    rate counts only the steps and seconds after it: an exponential moving average of the chunks' steps
    over their seconds (``smoothing`` the weight of the newest chunk, as in tqdm)."""

    total: int
    start: int = 0
    clock: Callable[[], float] = time.perf_counter
    smoothing: float = SMOOTHING
    n: int = field(init=False)
    began: float = field(init=False)
    compiled_at: Optional[float] = field(init=False, default=None)
    compiled_n: int = field(init=False, default=0)
    last: float = field(init=False, default=0.0)
    _dn: float = field(init=False, default=0.0)
    _dt: float = field(init=False, default=0.0)

    def __post_init__(self):
        self.n = self.start
        self.began = self.clock()

    def advance(self, n: int) -> None:
        """``n`` steps are done (a count, not an increment)."""
        now = self.clock()
        if self.compiled_at is None:
            self.compiled_at, self.compiled_n, self.n, self.last = now, n, n, now
            return
        dn, dt = n - self.n, now - self.last
        if dn <= 0:
            return
        a = self.smoothing if self._dt > 0 else 1.0
        self._dn, self._dt = a * dn + (1 - a) * self._dn, a * dt + (1 - a) * self._dt
        self.n, self.last = n, now

    @property
    def compile_seconds(self) -> Optional[float]:
        """Seconds until the first chunk returned (compilation and that chunk's own steps)."""
        return None if self.compiled_at is None else self.compiled_at - self.began

    @property
    def rate(self) -> Optional[float]:
        """The smoothed steps per second since compilation (None before a chunk after the first)."""
        return self._dn / self._dt if self._dt > 0 else None

    @property
    def average(self) -> Optional[float]:
        """Steps per second over everything since compilation."""
        if self.compiled_at is None or self.last <= self.compiled_at:
            return None
        return (self.n - self.compiled_n) / (self.last - self.compiled_at)

    @property
    def eta(self) -> Optional[float]:
        """Seconds left at the smoothed rate."""
        r = self.rate
        return None if not r else max(0, self.total - self.n) / r

    def text(self) -> str:
        """``9,870 steps/s, ETA 0:12``, or ``compiling…`` before the first chunk has returned."""
        if self.compiled_at is None:
            return "compiling…"
        if self.rate is None:
            return f"compiled in {self.compile_seconds:.1f} s"
        return f"{_number(self.rate)} steps/s, ETA {_clock(self.eta)}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def mininterval(stream=None) -> float:
    """How often the bar may be redrawn on ``stream`` (stderr by default)."""
    stream = stream if stream is not None else sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return MININTERVAL_TTY if tty else MININTERVAL_LOG


class Progress:
    """A progress bar (``tqdm.auto``) fed by a :class:`Rate`; a no-op when ``enabled`` is false.

    Use it as a context manager: leaving it (also by an exception, e.g. Ctrl-C) closes the bar and ends
    its line, so whatever is printed next starts on a line of its own."""

    def __init__(self, total: int, desc: str, *, start: int = 0, enabled: bool = True,
                 clock: Callable[[], float] = time.perf_counter, file=None):
        self.rate = Rate(int(total), int(start), clock)
        self.desc, self.enabled, self.file = desc, enabled, file
        self.bar = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from tqdm.auto import tqdm
            stream = self.file if self.file is not None else sys.stderr
            self.stream = stream
            self.bar = tqdm(total=self.rate.total, initial=self.rate.start, desc=self.desc, file=stream,
                            mininterval=mininterval(stream), dynamic_ncols=True, unit="step",
                            postfix=self.rate.text(), bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                                                 "{n_fmt}/{total_fmt}{postfix}")
        return self

    def update(self, n: int, **shown) -> None:
        """``n`` steps done; ``shown`` (e.g. ``loss=0.12``) is printed beside the rate."""
        first = self.rate.compiled_at is None
        self.rate.advance(n)
        if self.bar is None:
            return
        extra = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())
        self.bar.set_postfix_str(", ".join(x for x in (extra, self.rate.text()) if x), refresh=False)
        self.bar.update(n - self.bar.n)
        if first:  # the end of compilation is news: show it now, whatever the interval
            self.bar.refresh()

    def note(self, text: str) -> None:
        """A line of text above the bar (the bar is redrawn below it)."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.file if self.file is not None else sys.stderr)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            if exc[0] is None and self.rate.average:
                self.bar.set_postfix_str(f"{_number(self.rate.average)} steps/s after compiling "
                                         f"({self.rate.compile_seconds:.1f} s)", refresh=False)
            self.bar.close()
            self.bar = None


def status(text: str, enabled: bool = True, file=None) -> None:
    """One line of status on stderr (e.g. ``sample: compiling…``) before a bar that another library draws."""
    if enabled:
        print(text, file=file if file is not None else sys.stderr, flush=True)
