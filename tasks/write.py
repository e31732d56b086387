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
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
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
    table: pa.Table, path: Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``table`` to ``path`` via a hidden temp file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    table = table.replace_schema_metadata(_metadata(table.schema, metadata).metadata)
    pq.write_table(table, temp, compression="zstd")
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


def _decided(docs: pa.Table, decisions: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Each staged document's dedup action and ``dup_cluster``."""
    at = pc.index_in(docs.column("doc_id"), value_set=decisions.column("doc_id"))
    return (
        decisions.column("action").take(at).combine_chunks(),
        decisions.column("dup_cluster").take(at).combine_chunks(),
    )


def kept_articles(docs: pa.Table, decisions: pa.Table, run_id: str, ingested_at: Any) -> pa.Table:
    """The staged documents the dedup stage kept, with ``dup_cluster`` and the run columns,
    in ARTICLE_SCHEMA."""
    action, cluster = _decided(docs, decisions)
    keep = pc.fill_null(pc.equal(action, "keep"), False)
    kept = docs.append_column("dup_cluster", cluster).filter(keep)
    n = kept.num_rows
    kept = kept.append_column("run_id", pa.array([run_id] * n, pa.string()))
    kept = kept.append_column("ingested_at", pa.array([ingested_at] * n, TIMESTAMP))
    return kept.select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)


def new_edits(edits: pa.Table, decisions: pa.Table) -> pa.Table:
    """Edits of the documents this run publishes (kept or dropped), not of the ones skipped
    as already published: their edits are in the dataset since the run that published them."""
    skipped = decisions.filter(pc.equal(decisions.column("action"), "skip")).column("doc_id")
    if len(skipped) == 0:
        return edits
    return edits.filter(
        pc.invert(pc.is_in(edits.column("doc_id"), value_set=skipped.combine_chunks()))
    )


def index_part(
    docs: pa.Table, sketch: pa.Table, decisions: pa.Table, config: minhash.NearDupConfig
) -> pa.Table:
    """Dedup index rows of the staged documents the dedup stage kept."""
    from tasks import dedup_index

    action, cluster = _decided(docs, decisions)
    keep = pc.fill_null(pc.equal(action, "keep"), False)
    keys = docs.append_column("dup_cluster", cluster).filter(keep)
    return dedup_index.index_rows(keys, sketch.filter(keep), config)


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


def publish_unit(
    docs_parts: list[str],
    edit_parts: list[str],
    staging_dir: str,
    temps: dict[str, str],
    run_id: str,
    ingested_at: Any,
    config: minhash.NearDupConfig,
) -> tuple[int, int, dict[str, int]]:
    """Worker job: one work unit's staged parts → one articles, one edits and one dedup-index
    file (hidden temp names; the caller renames them once every unit is done). Returns the
    rows written and the published edits per rule."""
    from tasks import dedup

    decisions = read_parquet(Path(staging_dir) / dedup.DECISIONS)
    sketches = [str(Path(p).parent.parent / "sketch" / Path(p).name) for p in docs_parts]
    articles = _write_stream(
        (kept_articles(read_parquet(p), decisions, run_id, ingested_at) for p in docs_parts),
        ARTICLE_SCHEMA,
        Path(temps["articles"]),
        run_id,
    )
    _write_stream(
        (
            index_part(
                read_parquet(p, columns=list(dedup.KEY_COLUMNS)), read_parquet(s), decisions, config
            )
            for p, s in zip(docs_parts, sketches, strict=True)
        ),
        _index_schema(config),
        Path(temps["dedup_index"]),
        run_id,
    )
    by_rule: Counter[str] = Counter()

    def counted(table: pa.Table) -> pa.Table:
        by_rule.update(table.column("rule").to_pylist())
        return table

    edits = _write_stream(
        (counted(new_edits(read_parquet(p), decisions)) for p in edit_parts),
        EDIT_SCHEMA,
        Path(temps["edits"]),
        run_id,
    )
    return articles, edits, dict(by_rule)


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
    docs, edits = _parts_by_unit(staging_dir, "docs"), _parts_by_unit(staging_dir, "edits")
    for index, unit in enumerate(sorted(docs)):
        finals = {name: _final_name(out_dir, name, run_id, index) for name in UNIT_TABLES}
        temps = {name: str(_temp_path(final)) for name, final in finals.items()}
        moves += [(temps[name], str(finals[name])) for name in UNIT_TABLES]
        jobs.append(
            (
                docs[unit],
                edits.get(unit, []),
                str(staging_dir),
                temps,
                run_id,
                ingested_at,
                config,
            )
        )
    for name in (*TABLES, dedup_index.INDEX_DIR):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    results = workers.run_many(n_workers, publish_unit, jobs)
    counts = workers.run(
        n_workers, finish_publish, str(out_dir), str(staging_dir), run_id, unsupported, moves
    )
    by_rule: Counter[str] = Counter()
    for result in results:
        by_rule.update(result[2])
    return {
        "articles": sum(r[0] for r in results),
        "edits": sum(r[1] for r in results),
        "edits_by_rule": dict(by_rule),
        **counts,
    }


