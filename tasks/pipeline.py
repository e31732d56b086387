"""The per-batch stage chain: read a work unit, clean each batch, stage it as Parquet.

This is what a worker runs. It is a plain function (no Prefect) so a process pool can run it
and tests can call it directly; each batch goes ingest → normalize → boilerplate → reflow →
finalize and is written to the run's staging folder, so a worker returns only a small summary.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tasks import boilerplate, learned_boilerplate, minhash, normalize, typos
from tasks.dedup import content_hashes, word_counts
from tasks.edits import empty_edits
from tasks.ingest import DEFAULT_BATCH_SIZE, DEFAULT_MAX_DOC_BYTES, WorkUnit, domain_of, read_unit
from tasks.schema import QUARANTINE_SCHEMA, STAGED_SCHEMA
from tasks.write import read_parquet, staged_unit_parts, staging_paths, write_parquet_atomic


@dataclass
class BatchOutput:
    """A cleaned batch: staged documents, its edits, and documents rejected after cleaning."""

    docs: pa.Table
    edits: pa.Table
    quarantine: pa.Table


@dataclass
class UnitSummary:
    """Small, picklable result of one work unit (what a Prefect task returns)."""

    unit: int
    docs_in: int = 0
    bytes_in: int = 0
    docs_out: int = 0
    quarantined: int = 0
    edits: int = 0
    edits_by_rule: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "edits_by_rule": dict(self.edits_by_rule)}


#: Columns ``finalize`` derives from the text; dropped and derived again after a later edit.
_DERIVED = ["content_hash", "word_count", "n_edits", "text_chars"]


def _emptied(docs: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split off documents that cleaning left without text (all boilerplate)."""
    texts = docs.column("text")
    empty = pc.fill_null(pc.equal(pc.utf8_length(texts), 0), True)
    if not pc.any(empty).as_py():
        return docs, QUARANTINE_SCHEMA.empty_table()
    gone = docs.filter(empty)
    quarantine = pa.table(
        {
            "source_file": gone.column("source_file"),
            "source_record": gone.column("source_record"),
            "reason": ["no text left after boilerplate removal (see edits)"] * gone.num_rows,
        },
        schema=QUARANTINE_SCHEMA,
    )
    return docs.filter(pc.invert(empty)), quarantine


def finalize(docs: pa.Table, n_edits: Counter[str]) -> pa.Table:
    """Add the derived columns (hash, word count, edit count) in the staged layout; a domain
    missing at ingest comes from a URL that boilerplate removal found ("Source: URL")."""
    texts = docs.column("text")
    text_list = texts.to_pylist()
    domains = [
        domain or domain_of(url)
        for domain, url in zip(
            docs.column("domain").to_pylist(), docs.column("url").to_pylist(), strict=True
        )
    ]
    columns = {
        **{name: docs.column(name) for name in docs.column_names},
        "domain": pa.array(domains, pa.string()),
        "content_hash": content_hashes(text_list),
        "word_count": word_counts(text_list),
        "n_edits": pa.array(
            [n_edits.get(d, 0) for d in docs.column("doc_id").to_pylist()], pa.int32()
        ),
        "text_chars": pc.cast(pc.utf8_length(texts), pa.int64()),
    }
    return pa.table({f.name: columns[f.name] for f in STAGED_SCHEMA}, schema=STAGED_SCHEMA)


def clean_batch(docs: pa.Table) -> BatchOutput:
    """Run every cleaning stage over one batch of ingested documents."""
    edits = []
    for stage in (normalize.normalize_batch, boilerplate.strip_boilerplate, normalize.reflow_batch):
        docs, stage_edits = stage(docs)
        edits.append(stage_edits)
    all_edits = pa.concat_tables(edits)
    docs, quarantine = _emptied(docs)
    n_edits = Counter(all_edits.column("doc_id").to_pylist())
    return BatchOutput(finalize(docs, n_edits), all_edits, quarantine)


