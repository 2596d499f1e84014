"""Local worker pools whose processes never outlive the process that started them.

``ProcessPoolExecutor`` workers block on a pipe and are not told when their parent dies: after
``kill -9`` of a sweep they used to go on computing queued points and then hang for good.
:func:`local_pool` starts its workers so that each one exits within about a second of its
parent's death, whatever killed the parent:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker as soon as the
  parent goes. The signal fires when the *thread* that spawned the worker exits, so every
  worker is spawned at once, from the thread that creates the pool, and the signal is armed
  only when that is the main thread (a pool made in a short-lived thread would otherwise lose
  its workers when that thread ends);
* everywhere, a daemon watchdog thread that polls ``os.getppid()`` and calls ``os._exit(1)``
  when the worker has been re-parented (its parent died, possibly before ``prctl`` took effect).

Workers use the ``spawn`` start method: the parent may hold locks in other threads (progress
bars, the pool's own manager thread) that a forked child would inherit locked.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
#: Seconds between two checks of the watchdog thread.
WATCHDOG_INTERVAL = 0.5


def _set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent (thread) dies;
    False, doing nothing, elsewhere or when ``prctl`` is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(interval)


def die_with_parent(parent_pid: int, pdeathsig: bool = True,
                    interval: float = WATCHDOG_INTERVAL) -> None:
    """Make the calling process exit when ``parent_pid`` is no longer its parent: arm
    ``PR_SET_PDEATHSIG`` (Linux, when ``pdeathsig``), exit at once if the parent is already
    gone, and start a daemon thread that checks every ``interval`` seconds."""
    if pdeathsig:
        _set_parent_death_signal()
    # The parent may have died before prctl took effect: the signal would then never come.
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, interval), daemon=True,
                     name="routebench-parent-watchdog").start()


def _init_worker(parent_pid: int, pdeathsig: bool,
                 initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent_pid, pdeathsig)
    if initializer is not None:
        initializer(*initargs)


def local_pool(jobs: int, initializer: Callable[..., Any] | None = None,
               initargs: Iterable[Any] = ()) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``jobs`` spawned workers that exit when this process dies
    (``kill -9`` included). All workers are started now, from the calling thread; use the pool
    as a context manager or call :func:`stop_pool`. ``initializer(*initargs)`` runs in each
    worker after the parent watch is set up."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    on_main_thread = threading.current_thread() is threading.main_thread()
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(), on_main_thread, initializer, tuple(initargs)),
    )
    # Spawn every worker here, in this thread, rather than lazily on submit (possibly from
    # another thread): PR_SET_PDEATHSIG is tied to the spawning thread. Each worker gets its
    # share of the cores for OpenMP / BLAS (FAISS, numpy), read when it imports them, so
    # ``jobs`` workers do not each start a thread per core and fight over them.
    launch = getattr(pool, "_launch_processes", None)
    if callable(launch):
        with _thread_share(jobs):
            launch()
    return pool


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _thread_share(jobs: int):
    """Set the OpenMP / BLAS thread counts that processes spawned in the body inherit to this
    machine's cores divided by ``jobs`` (at least 1), unless the user set them; restore after."""
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for key, value in saved.items():
        if value is None:
            os.environ[key] = share
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def worker_pids(pool: ProcessPoolExecutor) -> list[int]:
    """Process ids of the pool's live workers (empty when the executor does not expose them)."""
    processes = getattr(pool, "_processes", None) or {}
    return [p.pid for p in list(processes.values()) if p.pid is not None and p.is_alive()]


def stop_pool(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Stop at once: cancel queued work and terminate the workers (SIGTERM, then SIGKILL after
    ``timeout`` seconds), for an interrupt. Work in progress is lost; finished work is kept."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
