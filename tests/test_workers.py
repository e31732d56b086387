"""The worker pool: results come back in order, and a dead worker does not poison later calls."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from newsclean.tasks.pipeline import workers

pytestmark = pytest.mark.process


def _square(x: int) -> int:
    return x * x


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_run_many_keeps_job_order() -> None:
    try:
        assert workers.run_many(2, _square, [(i,) for i in range(7)]) == [i * i for i in range(7)]
        assert workers.run_many(1, _square, [(3,)]) == [9]
    finally:
        workers.shutdown()


def test_killed_worker_raises_then_pool_recovers() -> None:
    try:
        with pytest.raises(BrokenProcessPool):
            workers.run(2, _die)
        assert workers.run(2, _square, 4) == 16
    finally:
        workers.shutdown()
