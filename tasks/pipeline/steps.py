"""The steps of a run as plain functions, and the one driver that walks the chain.

Every :class:`~newsclean.tasks.pipeline.chain.RunStep` has a job here, ``state -> state``,
looked up by the step's name in :data:`RUN_STEPS`; every
:class:`~newsclean.tasks.pipeline.chain.UnitPass` runs :func:`unit_pass` once per work unit.
:func:`drive` walks the chain for both ways of running it: the Prefect flow hands it Prefect
tasks as executors (:mod:`newsclean.flows.clean_corpus`), :func:`run_inline` plain calls (tests,
benches, tools). The order of the steps is the chain's, and only the chain's.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from newsclean.tasks.pipeline import ahead, dedup_job, learn_job, progress, report, workers
from newsclean.tasks.pipeline.chain import Chain, UnitPass
from newsclean.tasks.pipeline.publish import PublishJob, publish_run
from newsclean.tasks.pipeline.runner import ContractError, check_stages, merge_stats
from newsclean.tasks.pipeline.state import RunParams, RunState
from newsclean.tasks.pipeline.units import (
    PassJob,
    RunInputs,
    build_stages,
    merge_vocabularies,
    quarantine_failed_unit,
    run_unit,
)
from newsclean.tasks.rules import PACKS, pack
from newsclean.tasks.schema import (
    ARTICLE_SCHEMA,
    DOC_SCHEMA,
    RUN_FIELDS,
    SCHEMA_VERSION,
    STAGED_SCHEMA,
    with_extension,
)
from newsclean.tasks.stages.learned import LINE_COLUMNS, LearnedSet, default_config
from newsclean.tasks.stages.minhash import NearDupConfig
from newsclean.tasks.storage import ingest, journal, manifest, run_state
from newsclean.tasks.storage.io import run_metadata
from newsclean.tasks.storage.layout import VOCABULARY, staged_parts

# --------------------------------------------------------------------------- start and end


def begin(params: RunParams) -> RunState:
    """Check the chain's declarations, then take the output folder (writer lock, recovery
    of a killed run, migrations, a fresh staging folder)."""
    chain = params.chain()
    config = params.near_dup()
    validate_chain(chain, params, config)
    run = run_state.start_run(params.raw_dir, params.out_dir, params.lock_wait)
    return RunState(params, run, config, chain, params.n_workers())


def end(state: RunState) -> None:
    workers.shutdown()
    run_state.release(state.run)


def validate_chain(chain: Chain, params: RunParams, config: NearDupConfig) -> pa.Schema:
    """Every stage's declared reads, writes and adds checked against the schema the steps
    before it produce, before any work starts; returns the articles schema."""
    inputs = RunInputs(near_dup=config)
    schema = DOC_SCHEMA
    for step in chain.steps:
        if not params.enabled(step) or not step.stages:
            continue
        stages = build_stages(step.stages, inputs)
        if isinstance(step, UnitPass) and step.output == "docs":
            schema = check_stages(stages, schema)
        elif isinstance(step, UnitPass):
            check_stages(stages, schema)
        else:  # publish: kept articles with their cluster and staged line hashes
            extra = [RUN_FIELDS[0], LINE_COLUMNS[0].field()]
            check_stages(stages, pa.schema([*schema, *extra]))
    missing = [f.name for f in STAGED_SCHEMA if f.name not in schema.names]
    if missing:
        raise ContractError(f"the chain never produces the staged columns {missing}")
    return articles_schema(chain, params)


def articles_schema(chain: Chain, params: RunParams) -> pa.Schema:
    """The published articles' columns: the fixed ones, then every column a stage of the
    chain adds as ``published`` (in chain order)."""
    inputs = RunInputs(near_dup=params.near_dup())
    extension = [
        column.field()
        for step in chain.steps
        if params.enabled(step)
        for stage in build_stages(step.stages, inputs)
        for column in stage.adds
        if column.published and column.name not in STAGED_SCHEMA.names
    ]
    return with_extension(ARTICLE_SCHEMA, extension)


def run_versions(state: RunState, learned_version: int) -> dict[str, Any]:
    """Everything a run's output depends on, as recorded in ``runs/<id>.json`` and in the
    metadata of every file it writes: stages, their resources, rule packs, the learned model."""
    inputs = RunInputs(near_dup=state.config)
    loaded = {"learned": LearnedSet(np.empty(0, dtype=np.uint64), learned_version)}
    chain: dict[str, list[str]] = {}
    resources: dict[str, str] = {}
    for step in state.chain.steps:
        if state.params.enabled(step) and step.stages:
            stages = build_stages(step.stages, inputs, loaded)
            chain[step.name] = [s.id for s in stages]
            for stage in stages:
                resources.update(stage.resources())
    try:
        newsclean_version = package_version("newsclean")
    except PackageNotFoundError:  # a source tree that was never installed
        newsclean_version = "unknown"
    return {
        "newsclean": newsclean_version,
        "schema": SCHEMA_VERSION,
        "chain": chain,
        "resources": dict(sorted(resources.items())),
        "rule_packs": {name: pack(name).versions() for name in PACKS},
        "models": {"learned-boilerplate": learned_version},
        "sketch": state.config.sketch_id,
    }


# --------------------------------------------------------------------------- run steps


def scan_raw(state: RunState) -> RunState:
    """Compare the raw folder with the manifest: the files to process and to take back."""
    if "scan-raw" in state.ahead:
        return state  # the head start scanned (newsclean.tasks.pipeline.ahead)
    scan = workers.run(
        state.n_workers,
        manifest.plan_incremental,
        state.run.raw_dir,
        state.run.out_dir,
        state.run.staging_dir,
        state.params.full,
    )
    return state.updated(scan=scan)


def plan_units(state: RunState) -> RunState:
    """Split the raw files to process into work units."""
    if "plan-units" in state.ahead:
        _publish_plan(state)  # the head start planned; the CLI's progress bar learns it now
        return state
    params = state.params
    plan = ingest.plan_units(
        Path(state.run.raw_dir), params.batch_size, params.unit_bytes, set(state.scan["process"])
    )
    state = state.updated(
        plan={
            "units": [u.to_dict() for u in plan.units],
            "ignored": plan.ignored,
            "unsupported": plan.unsupported,
            "total_bytes": plan.total_bytes,
        }
    )
    _publish_plan(state)
    return state


def _publish_plan(state: RunState) -> None:
    plan = state.plan
    progress.publish("planned", total_bytes=plan["total_bytes"], units=len(plan["units"]))


def merge_vocabulary(state: RunState) -> RunState:
    """Sum the per-batch word counts into the run's corpus vocabulary (a worker job)."""
    staging = Path(state.run.staging_dir)
    path = staging / VOCABULARY
    rule = pack("typos").get("typo.edit-distance")
    words = workers.run_alone(
        state.n_workers,
        merge_vocabularies,
        staged_parts(staging, "vocab"),
        path,
        int(rule.params["corpus_keep_count"]),
    )
    return state.updated(vocabulary=str(path), vocabulary_words=words)


