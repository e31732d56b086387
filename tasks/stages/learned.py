"""Learned boilerplate: the lines a publisher prints in many different stories.

Rule packs (:mod:`~newsclean.tasks.stages.boilerplate`) catch junk someone has seen before;
every publisher also has its own — a masthead, an author bio, a tip line, "Related coverage" —
and the strongest signal is repetition *within one publisher across distinct stories*. This
layer beside the rules:

1. **hashes** every short paragraph of every document's final text (:class:`LineHashStage`,
   staged beside the sketch and kept in the dedup index), folded — case, digits, whitespace;
2. **counts**, per publisher (``domain``; documents without one form a pool), the distinct
   stories printing each line (one per dedup cluster, so a syndicated story counts once), with
   one numpy sort of the exploded line hashes (:func:`count_stories`);
3. **learns** a line when its publisher printed it in at least ``min_stories`` stories (plus
   one per ``words_per_extra_story`` words: long lines need more evidence) and in at least
   ``min_share`` of its stories (:func:`learned_mask`); allow-listed lines never, deny-listed
   always;
4. **learns across publishers** (:func:`corpus_counts`, rule ``learned.corpus-line``): a short
   line that at least ``min_publishers`` publishers each print as *their own* repeated line (in
   ``min_publisher_stories`` and ``min_share`` of their stories) is boilerplate for every
   publisher, also where it appears once — a CMS widget ("Like this:") seen on three sites is
   junk on the fourth. Plain cross-publisher counts are not enough: short lines on several
   sites are mostly sub-headings ("Conclusion", "Key takeaways"; docs/quality.md);
5. **removes** learned lines from kept articles (:class:`LearnedBoilerplateStage`), each
   removal an edit of rule ``learned.repeated-line`` (the publisher's own line) or
   ``learned.corpus-line`` (publisher ``*``), with the ``publisher`` and the
   ``model_version``; a document is never emptied by it.

The model (the counts and the learned set) and its version live in the dataset
(:mod:`newsclean.tasks.storage.boilerplate_model`); the version goes up by one whenever the
set of learned lines changes, and every run records the version it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.schema import ANY_PUBLISHER, NO_PUBLISHER, replace_rows
from newsclean.tasks.stages.base import BatchContext, NewColumn, RunInputs, Stage, register
from newsclean.tasks.stages.edits import EditLog, StageResult, empty_edits, paragraph_spans
from newsclean.tasks.stages.minhash import combine, hash64, hash_strings

POOL = NO_PUBLISHER
ANY = ANY_PUBLISHER


@dataclass(frozen=True)
class CorpusConfig:
    """The thresholds of ``learned.corpus-line`` in rules/learned.toml (no defaults here)."""

    rule_id: str
    min_publishers: int
    min_publisher_stories: int
    min_share: float
    max_words: int


@dataclass(frozen=True)
class LearnConfig:
    """The thresholds of ``learned.repeated-line`` in rules/learned.toml (no defaults here),
    and of ``learned.corpus-line`` when the pack has it."""

    rule_id: str
    min_stories: int
    min_share: float
    words_per_extra_story: int
    max_words: int
    corpus: CorpusConfig | None = None

    def needed(self, words: np.ndarray) -> np.ndarray:
        """Stories a line of ``words`` words needs before it is learned."""
        return self.min_stories + words // self.words_per_extra_story


@cache
def default_config() -> LearnConfig:
    return config_from_pack(pack("learned"))


def config_from_pack(rules: RulePack) -> LearnConfig:
    """The thresholds of a learned pack's newest ``learned.repeated-line``."""
    rule = rules.get("learned.repeated-line")
    fields = set(LearnConfig.__dataclass_fields__) - {"corpus"}
    params = {k: v for k, v in rule.params.items() if k in fields}
    names = {r.name for r in rules.active}
    corpus = None
    if "learned.corpus-line" in names:
        across = rules.get("learned.corpus-line")
        corpus_fields = CorpusConfig.__dataclass_fields__
        corpus = CorpusConfig(
            rule_id=across.id,
            max_words=across.max_words,
            **{k: v for k, v in across.params.items() if k in corpus_fields},
        )
    return LearnConfig(rule_id=rule.id, max_words=rule.max_words, corpus=corpus, **params)


# --------------------------------------------------------------------------- lines


def fold(lines: pa.Array) -> pa.Array:
    """Case, digits and whitespace folded: "© 2017 The Harbor" and "© 2018  the harbor" are
    one line.

    Each replacement runs only on the lines a cheaper RE2 search says it changes (a quarter
    of the short lines hold a digit; next to none a run of whitespace): an Arrow regex
    replacement costs per line even where it replaces nothing (87,659 short lines of a 27 MB
    unit: 0.32 s → 0.09 s, the same output)."""
    folded = pc.utf8_lower(lines)
    folded = _replaced_where(folded, r"[0-9]", r"[0-9]+", "0")
    # RE2's \s is [\t\n\f\r ]: a run of it changes a line only if it holds one of the
    # first four or two spaces in a row.
    return pc.utf8_trim_whitespace(_replaced_where(folded, r"[\t\n\f\r]|  ", r"\s+", " "))


