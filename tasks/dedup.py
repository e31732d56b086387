"""Exact dedup: one copy per story text, every dropped copy listed with the copy kept.

``content_hash`` is computed over the clean text with case, whitespace and punctuation folded,
so copies that differ only in curly quotes, spacing or capitalisation collapse. The keep
decision needs every document of the run, so it works on a small key table (id, hash, length,
source) rather than on the texts: memory stays bounded by the number of documents, not bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.schema import DUPLICATE_SCHEMA

#: Columns of the key table the keep decision needs.
KEY_COLUMNS = ["doc_id", "content_hash", "text_chars", "source_file", "source_record"]
# Everything ASCII that is not a lower-case letter or digit is deleted before hashing, and so is
# the Unicode punctuation scrapers vary most (curly quotes, dashes, ellipses, guillemets).
_ASCII_NOISE = bytes(b for b in range(128) if not (48 <= b <= 57 or 97 <= b <= 122))
_UNICODE_NOISE = (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e"  # quotes
    "\u2013\u2014\u2015\u2026\u00ab\u00bb\u00a0\u2022\u00b7"  # dashes, ellipsis, bullets
)


def fold_for_hash(text: str) -> bytes:
    """Case, whitespace and punctuation folded UTF-8 bytes of ``text``.

    ``str.lower`` is Unicode-aware; ``bytes.translate`` deletes ASCII noise at memory speed,
    several times faster than a Unicode-class regex over the batch (measured: 56 MB/s).
    """
    text = text.lower()
    for mark in _UNICODE_NOISE:
        if mark in text:
            text = text.replace(mark, "")
    return text.encode("utf-8", "surrogatepass").translate(None, _ASCII_NOISE)


def content_hash(text: str) -> str:
    """128-bit BLAKE2b hex digest of the folded text."""
    return hashlib.blake2b(fold_for_hash(text), digest_size=16).hexdigest()


def content_hashes(texts: list[str | None]) -> pa.Array:
    return pa.array([None if t is None else content_hash(t) for t in texts], pa.string())


def word_counts(texts: list[str | None]) -> pa.Array:
    """Whitespace-separated tokens per text."""
    return pa.array([0 if t is None else len(t.split()) for t in texts], pa.int32())


def choose_exact_keepers(keys: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Decide which copy of each content hash survives.

    Keep policy: the longest clean text, ties to the earliest source (file path, then record),
    so the choice does not depend on batch order or worker scheduling.

    Returns ``(clusters, duplicates)``: ``clusters`` maps every doc_id to the doc_id kept for
    its hash (``dup_cluster``); ``duplicates`` lists the dropped copies (DUPLICATE_SCHEMA).
    """
    if keys.num_rows == 0:
        empty = pa.table(
            {"doc_id": pa.array([], pa.string()), "dup_cluster": pa.array([], pa.string())}
        )
        return empty, DUPLICATE_SCHEMA.empty_table()
    ordered = keys.sort_by(
        [
            ("content_hash", "ascending"),
            ("text_chars", "descending"),
            ("source_file", "ascending"),
            ("source_record", "ascending"),
        ]
    )
    hashes = ordered.column("content_hash").combine_chunks()
    doc_ids = ordered.column("doc_id").combine_chunks()
    # Sorted by hash, the first row of each hash group is its keeper: mark it, forward-fill.
    starts = pa.concat_arrays(
        [pa.array([True]), pc.not_equal(hashes.slice(1), hashes.slice(0, len(hashes) - 1))]
    )
    kept = pc.fill_null_forward(pc.if_else(starts, doc_ids, pa.scalar(None, pa.string())))
    clusters = pa.table({"doc_id": doc_ids, "dup_cluster": kept})
    dropped = pc.not_equal(clusters.column("doc_id"), clusters.column("dup_cluster"))
    dups = ordered.filter(dropped)
    duplicates = pa.table(
        {
            "doc_id": dups.column("doc_id"),
            "kept_doc_id": clusters.filter(dropped).column("dup_cluster"),
            "kind": pa.array(["exact"] * dups.num_rows, pa.string()),
            "similarity": pa.array([1.0] * dups.num_rows, pa.float32()),
            "source_file": dups.column("source_file"),
            "source_record": dups.column("source_record"),
        },
        schema=DUPLICATE_SCHEMA,
    )
    return clusters, duplicates


def run_exact_dedup(staging_dir: str) -> dict[str, int]:
    """Worker job: read the run's key table, stage ``duplicates.parquet``, return counts.

    Runs in a worker process so that the key table (a few dozen bytes per document) never
    grows the long-lived orchestrating process.
    """
    from tasks.write import read_staged_keys, write_parquet_atomic

    staging = Path(staging_dir)
    keys = read_staged_keys(staging, KEY_COLUMNS)
    _, duplicates = choose_exact_keepers(keys)
    write_parquet_atomic(duplicates, staging / "duplicates.parquet")
    return {"documents": keys.num_rows, "duplicates": duplicates.num_rows}
