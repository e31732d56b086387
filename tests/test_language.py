"""Language-aware cleaning on real text (NTREX: the same news in 14 languages and varieties,
tests/data/ntrex-sample.jsonl, made by bench/make_ntrex_sample.py): every document gets its
language, and the typo stage never touches another language or converts a spelling variant.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import pyarrow as pa
import pytest

from newsclean.tasks.stages.language import identify
from newsclean.tasks.stages.spelling import spelling_variants
from newsclean.tasks.stages.typos import corpus_vocabulary, correct_batch
from tests.helpers import REFERENCE, ROOT, clean_batch, clean_one, make_batch

pytestmark = pytest.mark.unit

SAMPLE = ROOT / "tests" / "data" / "ntrex-sample.jsonl"


@cache
def ntrex() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def cleaned(variety: str) -> pa.Table:
    docs = [r["text"] for r in ntrex() if r["variety"] == variety]
    return clean_batch(make_batch(*docs)).docs


def test_every_ntrex_document_gets_its_language() -> None:
    varieties = sorted({r["variety"] for r in ntrex()})
    assert len(varieties) == 14
    for variety in varieties:
        expected = next(r["lang"] for r in ntrex() if r["variety"] == variety)
        docs = cleaned(variety)
        assert set(docs.column("language").to_pylist()) == {expected}, variety
        assert min(docs.column("language_score").to_pylist()) > 0.5, variety  # a majority


@pytest.mark.parametrize("variety", ["deu", "fra", "spa", "por", "ita", "nld", "rus", "ind"])
def test_other_languages_pass_the_typo_stage_untouched(variety: str) -> None:
    docs = cleaned(variety)
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    assert result.edits.num_rows == 0
    assert result.table.column("text").equals(docs.column("text"))


@pytest.mark.parametrize("variety", ["eng-GB", "eng-US", "eng-IN"])
def test_english_spelling_variants_are_never_converted(variety: str) -> None:
    docs = cleaned(variety)
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    changes = [(e["before"], e["after"]) for e in result.edits.to_pylist()]
    assert not [c for c in changes if spelling_variants(*c)], changes
    assert len(changes) <= 1  # ~12k tokens of professionally edited news


def test_british_and_american_words_stay_as_written() -> None:
    gb = " ".join(cleaned("eng-GB").column("text").to_pylist())
    us = " ".join(cleaned("eng-US").column("text").to_pylist())
    british = Counter(w for w in gb.split() if w.endswith(("ised", "ising", "isation")))
    assert british  # the sample has British spellings to keep
    assert spelling_variants("politicising", "politicizing")
    assert spelling_variants("theatre", "theater") and spelling_variants("colour", "color")
    assert not spelling_variants("intiguing", "intriguing")
    assert us != gb


def test_a_german_quote_inside_an_english_article_is_left_alone() -> None:
    german = next(r["text"] for r in ntrex() if r["variety"] == "deu").split("\n\n")[2]
    english = REFERENCE.read_text(encoding="utf-8").split("\n", 2)[2]
    text = f"{english}\n\nThe minister added, in German:\n\n{german} als nichts sollte eigene"
    docs = clean_batch(make_batch(text, titles=["NATO"])).docs
    assert docs.column("language")[0].as_py() == "en"
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    out = result.table.column("text")[0].as_py()
    assert f"{german} als nichts sollte eigene" in out  # "als" is a codespell typo of "also"
    assert [(e["before"], e["after"]) for e in result.edits.to_pylist()] == [("Thee", "There")]


def test_reference_article_is_english_and_its_only_typo_is_thee() -> None:
    from newsclean.tasks.storage.ingest import decode_bytes, parse_txt

    title, _, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    row = clean_one(body, title=title)
    assert row["language"] == "en" and row["language_score"] >= 0.9
    docs = clean_batch(make_batch(body, titles=[title])).docs
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    assert [(e["before"], e["after"]) for e in result.edits.to_pylist()] == [("Thee", "There")]


def test_identify_is_null_when_it_cannot_tell_and_never_raises() -> None:
    assert identify("") == (None, 0.0) and identify(None) == (None, 0.0)
    assert identify("12 34 56") == (None, 0.0)
    code, score = identify("Der Bundestag hat am Donnerstag das neue Gesetz beschlossen.")
    assert code == "de" and 0 < score <= 1
    for hostile in ("\x00\x07\x85 text", "\ud800 broken", "a" * 100_000):
        identify(hostile)  # control characters, lone surrogates, giant tokens: no exception
