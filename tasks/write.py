"""Write stage: atomic Parquet writes, staging, and publishing the run's dataset.

Layout of the output folder (the contract, see README):

    articles/    part-<run_id>-NNNNN.parquet   clean, deduplicated articles
    edits/       part-<run_id>-NNNNN.parquet   one row per edit
    duplicates/  part-<run_id>-00000.parquet   dropped copies with the kept doc_id
    quarantine/  part-<run_id>-00000.parquet   rejected input with the reason
    runs/        <run_id>.json                 the run's summary
    _staging/    <run_id>/...                  work in progress (hidden from readers)

Every file is written under a hidden temporary name and renamed into place, so a reader never
sees half a file. Publishing renames the new run's files in first and removes the previous
run's files after, so ``pd.read_parquet(out/"articles")`` always finds a complete dataset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks import minhash
from tasks.schema import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    EDIT_SCHEMA,
    QUARANTINE_SCHEMA,
    SCHEMA_VERSION,
    TIMESTAMP,
)

TABLES = ("articles", "edits", "duplicates", "quarantine")
STAGING = "_staging"


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file. ``ParquetFile.read`` rather than ``pq.read_table``: the latter
    imports pyarrow.dataset and with it pandas, about 45 MB in every worker (measured)."""
    return pq.ParquetFile(path).read(columns=columns)


def _metadata(schema: pa.Schema, extra: dict[str, str] | None = None) -> pa.Schema:
    """``schema`` with newsclean's file metadata added to what it already carries."""
    own = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    meta = {**own, "newsclean.schema_version": SCHEMA_VERSION, **(extra or {})}
    return schema.with_metadata({k.encode(): v.encode() for k, v in meta.items()})


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_parquet_atomic(
    table: pa.Table, path: Path, metadata: dict[str, str] | None = None, rename: bool = True
) -> Path:
    """Write ``table`` to ``path`` via a hidden temp file and an atomic rename (or, with
    ``rename=False``, to ``path`` itself: the caller passes a temp name and commits it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path) if rename else path
    table = table.replace_schema_metadata(_metadata(table.schema, metadata).metadata)
    pq.write_table(table, temp, compression="zstd")
    if rename:
        os.replace(temp, path)
    return path


def staging_paths(staging_dir: Path, unit: int, part: int) -> dict[str, Path]:
    name = f"part-{unit:05d}-{part:04d}.parquet"
    return {kind: staging_dir / kind / name for kind in ("docs", "edits", "quarantine", "vocab")}


def staged_unit_parts(staging_dir: Path, kind: str, unit: int) -> list[Path]:
    """One work unit's staged files of one kind, in batch order."""
    return sorted((staging_dir / kind).glob(f"part-{unit:05d}-*.parquet"))


def staged_parts(staging_dir: Path, kind: str) -> list[Path]:
    """Staged files of one kind, in a deterministic order (unit, then part)."""
    return sorted((staging_dir / kind).glob("part-*.parquet"))


def read_staged_table(staging_dir: Path, kind: str, schema: pa.Schema) -> pa.Table:
    """The columns of ``schema`` from every staged part of one kind, in staging order (the
    dedup key and sketch tables: row-aligned, as each sketch part mirrors its docs part)."""
    parts = [read_parquet(p, columns=schema.names) for p in staged_parts(staging_dir, kind)]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def published_parts(out_dir: Path, table: str) -> list[Path]:
    """The published files of one table, oldest run first."""
    return sorted((out_dir / table).glob("part-*.parquet"))


def _stream(parts: list[Path]) -> Iterator[pa.Table]:
    for path in parts:
        yield read_parquet(path)


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


def kept_articles(
    docs: pa.Table, decision: PartDecision, run_id: str, ingested_at: Any
) -> pa.Table:
    """The staged documents the dedup stage kept, with ``dup_cluster`` and the run columns,
    in ARTICLE_SCHEMA."""
    kept = docs.append_column("dup_cluster", decision.dup_cluster).filter(decision.keep)
    n = kept.num_rows
    kept = kept.append_column("run_id", pa.array([run_id] * n, pa.string()))
    kept = kept.append_column("ingested_at", pa.array([ingested_at] * n, TIMESTAMP))
    return kept.select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)


