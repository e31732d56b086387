"""The clean-corpus flow: raw articles in ``raw_dir`` → a clean Parquet dataset in ``out_dir``.

    plan-units → clean-unit (mapped over work units, run in a process pool)
               → merge-vocabulary → correct-typos (mapped over the same units)
               → sketch-unit (mapped: MinHash signatures of the final texts)
               → dedup (exact + near, against the published dataset)
               → learn-boilerplate (lines each publisher repeats across stories) → publish
               → report (reports/<run_id>.html, runs/<run_id>.json, markdown artifact)

The task runner is a choice (:func:`with_runner`): Prefect's thread pool handing units to a
process pool (default), or Dask (a LocalCluster of ``workers`` processes, or an existing
cluster at ``dask_address``), where each task computes in the Dask worker that runs it.

Run it with ``newsclean run`` or ``python -m flows.clean_corpus [RAW_DIR] [OUT_DIR]``.
"""

from __future__ import annotations

import newsclean.prefect_env  # (must precede the prefect import)

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
from tasks.minhash import default_config
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
    near_threshold: float | None = None,
    shingle_words: int | None = None,
    permutations: int | None = None,
    merge_number_variants: bool = False,
    keep_policy: list[str] | None = None,
    full: bool = False,
    lock_wait: float = 0.0,
    learn_boilerplate: bool = True,
    inline: bool = False,
) -> dict[str, Any]:
    """Clean the new and changed raw files under ``raw_dir`` and add them to the dataset in
    ``out_dir`` (``full=True``: every file, as if none had been seen).

    ``typos=False`` skips typo correction; ``keep_words`` names a plain word-list file of
    words the typo stage must never change. ``near_threshold``, ``shingle_words`` and
    ``permutations`` override the near-dup settings of ``tasks/rules/dedup.toml``;
    ``merge_number_variants`` lets copies that differ only in their figures merge;
    ``keep_policy`` lists the keep criteria in priority order (``dedup.keep-policy``).
    ``lock_wait``: seconds to wait for another run writing to ``out_dir``.
    ``learn_boilerplate=False`` neither learns nor removes per-publisher lines. ``inline``
    computes each task in the process that runs it (set by :func:`with_runner` for Dask).
    """
    started = time.perf_counter()
    run = run_state.start_run(raw_dir, out_dir, lock_wait)
    n_workers = 1 if inline else workers_count or workers.default_workers()
    config = default_config().with_overrides(
        threshold=near_threshold,
        shingle_words=shingle_words,
        permutations=permutations,
        numbers_must_match=False if merge_number_variants else None,
        keep_policy=keep_policy,
    )
    try:
        scan = prefect_tasks.scan_raw(run.raw_dir, run.out_dir, run.staging_dir, full, n_workers)
        plan = prefect_tasks.plan_units(run.raw_dir, batch_size, unit_bytes, scan["process"])
        units, failed = _clean(run, plan, batch_size, max_doc_bytes, n_workers, typos)
        ok = [u["index"] for u in plan["units"] if u["index"] not in failed]
        if typos:
            units += _correct_typos(run, ok, keep_words, n_workers)
        sketches = prefect_tasks.sketch_unit.map(
            unmapped(run.staging_dir), ok, unmapped(config), unmapped(n_workers)
        )
        units += [future.result() for future in sketches]
        dedup_counts = prefect_tasks.dedup_run(
            run.staging_dir, run.out_dir, config, scan["retract"], n_workers
        )
        learned = (
            prefect_tasks.learn_boilerplate(
                run.staging_dir, run.out_dir, run.run_id, scan["retract"], n_workers
            )
            if learn_boilerplate
            else {}
        )
        workers.shutdown()  # the decision's and the learner's buffers stay out of publishing
        published = prefect_tasks.publish(
            run.out_dir,
            run.staging_dir,
            run.run_id,
            plan["unsupported"],
            run.ingested_at,
            config,
            n_workers,
            scan["retract"],
            sorted({f for files in failed.values() for f in files}),
        )
        summary = report.build_summary(
            run.run_id,
            run.raw_dir,
            run.out_dir,
            units,
            published,
            plan["ignored"],
            time.perf_counter() - started,
            dedup_counts,
        )
        summary["files"] = scan["files"]
        summary["boilerplate"] = learned
        summary["report_html"] = prefect_tasks.write_report(
            run.out_dir, run.raw_dir, summary, n_workers
        )
        run_state.finish_run(run, summary)
    finally:
        workers.shutdown()
        run_state.release(run)
    create_markdown_artifact(
        report.to_markdown(summary), key="newsclean-run", description="newsclean run summary"
    )
    get_run_logger().info(
        "run %s: %d kept of %d", run.run_id, summary["kept"], summary["documents_in"]
    )
    return summary


