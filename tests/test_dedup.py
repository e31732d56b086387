"""Exact dedup: what counts as the same text, and which copy is kept."""

from __future__ import annotations

import random

import pyarrow as pa

from tasks.dedup import choose_exact_keepers, content_hash

STORY = (
    "NATO Secretary General Jens Stoltenberg said the alliance will remain “as long as necessary”."
)


def test_hash_folds_case_whitespace_and_punctuation() -> None:
    variants = [
        STORY,
        STORY.upper(),
        STORY.replace(" ", "  ").replace("“", '"').replace("”", '"'),
        STORY.replace(".", "") + "\n\n",
    ]
    assert len({content_hash(v) for v in variants}) == 1


def test_hash_keeps_words_and_numbers_apart() -> None:
    assert content_hash("shares fell 3%") != content_hash("shares fell 5%")
    assert content_hash("Jens Stoltenberg") != content_hash("Jens Stoltenbreg")
    assert content_hash("café") != content_hash("cafe")


def _keys(rows: list[tuple[str, str, int, str, int]]) -> pa.Table:
    names = ["doc_id", "content_hash", "text_chars", "source_file", "source_record"]
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


ROWS = [
    ("d1", "h1", 100, "b.csv", 4),
    ("d2", "h1", 120, "c.csv", 0),  # longest copy of h1: kept
    ("d3", "h1", 120, "d.csv", 0),  # same length, later source: dropped
    ("d4", "h2", 50, "a.txt", 0),
    ("d5", "h2", 50, "a.csv", 9),  # tie on length: earliest source (a.csv < a.txt) kept
    ("d6", "h3", 10, "z.txt", 0),  # unique
]


def test_keep_policy_longest_then_earliest_source() -> None:
    clusters, duplicates = choose_exact_keepers(_keys(ROWS))
    cluster_of = dict(
        zip(clusters["doc_id"].to_pylist(), clusters["dup_cluster"].to_pylist(), strict=True)
    )
    assert cluster_of == {"d1": "d2", "d2": "d2", "d3": "d2", "d4": "d5", "d5": "d5", "d6": "d6"}
    dropped = dict(
        zip(duplicates["doc_id"].to_pylist(), duplicates["kept_doc_id"].to_pylist(), strict=True)
    )
    assert dropped == {"d1": "d2", "d3": "d2", "d4": "d5"}
    assert set(duplicates["kind"].to_pylist()) == {"exact"}
    assert duplicates["source_file"].to_pylist()[dropped_index(duplicates, "d4")] == "a.txt"


def dropped_index(duplicates: pa.Table, doc_id: str) -> int:
    return duplicates["doc_id"].to_pylist().index(doc_id)


def test_keep_decision_does_not_depend_on_batch_order() -> None:
    expected = choose_exact_keepers(_keys(ROWS))[1].sort_by("doc_id")
    rows = list(ROWS)
    for seed in range(5):
        random.Random(seed).shuffle(rows)
        assert choose_exact_keepers(_keys(rows))[1].sort_by("doc_id").equals(expected)


def test_empty_key_table() -> None:
    clusters, duplicates = choose_exact_keepers(
        _keys([]).cast(
            pa.schema(
                [
                    ("doc_id", pa.string()),
                    ("content_hash", pa.string()),
                    ("text_chars", pa.int64()),
                    ("source_file", pa.string()),
                    ("source_record", pa.int64()),
                ]
            )
        )
    )
    assert clusters.num_rows == 0 and duplicates.num_rows == 0
