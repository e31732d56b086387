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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.schema import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    EDIT_SCHEMA,
    QUARANTINE_SCHEMA,
    SCHEMA_VERSION,
    STAGED_SCHEMA,
    TIMESTAMP,
)

TABLES = ("articles", "edits", "duplicates", "quarantine")
STAGING = "_staging"


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file. ``ParquetFile.read`` rather than ``pq.read_table``: the latter
    imports pyarrow.dataset and with it pandas, about 45 MB in every worker (measured)."""
    return pq.ParquetFile(path).read(columns=columns)


def _metadata(schema: pa.Schema, extra: dict[str, str] | None = None) -> pa.Schema:
    meta = {"newsclean.schema_version": SCHEMA_VERSION, **(extra or {})}
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


def read_staged_keys(staging_dir: Path, columns: list[str]) -> pa.Table:
    """Only the named columns of every staged document (the dedup key table)."""
    parts = [read_parquet(p, columns=columns) for p in staged_parts(staging_dir, "docs")]
    if not parts:
        return STAGED_SCHEMA.empty_table().select(columns)
    return pa.concat_tables(parts)


def _stream(parts: list[Path]) -> Iterator[pa.Table]:
    for path in parts:
        yield read_parquet(path)


def kept_articles(docs: pa.Table, dropped_ids: pa.Array, run_id: str, ingested_at: Any) -> pa.Table:
    """Staged documents minus the dropped copies, with the run columns, in ARTICLE_SCHEMA.

    Only dropped copies point elsewhere, so a kept article's ``dup_cluster`` is its own id and
    the lookup needs just the (small) set of dropped ids, not a map of every document.
    """
    kept = docs.filter(pc.invert(pc.is_in(docs.column("doc_id"), value_set=dropped_ids)))
    n = kept.num_rows
    kept = kept.append_column("dup_cluster", kept.column("doc_id"))
    kept = kept.append_column("run_id", pa.array([run_id] * n, pa.string()))
    kept = kept.append_column("ingested_at", pa.array([ingested_at] * n, TIMESTAMP))
    return kept.select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)


def _write_stream(tables: Iterable[pa.Table], schema: pa.Schema, temp: Path, run_id: str) -> int:
    """Stream tables into one Parquet file (bounded memory: one table at a time)."""
    rows = 0
    meta = _metadata(schema, {"newsclean.run_id": run_id})
    with pq.ParquetWriter(temp, meta, compression="zstd") as writer:
        for table in tables:
            writer.write_table(table.select(meta.names).cast(meta))
            rows += table.num_rows
            del table
            pa.default_memory_pool().release_unused()
    return rows


def publish_unit(
    docs_parts: list[str],
    edit_parts: list[str],
    duplicates: str,
    articles_temp: str,
    edits_temp: str,
    run_id: str,
    ingested_at: Any,
) -> tuple[int, int]:
    """Worker job: one work unit's staged parts → one articles file and one edits file
    (hidden temp names; the caller renames them once every unit is done)."""
    dropped = read_parquet(duplicates, columns=["doc_id"]).column("doc_id").combine_chunks()
    articles = _write_stream(
        (kept_articles(read_parquet(p), dropped, run_id, ingested_at) for p in docs_parts),
        ARTICLE_SCHEMA,
        Path(articles_temp),
        run_id,
    )
    edits = _write_stream(
        (read_parquet(p) for p in edit_parts), EDIT_SCHEMA, Path(edits_temp), run_id
    )
    return articles, edits


def _final_name(out_dir: Path, table: str, run_id: str, index: int) -> Path:
    return out_dir / table / f"part-{run_id}-{index:05d}.parquet"


def _parts_by_unit(staging_dir: Path, kind: str) -> dict[str, list[str]]:
    """Staged part files grouped by work unit (``part-<unit>-<batch>.parquet``)."""
    groups: dict[str, list[str]] = {}
    for path in staged_parts(staging_dir, kind):
        groups.setdefault(path.name.rsplit("-", 1)[0], []).append(str(path))
    return groups


def publish_run(
    out_dir: Path,
    staging_dir: Path,
    run_id: str,
    unsupported: list[str],
    ingested_at: Any,
    n_workers: int = 1,
) -> dict[str, int]:
    """Publish the run's four tables into ``out_dir``, then retire the previous run's files.

    Each work unit becomes one articles file and one edits file, written in the worker pool;
    then one more worker job writes the small quarantine and duplicates tables and renames
    everything into place, so the orchestrating process never holds table data. Every new
    file lands under a hidden name first and all are renamed at the end: a reader sees the
    old dataset or the new one (for a moment both), never half a file.
    """
    from tasks import workers

    jobs, moves = [], []
    duplicates_path = str(staging_dir / "duplicates.parquet")
    docs, edits = _parts_by_unit(staging_dir, "docs"), _parts_by_unit(staging_dir, "edits")
    for index, unit in enumerate(sorted(docs) or ["none"]):
        finals = [_final_name(out_dir, name, run_id, index) for name in ("articles", "edits")]
        temps = [str(_temp_path(final)) for final in finals]
        moves += list(zip(temps, map(str, finals), strict=True))
        jobs.append(
            (docs.get(unit, []), edits.get(unit, []), duplicates_path, *temps, run_id, ingested_at)
        )
    for name in TABLES:
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    results = workers.run_many(n_workers, publish_unit, jobs)
    counts = workers.run(
        n_workers, finish_publish, str(out_dir), str(staging_dir), run_id, unsupported, moves
    )
    return {"articles": sum(r[0] for r in results), "edits": sum(r[1] for r in results), **counts}


def finish_publish(
    out_dir: str,
    staging_dir: str,
    run_id: str,
    unsupported: list[str],
    moves: list[tuple[str, str]],
) -> dict[str, int]:
    """Worker job: write quarantine and duplicates, rename every new file into place, and
    remove the files of earlier runs."""
    from tasks.ingest import unsupported_quarantine

    out, staging = Path(out_dir), Path(staging_dir)
    quarantine = [
        *_stream(staged_parts(staging, "quarantine")),
        unsupported_quarantine(unsupported),
    ]
    small = {
        "quarantine": (quarantine, QUARANTINE_SCHEMA),
        "duplicates": ([read_parquet(staging / "duplicates.parquet")], DUPLICATE_SCHEMA),
    }
    counts = {}
    moves = [(Path(temp), Path(final)) for temp, final in moves]
    for name, (tables, schema) in small.items():
        final = _final_name(out, name, run_id, 0)
        counts[name] = _write_stream(tables, schema, _temp_path(final), run_id)
        moves.append((_temp_path(final), final))
    for temp, final in moves:
        os.replace(temp, final)
    keep = {final for _, final in moves}
    for name in TABLES:
        for old in (out / name).glob("part-*.parquet"):
            if old not in keep:
                old.unlink()
    return counts


def write_run_summary(out_dir: Path, run_id: str, summary: dict[str, Any]) -> Path:
    path = out_dir / "runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    temp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    os.replace(temp, path)
    return path


def remove_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)
