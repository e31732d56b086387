"""Typo stage: what it fixes and what it must not touch.

Must-fix words are real misspellings seen in the FakeNewsCorpus sample or the reference
article; must-not-touch text is real news usage: names, brands, places, quotes, numbers, URLs,
British and American spellings."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from newsclean.tasks.stages.typos import (
    BatchChunks,
    corpus_vocabulary,
    correct_batch,
    flagged_spans,
    parse_word_list,
)
from newsclean.tasks.storage.ingest import decode_bytes, parse_txt
from tests.helpers import FAKENEWS, REFERENCE, ROOT, clean_batch, make_batch

pytestmark = pytest.mark.unit


def english(*texts: str) -> pa.Table:
    """A batch of these sentences, identified as English. A sentence alone is too short for
    CLD2 to call English with the confidence the typo stage requires (0.9): these tests are
    about the layers; test_language.py covers which texts reach them."""
    return english_columns(make_batch(*texts))


def english_columns(batch: pa.Table, schema: pa.Schema | None = None) -> pa.Table:
    """``batch`` identified as English with full confidence (in ``schema``'s column order)."""
    n = batch.num_rows
    batch = batch.append_column("language", pa.array(["en"] * n, pa.string()))
    batch = batch.append_column("language_score", pa.array([1.0] * n, pa.float32()))
    return batch.select(schema.names) if schema is not None else batch


def _correct(*texts: str, **kw) -> tuple[list[str], list[dict]]:
    result = correct_batch(english(*texts), **kw)
    return result.table.column("text").to_pylist(), result.edits.to_pylist()


def test_reference_article_only_thee_changes() -> None:
    title, _, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    docs = clean_batch(make_batch(body, titles=[title])).docs
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    edits = result.edits.to_pylist()
    assert [(e["rule"], e["before"], e["after"]) for e in edits] == [
        ("typo.real-word/1", "Thee", "There")
    ]
    text = result.table.column("text")[0].as_py()
    assert "There are fears that without NATO's presence" in text
    for word in ("Stoltenberg", "Belarus", "NBC", "Crimea", "neighbouring", "organisation"):
        assert word in text


@pytest.mark.parametrize(
    ("before", "after", "rule"),
    [
        ("The goverment will act.", "The government will act.", "typo.curated/4"),
        ("Hotels cannot accomodate them.", "Hotels cannot accommodate them.", "typo.curated/4"),
        ("She never recieved the letter.", "She never received the letter.", "typo.curated/4"),
        ("It was teh end.", "It was the end.", "typo.curated/4"),
        ("A case of epilespsy was found.", "A case of epilepsy was found.", "typo.edit-distance/5"),
        ("An intiguing story.", "An intriguing story.", "typo.edit-distance/5"),
        ("The final oucome was clear.", "The final outcome was clear.", "typo.edit-distance/5"),
        ("Thee are fears.", "There are fears.", "typo.real-word/1"),
    ],
)
def test_must_fix(before: str, after: str, rule: str) -> None:
    texts, edits = _correct(before)
    assert texts == [after]
    assert [e["rule"] for e in edits] == [rule]


@pytest.mark.parametrize(
    "text",
    [
        "NATO Secretary General Jens Stoltenberg met Christine Lagarde in Davos.",
        "Officials in Kyiv said Brexit and the BBC were discussed; Mr Putin declined.",
        "The organisation's neighbours defended the programme; colour and centre stay British.",
        "The organization's neighbors defended the program; color and center stay American.",
        "Skeptical analysts called the rumor an offense to their endeavor.",
        '"We will stay there as long as necessary," he said.',
        "Shares rose 3.5% to $451.2bn, see https://www.express.co.uk/news/world/881769.",
        "Follow @Jens_Stoltenberg and #NATO75 or mail press@nato.int today.",
        "I love thee, the poem said; thee and thou were common then.",
        "The county council met on Monday in the county's new hall.",
        "Mid-term, well-known and long-standing are hyphenated words.",
        "They're sure it's the paycuts and storylines that matter.",
        "A café in Zürich served crème brûlée.",
    ],
)
def test_must_not_touch(text: str) -> None:
    texts, edits = _correct(text)
    assert texts == [text]
    assert edits == []


def test_capitalised_word_inside_a_sentence_is_a_name() -> None:
    """Curated fixes apply to a capitalised word only at a sentence start."""
    texts, _ = _correct("Recieve it. The firm Recieve Ltd won.")
    assert texts == ["Receive it. The firm Recieve Ltd won."]


def test_corpus_vocabulary_protects_a_word_the_corpus_uses_often() -> None:
    texts = ["The ordinaires met again."] * 3
    result = correct_batch(english(*texts), corpus_vocabulary(make_batch(*texts).column("text")))
    assert result.table.column("text").to_pylist() == texts


def test_never_change_list(tmp_path: Path) -> None:
    word_list = tmp_path / "keep.txt"
    word_list.write_text("# house style\nintiguing\n\n")
    texts, edits = _correct(
        "An intiguing story.", never_change=parse_word_list(word_list.read_text("utf-8"))
    )
    assert texts == ["An intiguing story."] and edits == []


def test_case_and_punctuation_preserved() -> None:
    texts, _ = _correct('("Goverment," she said.)', "“The goverment’s plan,” he said.")
    assert texts == ['("Government," she said.)', "“The goverment’s plan,” he said."]
    texts, _ = _correct("“Goverment spending,” she said, “rose.”")
    assert texts == ["“Government spending,” she said, “rose.”"]


def test_merge_vocabularies_sums_batches_and_keeps_frequent_words(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from newsclean.tasks.pipeline.units import merge_vocabularies, read_vocabulary
    from newsclean.tasks.stages.typos import vocabulary_table

    parts = []
    for i, text in enumerate(
        ["The ordinaires met.", "Ordinaires again, the end.", "the ordinaires"]
    ):
        parts.append(tmp_path / f"v{i}.parquet")
        pq.write_table(vocabulary_table(make_batch(text).column("text")), parts[-1])
    assert merge_vocabularies(parts, tmp_path / "vocab.parquet", min_count=3, group=2) == 2
    assert read_vocabulary(tmp_path / "vocab.parquet") == {"the": 3, "ordinaires": 3}


def _one_split_vocabulary(texts: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """The vocabulary's definition, done the slow way: one Unicode whitespace split of the
    lower-cased text, each word trimmed of edge punctuation, empty words left out."""
    import pyarrow.compute as pc

    from newsclean.tasks.stages.typos import _WORD_EDGE_PUNCTUATION

    words = pc.list_flatten(pc.utf8_split_whitespace(pc.utf8_lower(texts)))
    counts = Counter(pc.utf8_trim(words, characters=_WORD_EDGE_PUNCTUATION).to_pylist())
    counts.pop("", None)
    return dict(counts)


def test_vocabulary_splits_at_unicode_whitespace_lower_cased_and_trimmed() -> None:
    texts = [
        "The  PM\u00a0said: “No.”\nthe pm\u2009said\x1cno",  # NBSP, thin space, \x1c
        "ÉTÉ été\u3000Été… (été)",
        "...  \u00a0 “”",  # only punctuation and spaces: no words
        None,
    ]
    vocabulary = corpus_vocabulary(pa.array(texts, pa.string()))
    assert vocabulary == {"the": 2, "pm": 2, "said": 2, "no": 2, "été": 4}


def test_vocabulary_is_one_unicode_split_of_real_news() -> None:
    """Split at ASCII whitespace first, then each distinct token at Unicode whitespace: the
    same words and counts as the one-split definition, on the FakeNewsCorpus sample and on
    NTREX in 14 varieties (695 no-break spaces)."""
    import json

    import pandas as pd

    ntrex = ROOT / "tests" / "data" / "ntrex-sample.jsonl"
    lines = ntrex.read_text("utf-8").splitlines()
    texts = pa.array(
        [str(t) for t in pd.read_csv(FAKENEWS)["content"]]
        + [json.loads(line)["text"] for line in lines],
        pa.string(),
    )
    chunked = pa.chunked_array([texts[:100], texts[100:]])
    for column in (texts, chunked):
        assert corpus_vocabulary(column) == _one_split_vocabulary(column)
    assert len(corpus_vocabulary(texts)) > 10_000


def test_second_pass_updates_staged_batch(tmp_path: Path) -> None:
    """The chain's typo pass rewrites the text, the hash, the word count and n_edits, and
    appends its edits to the batch's staged edits."""
    import pyarrow.parquet as pq

    from newsclean.tasks.pipeline.chain import CHAIN
    from newsclean.tasks.pipeline.units import PassJob, RunInputs, merge_vocabularies, run_unit
    from newsclean.tasks.stages.derive import content_hash
    from newsclean.tasks.stages.minhash import default_config
    from newsclean.tasks.storage.ingest import WorkUnit
    from newsclean.tasks.storage.io import write_parquet_atomic
    from newsclean.tasks.storage.layout import staging_paths

    out = clean_batch(make_batch("The goverment met.", "Nothing to fix here."))
    docs = out.docs.drop_columns(["language", "language_score"])
    docs = english_columns(docs, out.docs.schema)
    paths = staging_paths(tmp_path, 0, 0)
    write_parquet_atomic(docs, paths["docs"])
    write_parquet_atomic(out.edits, paths["edits"])
    merge_vocabularies([], tmp_path / "vocab.parquet", min_count=3)
    step = CHAIN.step("correct-typos")
    inputs = RunInputs(default_config(), str(tmp_path / "vocab.parquet"))
    job = PassJob(step.name, step.stages, "docs", "docs", "", str(tmp_path), inputs, 1000, 1 << 24)
    summary = run_unit(job, WorkUnit(0, "txt", ()))
    assert summary.edits == 1 and summary.edits_by_rule == {"typo.curated/4": 1}
    docs = pq.read_table(paths["docs"]).to_pylist()
    assert docs[0]["text"] == "The government met."
    assert docs[0]["content_hash"] == content_hash("The government met.")
    assert docs[0]["n_edits"] == 1 and docs[1]["n_edits"] == 0
    edits = pq.read_table(paths["edits"]).to_pylist()
    assert [(e["stage"], e["before"], e["after"]) for e in edits] == [
        ("typos", "goverment", "government")
    ]


def _split_reference(text: str, flagged: set[str]) -> list[tuple[int, int]]:
    """The chunks ``re.split(r"(\\s+)")`` gives, as spans: what flagged_spans must find."""
    spans, position = [], 0
    for i, part in enumerate(re.split(r"(\s+)", text)):
        if i % 2 == 0 and part in flagged:
            spans.append((position, position + len(part)))
        position += len(part)
    return spans


@pytest.mark.parametrize(
    "text",
    [
        "It was teh end.",
        "  It was teh end, teh.\n",
        "teh",
        "tehteh teh-teh (teh teh) teh",
        "It\u2003was\u00a0teh\x1cend\u3000teh\n\nteh",
        "\nteh\tteh\r\nteh ",
    ],
)
def test_flagged_spans_are_the_whole_chunks_a_whitespace_split_gives(text: str) -> None:
    """Flagged types are found by ``str.find``: a type inside a longer chunk is no hit, and
    every Unicode space separates chunks exactly as the regex split does."""
    flagged = {"teh", "(teh"}
    assert flagged_spans(text, flagged) == _split_reference(text, flagged)


def test_flagged_spans_stay_linear_on_adversarial_text() -> None:
    """A flagged type hidden in a long run of longer chunks exceeds the find budget and the
    text is split once instead; more flagged types than are searched one by one, likewise."""
    hidden = "xteh" * 50_000 + " teh"
    assert flagged_spans(hidden, {"teh"}) == [(len(hidden) - 3, len(hidden))]
    words = [f"wrd{i:02d}" for i in range(40)]
    many = " ".join(words * 3)
    assert flagged_spans(many, set(words)) == _split_reference(many, set(words))


def test_adjacent_corrections_keep_their_offsets_and_the_spacing() -> None:
    text = "It was  teh\u2003goverment plan.\n\nTeh end."
    texts, edits = _correct(text)
    assert texts == ["It was  the\u2003government plan.\n\nThe end."]
    for edit in edits:
        assert text[edit["start"] : edit["end"]] == edit["before"]


def test_a_paragraph_start_is_a_sentence_start() -> None:
    """A capitalised misspelling is fixed after a line break even when the line before ends
    without punctuation (a heading), and not inside a sentence."""
    texts, _ = _correct(
        "Spending plans\n\nGoverment spending rose.", "Spending plans Goverment rose."
    )
    assert texts == [
        "Spending plans\n\nGovernment spending rose.",
        "Spending plans Goverment rose.",
    ]


def test_batch_chunks_are_those_of_a_unicode_split() -> None:
    """The typo stage splits at ASCII whitespace first: the chunks and the texts that hold
    them must be those of one Unicode whitespace split, NBSP and em spaces included."""
    title, _, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    texts = [body, title, "Kyiv\u00a0said\u2003Thee", "", "a  b\u3000c", "Thee are fears"]
    chunks = BatchChunks(pa.chunked_array([texts[:2], texts[2:]]))
    split = [t.split() for t in texts]
    assert set(chunks.distinct()) - {""} == {c for words in split for c in words}
    for wanted in ({"Thee"}, {"said", "c"}, {"Stoltenberg"}, {"nowhere"}):
        holding = [i for i, words in enumerate(split) if wanted & set(words)]
        assert chunks.documents_with(wanted).tolist() == holding
