"""Acceptance on the reference article: every kind of junk is in it, and every genuine
sentence must come out intact."""

from __future__ import annotations

import pytest

from newsclean.tasks.storage.ingest import BatchBuilder, decode_bytes, parse_txt
from tests.helpers import REFERENCE, clean_batch, clean_one

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def row() -> dict:
    title, url, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    builder = BatchBuilder(batch_size=10)
    builder.add("samples/000_4c60d5582bf9f543.txt", 0, title=title, text=body, url=url)
    docs, _ = builder.flush()
    out = clean_batch(docs)
    result = out.docs.to_pylist()[0]
    result["edits"] = out.edits.to_pylist()
    return result


CAPTIONS = [
    "NATO could anger Putin with announcement about troops in Eastern Europe",
    "President Putin unveils a statue in Crimea as he tries to tighten power grip on region",
    "Nato leader Jens Stoltenberg has vowed troops will stay in Eastern Europe as long as necessary",
]

GENUINE = [
    "NATO risks angering Russia after announcing troops will remain present in the Baltic states and Eastern Europe as fears of World War 3 create regional tensions, the Secretary General revealed.",
    'NATO Secretary General Jens Stoltenberg said the alliance will remain in the area "as long as necessary" to protect its allies.',
    '"We are deploying for the first time in our history forces in the eastern part of the alliance...',
    "Since Russia invaded Crimea a number of political spats have taken place between the two countries.",
    "Last year Russia accused Ukraine of trying to stage armed demonstrations in the southern peninsula.",
    "However, Ukraine argued Russia had placed tens of thousands of troops on the border.",
    "Reaffirming his support for Ukraine, Mr Stoltenberg said: \"It's not possible to give you an exact date for staying in Eastern Europe.",
    '"We will stay there as long as necessary."',
    "Recently additional Western troops have been deployed on Europe's Eastern border with Russia as Mr Putin held his first war game with Belarus for four years.",
    "Despite the additional Western troops during the war game in September, Russia's military forces dwarfed those of NATO.",
    "President Putin has previously accused neighbouring NATO-affiliated countries of being the aggressors, defending similar military drills as acts of dissuasion.",
    'In an interview with NBC he said: "Well, in a sense that maybe, they should completely be falling apart, that will help."',
    'However, he went on to add that Russia "don\'t see that falling apart just yet."',
    "NATO was originally founded in 1949 as an alliance against the Soviet Union and has maintained its opposition to Russia's expansionist aims ever since.",
]


def test_junk_is_gone(row: dict) -> None:
    for junk in ("GETTY", "[Disclaimer]", "Source:", "express.co.uk"):
        assert junk not in row["text"]


def test_captions_only_in_captions_column(row: dict) -> None:
    assert row["captions"] == CAPTIONS
    for caption in CAPTIONS:
        assert caption not in row["text"]


def test_glued_sentence_and_broken_paragraph_repaired(row: dict) -> None:
    assert "region. Mr Stoltenberg said" in row["text"]
    assert "region.Mr" not in row["text"]
    assert (
        '"We are also strengthening our ability to move forces across Europe, but also across '
        'the North Atlantic."'
    ) in row["text"].split("\n\n")


def test_every_genuine_sentence_intact(row: dict) -> None:
    paragraphs = row["text"].split("\n\n")
    for sentence in GENUINE:
        assert sentence in paragraphs
    assert len(paragraphs) == 18


def test_url_repaired_and_domain(row: dict) -> None:
    assert row["url"] == (
        "https://www.express.co.uk/news/world/881769/Nato-russia-vladimir-putin-crimea-annexation"
        "-world-war-3-eastern-europe-troops"
    )
    assert row["domain"] == "express.co.uk"


def test_every_removal_is_an_edit(row: dict) -> None:
    by_rule = {}
    for edit in row["edits"]:
        by_rule.setdefault(edit["rule"], []).append(edit)
    credits = by_rule["caption.credit-line/1"]
    assert [e["before"] for e in credits] == [f"GETTY\n\n{c}" for c in CAPTIONS]
    assert by_rule["tail.bracketed-note/1"][0]["before"] == "[Disclaimer]"
    assert by_rule["source.url-line/1"][0]["before"].startswith(
        "Source: https://www.express.co.uk/"
    )
    assert by_rule["space.after-sentence/2"][0]["before"] == "region.Mr"
    assert by_rule["paragraph.join-broken/2"][0]["after"] == "Europe, but also across the North"
    assert "-crimea" in by_rule["url.rejoin-space/1"][0]["before"]
    assert row["n_edits"] == len(row["edits"])
    assert all(e["doc_id"] == row["doc_id"] for e in row["edits"])


def test_typo_and_names_untouched_by_cleaning(row: dict) -> None:
    """Cleaning does not correct words (that is the typo stage's job): names stay as written."""
    for word in ("Thee are fears", "county's best interest", "Stoltenberg", "Belarus", "NBC"):
        assert word in row["text"]


def test_clean_one_helper_roundtrip() -> None:
    assert clean_one("Plain text that needs nothing.")["text"] == "Plain text that needs nothing."
