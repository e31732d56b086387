"""Learned boilerplate: the lines a publisher prints in many different stories.

Rule packs (:mod:`tasks.boilerplate`) catch junk someone has seen before; every publisher also
has its own — a masthead, an author bio, a tip line, "Related coverage" — and the strongest
signal is repetition *within one publisher across distinct stories*. This layer beside the
rules:

1. **counts** every short paragraph of the run's kept articles (one per dedup cluster, so a
   syndicated story counts once) per publisher (``domain``; documents without one form a
   pool), folded — case, digits and whitespace — and hashed; a vectorized Arrow group-by over
   the line hashes, never a Python dict per line;
2. **accumulates** the counts across runs in ``<out>/boilerplate/model.parquet`` (per
   publisher and line: stories, words, first and last run seen, an example) and the stories
   per publisher in ``publishers.parquet``;
3. **learns** a line when its publisher printed it in at least ``min_stories`` stories (plus
   one per ``words_per_extra_story`` words: long lines need more evidence) and in at least
   ``min_share`` of its stories; ``allow.txt`` protects lines, ``deny.txt`` forces them;
4. **removes** learned lines from the publisher's articles at publish time, each removal an
   edit ``learned.repeated-line/<model version>`` with the publisher; a document is never
   emptied by it.

The model version goes up by one whenever the set of learned lines changes, and every run
records the version it used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.edits import EditLog
from tasks.minhash import combine, hash64, hash_strings
from tasks.rules import load_pack
from tasks.write import read_parquet, staged_parts, write_parquet_atomic

MODEL_DIR = "boilerplate"
MODEL = "model.parquet"
PUBLISHERS = "publishers.parquet"
ALLOW, DENY = "allow.txt", "deny.txt"
LEARNED = "learned.parquet"  # staged: the learned set this run applies
STAGED_MODEL, STAGED_PUBLISHERS = "model-next.parquet", "publishers-next.parquet"
VERSION_KEY = b"newsclean.boilerplate_version"
POOL = ""  # publisher key of documents without a domain
ANY = "*"  # publisher key of deny-list lines that apply to every publisher

MODEL_SCHEMA = pa.schema(
    [
        pa.field("publisher", pa.string()),
        pa.field("line_hash", pa.uint64()),
        pa.field("words", pa.int32()),
        pa.field("stories", pa.int64()),
        pa.field("first_seen", pa.string()),
        pa.field("last_seen", pa.string()),
        pa.field("example", pa.string()),
        pa.field("learned", pa.bool_()),
    ]
)
PUBLISHER_SCHEMA = pa.schema([pa.field("publisher", pa.string()), pa.field("stories", pa.int64())])


@dataclass(frozen=True)
class LearnConfig:
    rule: str = "learned.repeated-line"
    min_stories: int = 3
    min_share: float = 0.02
    words_per_extra_story: int = 10
    max_words: int = 60

    def needed(self, words: np.ndarray) -> np.ndarray:
        """Stories a line of ``words`` words needs before it is learned."""
        return self.min_stories + words // self.words_per_extra_story


@cache
def default_config() -> LearnConfig:
    rule = load_pack("learned").get("learned.repeated-line/1")
    fields = LearnConfig.__dataclass_fields__
    return LearnConfig(**{k: v for k, v in rule.params.items() if k in fields})


# --------------------------------------------------------------------------- lines


def fold(lines: pa.Array) -> pa.Array:
    """Case, digits and whitespace folded: "© 2017 The Harbor" and "© 2018  the harbor" are
    one line."""
    folded = pc.utf8_lower(lines)
    folded = pc.replace_substring_regex(folded, r"[0-9]+", "0")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(folded, r"\s+", " "))


def line_key(publisher_hash: np.ndarray, line_hash: np.ndarray) -> np.ndarray:
    """One 64-bit key per (publisher, line)."""
    return combine([publisher_hash, line_hash])


@dataclass
class Paragraphs:
    """Every paragraph of a batch, flattened: ``doc[i]`` is the row it belongs to."""

    doc: np.ndarray
    text: pa.Array
    words: np.ndarray
    line_hash: np.ndarray
    publisher: pa.Array
    publisher_hash: np.ndarray


def paragraphs(docs: pa.Table) -> Paragraphs:
    lists = pc.split_pattern(pc.fill_null(docs["text"], ""), "\n\n")
    doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    text = pc.list_flatten(lists)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    words = np.asarray(pc.count_substring(pc.utf8_trim_whitespace(text), " "), dtype=np.int64) + 1
    publishers = pc.fill_null(docs["domain"], POOL).combine_chunks()
    publisher = publishers.take(pa.array(doc)) if len(doc) else pa.array([], pa.string())
    return Paragraphs(
        doc, text, words, hash_strings(fold(text)), publisher, hash_strings(publisher)
    )


def line_lists(docs: pa.Table, config: LearnConfig | None = None) -> tuple[pa.Array, pa.Array]:
    """Per document, the hashes and word counts of its short paragraphs: what the model is
    counted from (stored in the dedup index, so counts follow the dataset exactly)."""
    config = config or default_config()
    paras = paragraphs(docs)
    nonempty = np.asarray(pc.greater(pc.utf8_length(paras.text), 0), dtype=bool)
    short = (paras.words <= config.max_words) & nonempty
    offsets = np.concatenate(
        [[0], np.cumsum(np.bincount(paras.doc[short], minlength=docs.num_rows))]
    )
    offsets = pa.array(offsets.astype(np.int32))
    lines = pa.ListArray.from_arrays(offsets, pa.array(paras.line_hash[short], pa.uint64()))
    words = pa.ListArray.from_arrays(offsets, pa.array(paras.words[short].astype(np.int32)))
    return lines, words


def _codes(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Small integer codes of a string column, in sorted value order (run ids sort by time)."""
    distinct = sorted(set(pc.unique(values).to_pylist()) - {None})
    lookup = pa.array(distinct, pa.string())
    codes = pc.index_in(values, value_set=lookup)
    return np.asarray(codes.fill_null(-1), dtype=np.int32), distinct


