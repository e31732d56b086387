"""A unit pass in a worker: read a work unit batch by batch, run the pass's stages, stage.

This is what a worker process runs for a :class:`~newsclean.tasks.pipeline.chain.UnitPass`.
It is a plain function (no Prefect) so a process pool can run it and tests can call it
directly. A pass reads either the unit's raw files (ingest) or the documents an earlier pass
staged, and stages either the documents and their edits again or only the columns its stages
add (the sketch, beside the documents). A worker returns only a small summary.

Stages are built once per worker and pass from the run's inputs (the vocabulary, the words to
keep, the near-dup settings), so a dictionary or a corrector's memo serves every unit the
worker handles.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.pipeline.memory import release_memory
from newsclean.tasks.pipeline.runner import BatchRun, Runner, merge_stats
from newsclean.tasks.schema import DOC_SCHEMA, QUARANTINE_SCHEMA
from newsclean.tasks.stages import resolve
from newsclean.tasks.stages.base import Stage
from newsclean.tasks.stages.edits import empty_edits
from newsclean.tasks.stages.minhash import NearDupConfig
from newsclean.tasks.stages.typos import Corrector, vocabulary_table
from newsclean.tasks.storage.ingest import WorkUnit, read_unit
from newsclean.tasks.storage.io import read_parquet, write_staged
from newsclean.tasks.storage.layout import (
    STAGED_KINDS,
    sibling,
    staged_unit_parts,
    staging_paths,
)


@dataclass
class UnitSummary:
    """Small, picklable result of one unit pass (what a Prefect task returns)."""

    unit: int
    step: str = ""
    docs_in: int = 0
    bytes_in: int = 0
    docs_out: int = 0
    quarantined: int = 0
    edits: int = 0
    edits_by_rule: Counter[str] = field(default_factory=Counter)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, run: BatchRun) -> None:
        self.docs_out += run.docs.num_rows
        self.add_work(run)

    def add_work(self, run: BatchRun) -> None:
        """A run's edits and stage stats, not its documents (a joined pass runs on documents
        the pass it joins has counted)."""
        self.edits += run.edits.num_rows
        self.edits_by_rule.update(run.edits.column("rule").to_pylist())
        merge_stats(self.stages, {name: s.to_dict() for name, s in run.stats.items()})

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "edits_by_rule": dict(self.edits_by_rule)}


@dataclass(frozen=True)
class RunInputs:
    """The run-wide inputs stages are built from, as small picklable values (paths, not
    tables): each worker loads them once."""

    near_dup: NearDupConfig
    vocabulary: str | None = None
    keep_words: tuple[str, ...] = ()
    #: The run's start (UTC): what the dates stage bounds a record without a crawl time by.
    ingested_at: datetime | None = None


@dataclass(frozen=True)
class PassJob:
    """One pass over one unit, as sent to a worker."""

    step: str
    stages: tuple[str, ...]
    source: str  # "raw" | "docs"
    output: str  # "docs" | "sketch"
    raw_dir: str
    staging_dir: str
    inputs: RunInputs
    batch_size: int
    max_doc_bytes: int
    count_vocabulary: bool = False
    slice_rows: int = 0
    #: The stages of the sketch pass that runs in this job (``UnitPass.joins_previous``): run
    #: on each batch this pass stages, their added columns staged beside it as its sketch.
    joined_stages: tuple[str, ...] = ()


class _LoadedInputs(dict):
    """The inputs :meth:`Stage.build` reads, loaded on first use: a pass whose stages never
    ask for the corrector never reads the vocabulary."""

    def __init__(self, inputs: RunInputs, loaded: dict[str, Any]) -> None:
        super().__init__({"near_dup": inputs.near_dup, "ingested_at": inputs.ingested_at, **loaded})
        self._inputs = inputs

    def __missing__(self, key: str) -> Any:
        if key != "corrector":
            raise KeyError(
                f"no run input {key!r} (known: near_dup, ingested_at, corrector, learned)"
            )
        value = self[key] = _corrector(self._inputs.vocabulary, self._inputs.keep_words)
        return value


def build_stages(
    references: tuple[str, ...], inputs: RunInputs, loaded: dict[str, Any] | None = None
) -> list[Stage]:
    """The stages a pass names, built with the run's inputs (and inputs already loaded,
    such as the learned-boilerplate set at publish time)."""
    available = _LoadedInputs(inputs, loaded or {})
    return [resolve(reference).build(available) for reference in references]


@lru_cache(maxsize=4)
def _stages(references: tuple[str, ...], inputs: RunInputs) -> tuple[Stage, ...]:
    """A pass's stages, built once per worker and run, however many units it handles."""
    return tuple(build_stages(references, inputs))


