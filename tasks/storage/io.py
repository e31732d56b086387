"""Atomic Parquet I/O: every file newsclean writes appears whole or not at all.

A file is written under a hidden temporary name in its final folder and renamed into place
(``os.replace`` is atomic on POSIX), so a reader never sees half a file; files that must
appear together are committed through the journal (:mod:`newsclean.tasks.storage.journal`).
Every file carries newsclean's metadata: the schema version, and what the run that wrote it
adds (run id, the versions of every stage, rule pack and model it used).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsclean.tasks.schema import SCHEMA_VERSION

SCHEMA_VERSION_KEY = "newsclean.schema_version"
RUN_ID_KEY = "newsclean.run_id"
VERSIONS_KEY = "newsclean.versions"


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file. ``ParquetFile.read`` rather than ``pq.read_table``: the latter
    imports pyarrow.dataset and with it pandas, about 45 MB in every worker (measured)."""
    return pq.ParquetFile(path).read(columns=columns)


def read_rows_where(path: Path | str, key: str, values: pa.Array, columns: list[str]) -> pa.Table:
    """``columns`` of the rows of a Parquet file whose ``key`` is in ``values``: the key column
    is read first, then only the row groups that hold a wanted row (a few rows of a large
    file without decoding all its text)."""
    parquet = pq.ParquetFile(path)
    hit = np.asarray(pc.is_in(parquet.read(columns=[key])[key], value_set=values), dtype=bool)
    sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
    bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    groups = [g for g in range(len(sizes)) if hit[bounds[g] : bounds[g + 1]].any()]
    if not groups:
        return parquet.schema_arrow.empty_table().select(columns)
    table = parquet.read_row_groups(groups, columns=columns)
    return table.filter(pc.is_in(table[key], value_set=values))


def with_metadata(schema: pa.Schema, extra: dict[str, str] | None = None) -> pa.Schema:
    """``schema`` with newsclean's file metadata added to what it already carries."""
    own = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    meta = {**own, SCHEMA_VERSION_KEY: SCHEMA_VERSION, **(extra or {})}
    return schema.with_metadata({k.encode(): v.encode() for k, v in meta.items()})


def run_metadata(run_id: str, versions: dict | None = None) -> dict[str, str]:
    """The metadata every file a run writes carries: its run id and the versions it used."""
    meta = {RUN_ID_KEY: run_id}
    if versions:
        meta[VERSIONS_KEY] = json.dumps(versions, sort_keys=True)
    return meta


def temp_path(path: Path) -> Path:
    """The hidden temporary name ``path`` is written under before it is renamed into place."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


#: How the dataset's files are written: zstd, Parquet's dictionary pages where they pay.
_PUBLISHED_CODEC: dict[str, Any] = {"compression": "zstd"}
#: How a run's staging files are written (:func:`write_staged`): no codec at all.
_STAGED_CODEC: dict[str, Any] = {"compression": "none", "use_dictionary": False}


def write_parquet_atomic(
    table: pa.Table, path: Path, metadata: dict[str, str] | None = None, rename: bool = True
) -> Path:
    """Write ``table`` to ``path`` via a hidden temp file and an atomic rename (or, with
    ``rename=False``, to ``path`` itself: the caller passes a temp name and commits it)."""
    return _write_atomic(table, path, metadata, rename, _PUBLISHED_CODEC)


def write_staged(table: pa.Table, path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write one of a run's staging files (under ``_staging/<run_id>/``), atomically.

    Staging is read back by the run's next steps and deleted when the run ends; what the
    dataset keeps is rewritten by the publish step with :func:`write_parquet_atomic`. So it is
    written without compression or dictionary pages: zstd took 5-7x the CPU of the write and
    2-3x that of each read-back of a 27 MB docs part (85-123 against 15-19 ms to write, 27-42
    against 10-18 ms to read; docs/performance.md), for disk the run gives back at its end."""
    return _write_atomic(table, path, metadata, True, _STAGED_CODEC)


def _write_atomic(
    table: pa.Table,
    path: Path,
    metadata: dict[str, str] | None,
    rename: bool,
    codec: dict[str, Any],
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path) if rename else path
    table = table.replace_schema_metadata(with_metadata(table.schema, metadata).metadata)
    pq.write_table(table, temp, **codec)
    if rename:
        os.replace(temp, path)
    return path


def file_metadata(path: Path) -> dict[str, str]:
    """A Parquet file's key-value metadata, to carry over when the file is rewritten."""
    return {k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()}


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a hidden temp file and an atomic rename (the temp file
    is removed when the write fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    return path


def write_stream(
    tables: Iterable[pa.Table], schema: pa.Schema, path: Path, metadata: dict[str, str]
) -> int:
    """Stream tables into one Parquet file (bounded memory: one table at a time); a file that
    would hold no rows is not written (a run that adds nothing leaves no empty files)."""
    streams = ParquetStreams({"only": (path, schema)}, metadata)
    try:
        for table in tables:
            streams.write("only", table)
            del table
            pa.default_memory_pool().release_unused()
    finally:
        rows = streams.close()
    return rows["only"]


class ParquetStreams:
    """Several Parquet files written side by side, one table at a time (bounded memory); a
    file that would hold no rows is not written (a run that adds nothing leaves no file)."""

    def __init__(
        self, targets: dict[str, tuple[Path, pa.Schema]], metadata: dict[str, str]
    ) -> None:
        self._paths = {name: path for name, (path, _) in targets.items()}
        self._schemas = {
            name: with_metadata(schema, metadata) for name, (_, schema) in targets.items()
        }
        for path in self._paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
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


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
