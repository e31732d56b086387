"""The runner: applies a pass's stages to a batch, checks their contracts, counts everything.

One place owns the batch loop's bookkeeping so that no stage repeats it:

* **at start-up** (:func:`check_stages`) every stage's declared ``reads`` and ``writes`` must
  exist in the batch by then and its ``adds`` must not clash with a column of another type;
  the result is the schema the pass produces (what is staged, what reaches ``articles/``);
* **per stage and batch** the output must have exactly the declared columns, any column the
  stage does not declare must be unchanged, every document whose ``text`` changed must have an
  edit row of that stage (nothing is lost silently), and a filter stage's dropped rows become
  quarantine rows; any breach raises :class:`ContractError`, naming the stage and the column;
* **edits and stats**: the runner collects the edit rows, keeps ``n_edits`` per document, and
  times and counts each stage (documents, changed, dropped, edits, seconds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.schema import QUARANTINE_SCHEMA, RUNNER_FIELDS
from newsclean.tasks.stages.base import BatchContext, Stage
from newsclean.tasks.stages.edits import compact_edits, empty_edits


class ContractError(RuntimeError):
    """A stage broke its declaration (reads, writes, adds); the message says how."""


@dataclass
class StageStats:
    """What one stage did over a pass: the runner's free statistics."""

    docs: int = 0
    changed: int = 0
    dropped: int = 0
    edits: int = 0
    seconds: float = 0.0

    def add(self, other: StageStats) -> None:
        self.docs += other.docs
        self.changed += other.changed
        self.dropped += other.dropped
        self.edits += other.edits
        self.seconds += other.seconds

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 4)}


def merge_stats(total: dict[str, dict[str, Any]], more: dict[str, dict[str, Any]]) -> None:
    """Add per-stage stats (as dicts, as they cross process boundaries) into ``total``."""
    for name, stats in more.items():
        into = StageStats(**total.get(name, {}))
        into.add(StageStats(**stats))
        total[name] = into.to_dict()


@dataclass
class BatchRun:
    """One batch after a pass: the documents, the pass's edits, the documents dropped."""

    docs: pa.Table
    edits: pa.Table
    quarantine: pa.Table
    stats: dict[str, StageStats] = field(default_factory=dict)


def check_stages(stages: Sequence[Stage], schema: pa.Schema) -> pa.Schema:
    """The schema a pass produces from ``schema``, or :class:`ContractError` when a stage
    reads or writes a column nobody provides, or adds one another stage typed differently."""
    fields = {f.name: f for f in schema}
    for f in RUNNER_FIELDS:
        fields.setdefault(f.name, f)
    for stage in stages:
        missing = [c for c in (*stage.reads, *stage.writes) if c not in fields]
        if missing:
            raise ContractError(
                f"stage {stage.id} reads or writes {missing}, which no earlier stage or the "
                f"input provides (available: {sorted(fields)})"
            )
        for column in stage.adds:
            known = fields.get(column.name)
            if known is not None and not known.type.equals(column.type):
                raise ContractError(
                    f"stage {stage.id} adds {column.name!r} as {column.type}, but it is "
                    f"already {known.type}"
                )
            fields[column.name] = column.field()
    return pa.schema(list(fields.values()))


class Runner:
    """A pass's stages, checked once against the batches' schema, applied batch by batch."""

    def __init__(self, stages: Sequence[Stage], schema: pa.Schema) -> None:
        self.stages = list(stages)
        self.input_schema = schema
        self.output_schema = check_stages(self.stages, schema)

    def run(self, batch: pa.Table) -> BatchRun:
        batch = _with_runner_columns(batch)
        edits: list[pa.Table] = []
        quarantine: list[pa.Table] = [QUARANTINE_SCHEMA.empty_table()]
        stats: dict[str, StageStats] = {}
        changed = np.zeros(batch.num_rows, dtype=bool)
        dropped_ids: list[pa.Array] = []
        for stage in self.stages:
            started = time.perf_counter()
            result = stage.process(batch, BatchContext(changed=changed))
            seconds = time.perf_counter() - started
            out, stage_changed = _checked(stage, batch, result.table, result.edits)
            changed |= stage_changed
            out = _count_edits(out, result.edits)
            dropped = 0
            if result.keep is not None:
                keep = np.asarray(result.keep, dtype=bool)
                dropped = int((~keep).sum())
                if dropped:
                    gone = out.filter(pa.array(~keep))
                    quarantine.append(_quarantined(gone, result.reason))
                    dropped_ids.append(gone["doc_id"].combine_chunks())
                    out = out.filter(pa.array(keep))
                    changed = changed[keep]
            stats[stage.name] = StageStats(
                docs=batch.num_rows,
                changed=int(stage_changed.sum()),
                dropped=dropped,
                edits=result.edits.num_rows,
                seconds=seconds,
            )
            edits.append(result.edits)
            batch = out
        schema = self.output_schema
        all_edits = pa.concat_tables(edits) if edits else empty_edits()
        if dropped_ids:  # a dropped document's audit: one counted row per stage and rule
            all_edits = compact_edits(all_edits, pa.concat_arrays(dropped_ids))
        return BatchRun(
            docs=batch.select(schema.names).cast(schema),
            edits=all_edits,
            quarantine=pa.concat_tables(quarantine),
            stats=stats,
        )


