"""The ``publish`` step: the run's new rows become part of the dataset in one commit.

Each work unit becomes one articles, one edits and one dedup-index file, written in the worker
pool (:func:`publish_unit`): per staged part, the dedup decision picks the kept articles, the
publish stages (learned-boilerplate removal, then the derived columns) run over them through
the runner, and the index rows are taken from the staged text (before learned lines went, as a
re-read of the raw record would hash). One more worker job (:func:`finish_publish`) writes the
run's duplicates and quarantine rows, the rewrites of earlier files that lose rows, the learned
model and the new manifest, and commits everything through the journal. The orchestrating
process never holds table data; a reader sees every new file whole.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.pipeline import report, workers
from newsclean.tasks.pipeline.index_build import index_rows, schema_of
from newsclean.tasks.pipeline.learn_job import read_learned_set, removal_examples, with_examples
from newsclean.tasks.pipeline.memory import release_memory
from newsclean.tasks.pipeline.republish import COPY_COLUMNS, refresh_copy_counts
from newsclean.tasks.pipeline.runner import Runner, StageStats
from newsclean.tasks.pipeline.units import RunInputs, build_stages
from newsclean.tasks.schema import (
    DEDUP_KEY_COLUMNS,
    DUPLICATE_SCHEMA,
    EDIT_SCHEMA,
    QUARANTINE_SCHEMA,
    SET_ASIDE_FIELD,
    TIMESTAMP,
)
from newsclean.tasks.stages.dedup import republication
from newsclean.tasks.stages.minhash import NearDupConfig
from newsclean.tasks.storage import boilerplate_model as model_files
from newsclean.tasks.storage import manifest
from newsclean.tasks.storage.ingest import unsupported_quarantine
from newsclean.tasks.storage.io import (
    ParquetStreams,
    file_metadata,
    read_parquet,
    temp_path,
    write_parquet_atomic,
    write_stream,
)
from newsclean.tasks.storage.journal import commit
from newsclean.tasks.storage.layout import (
    DUPLICATES,
    INDEX_DIR,
    OTHER_KINDS,
    OTHER_LANGUAGES,
    REPLACED,
    SCAN_ROWS,
    SET_ASIDE_TABLES,
    STAGED_MODEL,
    STAGED_PUBLISHERS,
    SUPERSEDED,
    TABLES,
    final_name,
    parts_by_unit,
    sibling,
    staged_parts,
)
from newsclean.tasks.storage.retract import Retraction, ensure_readable, new_quarantine

#: Tables written one file per work unit.
UNIT_TABLES = ("articles", OTHER_LANGUAGES, OTHER_KINDS, "edits", INDEX_DIR)


@dataclass
class PartDecision:
    """The dedup decision for one staged part, row-aligned with it (the dedup step stages
    one decisions file per docs part, in the same order)."""

    keep: pa.Array
    dup_cluster: pa.Array
    skipped: pa.Array

    @classmethod
    def of(cls, docs: pa.Table, decisions: pa.Table) -> PartDecision:
        if not docs.column("doc_id").equals(decisions.column("doc_id")):
            raise RuntimeError("staged decisions are not aligned with their documents")
        action = decisions.column("action").combine_chunks()
        return cls(
            keep=pc.fill_null(pc.equal(action, "keep"), False),
            dup_cluster=decisions.column("dup_cluster").combine_chunks(),
            skipped=decisions.column("doc_id").filter(pc.equal(action, "skip")).combine_chunks(),
        )


def article_rows(
    docs: pa.Table, schema: pa.Schema, run_id: str, ingested_at: Any, copies: pa.Table
) -> pa.Table:
    """Kept documents (with ``dup_cluster``) plus the run columns, in the articles schema;
    ``n_copies`` and ``publishers`` from ``copies`` (the run's new duplicate rows: the
    finishing job corrects the few articles that earlier copies point at too)."""
    n = docs.num_rows
    n_copies, publishers = republication(docs, copies)
    docs = docs.append_column("n_copies", n_copies).append_column("publishers", publishers)
    docs = docs.append_column("run_id", pa.array([run_id] * n, pa.string()))
    docs = docs.append_column("ingested_at", pa.array([ingested_at] * n, TIMESTAMP))
    return docs.select(schema.names).cast(schema)


def with_set_aside(articles: pa.Schema) -> pa.Schema:
    """The ``other_languages/`` and ``other_kinds/`` schema: the run's articles schema plus
    the reason."""
    return articles.append(SET_ASIDE_FIELD)


def new_edits(edits: pa.Table, decision: PartDecision) -> pa.Table:
    """Edits of the documents this run publishes (kept or dropped), not of the ones skipped
    as already published: their edits are in the dataset since the run that published them."""
    if len(decision.skipped) == 0:
        return edits
    return edits.filter(pc.invert(pc.is_in(edits.column("doc_id"), value_set=decision.skipped)))


@dataclass(frozen=True)
class PublishJob:
    """What every unit's publish job needs (small and picklable)."""

    staging_dir: str
    run_id: str
    ingested_at: Any
    config: NearDupConfig
    stages: tuple[str, ...]
    articles: pa.Schema
    metadata: dict[str, str]
    #: ISO 639-1 codes to keep in ``articles/`` (``--languages``); None keeps every language.
    languages: tuple[str, ...] | None = None
    #: Page kinds to keep in ``articles/`` (``--keep-kinds``); None keeps every kind.
    keep_kinds: tuple[str, ...] | None = None

    def set_aside_tables(self) -> list[str]:
        """The set-aside tables this run writes (only those its options ask for)."""
        asked = {OTHER_LANGUAGES: self.languages, OTHER_KINDS: self.keep_kinds}
        return [name for name, values in asked.items() if values]