def new_edits(edits: pa.Table, decision: PartDecision) -> pa.Table:
    """Edits of the documents this run publishes (kept or dropped), not of the ones skipped
    as already published: their edits are in the dataset since the run that published them."""
    if len(decision.skipped) == 0:
        return edits
    return edits.filter(pc.invert(pc.is_in(edits.column("doc_id"), value_set=decision.skipped)))


def index_part(
    docs: pa.Table,
    sketch: pa.Table,
    decision: PartDecision,
    config: minhash.NearDupConfig,
    run_id: str | None = None,
) -> pa.Table:
    """Dedup index rows of the staged documents the dedup stage kept (their text as staged,
    before learned boilerplate is removed)."""
    from tasks import dedup_index

    keys = docs.append_column("dup_cluster", decision.dup_cluster).filter(decision.keep)
    return dedup_index.index_rows(keys, sketch.filter(decision.keep), config, run_id)


def _write_stream(tables: Iterable[pa.Table], schema: pa.Schema, temp: Path, run_id: str) -> int:
    """Stream tables into one Parquet file (bounded memory: one table at a time); a file that
    would hold no rows is not written (a run that adds nothing leaves no empty files)."""
    rows = 0
    meta = _metadata(schema, {"newsclean.run_id": run_id})
    with pq.ParquetWriter(temp, meta, compression="zstd") as writer:
        for table in tables:
            writer.write_table(table.select(meta.names).cast(meta))
            rows += table.num_rows
            del table
            pa.default_memory_pool().release_unused()
    if rows == 0:
        temp.unlink()
    return rows


class _Streams:
    """Several Parquet files written side by side, one table at a time (bounded memory); a
    file that would hold no rows is not written (a run that adds nothing leaves no file)."""

    def __init__(self, targets: dict[str, tuple[Path, pa.Schema]], run_id: str) -> None:
        self._paths = {name: path for name, (path, _) in targets.items()}
        self._schemas = {
            name: _metadata(schema, {"newsclean.run_id": run_id})
            for name, (_, schema) in targets.items()
        }
        self._writers = {
            name: pq.ParquetWriter(path, self._schemas[name], compression="zstd")
            for name, path in self._paths.items()
        }
        self.rows = dict.fromkeys(targets, 0)

    def write(self, name: str, table: pa.Table) -> None:
        schema = self._schemas[name]
        self._writers[name].write_table(table.select(schema.names).cast(schema))
        self.rows[name] += table.num_rows

    def close(self) -> dict[str, int]:
        for name, writer in self._writers.items():
            writer.close()
            if self.rows[name] == 0:
                self._paths[name].unlink()
        return self.rows


def publish_unit(
    docs_parts: list[str],
    staging_dir: str,
    temps: dict[str, str],
    run_id: str,
    ingested_at: Any,
    config: minhash.NearDupConfig,
) -> tuple[int, int, dict[str, Any]]:
    """Worker job: one work unit's staged parts → one articles, one edits and one dedup-index
    file (hidden temp names; the caller commits them once every unit is done), part by part:
    the part's dedup decisions, then learned boilerplate removed from its kept articles.
    Returns the rows written and the report's figures (edits per rule, domains, lengths)."""
    from tasks import dedup, learned_boilerplate, report

    staging = Path(staging_dir)
    learned_path = staging / learned_boilerplate.LEARNED
    learned = learned_boilerplate.LearnedSet.read(learned_path) if learned_path.exists() else None
    figures = report.UnitFigures()
    by_rule: Counter[str] = Counter()
    examples: dict[str, str] = {}
    streams = _Streams(
        {
            "articles": (Path(temps["articles"]), ARTICLE_SCHEMA),
            "edits": (Path(temps["edits"]), EDIT_SCHEMA),
            "dedup_index": (Path(temps["dedup_index"]), _index_schema(config)),
        },
        run_id,
    )
    try:
        for part in map(Path, docs_parts):
            docs = read_parquet(part)
            decision = PartDecision.of(docs, read_parquet(staging / dedup.DECISIONS / part.name))
            kept = kept_articles(docs, decision, run_id, ingested_at)
            edits = [new_edits(read_parquet(staging / "edits" / part.name), decision)]
            sketch = read_parquet(staging / "sketch" / part.name)
            if learned is not None:
                staged_lines = sketch["lines"].filter(decision.keep).combine_chunks()
                kept, learned_edits, found = learned.apply(kept, staged_lines)
                edits.append(learned_edits)
                examples.update(found)
            figures.add(docs, kept)
            streams.write("articles", kept)
            keys = docs.select([*dedup.KEY_COLUMNS, "domain", "text"])
            streams.write("dedup_index", index_part(keys, sketch, decision, config, run_id))
            for table in edits:
                by_rule.update(table.column("rule").to_pylist())
                streams.write("edits", table)
            del docs, kept, edits, sketch
            pa.default_memory_pool().release_unused()
    finally:
        rows = streams.close()
    extra = {"edits_by_rule": dict(by_rule), **figures.to_dict(), "learned_examples": examples}
    return rows["articles"], rows["edits"], extra