def dedup(state: RunState) -> RunState:
    """Exact and near duplicates within the run and against the published dataset."""
    counts = workers.run_alone(
        state.n_workers,
        dedup_job.run_dedup,
        state.run.staging_dir,
        state.run.out_dir,
        state.config,
        state.scan["retract"],
    )
    return state.updated(dedup=counts)


def learn_boilerplate(state: RunState) -> RunState:
    """Count every story's lines per publisher; stage the learned set and the next model."""
    info = workers.run_alone(
        state.n_workers,
        learn_job.learn,
        state.run.staging_dir,
        state.run.out_dir,
        state.run.run_id,
        default_config(),
        state.scan["retract"],
    )
    return state.updated(learned=info)


def publish(state: RunState) -> RunState:
    """Commit the run: its new rows, the rows it takes back, the manifest (one journal)."""
    step = state.chain.step("publish")
    versions = run_versions(state, int(state.learned.get("version", 0)))
    job = PublishJob(
        staging_dir=state.run.staging_dir,
        run_id=state.run.run_id,
        ingested_at=state.run.ingested_at,
        config=state.config,
        stages=step.stages,
        articles=articles_schema(state.chain, state.params),
        metadata=run_metadata(state.run.run_id, versions),
        languages=state.params.languages,
        keep_kinds=state.params.keep_kinds,
    )
    published = publish_run(
        Path(state.run.out_dir),
        Path(state.run.staging_dir),
        job,
        state.plan["unsupported"],
        state.n_workers,
        state.scan["retract"],
        state.failed_files(),
        sorted({f for unit in state.plan.get("units", []) for f in unit["files"]}),
    )
    progress.publish("committed", run_id=state.run.run_id)
    return state.updated(published=published, versions=versions)


