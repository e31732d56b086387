"""Republication counts kept true across runs: ``n_copies`` and ``publishers`` of every
kept article, in the same journaled commit as the copies that change them.

A unit's publish job fills both columns from the run's own new copies. What it cannot see
is settled here, once per run, over the dataset as the commit will leave it: a new copy of
an article an earlier run published, copies re-pointed to a better new keeper, copies taken
back with a reprocessed raw file, files from before these columns (null). Only the files
whose values change are rewritten, under temp names the journal commits with the rest.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.stages.dedup import republication
from newsclean.tasks.storage.io import (
    SCHEMA_VERSION_KEY,
    file_metadata,
    read_parquet,
    temp_path,
    write_parquet_atomic,
)
from newsclean.tasks.storage.layout import ARTICLE_TABLES, published_parts

#: What the counts read of a duplicate row and of an article row.
COPY_COLUMNS = ["kept_doc_id", "domain"]
ARTICLE_COLUMNS = ["doc_id", "domain", "n_copies", "publishers"]


def final_sources(
    out: Path, table: str, renames: list[tuple[Path, Path]], deletes: list[Path]
) -> dict[Path, Path]:
    """Each file of ``table`` after the commit → the file that holds its rows now (itself,
    or the temp file that will replace it or be renamed to it)."""
    folder = out / table
    sources = {path: path for path in published_parts(out, table)}
    for temp, final in renames:
        if final.parent == folder and temp.exists():
            sources[final] = temp
    for path in deletes:
        sources.pop(path, None)
    return dict(sorted(sources.items()))


def _joined(lists: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.fill_null(pc.binary_join(lists, "\x1f"), "\x00")


def _changed(current: pa.Table, n_copies: pa.Array, publishers: pa.Array) -> bool:
    same_n = pc.fill_null(pc.equal(current.column("n_copies"), n_copies), False)
    same_p = pc.equal(_joined(current.column("publishers")), _joined(publishers))
    return not pc.all(pc.and_(same_n, same_p)).as_py()


def refresh_copy_counts(
    out: Path, renames: list[tuple[Path, Path]], deletes: list[Path]
) -> list[tuple[Path, Path]]:
    """Rewrite the article files (of every article table) whose ``n_copies`` or
    ``publishers`` differ from the duplicates the commit will leave; returns the new
    ``(temp, final)`` pairs (a file already rewritten under a temp name is updated in place)."""
    copies_parts = final_sources(out, "duplicates", renames, deletes).values()
    tables = [read_parquet(p, columns=COPY_COLUMNS) for p in copies_parts]
    copies = (
        pa.concat_tables(tables)
        if tables
        else pa.table({name: pa.array([], pa.string()) for name in COPY_COLUMNS})
    )
    pairs = []
    for table in ARTICLE_TABLES:
        for final, source in final_sources(out, table, renames, deletes).items():
            current = read_parquet(source, columns=ARTICLE_COLUMNS)
            n_copies, publishers = republication(current, copies)
            if current.num_rows == 0 or not _changed(current, n_copies, publishers):
                continue
            data = read_parquet(source)
            for name, values in (("n_copies", n_copies), ("publishers", publishers)):
                at = data.schema.get_field_index(name)
                data = data.set_column(at, data.schema.field(name), values)
            meta = file_metadata(source)
            meta.pop(SCHEMA_VERSION_KEY, None)  # the rewrite is in the current schema
            if source == final:
                write_parquet_atomic(data, temp_path(final), meta, rename=False)
                pairs.append((temp_path(final), final))
            else:  # already a temp file of this commit: replaced in place
                write_parquet_atomic(data, source, meta)
    return pairs