def _index_schema(config: minhash.NearDupConfig) -> pa.Schema:
    from tasks import dedup_index

    schema = dedup_index.index_schema(config)
    return schema.with_metadata(dedup_index.index_metadata(config))


def _final_name(out_dir: Path, table: str, run_id: str, index: int) -> Path:
    return out_dir / table / f"part-{run_id}-{index:05d}.parquet"


def _parts_by_unit(staging_dir: Path, kind: str) -> dict[str, list[str]]:
    """Staged part files grouped by work unit (``part-<unit>-<batch>.parquet``)."""
    groups: dict[str, list[str]] = {}
    for path in staged_parts(staging_dir, kind):
        groups.setdefault(path.name.rsplit("-", 1)[0], []).append(str(path))
    return groups


#: Tables written one file per work unit.
UNIT_TABLES = ("articles", "edits", "dedup_index")


def publish_run(
    out_dir: Path,
    staging_dir: Path,
    run_id: str,
    unsupported: list[str],
    ingested_at: Any,
    config: minhash.NearDupConfig,
    n_workers: int = 1,
    retract_files: list[str] | None = None,
    failed_files: list[str] | None = None,
) -> dict[str, Any]:
    """Add the run's new rows to the dataset in ``out_dir`` and apply its supersessions.

    Each work unit becomes one articles, one edits and one dedup-index file, written in the
    worker pool; one more worker job writes the run's duplicates and quarantine rows, renames
    everything into place, then rewrites the earlier files that lose rows (articles superseded
    by a better copy, records whose source changed). The orchestrating process never holds
    table data; a reader sees every new file whole (temp name + rename).
    """
    from tasks import dedup_index, workers

    jobs, moves = [], []
    docs = _parts_by_unit(staging_dir, "docs")
    for index, unit in enumerate(sorted(docs)):
        finals = {name: _final_name(out_dir, name, run_id, index) for name in UNIT_TABLES}
        temps = {name: str(_temp_path(final)) for name, final in finals.items()}
        moves += [(temps[name], str(finals[name])) for name in UNIT_TABLES]
        jobs.append((docs[unit], str(staging_dir), temps, run_id, ingested_at, config))
    for name in (*TABLES, dedup_index.INDEX_DIR):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    results = workers.run_many(n_workers, publish_unit, jobs)
    examples: dict[str, str] = {}
    for result in results:
        for key, text in result[2].pop("learned_examples").items():
            examples.setdefault(key, text)
    counts = workers.run(
        n_workers,
        finish_publish,
        str(out_dir),
        str(staging_dir),
        run_id,
        unsupported,
        moves,
        retract_files,
        failed_files,
        examples,
    )
    from tasks import report

    return {
        "articles": sum(r[0] for r in results),
        "edits": sum(r[1] for r in results),
        **report.merge_unit_figures([r[2] for r in results]),
        **counts,
    }


