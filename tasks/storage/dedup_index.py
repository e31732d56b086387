"""The persistent dedup index: keys and MinHash sketches of every kept article.

Lives beside the dataset in ``<out>/dedup_index/part-<run_id>-NNNNN.parquet``, one file per
published articles file, so a later run can drop new copies of stories already published.
Held as Parquet columns and read a column at a time (keys once, then one LSH band column at
a time, then signatures only of the articles a new document touches): memory stays bounded by
a few fixed-size columns, never a Python object per document.

Every file records the sketch parameters it was built with (``newsclean.sketch_id``); when the
configuration changes, or articles exist without an index (a dataset from before the index),
the orchestration layer rebuilds it from the published articles' text.

What a sketch *is* belongs to the stage layer (:mod:`newsclean.tasks.stages.minhash`); this
module stores whatever sketch schema it is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsclean.tasks.schema import DEDUP_KEY_COLUMNS as KEY_COLUMNS
from newsclean.tasks.schema import NO_PUBLISHER, TIMESTAMP
from newsclean.tasks.storage.layout import INDEX_DIR, published_parts

SKETCH_ID_KEY = "newsclean.sketch_id"

#: What the index holds of each kept article besides its sketch. The learned-boilerplate
#: model is counted from ``publisher``, ``lines`` and ``line_words`` (the hashes and word
#: counts of its short paragraphs before learned lines were removed) and ``run_id``.
KEY_FIELDS = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("content_hash", pa.string()),
    pa.field("text_chars", pa.int64()),
    pa.field("published_at", TIMESTAMP),
    pa.field("source_file", pa.string()),
    pa.field("source_record", pa.int64()),
    pa.field("domain", pa.string()),
    pa.field("dup_cluster", pa.string()),
    pa.field("publisher", pa.string()),
    pa.field("lines", pa.list_(pa.uint64())),
    pa.field("line_words", pa.list_(pa.int32())),
    pa.field("run_id", pa.string()),
]


def index_schema(sketch: pa.Schema, sketch_id: str) -> pa.Schema:
    """The index's columns: the keys, then the sketch's (``sketch`` as the stage defines
    it), with the sketch id in the metadata."""
    names = {f.name for f in KEY_FIELDS}
    fields = [*KEY_FIELDS, *(f for f in sketch if f.name not in names)]
    return pa.schema(fields, metadata={SKETCH_ID_KEY: sketch_id})


def index_parts(out_dir: Path) -> list[Path]:
    return sorted((out_dir / INDEX_DIR).glob("part-*.parquet"))


def part_sketch_id(path: Path) -> str | None:
    meta = pq.read_schema(path).metadata or {}
    value = meta.get(SKETCH_ID_KEY.encode())
    return value.decode() if value else None


def is_current(out_dir: Path, sketch_id: str) -> bool:
    """The index covers the published articles and was built with this configuration."""
    parts = index_parts(out_dir)
    if any(part_sketch_id(p) != sketch_id for p in parts):
        return False
    if any("lines" not in pq.read_schema(p).names for p in parts):
        return False  # an index from before the boilerplate learner
    return bool(parts) or not published_parts(out_dir, "articles")


def index_rows(keys: pa.Table, sketch: pa.Table, schema: pa.Schema, run_id: str | None) -> pa.Table:
    """Index rows of kept articles: their keys (with ``dup_cluster`` and ``domain``) beside
    their sketch and short-line hashes (``lines``, ``line_words``), row-aligned."""
    columns = {name: keys.column(name) for name in [*KEY_COLUMNS, "dup_cluster"]}
    columns.update({name: sketch.column(name) for name in sketch.column_names if name != "doc_id"})
    domain = keys.column("domain") if "domain" in keys.column_names else pa.nulls(keys.num_rows)
    columns["publisher"] = pc.fill_null(domain.cast(pa.string()), NO_PUBLISHER)
    columns["run_id"] = pa.array([run_id] * keys.num_rows, pa.string())
    return pa.table([columns[f.name] for f in schema], schema=schema)


class IndexedArticles:
    """Read access to index (or staged sketch) files, column by column: the dedup
    decision's :class:`~newsclean.tasks.stages.dedup.SketchSource`.

    ``exclude`` hides articles (by doc_id) from matching: an article whose source record
    changed is replaced by its new version, which must not be found to duplicate its old self.
    ``schema`` types the columns read when there are no files.
    """

    def __init__(
        self, parts: list[Path], schema: pa.Schema, exclude: pa.Array | None = None
    ) -> None:
        self._parts = parts
        self._schema = schema
        self._sizes = [pq.ParquetFile(p).metadata.num_rows for p in self._parts]
        self._excluded: np.ndarray | None = None
        if exclude is not None and len(exclude) and len(self):
            ids = self._read(["doc_id"]).column("doc_id")
            self._excluded = np.asarray(pc.is_in(ids, value_set=exclude), dtype=bool)

    def __len__(self) -> int:
        return sum(self._sizes)

    def _read(self, columns: list[str]) -> pa.Table:
        if not self._parts:
            return self._schema.empty_table().select(columns)
        return pa.concat_tables(pq.ParquetFile(p).read(columns=columns) for p in self._parts)

    def keys(self) -> pa.Table:
        keys = self._read([*KEY_COLUMNS, "dup_cluster"])
        if self._excluded is not None:
            hashes = pc.if_else(
                pa.array(self._excluded), pa.scalar(None, pa.string()), keys.column("content_hash")
            )
            keys = keys.set_column(1, "content_hash", hashes)
        return keys

    def has_shingles(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros(0, dtype=bool)
        flags = np.asarray(self._read(["has_shingles"]).column("has_shingles"), dtype=bool)
        return flags & ~self._excluded if self._excluded is not None else flags

    def column(self, name: str) -> pa.ChunkedArray:
        return self._read([name]).column(name)

    def columns(self, names: list[str]) -> pa.Table:
        """Several columns in one pass over the files."""
        return self._read(names)

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        """``columns`` of the given rows, in the given (sorted) order."""
        rows = np.asarray(rows, dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(self._sizes)])
        pieces = []
        for i, path in enumerate(self._parts):
            local = rows[(rows >= bounds[i]) & (rows < bounds[i + 1])] - bounds[i]
            if len(local):
                part = pq.ParquetFile(path).read(columns=columns)
                pieces.append(part.take(pa.array(local)))
        if pieces:
            return pa.concat_tables(pieces)
        return self._schema.empty_table().select(columns)
