"""The worker pool: results come back in order, and a dead worker does not poison later calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from newsclean.tasks.pipeline import workers

pytestmark = pytest.mark.process
REPO = Path(__file__).resolve().parents[1]


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


def test_run_alone_uses_one_worker_process_and_no_idle_ones() -> None:
    """A one-job step (dedup, learn, merge-vocabulary) runs in a pool of one process, so no
    idle worker holds memory beside it; with ``workers`` <= 1 it runs in this process."""
    try:
        assert workers.run_many(2, _square, [(1,), (2,)]) == [1, 4]
        pid = workers.run_alone(2, os.getpid)
        assert pid != os.getpid()
        assert workers._pool is not None and len(workers._pool._processes) == 1
        assert workers.run_alone(2, os.getpid) == pid  # the same one process
        assert workers.run_alone(1, os.getpid) == os.getpid()
        assert workers.run_many(2, _square, [(3,), (4,)]) == [9, 16]  # back to two
        assert len(workers._pool._processes) == 2
    finally:
        workers.shutdown()


def _loaded_resources() -> dict[str, int]:
    """What a worker has loaded before it did any work (read in the worker)."""
    from newsclean.tasks.rules import PACKS, pack
    from newsclean.tasks.stages import language, spelling, typos

    return {
        "symspell": typos._symspell.cache_info().currsize,
        "bigrams": typos.bigram_index.cache_info().currsize,
        "variants": spelling.variant_table.cache_info().currsize,
        "langid": language.paragraph_identifier.cache_info().currsize,
        "rule packs": pack.cache_info().currsize,
        "all packs": len(PACKS),
    }


def test_workers_are_forked_with_every_stage_resource_loaded() -> None:
    """The forkserver preloads the chain's stages' resources (tasks/pipeline/preload.py):
    a fresh worker has symspellpy's index, the bigram list, the spelling variants and
    py3langid's model before its first job, instead of loading them itself; and every rule
    pack, parsed, checked and compiled (a worker used to load them again when it built its
    stages: 0.8 s of worker CPU per 100 MB run)."""
    workers.shutdown()
    try:
        workers.prestart(2)
        loaded = workers.run(2, _loaded_resources)
        packs = loaded.pop("all packs")
        assert loaded == {
            "symspell": 1, "bigrams": 1, "variants": 1, "langid": 1, "rule packs": packs,
        }  # fmt: skip
    finally:
        workers.shutdown()


def _pandas_in_worker() -> tuple[bool, str]:
    """Whether this worker has pandas after building Arrow from Python lists, then what
    ``to_pandas()`` gives (read in the worker)."""
    import pyarrow as pa

    from newsclean.tasks.schema import DOC_SCHEMA

    pa.array(["text", None], pa.string())
    pa.table({"n": [1, 2], "words": [["a"], []]})
    pa.Table.from_pylist([], schema=DOC_SCHEMA)
    imported = "pandas" in sys.modules
    return imported, type(pa.table({"n": [1, 2]}).to_pandas()).__name__


def test_workers_build_arrow_from_lists_without_importing_pandas() -> None:
    """pyarrow imports pandas at its first list conversion unless it has found none
    (preload.answer_pandas_probe): a worker does not have it, and ``to_pandas()`` still
    works there."""
    workers.shutdown()
    try:
        workers.prestart(2)
        assert workers.run(2, _pandas_in_worker) == (False, "DataFrame")
    finally:
        workers.shutdown()


def test_prestart_does_nothing_without_a_pool(monkeypatch) -> None:
    """One worker runs in-process: no forkserver is started for it."""
    from multiprocessing import forkserver

    started = []
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append(True))
    workers.prestart(1)
    assert started == []
    workers.prestart(2)
    assert started == [True]


def _main_module_file() -> str | None:
    """The parent's main module as re-run in this worker, if it was (read in the worker)."""
    import sys

    main = sys.modules.get("__mp_main__")
    return getattr(main, "__file__", None) if main is not None else None


def test_every_worker_starts_without_re_running_the_parents_main_module(tmp_path: Path) -> None:
    """Each pool starts all its workers up front with the main module hidden (under
    ``python -m newsclean.flows.clean_corpus`` re-running it imported Prefect into every
    worker), without waiting for them: the jobs after the warm-ups still find it hidden."""
    script = tmp_path / "main_script.py"
    script.write_text(
        "from newsclean.tasks.pipeline import workers\n"
        "from tests.test_workers import _main_module_file\n"
        "if __name__ == '__main__':\n"
        "    print(workers.run_many(2, _main_module_file, [()] * 6))\n"
        "    workers.shutdown()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([None] * 6)
