"""End-to-end: the Prefect flow and the CLI on the shipped demo data plus bad input.

These are the only tests that start Prefect (one temporary server for the session)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.pipeline.units import PassJob, UnitSummary
from newsclean.tasks.schema import ARTICLE_SCHEMA, SCHEMA_VERSION
from newsclean.tasks.storage.ingest import WorkUnit


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def raw_with_bad_input(demo_raw: Path) -> Path:
    bad = demo_raw / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "junk.txt").write_bytes(bytes(range(256)) * 4)
    (bad / "page.html").write_text("<html></html>")
    (bad / "cut.parquet").write_bytes(b"PAR1" + b"\x00" * 40)
    return demo_raw


@pytest.mark.process
@pytest.mark.slow
def test_flow_end_to_end(prefect_harness: None, raw_with_bad_input: Path, tmp_path: Path) -> None:
    from newsclean.flows.clean_corpus import clean_corpus

    out = tmp_path / "clean"
    before = _fingerprint(raw_with_bad_input)
    summary = clean_corpus(raw_dir=str(raw_with_bad_input), out_dir=str(out), workers_count=2)

    assert summary["documents_in"] == 251
    assert summary["duplicates"] >= 11
    assert summary["kept"] == 251 - summary["duplicates"]
    assert _fingerprint(raw_with_bad_input) == before, "raw input must never change"
    assert not (out / "_staging").exists()

    articles = pd.read_parquet(out / "articles")
    assert list(articles.columns) == ARTICLE_SCHEMA.names
    assert len(articles) == summary["kept"] and articles["doc_id"].is_unique
    ref = articles[articles["source_file"] == "samples/000_4c60d5582bf9f543.txt"].iloc[0]
    assert ref["domain"] == "express.co.uk" and len(ref["captions"]) == 3
    assert "There are fears that without NATO" in ref["text"]
    assert articles["dup_cluster"].notna().all()
    index = pd.read_parquet(out / "dedup_index")
    assert sorted(index["doc_id"]) == sorted(articles["doc_id"])

    duplicates = pd.read_parquet(out / "duplicates")
    assert set(duplicates["kept_doc_id"]) <= set(articles["doc_id"])
    edits = pd.read_parquet(out / "edits")
    typo_edits = edits[edits["stage"] == "typos"]
    assert ("Thee", "There") in set(zip(typo_edits["before"], typo_edits["after"], strict=True))
    assert summary["edits_by_rule"]["typo.real-word/1"] >= 1
    assert set(edits["doc_id"]) <= set(articles["doc_id"]) | set(duplicates["doc_id"])
    n_edits = edits.groupby("doc_id").size()
    assert (
        articles.set_index("doc_id")["n_edits"]
        == n_edits.reindex(articles["doc_id"]).fillna(0).values
    ).all()

    quarantine = pd.read_parquet(out / "quarantine")
    reasons = dict(zip(quarantine["source_file"], quarantine["reason"], strict=True))
    assert reasons["bad/empty.txt"] == "empty file"
    assert "binary" in reasons["bad/junk.txt"]
    assert "unsupported file type" in reasons["bad/page.html"]
    assert "Parquet" in reasons["bad/cut.parquet"]

    meta = pq.read_schema(next((out / "articles").glob("*.parquet"))).metadata
    assert meta[b"newsclean.schema_version"] == SCHEMA_VERSION.encode()
    count = duckdb.sql(f"select count(*) from '{out}/articles/*.parquet'").fetchall()[0][0]
    assert count == summary["kept"]
    saved = json.loads((out / "runs" / f"{summary['run_id']}.json").read_text())
    assert saved["kept"] == summary["kept"] and saved["domains"]["beforeitsnews.com"] == 146
    assert sum(saved["lengths"]["before"]) == 251 and sum(saved["lengths"]["after"]) == 251
    assert saved["quarantine_reasons"]["empty file"] == 1
    page = Path(summary["report_html"]).read_text()
    assert Path(summary["report_html"]) == out / "reports" / f"{summary['run_id']}.html"
    assert all(f'data-chart="{c}"' in page for c in ("domains", "rules", "duplicates", "lengths"))
    assert len(saved["examples"]) == 5 and '<mark class="removed">' in page
    assert all(e["removed"] and e["before"] != e["after"] for e in saved["examples"])

    # A second run over the same input adds no rows to any table and changes no file.
    before_rerun = {
        p.relative_to(out): p.read_bytes()
        for table in ("articles", "edits", "duplicates", "quarantine", "dedup_index")
        for p in (out / table).glob("*.parquet")
    }
    again = clean_corpus(raw_dir=str(raw_with_bad_input), out_dir=str(out), workers_count=1)
    assert again["documents_in"] == 0
    assert again["files"]["new"] == 0 and again["files"]["changed"] == 0
    assert again["kept"] == 0 and again["duplicates"] == 0 and again["quarantined"] == 0
    assert again["edits"] == 0 and again["edits_by_rule"] == {}
    after_rerun = {
        p.relative_to(out): p.read_bytes()
        for table in ("articles", "edits", "duplicates", "quarantine", "dedup_index")
        for p in (out / table).glob("*.parquet")
    }
    assert after_rerun == before_rerun


@pytest.mark.process
@pytest.mark.slow
def test_cli_run(
    prefect_harness: None, demo_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow_engine
    from prefect.settings import get_current_settings
    from typer.testing import CliRunner

    from newsclean.cli import app

    heartbeats: list[int | None] = []  # the interval each flow run's engine was given
    send_heartbeats = flow_engine._send_heartbeats

    def spy(engine: Any, *args: Any, **kwargs: Any) -> Any:
        heartbeats.append(engine.heartbeat_seconds)
        return send_heartbeats(engine, *args, **kwargs)

    monkeypatch.setattr(flow_engine, "_send_heartbeats", spy)
    from newsclean.tasks.pipeline import ahead, steps

    begun: list[str] = []  # runs begun: once by the CLI's head start, never again by the flow
    begin = steps.begin

    def counting_begin(params: Any) -> Any:
        begun.append(params.out_dir)
        return begin(params)

    taken: list[str] = []  # units the flow collected from the head start, by pass
    take = ahead.take

    def counting_take(state: Any, job: Any, unit: Any) -> Any:
        summary = take(state, job, unit)
        if summary is not None:
            taken.append(job.step)
        return summary

    monkeypatch.setattr(steps, "begin", counting_begin)
    monkeypatch.setattr(ahead, "take", counting_take)
    out = tmp_path / "clean"
    args = ["run", str(demo_raw), "--out", str(out), "--workers", "2", "--no-typos"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # The CLI's flow runs without heartbeats (their thread delayed every run's end by up to
    # 1 s); Prefect's setting is back afterwards.
    assert heartbeats == [None]
    assert get_current_settings().flows.heartbeat_frequency == 180
    # The flow adopted the run the CLI began while the server booted, and collected its
    # first pass from the pool (tasks/pipeline/ahead.py).
    assert len(begun) == 1 and taken and set(taken) == {"clean-unit"}
    assert "documents in" in result.output and "240" in result.output
    assert "caption.credit-line/1" in result.output and "typo." not in result.output
    articles = pd.read_parquet(out / "articles")
    assert len(articles) == 240
    assert articles["text"].str.contains("Thee are fears").sum() == 1
    assert "typos" not in set(pd.read_parquet(out / "edits")["stage"])

    again = CliRunner().invoke(app, [*args, "--full"])
    assert again.exit_code == 0, again.output
    rerun = pd.read_parquet(out / "articles")
    assert len(rerun) == 240 and sorted(rerun["content_hash"]) == sorted(articles["content_hash"])

    shown = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert shown.exit_code == 0 and "240" in shown.output and "HTML report" in shown.output
    ref = articles[articles["source_file"] == "samples/000_4c60d5582bf9f543.txt"].iloc[0]
    result = CliRunner().invoke(app, ["show", ref["doc_id"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "region.Mr" in result.output and "region. Mr" in result.output  # raw | clean
    assert "caption.credit-line/1" in result.output and "GETTY" in result.output
    dropped = pd.read_parquet(out / "duplicates").iloc[0]
    result = CliRunner().invoke(app, ["show", dropped["doc_id"], "--out", str(out)])
    assert result.exit_code == 0 and "exact copy of" in " ".join(result.output.split())
    assert CliRunner().invoke(app, ["show", "0000000000000000", "--out", str(out)]).exit_code == 2


@pytest.mark.unit
def test_cli_missing_raw_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from newsclean.cli import app

    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


@pytest.mark.process
@pytest.mark.slow
def test_flow_on_a_dask_local_cluster(
    prefect_harness: None, demo_raw: Path, tmp_path: Path
) -> None:
    """The Dask task runner path: a LocalCluster of two worker processes does the same work
    (tasks compute in the Dask workers, which report to the same Prefect API)."""
    from newsclean.flows import clean_corpus

    out = tmp_path / "clean"
    summary = clean_corpus.run(
        "dask", raw_dir=str(demo_raw), out_dir=str(out), workers_count=2, typos=False
    )
    assert summary["kept"] == 240 and summary["duplicates"] == 11
    articles = pd.read_parquet(out / "articles")
    assert len(articles) == 240 and articles["doc_id"].is_unique
    assert sorted(pd.read_parquet(out / "dedup_index")["doc_id"]) == sorted(articles["doc_id"])


@pytest.mark.unit
@pytest.mark.parametrize(
    "option",
    [["--keep-policy", "newest"], ["--threshold", "1.5"], ["--runner", "ray"]],
)
def test_cli_rejects_bad_dedup_options(option: list[str], demo_raw: Path) -> None:
    from typer.testing import CliRunner

    from newsclean.cli import app

    result = CliRunner().invoke(app, ["run", str(demo_raw), *option])
    assert result.exit_code == 2, result.output


@pytest.mark.process
@pytest.mark.slow
def test_flow_retries_a_transient_error_and_quarantines_a_failing_file(
    prefect_harness: None, demo_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit that fails once is retried by Prefect and succeeds; a unit that keeps failing
    is quarantined file by file, the run goes on, and the next run tries that file again."""
    from newsclean.flows.clean_corpus import clean_corpus
    from newsclean.tasks.pipeline import steps

    real = steps.run_unit
    calls: dict[tuple[str, ...], int] = {}

    def flaky(job: PassJob, unit: WorkUnit) -> UnitSummary:
        if job.step != "clean-unit":
            return real(job, unit)
        calls[unit.files] = calls.get(unit.files, 0) + 1
        if unit.files == ("fakenewscorpus/news_sample.csv",) and calls[unit.files] == 1:
            raise OSError("transient: stale NFS handle")
        if unit.files[0].startswith("samples/"):
            raise OSError("disk read error")
        return real(job, unit)

    monkeypatch.setattr(steps, "run_unit", flaky)
    out = tmp_path / "clean"
    summary = clean_corpus(raw_dir=str(demo_raw), out_dir=str(out), workers_count=1, typos=False)
    assert calls[("fakenewscorpus/news_sample.csv",)] == 2  # retried once, then fine
    assert calls[("samples/000_4c60d5582bf9f543.txt",)] == 3  # first try + 2 retries
    assert summary["kept"] == 239
    quarantine = pd.read_parquet(out / "quarantine")
    reason = quarantine.set_index("source_file").loc["samples/000_4c60d5582bf9f543.txt", "reason"]
    assert "disk read error" in reason
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert list(manifest["path"]) == ["fakenewscorpus/news_sample.csv"]

    monkeypatch.setattr(steps, "run_unit", real)
    again = clean_corpus(raw_dir=str(demo_raw), out_dir=str(out), workers_count=1, typos=False)
    assert again["files"]["new"] == 1 and again["kept"] == 1
    assert len(pd.read_parquet(out / "articles")) == 240
    # issue 13 item 5: read again and published, the file's failure row is superseded
    assert not pd.read_parquet(out / "quarantine")["reason"].str.contains("retries").any()