def finish_publish(
    out_dir: str,
    staging_dir: str,
    run_id: str,
    unsupported: list[str],
    moves: list[tuple[str, str]],
    retract_files: list[str] | None = None,
    failed_files: list[str] | None = None,
    learned_examples: dict[str, str] | None = None,
) -> dict[str, int]:
    """Worker job: write the run's duplicates and new quarantine rows, the rewrites of earlier
    files that lose rows, the learned-boilerplate model and the new manifest — all as hidden
    temp files — then commit them with the units' files in one journaled step
    (:func:`commit`)."""
    from tasks import dedup, manifest
    from tasks.ingest import unsupported_quarantine

    out, staging = Path(out_dir), Path(staging_dir)
    files = set(retract_files or [])
    quarantine = _new_quarantine(
        out,
        [*_stream(staged_parts(staging, "quarantine")), unsupported_quarantine(unsupported)],
        files,
    )
    duplicates = read_parquet(staging / dedup.DUPLICATES)
    duplicates = duplicates.append_column(
        "run_id", pa.array([run_id] * duplicates.num_rows, pa.string())
    )
    small = {
        "quarantine": (quarantine, QUARANTINE_SCHEMA),
        "duplicates": (duplicates, DUPLICATE_SCHEMA),
    }
    counts: dict[str, int] = {}
    renames = [(Path(temp), Path(final)) for temp, final in moves]
    for name, (table, schema) in small.items():
        final = _final_name(out, name, run_id, 0)
        counts[name] = _write_stream([table], schema, _temp_path(final), run_id)
        renames.append((_temp_path(final), final))
    retraction = Retraction(
        superseded=read_parquet(staging / dedup.SUPERSEDED),
        replaced=read_parquet(staging / dedup.REPLACED).column("doc_id").combine_chunks(),
        files=files,
    )
    rewrites, deletes = retraction.prepare(out)
    renames += rewrites
    rows = json.loads((staging / SCAN_ROWS).read_text()) if (staging / SCAN_ROWS).exists() else []
    renames += _model_temps(out, staging, learned_examples or {})
    merged = manifest.merged_manifest(out, rows, run_id, set(failed_files or []))
    manifest_path = out / manifest.MANIFEST
    write_parquet_atomic(merged, _temp_path(manifest_path), rename=False)
    renames.append((_temp_path(manifest_path), manifest_path))
    commit(out, run_id, [(t, f) for t, f in renames if t.exists()], deletes)
    _ensure_readable(out, run_id)
    reasons = Counter(reason_group(r) for r in quarantine["reason"].to_pylist())
    counts["quarantine_reasons"] = dict(reasons.most_common())
    counts.update(
        superseded=retraction.superseded.num_rows,
        replaced=len(retraction.replaced),
        retracted_rows=retraction.removed_rows,
    )
    return counts


def reason_group(reason: str) -> str:
    """A quarantine reason without its per-record detail ("bad JSON on line 3: …" → "bad
    JSON on line"), so the report can count reasons."""
    head = reason.split(":", 1)[0]
    return re.sub(r"\s*\d+\s*", " ", head).strip()[:80] or "unknown"


#: This run's manifest rows (new and changed raw files), staged by the scan step.
SCAN_ROWS = "scan_rows.json"
JOURNAL = "_journal.json"


def commit(out: Path, run_id: str, renames: list[tuple[Path, Path]], deletes: list[Path]) -> None:
    """Make a run's prepared files visible together, crash-safely.

    Every file is complete under a hidden temp name before this starts. The journal (the
    list of renames and deletions) is written atomically first; then the renames and
    deletions are applied and the journal removed. A run killed before the journal exists
    changed nothing visible (its temp files are swept by the next run); one killed after is
    rolled forward by the next run (:func:`recover`). The manifest is one of the renames,
    listed last, so it never names data that is not in place.
    """
    entries = {
        "run_id": run_id,
        "renames": [[str(t.relative_to(out)), str(f.relative_to(out))] for t, f in renames],
        "deletes": [str(d.relative_to(out)) for d in deletes],
    }
    journal = out / JOURNAL
    temp = _temp_path(journal)
    temp.write_text(json.dumps(entries))
    _fsync(temp)
    os.replace(temp, journal)
    _apply_journal(out, entries)
    journal.unlink()


def _model_temps(out: Path, staging: Path, examples: dict[str, str]) -> list[tuple[Path, Path]]:
    """The learned-boilerplate model and publisher counts of this run, as temp files to
    commit with the data (the model then never runs ahead of the articles it cleaned)."""
    from tasks import learned_boilerplate as learned

    staged = staging / learned.STAGED_MODEL
    if not staged.exists():
        return []
    learned.ensure_list_files(out)
    folder = out / learned.MODEL_DIR
    meta = file_metadata(staged)
    model = learned.with_examples(read_parquet(staged), examples)
    pairs = []
    for table, name in (
        (model, learned.MODEL),
        (read_parquet(staging / learned.STAGED_PUBLISHERS), learned.PUBLISHERS),
    ):
        final = folder / name
        write_parquet_atomic(table, _temp_path(final), meta, rename=False)
        pairs.append((_temp_path(final), final))
    return pairs


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply_journal(out: Path, entries: dict[str, Any]) -> None:
    """Idempotent: a rename already done (temp gone, final there) is skipped."""
    for temp, final in entries["renames"]:
        if (out / temp).exists():
            os.replace(out / temp, out / final)
    for name in entries["deletes"]:
        (out / name).unlink(missing_ok=True)


