"""Arrow schemas of everything newsclean writes: the contract analysts depend on.

One place defines the columns so that ingest, the stages and the writer cannot drift apart.
Bump ``SCHEMA_VERSION`` whenever a published column changes meaning or type.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "3"
"""Stored in every Parquet file's metadata under ``newsclean.schema_version``."""

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: A batch as it flows between stages (one row per document).
DOC_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_record", pa.int64()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("published_at", TIMESTAMP),
        pa.field("captions", pa.list_(pa.string())),
        pa.field("extra", pa.string()),
        pa.field("raw_bytes", pa.int64()),
    ]
)

#: Published articles: ``data/clean/articles/``.
ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("published_at", TIMESTAMP),
        pa.field("captions", pa.list_(pa.string())),
        pa.field("word_count", pa.int32()),
        pa.field("content_hash", pa.string()),
        pa.field("dup_cluster", pa.string()),
        pa.field("n_edits", pa.int32()),
        pa.field("source_file", pa.string()),
        pa.field("source_record", pa.int64()),
        pa.field("extra", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingested_at", TIMESTAMP),
    ]
)

#: One row per edit: ``data/clean/edits/``.
EDIT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("before", pa.string()),
        pa.field("after", pa.string()),
        pa.field("count", pa.int32()),
        pa.field("publisher", pa.string()),
    ]
)

#: Dropped copies: ``data/clean/duplicates/``.
DUPLICATE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("kept_doc_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("similarity", pa.float32()),
        pa.field("dup_cluster", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("source_record", pa.int64()),
        pa.field("run_id", pa.string()),
    ]
)

#: Rejected input: ``data/clean/quarantine/``.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_record", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def replace_column(table: pa.Table, name: str, values: list) -> pa.Table:
    """Return ``table`` with column ``name`` replaced by ``values`` (same type)."""
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, pa.array(values, field.type))


#: A cleaned batch as staged between the per-batch work and the run-wide dedup/publish steps.
STAGED_SCHEMA = pa.schema(
    [
        *(f for f in ARTICLE_SCHEMA if f.name not in {"dup_cluster", "run_id", "ingested_at"}),
        pa.field("text_chars", pa.int64()),
        pa.field("raw_bytes", pa.int64()),
    ]
)