def count_stories(articles: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Per (publisher, line): distinct stories printing it (articles are one per story), the
    line's words and the first and last run that published it; and stories per publisher.

    Arrow group-bys over the exploded line hashes, with publishers and runs as small integer
    codes: at 275k articles (2.2M lines) the exploded table is a few integer columns, not
    millions of repeated strings.
    """
    publisher_code, publishers = _codes(articles["publisher"])
    run_code, runs = _codes(articles["run_id"])
    parent = np.asarray(pc.list_parent_indices(articles["lines"]), dtype=np.int64)
    exploded = pa.table(
        {
            "publisher": pa.array(publisher_code[parent]),
            "line_hash": pc.list_flatten(articles["lines"]),
            "words": pc.list_flatten(articles["line_words"]),
            "story": pa.array(parent),
            "run": pa.array(run_code[parent]),
        }
    )
    # A line printed twice in one story counts once: distinct (story, line) first.
    per_story = exploded.group_by(["story", "publisher", "line_hash"]).aggregate(
        [("words", "min"), ("run", "min")]
    )
    counts = per_story.group_by(["publisher", "line_hash"]).aggregate(
        [("story", "count"), ("words_min", "min"), ("run_min", "min"), ("run_min", "max")]
    )
    names = pa.array(publishers, pa.string())
    run_names = pa.array(runs, pa.string())
    counts = pa.table(
        {
            "publisher": names.take(counts["publisher"]),
            "line_hash": counts["line_hash"],
            "stories": counts["story_count"],
            "words": counts["words_min_min"],
            "first_seen": run_names.take(counts["run_min_min"]),
            "last_seen": run_names.take(counts["run_min_max"]),
        }
    )
    per_publisher = pa.table({"publisher": pa.array(publisher_code)}).group_by("publisher")
    per_publisher = per_publisher.aggregate([("publisher", "count")])
    return counts, pa.table(
        {
            "publisher": names.take(per_publisher["publisher"]),
            "stories": per_publisher["publisher_count"],
        }
    )


def read_model(out: Path) -> tuple[pa.Table, pa.Table, int]:
    """The last committed model, its stories per publisher and its version (0: none)."""
    folder = out / MODEL_DIR
    if not (folder / MODEL).exists():
        return MODEL_SCHEMA.empty_table(), PUBLISHER_SCHEMA.empty_table(), 0
    model = pq.ParquetFile(folder / MODEL).read().cast(MODEL_SCHEMA)
    version = int((pq.read_schema(folder / MODEL).metadata or {}).get(VERSION_KEY, b"0"))
    publishers = pq.ParquetFile(folder / PUBLISHERS).read().cast(PUBLISHER_SCHEMA)
    return model, publishers, version


def read_list(path: Path) -> list[tuple[str, str]]:
    """``(publisher, line)`` entries of an allow/deny file: ``line`` (every publisher) or
    ``domain | line``; ``#`` starts a comment line."""
    if not path.exists():
        return []
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        publisher, sep, text = line.partition(" | ")
        entries.append((publisher.strip(), text.strip()) if sep else (ANY, line))
    return entries


def _list_keys(entries: list[tuple[str, str]]) -> np.ndarray:
    if not entries:
        return np.empty(0, dtype=np.uint64)
    publishers = pa.array([p for p, _ in entries], pa.string())
    lines = fold(pa.array([t for _, t in entries], pa.string()))
    return line_key(hash_strings(publishers), hash_strings(lines))


def model_keys(model: pa.Table) -> np.ndarray:
    """The (publisher, line) key of every row of a model table."""
    return line_key(
        hash_strings(model["publisher"].combine_chunks()),
        np.asarray(model["line_hash"], dtype=np.uint64),
    )


def learned_mask(
    model: pa.Table, publishers: pa.Table, config: LearnConfig, allow: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keys, learned, share)`` per model row: a line is learned when it meets the
    thresholds and is not on the allow list."""
    at = pc.index_in(model["publisher"], value_set=publishers["publisher"].combine_chunks())
    total = np.asarray(publishers["stories"].take(at).fill_null(0), dtype=np.float64)
    stories = np.asarray(model["stories"], dtype=np.int64)
    words = np.asarray(model["words"].fill_null(0), dtype=np.int64)
    share = np.divide(stories, total, out=np.zeros(len(stories)), where=total > 0)
    keys = model_keys(model)
    mask = (stories >= config.needed(words)) & (share >= config.min_share) & ~np.isin(keys, allow)
    return keys, mask, share


def learned(
    model: pa.Table, publishers: pa.Table, config: LearnConfig, allow: np.ndarray
) -> pa.Table:
    """The model's learned lines, with their share of the publisher's stories."""
    _, mask, share = learned_mask(model, publishers, config, allow)
    return model.filter(pa.array(mask)).append_column("share", pa.array(share[mask]))


# --------------------------------------------------------------------------- the run job


def _dataset_articles(out: Path, staging: Path, retract_files: list[str]) -> pa.Table:
    """The published articles that stay (from the dedup index: publisher, lines, run), minus
    those this run supersedes, replaces or takes back with their files."""
    from tasks import dedup, dedup_index

    columns = ["doc_id", "source_file", "publisher", "lines", "line_words", "run_id"]
    parts = dedup_index.index_parts(out)
    if not parts:
        return _EMPTY_ARTICLES
    table = pa.concat_tables(read_parquet(p, columns=columns) for p in parts)
    gone = [read_parquet(staging / dedup.SUPERSEDED, columns=["doc_id"])["doc_id"]]
    gone.append(read_parquet(staging / dedup.REPLACED)["doc_id"])
    drop = pc.is_in(table["doc_id"], value_set=pa.chunked_array(gone, pa.string()).combine_chunks())
    if retract_files:
        files = pa.array(sorted(retract_files), pa.string())
        drop = pc.or_(drop, pc.is_in(table["source_file"], value_set=files))
    return (
        table.filter(pc.invert(drop))
        .select(_EMPTY_ARTICLES.column_names)
        .cast(_EMPTY_ARTICLES.schema)
    )


_EMPTY_ARTICLES = pa.schema(
    [
        ("publisher", pa.string()),
        ("lines", pa.list_(pa.uint64())),
        ("line_words", pa.list_(pa.int32())),
        ("run_id", pa.string()),
    ]
).empty_table()


def _run_articles(staging: Path, run_id: str, config: LearnConfig) -> tuple[pa.Table, int]:
    """This run's kept articles as the index will hold them (their short-line hashes were
    staged beside the sketches: no text is read here); and their text size."""
    from tasks import dedup

    tables, chars = [], 0
    for part in staged_parts(staging, "docs"):
        docs = read_parquet(part, columns=["domain", "text_chars"])
        lines = read_parquet(staging / "sketch" / part.name, columns=["lines", "line_words"])
        decisions = read_parquet(staging / dedup.DECISIONS / part.name, columns=["action"])
        keep = pc.equal(decisions["action"], "keep")
        docs, lines = docs.filter(keep), lines.filter(keep)
        chars += pc.sum(docs["text_chars"]).as_py() or 0
        tables.append(
            pa.table(
                {
                    "publisher": pc.fill_null(docs["domain"], POOL),
                    "lines": lines["lines"],
                    "line_words": lines["line_words"],
                    "run_id": pa.array([run_id] * docs.num_rows, pa.string()),
                }
            ).cast(_EMPTY_ARTICLES.schema)
        )
    return (pa.concat_tables(tables) if tables else _EMPTY_ARTICLES), chars


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
    run_articles, chars = _run_articles(staging, run_id, config)
    articles = pa.concat_tables(
        [_dataset_articles(out, staging, retract_files or []), run_articles]
    )
    counts, publishers = count_stories(articles)
    model, _, version = read_model(out)
    next_model = _with_old_examples(counts, model)
    allow = _list_keys(read_list(out / MODEL_DIR / ALLOW))
    deny = _list_keys(read_list(out / MODEL_DIR / DENY))
    all_keys, is_learned, _ = learned_mask(next_model, publishers, config, allow)
    old = model.filter(pc.fill_null(model["learned"], False))
    keys = np.unique(np.concatenate([all_keys[is_learned], deny]))
    old_keys = np.unique(np.concatenate([model_keys(old), deny]))
    if version == 0 or not np.array_equal(keys, old_keys):
        version += 1
    next_model = next_model.append_column("learned", pa.array(is_learned))
    meta = {VERSION_KEY.decode(): str(version)}
    write_parquet_atomic(pa.table({"key": pa.array(keys, pa.uint64())}), staging / LEARNED, meta)
    write_parquet_atomic(next_model.cast(MODEL_SCHEMA), staging / STAGED_MODEL, meta)
    write_parquet_atomic(publishers.cast(PUBLISHER_SCHEMA), staging / STAGED_PUBLISHERS, meta)
    seconds = time.perf_counter() - started
    return {
        "version": version,
        "rule": f"{config.rule}/{version}",
        "learned": int(is_learned.sum()),
        "deny_listed": len(deny),
        "allow_listed": len(allow),
        "candidates": int(pc.sum(pc.greater_equal(next_model["stories"], 2)).as_py() or 0),
        "stories": articles.num_rows,
        "publishers": publishers.num_rows,
        "seconds": round(seconds, 3),
        "mb_per_s": round(chars / 1e6 / seconds, 2) if seconds > 0 else None,
    }


def _with_old_examples(counts: pa.Table, model: pa.Table) -> pa.Table:
    """This run's counts, carrying over the examples the previous model had."""
    with_example = model.filter(pc.is_valid(model["example"])).select(
        ["publisher", "line_hash", "example"]
    )
    joined = counts.join(with_example, keys=["publisher", "line_hash"], join_type="left outer")
    return joined.select(
        ["publisher", "line_hash", "words", "stories", "first_seen", "last_seen", "example"]
    )