def recover(out: Path) -> dict[str, int]:
    """Finish a commit a killed run left half-done, then sweep temp files of killed runs.
    Called by the next run under the writer lock, before anything else."""
    journal = out / JOURNAL
    rolled = 0
    if journal.exists():
        entries = json.loads(journal.read_text())
        _apply_journal(out, entries)
        journal.unlink()
        rolled = len(entries["renames"])
    swept = 0
    for folder in [out, *(out / name for name in (*TABLES, "dedup_index", "boilerplate"))]:
        for temp in folder.glob(".*.tmp") if folder.is_dir() else []:
            temp.unlink()
            swept += 1
    return {"rolled_forward": rolled, "temp_files_swept": swept, "migrated": migrate(out)}


def migrate(out: Path) -> int:
    """Bring files of an older schema to the current one; returns the files rewritten.

    Schema 1 ``duplicates`` (before near-dup dedup) lacked ``dup_cluster``, ``content_hash``
    and ``run_id``: the cluster is the kept copy's id, the run comes from the file's metadata,
    the hash is unknown (null: such a copy counts as published whatever its text). Schema 2
    ``edits`` lacked ``publisher`` (null: only learned rules set it).
    """
    rewritten = 0
    for path in published_parts(out, "duplicates"):
        names = pq.read_schema(path).names
        if "content_hash" in names:
            continue
        data = read_parquet(path)
        meta = file_metadata(path)
        run_id = meta.get("newsclean.run_id") or None
        n = data.num_rows
        data = data.append_column("dup_cluster", data["kept_doc_id"])
        data = data.append_column("content_hash", pa.nulls(n, pa.string()))
        data = data.append_column("run_id", pa.array([run_id] * n, pa.string()))
        data = data.select(DUPLICATE_SCHEMA.names).cast(DUPLICATE_SCHEMA)
        write_parquet_atomic(data, path, meta)
        rewritten += 1
    for path in published_parts(out, "edits"):  # schema 2: no ``publisher`` column yet
        if "publisher" not in pq.read_schema(path).names:
            data = read_parquet(path)
            data = data.append_column("publisher", pa.nulls(data.num_rows, pa.string()))
            meta = file_metadata(path)
            write_parquet_atomic(data.cast(EDIT_SCHEMA), path, meta)
            rewritten += 1
    return rewritten


def _ensure_readable(out: Path, run_id: str) -> None:
    """An empty file in a table folder that has none, so that ``pd.read_parquet(folder)``
    and DuckDB globs work on every table from the first run on (even with no rows)."""
    schemas = {
        "articles": ARTICLE_SCHEMA,
        "edits": EDIT_SCHEMA,
        "duplicates": DUPLICATE_SCHEMA,
        "quarantine": QUARANTINE_SCHEMA,
    }
    for name, schema in schemas.items():
        if not published_parts(out, name):
            write_parquet_atomic(schema.empty_table(), _final_name(out, name, run_id, 0))


def _new_quarantine(out: Path, tables: list[pa.Table], retracted_files: set[str]) -> pa.Table:
    """This run's quarantine rows minus those already published (a re-run over the same bad
    input adds no rows); rows of files being reprocessed do not count as published."""
    table = pa.concat_tables([t.cast(QUARANTINE_SCHEMA) for t in tables])
    earlier = [read_parquet(p) for p in published_parts(out, "quarantine")]
    if not earlier or table.num_rows == 0:
        return table

    def key(t: pa.Table) -> pa.Array:
        record = pc.cast(pc.fill_null(t.column("source_record"), -1), pa.string())
        return pc.binary_join_element_wise(
            t.column("source_file"), record, t.column("reason"), "\x1f"
        )

    seen = pa.concat_tables([t.cast(QUARANTINE_SCHEMA) for t in earlier])
    if retracted_files:
        gone = pc.is_in(seen["source_file"], value_set=pa.array(sorted(retracted_files)))
        seen = seen.filter(pc.invert(gone))
    return table.filter(pc.invert(pc.is_in(key(table), value_set=key(seen).combine_chunks())))


