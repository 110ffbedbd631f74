"""Several processes as one run: joining JAX's multi-controller runtime (``jax.distributed``), sharing a
run's chains between its processes and gathering their draws.

Each process of a multi-process run calls :func:`initialize` (``ebmppl sample --distributed`` does) before
anything else touches JAX. Where the settings come from, first found wins:

1. the arguments (``--coordinator HOST:PORT --num-processes N --process-id I`` on the command line);
2. the environment: JAX's ``JAX_COORDINATOR_ADDRESS`` with ``EBMPPL_NUM_PROCESSES`` and
   ``EBMPPL_PROCESS_ID`` (what ``ebmppl launch`` sets);
3. JAX's own detection of the clusters it knows (SLURM, Open MPI, Kubernetes, Cloud TPU).

On CPU the processes talk through gloo, so a run of several local processes works on one machine.

    >>> import ebmppl
    >>> ebmppl.distributed.initialize("127.0.0.1:12345", num_processes=2, process_id=0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Optional

from .errors import EbmError
from .vocabulary import knob

ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"  # JAX's own name; it reads it too
ENV_NUM_PROCESSES = "EBMPPL_NUM_PROCESSES"
ENV_PROCESS_ID = "EBMPPL_PROCESS_ID"
ENV_TIMEOUT = "EBMPPL_DISTRIBUTED_TIMEOUT"
TIMEOUT = 60  # seconds to wait for the coordinator and for every process to join
_GRACE = 15  # JAX's own deadline is later than ours, so that ours, with its message, comes first
_joined: dict = {}  # the settings this process joined a run with (empty: it has not)


def initialize(coordinator: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None, *, timeout: Optional[float] = None) -> dict:
    """Join this process to a multi-process run (``jax.distributed.initialize``), before any JAX computation.

    Args:
        coordinator: ``HOST:PORT`` of process 0 (it listens there); default from the environment or the cluster.
        num_processes: how many processes the run has.
        process_id: this process's number, 0 to ``num_processes - 1``.
        timeout: seconds to wait for the coordinator to answer and for every process to join (default
            ``EBMPPL_DISTRIBUTED_TIMEOUT``, else 60).

    Returns:
        ``{"coordinator", "num_processes", "process_id"}`` as joined (``None`` where JAX's cluster detection
        chose).

    Raises:
        EbmError (``usage``): a setting out of range, the coordinator unreachable within ``timeout``, or a
        second call with other settings. When the coordinator answers but not every process joins within
        ``timeout``, JAX's runtime would abort the process; this process instead prints the error and exits
        with code 2.
    """
    from .model.admit import require  # here: `ebmppl launch` reads this module's names without JAX
    if timeout is None:
        timeout = _env_number(ENV_TIMEOUT, float) or TIMEOUT
    timeout = require(timeout, "positive", what=f"timeout= ({ENV_TIMEOUT})")
    want = _settings(coordinator, num_processes, process_id)
    if _joined:
        if want != _joined:
            raise EbmError("usage", f"this process already joined a run ({_describe(_joined)}); "
                                    f"it cannot join another ({_describe(want)})")
        return dict(_joined)
    import jax
    if want["coordinator"] is not None:
        _check_reachable(want, timeout)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    watchdog = _watchdog(want, timeout)
    try:
        jax.distributed.initialize(want["coordinator"], want["num_processes"], want["process_id"],
                                   initialization_timeout=int(timeout) + _GRACE)
    except (ValueError, RuntimeError) as e:
        raise EbmError("usage", f"cannot join a multi-process run: {str(e).splitlines()[0]}",
                       hint=f"pass {knob('coordinator')}, {knob('num_processes')} and {knob('process_id')} (or "
                            f"set {ENV_COORDINATOR}, {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID}), or run under a "
                            f"cluster JAX detects (SLURM, Open MPI, Kubernetes)") from None
    finally:
        watchdog.cancel()
    _joined.update(want)
    return dict(want)


def _settings(coordinator, num_processes, process_id) -> dict:
    """The settings from the arguments, else from the environment, each admitted."""
    from .model.admit import require
    env = os.environ
    coordinator = coordinator if coordinator is not None else env.get(ENV_COORDINATOR) or None
    n = num_processes if num_processes is not None else _env_number(ENV_NUM_PROCESSES)
    i = process_id if process_id is not None else _env_number(ENV_PROCESS_ID)
    if n is not None:
        n = require(n, "size", what=knob("num_processes"))
    if i is not None:
        i = require(i, "count", what=knob("process_id"))
        if n is not None and i >= n:
            raise EbmError("usage", f"{knob('process_id', i)} is not one of the run's {n} processes (0 to {n - 1})",
                           hint=f"number the processes 0, 1, ..., {n - 1}")
    if coordinator is not None:
        _address(coordinator)
        coordinator = str(coordinator).strip()
        if n is None or i is None:
            raise EbmError("usage", f"a coordinator ({coordinator}) needs the number of processes and this "
                                    f"process's id", hint=f"pass {knob('num_processes')} and {knob('process_id')} "
                                                          f"(or set {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID})")
    return {"coordinator": coordinator, "num_processes": n, "process_id": i}


def _env_number(name: str, kind=int):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise EbmError("usage", f"{name}={text!r} is not a {'whole ' if kind is int else ''}number") from None


def _address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) split and admitted."""
    from .model.admit import require
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.strip().isdigit():
        raise EbmError("usage", f"the coordinator address {text!r} is not HOST:PORT",
                       hint="for example 127.0.0.1:12355 or node001:12355")
    port = require(int(port), "size", what="the coordinator's port")
    if port > 65535:
        raise EbmError("usage", f"the coordinator's port must be at most 65535; got {port}")
    return host.strip("[]"), port