def _replaced_where(lines: pa.Array, screen: str, pattern: str, replacement: str) -> pa.Array:
    """``replace_substring_regex(lines, pattern, replacement)``, run only on the lines that
    ``screen`` matches (every line the replacement would change must match it)."""
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    mask = pc.fill_null(pc.match_substring_regex(lines, screen), False)
    if not pc.any(mask).as_py():
        return lines
    replaced = pc.replace_substring_regex(lines.filter(mask), pattern, replacement)
    return pc.replace_with_mask(lines, mask, replaced)


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


def _split(docs: pa.Table) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Every paragraph of a batch: its row, its text and its words."""
    lists = pc.split_pattern(pc.fill_null(docs["text"], ""), "\n\n")
    doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    text = pc.list_flatten(lists)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    words = np.asarray(pc.count_substring(pc.utf8_trim_whitespace(text), " "), dtype=np.int64) + 1
    return doc, text, words


def paragraphs(docs: pa.Table) -> Paragraphs:
    doc, text, words = _split(docs)
    publishers = pc.fill_null(docs["domain"], POOL).combine_chunks()
    publisher = publishers.take(pa.array(doc)) if len(doc) else pa.array([], pa.string())
    return Paragraphs(
        doc, text, words, hash_strings(fold(text)), publisher, hash_strings(publisher)
    )


def line_lists(docs: pa.Table, config: LearnConfig | None = None) -> tuple[pa.Array, pa.Array]:
    """Per document, the hashes and word counts of its short paragraphs: what the model is
    counted from (stored in the dedup index, so counts follow the dataset exactly). Only the
    short paragraphs are folded and hashed: the long ones are most of the text (folding every
    paragraph was 9 % of a run's stage time, measured)."""
    config = config or default_config()
    doc, text, n_words = _split(docs)
    nonempty = np.asarray(pc.greater(pc.utf8_length(text), 0), dtype=bool)
    short = (n_words <= config.max_words) & nonempty
    offsets = np.concatenate([[0], np.cumsum(np.bincount(doc[short], minlength=docs.num_rows))])
    offsets = pa.array(offsets.astype(np.int32))
    hashes = hash_strings(fold(text.filter(pa.array(short))))
    lines = pa.ListArray.from_arrays(offsets, pa.array(hashes, pa.uint64()))
    words = pa.ListArray.from_arrays(offsets, pa.array(n_words[short].astype(np.int32)))
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

    One sort of the exploded line hashes by (publisher, line, story), with publishers and
    runs as small integer codes, and numpy reductions over its runs. Why not Arrow's
    group-by: at 1 GB (275k articles, 3M lines) its two group-bys took 530 MB beyond the
    articles, this sort about 170 MB (measured). Rows come sorted by publisher and line.
    """
    publisher_code, publishers = _codes(articles["publisher"])
    run_code, runs = _codes(articles["run_id"])
    story = np.asarray(pc.list_parent_indices(articles["lines"]), dtype=np.int64)
    line_hash = np.asarray(pc.list_flatten(articles["lines"]), dtype=np.uint64)
    order = np.lexsort((story, line_hash, publisher_code[story]))
    story, line_hash = story[order], line_hash[order]
    publisher = publisher_code[story]
    new_line = np.ones(len(order), dtype=bool)  # a new (publisher, line) group starts here
    new_line[1:] = (publisher[1:] != publisher[:-1]) | (line_hash[1:] != line_hash[:-1])
    new_story = new_line.copy()  # ... or, inside a group, a new story (a line printed twice
    new_story[1:] |= story[1:] != story[:-1]  # in one story counts once)
    starts = np.flatnonzero(new_line)
    words = np.asarray(pc.list_flatten(articles["line_words"]), dtype=np.int32)[order]
    run = run_code[story]
    names = pa.array(publishers, pa.string())
    run_names = pa.array(runs, pa.string())

    def reduce(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:  # over each group's rows
        return ufunc.reduceat(values, starts) if len(starts) else values[:0]

    counts = pa.table(
        {
            "publisher": names.take(pa.array(publisher[starts], pa.int32())),
            "line_hash": pa.array(line_hash[starts], pa.uint64()),
            "stories": pa.array(reduce(np.add, new_story.astype(np.int64)), pa.int64()),
            "words": pa.array(reduce(np.minimum, words), pa.int32()),
            "first_seen": run_names.take(pa.array(reduce(np.minimum, run), pa.int32())),
            "last_seen": run_names.take(pa.array(reduce(np.maximum, run), pa.int32())),
        }
    )
    per_publisher = np.bincount(publisher_code, minlength=len(publishers))
    present = np.flatnonzero(per_publisher)
    return counts, pa.table(
        {
            "publisher": names.take(pa.array(present, pa.int32())),
            "stories": pa.array(per_publisher[present], pa.int64()),
        }
    )


def list_keys(entries: list[tuple[str, str]]) -> np.ndarray:
    """The (publisher, line) keys of allow/deny entries."""
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


def _story_shares(
    rows: pa.Table, publishers: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stories, words, share of the publisher's stories) per (publisher, line) row; 0 share
    for rows of publisher ``*`` or of a publisher with no stories."""
    at = pc.index_in(rows["publisher"], value_set=publishers["publisher"].combine_chunks())
    total = np.asarray(publishers["stories"].take(at).fill_null(0), dtype=np.float64)
    stories = np.asarray(rows["stories"], dtype=np.int64)
    words = np.asarray(rows["words"].fill_null(0), dtype=np.int64)
    share = np.divide(stories, total, out=np.zeros(len(stories)), where=total > 0)
    return stories, words, share


def corpus_counts(counts: pa.Table, publishers: pa.Table, corpus: CorpusConfig) -> pa.Table:
    """Lines counted across publishers (``learned.corpus-line``): per short line printed by
    at least two publishers as their own repeated line, a row of publisher ``*`` with the
    number of such ``publishers``, all the distinct stories printing it (any publisher) and
    the first and last run seen. Only these candidates are kept, so the model stays small."""
    stories, words, share = _story_shares(counts, publishers)
    short = words <= corpus.max_words
    repeating = short & (stories >= corpus.min_publisher_stories) & (share >= corpus.min_share)
    own = (
        counts.filter(pa.array(repeating)).group_by("line_hash").aggregate([("publisher", "count")])
    )
    own = own.filter(pc.greater_equal(own["publisher_count"], 2))
    if own.num_rows == 0:
        return _corpus_table(pa.table({"line_hash": pa.array([], pa.uint64())}))
    short_counts = counts.filter(pa.array(short))
    every = short_counts.filter(pc.is_in(short_counts["line_hash"], value_set=own["line_hash"]))
    every = every.group_by("line_hash").aggregate(
        [("stories", "sum"), ("words", "min"), ("first_seen", "min"), ("last_seen", "max")]
    )
    joined = every.join(own, keys="line_hash").sort_by("line_hash")
    return _corpus_table(joined)


def _corpus_table(rows: pa.Table) -> pa.Table:
    n = rows.num_rows

    def column(name: str, kind: pa.DataType) -> pa.Array:
        if n == 0 or name not in rows.column_names:
            return pa.nulls(n, kind)
        return pc.cast(rows[name], kind)

    return pa.table(
        {
            "publisher": pa.array([ANY] * n, pa.string()),
            "line_hash": column("line_hash", pa.uint64()),
            "words": column("words_min", pa.int32()),
            "stories": column("stories_sum", pa.int64()),
            "first_seen": column("first_seen_min", pa.string()),
            "last_seen": column("last_seen_max", pa.string()),
            "publishers": column("publisher_count", pa.int32()),
        }
    )


def learned_mask(
    model: pa.Table, publishers: pa.Table, config: LearnConfig, allow: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keys, learned, share)`` per model row: a publisher's line is learned when it meets
    ``learned.repeated-line``'s thresholds, a line of publisher ``*`` when it meets
    ``learned.corpus-line``'s; neither when the allow list names the line for its publisher
    or for every publisher."""
    stories, words, share = _story_shares(model, publishers)
    keys = model_keys(model)
    line_hash = np.asarray(model["line_hash"], dtype=np.uint64)
    anywhere = line_key(np.full(len(keys), hash64(ANY), dtype=np.uint64), line_hash)
    allowed = np.isin(keys, allow) | np.isin(anywhere, allow)
    across = np.asarray(pc.equal(model["publisher"], ANY).fill_null(False), dtype=bool)
    mask = ~across & (stories >= config.needed(words)) & (share >= config.min_share)
    corpus = config.corpus
    if corpus is not None and "publishers" in model.column_names:
        count = np.asarray(model["publishers"].fill_null(0), dtype=np.int64)
        mask |= across & (count >= corpus.min_publishers) & (words <= corpus.max_words)
    return keys, mask & ~allowed, share


def learned(
    model: pa.Table, publishers: pa.Table, config: LearnConfig, allow: np.ndarray
) -> pa.Table:
    """The model's learned lines, with their share of the publisher's stories."""
    _, mask, share = learned_mask(model, publishers, config, allow)
    return model.filter(pa.array(mask)).append_column("share", pa.array(share[mask]))


# --------------------------------------------------------------------------- stages


LINE_COLUMNS = (
    NewColumn("lines", pa.list_(pa.uint64()), "hashes of the short paragraphs", False),
    NewColumn("line_words", pa.list_(pa.int32()), "their word counts", False),
)


@register
class LineHashStage(Stage):
    """The hashes and word counts of every document's short paragraphs, from its final text:
    what the learner counts (staged beside the sketch, then kept in the dedup index)."""

    name = "line-hashes"
    version = 1
    description = "hashes of short paragraphs, for the boilerplate learner"
    reads = ("text", "domain")
    adds = LINE_COLUMNS

    def __init__(self, config: LearnConfig | None = None) -> None:
        self.config = config or default_config()

    def resources(self) -> dict[str, str]:
        return {"rules:learned": pack("learned").version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        lines, words = line_lists(batch, self.config)
        batch = batch.append_column(LINE_COLUMNS[0].field(), lines)
        return StageResult(batch.append_column(LINE_COLUMNS[1].field(), words), empty_edits())


@dataclass
class LearnedSet:
    """The keys of the learned (and deny-listed) lines, and the model version they are."""

    keys: np.ndarray
    version: int

    def candidates(self, docs: pa.Table, lines: pa.ChunkedArray | pa.Array) -> np.ndarray:
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


@register
class LearnedBoilerplateStage(Stage):
    """Learned lines removed from kept articles (``learned`` input: a :class:`LearnedSet`)."""

    name = "learned-boilerplate"
    version = 1
    description = "lines a publisher repeats across distinct stories are removed"
    reads = ("doc_id", "text", "domain", "lines")
    writes = ("text",)

    def __init__(self, learned: LearnedSet | None, config: LearnConfig | None = None) -> None:
        self.learned = learned
        self.config = config or default_config()

    @classmethod
    def build(cls, inputs: RunInputs) -> LearnedBoilerplateStage:
        return cls(inputs.get("learned"))

    def resources(self) -> dict[str, str]:
        version = self.learned.version if self.learned is not None else 0
        return {"rules:learned": pack("learned").version, "model:learned-boilerplate": str(version)}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        learned = self.learned
        if learned is None or len(learned.keys) == 0 or batch.num_rows == 0:
            return StageResult(batch, empty_edits())
        rows = np.flatnonzero(learned.candidates(batch, batch["lines"]))
        if len(rows) == 0:
            return StageResult(batch, empty_edits())
        subset = batch.take(pa.array(rows)) if len(rows) < batch.num_rows else batch
        texts, edits = self._remove(subset)
        if texts is None:
            return StageResult(batch, edits)
        return StageResult(replace_rows(batch, "text", rows, texts), edits)

    def _remove(self, docs: pa.Table) -> tuple[list[str] | None, pa.Table]:
        """The candidate rows' new texts (None: nothing removed) and the removal rows."""
        learned = self.learned
        assert learned is not None
        log = EditLog(self.name)
        paras = paragraphs(docs)
        keys = line_key(paras.publisher_hash, paras.line_hash)
        any_publisher = line_key(np.full(len(keys), hash64(ANY), dtype=np.uint64), paras.line_hash)
        own = np.isin(keys, learned.keys)
        hit = own | np.isin(any_publisher, learned.keys)
        corpus_rule = self.config.corpus.rule_id if self.config.corpus else self.config.rule_id
        if not hit.any():
            return None, log.to_table()
        texts = docs["text"].to_pylist()
        ids = docs["doc_id"].to_pylist()
        para_text = paras.text.to_pylist()
        publishers = paras.publisher.to_pylist()
        by_doc = np.split(np.arange(len(paras.doc)), np.flatnonzero(np.diff(paras.doc)) + 1)
        for rows in by_doc:
            if not hit[rows].any() or hit[rows].all():  # never empty a document
                continue
            doc = int(paras.doc[rows[0]])
            lengths = [len(para_text[r]) for r in rows]
            removed = hit[rows].tolist()
            blocks = [(k, k, 0, None) for k in np.flatnonzero(hit[rows]).tolist()]
            spans = paragraph_spans(lengths, removed, blocks)
            for row, (start, end) in zip(rows[hit[rows]].tolist(), spans, strict=True):
                log.add(
                    ids[doc],
                    self.config.rule_id if own[row] else corpus_rule,
                    para_text[row],
                    "",
                    publisher=(publishers[row] or None) if own[row] else ANY,
                    start=start,
                    end=end,
                    model_version=learned.version,
                )
            texts[doc] = "\n\n".join(para_text[r] for r in rows[~hit[rows]])
        return texts, log.to_table()
