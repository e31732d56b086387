"""The phase timeline of a newsclean flow run, read from Prefect's own database.

Why: a run's wall time says how far a bar is, the stage budget (``throughput.py`` prints it
from the run summary) says which stage's CPU to cut; neither says which *phase* the run waits
on, or how long the gaps between phases are. Prefect records every task run's start and end,
so the timeline costs nothing to collect: this reads it back after the run, per step of the
chain (``clean-unit`` × units is one line: first start to last end, and how many tasks).

It reads the SQLite database of the server the run used (``$PREFECT_HOME/prefect.db``, or
``--home``) directly, read-only, so no server has to be running. That database's layout is
Prefect's, not ours: the two columns read (``flow_run``/``task_run`` names and start and end
times) have been stable through Prefect 3, but a later Prefect may move them.

Usage::

    python bench/phases.py [--home PREFECT_HOME] [--flow-run ID]   # default: the latest run
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsclean.tasks.pipeline.chain import CHAIN


@dataclass
class Phase:
    name: str
    start: float  # seconds after the flow run started
    end: float
    tasks: int


def _when(value: str | None) -> datetime | None:
    """A time from Prefect's database, timezone-aware (SQLite stores UTC without an offset)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def step_name(task_name: str, steps: list[str] = CHAIN.names) -> str:
    """``clean-unit-c69`` → ``clean-unit``: Prefect adds a short random suffix to most task
    run names, so the name is matched against the chain's steps (the longest that fits)."""
    fits = [s for s in steps if task_name == s or task_name.startswith(s + "-")]
    return max(fits, key=len) if fits else task_name


def read_timeline(db: Path, flow_run: str | None = None) -> tuple[str, float, list[Phase]]:
    """``(flow run name, flow seconds, phases in start order)`` of one flow run."""
    name, _, total, phases = _timeline(db, flow_run)
    return name, total, phases


def _timeline(db: Path, flow_run: str | None) -> tuple[str, datetime, float, list[Phase]]:
    """:func:`read_timeline` and the flow run's start."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        query = "SELECT id, name, start_time, end_time FROM flow_run"
        row = (
            con.execute(query + " WHERE id = ?", (flow_run,)).fetchone()
            if flow_run
            else con.execute(query + " ORDER BY start_time DESC LIMIT 1").fetchone()
        )
        if row is None:
            raise SystemExit(f"no flow run {'with id ' + flow_run if flow_run else ''} in {db}")
        run_id, name, started, ended = row
        tasks = con.execute(
            "SELECT name, start_time, end_time FROM task_run WHERE flow_run_id = ?"
            " ORDER BY start_time",
            (run_id,),
        ).fetchall()
    origin = _when(started)
    if origin is None:
        raise SystemExit(f"flow run {name} has not started")
    phases: dict[str, Phase] = {}
    for task, begin, end in tasks:
        begin_at, end_at = _when(begin), _when(end)
        if begin_at is None or end_at is None:
            continue  # never ran, or still running
        a, b = (begin_at - origin).total_seconds(), (end_at - origin).total_seconds()
        step = step_name(task)
        phase = phases.setdefault(step, Phase(step, a, b, 0))
        phase.start, phase.end = min(phase.start, a), max(phase.end, b)
        phase.tasks += 1
    finished = _when(ended)
    total = (finished - origin).total_seconds() if finished else float("nan")
    return name, origin, total, sorted(phases.values(), key=lambda p: p.start)


def phase_at(db: Path, moment: datetime) -> str:
    """Where the latest flow run was at ``moment`` (an aware datetime): the steps running
    then, joined by ``+``, or ``before the flow``, ``after the flow``, ``between steps``.
    The throughput bench names the phase of a run's memory peak with it."""
    try:
        _, origin, total, phases = _timeline(db, None)
    except SystemExit as missing:  # no flow run there: say so, do not stop the bench
        return f"unknown ({missing})"
    at = (moment - origin).total_seconds()
    if at < 0:
        return "before the flow (start-up, or the head start's first pass)"
    running = [p.name for p in phases if p.start <= at <= p.end]
    if running:
        return " + ".join(running)
    return "after the flow" if at > total else "between steps"


def render(name: str, total: float, phases: list[Phase]) -> list[str]:
    lines = [f"flow run {name}: {total:.2f} s", f"{'step':<20} {'start':>7} {'end':>7} {'s':>7}"]
    previous_end = 0.0
    for p in phases:
        gap = p.start - previous_end
        note = f"  (gap {gap:.2f} s)" if gap > 0.05 else ""
        lines.append(
            f"{p.name:<20} {p.start:7.2f} {p.end:7.2f} {p.end - p.start:7.2f}  x{p.tasks}{note}"
        )
        previous_end = max(previous_end, p.end)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=Path(os.environ.get("PREFECT_HOME", ".prefect")))
    ap.add_argument("--flow-run", help="flow run id (default: the latest)")
    args = ap.parse_args(argv)
    db = args.home / "prefect.db"
    if not db.exists():
        raise SystemExit(f"no Prefect database at {db} (set --home to the run's PREFECT_HOME)")
    print("\n".join(render(*read_timeline(db, args.flow_run))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
