"""The clean-corpus flow: raw articles in ``raw_dir`` → a clean Parquet dataset in ``out_dir``.

    plan-units → clean-unit (mapped over work units, run in a process pool)
               → merge-vocabulary → correct-typos (mapped over the same units)
               → exact-dedup → publish → summary (markdown artifact, runs/<run_id>.json)

Run it with ``newsclean run`` or ``python -m flows.clean_corpus [RAW_DIR] [OUT_DIR]``.
"""

from __future__ import annotations

import newsclean.prefect_env  # noqa: F401  (must precede the prefect import)

# isort: split

import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import prefect_tasks, report, run_state, workers
from tasks.ingest import DEFAULT_BATCH_SIZE, DEFAULT_MAX_DOC_BYTES, DEFAULT_UNIT_BYTES
from tasks.typos import read_word_list


@flow(
    name="clean-corpus",
    task_runner=ThreadPoolTaskRunner(max_workers=workers.default_workers()),
    persist_result=False,
)
def clean_corpus(
    raw_dir: str = "data/raw",
    out_dir: str = "data/clean",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers_count: int = 0,
    unit_bytes: int = DEFAULT_UNIT_BYTES,
    max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES,
    typos: bool = True,
    keep_words: str | None = None,
) -> dict[str, Any]:
    """Clean every raw article under ``raw_dir`` and publish the dataset to ``out_dir``.

    ``typos=False`` skips typo correction; ``keep_words`` names a plain word-list file of
    words the typo stage must never change.
    """
    started = time.perf_counter()
    run = run_state.start_run(raw_dir, out_dir)
    n_workers = workers_count or workers.default_workers()
    try:
        plan = prefect_tasks.plan_units(run.raw_dir, batch_size, unit_bytes)
        futures = prefect_tasks.clean_unit.map(
            unmapped(run.raw_dir),
            unmapped(run.staging_dir),
            plan["units"],
            unmapped(batch_size),
            unmapped(max_doc_bytes),
            unmapped(n_workers),
            unmapped(typos),
        )
        units = [future.result() for future in futures]
        # Fresh worker processes per phase: each phase's memory (cleaning buffers, typo
        # dictionaries, publish buffers) is then never stacked on another's (docs/prefect.md).
        workers.shutdown()
        if typos:
            vocabulary = prefect_tasks.merge_vocabulary(run.staging_dir, n_workers)
            workers.shutdown()
            never_change = read_word_list(Path(keep_words)) if keep_words else []
            typo_futures = prefect_tasks.correct_typos.map(
                unmapped(run.staging_dir),
                [unit["index"] for unit in plan["units"]],
                unmapped(vocabulary),
                unmapped(never_change),
                unmapped(n_workers),
            )
            units += [future.result() for future in typo_futures]
            workers.shutdown()
        prefect_tasks.exact_dedup(run.staging_dir, n_workers)
        published = prefect_tasks.publish(
            run.out_dir,
            run.staging_dir,
            run.run_id,
            plan["unsupported"],
            run.ingested_at,
            n_workers,
        )
    finally:
        workers.shutdown()
    summary = report.build_summary(
        run.run_id,
        run.raw_dir,
        run.out_dir,
        units,
        published,
        plan["ignored"],
        time.perf_counter() - started,
    )
    run_state.finish_run(run, summary)
    create_markdown_artifact(
        report.to_markdown(summary), key="newsclean-run", description="newsclean run summary"
    )
    get_run_logger().info(
        "run %s: %d kept of %d", run.run_id, summary["kept"], summary["documents_in"]
    )
    return summary


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    raw_dir = args[0] if args else "data/raw"
    out_dir = args[1] if len(args) > 1 else "data/clean"
    summary = clean_corpus(raw_dir=str(Path(raw_dir)), out_dir=str(Path(out_dir)))
    print(report.to_markdown(summary))


if __name__ == "__main__":
    main()
