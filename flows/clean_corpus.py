"""The clean-corpus flow: raw articles in ``raw_dir`` → a clean Parquet dataset in ``out_dir``.

The flow is composition only: it walks the chain (:mod:`newsclean.tasks.pipeline.chain`) with
one Prefect task per step, unit passes mapped over the work units:

    scan-raw → plan-units → clean-unit × N → merge-vocabulary → correct-typos × N
             (+ sketch-unit, in the same tasks) → dedup → learn-boilerplate → publish → report

The task runner is a choice (:func:`with_runner`): Prefect's thread pool handing units to a
process pool (default), or Dask (a LocalCluster of ``workers`` processes, or an existing
cluster at ``dask_address``), where each task computes in the Dask worker that runs it.

Run it with ``newsclean run`` or ``python -m newsclean.flows.clean_corpus [RAW_DIR] [OUT_DIR]``.
"""

from __future__ import annotations

import newsclean.prefect_env  # (must precede the prefect import)

# isort: split

import inspect
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from newsclean.tasks import prefect_tasks
from newsclean.tasks.pipeline import report, steps, workers
from newsclean.tasks.pipeline.state import RunParams
from newsclean.tasks.settings import RUN


@flow(
    name="clean-corpus",
    task_runner=ThreadPoolTaskRunner(max_workers=workers.default_workers()),
    persist_result=False,
)
def clean_corpus(
    raw_dir: str = RUN.raw_dir,
    out_dir: str = RUN.out_dir,
    batch_size: int = RUN.batch_size,
    workers_count: int = RUN.workers,
    unit_bytes: int = RUN.unit_bytes,
    max_doc_bytes: int = RUN.max_doc_bytes,
    typos: bool = RUN.typos,
    keep_words: str | None = None,
    near_threshold: float | None = None,
    shingle_words: int | None = None,
    permutations: int | None = None,
    merge_number_variants: bool = False,
    keep_policy: list[str] | None = None,
    full: bool = False,
    languages: list[str] | None = None,
    keep_kinds: list[str] | None = None,
    lock_wait: float = RUN.lock_wait,
    learn_boilerplate: bool = RUN.learn_boilerplate,
    inline: bool = False,
    stages: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Clean the new and changed raw files under ``raw_dir`` and add them to the dataset in
    ``out_dir`` (``full=True``: every file, as if none had been seen).

    ``typos=False`` skips typo correction; ``keep_words`` names a plain word-list file of
    words the typo stage must never change. ``near_threshold``, ``shingle_words`` and
    ``permutations`` override the near-dup settings of ``rules/dedup.toml``;
    ``merge_number_variants`` lets copies that differ only in their figures merge;
    ``keep_policy`` lists the keep criteria in priority order (``dedup.keep-policy``).
    ``languages`` keeps only articles identified as one of these ISO 639-1 codes in
    ``articles/``; the others go to ``other_languages/`` with the reason. ``keep_kinds``
    keeps only these page kinds (``article``, ``stub``, ``teaser``, ``listing``,
    ``gallery``) in ``articles/``; the others go to ``other_kinds/`` with the reason.
    ``lock_wait``: seconds to wait for another run writing to ``out_dir``.
    ``learn_boilerplate=False`` neither learns nor removes per-publisher lines. ``stages``
    replaces the stage list of some steps for this run (``{"clean-unit": [...]}``, see
    ``tasks/pipeline/chain.py``). ``inline`` computes each task in the process that runs it
    (set by :func:`with_runner` for Dask). Defaults come from ``tasks/settings.toml``.
    """
    params = run_params(**locals())
    state = steps.drive(
        params, prefect_tasks.run_step, prefect_tasks.run_units, prefect_tasks.quarantine
    )
    summary = state.summary
    create_markdown_artifact(
        report.to_markdown(summary), key="newsclean-run", description="newsclean run summary"
    )
    get_run_logger().info(
        "run %s: %d kept of %d", summary["run_id"], summary["kept"], summary["documents_in"]
    )
    return summary


def run_params(**parameters: Any) -> RunParams:
    """The :class:`RunParams` of a flow run given these flow parameters (the others take the
    flow's defaults): the flow adopts a run the CLI began ahead
    (:func:`~newsclean.tasks.pipeline.steps.start_ahead`) with
    :meth:`RunParams.of_flow` of the same parameters, before Prefect was imported."""
    bound = inspect.signature(clean_corpus.fn).bind(**parameters)
    bound.apply_defaults()
    return RunParams.of_flow(**bound.arguments)


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
    from prefect_dask import DaskTaskRunner  # lazy: Dask costs start-up when it is not used

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
    raw_dir = args[0] if args else RUN.raw_dir
    out_dir = args[1] if len(args) > 1 else RUN.out_dir
    workers.prestart(RUN.workers)  # the worker pool's resources load while Prefect's server starts
    summary = clean_corpus(raw_dir=str(Path(raw_dir)), out_dir=str(Path(out_dir)))
    print(report.to_markdown(summary))


if __name__ == "__main__":
    main()
