"""The sketch pass joined to the pass before it: the same stages on the same documents in the
same job, so the run has no sketch phase of its own and reads no unit a third time, and its
output is exactly that of the separate pass."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from newsclean.tasks.pipeline import progress
from newsclean.tasks.pipeline import state as run_state_module
from newsclean.tasks.pipeline.chain import CHAIN, Chain, RunStep, UnitPass
from newsclean.tasks.pipeline.state import RunParams
from tests.helpers import RAW, REFERENCE, run_steps


def _enabled(**params: object):
    return RunParams(raw_dir="raw", out_dir="out", **params).enabled  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_sketch_pass_joins_the_typo_pass_or_without_typos_the_clean_pass() -> None:
    sketch = CHAIN.step("sketch-unit")
    with_typos, without = _enabled(typos=True), _enabled(typos=False)
    assert CHAIN.joined_to(CHAIN.step("correct-typos"), with_typos) is sketch
    assert CHAIN.joined_to(CHAIN.step("clean-unit"), with_typos) is None  # merge-vocabulary
    assert CHAIN.joined_to(CHAIN.step("clean-unit"), without) is sketch
    assert CHAIN.runs_joined(sketch, with_typos) and CHAIN.runs_joined(sketch, without)
    assert not CHAIN.runs_joined(CHAIN.step("correct-typos"), with_typos)
    assert not CHAIN.runs_joined(CHAIN.step("dedup"), with_typos)


@pytest.mark.unit
def test_a_pass_joins_only_a_unit_pass_that_stages_documents_right_before_it() -> None:
    clean = UnitPass("clean", ("normalize",), source="raw", output="docs")
    sketch = UnitPass("sketch", ("sketch",), source="docs", output="sketch", joins_previous=True)
    always = _enabled()
    assert Chain((clean, sketch)).joined_to(clean, always) is sketch
    between = Chain((clean, RunStep("count"), sketch))
    assert between.joined_to(clean, always) is None
    assert not between.runs_joined(sketch, always)
    not_joining = replace(sketch, joins_previous=False)
    assert Chain((clean, not_joining)).joined_to(clean, always) is None
    after_sketch = UnitPass("more", ("sketch",), "docs", "sketch", joins_previous=True)
    assert Chain((clean, not_joining, after_sketch)).joined_to(not_joining, always) is None
    restaging = UnitPass("typos", ("typos",), "docs", "docs", joins_previous=True)
    assert Chain((clean, restaging)).joined_to(clean, always) is None  # it stages documents


def _run_counting_passes(raw: Path, out: Path, typos: bool) -> tuple[dict, list[str]]:
    """One run, and the unit passes it ran, in order (from its progress events)."""
    passes: list[str] = []

    def listen(event: str, data: dict) -> None:
        if event == "unit_done" and data["step"] not in passes:
            passes.append(data["step"])

    progress.subscribe(listen)
    try:
        return run_steps(raw, out, typos=typos), passes
    finally:
        progress.unsubscribe(listen)


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    """The published tables, without what differs from run to run (run ids, times)."""
    tables = {}
    for name in ("articles", "duplicates", "edits", "quarantine"):
        frame = pd.read_parquet(out / name)
        varying = [c for c in frame.columns if "run" in c or c.endswith("_at")]
        frame = frame.drop(columns=varying)
        tables[name] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return tables


@pytest.mark.unit
@pytest.mark.slow
@pytest.mark.parametrize("typos", [True, False], ids=["after-typos", "after-cleaning"])
def test_the_joined_pass_publishes_what_the_separate_pass_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typos: bool
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    text = REFERENCE.read_text(encoding="utf-8")  # a near copy: one sentence reworded
    (raw / "samples" / "near-copy.txt").write_text(
        text.replace("Thee are fears", "There were fears"), encoding="utf-8"
    )
    joined, joined_passes = _run_counting_passes(raw, tmp_path / "joined", typos)
    steps = tuple(
        replace(s, joins_previous=False) if isinstance(s, UnitPass) else s for s in CHAIN.steps
    )
    monkeypatch.setattr(run_state_module, "CHAIN", Chain(steps))
    separate, separate_passes = _run_counting_passes(raw, tmp_path / "separate", typos)
    assert "sketch-unit" in separate_passes and "sketch-unit" not in joined_passes
    assert len(joined_passes) == len(separate_passes) - 1
    assert joined["near_duplicates"] > 0  # the sketches were used
    assert joined["edits_by_rule"]["learned.repeated-line/5"] > 0  # and the line hashes
    for key in ("exact_duplicates", "near_duplicates", "articles", "edits_by_rule"):
        assert joined[key] == separate[key], key
    got, want = _tables(tmp_path / "joined"), _tables(tmp_path / "separate")
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)
    stages = joined["summary"]["stages"]
    assert stages["sketch"]["docs"] == separate["summary"]["stages"]["sketch"]["docs"] > 0
