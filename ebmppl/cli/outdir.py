"""Output folders: checked before any work, one run at a time, never mixing with or silently replacing an
earlier run's results.

A command that writes (``fit``, ``sample``, ``score``, ``diagnose``, ``demo``) opens its ``--out`` with
:func:`output_folder` before it loads anything:

1. the folder is created if missing (and removed again if the run ends with nothing in it); a path that is a
   file, lies under a file or cannot be written is an ``error[output]`` then, not after a long fit;
2. a lock file, ``.ebmppl.lock``, is created with ``O_CREAT | O_EXCL`` and holds the run's pid, so a second
   run into the same folder stops with an ``error[output]``; a lock left by a run that has ended (its pid is
   gone) is taken over with a warning;
3. once the command's inputs are read, :meth:`OutDir.check_free` refuses a folder that holds the results of
   an earlier run of the command (:data:`RESULTS`) unless ``--overwrite`` was given; then
   :meth:`OutDir.claim`, just before the first write (``fit`` removes the earlier checkpoints before training,
   since its own go there), removes that run's files, so no earlier file is left beside the new ones (an old report beside new
   params). An input of the run is never removed.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from ..errors import EbmError

LOCK = ".ebmppl.lock"
_FRESH_S = 10.0  # a lock without a pid this young may be one being written: it is kept


def _diagnose_files() -> tuple:
    from ..diagnostics import FIGURES
    return ("summary.csv", "report.md", *FIGURES.values())


_FIT = ("params.npz", "params.json", "history.csv", "loss.png", "fit-report.md", "fit-report-*.png", "checkpoints")
# command -> the names (glob patterns) of what it writes into its folder
RESULTS = {
    "fit": _FIT,
    "sample": ("samples.nc",),
    "score": ("scores.csv",),
    "diagnose": _diagnose_files,
    "demo": lambda: (*_FIT, "samples.nc", *_diagnose_files(), "digits.png"),
}


def results_of(command: str) -> tuple:
    names = RESULTS[command]
    return names() if callable(names) else names


class OutDir:
    """One run's output folder (made by :func:`output_folder`)."""

    def __init__(self, path: Path, command: str, overwrite: bool, own: bool, keep: tuple, flag: str):
        self.path, self.command, self.overwrite, self.own, self.keep, self.flag = \
            path, command, overwrite, own, keep, flag
        self.created: list[Path] = []
        self.lock: Path | None = None
        self.earlier: list[Path] = []

    def __truediv__(self, name) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    # -------------------------------------------------------- an earlier run
    def check_free(self, inputs: Mapping[str, object] = ()) -> None:
        """Refuse a folder holding an earlier run's results (unless --overwrite, or the folder is this run's,
        as for ``fit --resume``); ``inputs`` (what the run reads, by option) are never to be removed."""
        found = sorted({p for pattern in results_of(self.command) for p in self.path.glob(pattern)
                        if p.name not in self.keep})
        if found and not (self.overwrite or self.own):
            names = ", ".join(p.name for p in found[:6]) + (", ..." if len(found) > 6 else "")
            again = " (pass --resume to continue it)" if self.command == "fit" and \
                (self.path / "checkpoints").exists() else ""
            raise EbmError("output", f"the output folder '{self.path}' holds the results of an earlier run "
                                     f"({names}){again}",
                           hint=f"choose another {self.flag}, or pass --overwrite to replace that run's files")
        for what, given in dict(inputs).items():
            if given is None:
                continue
            src = Path(given).resolve()
            for p in found:
                target = p.resolve()
                if src == target or target in src.parents:
                    raise EbmError("output", f"--overwrite would remove '{p}', which this run reads ({what})",
                                   hint=f"copy it elsewhere first, or choose another {self.flag}")
        self.earlier = found

    def claim(self, only: tuple = ()) -> None:
        """Remove the earlier run's files found by :meth:`check_free` (called just before the first write);
        with ``only``, just those of these names (``fit`` removes the earlier checkpoints before training)."""
        import shutil
        now = [p for p in self.earlier if not only or p.name in only]
        self.earlier = [p for p in self.earlier if p not in now]
        for p in now:
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
            except OSError as e:
                raise EbmError("output", f"cannot remove the earlier run's '{p}': {e.strerror or e}",
                               hint=f"remove it yourself, or choose another {self.flag}") from None

    # -------------------------------------------------------- the folder
    def make(self) -> None:
        """Create the folder and its missing parents (remembered, to remove them if they stay empty)."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise EbmError("output", f"{self.flag} '{p}' is a file, not a folder",
                           hint=f"give a folder for {self.flag}, or move the file away")
        missing = []
        for q in (p, *p.parents):  # up to the nearest folder that exists
            if q.is_dir():
                break
            if q.exists() or q.is_symlink():
                raise EbmError("output", f"cannot create the output folder '{p}': {_not_a_folder(q)}",
                               hint=f"give another {self.flag}")
            missing.append(q)
        for q in reversed(missing):
            try:
                q.mkdir()
            except OSError as e:
                raise EbmError("output", f"cannot create the output folder '{p}': {e.strerror or e}",
                               hint=f"give a folder you can write to for {self.flag}") from None
            self.created.append(q)

    def take_lock(self) -> None:
        """``.ebmppl.lock`` with this process's pid, created exclusively; a stale one (its pid gone) is taken
        over with a warning. Creating it is also the test that the folder can be written."""
        path = self.path / LOCK
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                text = _read(path)
                pid = _pid(text)
                if _held(pid, path):
                    raise EbmError("output", f"another ebmppl run (pid {pid if pid is not None else 'unknown'}) is "
                                             f"writing to '{self.path}'",
                                   hint=f"wait for it to end, or choose another {self.flag} (if no such run "
                                        f"exists, remove {path})") from None
                print(f"warning: {path} was left by a run that has ended (pid {pid if pid is not None else 'unknown'})"
                      f"; taking it over", file=sys.stderr)
                if _read(path) == text:  # not taken over by another run meanwhile
                    path.unlink(missing_ok=True)
                continue
            except OSError as e:
                raise EbmError("output", f"the output folder '{self.path}' cannot be written: {e.strerror or e}",
                               hint=f"give a folder you can write to for {self.flag}") from None
            self.lock = path
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(f"{os.getpid()}\n")
            except OSError as e:
                path.unlink(missing_ok=True)
                self.lock = None
                raise EbmError("output", f"the output folder '{self.path}' cannot be written: {e.strerror or e}",
                               hint=f"give a folder you can write to for {self.flag}") from None
            return
        raise EbmError("output", f"another ebmppl run is taking over the lock of '{self.path}'",
                       hint=f"choose another {self.flag}")

    def release(self) -> None:
        """Remove the lock, and the folders this run created if they are empty."""
        if self.lock is not None and _pid(_read(self.lock)) == os.getpid():
            self.lock.unlink(missing_ok=True)
        self.lock = None
        for q in reversed(self.created):  # the deepest first
            try:
                q.rmdir()
            except OSError:
                break
        self.created = []


@contextmanager
def output_folder(path, command: str, *, overwrite: bool = False, own: bool = False, keep: tuple = (),
                  flag: str = "--out") -> Iterator[OutDir]:
    """The run's output folder, made, locked and checked writable; released (lock removed, folders this run
    created removed if empty) however the run ends.

    ``own``: the folder is this run's (``fit --resume``): its results are replaced without --overwrite;
    ``keep``: names :meth:`OutDir.claim` leaves in place (the checkpoints a resume reads)."""
    out = OutDir(Path(path), command, overwrite, own, keep, flag)
    try:
        out.make()
        out.take_lock()
        yield out
    finally:
        out.release()


def _not_a_folder(q: Path) -> str:
    if q.is_symlink() and not q.exists():
        return f"'{q}' is a link to '{os.readlink(q)}', which does not exist"
    return f"'{q}' is a file"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[:100]
    except OSError:
        return ""


def _pid(text: str):
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _held(pid, path: Path) -> bool:
    """Is the lock held by a live process? Without a pid, only while it is young (its writer may not have
    written the pid yet)."""
    if pid is None:
        try:
            return time.time() - path.stat().st_mtime < _FRESH_S
        except OSError:
            return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True