def write_report(state: RunState) -> RunState:
    """The run's summary (``runs/<id>.json``) and HTML report (``reports/<id>.html``)."""
    summary = report.build_summary(
        state.run.run_id,
        state.run.raw_dir,
        state.run.out_dir,
        state.units,
        state.published,
        state.plan["ignored"],
        time.time() - state.started,
        state.dedup,
    )
    stages: dict[str, dict[str, Any]] = {}
    for unit in state.units:
        merge_stats(stages, unit.get("stages", {}))
    merge_stats(stages, state.published.get("stages", {}))
    summary.update(
        files=state.scan["files"],
        boilerplate=state.learned,
        versions=state.versions,
        stages=stages,
        recovery=state.run.recovered,
    )
    order = [name for step in state.chain.steps for name in step.stages]
    summary["examples"] = workers.run_alone(
        state.n_workers,
        report.run_examples,
        state.run.out_dir,
        state.run.raw_dir,
        state.run.run_id,
        order,
    )
    summary["report_html"] = report.write_html(state.run.out_dir, summary)
    run_state.finish_run(state.run, summary)
    progress.publish("reported", run_id=state.run.run_id)
    return state.updated(summary=summary)


#: The job of every run step, by the step's name in the chain.
RUN_STEPS: dict[str, Callable[[RunState], RunState]] = {
    "scan-raw": scan_raw,
    "plan-units": plan_units,
    "merge-vocabulary": merge_vocabulary,
    "dedup": dedup,
    "learn-boilerplate": learn_boilerplate,
    "publish": publish,
    "report": write_report,
}


# --------------------------------------------------------------------------- unit passes


def pass_job(state: RunState, step: UnitPass) -> PassJob:
    """What a worker needs to run ``step`` over one unit (and the pass joined to it)."""
    params = state.params
    joined = state.chain.joined_to(step, params.enabled)
    inputs = RunInputs(
        near_dup=state.config,
        vocabulary=state.vocabulary if params.typos else None,
        keep_words=params.keep_word_list(),
        ingested_at=state.run.ingested_at,
    )
    return PassJob(
        step=step.name,
        stages=step.stages,
        source=step.source,
        output=step.output,
        raw_dir=state.run.raw_dir,
        staging_dir=state.run.staging_dir,
        inputs=inputs,
        batch_size=params.batch_size,
        max_doc_bytes=params.max_doc_bytes,
        count_vocabulary=step.counts_vocabulary and params.typos,
        slice_rows=step.slice_rows,
        joined_stages=joined.stages if joined else (),
    )


def unit_pass(state: RunState, job: PassJob, unit: ingest.WorkUnit) -> dict[str, Any]:
    """One pass over one unit, in the worker pool; returns its summary."""
    summary = ahead.take(state, job, unit)
    if summary is None:
        summary = workers.run(state.n_workers, run_unit, job, unit)
    progress.publish("unit_done", step=job.step, bytes=unit.size, docs=summary.docs_in)
    return summary.to_dict()