@lru_cache(maxsize=4)
def _runner(references: tuple[str, ...], inputs: RunInputs, schema: pa.Schema) -> Runner:
    """One runner per worker, pass and input schema (checked once)."""
    return Runner(_stages(references, inputs), schema)


@lru_cache(maxsize=1)
def _corrector(vocabulary: str | None, keep_words: tuple[str, ...]) -> Corrector:
    """One corrector per worker and run: the vocabulary is read once and every word type is
    decided once, however many units the worker corrects."""
    counts = read_vocabulary(Path(vocabulary)) if vocabulary else {}
    return Corrector(counts, frozenset(w.lower() for w in keep_words))


def run_unit(job: PassJob, unit: WorkUnit) -> UnitSummary:
    """Run one pass over one unit, batch by batch; returns its summary."""
    started = time.perf_counter()
    summary = UnitSummary(unit=unit.index, step=job.step)
    if job.source == "raw":
        _from_raw(job, unit, summary)
    else:
        _from_staged(job, unit.index, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _from_raw(job: PassJob, unit: WorkUnit, summary: UnitSummary) -> None:
    staging = Path(job.staging_dir)
    batches = read_unit(Path(job.raw_dir), unit, job.batch_size, job.max_doc_bytes)
    for part, (docs, rejected) in enumerate(batches):
        runner = _runner(job.stages, job.inputs, DOC_SCHEMA)
        run = runner.run(docs)
        quarantine = pa.concat_tables([rejected, run.quarantine])
        paths = staging_paths(staging, unit.index, part)
        write_staged(run.docs, paths["docs"])
        write_staged(run.edits, paths["edits"])
        write_staged(quarantine, paths["quarantine"])
        if job.count_vocabulary:
            vocabulary = vocabulary_table(run.docs.column("text"))
            write_staged(vocabulary, paths["vocab"])
        summary.docs_in += docs.num_rows
        summary.bytes_in += pc.sum(docs.column("raw_bytes")).as_py() or 0
        summary.quarantined += quarantine.num_rows
        summary.add(run)
        del docs, rejected, quarantine  # the joined pass needs only the cleaned documents
        if job.joined_stages:
            _sketch_joined(job, run.docs, paths["docs"], summary)
        del run
        release_memory()  # keep a long-lived worker's RSS flat


def _from_staged(job: PassJob, unit_index: int, summary: UnitSummary) -> None:
    columns = _columns_read(job.stages, job.inputs) if job.output == "sketch" else None
    for docs_path in staged_unit_parts(Path(job.staging_dir), "docs", unit_index):
        docs = read_parquet(docs_path, columns=columns)
        runner = _runner(job.stages, job.inputs, docs.schema.remove_metadata())
        run = _run_in_slices(runner, docs, job.slice_rows)
        summary.quarantined += run.quarantine.num_rows
        summary.add(run)
        if job.output == "sketch":
            _write_sketch(runner, run, docs_path)
        elif (
            run.edits.num_rows or run.quarantine.num_rows or not run.docs.schema.equals(docs.schema)
        ):
            _restage(docs_path, run)
        del docs  # the joined pass needs only the documents as they are now
        if job.joined_stages:
            release_memory()
            _sketch_joined(job, run.docs, docs_path, summary)
        del run
        release_memory()


def _sketch_joined(job: PassJob, docs: pa.Table, docs_path: Path, summary: UnitSummary) -> None:
    """The joined sketch pass over the documents just staged at ``docs_path``: what its own
    job would do after reading them back (the columns its stages read), without the read."""
    columns = _columns_read(job.joined_stages, job.inputs)
    docs = docs.select(columns)
    runner = _runner(job.joined_stages, job.inputs, docs.schema.remove_metadata())
    run = runner.run(docs)
    summary.add_work(run)
    _write_sketch(runner, run, docs_path)


def _write_sketch(runner: Runner, run: BatchRun, docs_path: Path) -> None:
    """Stage the columns the pass's stages add for its own use (not published) beside the
    documents."""
    added = [c.name for s in runner.stages for c in s.adds if not c.published]
    write_staged(run.docs.select(["doc_id", *added]), sibling(docs_path, "sketch"))


def _columns_read(references: tuple[str, ...], inputs: RunInputs) -> list[str]:
    """A pass that stages only what its stages add reads only what they read."""
    stages = _stages(references, inputs)
    return sorted({"doc_id", *(c for s in stages for c in s.reads)})


def _run_in_slices(runner: Runner, docs: pa.Table, rows: int) -> BatchRun:
    """Run a staged batch a few hundred documents at a time when the pass asks for it (the
    typo pass tokenizes whole batches in Arrow: slicing keeps that transient small)."""
    if not rows or docs.num_rows <= rows:
        return runner.run(docs)
    runs = [runner.run(docs.slice(start, rows)) for start in range(0, docs.num_rows, rows)]
    stats = runs[0].stats
    for run in runs[1:]:
        for name, more in run.stats.items():
            stats[name].add(more)
    return BatchRun(
        docs=pa.concat_tables([r.docs for r in runs]),
        edits=pa.concat_tables([r.edits for r in runs]),
        quarantine=pa.concat_tables([r.quarantine for r in runs]),
        stats=stats,
    )


def _restage(docs_path: Path, run: BatchRun) -> None:
    """A later pass's documents replace the staged part; its edits and quarantine rows are
    appended to the part's."""
    edits_path, quarantine_path = sibling(docs_path, "edits"), sibling(docs_path, "quarantine")
    write_staged(run.docs, docs_path)
    if run.edits.num_rows:
        edits = read_parquet(edits_path) if edits_path.exists() else empty_edits()
        write_staged(pa.concat_tables([edits, run.edits]), edits_path)
    if run.quarantine.num_rows:
        earlier = (
            read_parquet(quarantine_path)
            if quarantine_path.exists()
            else QUARANTINE_SCHEMA.empty_table()
        )
        write_staged(pa.concat_tables([earlier, run.quarantine]), quarantine_path)


def quarantine_failed_unit(staging_dir: str, unit_index: int, files: list[str], error: str) -> int:
    """Remove whatever a failed unit staged and stage one quarantine row per file instead,
    so the run goes on without it (and nothing half-done from it is published)."""
    staging = Path(staging_dir)
    for kind in STAGED_KINDS:
        for path in staged_unit_parts(staging, kind, unit_index):
            path.unlink()
    reason = f"processing failed after retries: {error}"[:500]
    table = pa.table(
        {
            "source_file": list(files),
            "source_record": pa.array([None] * len(files), pa.int64()),
            "reason": [reason] * len(files),
        },
        schema=QUARANTINE_SCHEMA,
    )
    write_staged(table, staging_paths(staging, unit_index, 9999)["quarantine"])
    return len(files)


def merge_vocabularies(parts: list[Path], out: Path, min_count: int, group: int = 16) -> int:
    """Sum per-batch word counts into the run's vocabulary, keeping words seen ``min_count``
    times or more (the only ones the corpus guard consults). Parts are folded in groups, so
    memory holds the running vocabulary plus ``group`` batches, never every batch at once."""
    total = pa.table({"word": pa.array([], pa.string()), "count": pa.array([], pa.int64())})
    for start in range(0, len(parts), group):
        tables = [total, *(read_parquet(p) for p in parts[start : start + group])]
        merged = pa.concat_tables(tables).group_by("word").aggregate([("count", "sum")])
        total = merged.rename_columns(["word", "count"])
    kept = total.filter(pc.greater_equal(total.column("count"), min_count))
    write_staged(kept, out)
    return kept.num_rows


def read_vocabulary(path: Path) -> dict[str, int]:
    table = read_parquet(path)
    return dict(
        zip(table.column("word").to_pylist(), table.column("count").to_pylist(), strict=True)
    )
