"""Dedup index rows: what publishing adds for each kept article, and the rebuild of the whole
index from ``articles/`` when the sketch settings change (or a dataset predates the index).

The rebuild runs the same stages as a run's sketch pass (``sketch`` and ``line-hashes``) over
the published articles' text, so an index built either way is the same.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.pipeline.runner import Runner
from newsclean.tasks.stages.learned import LineHashStage
from newsclean.tasks.stages.minhash import KEY_SOURCES, NearDupConfig, SketchStage, sketch_schema
from newsclean.tasks.storage import dedup_index
from newsclean.tasks.storage.io import read_parquet, write_parquet_atomic
from newsclean.tasks.storage.layout import INDEX_DIR, published_parts


def schema_of(config: NearDupConfig) -> pa.Schema:
    """The index schema for these sketch settings (keys, line hashes, sketch columns)."""
    return dedup_index.index_schema(sketch_schema(config), config.sketch_id)


def index_rows(
    keys: pa.Table, sketch: pa.Table, config: NearDupConfig, run_id: str | None
) -> pa.Table:
    """Index rows of kept articles: keys (with ``dup_cluster`` and ``domain``) beside their
    staged sketch and short-line hashes."""
    return dedup_index.index_rows(keys, sketch, schema_of(config), run_id)


def rebuild_part(articles_path: Path, config: NearDupConfig) -> pa.Table:
    """Index rows of one published articles file, sketched again from its text."""
    articles = read_parquet(articles_path)
    articles = articles.append_column(
        "text_chars", pc.cast(pc.utf8_length(articles.column("text")), pa.int64())
    )
    texts = articles.select(["doc_id", "text", *KEY_SOURCES])
    sketched = Runner([SketchStage(config), LineHashStage()], texts.schema).run(texts).docs
    rows = index_rows(articles, sketched, config, None)
    return rows.set_column(rows.schema.get_field_index("run_id"), "run_id", articles["run_id"])


def rebuild_index(out_dir: Path, config: NearDupConfig) -> int:
    """Rebuild the whole index from ``articles/`` (one index file per articles file);
    returns the number of articles indexed."""
    index_dir = out_dir / INDEX_DIR
    wanted = []
    rows = 0
    for articles_path in published_parts(out_dir, "articles"):
        table = rebuild_part(articles_path, config)
        target = index_dir / articles_path.name
        write_parquet_atomic(table, target, {dedup_index.SKETCH_ID_KEY: config.sketch_id})
        wanted.append(target)
        rows += table.num_rows
    for stale in dedup_index.index_parts(out_dir):
        if stale not in wanted:
            stale.unlink()
    return rows
