"""Normalize stage: what it repairs, and what it must leave exactly as written."""

from __future__ import annotations

import pyarrow as pa
import pytest

from newsclean.tasks.stages.base import BatchContext
from newsclean.tasks.stages.normalize import normalize_batch
from newsclean.tasks.stages.spacing import SpacingStage
from tests.helpers import clean_one, make_batch

pytestmark = pytest.mark.unit


def _rules(row: dict) -> list[str]:
    return [e["rule"] for e in row["edits"]]


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("The pound fell to Â£1.20 today.", "The pound fell to £1.20 today."),
        ("Itâ€™s over, he said.", "It’s over, he said."),
        ("The cafÃ© opened in 1999.", "The café opened in 1999."),
        ("The ﬁrst ﬂight left.", "The first flight left."),
    ],
)
def test_mojibake_repaired_curly_quotes_kept(raw: str, fixed: str) -> None:
    row = clean_one(raw)
    assert row["text"] == fixed
    assert "unicode.mojibake/1" in _rules(row)


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("It&apos;s &quot;fine&quot;", 'It\'s "fine"'),
        ("Rock&nbsp;and roll", "Rock and roll"),
        ("Fish &amp;amp; chips", "Fish & chips"),
        ("caf&#233; &#x263A;", "café ☺"),
    ],
)
def test_html_entities_unescaped(raw: str, fixed: str) -> None:
    row = clean_one(raw)
    assert row["text"] == fixed
    assert "unicode.html-entity/1" in _rules(row)


def test_bare_ampersand_words_and_url_queries_untouched() -> None:
    text = "AT&T and R&D, see https://x.com/?a=1&para=2&copy=3"
    assert clean_one(text)["text"] == text


def test_invisible_and_control_characters_removed_and_counted() -> None:
    row = clean_one("zero\u200bwidth soft\u00adhyphen bell\x07 here")
    assert row["text"] == "zerowidth softhyphen bell here"
    counted = {e["rule"]: e for e in row["edits"]}
    assert counted["unicode.invisible/1"]["count"] == 2
    assert counted["unicode.control/1"]["count"] == 1


def test_exotic_spaces_and_blank_lines() -> None:
    row = clean_one("  One\u00a0two\u2009three   four.  \n\n\n\n\tFive six.\u2028Seven.  ")
    assert row["text"] == "One two three four.\n\nFive six.\n\nSeven."
    assert "whitespace.collapse/1" in _rules(row)


def test_nfc_normalization() -> None:
    assert clean_one("Cafe\u0301 society")["text"] == "Café society"


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("in the region.Mr Stoltenberg said", "in the region. Mr Stoltenberg said"),
        ("said Mr.Smith today", "said Mr. Smith today"),
        ("prices rose 5%.The bank said", "prices rose 5%. The bank said"),
        ("she told the BBC.The minister left", "she told the BBC. The minister left"),
        ("in Paris,London and Rome", "in Paris, London and Rome"),
    ],
)
def test_missing_spaces_restored(raw: str, fixed: str) -> None:
    assert clean_one(raw)["text"] == fixed


@pytest.mark.parametrize(
    "text",
    [
        "The U.S. Army and the U.K. Navy met.",
        "Use e.g. this one, i.e. the first.",
        "Growth was 3.5 per cent, or 1,000 jobs.",
        "See https://www.express.co.uk/news/world/881769/Nato.Russia for more.",
        "Read it at express.co.uk or bbc.co.uk today.",
        "Mail jane.Doe@example.com or @Jens.Stoltenberg now.",
        "J.R.R. Tolkien and J.K. Rowling wrote books.",
        'He said: "It\'s not possible to give you an exact date."',
        "Shares in BP fell 3% to 451.2p on Monday.",
        "Jens Stoltenberg, NATO, Kyiv, Brexit, Putin and the BBC.",
    ],
)
def test_must_not_change(text: str) -> None:
    row = clean_one(text)
    assert row["text"] == text
    assert row["edits"] == []


def test_broken_url_in_url_field_is_repaired_and_recorded() -> None:
    batch = make_batch("Body text here.")
    index = batch.schema.get_field_index("url")
    batch = batch.set_column(index, "url", pa.array(["https://a.com/news/one-two -three"]))
    out, edits, *_ = SpacingStage().process(batch, BatchContext())
    assert out.column("url").to_pylist() == ["https://a.com/news/one-two-three"]
    assert [(e["rule"], e["after"], e["field"]) for e in edits.to_pylist()] == [
        ("url.rejoin-space/1", "https://a.com/news/one-two-three", "url")
    ]


def test_title_repairs_are_recorded() -> None:
    out, edits, *_ = normalize_batch(
        make_batch("Body text here.", titles=["Itâ€™s  a\u200b &amp; b"])
    )
    assert out.column("title").to_pylist() == ["It’s a & b"]
    rules = {e["rule"] for e in edits.to_pylist()}
    assert {"unicode.mojibake/1", "unicode.html-entity/1", "unicode.invisible/1"} <= rules


def test_blank_title_becomes_null() -> None:
    out, *_ = normalize_batch(make_batch("Body text here.", titles=["  \u200b "]))
    assert out.column("title").to_pylist() == [None]


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        (
            "We are strengthening our ability to move forces, but also\n\nacross the North Atlantic.",
            "We are strengthening our ability to move forces, but also across the North Atlantic.",
        ),
        (
            "The minister said the plan would be announced by the\n\nPrime Minister on Monday.",
            "The minister said the plan would be announced by the Prime Minister on Monday.",
        ),
    ],
)
def test_broken_paragraphs_joined(raw: str, fixed: str) -> None:
    row = clean_one(raw)
    assert row["text"] == fixed
    assert "paragraph.join-broken/1" in _rules(row)


@pytest.mark.parametrize(
    "text",
    [
        "Breaking News\n\nthe minister resigned today.",
        "The end.\n\nthen a new paragraph starts lower case.",
        "PRICING OF GOLD\n\nxxxxxxxxxxxxxxxx",
        "Read it at https://example.com/a\n\nand then more text follows here.",
        "Prices: $7.62\n\nand rising.",
    ],
)
def test_real_paragraph_ends_not_joined(text: str) -> None:
    assert clean_one(text)["text"] == text
