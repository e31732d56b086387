"""The head start: a run begun while Prefect's server boots, adopted by the flow.

``newsclean run`` begins the run and hands its first pass's units to the worker pool before
the server answers (tasks/pipeline/ahead.py); the run the flow then drives must be the same
run with the same output, and a head start nobody adopts must leave the folder free."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from newsclean.tasks.pipeline import ahead, steps
from newsclean.tasks.pipeline.state import RunParams
from newsclean.tasks.storage.run_state import check_lock

pytestmark = pytest.mark.process


def _articles(out: Path) -> list[tuple[str, str]]:
    table = pd.read_parquet(out / "articles", columns=["doc_id", "text"])
    return sorted(zip(table["doc_id"], table["text"], strict=True))


def test_the_flow_adopts_the_begun_run_and_collects_its_first_pass(
    demo_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted: list[str] = []  # unit jobs the driver itself sent to the pool, by pass
    run = steps.workers.run

    def counting(workers: int, fn: Any, *args: Any) -> Any:
        if fn is steps.run_unit:
            submitted.append(args[0].step)
        return run(workers, fn, *args)

    params = RunParams(raw_dir=str(demo_raw), out_dir=str(tmp_path / "ahead"), workers=2)
    assert steps.start_ahead(params)
    head = ahead.registered_head()
    assert head is not None and head.state.ahead == ("scan-raw", "plan-units")
    pending = list(head.pending.values())
    assert pending and head.job is not None and head.job.step == "clean-unit"
    monkeypatch.setattr(steps.workers, "run", counting)
    state = steps.run_inline(params)
    assert state.run.run_id == head.state.run.run_id
    assert all(future.done() for future in pending) and head.pending == {}
    assert "clean-unit" not in submitted and "correct-typos" in submitted
    assert ahead.registered_head() is None
    monkeypatch.setattr(steps.workers, "run", run)

    plain = steps.run_inline(
        RunParams(raw_dir=str(demo_raw), out_dir=str(tmp_path / "plain"), workers=2)
    )
    assert plain.summary["kept"] == state.summary["kept"]
    assert _articles(tmp_path / "ahead") == _articles(tmp_path / "plain")


def test_an_abandoned_head_start_frees_the_output_folder(demo_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "clean"
    params = RunParams(raw_dir=str(demo_raw), out_dir=str(out), workers=2)
    assert steps.start_ahead(params)
    staging = Path(ahead.registered_head().state.run.staging_dir)
    assert staging.exists()
    steps.abandon_ahead()
    assert ahead.registered_head() is None and not staging.exists()
    check_lock(out)  # free: raises OutputBusy while a run holds it
    assert steps.run_inline(params).summary["kept"] > 0


def test_a_run_with_other_parameters_does_not_wait_for_a_head_start(
    demo_raw: Path, tmp_path: Path
) -> None:
    """A head start begun with other parameters holds the folder's lock: the run drops it
    instead of waiting for the lock (it would time out: OutputBusy)."""
    out = tmp_path / "clean"
    begun = RunParams(raw_dir=str(demo_raw), out_dir=str(out), workers=2, typos=False)
    assert steps.start_ahead(begun)
    state = steps.run_inline(RunParams(raw_dir=str(demo_raw), out_dir=str(out), workers=2))
    assert state.summary["kept"] > 0 and ahead.registered_head() is None


def test_no_head_start_without_a_worker_pool(demo_raw: Path, tmp_path: Path) -> None:
    params = RunParams(raw_dir=str(demo_raw), out_dir=str(tmp_path / "clean"), workers=1)
    assert not steps.start_ahead(params)
    assert ahead.registered_head() is None