def finish_publish(
    out_dir: str,
    staging_dir: str,
    run_id: str,
    unsupported: list[str],
    moves: list[tuple[str, str]],
) -> dict[str, int]:
    """Worker job: write the run's duplicates and new quarantine rows, rename every new file
    into place, then retract superseded and replaced rows from earlier files."""
    from tasks import dedup
    from tasks.ingest import unsupported_quarantine

    out, staging = Path(out_dir), Path(staging_dir)
    quarantine = _new_quarantine(
        out, [*_stream(staged_parts(staging, "quarantine")), unsupported_quarantine(unsupported)]
    )
    duplicates = read_parquet(staging / dedup.DUPLICATES)
    duplicates = duplicates.append_column(
        "run_id", pa.array([run_id] * duplicates.num_rows, pa.string())
    )
    small = {
        "quarantine": (quarantine, QUARANTINE_SCHEMA),
        "duplicates": (duplicates, DUPLICATE_SCHEMA),
    }
    counts = {}
    pairs = [(Path(temp), Path(final)) for temp, final in moves]
    for name, (table, schema) in small.items():
        final = _final_name(out, name, run_id, 0)
        counts[name] = _write_stream([table], schema, _temp_path(final), run_id)
        pairs.append((_temp_path(final), final))
    for temp, final in pairs:
        if temp.exists():  # no file when the unit added no rows
            os.replace(temp, final)
    _ensure_readable(out, run_id)
    counts.update(
        retract_earlier(
            out,
            run_id,
            read_parquet(staging / dedup.SUPERSEDED),
            read_parquet(staging / dedup.REPLACED).column("doc_id"),
        )
    )
    return counts


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


def _new_quarantine(out: Path, tables: list[pa.Table]) -> pa.Table:
    """This run's quarantine rows minus those already published (a re-run over the same bad
    input adds no rows)."""
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
    return table.filter(pc.invert(pc.is_in(key(table), value_set=key(seen).combine_chunks())))


def _rewrite(path: Path, table: pa.Table) -> None:
    """Replace a published file by ``table`` (or remove it when no row is left)."""
    if table.num_rows == 0:
        path.unlink()
        return
    meta = {k.decode(): v.decode() for k, v in (read_schema_metadata(path) or {}).items()}
    write_parquet_atomic(table, path, meta)


def read_schema_metadata(path: Path) -> dict[bytes, bytes] | None:
    return pq.read_schema(path).metadata


def retract_earlier(
    out: Path, run_id: str, superseded: pa.Table, replaced: pa.ChunkedArray
) -> dict[str, int]:
    """Remove superseded articles (a better copy came) and earlier versions of changed
    records from the files of earlier runs, and point earlier duplicate rows at the new
    keeper. Only files that hold an affected id are read whole and rewritten."""
    gone_articles = pa.concat_arrays(
        [superseded.column("doc_id").combine_chunks(), replaced.combine_chunks()]
    )
    removed = {"superseded": superseded.num_rows, "replaced": len(replaced)}
    if len(gone_articles) == 0:
        return removed
    for table in ("articles", "dedup_index"):
        _drop_ids(out, table, run_id, gone_articles)
    if len(replaced):
        for table in ("duplicates", "edits"):
            _drop_ids(out, table, run_id, replaced.combine_chunks())
    if superseded.num_rows:
        _repoint_duplicates(out, run_id, superseded)
    return removed


def _earlier_parts(out: Path, table: str, run_id: str) -> list[Path]:
    return [p for p in published_parts(out, table) if not p.name.startswith(f"part-{run_id}-")]


def _drop_ids(out: Path, table: str, run_id: str, doc_ids: pa.Array) -> None:
    for path in _earlier_parts(out, table, run_id):
        hit = pc.is_in(read_parquet(path, columns=["doc_id"]).column("doc_id"), value_set=doc_ids)
        if pc.any(hit).as_py():
            data = read_parquet(path)
            _rewrite(
                path, data.filter(pc.invert(pc.is_in(data.column("doc_id"), value_set=doc_ids)))
            )


def _repoint_duplicates(out: Path, run_id: str, superseded: pa.Table) -> None:
    old = superseded.column("doc_id").combine_chunks()
    for path in _earlier_parts(out, "duplicates", run_id):
        kept = read_parquet(path, columns=["kept_doc_id"]).column("kept_doc_id")
        if not pc.any(pc.is_in(kept, value_set=old)).as_py():
            continue
        data = read_parquet(path)
        at = pc.index_in(data.column("kept_doc_id"), value_set=old)
        hit = pc.is_valid(at)
        new_kept = pc.if_else(
            hit, superseded.column("kept_doc_id").take(at), data.column("kept_doc_id")
        )
        new_cluster = pc.if_else(
            hit, superseded.column("dup_cluster").take(at), data.column("dup_cluster")
        )
        data = data.set_column(data.schema.get_field_index("kept_doc_id"), "kept_doc_id", new_kept)
        data = data.set_column(
            data.schema.get_field_index("dup_cluster"), "dup_cluster", new_cluster
        )
        _rewrite(path, data.cast(DUPLICATE_SCHEMA))


def write_run_summary(out_dir: Path, run_id: str, summary: dict[str, Any]) -> Path:
    path = out_dir / "runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    temp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    os.replace(temp, path)
    return path


def remove_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)