def _clean(
    run: run_state.RunContext,
    plan: dict[str, Any],
    batch_size: int,
    max_doc_bytes: int,
    n_workers: int,
    count_vocabulary: bool,
) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
    """clean-unit over every unit. A unit that still fails after its retries is quarantined
    file by file and left out of the run (and of the manifest: the next run tries again)."""
    futures = prefect_tasks.clean_unit.map(
        unmapped(run.raw_dir),
        unmapped(run.staging_dir),
        plan["units"],
        unmapped(batch_size),
        unmapped(max_doc_bytes),
        unmapped(n_workers),
        unmapped(count_vocabulary),
    )
    units, failed = [], {}
    for unit, future in zip(plan["units"], futures, strict=True):
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failed[unit["index"]] = list(unit["files"])
            prefect_tasks.quarantine_unit(run.staging_dir, unit, repr(result))
        else:
            units.append(result)
    # Fresh worker processes per phase: each phase's memory (cleaning buffers, typo
    # dictionaries, publish buffers) is then never stacked on another's (docs/prefect.md).
    workers.shutdown()
    return units, failed


def _correct_typos(
    run: run_state.RunContext, unit_indices: list[int], keep_words: str | None, n_workers: int
) -> list[dict[str, Any]]:
    """merge-vocabulary, then correct-typos over the units (each phase in fresh workers)."""
    vocabulary = prefect_tasks.merge_vocabulary(run.staging_dir, n_workers)
    workers.shutdown()
    never_change = read_word_list(Path(keep_words)) if keep_words else []
    futures = prefect_tasks.correct_typos.map(
        unmapped(run.staging_dir),
        unit_indices,
        unmapped(vocabulary),
        unmapped(never_change),
        unmapped(n_workers),
    )
    results = [future.result() for future in futures]
    workers.shutdown()
    return results


def run(
    runner: str = "local", dask_address: str | None = None, **parameters: Any
) -> dict[str, Any]:
    """Run the flow with the chosen task runner (see :func:`with_runner`); ``parameters`` are
    the flow's. With Dask, worker processes share this process's Prefect API."""
    chosen = with_runner(runner, parameters.get("workers_count", 0), dask_address)
    if chosen is clean_corpus:
        return clean_corpus(**parameters)
    with newsclean.prefect_env.api_for_worker_processes():
        return chosen(**parameters, inline=True)


def with_runner(
    runner: str = "local", workers_count: int = 0, dask_address: str | None = None
) -> Any:
    """The flow with the chosen task runner: ``local`` (threads + process pool) or ``dask``
    (``dask_address`` of an existing cluster, else a LocalCluster of ``workers_count``
    single-threaded worker processes). Call the result with ``inline=True`` for Dask."""
    if runner == "local" and not dask_address:
        return clean_corpus
    from prefect_dask import DaskTaskRunner

    if dask_address:
        task_runner = DaskTaskRunner(address=dask_address)
    else:
        n = workers_count or workers.default_workers()
        task_runner = DaskTaskRunner(
            cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True}
        )
    return clean_corpus.with_options(task_runner=task_runner)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    raw_dir = args[0] if args else "data/raw"
    out_dir = args[1] if len(args) > 1 else "data/clean"
    summary = clean_corpus(raw_dir=str(Path(raw_dir)), out_dir=str(Path(out_dir)))
    print(report.to_markdown(summary))


if __name__ == "__main__":
    main()
