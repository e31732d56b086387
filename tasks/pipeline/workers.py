"""A process pool for the CPU-bound per-batch work.

Cleaning is Python-heavy (regex, ftfy), so threads would serialize on the GIL. Prefect tasks
run in a small thread pool and each hands its unit to this process pool, which uses the
"spawn" start method: forking a process that runs Prefect's threads and event loop is unsafe.
Workers import only the stage modules, never Prefect, so they start fast and start no server.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run(workers: int, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in the shared pool (in this process when ``workers`` <= 1)."""
    if workers <= 1:
        return fn(*args)
    try:
        return _get_pool(workers).submit(fn, *args).result()
    except BrokenProcessPool:
        shutdown()  # a worker died (killed, out of memory): the next call starts afresh
        raise


def run_many(workers: int, fn: Callable[..., T], jobs: list[tuple[Any, ...]]) -> list[T]:
    """``[fn(*job) for job in jobs]``, spread over the pool; results in job order."""
    if workers <= 1:
        return [fn(*job) for job in jobs]
    pool = _get_pool(workers)
    try:
        return [future.result() for future in [pool.submit(fn, *job) for job in jobs]]
    except BrokenProcessPool:
        shutdown()
        raise


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown()
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            _pool_size = workers
            _start_workers(_pool, workers)
        return _pool


def _ready() -> int:
    time.sleep(0.05)  # hold the worker so that each warm-up job gets a process of its own
    return os.getpid()


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker now, without re-importing the parent's ``__main__`` module.

    "spawn" children normally re-run the parent's main module; under
    ``python -m newsclean.flows.clean_corpus`` that imports Prefect into every worker (100 MB
    each, measured). Workers only need the pipeline, so the main module's spec and file are hidden
    while the processes start; the pool starts them on submit, so warm-up jobs start them all.
    """
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__
    }
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        for future in [pool.submit(_ready) for _ in range(workers)]:
            future.result()
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def shutdown() -> None:
    """Stop the pool (end of a flow run)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown()
            _pool = None
