"""Prefect tasks: one per step of the chain, each a thin wrapper that logs.

The logic lives in :mod:`newsclean.tasks.pipeline.steps`; each task takes the run state
and returns it updated (unit passes return a unit's summary), so no table crosses the Prefect
API and nothing is cached or persisted (caching would pickle results; see docs/prefect.md).
The run state and the pass's job go in wrapped (:class:`Untraversed`), which Prefect does not
walk into.
Unit passes are retried twice on any error (transient I/O) but the machine's (no space, no
permission, no memory: :func:`steps.infrastructure_fault`); a unit that still fails is
quarantined by the ``quarantine-unit`` task and the run goes on, unless the machine failed it:
then the run stops.
"""

from __future__ import annotations

import newsclean.prefect_env  # noqa: F401  (must precede the prefect import)

# isort: split

import json
from typing import Any, Generic, TypeVar

from prefect import Task, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

from newsclean.tasks.pipeline import steps
from newsclean.tasks.pipeline.chain import CHAIN, UnitPass
from newsclean.tasks.pipeline.state import RunState
from newsclean.tasks.pipeline.units import PassJob
from newsclean.tasks.storage.ingest import WorkUnit

T = TypeVar("T")


class Untraversed(Generic[T]):
    """A task argument Prefect hands over as it is, without walking into it.

    Why: Prefect walks every list, dict and dataclass in a task's arguments twice per task
    run (to find upstream futures, then to resolve them). The run state carries the plan's
    units and every unit's summary, and they hold no futures: in a 1 GB run of 160 task runs
    the walk took 21 s of the main process's CPU (py-spy), as much as a fifth of a core.
    Prefect's own ``quote`` does the same on the local runner, but it is a tuple, which Dask
    takes for one of its tasks and hands over unwrapped.
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


def _worth_retrying(task: Task, task_run: Any, state: Any) -> bool:
    """Retry a unit on any error but the machine's (a full disk stays full two seconds on)."""
    error = getattr(state, "data", None)
    return not (isinstance(error, BaseException) and steps.infrastructure_fault(error))


_UNIT_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 2,
    "retry_condition_fn": _worth_retrying,
}


def _log(name: str, state: RunState) -> None:
    """One INFO line per run step, with what it decided."""
    logger = get_run_logger()
    if name == "scan-raw":
        scan = state.scan
        logger.info("raw files: %s; %d to process", json.dumps(scan["files"]), len(scan["process"]))
    elif name == "plan-units":
        plan = state.plan
        logger.info(
            "%d work units over %.1f MB; %d ignored, %d unsupported files",
            len(plan["units"]),
            plan["total_bytes"] / 1e6,
            len(plan["ignored"]),
            len(plan["unsupported"]),
        )
    elif name == "merge-vocabulary":
        logger.info(
            "corpus vocabulary: %d words seen often enough to be kept", state.vocabulary_words
        )
    elif name == "dedup":
        logger.info("dedup: %s", json.dumps(state.dedup))
    elif name == "learn-boilerplate":
        logger.info("learned boilerplate: %s", json.dumps(state.learned))
    elif name == "publish":
        counts = {k: v for k, v in state.published.items() if isinstance(v, int)}
        logger.info("published %s", json.dumps(counts))
    elif name == "report":
        logger.info("report: %s", state.summary.get("report_html"))


def _step_task(name: str) -> Task:
    job = steps.RUN_STEPS[name]

    def step(wrapped: Untraversed[RunState]) -> RunState:
        state = job(wrapped.value)
        _log(name, state)
        return state

    step.__name__ = step.__qualname__ = name.replace("-", "_")
    step.__doc__ = job.__doc__
    return task(name=name, **_TASK_OPTIONS)(step)


def _unit_task(name: str) -> Task:
    def unit_pass(
        state: Untraversed[RunState], job: Untraversed[PassJob], unit: WorkUnit
    ) -> dict[str, Any]:
        summary = steps.unit_pass(state.value, job.value, unit)
        get_run_logger().info(
            "unit %d: %d docs, %d edits in %.2f s",
            unit.index,
            summary["docs_in"],
            summary["edits"],
            summary["seconds"],
        )
        return summary

    unit_pass.__name__ = unit_pass.__qualname__ = name.replace("-", "_")
    return task(name=name, **_UNIT_RETRIES, **_TASK_OPTIONS)(unit_pass)


#: A Prefect task for every step of the chain, by name.
STEP_TASKS: dict[str, Task] = {
    step.name: _unit_task(step.name) if isinstance(step, UnitPass) else _step_task(step.name)
    for step in CHAIN.steps
}


@task(name="quarantine-unit", **_TASK_OPTIONS)
def quarantine_unit(state: Untraversed[RunState], unit: WorkUnit, error: str) -> int:
    """A unit that failed after its retries: drop what it staged, quarantine its files."""
    count = steps.quarantine_unit(state.value, unit, error)
    get_run_logger().error("unit %d failed for good, quarantined: %s", unit.index, error)
    return count


def run_step(name: str, state: RunState) -> RunState:
    return STEP_TASKS[name](Untraversed(state))


def run_units(
    state: RunState, step: UnitPass, units: list[WorkUnit]
) -> list[tuple[WorkUnit, dict[str, Any] | BaseException]]:
    """The pass mapped over the units; each outcome is a summary or the final error."""
    job = steps.pass_job(state, step)
    futures = STEP_TASKS[step.name].map(
        unmapped(Untraversed(state)), unmapped(Untraversed(job)), units
    )
    return [(u, f.result(raise_on_failure=False)) for u, f in zip(units, futures, strict=True)]


def quarantine(state: RunState, unit: WorkUnit, error: str) -> int:
    return quarantine_unit(Untraversed(state), unit, error)