def _with_runner_columns(batch: pa.Table) -> pa.Table:
    for f in RUNNER_FIELDS:
        if f.name not in batch.column_names:
            batch = batch.append_column(f, pa.array(np.zeros(batch.num_rows, np.int32)))
    return batch


def _checked(
    stage: Stage, before: pa.Table, after: pa.Table, edits: pa.Table
) -> tuple[pa.Table, np.ndarray]:
    """The stage's output, checked against its declaration; and the rows whose text it
    changed."""
    if after.num_rows != before.num_rows:
        raise ContractError(
            f"stage {stage.id} changed the number of rows ({before.num_rows} → "
            f"{after.num_rows}); a filter stage returns ``keep`` instead"
        )
    declared = set(before.column_names) | {c.name for c in stage.adds}
    extra = sorted(set(after.column_names) - declared)
    if extra:
        raise ContractError(f"stage {stage.id} wrote columns it does not declare: {extra}")
    missing = sorted(declared - set(after.column_names))
    if missing:
        raise ContractError(f"stage {stage.id} dropped or did not add columns {missing}")
    may_change = {*stage.writes, *(c.name for c in stage.adds)}
    for name in before.column_names:
        if name not in may_change and not after.column(name).equals(before.column(name)):
            raise ContractError(
                f"stage {stage.id} changed column {name!r}, which it does not declare in ``writes``"
            )
    for column in stage.adds:
        if not after.schema.field(column.name).type.equals(column.type):
            raise ContractError(
                f"stage {stage.id} added {column.name!r} as "
                f"{after.schema.field(column.name).type}, declared {column.type}"
            )
    changed = np.zeros(before.num_rows, dtype=bool)
    if "text" in stage.writes and before.num_rows:
        old, new = before.column("text"), after.column("text")
        differs = pc.fill_null(pc.not_equal(new, old), False)
        changed = np.asarray(pc.or_(differs, pc.not_equal(pc.is_null(new), pc.is_null(old))))
        if changed.any():
            _require_edits(stage, after, changed, edits)
    return after, changed


def _require_edits(stage: Stage, after: pa.Table, changed: np.ndarray, edits: pa.Table) -> None:
    """Every document whose text a stage changed has at least one edit row of that stage."""
    ids = after.column("doc_id").filter(pa.array(changed))
    logged = pc.is_in(ids, value_set=edits.column("doc_id").combine_chunks())
    if not pc.all(logged).as_py():
        missing = ids.filter(pc.invert(logged)).to_pylist()[:3]
        raise ContractError(
            f"stage {stage.id} changed the text of {missing} without an edit row: every "
            f"change must be recorded"
        )


def _count_edits(batch: pa.Table, edits: pa.Table) -> pa.Table:
    """``n_edits`` plus this stage's rows per document."""
    if edits.num_rows == 0:
        return batch
    counts = pc.value_counts(edits.column("doc_id").combine_chunks())
    at = pc.index_in(batch.column("doc_id"), value_set=counts.field("values"))
    added = pc.fill_null(counts.field("counts").take(at), 0)
    index = batch.schema.get_field_index("n_edits")
    total = pc.cast(pc.add(batch.column("n_edits"), pc.cast(added, pa.int32())), pa.int32())
    return batch.set_column(index, batch.schema.field(index), total)


def _quarantined(docs: pa.Table, reason: str) -> pa.Table:
    return pa.table(
        {
            "source_file": docs.column("source_file"),
            "source_record": docs.column("source_record"),
            "reason": [reason] * docs.num_rows,
        },
        schema=QUARANTINE_SCHEMA,
    )