@pytest.mark.process
@pytest.mark.slow
def test_cli_refuses_while_another_run_writes(
    prefect_harness: None, demo_raw: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from newsclean.cli import app
    from newsclean.tasks.storage import run_state

    out = tmp_path / "clean"
    holder = run_state.start_run(str(demo_raw), str(out))
    try:
        result = CliRunner().invoke(app, ["run", str(demo_raw), "--out", str(out)])
    finally:
        run_state.release(holder)
    assert result.exit_code == 3
    assert "another newsclean run is writing" in " ".join(result.output.split())


@pytest.mark.unit
def test_run_params_are_the_flows_parameters() -> None:
    """The CLI's head start and the flow build their RunParams the same way
    (``clean_corpus.run_params``), or the flow would not adopt the begun run; the flow's
    defaults are the RunParams defaults."""
    from newsclean.flows.clean_corpus import run_params
    from newsclean.tasks.pipeline.state import RunParams

    assert run_params() == RunParams() == RunParams.of_flow()
    given = run_params(workers_count=3, keep_policy=["longest"], stages={"clean-unit": ["x"]})
    assert given == RunParams(workers=3, keep_policy=("longest",), stages={"clean-unit": ("x",)})
    # the CLI begins its head start with RunParams.of_flow, before Prefect is imported
    cli = {
        "raw_dir": "raw", "out_dir": "out", "batch_size": 500, "workers_count": 2,
        "typos": False, "keep_words": None, "near_threshold": 0.7, "shingle_words": None,
        "permutations": None, "merge_number_variants": True, "keep_policy": ["newest"],
        "full": True, "languages": ["en", "de"], "keep_kinds": None, "lock_wait": 5.0,
    }  # fmt: skip
    assert RunParams.of_flow(**cli) == run_params(**cli)
    assert RunParams.of_flow(**cli).languages == ("en", "de")


@pytest.mark.unit
def test_prefect_does_not_walk_into_the_run_state_it_hands_to_tasks() -> None:
    """Prefect walks a task's arguments twice per task run; the run state goes in wrapped so
    that it is visited once, as one object, whatever it holds (at 1 GB the walk of the bare
    state took 21 s of CPU). A Prefect that started walking into the wrapper fails here."""
    from prefect.utilities.collections import visit_collection

    from newsclean.tasks.prefect_tasks import Untraversed

    state = {"plan": {"units": [{"files": [f"part-{i}.jsonl"], "index": i} for i in range(500)]}}
    seen: list[Any] = []
    visit_collection(
        {"state": Untraversed(state)}, visit_fn=seen.append, return_data=False, max_depth=-1
    )
    assert len(seen) == 3  # the parameters mapping, its key and the wrapper
    assert not any(item is state or item is state["plan"] for item in seen)
    seen.clear()
    visit_collection({"state": state}, visit_fn=seen.append, return_data=False, max_depth=-1)
    assert len(seen) > 1000  # what the wrapper spares
