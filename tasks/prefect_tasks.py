"""Thin Prefect wrappers around the stage functions.

Each task works on a whole work unit or on the run's small key table, takes paths and returns
small summaries: no DataFrame crosses the Prefect API and nothing is cached or persisted
(caching would pickle results; see docs/prefect.md). The logic lives in the stage modules.
"""

from __future__ import annotations

import newsclean.prefect_env  # noqa: F401  (must precede the prefect import)

# isort: split

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import (
    dedup,
    ingest,
    learned_boilerplate,
    manifest,
    pipeline,
    progress,
    report,
    typos,
    workers,
    write,
)
from tasks.minhash import NearDupConfig

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="scan-raw", **_TASK_OPTIONS)
def scan_raw(
    raw_dir: str, out_dir: str, staging_dir: str, full: bool, n_workers: int
) -> dict[str, Any]:
    """Compare the raw folder with the manifest: the files to process and to take back."""
    scan = workers.run(n_workers, manifest.plan_incremental, raw_dir, out_dir, staging_dir, full)
    get_run_logger().info(
        "raw files: %s; %d to process", json.dumps(scan["files"]), len(scan["process"])
    )
    return scan


@task(name="plan-units", **_TASK_OPTIONS)
def plan_units(
    raw_dir: str, batch_size: int, unit_bytes: int, only: list[str] | None = None
) -> dict[str, Any]:
    """Split the raw files to process into work units."""
    chosen = None if only is None else set(only)
    plan = ingest.plan_units(Path(raw_dir), batch_size, unit_bytes, chosen)
    logger = get_run_logger()
    logger.info(
        "%d work units over %.1f MB; %d ignored, %d unsupported files",
        len(plan.units),
        plan.total_bytes / 1e6,
        len(plan.ignored),
        len(plan.unsupported),
    )
    progress.publish("planned", total_bytes=plan.total_bytes, units=len(plan.units))
    return {
        "units": [u.to_dict() for u in plan.units],
        "ignored": plan.ignored,
        "unsupported": plan.unsupported,
        "total_bytes": plan.total_bytes,
    }


@task(name="clean-unit", retries=2, retry_delay_seconds=2, **_TASK_OPTIONS)
def clean_unit(
    raw_dir: str,
    staging_dir: str,
    unit: dict[str, Any],
    batch_size: int,
    max_doc_bytes: int,
    n_workers: int,
    count_vocabulary: bool,
) -> dict[str, Any]:
    """Ingest, clean and stage one unit in the worker pool; returns its summary."""
    work = ingest.WorkUnit(**{**unit, "files": tuple(unit["files"])})
    summary = workers.run(
        n_workers,
        pipeline.process_unit,
        raw_dir,
        staging_dir,
        work,
        batch_size,
        max_doc_bytes,
        count_vocabulary,
    )
    get_run_logger().info(
        "unit %d: %d docs, %.1f MB in %.2f s",
        work.index,
        summary.docs_in,
        summary.bytes_in / 1e6,
        summary.seconds,
    )
    progress.publish("unit_done", bytes=work.size, docs=summary.docs_in)
    return summary.to_dict()


@task(name="quarantine-unit", **_TASK_OPTIONS)
def quarantine_unit(staging_dir: str, unit: dict[str, Any], error: str) -> int:
    """A unit that failed after its retries: drop what it staged, quarantine its files."""
    count = pipeline.quarantine_failed_unit(staging_dir, unit["index"], unit["files"], error)
    get_run_logger().error("unit %d failed for good, quarantined: %s", unit["index"], error)
    return count


@task(name="merge-vocabulary", **_TASK_OPTIONS)
def merge_vocabulary(staging_dir: str, n_workers: int) -> str:
    """Sum the per-batch word counts into the run's corpus vocabulary (a worker job)."""
    staging = Path(staging_dir)
    path = staging / "vocabulary.parquet"
    rule = typos.typos_pack().get("typo.edit-distance/1")
    words = workers.run(
        n_workers,
        typos.merge_vocabularies,
        write.staged_parts(staging, "vocab"),
        path,
        int(rule.params["corpus_keep_count"]),
    )
    get_run_logger().info("corpus vocabulary: %d words seen often enough to be kept", words)
    return str(path)


@task(name="correct-typos", retries=2, retry_delay_seconds=2, **_TASK_OPTIONS)
def correct_typos(
    staging_dir: str, unit_index: int, vocabulary: str, keep_words: list[str], n_workers: int
) -> dict[str, Any]:
    """Typo pass over one unit's staged batches, in the worker pool."""
    summary = workers.run(
        n_workers, pipeline.correct_unit_typos, staging_dir, unit_index, vocabulary, keep_words
    )
    get_run_logger().info("unit %d: %d typo edits", unit_index, summary.edits)
    return summary.to_dict()


@task(name="sketch-unit", retries=2, retry_delay_seconds=2, **_TASK_OPTIONS)
def sketch_unit(
    staging_dir: str, unit_index: int, config: NearDupConfig, n_workers: int
) -> dict[str, Any]:
    """MinHash signatures of one unit's staged documents, in the worker pool."""
    summary = workers.run(n_workers, pipeline.sketch_unit, staging_dir, unit_index, config)
    get_run_logger().info(
        "unit %d: %d sketches in %.2f s", unit_index, summary.docs_out, summary.seconds
    )
    return summary.to_dict()


@task(name="dedup", **_TASK_OPTIONS)
def dedup_run(
    staging_dir: str,
    out_dir: str,
    config: NearDupConfig,
    retracted_files: list[str],
    n_workers: int,
) -> dict[str, int]:
    """Exact and near duplicates within the run and against the published dataset."""
    counts = workers.run(n_workers, dedup.run_dedup, staging_dir, out_dir, config, retracted_files)
    get_run_logger().info("dedup: %s", json.dumps(counts))
    return counts


@task(name="report", **_TASK_OPTIONS)
def write_report(out_dir: str, raw_dir: str, summary: dict[str, Any], n_workers: int) -> str:
    """The run's HTML report (before/after examples re-read from the raw folder)."""
    summary["examples"] = workers.run(
        n_workers, report.run_examples, out_dir, raw_dir, summary["run_id"]
    )
    path = report.write_html(out_dir, summary)
    get_run_logger().info("report: %s", path)
    return path


@task(name="learn-boilerplate", **_TASK_OPTIONS)
def learn_boilerplate(
    staging_dir: str, out_dir: str, run_id: str, retract_files: list[str], n_workers: int
) -> dict[str, Any]:
    """Count every story's lines per publisher; stage the learned set and the next model."""
    info = workers.run(
        n_workers,
        learned_boilerplate.learn,
        staging_dir,
        out_dir,
        run_id,
        learned_boilerplate.default_config(),
        retract_files,
    )
    get_run_logger().info("learned boilerplate: %s", json.dumps(info))
    return info


@task(name="publish", **_TASK_OPTIONS)
def publish(
    out_dir: str,
    staging_dir: str,
    run_id: str,
    unsupported: list[str],
    ingested_at: datetime,
    config: NearDupConfig,
    n_workers: int,
    retract_files: list[str],
    failed_files: list[str],
) -> dict[str, Any]:
    """Commit the run: its new rows, the rows it takes back, the manifest (one journal)."""
    counts = write.publish_run(
        Path(out_dir),
        Path(staging_dir),
        run_id,
        unsupported,
        ingested_at,
        config,
        n_workers,
        retract_files,
        failed_files,
    )
    get_run_logger().info(
        "published %s", json.dumps({k: v for k, v in counts.items() if isinstance(v, int)})
    )
    return counts
