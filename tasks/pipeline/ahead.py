"""A run begun before Prefect's server answers: ``newsclean run``'s head start.

Why: a first run's Prefect server takes 4-7 s to boot (imports, migrations), and the worker
pool, ready after about 2.5 s, used to wait for it doing nothing. The CLI begins the run
instead (writer lock, staging folder), runs the steps before the chain's first unit pass
(scan-raw, plan-units: no Prefect needed) and hands that pass's units to the pool; then it
waits for the server and starts the flow, which adopts the begun run
(:func:`~newsclean.tasks.pipeline.steps.drive`): its scan and plan tasks report the results
already there, and each of its first pass's unit tasks collects its unit's result from the
pool instead of submitting the unit again. A retried unit runs anew. Nothing else changes:
the same jobs, in the same worker processes, write the same staging files.

One run per process: the head start is registered here until the flow takes it (or the CLI
abandons it when no server starts).
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from newsclean.tasks.pipeline import workers
from newsclean.tasks.pipeline.state import RunParams, RunState
from newsclean.tasks.pipeline.units import PassJob, UnitSummary
from newsclean.tasks.storage.ingest import WorkUnit


@dataclass
class HeadStart:
    """The begun run (its state after the steps in ``state.ahead``) and the pending units of
    the pass ``job`` describes, by unit index (none when the chain's first pass after them
    needs fresh workers)."""

    params: RunParams
    state: RunState
    job: PassJob | None = None
    pending: dict[int, Future[UnitSummary]] = field(default_factory=dict)

    def take(self, job: PassJob, unit: WorkUnit) -> Future[UnitSummary] | None:
        """The pending result of ``unit`` in ``job``'s pass (once), or None."""
        return self.pending.pop(unit.index, None) if job == self.job else None

    def cancel(self) -> None:
        """Drop the units no worker has started (a started one finishes; the pool's
        shutdown waits for it)."""
        for future in self.pending.values():
            future.cancel()
        self.pending.clear()


_registered: HeadStart | None = None  # begun, not yet adopted by a flow
_active: HeadStart | None = None  # adopted by the running flow


def register(head: HeadStart) -> None:
    global _registered
    if _registered is not None or _active is not None:
        raise RuntimeError("a head start is registered already (one run per process)")
    _registered = head


def adopt(params: RunParams) -> RunState | None:
    """The begun run's state if the head start was begun with ``params`` (the flow's);
    its pending units are then collected by :func:`take` until :func:`release`."""
    global _registered, _active
    if _registered is None or _registered.params != params:
        return None  # none, or another run's: left for its owner to abandon
    _active, _registered = _registered, None
    return _active.state


def take(state: RunState, job: PassJob, unit: WorkUnit) -> UnitSummary | None:
    """The head-started result of ``unit`` in ``job``'s pass of ``state``'s run (once: a
    retry runs the unit anew), or None. A dead worker breaks the pool as in ``workers.run``."""
    head = _active
    if head is None or head.state.run.run_id != state.run.run_id:
        return None
    future = head.take(job, unit)
    if future is None:
        return None
    try:
        return future.result()
    except BrokenProcessPool:
        workers.shutdown()
        raise


def release() -> None:
    """The adopted run ended: drop what it did not collect."""
    global _active
    if _active is not None:
        _active.cancel()
    _active = None


def registered_head() -> HeadStart | None:
    """The head start begun and not yet adopted, if any."""
    return _registered


def forget() -> HeadStart | None:
    """Unregister and return the head start nobody adopted (the CLI abandons it)."""
    global _registered
    head, _registered = _registered, None
    return head
