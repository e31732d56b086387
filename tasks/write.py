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
from collections.abc import Callable, Iterator
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
ROWS_PER_FILE = 200_000
STAGING = "_staging"


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
    return {kind: staging_dir / kind / name for kind in ("docs", "edits", "quarantine")}


def staged_parts(staging_dir: Path, kind: str) -> list[Path]:
    """Staged files of one kind, in a deterministic order (unit, then part)."""
    return sorted((staging_dir / kind).glob("part-*.parquet"))


def read_staged_keys(staging_dir: Path, columns: list[str]) -> pa.Table:
    """Only the named columns of every staged document (the dedup key table)."""
    parts = [pq.read_table(p, columns=columns) for p in staged_parts(staging_dir, "docs")]
    if not parts:
        return STAGED_SCHEMA.empty_table().select(columns)
    return pa.concat_tables(parts)


class RollingWriter:
    """Streams tables into ``<dir>/part-<run_id>-NNNNN.parquet`` files of bounded size.

    Files are written under temporary names; :meth:`close` returns (temp, final) pairs for the
    caller to rename once every table of the run is complete.
    """

    def __init__(self, directory: Path, run_id: str, schema: pa.Schema, rows_per_file: int) -> None:
        self.directory = directory
        self.run_id = run_id
        self.schema = _metadata(schema, {"newsclean.run_id": run_id})
        self.rows_per_file = rows_per_file
        self.files: list[tuple[Path, Path]] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0
        directory.mkdir(parents=True, exist_ok=True)

    def _open(self) -> None:
        final = self.directory / f"part-{self.run_id}-{len(self.files):05d}.parquet"
        temp = _temp_path(final)
        self._writer = pq.ParquetWriter(temp, self.schema, compression="zstd")
        self.files.append((temp, final))
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        offset = 0
        while offset < table.num_rows:
            if self._writer is None or self._rows >= self.rows_per_file:
                self.close_current()
                self._open()
            assert self._writer is not None
            take = min(self.rows_per_file - self._rows, table.num_rows - offset)
            self._writer.write_table(table.slice(offset, take))
            self._rows += take
            offset += take

    def close_current(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[tuple[Path, Path]]:
        if not self.files:  # an empty table still gets one file, so readers find the schema
            self._open()
        self.close_current()
        return self.files


def _stream(parts: list[Path]) -> Iterator[pa.Table]:
    for path in parts:
        yield pq.read_table(path)


def _publish_articles(
    writer: RollingWriter, staging_dir: Path, clusters: pa.Table, run_id: str, ingested_at: Any
) -> int:
    """Stream staged documents, keep one copy per cluster, add the run columns.

    The cluster of each document is looked up with a vectorized ``index_in`` against the
    Arrow cluster table, not a Python dict: memory stays a few dozen bytes per document.
    """
    cluster_ids = clusters.column("doc_id").combine_chunks()
    cluster_of = clusters.column("dup_cluster").combine_chunks()
    written = 0
    for docs in _stream(staged_parts(staging_dir, "docs")):
        positions = pc.index_in(docs.column("doc_id"), value_set=cluster_ids)
        cluster = pc.coalesce(pc.take(cluster_of, positions), docs.column("doc_id"))
        kept = docs.append_column("dup_cluster", cluster).filter(
            pc.equal(docs.column("doc_id"), cluster)
        )
        n = kept.num_rows
        kept = kept.append_column("run_id", pa.array([run_id] * n, pa.string()))
        kept = kept.append_column("ingested_at", pa.array([ingested_at] * n, TIMESTAMP))
        writer.write(kept)
        written += n
    return written


def publish_run(
    out_dir: Path,
    staging_dir: Path,
    run_id: str,
    clusters: pa.Table,
    duplicates: pa.Table,
    extra_quarantine: pa.Table,
    ingested_at: Any,
    rows_per_file: int = ROWS_PER_FILE,
    on_file: Callable[[Path], None] | None = None,
) -> dict[str, int]:
    """Write the run's four tables into ``out_dir`` and retire the previous run's files."""
    writers = {
        name: RollingWriter(out_dir / name, run_id, schema, rows_per_file)
        for name, schema in (
            ("articles", ARTICLE_SCHEMA),
            ("edits", EDIT_SCHEMA),
            ("duplicates", DUPLICATE_SCHEMA),
            ("quarantine", QUARANTINE_SCHEMA),
        )
    }
    counts = {
        "articles": _publish_articles(
            writers["articles"], staging_dir, clusters, run_id, ingested_at
        )
    }
    for kind in ("edits", "quarantine"):
        counts[kind] = 0
        for table in _stream(staged_parts(staging_dir, kind)):
            writers[kind].write(table)
            counts[kind] += table.num_rows
    writers["quarantine"].write(extra_quarantine)
    counts["quarantine"] += extra_quarantine.num_rows
    writers["duplicates"].write(duplicates)
    counts["duplicates"] = duplicates.num_rows
    new_files = [pair for writer in writers.values() for pair in writer.close()]
    for temp, final in new_files:
        os.replace(temp, final)
        if on_file:
            on_file(final)
    keep = {final for _, final in new_files}
    for name in TABLES:
        for old in (out_dir / name).glob("part-*.parquet"):
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
