"""The ``learn-boilerplate`` step: count every story's short lines per publisher over the
dataset as it will be after this run, decide the learned set, stage it and the next model.

The counting and the thresholds are the stage layer's (:mod:`newsclean.tasks.stages.learned`);
this step reads the dedup index and the run's staging and writes the staged model, which the
publish step commits with the articles it cleaned.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.stages import learned
from newsclean.tasks.stages.learned import LearnConfig, LearnedSet
from newsclean.tasks.stages.minhash import hash_strings
from newsclean.tasks.storage import boilerplate_model as model_files
from newsclean.tasks.storage.dedup_index import index_parts
from newsclean.tasks.storage.io import read_parquet, write_staged
from newsclean.tasks.storage.layout import (
    LEARNED,
    REPLACED,
    STAGED_MODEL,
    STAGED_PUBLISHERS,
    SUPERSEDED,
    sibling,
    staged_parts,
)

_ARTICLES = pa.schema(
    [
        ("publisher", pa.string()),
        ("lines", pa.list_(pa.uint64())),
        ("line_words", pa.list_(pa.int32())),
        ("run_id", pa.string()),
    ]
)


def _dataset_articles(out: Path, staging: Path, retract_files: list[str]) -> pa.Table:
    """The published articles that stay (from the dedup index: publisher, lines, run), minus
    those this run supersedes, replaces or takes back with their files."""
    columns = ["doc_id", "source_file", *_ARTICLES.names]
    parts = index_parts(out)
    if not parts:
        return _ARTICLES.empty_table()
    table = pa.concat_tables(read_parquet(p, columns=columns) for p in parts)
    gone = [read_parquet(staging / SUPERSEDED, columns=["doc_id"])["doc_id"]]
    gone.append(read_parquet(staging / REPLACED)["doc_id"])
    drop = pc.is_in(table["doc_id"], value_set=pa.chunked_array(gone, pa.string()).combine_chunks())
    if retract_files:
        files = pa.array(sorted(retract_files), pa.string())
        drop = pc.or_(drop, pc.is_in(table["source_file"], value_set=files))
    return table.filter(pc.invert(drop)).select(_ARTICLES.names).cast(_ARTICLES)


def _run_articles(staging: Path, run_id: str) -> tuple[pa.Table, int]:
    """This run's kept articles as the index will hold them (their short-line hashes were
    staged beside the sketches: no text is read here); and their text size."""
    tables, chars = [], 0
    for part in staged_parts(staging, "docs"):
        docs = read_parquet(part, columns=["domain", "text_chars"])
        lines = read_parquet(sibling(part, "sketch"), columns=["lines", "line_words"])
        decisions = read_parquet(sibling(part, "decisions"), columns=["action"])
        keep = pc.equal(decisions["action"], "keep")
        docs, lines = docs.filter(keep), lines.filter(keep)
        chars += pc.sum(docs["text_chars"]).as_py() or 0
        tables.append(
            pa.table(
                {
                    "publisher": pc.fill_null(docs["domain"], learned.POOL),
                    "lines": lines["lines"],
                    "line_words": lines["line_words"],
                    "run_id": pa.array([run_id] * docs.num_rows, pa.string()),
                }
            ).cast(_ARTICLES)
        )
    return (pa.concat_tables(tables) if tables else _ARTICLES.empty_table()), chars


def learn(
    staging_dir: str,
    out_dir: str,
    run_id: str,
    config: LearnConfig,
    retract_files: list[str] | None = None,
) -> dict[str, Any]:
    """Worker job: count lines over every story of the dataset as it will be after this run
    (the index's articles that stay, plus this run's kept ones), decide the learned set, and
    stage it (for publishing) and the next model (for the commit).

    The model is derived, not incremented: counting from the index means a re-run, a
    superseded copy or a reprocessed file never counts a story twice.
    """
    started = time.perf_counter()
    staging, out = Path(staging_dir), Path(out_dir)
    run_articles, chars = _run_articles(staging, run_id)
    articles = pa.concat_tables(
        [_dataset_articles(out, staging, retract_files or []), run_articles]
    )
    counts, publishers = learned.count_stories(articles)
    counts = _with_corpus_lines(counts, publishers, config)
    model, _, version = model_files.read_model(out)
    next_model = _with_old_examples(counts, model)
    allow_entries, deny_entries = model_files.read_lists(out)
    allow, deny = learned.list_keys(allow_entries), learned.list_keys(deny_entries)
    all_keys, is_learned, _ = learned.learned_mask(next_model, publishers, config, allow)
    old = model.filter(pc.fill_null(model["learned"], False))
    keys = np.unique(np.concatenate([all_keys[is_learned], deny]))
    old_keys = np.unique(np.concatenate([learned.model_keys(old), deny]))
    if version == 0 or not np.array_equal(keys, old_keys):
        version += 1
    next_model = next_model.append_column("learned", pa.array(is_learned))
    meta = {model_files.VERSION_KEY.decode(): str(version)}
    key_table = pa.table(
        {"key": pa.array(keys, pa.uint64())}, schema=model_files.LEARNED_SET_SCHEMA
    )
    write_staged(key_table, staging / LEARNED, meta)
    next_model = next_model.select(model_files.MODEL_SCHEMA.names).cast(model_files.MODEL_SCHEMA)
    write_staged(next_model, staging / STAGED_MODEL, meta)
    write_staged(publishers.cast(model_files.PUBLISHER_SCHEMA), staging / STAGED_PUBLISHERS, meta)
    seconds = time.perf_counter() - started
    return {
        "version": version,
        "rule": config.rule_id,
        "learned": int(is_learned.sum()),
        "deny_listed": len(deny),
        "allow_listed": len(allow),
        "candidates": int(pc.sum(pc.greater_equal(next_model["stories"], 2)).as_py() or 0),
        "stories": articles.num_rows,
        "publishers": publishers.num_rows,
        "seconds": round(seconds, 3),
        "mb_per_s": round(chars / 1e6 / seconds, 2) if seconds > 0 else None,
    }


def _with_corpus_lines(counts: pa.Table, publishers: pa.Table, config: LearnConfig) -> pa.Table:
    """The per-publisher counts and, when the pack has ``learned.corpus-line``, the lines
    counted across publishers (publisher ``*``)."""
    counts = counts.append_column("publishers", pa.nulls(counts.num_rows, pa.int32()))
    if config.corpus is None:
        return counts
    across = learned.corpus_counts(counts, publishers, config.corpus)
    return pa.concat_tables([counts, across.select(counts.column_names).cast(counts.schema)])


def _with_old_examples(counts: pa.Table, model: pa.Table) -> pa.Table:
    """This run's counts, carrying over the examples the previous model had."""
    with_example = model.filter(pc.is_valid(model["example"])).select(
        ["publisher", "line_hash", "example"]
    )
    joined = counts.join(with_example, keys=["publisher", "line_hash"], join_type="left outer")
    return joined.select(
        ["publisher", "line_hash", "words", "stories", "first_seen", "last_seen", "example",
         "publishers"]
    )  # fmt: skip