def quarantine_unit(state: RunState, unit: ingest.WorkUnit, error: str) -> int:
    """A unit that failed after its retries: drop what it staged, quarantine its files."""
    return quarantine_failed_unit(state.run.staging_dir, unit.index, list(unit.files), error)


class InfrastructureError(RuntimeError):
    """The machine, not the input, failed the run (no space, no permission on the output,
    no memory, a worker killed): the run stops and nothing of it is published; quarantining
    the files would record good input as bad and let a scheduler see success."""


#: errno values that say the storage or the machine failed, whatever the input.
INFRASTRUCTURE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO,
     errno.ENOMEM, errno.EMFILE, errno.ENFILE}
)  # fmt: skip


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from (``__cause__``, else ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def infrastructure_fault(error: BaseException) -> str | None:
    """Why ``error`` (or an error it was raised from) is the machine's fault, or None."""
    for cause in _causes(error):
        if isinstance(cause, MemoryError):
            return "out of memory"
        if isinstance(cause, BrokenProcessPool):
            return "a worker process died (killed, e.g. by the kernel's out-of-memory killer)"
        if isinstance(cause, OSError) and cause.errno in INFRASTRUCTURE_ERRNOS:
            return os.strerror(cause.errno).lower()
    return None


def server_lost(error: BaseException) -> bool:
    """Whether ``error`` (or one it was raised from) is the Prefect server going away: a
    refused or broken connection to its API."""
    import httpx  # Prefect's HTTP client

    return any(isinstance(cause, httpx.TransportError) for cause in _causes(error))


def describe_fault(
    error: BaseException, out_dir: Path | str, run_id: str | None = None
) -> str | None:
    """One line for a run the machine stopped (None: not the machine's fault): why, and
    what the dataset is now."""
    if isinstance(error, InfrastructureError):
        return str(error)
    why = infrastructure_fault(error)
    if why is None:
        return None
    run = f"run {run_id}" if run_id else "run"
    return f"{run} stopped: {why} ({error!r}); {uncommitted_state(Path(out_dir))}"


def uncommitted_state(out: Path) -> str:
    """What a run that stopped before its commit ended leaves in ``out``."""
    if (out / journal.JOURNAL).exists():
        return "its commit was under way: the next run completes it"
    return f"nothing of it was published, {out} is as before"


def settle_pass(
    state: RunState,
    outcomes: list[tuple[ingest.WorkUnit, dict[str, Any] | BaseException]],
    quarantine: Callable[[RunState, ingest.WorkUnit, str], int],
) -> RunState:
    """Collect a pass's unit summaries; a unit that failed (after its retries) is quarantined
    file by file and left out of the rest of the run (and of the manifest: the next run
    tries it again), unless the machine failed it: then the run stops
    (:class:`InfrastructureError`)."""
    units, failed = list(state.units), dict(state.failed)
    for unit, outcome in outcomes:
        fault = None
        if isinstance(outcome, BaseException):
            fault = describe_fault(outcome, state.run.out_dir, state.run.run_id)
        if fault is not None:
            raise InfrastructureError(fault) from outcome
        if isinstance(outcome, BaseException):
            failed[unit.index] = list(unit.files)
            quarantine(state, unit, repr(outcome))
        else:
            units.append(outcome)
    return state.updated(units=units, failed=failed)


UnitExecutor = Callable[
    [RunState, UnitPass, list[ingest.WorkUnit]],
    list[tuple[ingest.WorkUnit, dict[str, Any] | BaseException]],
]


# --------------------------------------------------------------------------- the driver


def drive(
    params: RunParams,
    run_step: Callable[[str, RunState], RunState],
    run_units: UnitExecutor,
    quarantine: Callable[[RunState, ingest.WorkUnit, str], int] = quarantine_unit,
) -> RunState:
    """Walk the chain: each enabled step in order, run steps through ``run_step``, unit passes
    through ``run_units`` (which returns each unit's summary or the error it failed with); a
    step marked ``fresh_workers`` starts from a new worker pool, and a pass joined to the one
    before it ran in that one's jobs. A run the CLI began ahead
    with the same parameters (:func:`start_ahead`) is adopted instead of begun."""
    state = ahead.adopt(params)
    if state is None:
        abandon_ahead()  # one begun with other parameters would hold the output folder's lock
        state = begin(params)
    try:
        for step in state.chain.steps:
            if not params.enabled(step) or state.chain.runs_joined(step, params.enabled):
                continue
            if step.fresh_workers:
                workers.shutdown()
            if isinstance(step, UnitPass):
                outcomes = run_units(state, step, state.work_units())
                state = settle_pass(state, outcomes, quarantine)
            else:
                state = run_step(step.name, state)
    except BaseException:
        ahead.release()  # units not started yet are dropped, not waited for
        _discard(state)  # a failed run's staging must not fill the disk
        raise
    finally:
        ahead.release()
        end(state)
    return state


def start_ahead(params: RunParams) -> bool:
    """Begin the run now, before Prefect's server answers: take the output folder, run the
    chain's steps before its first unit pass, and submit that pass's units to the worker
    pool (:mod:`newsclean.tasks.pipeline.ahead`). The flow started later with the same
    parameters adopts the run. False (nothing begun) without a worker pool."""
    if params.n_workers() <= 1:
        return False
    state = begin(params)
    try:
        done: list[str] = []
        for step in state.chain.steps:
            if not params.enabled(step):
                continue
            if isinstance(step, UnitPass) or step.fresh_workers:
                break
            state = RUN_STEPS[step.name](state)
            done.append(step.name)
        else:
            step = None
        state = state.updated(ahead=tuple(done))
        head = ahead.HeadStart(params, state)
        if isinstance(step, UnitPass) and not step.fresh_workers:
            head.job = pass_job(state, step)
            head.pending = {
                unit.index: workers.submit(state.n_workers, run_unit, head.job, unit)
                for unit in state.work_units()
            }
        ahead.register(head)
    except BaseException:
        _discard(state)
        end(state)
        raise
    return True


def abandon_ahead() -> None:
    """The run begun ahead will not reach a flow (no Prefect server): stop it, drop its
    staging, release the output folder."""
    head = ahead.forget()
    if head is not None:
        head.cancel()
        _discard(head.state)
        end(head.state)


def _discard(state: RunState) -> None:
    """A run that will not finish: its worker pool stops first (a unit already started ends
    before its staging goes; it would write into a removed folder), then its staging goes."""
    workers.shutdown()
    run_state.discard_staging(state.run)


def _inline_units(
    state: RunState, step: UnitPass, units: list[ingest.WorkUnit]
) -> list[tuple[ingest.WorkUnit, dict[str, Any] | BaseException]]:
    job = pass_job(state, step)
    outcomes: list[tuple[ingest.WorkUnit, dict[str, Any] | BaseException]] = []
    for unit in units:
        try:
            outcomes.append((unit, unit_pass(state, job, unit)))
        except Exception as error:  # the machine's fault is settled like the flow's
            if infrastructure_fault(error) is None:
                raise
            outcomes.append((unit, error))
            break  # the other units would meet the same full disk
    return outcomes


def run_inline(params: RunParams | None = None, **overrides: Any) -> RunState:
    """One run without Prefect, in this process (plus the worker pool ``workers`` asks for):
    the same steps in the same order as the flow. A failing unit raises (no retries here);
    a unit the machine failed stops the run as in the flow (:class:`InfrastructureError`)."""
    params = params or RunParams(**overrides)
    return drive(params, lambda name, s: RUN_STEPS[name](s), _inline_units)