def _with_reasons(others: pa.Table, reasons: list[str]) -> pa.Table:
    return others.append_column(SET_ASIDE_FIELD, pa.array(reasons, pa.string()))


def split_languages(
    articles: pa.Table, languages: tuple[str, ...] | None
) -> tuple[pa.Table, pa.Table | None]:
    """(articles in ``languages``, the others with ``set_aside_reason``); everything stays in
    ``articles`` when no languages are asked for. A text whose language is unknown (null) is
    set aside too: it was not shown to be one of them."""
    if not languages:
        return articles, None
    wanted = pc.fill_null(
        pc.is_in(articles.column("language"), value_set=pa.array(languages, pa.string())), False
    )
    asked = ",".join(languages)
    others = articles.filter(pc.invert(wanted))
    reasons = [
        f"language {code} not in --languages {asked}"
        if code
        else f"language unknown, not in --languages {asked}"
        for code in others.column("language").to_pylist()
    ]
    return articles.filter(wanted), _with_reasons(others, reasons)


def split_kinds(
    articles: pa.Table, kinds: tuple[str, ...] | None
) -> tuple[pa.Table, pa.Table | None]:
    """(articles of the page ``kinds``, the others with ``set_aside_reason``: the kind and
    the page rule's reason); everything stays when no kinds are asked for."""
    if not kinds:
        return articles, None
    page_kind = pc.fill_null(articles.column("page_kind"), "article")
    wanted = pc.is_in(page_kind, value_set=pa.array(kinds, pa.string()))
    asked = ",".join(kinds)
    others = articles.filter(pc.invert(wanted))
    reasons = [
        f"page kind {kind or 'article'} not in --keep-kinds {asked}" + (f" ({why})" if why else "")
        for kind, why in zip(
            others.column("page_kind").to_pylist(),
            others.column("page_kind_reason").to_pylist(),
            strict=True,
        )
    ]
    return articles.filter(wanted), _with_reasons(others, reasons)


def _publish_runner(job: PublishJob, schema: pa.Schema) -> Runner:
    """The publish stages, built with the learned set this run applies."""
    learned_set = read_learned_set(Path(job.staging_dir))
    stages = build_stages(job.stages, RunInputs(near_dup=job.config), {"learned": learned_set})
    return Runner(stages, schema)


