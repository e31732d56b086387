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

from newsclean.tasks.stages.language import identify, identify_paragraph
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


def test_sentences_are_identified_for_the_paragraph_check() -> None:
    """What the typo stage asks of a paragraph: sentences of 100+ characters, alone."""
    for variety in sorted({r["variety"] for r in ntrex()} - {"ind"}):  # ind: read as Malay
        code = next(r["lang"] for r in ntrex() if r["variety"] == variety)
        sentences = [s for r in ntrex() if r["variety"] == variety for s in r["text"].split("\n\n")]
        long = [s for s in sentences if len(s) > 100]
        right = sum(identify_paragraph(s) == code for s in long)
        assert right >= 0.97 * len(long), (variety, right, len(long))
    assert identify_paragraph("   ") is None


def test_the_cached_paragraph_identifier_answers_as_py3langid_does() -> None:
    """``paragraph_identifier`` (read back from the resource cache) is py3langid's own
    identifier: the same label and score on every NTREX paragraph, short ones included."""
    import py3langid

    from newsclean.tasks.stages.language import paragraph_identifier

    paragraphs = [p for r in ntrex() for p in r["text"].split("\n\n")][::5]
    assert len(paragraphs) > 250
    for paragraph in [*paragraphs, "ok", "Juan Guaidó said"]:
        assert paragraph_identifier().classify(paragraph) == py3langid.classify(paragraph)


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


# --------------------------------------------------------------------------- spelling variant


def spelling_of(*texts: str) -> list[str | None]:
    return clean_batch(make_batch(*texts)).docs.column("english_spelling").to_pylist()


def test_ntrex_british_and_american_documents_get_their_spelling() -> None:
    """Translators of NTREX eng-GB write British, of eng-US American; most short documents
    have no variant word at all (null), none is called the other way."""
    for variety, expected, other in (
        ("eng-GB", "british", "american"),
        ("eng-US", "american", "british"),
    ):
        found = Counter(cleaned(variety).column("english_spelling").to_pylist())
        assert found[expected] >= 2 and found[other] == 0, (variety, found)


def test_spelling_is_null_for_other_languages_and_without_evidence() -> None:
    german = next(r["text"] for r in ntrex() if r["variety"] == "deu")
    neutral = "The minister met the board on Monday and said the talks went well."
    assert spelling_of(german, neutral) == [None, None]


def test_oxford_spelling_steers_by_class() -> None:
    """-ize with -our is British (Oxford): an -ise/-ize correction follows the document's
    -ize words, an -our/-or one its -our words."""
    from newsclean.tasks.stages.typos import _DocumentSpelling

    text = "The organization recognized the colour and flavour of the harbour."
    side_for = _DocumentSpelling(text, None)
    assert side_for("ise") == "american" and side_for("our") == "british"


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        (
            "The council organised a vote and criticised the plan. Members critisized the "
            "theather project.",
            "The council organised a vote and criticised the plan. Members criticised the "
            "theatre project.",
        ),
        (
            "The council organized a vote and criticized the plan. Members critisized the "
            "theather project.",
            "The council organized a vote and criticized the plan. Members criticized the "
            "theater project.",
        ),
    ],
)
def test_a_correction_is_spelt_the_documents_way(text: str, fixed: str) -> None:
    batch = clean_batch(make_batch(text)).docs
    result = correct_batch(batch, corpus_vocabulary(batch.column("text")))
    assert result.table.column("text").to_pylist() == [fixed]


def test_a_short_document_takes_its_publishers_spelling() -> None:
    """No variant word of its own: the publisher's other documents in the batch decide."""
    british = "The organisation's neighbours criticised the centre. Its behaviour was odd."
    short = "Members critisized the plan on Monday, officials said."
    batch = clean_batch(
        make_batch(british, british.replace("odd", "strange"), short, domain="a.example")
    ).docs
    result = correct_batch(batch, corpus_vocabulary(batch.column("text")))
    assert result.table.column("text").to_pylist()[2] == short.replace("critisized", "criticised")


# --------------------------------------------------------------------------- short words


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("Most of theri own staff left.", "Most of their own staff left."),
        ("We hvea been here before.", "We have been here before."),
        ("He said he coudl not agree.", "He said he could not agree."),
        ("It was the lsat time.", "It was the last time."),
        ("It was the firts time in years.", "It was the first time in years."),
        ("The match will take palce in June.", "The match will take place in June."),
        ("He did nto want to go home.", "He did not want to go home."),
    ],
)
def test_short_word_typos_are_fixed_from_context(text: str, fixed: str) -> None:
    result = correct_batch(make_batch(text))
    assert result.table.column("text").to_pylist() == [fixed]
    assert set(result.edits.column("rule").to_pylist()) == {"typo.context/3"}


