"""The persistent dedup index: keys and MinHash sketches of every kept article.

Lives beside the dataset in ``<out>/dedup_index/part-<run_id>-NNNNN.parquet``, one file per
published articles file, so a later run can drop new copies of stories already published.
Held as Parquet columns and read a column at a time (keys once, then one LSH band column at
a time, then signatures only of the articles a new document touches): memory stays bounded by
a few fixed-size columns, never a Python object per document.

Every file records the sketch parameters it was built with (``newsclean.sketch_id``); when the
configuration changes, or articles exist without an index (a dataset from before the index),
the index is rebuilt from the published articles' text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks import minhash
from tasks.dedup import KEY_COLUMNS
from tasks.minhash import NearDupConfig
from tasks.schema import TIMESTAMP

INDEX_DIR = "dedup_index"
SKETCH_ID_KEY = "newsclean.sketch_id"
_SKETCH_DETAIL = ["signature", "num_contexts", "num_values"]


def index_schema(config: NearDupConfig) -> pa.Schema:
    sketch = minhash.sketch_schema(config)
    keys = [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("text_chars", pa.int64()),
        pa.field("published_at", TIMESTAMP),
        pa.field("source_file", pa.string()),
        pa.field("source_record", pa.int64()),
        pa.field("dup_cluster", pa.string()),
        # What the learned-boilerplate model is counted from (tasks/learned_boilerplate.py):
        # the publisher, the hashes and word counts of the article's short paragraphs before
        # learned lines were removed, and the run that published it.
        pa.field("publisher", pa.string()),
        pa.field("lines", pa.list_(pa.uint64())),
        pa.field("line_words", pa.list_(pa.int32())),
        pa.field("run_id", pa.string()),
    ]
    return pa.schema([*keys, *(f for f in sketch if f.name != "doc_id")])


def index_parts(out_dir: Path) -> list[Path]:
    return sorted((out_dir / INDEX_DIR).glob("part-*.parquet"))


def part_sketch_id(path: Path) -> str | None:
    meta = pq.read_schema(path).metadata or {}
    value = meta.get(SKETCH_ID_KEY.encode())
    return value.decode() if value else None


def is_current(out_dir: Path, config: NearDupConfig) -> bool:
    """The index covers the published articles and was built with this configuration."""
    parts = index_parts(out_dir)
    if any(part_sketch_id(p) != config.sketch_id for p in parts):
        return False
    if any("lines" not in pq.read_schema(p).names for p in parts):
        return False  # an index from before the boilerplate learner
    articles = sorted((out_dir / "articles").glob("part-*.parquet"))
    return bool(parts) or not articles


class IndexedArticles:
    """Read access to the index (files, or one in-memory table in tests).

    ``exclude`` hides articles (by doc_id) from matching: an article whose source record
    changed is replaced by its new version, which must not be found to duplicate its old self.
    """

    def __init__(
        self,
        parts: list[Path] | None = None,
        table: pa.Table | None = None,
        exclude: pa.Array | None = None,
    ) -> None:
        self._parts = parts or []
        self._table = table
        self._sizes = [pq.ParquetFile(p).metadata.num_rows for p in self._parts]
        self._excluded: np.ndarray | None = None
        if exclude is not None and len(exclude) and len(self):
            ids = self._read(["doc_id"]).column("doc_id")
            self._excluded = np.asarray(pc.is_in(ids, value_set=exclude), dtype=bool)

    def __len__(self) -> int:
        return self._table.num_rows if self._table is not None else sum(self._sizes)

    def _read(self, columns: list[str]) -> pa.Table:
        if self._table is not None:
            return self._table.select(columns)
        if not self._parts:
            return pa.table({c: pa.array([], pa.null()) for c in columns})
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

    def take(self, rows: np.ndarray) -> pa.Table:
        """Signature and figures of the given rows, in the given (sorted) order."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._table is not None or len(rows) == 0:
            source = self._table if self._table is not None else None
            if source is None:
                return _empty_detail()
            return source.select(_SKETCH_DETAIL).take(pa.array(rows))
        bounds = np.concatenate([[0], np.cumsum(self._sizes)])
        pieces = []
        for i, path in enumerate(self._parts):
            local = rows[(rows >= bounds[i]) & (rows < bounds[i + 1])] - bounds[i]
            if len(local):
                part = pq.ParquetFile(path).read(columns=_SKETCH_DETAIL)
                pieces.append(part.take(pa.array(local)))
        return pa.concat_tables(pieces) if pieces else _empty_detail()


def _empty_detail() -> pa.Table:
    schema = minhash.sketch_schema(minhash.default_config())
    return pa.schema([schema.field(n) for n in _SKETCH_DETAIL]).empty_table()


def index_rows(
    keys: pa.Table, sketch: pa.Table, config: NearDupConfig, run_id: str | None = None
) -> pa.Table:
    """Index rows of kept articles: their keys (with ``dup_cluster``, ``domain`` and
    ``text``) beside their sketch, and the short lines the boilerplate learner counts."""
    from tasks import learned_boilerplate

    schema = index_schema(config)
    columns = {name: keys.column(name) for name in [*KEY_COLUMNS, "dup_cluster"]}
    columns.update({name: sketch.column(name) for name in sketch.column_names if name != "doc_id"})
    if "lines" in sketch.column_names:  # staged beside the sketch
        lines, words = sketch.column("lines"), sketch.column("line_words")
    elif "text" in keys.column_names:
        lines, words = learned_boilerplate.line_lists(keys)
    else:  # keys alone (tests, tools): nothing for the boilerplate learner to count
        empty = pa.array(np.zeros(keys.num_rows + 1, dtype=np.int32))
        lines = pa.ListArray.from_arrays(empty, pa.array([], pa.uint64()))
        words = pa.ListArray.from_arrays(empty, pa.array([], pa.int32()))
    domain = keys.column("domain") if "domain" in keys.column_names else pa.nulls(keys.num_rows)
    columns["publisher"] = pc.fill_null(domain.cast(pa.string()), learned_boilerplate.POOL)
    columns["lines"], columns["line_words"] = lines, words
    columns["run_id"] = pa.array([run_id] * keys.num_rows, pa.string())
    return pa.table([columns[f.name] for f in schema], schema=schema)


def index_metadata(config: NearDupConfig) -> dict[str, str]:
    return {SKETCH_ID_KEY: config.sketch_id}


def rebuild_part(articles_path: Path, config: NearDupConfig) -> pa.Table:
    """Index rows of one published articles file, sketched again from its text."""
    articles = pq.ParquetFile(articles_path).read()
    keys = articles.append_column(
        "text_chars", pc.cast(pc.utf8_length(articles.column("text")), pa.int64())
    )
    sketch = minhash.sketch_batch(
        articles.column("doc_id").combine_chunks(), articles.column("text"), config
    )
    rows = index_rows(keys, sketch, config)
    return rows.set_column(rows.schema.get_field_index("run_id"), "run_id", articles["run_id"])


def rebuild_index(
    out_dir: Path, config: NearDupConfig, write: Callable[[pa.Table, Path, dict], Path]
) -> int:
    """Rebuild the whole index from ``articles/`` (one index file per articles file);
    returns the number of articles indexed."""
    index_dir = out_dir / INDEX_DIR
    wanted = []
    rows = 0
    for articles_path in sorted((out_dir / "articles").glob("part-*.parquet")):
        table = rebuild_part(articles_path, config)
        target = index_dir / articles_path.name
        write(table, target, index_metadata(config))
        wanted.append(target)
        rows += table.num_rows
    for stale in index_parts(out_dir):
        if stale not in wanted:
            stale.unlink()
    return rows