def publish_unit(job: PublishJob, docs_parts: list[str], temps: dict[str, str]) -> dict[str, Any]:
    """Worker job: one work unit's staged parts → one articles, one edits and one dedup-index
    file (hidden temp names; the caller commits them once every unit is done), part by part.
    Returns the rows written and the report's figures (edits per rule, domains, lengths)."""
    figures = report.UnitFigures()
    by_rule: Counter[str] = Counter()
    examples: dict[str, str] = {}
    stats: dict[str, StageStats] = {}
    targets = {
        "articles": (Path(temps["articles"]), job.articles),
        "edits": (Path(temps["edits"]), EDIT_SCHEMA),
        INDEX_DIR: (Path(temps[INDEX_DIR]), schema_of(job.config)),
    }
    for name in job.set_aside_tables():  # they exist only for runs that set some aside
        targets[name] = (Path(temps[name]), with_set_aside(job.articles))
    streams = ParquetStreams(targets, job.metadata)
    copies = read_parquet(Path(job.staging_dir) / DUPLICATES, columns=COPY_COLUMNS)
    runner: Runner | None = None
    try:
        for part in map(Path, docs_parts):
            docs = read_parquet(part)
            decision = PartDecision.of(docs, read_parquet(sibling(part, "decisions")))
            sketch = read_parquet(sibling(part, "sketch"))
            kept = docs.append_column("dup_cluster", decision.dup_cluster).filter(decision.keep)
            kept = kept.append_column("lines", sketch["lines"].filter(decision.keep))
            runner = runner or _publish_runner(job, kept.schema.remove_metadata())
            cleaned = runner.run(kept)
            for name, more in cleaned.stats.items():
                stats.setdefault(name, StageStats()).add(more)
            edits = [new_edits(read_parquet(sibling(part, "edits")), decision), cleaned.edits]
            examples.update(
                {k: v for k, v in removal_examples(cleaned.edits).items() if k not in examples}
            )
            articles = article_rows(cleaned.docs, job.articles, job.run_id, job.ingested_at, copies)
            articles, other_languages = split_languages(articles, job.languages)
            articles, other_kinds = split_kinds(articles, job.keep_kinds)
            figures.add(docs, articles, other_languages, other_kinds)
            streams.write("articles", articles)
            for name, aside in ((OTHER_LANGUAGES, other_languages), (OTHER_KINDS, other_kinds)):
                if aside is not None:
                    streams.write(name, aside)
            keys = docs.select(DEDUP_KEY_COLUMNS).append_column("dup_cluster", decision.dup_cluster)
            keys, kept_sketch = keys.filter(decision.keep), sketch.filter(decision.keep)
            streams.write(INDEX_DIR, index_rows(keys, kept_sketch, job.config, job.run_id))
            for table in edits:
                by_rule.update(table.column("rule").to_pylist())
                streams.write("edits", table)
            del docs, kept, cleaned, edits, sketch
            release_memory()
    finally:
        rows = streams.close()
    return {
        "articles": rows["articles"],
        "other_languages": rows.get(OTHER_LANGUAGES, 0),
        "other_kinds": rows.get(OTHER_KINDS, 0),
        "edits": rows["edits"],
        "edits_by_rule": dict(by_rule),
        **figures.to_dict(),
        "learned_examples": examples,
        "stages": {name: s.to_dict() for name, s in stats.items()},
    }


def publish_run(
    out_dir: Path,
    staging_dir: Path,
    job: PublishJob,
    unsupported: list[str],
    n_workers: int = 1,
    retract_files: list[str] | None = None,
    failed_files: list[str] | None = None,
    processed_files: list[str] | None = None,
) -> dict[str, Any]:
    """Add the run's new rows to the dataset in ``out_dir`` and apply its supersessions
    (see the module doc); returns the rows written and the report's figures.
    ``processed_files``: every raw file this run read (their earlier quarantine rows, e.g.
    of a run that failed on them, are superseded by this run's)."""
    jobs, moves = [], []
    docs = parts_by_unit(staging_dir, "docs")
    for index, unit in enumerate(sorted(docs)):
        finals = {name: final_name(out_dir, name, job.run_id, index) for name in UNIT_TABLES}
        temps = {name: str(temp_path(final)) for name, final in finals.items()}
        moves += [(temps[name], str(finals[name])) for name in UNIT_TABLES]
        jobs.append((job, docs[unit], temps))
    for name in (*TABLES, INDEX_DIR):
        if name not in SET_ASIDE_TABLES or name in job.set_aside_tables():
            (out_dir / name).mkdir(parents=True, exist_ok=True)
    results = workers.run_many(n_workers, publish_unit, jobs)
    examples: dict[str, str] = {}
    stats: dict[str, dict[str, Any]] = {}
    for result in results:
        for key, text in result.pop("learned_examples").items():
            examples.setdefault(key, text)
        for name, more in result.pop("stages").items():
            into = StageStats(**stats.get(name, {}))
            into.add(StageStats(**more))
            stats[name] = into.to_dict()
    counts = workers.run(
        n_workers,
        finish_publish,
        str(out_dir),
        job,
        unsupported,
        moves,
        retract_files,
        failed_files,
        examples,
        processed_files,
    )
    return {
        "articles": sum(r["articles"] for r in results),
        "other_languages": sum(r["other_languages"] for r in results),
        "other_kinds": sum(r["other_kinds"] for r in results),
        "edits": sum(r["edits"] for r in results),
        **report.merge_unit_figures(results),
        **counts,
        "stages": stats,
    }