def read_learned_set(staging: Path) -> LearnedSet | None:
    """The learned set this run applies (None when the step did not run)."""
    path = staging / LEARNED
    if not path.exists():
        return None
    keys = np.asarray(read_parquet(path)["key"], dtype=np.uint64)
    return LearnedSet(keys, model_files.model_version(path))


def removal_examples(edits: pa.Table) -> dict[str, str]:
    """``"publisher|line_hash"`` → the line, for each learned line some edits removed (the
    first seen; a removal's ``before`` is the line with its separator): the model keeps one
    example per line."""
    removals = edits.filter(pc.is_valid(edits["model_version"]))
    if removals.num_rows == 0:
        return {}
    lines = pc.utf8_trim(removals["before"], characters="\n").combine_chunks()
    hashes = hash_strings(learned.fold(lines))
    publishers = pc.fill_null(removals["publisher"], learned.POOL).to_pylist()
    found: dict[str, str] = {}
    for publisher, line_hash, text in zip(
        publishers, hashes.tolist(), lines.to_pylist(), strict=True
    ):
        found.setdefault(f"{publisher}|{line_hash}", text)
    return found


def with_examples(model: pa.Table, examples: dict[str, str]) -> pa.Table:
    """Fill the example of each learned line removed this run (where the model has none)."""
    if not examples:
        return model
    keys = pc.binary_join_element_wise(
        model["publisher"], pc.cast(model["line_hash"], pa.string()), "|"
    )
    found = pa.array([examples.get(k) for k in keys.to_pylist()], pa.string())
    column = pc.coalesce(model["example"], found)
    index = model.schema.get_field_index("example")
    return model.set_column(index, "example", column).cast(model_files.MODEL_SCHEMA)


def list_learned(out: Path, config: LearnConfig, domain: str | None = None) -> tuple[pa.Table, int]:
    """What ``newsclean boilerplate list`` shows: learned lines with their evidence."""
    model, publishers, version = model_files.read_model(out)
    allow_entries, _ = model_files.read_lists(out)
    chosen = learned.learned(model, publishers, config, learned.list_keys(allow_entries))
    if domain is not None:
        chosen = chosen.filter(pc.equal(chosen["publisher"], domain))
    chosen = chosen.sort_by([("publisher", "ascending"), ("stories", "descending")])
    return chosen, version
