"""``ebmppl launch -n N -- COMMAND ...``: a multi-process run on one machine, without a cluster scheduler — and
how a command joins such a run (``--distributed``) and leaves the writing to process 0.

The launcher starts N copies of the command (an ebmppl command such as ``sample m.ebm``, or any program) with
the coordinator's settings in their environment (the loopback address and a free port; see
:mod:`ebmppl.distributed`), prints each process's stderr lines prefixed with ``[i]``, forwards Ctrl-C and
SIGTERM to them as SIGINT (a second one kills them), stops the others when one fails, and exits with the worst
exit code.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

GRACE_S = 20.0  # after one process fails, how long the others get to end on their own before SIGTERM
KILL_S = 10.0  # after SIGTERM (or a second Ctrl-C), how long before SIGKILL


def add_parser(sub) -> None:
    """``launch``'s arguments (the parser's function for this command)."""
    p = sub.add_parser("launch", help="run a command as N local processes of one multi-process run",
                       description="Start N processes of COMMAND (an ebmppl command such as `sample m.ebm`, or "
                                   "any program) on this machine, joined as one run through a coordinator on "
                                   "127.0.0.1 (JAX_COORDINATOR_ADDRESS, EBMPPL_NUM_PROCESSES and "
                                   "EBMPPL_PROCESS_ID in their environment; an ebmppl command joins as with "
                                   "--distributed). Each process's stderr lines are prefixed with [i]; Ctrl-C is "
                                   "forwarded; the exit code is the worst of the processes'.")
    p.add_argument("-n", "--num-processes", dest="num_processes", type=int, required=True,
                   help="the number of processes")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the command each process runs, after --")
    p.add_argument("--x64", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(quiet=False, verbose=False, json=False)


def cmd_launch(args, ctx) -> int:
    from ..distributed import ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID
    from ..errors import EbmError
    argv = list(args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
    if not argv:
        raise EbmError("usage", "launch needs a command to run", hint="e.g. ebmppl launch -n 2 -- sample m.ebm")
    from .parser import build_parser
    if argv[0] in _commands(build_parser()):
        argv = [sys.executable, "-m", "ebmppl", *argv]
    address = f"127.0.0.1:{_free_port()}"
    procs = []
    for i in range(args.num_processes):
        env = {**os.environ, ENV_COORDINATOR: address, ENV_NUM_PROCESSES: str(args.num_processes),
               ENV_PROCESS_ID: str(i)}
        try:  # a session of its own: a terminal's Ctrl-C reaches the launcher, which forwards it once
            procs.append(subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, start_new_session=True))
        except OSError as e:
            _signal_all(procs, signal.SIGKILL)
            raise EbmError("usage", f"cannot start {argv[0]!r}: {e.strerror or e}") from None
    readers = [threading.Thread(target=_prefix, args=(i, p.stderr), daemon=True) for i, p in enumerate(procs)]
    for r in readers:
        r.start()
    codes = _wait(procs)
    for r in readers:
        r.join(timeout=5)
    return max(codes, key=_badness)


def _commands(parser: argparse.ArgumentParser) -> set:
    return {name for a in parser._subparsers._group_actions for name in a.choices}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefix(i: int, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stderr.write(f"[{i}] {line.decode(errors='replace')}")
        sys.stderr.flush()


def _wait(procs) -> list[int]:
    """The exit codes (a process killed by signal s: 128 + s), forwarding interrupts; once one process has
    failed, the others are stopped (SIGTERM, then SIGKILL) if they have not ended within GRACE_S."""
    failed_at, stopped_at, interrupts = None, None, 0
    while True:
        try:
            codes = [p.poll() for p in procs]
            if all(c is not None for c in codes):
                return [128 - c if c < 0 else c for c in codes]
            now = time.monotonic()
            if failed_at is None and any(c not in (None, 0) for c in codes):
                failed_at = now
            if failed_at is not None and stopped_at is None and now - failed_at > GRACE_S:
                stopped_at = now
                _signal_all(procs, signal.SIGTERM)
            if stopped_at is not None and now - stopped_at > KILL_S:
                _signal_all(procs, signal.SIGKILL)
            time.sleep(0.05)
        except BaseException as e:  # KeyboardInterrupt, or the CLI's Abort on a second signal
            if not isinstance(e, KeyboardInterrupt) and type(e).__name__ != "Abort":
                raise
            interrupts += 1  # the first is forwarded (a fit then writes the params it reached); a second kills
            _signal_all(procs, signal.SIGINT if interrupts == 1 else signal.SIGKILL)


def _signal_all(procs, signum) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signum)
            except ProcessLookupError:
                pass


def _badness(code: int) -> tuple:
    return (code != 0, code)


# ------------------------------------------------------------ joining a run
def join_run(args) -> bool:
    """Join the multi-process run the options name (``--distributed``, ``--coordinator``, or the environment
    ``ebmppl launch`` sets), if any; returns whether this process writes the results (process 0, or alone)."""
    from .. import distributed
    coordinator = getattr(args, "coordinator", None)
    if not (getattr(args, "distributed", False) or coordinator is not None
            or os.environ.get(distributed.ENV_PROCESS_ID)):
        return True
    distributed.initialize(coordinator, getattr(args, "num_processes", None), getattr(args, "process_id", None))
    return distributed.is_main()


class _Unwritten:
    """The output folder of a process that writes nothing (not process 0): paths, never files."""

    def __init__(self, path):
        self.path = Path(path)

    def __truediv__(self, name):
        return self.path / name

    def check_free(self, *args, **kwargs) -> None:
        pass

    def claim(self) -> None:
        pass


@contextmanager
def unwritten_folder(path, *args, **kwargs) -> Iterator[_Unwritten]:
    """Stands in for :func:`.outdir.output_folder` on a process other than 0: nothing is created or locked."""
    yield _Unwritten(path)


def add_options(p: argparse.ArgumentParser) -> None:
    """``--distributed`` and the coordinator's settings, for a command that can run as several processes."""
    g = p.add_argument_group("multi-process runs (see docs/scale.md)")
    g.add_argument("--distributed", action="store_true",
                   help="join a multi-process run (settings from the options below, the environment or the "
                        "cluster: SLURM, Open MPI, Kubernetes); only process 0 writes")
    g.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                   help="process 0's address (implies --distributed)")
    g.add_argument("--num-processes", type=int, default=None, help="the number of processes in the run")
    g.add_argument("--process-id", type=int, default=None, help="this process's number, 0 to N-1")