def finish_publish(
    out_dir: str,
    job: PublishJob,
    unsupported: list[str],
    moves: list[tuple[str, str]],
    retract_files: list[str] | None = None,
    failed_files: list[str] | None = None,
    learned_examples: dict[str, str] | None = None,
    processed_files: list[str] | None = None,
) -> dict[str, Any]:
    """Worker job: every file the run adds or rewrites besides the units' (its duplicates
    and new quarantine rows, the earlier files that lose rows, the learned model, the new
    manifest) as hidden temp files, then one journaled commit of them all with the units'."""
    out, staging = Path(out_dir), Path(job.staging_dir)
    files = set(retract_files or [])
    read_again = files | set(processed_files or [])
    quarantine = _new_quarantine(out, staging, unsupported, read_again)
    counts, renames = _write_run_tables(out, job, quarantine)
    retraction = Retraction(
        superseded=read_parquet(staging / SUPERSEDED),
        replaced=read_parquet(staging / REPLACED).column("doc_id").combine_chunks(),
        files=files,
        quarantine_files=read_again,
    )
    rewrites, deletes = retraction.prepare(out)
    renames = [*((Path(temp), Path(final)) for temp, final in moves), *renames, *rewrites]
    renames += refresh_copy_counts(out, renames, deletes)
    renames += [
        *_model_temps(out, staging, learned_examples or {}),
        _manifest_temp(out, staging, job.run_id, set(failed_files or [])),  # always last
    ]
    commit(out, job.run_id, [(t, f) for t, f in renames if t.exists()], deletes)
    ensure_readable(out, job.run_id, job.articles, job.metadata)
    reasons = Counter(report.reason_group(r) for r in quarantine["reason"].to_pylist())
    return {
        **counts,
        "quarantine_reasons": dict(reasons.most_common()),
        "superseded": retraction.superseded.num_rows,
        "replaced": len(retraction.replaced),
        "retracted_rows": retraction.removed_rows,
    }


def _new_quarantine(out: Path, staging: Path, unsupported: list[str], files: set[str]) -> pa.Table:
    """This run's quarantine rows (staged by the passes, plus unsupported files) that are
    not published already."""
    staged = [read_parquet(p) for p in staged_parts(staging, "quarantine")]
    return new_quarantine(out, [*staged, unsupported_quarantine(unsupported)], files)


def _write_run_tables(
    out: Path, job: PublishJob, quarantine: pa.Table
) -> tuple[dict[str, int], list[tuple[Path, Path]]]:
    """The run's one quarantine and one duplicates file, as temp files; their row counts."""
    duplicates = read_parquet(Path(job.staging_dir) / DUPLICATES)
    duplicates = duplicates.append_column(
        "run_id", pa.array([job.run_id] * duplicates.num_rows, pa.string())
    )
    counts, renames = {}, []
    for name, table, schema in (
        ("quarantine", quarantine, QUARANTINE_SCHEMA),
        ("duplicates", duplicates, DUPLICATE_SCHEMA),
    ):
        final = final_name(out, name, job.run_id, 0)
        counts[name] = write_stream([table], schema, temp_path(final), job.metadata)
        renames.append((temp_path(final), final))
    return counts, renames


def _manifest_temp(out: Path, staging: Path, run_id: str, failed: set[str]) -> tuple[Path, Path]:
    """The manifest after this run, as a temp file: committed last, so it never names data
    that is not in place."""
    scan_rows = staging / SCAN_ROWS
    rows = json.loads(scan_rows.read_text()) if scan_rows.exists() else []
    merged = manifest.merged_manifest(out, rows, run_id, failed)
    final = out / manifest.MANIFEST
    write_parquet_atomic(merged, temp_path(final), rename=False)
    return temp_path(final), final


def _model_temps(out: Path, staging: Path, examples: dict[str, str]) -> list[tuple[Path, Path]]:
    """The learned-boilerplate model and publisher counts of this run, as temp files to
    commit with the data (the model then never runs ahead of the articles it cleaned)."""
    staged = staging / STAGED_MODEL
    if not staged.exists():
        return []
    model_files.ensure_list_files(out)
    folder = out / model_files.MODEL_DIR
    meta = file_metadata(staged)
    model = with_examples(read_parquet(staged), examples)
    pairs = []
    for table, name in (
        (model, model_files.MODEL),
        (read_parquet(staging / STAGED_PUBLISHERS), model_files.PUBLISHERS),
    ):
        final = folder / name
        write_parquet_atomic(table, temp_path(final), meta, rename=False)
        pairs.append((temp_path(final), final))
    return pairs