@pytest.mark.parametrize(
    "text",
    [
        "Ms Fomr said the vote was close.",  # a name: capitalised inside a sentence
        "fomr.",  # no neighbour, no evidence
        "He came back fomr the front line.",
        "The river Tyne and the Wear met at Jarrow.",  # known words
        "Scores: 4-3, pts 12, cnt 7 and a URL www.fomr.com stayed.",  # abbreviations, URLs
    ],
)
def test_short_words_without_evidence_stay(text: str) -> None:
    """Also ambiguous ones: "back fomr the" could be "back for the" as well as "back from
    the" (the bigram scores are too close)."""
    result = correct_batch(make_batch(text))
    assert result.edits.num_rows == 0
    assert result.table.column("text").to_pylist() == [text]


# --------------------------------------------------------------------------- --languages


def test_languages_keeps_some_and_sets_the_others_aside(tmp_path) -> None:
    import pandas as pd

    from tests.helpers import run_steps

    raw = tmp_path / "raw"
    raw.mkdir()
    picked = [r for r in ntrex() if r["variety"] in ("eng-GB", "deu", "fra")]
    with (raw / "ntrex.jsonl").open("w", encoding="utf-8") as fh:
        for r in picked:
            fh.write(json.dumps({"title": r["doc"], "text": r["text"]}) + "\n")
    result = run_steps(raw, tmp_path / "clean", languages=("en", "de"))
    articles = pd.read_parquet(tmp_path / "clean" / "articles")
    aside = pd.read_parquet(tmp_path / "clean" / "other_languages")
    assert set(articles["language"]) == {"en", "de"} and set(aside["language"]) == {"fr"}
    assert len(articles) + len(aside) == len(picked)
    assert set(aside["set_aside_reason"]) == {"language fr not in --languages en,de"}
    assert result["summary"]["set_aside_languages"] == {"fr": len(aside)}
    from newsclean.tasks.pipeline.report import headline_rows
    from newsclean.tasks.pipeline.report_html import render_html

    assert ("set aside: other languages", f"fr {len(aside)}") in headline_rows(result["summary"])
    assert f"set aside (other languages, other_languages/): fr {len(aside)}" in render_html(
        result["summary"]
    )
    assert (
        not (tmp_path / "clean" / "quarantine").exists()
        or pd.read_parquet(tmp_path / "clean" / "quarantine").empty
    )
    # a changed file takes its set-aside rows back with its articles
    with (raw / "ntrex.jsonl").open("w", encoding="utf-8") as fh:
        for r in picked[:2]:
            fh.write(json.dumps({"title": r["doc"], "text": r["text"]}) + "\n")
    run_steps(raw, tmp_path / "clean", languages=("en", "de"))
    articles = pd.read_parquet(tmp_path / "clean" / "articles")
    aside_dir = tmp_path / "clean" / "other_languages"
    assert len(articles) == 2 and not list(aside_dir.glob("part-*.parquet"))


# --------------------------------------------------------------------------- rule packs


def test_every_pack_declares_its_languages() -> None:
    from newsclean.tasks.rules import PACKS, pack

    declared = {name: pack(name).languages for name in PACKS}
    assert declared["typos"] == ("en",) and declared["boilerplate"] == ("en",)
    assert all(declared[name] == ("*",) for name in ("normalize", "dedup", "learned"))


def test_english_phrase_rules_do_not_run_on_other_languages() -> None:
    """In a German article, "Advertisement" and "Read more" may be German prose; agency
    credits (GETTY) and share-button names are not language-bound and still go."""
    german = next(r["text"] for r in ntrex() if r["variety"] == "deu").split("\n\n")
    body = "\n\n".join(german[:6])
    text = f"{body}\n\nAdvertisement\n\nRead more\n\nGETTY"
    out = clean_one(text)
    assert "GETTY" not in out["text"] and out["language"] == "de"
    assert out["text"].endswith("Advertisement\n\nRead more")
    english = clean_one(text.replace(body, REFERENCE.read_text("utf-8").split("\n\n")[0] * 3))
    assert "Advertisement" not in english["text"]


@pytest.mark.parametrize("value", ["english", "en,xyz", ",", "e1"])
def test_the_cli_refuses_languages_that_are_not_iso_codes(value: str, tmp_path) -> None:
    from typer.testing import CliRunner

    from newsclean.cli import app

    (tmp_path / "raw").mkdir()
    args = ["run", str(tmp_path / "raw"), "--out", str(tmp_path / "clean"), "--languages", value]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "ISO 639-1" in result.output
    assert not (tmp_path / "clean").exists()