def process_unit(
    raw_dir: str,
    staging_dir: str,
    unit: WorkUnit,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES,
    count_vocabulary: bool = False,
) -> UnitSummary:
    """Read, clean and stage one work unit, one bounded batch at a time (and, for the typo
    pass, the batch's word counts: the corpus vocabulary must be known before any batch is
    corrected)."""
    started = time.perf_counter()
    summary = UnitSummary(unit=unit.index)
    for part, (docs, rejected) in enumerate(
        read_unit(Path(raw_dir), unit, batch_size, max_doc_bytes)
    ):
        out = clean_batch(docs)
        quarantine = pa.concat_tables([rejected, out.quarantine])
        paths = staging_paths(Path(staging_dir), unit.index, part)
        write_parquet_atomic(out.docs, paths["docs"])
        write_parquet_atomic(out.edits, paths["edits"])
        write_parquet_atomic(quarantine, paths["quarantine"])
        if count_vocabulary:
            write_parquet_atomic(typos.vocabulary_table(out.docs.column("text")), paths["vocab"])
        summary.docs_in += docs.num_rows
        summary.bytes_in += pc.sum(docs.column("raw_bytes")).as_py() or 0
        summary.docs_out += out.docs.num_rows
        summary.quarantined += quarantine.num_rows
        summary.edits += out.edits.num_rows
        summary.edits_by_rule.update(out.edits.column("rule").to_pylist())
        del docs, rejected, out, quarantine
        pa.default_memory_pool().release_unused()  # keep a long-lived worker's RSS flat
    summary.seconds = time.perf_counter() - started
    return summary


def correct_unit_typos(
    staging_dir: str, unit_index: int, vocabulary: str, never_change: list[str]
) -> UnitSummary:
    """Second pass over one unit's staged batches: correct typos with the run's vocabulary,
    update the derived columns of the documents that changed, append the typo edits."""
    started = time.perf_counter()
    summary = UnitSummary(unit=unit_index)
    corrector = _run_corrector(vocabulary, tuple(never_change))
    for docs_path in staged_unit_parts(Path(staging_dir), "docs", unit_index):
        edits_path = docs_path.parent.parent / "edits" / docs_path.name
        docs = read_parquet(docs_path)
        corrected, typo_edits = _correct_in_slices(docs, corrector)
        if typo_edits.num_rows:
            edits = pa.concat_tables([read_parquet(edits_path), typo_edits])
            n_edits = Counter(edits.column("doc_id").to_pylist())
            write_parquet_atomic(finalize(corrected.drop_columns(_DERIVED), n_edits), docs_path)
            write_parquet_atomic(edits, edits_path)
        summary.edits += typo_edits.num_rows
        summary.edits_by_rule.update(typo_edits.column("rule").to_pylist())
        del docs, corrected, typo_edits
        pa.default_memory_pool().release_unused()
    summary.seconds = time.perf_counter() - started
    return summary


@lru_cache(maxsize=1)
def _run_corrector(vocabulary: str, never_change: tuple[str, ...]) -> typos.Corrector:
    """One corrector per worker and run: the vocabulary is read once and every word type is
    decided once, however many units the worker corrects."""
    return typos.Corrector(typos.read_vocabulary(Path(vocabulary)), frozenset(never_change))


def _correct_in_slices(
    docs: pa.Table, corrector: typos.Corrector, rows: int = 500
) -> tuple[pa.Table, pa.Table]:
    """Correct a staged batch a few hundred documents at a time: the typo pass tokenizes
    whole batches in Arrow, and slicing keeps that transient small in every worker."""
    results = [
        typos.correct_batch(docs.slice(start, rows), corrector=corrector)
        for start in range(0, docs.num_rows, rows)
    ]
    if not results:
        return docs, empty_edits()
    return (
        pa.concat_tables([r.table for r in results]),
        pa.concat_tables([r.edits for r in results]),
    )


def sketch_unit(staging_dir: str, unit_index: int, config: minhash.NearDupConfig) -> UnitSummary:
    """MinHash sketch (and short-line hashes) of every staged document of one unit, after the
    typo pass so both are of the final text; one file per staged batch, row-aligned with it."""
    started = time.perf_counter()
    summary = UnitSummary(unit=unit_index)
    for docs_path in staged_unit_parts(Path(staging_dir), "docs", unit_index):
        docs = read_parquet(docs_path, columns=["doc_id", "domain", "text"])
        sketch = minhash.sketch_batch(
            docs.column("doc_id").combine_chunks(), docs.column("text"), config
        )
        # The short lines the boilerplate learner counts, from the same final text.
        lines, words = learned_boilerplate.line_lists(docs)
        sketch = sketch.append_column("lines", lines).append_column("line_words", words)
        write_parquet_atomic(sketch, docs_path.parent.parent / "sketch" / docs_path.name)
        summary.docs_out += docs.num_rows
        del docs, sketch
        pa.default_memory_pool().release_unused()
    summary.seconds = time.perf_counter() - started
    return summary


def quarantine_failed_unit(staging_dir: str, unit_index: int, files: list[str], error: str) -> int:
    """Remove whatever a failed unit staged and stage one quarantine row per file instead,
    so the run goes on without it (and nothing half-done from it is published)."""
    staging = Path(staging_dir)
    for kind in ("docs", "edits", "quarantine", "vocab", "sketch"):
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
    write_parquet_atomic(table, staging_paths(staging, unit_index, 9999)["quarantine"])
    return len(files)
