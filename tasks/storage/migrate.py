"""Schema migrations: files written by an older newsclean are brought to the current schema
in place, by the next run, under the writer lock (before it reads anything).

* schema 1 ``duplicates`` (before near-dup dedup) lacked ``dup_cluster``, ``content_hash`` and
  ``run_id``: the cluster is the kept copy's id, the run comes from the file's metadata, the
  hash is unknown (null: such a copy counts as published whatever its text);
* schema 2 ``edits`` lacked ``publisher`` (null: only learned rules set it);
* schema 3 ``edits`` lacked ``field``, ``start``, ``end`` and ``model_version``: the span is
  unknown (null), and a learned removal's rule ``learned.repeated-line/N`` named the model
  version N; it becomes the rule's real id (``/1``, the only version of its thresholds then)
  with ``model_version = N``; schema 3 ``articles`` lacked ``language`` and
  ``language_score`` (null: not identified; a ``--full`` run identifies them); schema 4
  ``articles`` lacked ``english_spelling`` and schema 5 ``url_canonical``, ``author_orgs``
  , ``published_inferred``, ``page_kind`` and ``page_kind_reason`` (null likewise; a
  ``--full`` run computes them); schema 6 ``articles`` (and ``other_languages``) lacked
  ``n_copies`` and ``publishers`` (null here; the next run's commit fills them,
  :mod:`newsclean.tasks.pipeline.republish`) and ``duplicates`` lacked ``domain`` (null: a
  copy of unknown domain adds no publisher). Without the columns in every
  file, readers that take the first file's schema would drop them.

Each rewrite keeps the file's metadata (its run id) and goes through a temp file and a rename.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsclean.tasks.schema import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, EDIT_SCHEMA
from newsclean.tasks.storage.io import (
    RUN_ID_KEY,
    SCHEMA_VERSION_KEY,
    file_metadata,
    read_parquet,
    write_parquet_atomic,
)
from newsclean.tasks.storage.layout import ARTICLE_TABLES, published_parts

#: Before schema 4, learned removals were ``learned.repeated-line/<model version>``.
_LEARNED_RULE = "learned.repeated-line"
_LEARNED_RULE_AT_SCHEMA_3 = "learned.repeated-line/1"


def _plan(out: Path) -> list[tuple[Path, Callable[[Path], pa.Table]]]:
    """Every published file of an older schema, with the function that brings it up to
    date (reading file footers only)."""
    plan: list[tuple[Path, Callable[[Path], pa.Table]]] = []
    for path in published_parts(out, "duplicates"):
        names = pq.read_schema(path).names
        if "content_hash" not in names:
            plan.append((path, _duplicates_from_schema_1))
        elif "domain" not in names:
            plan.append((path, lambda p: _duplicates_from_schema_6(read_parquet(p))))
    for path in published_parts(out, "edits"):
        names = pq.read_schema(path).names
        if "publisher" not in names or "model_version" not in names:
            plan.append((path, lambda p: _edits_from_schema_3(read_parquet(p))))
    for path in (p for table in ARTICLE_TABLES for p in published_parts(out, table)):
        names = pq.read_schema(path).names
        missing = [n for n in _ADDED_ARTICLE_COLUMNS if n not in names]
        if missing:
            plan.append(
                (path, lambda p, m=missing: _articles_with_null_columns(read_parquet(p), m))
            )
    return plan


def pending(out: Path) -> bool:
    """Some published file is of an older schema (the next run migrates it)."""
    return bool(_plan(out))


def migrate(out: Path) -> int:
    """Bring every published file to the current schema; returns the files rewritten."""
    plan = _plan(out)
    for path, upgraded in plan:
        _rewrite(path, upgraded(path))
    return len(plan)


#: ``articles`` columns added after schema 3, null in files written before them.
_ADDED_ARTICLE_COLUMNS = (
    "language",
    "language_score",
    "english_spelling",
    "url_canonical",
    "author_orgs",
    "published_inferred",
    "page_kind",
    "page_kind_reason",
    "n_copies",
    "publishers",
)


def _articles_with_null_columns(data: pa.Table, names: list[str]) -> pa.Table:
    for name in names:
        data = data.append_column(
            ARTICLE_SCHEMA.field(name), pa.nulls(data.num_rows, ARTICLE_SCHEMA.field(name).type)
        )
    fixed = [f.name for f in ARTICLE_SCHEMA]
    return data.select([*fixed, *(c for c in data.column_names if c not in fixed)])


def _rewrite(path: Path, table: pa.Table) -> None:
    meta = file_metadata(path)
    meta.pop(SCHEMA_VERSION_KEY, None)  # the current one is written
    write_parquet_atomic(table, path, meta)


def _duplicates_from_schema_1(path: Path) -> pa.Table:
    data = read_parquet(path)
    run_id = file_metadata(path).get(RUN_ID_KEY) or None
    n = data.num_rows
    data = data.append_column("dup_cluster", data["kept_doc_id"])
    data = data.append_column("content_hash", pa.nulls(n, pa.string()))
    data = data.append_column("run_id", pa.array([run_id] * n, pa.string()))
    if "domain" not in data.column_names:
        data = data.append_column("domain", pa.nulls(n, pa.string()))
    return data.select(DUPLICATE_SCHEMA.names).cast(DUPLICATE_SCHEMA)


def _duplicates_from_schema_6(data: pa.Table) -> pa.Table:
    data = data.append_column("domain", pa.nulls(data.num_rows, pa.string()))
    return data.select(DUPLICATE_SCHEMA.names).cast(DUPLICATE_SCHEMA)


def _edits_from_schema_3(data: pa.Table) -> pa.Table:
    n = data.num_rows
    if "publisher" not in data.column_names:  # schema 2
        data = data.append_column("publisher", pa.nulls(n, pa.string()))
    rules = data["rule"]
    learned = pc.starts_with(rules, _LEARNED_RULE + "/")
    digits = pc.if_else(
        learned,
        pc.utf8_slice_codeunits(rules, len(_LEARNED_RULE) + 1),
        pa.scalar(None, pa.string()),
    )
    model_version = pc.cast(digits, pa.int32())
    rules = pc.if_else(learned, pa.scalar(_LEARNED_RULE_AT_SCHEMA_3), rules)
    data = data.set_column(data.schema.get_field_index("rule"), "rule", rules)
    for name in ("field", "start", "end"):
        data = data.append_column(name, pa.nulls(n, EDIT_SCHEMA.field(name).type))
    data = data.append_column("model_version", model_version)
    return data.select(EDIT_SCHEMA.names).cast(EDIT_SCHEMA)