# --------------------------------------------------------------------------- removal


@dataclass
class LearnedSet:
    """The keys of the learned (and deny-listed) lines, and the model version they are."""

    keys: np.ndarray
    version: int
    rule: str = "learned.repeated-line"

    @classmethod
    def read(cls, path: Path) -> LearnedSet:
        table = pq.ParquetFile(path).read()
        version = int((pq.read_schema(path).metadata or {}).get(VERSION_KEY, b"0"))
        return cls(np.asarray(table["key"], dtype=np.uint64), version)

    def candidates(self, docs: pa.Table, lines: pa.Array) -> np.ndarray:
        """Rows whose staged short-line hashes (``lines``, row-aligned) hit the set: only
        those need their text looked at."""
        if len(self.keys) == 0 or docs.num_rows == 0:
            return np.zeros(docs.num_rows, dtype=bool)
        parent = np.asarray(pc.list_parent_indices(lines), dtype=np.int64)
        flat = np.asarray(pc.list_flatten(lines), dtype=np.uint64)
        publishers = hash_strings(pc.fill_null(docs["domain"], POOL).combine_chunks())
        keys = line_key(publishers[parent], flat)
        anywhere = line_key(np.full(len(flat), hash64(ANY), dtype=np.uint64), flat)
        hit = np.isin(keys, self.keys) | np.isin(anywhere, self.keys)
        return np.bincount(parent[hit], minlength=docs.num_rows) > 0

    def apply(
        self, docs: pa.Table, lines: pa.Array | None = None
    ) -> tuple[pa.Table, pa.Table, dict[str, str]]:
        """Remove learned lines from kept articles. Returns the articles, the edits and an
        example text per learned line removed (``"publisher|line_hash"`` → text). With the
        staged ``lines`` of the rows, only the rows that can hit are split and hashed."""
        log = EditLog("boilerplate")
        if docs.num_rows == 0 or len(self.keys) == 0:
            return docs, log.to_table(), {}
        if lines is not None:
            rows = np.flatnonzero(self.candidates(docs, lines))
            if len(rows) == 0:
                return docs, log.to_table(), {}
            if len(rows) < docs.num_rows:
                subset, edits, examples = self.apply(docs.take(pa.array(rows)))
                return _splice(docs, rows, subset), edits, examples
        return self._apply_all(docs)

    def _apply_all(self, docs: pa.Table) -> tuple[pa.Table, pa.Table, dict[str, str]]:
        from tasks.dedup import content_hashes, word_counts
        from tasks.schema import replace_column

        log = EditLog("boilerplate")
        paras = paragraphs(docs)
        keys = line_key(paras.publisher_hash, paras.line_hash)
        any_publisher = line_key(np.full(len(keys), hash64(ANY), dtype=np.uint64), paras.line_hash)
        hit = np.isin(keys, self.keys) | np.isin(any_publisher, self.keys)
        if not hit.any():
            return docs, log.to_table(), {}
        rule = f"{self.rule}/{self.version}"
        texts = docs["text"].to_pylist()
        ids = docs["doc_id"].to_pylist()
        n_edits = docs["n_edits"].to_pylist()
        examples: dict[str, str] = {}
        para_text = paras.text.to_pylist()
        publishers = paras.publisher.to_pylist()
        by_doc = np.split(np.arange(len(paras.doc)), np.flatnonzero(np.diff(paras.doc)) + 1)
        for rows in by_doc:
            if not hit[rows].any() or hit[rows].all():  # never empty a document
                continue
            doc = int(paras.doc[rows[0]])
            for row in rows[hit[rows]]:
                publisher = publishers[row] or None
                log.add(ids[doc], rule, para_text[row], "", publisher=publisher)
                examples.setdefault(
                    f"{publishers[row]}|{int(paras.line_hash[row])}", para_text[row]
                )
            texts[doc] = "\n\n".join(para_text[r] for r in rows[~hit[rows]])
            n_edits[doc] += int(hit[rows].sum())
        docs = replace_column(docs, "text", texts)
        docs = replace_column(docs, "content_hash", content_hashes(texts).to_pylist())
        docs = replace_column(docs, "word_count", word_counts(texts).to_pylist())
        docs = replace_column(docs, "n_edits", n_edits)
        return docs, log.to_table(), examples


