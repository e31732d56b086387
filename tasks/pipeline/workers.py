"""A process pool for the CPU-bound per-batch work.

Cleaning is Python-heavy (regex, ftfy), so threads would serialize on the GIL. Prefect tasks
run in a small thread pool and each hands its unit to this process pool. Forking the process
that runs Prefect's threads and event loop is unsafe, so workers come from a *forkserver*: a
clean interpreter, started once per run (early: :func:`prestart`), that has imported the
pipeline and loaded every stage's dictionaries and models (:data:`PRELOAD`,
:mod:`newsclean.tasks.pipeline.preload`), and forks each worker from itself. A phase that
wants fresh workers (``fresh_workers`` in the chain: one phase's memory never stacks on the
next) still gets new processes, but they start with the imports and resources in place: on
the demo, spawned workers spent about 40 % of the run's CPU importing (py-spy), and forked
ones loading symspellpy and py3langid once per worker per phase. Workers never import Prefect
and start no server.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

#: What the forkserver imports once, so that every worker it forks starts with them.
PRELOAD = ["newsclean.tasks.pipeline.preload"]

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run(workers: int, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in the shared pool (in this process when ``workers`` <= 1)."""
    if workers <= 1:
        return fn(*args)
    return _run_in(workers, fn, *args)


def run_alone(workers: int, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a pool of one worker process (in this process when ``workers``
    <= 1): for a step that is one job, such as the dedup decision.

    Why: in a pool of ``workers`` processes the others sit idle through the job, each
    holding the forkserver's preloaded pages in its RSS (at 1 GB: a 364 MB idle worker beside
    the 963 MB dedup worker, measured). A pool of one starts in about 0.02 s.
    """
    if workers <= 1:
        return fn(*args)
    return _run_in(1, fn, *args)


def _run_in(size: int, fn: Callable[..., T], *args: Any) -> T:
    try:
        return _get_pool(size).submit(fn, *args).result()
    except BrokenProcessPool:
        shutdown()  # a worker died (killed, out of memory): the next call starts afresh
        raise


def submit(workers: int, fn: Callable[..., T], *args: Any) -> Future[T]:
    """``fn(*args)`` started in the shared pool (``workers`` > 1); the caller collects it."""
    return _get_pool(workers).submit(fn, *args)


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
            _pool = ProcessPoolExecutor(workers, mp_context=_context())
            _pool_size = workers
            _start_workers(_pool, workers)
        return _pool


def _context() -> multiprocessing.context.BaseContext:
    """The forkserver context with :data:`PRELOAD` (spawn where there is no forkserver)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def prestart(workers: int = 0) -> None:
    """Start the forkserver now, so that its imports and the stages' resources load while
    this process does something else (the CLI: Prefect's import and server start). Returns at
    once; the first pool waits for the forkserver to be ready. Nothing when the run will have
    no pool (``workers`` 1, or 0 on a one-core machine)."""
    if (workers or default_workers()) <= 1:
        return
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _ready() -> int:
    time.sleep(0.05)  # hold the worker so that each warm-up job gets a process of its own
    return os.getpid()


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker now, without re-importing the parent's ``__main__`` module.

    Forkserver (and spawn) children normally re-run the parent's main module; under
    ``python -m newsclean.flows.clean_corpus`` that imports Prefect into every worker (100 MB
    each, measured). Workers only need the pipeline, so the main module's spec and file are hidden
    while the processes start; the pool starts them on submit, so warm-up jobs start them all.
    The warm-ups are not waited for: a process has its spec once ``submit`` returns, and
    waiting for them cost every pool (one per phase) about 0.08 s of the run's critical path.
    """
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__
    }
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        for _ in range(workers):
            pool.submit(_ready)  # starts its process now (start() sends the main module's spec)
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