@dataclass
class Retraction:
    """Rows of earlier runs that this run takes back.

    ``superseded``: articles a better new copy replaces (→ they leave articles and the index;
    earlier duplicate rows pointing at them are re-pointed to the new keeper). ``replaced``:
    doc_ids whose source record changed. ``files``: raw files being reprocessed (changed, or
    in their closure): every row that came from them goes, and their edits with them.
    """

    superseded: pa.Table
    replaced: pa.Array
    files: set[str]
    removed_rows: int = 0

    def prepare(self, out: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
        """Temp rewrites of the affected earlier files, and the files left empty."""
        rewrites: list[tuple[Path, Path]] = []
        deletes: list[Path] = []
        if not (self.superseded.num_rows or len(self.replaced) or self.files):
            return rewrites, deletes
        file_ids: list[pa.Array] = []
        file_set = pa.array(sorted(self.files), pa.string())
        gone = pa.concat_arrays([self.superseded["doc_id"].combine_chunks(), self.replaced])
        for table in ("articles", "dedup_index", "duplicates", "quarantine", "edits"):
            ids = self.replaced if table in ("duplicates", "edits") else gone
            if table == "edits" and file_ids:
                ids = pa.concat_arrays([ids, *file_ids]).unique()
            if table == "quarantine":
                ids = pa.array([], pa.string())
            for path in published_parts(out, table):
                names = pq.read_schema(path).names
                keys = read_parquet(path, columns=[c for c in _KEY_NAMES if c in names])
                drop = self._drop_mask(keys, ids, file_set, file_ids)
                repoint = table == "duplicates" and self.superseded.num_rows > 0
                if not pc.any(drop).as_py() and not (
                    repoint and pc.any(pc.is_in(keys["kept_doc_id"], value_set=gone)).as_py()
                ):
                    continue
                if table == "articles":
                    self.removed_rows += pc.sum(drop).as_py() or 0
                data = read_parquet(path).filter(pc.invert(drop))
                if repoint:
                    data, _ = _repointed(data, self.superseded)
                if data.num_rows == 0:
                    deletes.append(path)
                    continue
                meta = file_metadata(path)
                write_parquet_atomic(data, _temp_path(path), meta, rename=False)
                rewrites.append((_temp_path(path), path))
        return rewrites, deletes

    @staticmethod
    def _drop_mask(
        keys: pa.Table, ids: pa.Array, file_set: pa.Array, file_ids: list[pa.Array]
    ) -> pa.Array:
        """Rows to drop: their doc_id is retracted, or they came from a reprocessed file
        (whose doc_ids are collected so that their edits go too)."""
        drop = pa.array([False] * keys.num_rows, pa.bool_())
        if "doc_id" in keys.column_names and len(ids):
            drop = pc.is_in(keys["doc_id"], value_set=ids)
        if "source_file" in keys.column_names and len(file_set):
            by_file = pc.is_in(keys["source_file"], value_set=file_set)
            if "doc_id" in keys.column_names:
                file_ids.append(keys["doc_id"].filter(by_file).combine_chunks())
            drop = pc.or_(drop, by_file)
        return drop


_KEY_NAMES = ("doc_id", "source_file", "kept_doc_id")


def _repointed(data: pa.Table, superseded: pa.Table) -> tuple[pa.Table, bool]:
    """Duplicate rows whose kept copy was superseded now point at the new keeper."""
    old = superseded["doc_id"].combine_chunks()
    at = pc.index_in(data["kept_doc_id"], value_set=old)
    hit = pc.is_valid(at)
    if not pc.any(hit).as_py():
        return data, False
    kept = pc.if_else(hit, superseded["kept_doc_id"].take(at), data["kept_doc_id"])
    cluster = pc.if_else(hit, superseded["dup_cluster"].take(at), data["dup_cluster"])
    data = data.set_column(data.schema.get_field_index("kept_doc_id"), "kept_doc_id", kept)
    data = data.set_column(data.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    return data.cast(DUPLICATE_SCHEMA), True


def file_metadata(path: Path) -> dict[str, str]:
    """A Parquet file's key-value metadata, to carry over when the file is rewritten."""
    return {k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()}


def write_run_summary(out_dir: Path, run_id: str, summary: dict[str, Any]) -> Path:
    path = out_dir / "runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    temp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    os.replace(temp, path)
    return path


def remove_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)