def _splice(docs: pa.Table, rows: np.ndarray, changed: pa.Table) -> pa.Table:
    """``docs`` with the given rows replaced by ``changed`` (same order, same schema)."""
    from tasks.schema import replace_column

    for name in ("text", "content_hash", "word_count", "n_edits"):
        values = docs[name].to_pylist()
        for row, value in zip(rows.tolist(), changed[name].to_pylist(), strict=True):
            values[row] = value
        docs = replace_column(docs, name, values)
    return docs


def with_examples(model: pa.Table, examples: dict[str, str]) -> pa.Table:
    """Fill the example of each learned line removed this run (where the model has none)."""
    if not examples:
        return model
    keys = pc.binary_join_element_wise(
        model["publisher"], pc.cast(model["line_hash"], pa.string()), "|"
    )
    found = pa.array([examples.get(k) for k in keys.to_pylist()], pa.string())
    return model.set_column(
        model.schema.get_field_index("example"), "example", pc.coalesce(model["example"], found)
    ).cast(MODEL_SCHEMA)


def list_learned(out: Path, domain: str | None = None) -> tuple[pa.Table, int]:
    """What ``newsclean boilerplate list`` shows: learned lines with their evidence."""
    model, publishers, version = read_model(out)
    allow = _list_keys(read_list(out / MODEL_DIR / ALLOW))
    chosen = learned(model, publishers, default_config(), allow)
    if domain is not None:
        chosen = chosen.filter(pc.equal(chosen["publisher"], domain))
    chosen = chosen.sort_by([("publisher", "ascending"), ("stories", "descending")])
    return chosen, version


def ensure_list_files(out: Path) -> None:
    """Create commented, empty allow/deny files so that users find where to steer."""
    folder = out / MODEL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    notes = {
        ALLOW: "Lines never removed as learned boilerplate (a recurring quote, a legal clause).",
        DENY: "Lines always removed as boilerplate, learned or not.",
    }
    for name, purpose in notes.items():
        path = folder / name
        if not path.exists():
            path.write_text(
                f"# {purpose}\n# One per line: `text` (every publisher) or `domain | text`.\n"
                "# Case, digits and spacing do not matter.\n",
                encoding="utf-8",
            )