def _check_reachable(want: dict, timeout: float) -> None:
    """Process 0 can listen on the coordinator's port; every other process can reach it within ``timeout``
    (JAX's runtime would abort the process instead of raising)."""
    host, port = _address(want["coordinator"])
    if want["process_id"] == 0:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("", port))
            except OSError as e:
                raise EbmError("usage", f"process 0 cannot listen on port {port} for the coordinator: "
                                        f"{e.strerror or e}", hint=f"choose a free port ({knob('coordinator')})"
                               ) from None
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, timeout)):
                return
        except OSError as e:
            last = e.strerror or str(e)
        if time.monotonic() >= deadline:
            raise EbmError("usage", f"the coordinator {want['coordinator']} did not answer within {timeout:g} s "
                                    f"({last})", hint="start process 0 first (it is the coordinator), check the "
                                                      "address and port, and that no firewall is in the way")
        time.sleep(0.2)


def _watchdog(want: dict, timeout: float) -> threading.Timer:
    """A timer that, should the processes not all join in time, prints the error and ends this process with
    exit code 2 (the runtime's own deadline, a little later, would abort it with a C++ stack trace)."""
    n = want["num_processes"]
    err = EbmError("usage", f"not all {n if n is not None else 'the'} processes joined the run within {timeout:g} s "
                            f"(this is process {want['process_id']})",
                   hint=f"start every process with the same {knob('coordinator')} and {knob('num_processes')}, "
                        f"and each with its own {knob('process_id')}")  # spelled here: the timer's thread has
    # not this call's interface (Python or command line)

    def expire():
        print(err.render(), file=sys.stderr, flush=True)
        os._exit(2)
    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    return timer


# ------------------------------------------------------------------- chains
def process_count() -> int:
    """How many processes the run has (1 unless :func:`initialize` joined a run)."""
    import jax
    return jax.process_count()


def process_index() -> int:
    """This process's number in the run (0 alone)."""
    import jax
    return jax.process_index()


def is_main() -> bool:
    """Whether this process writes the run's files (process 0)."""
    return process_index() == 0


def chain_share(chains: int, distributed: Optional[bool] = None) -> Optional[tuple[int, int]]:
    """The chains ``[lo, hi)`` this process runs, or None when it runs them all (alone, or
    ``distributed=False``). ``distributed=True`` joins a run first (:func:`initialize` from the environment or
    the cluster) unless this process has. Chain ``c`` runs on process ``c // (chains / processes)``."""
    if distributed is False:
        return None
    if distributed and not _joined:
        initialize()
    n = process_count()
    if n == 1:
        return None
    if chains % n:
        raise EbmError("usage", f"{chains} chains cannot be shared evenly by {n} processes",
                       hint=f"use a multiple of {n} chains")
    per = chains // n
    lo = process_index() * per
    return lo, lo + per


def gather_chains(tree):
    """Every process's chains of ``tree`` (arrays with the chain axis first), concatenated in process order,
    on every process (``multihost_utils.process_allgather``)."""
    import numpy as np
    from jax.experimental import multihost_utils
    return {k: np.asarray(v) for k, v in multihost_utils.process_allgather(dict(tree), tiled=True).items()}


def _describe(s: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items() if v is not None) or "detected by JAX"
