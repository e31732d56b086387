"""Arrow schemas of everything newsclean reads between layers and writes: the data contract.

One place defines the columns so that ingest, the stages and the writer cannot drift apart; it
sits below both the stage layer and the storage layer, which share it and nothing else. Bump
``SCHEMA_VERSION`` whenever a published column changes meaning or type, and add the migration
of older files to :mod:`newsclean.tasks.storage.migrate`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA_VERSION = "7"
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
        pa.field("url_canonical", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("author_orgs", pa.list_(pa.string())),
        pa.field("published_at", TIMESTAMP),
        pa.field("published_inferred", pa.bool_()),
        pa.field("captions", pa.list_(pa.string())),
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float32()),
        pa.field("english_spelling", pa.string()),
        pa.field("page_kind", pa.string()),
        pa.field("page_kind_reason", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("content_hash", pa.string()),
        pa.field("dup_cluster", pa.string()),
        pa.field("n_copies", pa.int32()),
        pa.field("publishers", pa.list_(pa.string())),
        pa.field("n_edits", pa.int32()),
        pa.field("source_file", pa.string()),
        pa.field("source_record", pa.int64()),
        pa.field("extra", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingested_at", TIMESTAMP),
    ]
)

#: ``other_languages/``: clean articles of a language a run with ``--languages`` did not keep,
#: in the articles schema plus the reason (they are not bad input: quarantine is for that).
SET_ASIDE_FIELD = pa.field("set_aside_reason", pa.string(), nullable=False)


#: One row per edit: ``data/clean/edits/``. ``start``/``end`` (schema 4) are the character
#: span ``[start, end)`` the edit replaced in ``field`` of the text the stage received, so an
#: edit can be replayed (``text[:start] + after + text[end:]``, a stage's rows right to left):
#: ``before`` as it stood there, plus, for a removal, the blank line or spaces removed with it.
#: Null for the document-wide repairs of ``normalize``.
EDIT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("before", pa.string()),
        pa.field("after", pa.string()),
        pa.field("count", pa.int32()),
        pa.field("publisher", pa.string()),
        pa.field("field", pa.string()),
        pa.field("start", pa.int64()),
        pa.field("end", pa.int64()),
        pa.field("model_version", pa.int32()),
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
        pa.field("domain", pa.string()),
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


def replace_rows(table: pa.Table, name: str, rows: np.ndarray, values: list | pa.Array) -> pa.Table:
    """Return ``table`` with rows ``rows`` (ascending) of column ``name`` set to ``values``
    (a list or an Arrow array), in Arrow: a stage that changes a few documents of a batch
    converts only those."""
    if len(rows) == 0:
        return table
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    column = table.column(index).combine_chunks()
    return table.set_column(
        index, field, pc.replace_with_mask(column, pa.array(mask), _typed(values, field.type))
    )


def _typed(values: list | pa.Array, type_: pa.DataType) -> pa.Array:
    return values.cast(type_) if isinstance(values, pa.Array) else pa.array(values, type_)


#: Columns the runner itself keeps on every batch: edit rows per document so far.
RUNNER_FIELDS = (pa.field("n_edits", pa.int32()),)

#: Columns set per run when articles are published, not by any stage.
RUN_FIELDS = (
    pa.field("dup_cluster", pa.string()),
    pa.field("n_copies", pa.int32()),
    pa.field("publishers", pa.list_(pa.string())),
    pa.field("run_id", pa.string()),
    pa.field("ingested_at", TIMESTAMP),
)

#: A cleaned batch as staged between the per-batch work and the run-wide dedup/publish steps:
#: the published article columns a stage sets, plus ``text_chars`` and ``raw_bytes``.
STAGED_SCHEMA = pa.schema(
    [
        *(f for f in ARTICLE_SCHEMA if f.name not in {f.name for f in RUN_FIELDS}),
        pa.field("text_chars", pa.int64()),
        pa.field("raw_bytes", pa.int64()),
    ]
)


def with_extension(base: pa.Schema, extension: list[pa.Field]) -> pa.Schema:
    """``base`` followed by the columns stages add beyond it (declared in their contract),
    in chain order: how a stage's new column reaches the staged batches and ``articles/``."""
    known = set(base.names)
    return pa.schema([*base, *(f for f in extension if f.name not in known)])


#: Publisher key of documents without a domain (they form one pool) in the dedup index and
#: the learned-boilerplate model; and of allow/deny lines that apply to every publisher.
NO_PUBLISHER = ""
ANY_PUBLISHER = "*"

#: Per-document columns the dedup keep decision needs besides the sketch (staged and indexed).
DEDUP_KEY_COLUMNS = [
    "doc_id",
    "content_hash",
    "text_chars",
    "published_at",
    "source_file",
    "source_record",
    "domain",
]
