"""Exact dedup: one copy per story text, every dropped copy listed with the copy kept.

``content_hash`` is computed over the clean text with case, whitespace and punctuation folded,
so copies that differ only in curly quotes, spacing or capitalisation collapse. The keep
decision needs every document of the run, so it works on a small key table (id, hash, length,
source) rather than on the texts: memory stays bounded by the number of documents, not bytes.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from tasks.schema import DUPLICATE_SCHEMA

#: Columns of the key table the keep decision needs.
KEY_COLUMNS = ["doc_id", "content_hash", "text_chars", "source_file", "source_record"]
_NOT_WORD = r"[^\p{L}\p{N}]+"


def fold_for_hash(texts: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Case, punctuation and whitespace folded text (vectorized, RE2)."""
    folded = pc.replace_substring_regex(pc.utf8_lower(texts), _NOT_WORD, " ")
    return pc.utf8_trim_whitespace(folded)


def content_hashes(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """128-bit BLAKE2b hex digest of each folded text (null text gives a null hash)."""
    digests = [
        None if t is None else hashlib.blake2b(t.encode(), digest_size=16).hexdigest()
        for t in fold_for_hash(texts).to_pylist()
    ]
    return pa.array(digests, pa.string())


def word_counts(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.cast(pc.list_value_length(pc.utf8_split_whitespace(texts)), pa.int32())


def choose_exact_keepers(keys: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Decide which copy of each content hash survives.

    Keep policy: the longest clean text, ties to the earliest source (file path, then record),
    so the choice does not depend on batch order or worker scheduling.

    Returns ``(clusters, duplicates)``: ``clusters`` maps every doc_id to the doc_id kept for
    its hash (``dup_cluster``); ``duplicates`` lists the dropped copies (DUPLICATE_SCHEMA).
    """
    if keys.num_rows == 0:
        empty = pa.table({"doc_id": pa.array([], pa.string()), "dup_cluster": pa.array([], pa.string())})
        return empty, DUPLICATE_SCHEMA.empty_table()
    ordered = keys.sort_by(
        [
            ("content_hash", "ascending"),
            ("text_chars", "descending"),
            ("source_file", "ascending"),
            ("source_record", "ascending"),
        ]
    )
    hashes = ordered.column("content_hash").to_pylist()
    doc_ids = ordered.column("doc_id").to_pylist()
    kept: list[str] = []
    current_hash, current_keep = None, ""
    for digest, doc_id in zip(hashes, doc_ids, strict=True):
        if digest != current_hash:
            current_hash, current_keep = digest, doc_id
        kept.append(current_keep)
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
