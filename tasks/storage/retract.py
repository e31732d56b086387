"""Rows of earlier runs a run takes back, and the rewrites of the files that held them.

A run retracts published rows when a better new copy supersedes an article, when a raw record
now holds another text (the same ``doc_id``, a new hash), or when a raw file is reprocessed
(changed, or in the closure of a changed one). The affected earlier files are rewritten under
temp names here; the journal commits them with the run's new files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsclean.tasks.schema import (
    ARTICLE_SCHEMA,
    DUPLICATE_SCHEMA,
    EDIT_SCHEMA,
    QUARANTINE_SCHEMA,
)
from newsclean.tasks.storage.io import file_metadata, read_parquet, temp_path, write_parquet_atomic
from newsclean.tasks.storage.layout import (
    ARTICLE_TABLES,
    INDEX_DIR,
    final_name,
    published_parts,
)

_KEY_NAMES = ("doc_id", "source_file", "kept_doc_id")


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
    #: Files this run read again: their earlier quarantine rows give way to this run's.
    quarantine_files: set[str] = field(default_factory=set)
    removed_rows: int = 0

    def prepare(self, out: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
        """Temp rewrites of the affected earlier files, and the files left empty."""
        rewrites: list[tuple[Path, Path]] = []
        deletes: list[Path] = []
        if not (
            self.superseded.num_rows or len(self.replaced) or self.files or self.quarantine_files
        ):
            return rewrites, deletes
        file_ids: list[pa.Array] = []
        file_set = pa.array(sorted(self.files), pa.string())
        quarantine_set = pa.array(sorted(self.files | self.quarantine_files), pa.string())
        gone = pa.concat_arrays([self.superseded["doc_id"].combine_chunks(), self.replaced])
        for table in (*ARTICLE_TABLES, INDEX_DIR, "duplicates", "quarantine", "edits"):
            ids = self.replaced if table in ("duplicates", "edits") else gone
            if table == "edits" and file_ids:
                ids = pa.concat_arrays([ids, *file_ids]).unique()
            if table == "quarantine":
                ids = pa.array([], pa.string())
            by_file = quarantine_set if table == "quarantine" else file_set
            repointing = table == "duplicates" and self.superseded.num_rows > 0
            if not (len(by_file) or len(ids) or repointing):
                continue  # nothing this table could lose (new files only touch quarantine)
            for path in published_parts(out, table):
                names = pq.read_schema(path).names
                keys = read_parquet(path, columns=[c for c in _KEY_NAMES if c in names])
                drop = self._drop_mask(keys, ids, by_file, file_ids)
                repoint = table == "duplicates" and self.superseded.num_rows > 0
                if not pc.any(drop).as_py() and not (
                    repoint and pc.any(pc.is_in(keys["kept_doc_id"], value_set=gone)).as_py()
                ):
                    continue
                if table in ARTICLE_TABLES:
                    self.removed_rows += pc.sum(drop).as_py() or 0
                data = read_parquet(path).filter(pc.invert(drop))
                if repoint:
                    data = _repointed(data, self.superseded)
                if data.num_rows == 0:
                    deletes.append(path)
                    continue
                write_parquet_atomic(data, temp_path(path), file_metadata(path), rename=False)
                rewrites.append((temp_path(path), path))
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


def _repointed(data: pa.Table, superseded: pa.Table) -> pa.Table:
    """Duplicate rows whose kept copy was superseded now point at the new keeper."""
    old = superseded["doc_id"].combine_chunks()
    at = pc.index_in(data["kept_doc_id"], value_set=old)
    hit = pc.is_valid(at)
    if not pc.any(hit).as_py():
        return data
    kept = pc.if_else(hit, superseded["kept_doc_id"].take(at), data["kept_doc_id"])
    cluster = pc.if_else(hit, superseded["dup_cluster"].take(at), data["dup_cluster"])
    data = data.set_column(data.schema.get_field_index("kept_doc_id"), "kept_doc_id", kept)
    data = data.set_column(data.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    return data.cast(DUPLICATE_SCHEMA)


def new_quarantine(out: Path, tables: list[pa.Table], retracted_files: set[str]) -> pa.Table:
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


def ensure_readable(
    out: Path, run_id: str, articles: pa.Schema = ARTICLE_SCHEMA, metadata: dict | None = None
) -> None:
    """An empty file in a table folder that has none, so that ``pd.read_parquet(folder)``
    and DuckDB globs work on every table from the first run on (even with no rows)."""
    schemas = {
        "articles": articles,
        "edits": EDIT_SCHEMA,
        "duplicates": DUPLICATE_SCHEMA,
        "quarantine": QUARANTINE_SCHEMA,
    }
    for name, schema in schemas.items():
        if not published_parts(out, name):
            empty = schema.empty_table()
            write_parquet_atomic(empty, final_name(out, name, run_id, 0), metadata)
