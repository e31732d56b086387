"""Dedup: what counts as the same story (exact and near), which copy is kept, across runs.

Near-copies are made by code from real FakeNewsCorpus articles (a paragraph added or dropped,
re-wrapped whitespace, boilerplate around the story, a changed headline) and run through the
cleaning stages first, as in the flow.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from newsclean.tasks.pipeline.index_build import index_rows, schema_of
from newsclean.tasks.schema import DEDUP_KEY_COLUMNS as KEY_COLUMNS
from newsclean.tasks.stages import dedup, minhash
from newsclean.tasks.stages.dedup import Documents, TableSketches, bucket_pairs, decide
from newsclean.tasks.stages.derive import content_hash
from newsclean.tasks.stages.learned import line_lists
from newsclean.tasks.storage.dedup_index import IndexedArticles
from newsclean.tasks.storage.io import write_parquet_atomic
from tests.helpers import FAKENEWS, clean_texts

pytestmark = pytest.mark.unit

STORY = (
    "NATO Secretary General Jens Stoltenberg said the alliance will remain “as long as necessary”."
)
CONFIG = minhash.default_config()


@cache
def article(article_id: int) -> str:
    corpus = pd.read_csv(FAKENEWS)
    return str(corpus.loc[corpus["id"] == article_id, "content"].iloc[0])


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def documents(
    texts: list[str], published: list[datetime | None] | None = None, first_record: int = 0
) -> Documents:
    """Clean the texts as the flow does, then key and sketch them."""
    docs = clean_texts(*texts).docs
    assert docs.num_rows == len(texts)
    keys = docs.select(KEY_COLUMNS)
    if published is not None:
        keys = keys.set_column(3, "published_at", pa.array(published, keys.schema.field(3).type))
    if first_record:
        ids = [f"r{first_record + i}" for i in range(len(texts))]
        records = pa.array(range(first_record, first_record + len(texts)), pa.int64())
        keys = keys.set_column(0, "doc_id", pa.array(ids)).set_column(5, "source_record", records)
    sketch = minhash.sketch_batch(
        keys.column("doc_id").combine_chunks(), docs.column("text"), CONFIG
    )
    return Documents(keys, sketch)


def dropped(decision: dedup.Decision) -> dict[str, str]:
    rows = decision.duplicates.to_pylist()
    return {r["doc_id"]: r["kept_doc_id"] for r in rows}


def run(docs: Documents, config: minhash.NearDupConfig = CONFIG) -> dedup.Decision:
    return decide(
        docs, TableSketches(index_table(docs.keys.slice(0, 0), docs.sketch.slice(0, 0))), config
    )


def index_table(keys: pa.Table, sketch: pa.Table, texts: pa.Table | None = None) -> pa.Table:
    """Index rows of kept documents as the publish step writes them (their short-line hashes
    from ``texts`` when given, else none)."""
    if "dup_cluster" not in keys.column_names:
        keys = keys.append_column("dup_cluster", keys["doc_id"])
    if texts is None:
        empty = pa.array(np.zeros(keys.num_rows + 1, dtype=np.int32))
        lines = pa.ListArray.from_arrays(empty, pa.array([], pa.uint64()))
        words = pa.ListArray.from_arrays(empty, pa.array([], pa.int32()))
    else:
        lines, words = line_lists(texts)
    sketch = sketch.append_column("lines", lines).append_column("line_words", words)
    return index_rows(keys, sketch, CONFIG, None)


# --------------------------------------------------------------------------- exact


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


# --------------------------------------------------------------------------- near copies


BASE = 9101  # washingtonexaminer.com, 18 paragraphs, 14 numbers
OTHER = 13842  # another story, source of the added paragraph


def near_copies() -> dict[str, str]:
    base = paragraphs(article(BASE))
    extra = paragraphs(article(OTHER))[3]
    return {
        "paragraph added": "\n\n".join([*base[:6], extra, *base[6:]]),
        "paragraph dropped": "\n\n".join(base[:4] + base[5:]),
        "re-wrapped": "\n".join(line for p in base for line in re.findall(r".{1,60}(?:\s|$)", p)),
        "boilerplate around": "\n\n".join(
            ["Advertisement", *base, "Share this article:", "Continue reading"]
        ),
    }


@pytest.mark.parametrize("variant", list(near_copies()))
def test_near_copy_of_real_article_is_found(variant: str) -> None:
    decision = run(documents(["\n\n".join(paragraphs(article(BASE))), near_copies()[variant]]))
    rows = decision.duplicates.to_pylist()
    assert len(rows) == 1, variant
    assert rows[0]["similarity"] >= CONFIG.threshold
    assert rows[0]["kind"] in {"near", "exact"}
    clusters = decision.clusters.to_pylist()
    assert clusters[0]["dup_cluster"] == clusters[1]["dup_cluster"]


def test_changed_headline_is_an_exact_copy() -> None:
    docs = clean_texts(article(BASE), article(BASE), titles=["Headline one", "Another headline"])
    keys = docs.docs.select(KEY_COLUMNS)
    sketch = minhash.sketch_batch(keys.column("doc_id").combine_chunks(), docs.docs["text"], CONFIG)
    rows = run(Documents(keys, sketch)).duplicates.to_pylist()
    assert [(r["kind"], r["similarity"]) for r in rows] == [("exact", 1.0)]


def test_family_of_copies_forms_one_cluster_with_the_longest_kept() -> None:
    copies = near_copies()
    texts = [article(BASE), copies["paragraph added"], copies["paragraph dropped"]]
    decision = run(documents(texts))
    kept = decision.clusters.filter(decision.clusters.column("kept")).to_pylist()
    assert len(kept) == 1
    longest = max(range(3), key=lambda i: len(texts[i]))
    assert kept[0]["doc_id"] == decision.clusters["doc_id"][longest].as_py()
    assert len(set(decision.clusters.column("dup_cluster").to_pylist())) == 1


def test_distinct_articles_on_the_same_topic_are_not_merged() -> None:
    # Syria (22530, 37647), Clinton (1570, 11131), Russia/NATO (23985, 13842), Trump/Russia
    # payments (9101) vs Syria plan (8792): same outlets, same subjects, different stories.
    texts = [article(i) for i in (22530, 37647, 1570, 11131, 23985, 13842, 9101, 8792)]
    decision = run(documents(texts))
    assert decision.duplicates.num_rows == 0
    assert decision.clusters.column("kept").to_pylist() == [True] * len(texts)


def test_whole_fakenewscorpus_sample_has_only_its_exact_copies() -> None:
    corpus = pd.read_csv(FAKENEWS)
    decision = run(documents([str(t) for t in corpus["content"]]))
    kinds = decision.duplicates.column("kind").to_pylist()
    assert kinds.count("exact") == 11 and "near" not in kinds


# --------------------------------------------------------------------------- numbers


def with_other_figures(text: str) -> str:
    """Every number changed (same length), nothing else: a report with other figures."""
    return re.sub(
        r"\d+",
        lambda m: str((int(m.group()) + 7) % 10 ** len(m.group())).zfill(len(m.group())),
        text,
    )


def test_number_only_variant_is_not_merged() -> None:
    base = article(BASE)
    variant = with_other_figures(base)
    assert variant != base
    docs = documents([base, variant])
    sigs = minhash.signature_matrix(docs.sketch["signature"], CONFIG.permutations)
    assert minhash.estimated_jaccard(sigs[:1], sigs[1:])[0] >= CONFIG.threshold  # similar text…
    assert run(docs).duplicates.num_rows == 0  # …but different figures: two stories
    merged = run(docs, CONFIG.with_overrides(numbers_must_match=False))
    assert merged.duplicates.num_rows == 1


def test_shares_fell_3_and_5_percent_are_different_reports() -> None:
    body = "\n\n".join(paragraphs(article(23985))[:12])
    three = f"Shares in the company fell 3% on Monday after the announcement.\n\n{body}"
    five = three.replace("fell 3%", "fell 5%")
    assert run(documents([three, five])).duplicates.num_rows == 0
    # The same story with one paragraph added (and its own figure) still merges.
    longer = f"{three}\n\nThe company employs 4,000 people in Germany."
    assert run(documents([three, longer])).duplicates.num_rows == 1


def test_numbers_conflict_needs_the_same_context() -> None:
    tokens = minhash.tokenize(
        pa.array(
            ["shares fell 3 percent today", "shares fell 5 percent today", "profits rose 5 percent"]
        )
    )
    offsets, contexts, values = minhash.number_fingerprints(tokens, 2)
    fp = [
        (
            contexts[offsets[i] : offsets[i + 1]].tolist(),
            values[offsets[i] : offsets[i + 1]].tolist(),
        )
        for i in range(3)
    ]
    assert minhash.numbers_conflict(*fp[0], *fp[1])
    assert not minhash.numbers_conflict(*fp[0], *fp[2])
    assert not minhash.numbers_conflict(*fp[0], *fp[0])


# --------------------------------------------------------------------------- keep policy


def test_keep_policy_longest_then_earliest_published_then_source() -> None:
    base = article(BASE)
    jan, feb = datetime(2017, 1, 5, tzinfo=UTC), datetime(2017, 2, 5, tzinfo=UTC)
    # Same text three times: the earliest published_at wins, a missing date counts as latest.
    decision = run(documents([base, base, base], published=[None, feb, jan]))
    kept = decision.clusters.filter(decision.clusters["kept"])["doc_id"].to_pylist()
    assert kept == [decision.clusters["doc_id"][2].as_py()]
    # A longer copy beats an earlier one.
    decision = run(documents([base, near_copies()["paragraph added"]], published=[jan, feb]))
    assert decision.clusters["kept"].to_pylist() == [False, True]
    # Same length, same date: the earlier source record.
    decision = run(documents([base, base], published=[jan, jan]))
    assert decision.clusters["kept"].to_pylist() == [True, False]


def test_keep_policy_is_configurable() -> None:
    base = article(BASE)
    jan, feb = datetime(2017, 1, 5, tzinfo=UTC), datetime(2017, 2, 5, tzinfo=UTC)
    docs = documents([base, near_copies()["paragraph added"]], published=[feb, jan])
    assert run(docs).clusters["kept"].to_pylist() == [False, True]  # longest first
    latest_first = CONFIG.with_overrides(keep_policy=["latest_published", "longest"])
    assert run(docs, latest_first).clusters["kept"].to_pylist() == [True, False]
    with pytest.raises(ValueError, match="unknown keep-policy"):
        run(docs, CONFIG.with_overrides(keep_policy=["newest"]))


def test_keeper_does_not_depend_on_document_order() -> None:
    copies = near_copies()
    texts = [article(BASE), *copies.values(), article(OTHER), article(BASE)]
    docs = documents(texts)
    expected = dropped(run(docs))
    for seed in range(4):
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        take = pa.array(order)
        shuffled = Documents(docs.keys.take(take), docs.sketch.take(take))
        assert dropped(run(shuffled)) == expected


# --------------------------------------------------------------------------- across runs


def index_of(docs: Documents, decision: dedup.Decision) -> TableSketches:
    """What the publish step indexes: the kept documents with their cluster ids."""
    keep = decision.clusters["kept"]
    keys = docs.keys.append_column("dup_cluster", decision.clusters["dup_cluster"]).filter(keep)
    return TableSketches(index_table(keys, docs.sketch.filter(keep)))


def test_later_copy_of_an_indexed_story_is_dropped() -> None:
    first = documents([article(BASE), article(OTHER)])
    index = index_of(first, run(first))
    later = documents([near_copies()["paragraph dropped"], article(22530)], first_record=100)
    decision = decide(later, index, CONFIG)
    assert dropped(decision) == {"r100": first.keys["doc_id"][0].as_py()}
    assert decision.superseded.num_rows == 0
    assert decision.clusters["kept"].to_pylist() == [False, True]


def test_better_later_copy_supersedes_the_indexed_one() -> None:
    first = documents([article(BASE)])
    index = index_of(first, run(first))
    old_id = first.keys["doc_id"][0].as_py()
    later = documents([near_copies()["paragraph added"]], first_record=100)
    decision = decide(later, index, CONFIG)
    assert decision.clusters.to_pylist() == [
        {"doc_id": "r100", "kept": True, "dup_cluster": old_id}
    ]
    assert decision.superseded.to_pylist() == [
        {"doc_id": old_id, "kept_doc_id": "r100", "dup_cluster": old_id}
    ]
    assert dropped(decision) == {old_id: "r100"}


def test_replaced_record_is_not_matched_against_its_old_version(tmp_path: Path) -> None:
    first = documents([article(BASE)])
    old_id = first.keys["doc_id"][0].as_py()
    part = write_parquet_atomic(index_table(first.keys, first.sketch), tmp_path / "part.parquet")
    again = documents([near_copies()["paragraph added"]])  # same doc_id, new text
    schema = schema_of(CONFIG)
    assert decide(again, IndexedArticles([part], schema), CONFIG).duplicates.num_rows == 1
    hidden = IndexedArticles([part], schema, exclude=pa.array([old_id]))
    assert decide(again, hidden, CONFIG).duplicates.num_rows == 0


# --------------------------------------------------------------------------- the sketch


def true_jaccard(a: str, b: str, k: int = 5) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[^\W_]+", text.lower())
        return {tuple(words[i : i + k]) for i in range(max(1, len(words) - k + 1))}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


@pytest.mark.parametrize("hashing", sorted(minhash.SIGNATURE_SCHEMES))
def test_estimate_tracks_true_jaccard_within_its_error(hashing: str) -> None:
    config = CONFIG.with_overrides(hashing=hashing)
    rng = random.Random(7)
    corpus = [str(t) for t in pd.read_csv(FAKENEWS)["content"] if len(str(t).split()) > 200]
    pairs = []
    for text in corpus[:60]:
        words = text.split()
        rate = rng.choice([0.02, 0.05, 0.1])
        pairs.append((text, " ".join(w for w in words if rng.random() > rate)))
    left = minhash.sketch_batch(
        pa.array([str(i) for i in range(len(pairs))]), pa.array([p[0] for p in pairs]), config
    )
    right = minhash.sketch_batch(
        left["doc_id"].combine_chunks(), pa.array([p[1] for p in pairs]), config
    )
    estimate = minhash.estimated_jaccard(
        minhash.signature_matrix(left["signature"], 128),
        minhash.signature_matrix(right["signature"], 128),
    )
    truth = np.array([true_jaccard(a, b) for a, b in pairs])
    sigma = np.array([minhash.expected_error(j, 128) for j in truth])
    assert np.all(np.abs(estimate - truth) <= 4 * sigma + 1e-9)
    assert abs(float(np.mean(estimate - truth))) < 0.01  # unbiased


def _short_pairs(words: int, n: int = 400) -> tuple[list[str], list[str]]:
    """Windows of ``words`` words of real articles, and each with one word replaced."""
    rng = random.Random(words)
    corpus = " ".join(str(t) for t in pd.read_csv(FAKENEWS)["content"]).split()
    left, right = [], []
    for _ in range(n):
        start = rng.randrange(len(corpus) - words)
        window = corpus[start : start + words]
        left.append(" ".join(window))
        window[rng.randrange(words)] = f"zq{rng.randrange(10**9)}"
        right.append(" ".join(window))
    return left, right


@pytest.mark.parametrize("words", [12, 30, 80])
def test_one_permutation_estimate_of_short_texts_is_unbiased(words: int) -> None:
    """Texts with fewer shingles than bins lean on densification: still unbiased, with an
    error close to the k-permutation one (measured 0.043 against 0.034 RMS at 8 words)."""
    left, right = _short_pairs(words)
    sets = minhash.shingle_sets(left + right, CONFIG.shingle_words)
    truth = minhash.exact_jaccard(sets[: len(left)], sets[len(left) :])
    errors = {}
    for hashing in minhash.SIGNATURE_SCHEMES:
        config = CONFIG.with_overrides(hashing=hashing)
        tokens = minhash.tokenize(pa.array(left + right))
        sigs = minhash.SIGNATURE_SCHEMES[hashing](*minhash.shingles(tokens, 5), config)
        error = minhash.estimated_jaccard(sigs[: len(left)], sigs[len(left) :]) - truth
        assert abs(float(error.mean())) < 0.01, hashing
        errors[hashing] = float(np.sqrt(np.mean(error**2)))
    assert errors["one-permutation"] < 1.5 * errors["k-permutations"]


def test_densify_fills_only_empty_bins_from_filled_ones_the_same_way_everywhere() -> None:
    probes = minhash._probe_table(CONFIG.permutations, CONFIG.seed)
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32 - 1, size=(4, 128), dtype=np.uint32)
    filled = rng.random((4, 128)) < 0.5
    filled[1] = filled[0]  # document 1 fills the same bins as document 0, with other values
    filled[2] = False
    filled[2, 77] = True  # one shingle: every bin takes bin 77's value
    filled[3] = True  # nothing to fill
    has = np.array([True, True, True, True])
    before = sigs.copy()
    out = sigs.copy()
    minhash.densify(out, filled, has, probes)
    assert np.array_equal(out[filled], before[filled])
    assert set(out[0][~filled[0]].tolist()) <= set(before[0][filled[0]].tolist())
    # The probes depend on the bin only: documents with the same filled bins and values
    # end up with the same signature, whatever else they hold.
    before[1, filled[1]] = before[0, filled[0]]
    out1 = before.copy()
    minhash.densify(out1, filled, has, probes)
    assert np.array_equal(out1[1], out1[0])
    assert (out[2] == before[2, 77]).all()
    assert np.array_equal(out[3], before[3])


def test_densify_falls_back_to_the_next_filled_bin_when_no_probe_hits() -> None:
    sigs = np.arange(8, dtype=np.uint32)[None, :].copy()
    filled = np.array([[True, False, False, True, False, False, False, False]])
    never = np.zeros((8, 3), dtype=np.int64)
    never[:, :] = 1  # every probe looks at bin 1, which is empty
    minhash.densify(sigs, filled, np.array([True]), never)
    assert sigs.tolist() == [[0, 3, 3, 3, 0, 0, 0, 0]]


def test_a_document_without_shingles_keeps_an_empty_signature() -> None:
    sigs = minhash.one_permutation_signatures(
        np.array([0, 3]), np.array([1, 2, 3], dtype=np.uint64), CONFIG
    )
    assert (sigs[0] == 0xFFFFFFFF).all() and not (sigs[1] == 0xFFFFFFFF).any()


def test_hashing_scheme_comes_from_the_rule_and_old_packs_still_run(tmp_path: Path) -> None:
    from newsclean.tasks.rules import RULES_DIR, load_pack

    assert CONFIG.hashing == "one-permutation"
    text = (RULES_DIR / "dedup.toml").read_text()
    old = text.replace('"dedup.near-minhash/3"', '"dedup.near-minhash/2"')
    old = old.replace('hashing = "one-permutation"\n', "")
    (tmp_path / "dedup.toml").write_text(old)
    config = minhash.config_from_pack(load_pack("dedup", tmp_path))
    assert config.hashing == "k-permutations" and config.sketch_id != CONFIG.sketch_id
    (tmp_path / "dedup.toml").write_text(text.replace('"one-permutation"', '"one-hash"'))
    with pytest.raises(ValueError, match="hashing = 'one-hash' is not one of"):
        minhash.config_from_pack(load_pack("dedup", tmp_path))


def test_sketch_is_deterministic_and_order_free() -> None:
    texts = [article(BASE), article(OTHER), "short text", ""]
    ids = pa.array(["a", "b", "c", "d"])
    one = minhash.sketch_batch(ids, pa.array(texts), CONFIG)
    two = minhash.sketch_batch(ids.take(pa.array([3, 2, 1, 0])), pa.array(texts[::-1]), CONFIG)
    assert one.equals(two.take(pa.array([3, 2, 1, 0])))
    assert one["has_shingles"].to_pylist() == [True, True, True, False]


def test_band_size_gives_candidate_recall_at_the_threshold() -> None:
    assert (CONFIG.rows, CONFIG.bands) == (6, 21)
    assert minhash.candidate_probability(0.8, 6, 21) >= 0.99
    assert minhash.candidate_probability(0.3, 6, 21) < 0.02


def test_huge_bucket_is_chained_not_squared() -> None:
    values = np.zeros(10_000, dtype=np.uint64)
    pairs = bucket_pairs(values, np.arange(10_000), 10_000, max_pairs=64)
    assert len(pairs) < 20_000
    nodes = set(pairs.ravel().tolist())
    assert nodes == set(range(10_000))


def test_word_byte_classes_by_comparison_equal_the_table() -> None:
    every_byte = np.arange(256, dtype=np.uint8)
    assert np.array_equal(minhash._word_bytes(every_byte), minhash._WORD_BYTE)
    assert minhash._word_bytes(np.frombuffer(b"aZ09 _-@[`{", np.uint8)).tolist() == [
        True, True, True, True, False, False, False, False, False, False, False
    ]  # fmt: skip


def test_tokenizer_words_and_document_boundaries() -> None:
    texts = ["Shares fell 3% — “Kyiv’s” CAFÉ…U.S.\u00a0x", None, "end", "start of next", ""]
    tokens = minhash.tokenize(pa.array(texts))
    hashes = tokens.hashes.tolist()
    expected = [
        ["shares", "fell", "3", "kyiv", "s", "café", "u", "s", "x"],
        [],
        ["end"],
        ["start", "of", "next"],
        [],
    ]
    flat = [w for words in expected for w in words]
    assert tokens.offsets.tolist() == [0, 9, 9, 10, 13, 13]
    assert hashes == [minhash.hash64(w) for w in flat]
    assert tokens.numeric.tolist() == [w.isdigit() for w in flat]


# --------------------------------------------------------------------------- near-exact


def _cleaned(texts: list[str]) -> tuple[Documents, list[str]]:
    """The documents as :func:`documents` keys and sketches them, and their clean texts."""
    docs = clean_texts(*texts).docs
    keys = docs.select(KEY_COLUMNS)
    sketch = minhash.sketch_batch(keys.column("doc_id").combine_chunks(), docs["text"], CONFIG)
    return Documents(keys, sketch), docs.column("text").to_pylist()


@cache
def _just_under(text: str, lo: float, hi: float) -> tuple[str, float, float]:
    """A copy of ``text`` with words dropped whose true Jaccard with it lies in [lo, hi) while
    its 128-permutation estimate falls under the threshold: the pairs the estimate alone
    misses. Searched over fixed seeds, so the same copy every time (the lowest seed that
    qualifies); the candidates are cleaned 50 to a batch, each on its own as in a run."""
    words = text.split(" ")
    for first in range(0, 600, 50):
        copies = []
        for seed in range(first, first + 50):
            rng = random.Random(seed)
            rate = (0.008, 0.012, 0.02, 0.03)[seed % 4]
            copies.append(" ".join(w for w in words if rng.random() > rate))
        docs, clean = _cleaned([text, *copies])
        sigs = minhash.signature_matrix(docs.sketch["signature"], CONFIG.permutations)
        estimates = minhash.estimated_jaccard(np.repeat(sigs[:1], len(copies), axis=0), sigs[1:])
        sets = minhash.shingle_sets(clean, CONFIG.shingle_words)
        truths = minhash.exact_jaccard([sets[0]] * len(copies), sets[1:])
        for copy, estimate, truth in zip(copies, estimates, truths, strict=True):
            under = CONFIG.threshold - CONFIG.exact_margin <= estimate < CONFIG.threshold
            if lo <= truth < hi and under:
                return copy, float(truth), float(estimate)
    raise AssertionError("no such copy among the seeds")


def test_exact_jaccard_is_the_true_shingle_jaccard() -> None:
    base = article(BASE)
    copies = [near_copies()[v] for v in ("paragraph added", "paragraph dropped")]
    _, clean = _cleaned([base, *copies])
    sets = minhash.shingle_sets(clean, CONFIG.shingle_words)
    got = minhash.exact_jaccard([sets[0], sets[0]], sets[1:])
    want = [true_jaccard(clean[0], c) for c in clean[1:]]
    assert np.allclose(got, want)
    assert minhash.exact_jaccard([sets[0]], [sets[0]])[0] == 1.0


def test_copy_just_under_the_estimate_is_merged_on_its_true_jaccard() -> None:
    """dedup.near-exact: a real story with a few words dropped, true Jaccard over 0.8 but an
    estimate under it, was missed; with the texts it is merged, its true similarity
    recorded. Without a text source (the estimate alone) it stays apart."""
    base = article(BASE)
    copy, truth, estimate = _just_under(base, CONFIG.threshold, 0.86)
    docs, clean = _cleaned([base, copy])
    assert run(docs).duplicates.num_rows == 0  # the estimate alone misses it
    empty = TableSketches(index_table(docs.keys.slice(0, 0), docs.sketch.slice(0, 0)))
    decision = decide(docs, empty, CONFIG, lambda nodes: [clean[n] for n in nodes.tolist()])
    rows = decision.duplicates.to_pylist()
    assert len(rows) == 1 and rows[0]["kind"] == "near"
    assert rows[0]["similarity"] == pytest.approx(truth, abs=1e-4) and truth > estimate


def test_pair_whose_true_jaccard_is_under_the_threshold_stays_apart() -> None:
    base = article(BASE)
    copy, truth, _ = _just_under(base, 0.7, CONFIG.threshold)
    docs, clean = _cleaned([base, copy])
    empty = TableSketches(index_table(docs.keys.slice(0, 0), docs.sketch.slice(0, 0)))
    decision = decide(docs, empty, CONFIG, lambda nodes: [clean[n] for n in nodes.tolist()])
    assert decision.duplicates.num_rows == 0, truth


def test_exact_check_still_requires_the_figures_to_agree() -> None:
    """The same kind of copy with one figure changed in its context: its true Jaccard still
    reaches the threshold, and it merges when figures may differ, but not by default."""
    base = article(BASE)
    copy, _, _ = _just_under(base, 0.82, 0.86)
    number = re.search(r"\b\d+\b", copy)
    assert number is not None
    changed = f"{copy[: number.start()]}{int(number.group()) + 1}{copy[number.end() :]}"
    docs, clean = _cleaned([base, changed])
    sets = minhash.shingle_sets(clean, CONFIG.shingle_words)
    assert minhash.exact_jaccard(sets[:1], sets[1:])[0] >= CONFIG.threshold
    empty = TableSketches(index_table(docs.keys.slice(0, 0), docs.sketch.slice(0, 0)))

    def texts(nodes: np.ndarray) -> list[str]:
        return [clean[n] for n in nodes.tolist()]

    assert decide(docs, empty, CONFIG, texts).duplicates.num_rows == 0
    lenient = CONFIG.with_overrides(numbers_must_match=False)
    assert decide(docs, empty, lenient, texts).duplicates.num_rows == 1


@pytest.mark.parametrize("step", [1, 3, 7, 16_384])
def test_pair_estimates_taken_in_steps_equal_the_estimates_of_all_pairs(step: int) -> None:
    """``dedup.near-exact/2`` takes the candidate pairs' estimates a step at a time (bounded
    memory): the same numbers as both sides of every pair at once, whatever the step."""
    texts = [article(BASE), with_other_figures(article(BASE)), article(23985), article(22530)]
    sigs = minhash.signature_matrix(documents(texts).sketch["signature"], CONFIG.permutations)
    left, right = np.triu_indices(len(texts), k=1)
    expected = minhash.estimated_jaccard(sigs[left], sigs[right])
    assert expected.min() < 0.5 < CONFIG.threshold <= expected.max()  # copies and others
    got = minhash.pair_jaccard(sigs, left, right, pairs_per_step=step)
    assert np.array_equal(got, expected)
    assert len(minhash.pair_jaccard(sigs, left[:0], right[:0])) == 0


def test_candidate_pairs_verified_a_step_at_a_time_give_the_same_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decision verifies candidate pairs a step at a time (bounded memory): with one pair
    per step, the same copies are dropped, with the same kinds and similarities, as in one
    step; the story that is no copy stays."""
    base = "\n\n".join(paragraphs(article(BASE)))
    docs = documents([base, *near_copies().values(), article(OTHER)])
    whole = run(docs).duplicates
    assert whole.num_rows == len(near_copies())
    monkeypatch.setattr(minhash, "PAIRS_PER_STEP", 1)
    assert run(docs).duplicates.equals(whole)


@pytest.mark.parametrize("step", [1, 2, 1_024])
def test_shingle_sets_built_in_steps_equal_the_sets_of_all_texts_at_once(step: int) -> None:
    """``dedup.near-exact/3`` builds the close pairs' shingle sets a step of texts at a time
    (bounded memory): the same sets, in order, whatever the step, empty and missing texts
    included."""
    texts = [article(BASE), None, "", near_copies()["paragraph dropped"], article(OTHER)]
    whole = minhash.shingle_sets(texts, CONFIG.shingle_words, texts_per_step=len(texts))
    stepped = minhash.shingle_sets(texts, CONFIG.shingle_words, texts_per_step=step)
    assert [s.tolist() for s in stepped] == [s.tolist() for s in whole]
    assert len(whole[0]) > 100 and len(whole[1]) == len(whole[2]) == 0
