"""Normalize stage: what it repairs, and what it must leave exactly as written."""

from __future__ import annotations

import re
import sys
from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newsclean.tasks.rules import normalize_pack
from newsclean.tasks.stages.base import BatchContext
from newsclean.tasks.stages.edits import EditLog
from newsclean.tasks.stages.normalize import (
    OTHER_WHITESPACE_RE2,
    WHITESPACE_WORK_RE2,
    normalize_batch,
    normalize_whitespace,
    re2_to_python,
    screen,
)
from newsclean.tasks.stages.spacing import (
    Protection,
    SpacingStage,
    _inside,
    _protect_pattern,
    insert_spaces,
    protected_spans,
    token_local,
)
from tests.helpers import FAKENEWS, REFERENCE, clean_one, make_batch

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


def test_whitespace_screen_knows_every_python_whitespace() -> None:
    """The fast path's class is exactly what ``str.split()`` splits on, less space and
    newline: a whitespace character it missed would leave a text unnormalized."""
    other = re.compile(re2_to_python(OTHER_WHITESPACE_RE2))
    expected = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()} - {" ", "\n"}
    found = {chr(c) for c in range(sys.maxunicode + 1) if other.fullmatch(chr(c))}
    assert found == expected


#: Mostly words, plain spaces and line breaks (the texts the screen must get right), now and
#: then another whitespace character (which the screen flags anyway).
_WORDS = ["a", "é", ".", "a b"] * 4
_WHITESPACE_ALPHABET = [
    *_WORDS,
    " ",
    "\n",
    "\n\n",
    "\n\n\n",
    "\t",
    "\r",
    "\xa0",
    "\u2028",
    "\x85",
    "\u3000",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_WHITESPACE_ALPHABET), max_size=10), min_size=1))
@example([["a", "\n", "a"], ["a", "\n\n\n", "a"], [" ", "a"], ["a", " "], ["a", "  ", "a"]])
@example([["a", " ", "\n\n", "a"], ["a", "\n\n", " ", "a"], ["\n", "a"], ["a", "\n"], [""]])
def test_texts_the_whitespace_screen_passes_are_already_normalized(parts: list[list[str]]) -> None:
    texts = ["".join(p) for p in parts]
    flagged = screen(pa.array(texts), WHITESPACE_WORK_RE2)
    for text, work in zip(texts, flagged, strict=True):
        if not work:
            assert normalize_whitespace(text, "d", EditLog("normalize")) == text


def test_whitespace_screen_passes_normalized_real_text() -> None:
    """The fast path is taken: normalized real articles (the reference one, the demo's
    FakeNewsCorpus rows) are not flagged, while their raw forms with line breaks are."""
    import pandas as pd

    raw = [REFERENCE.read_text(encoding="utf-8"), *pd.read_csv(FAKENEWS)["content"].dropna()[:50]]
    normalized = [normalize_whitespace(t, "d", EditLog("normalize")) for t in raw]
    assert not screen(pa.array(normalized), WHITESPACE_WORK_RE2).any()
    assert screen(pa.array(raw[:1]), WHITESPACE_WORK_RE2).all()


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
    assert "paragraph.join-broken/2" in _rules(row)


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


# --------------------------------------------------------------------------- spacing speed-ups


def _whole_text_inside(text: str, positions: list[int]) -> list[bool]:
    """The reference: protected spans of the whole text, as the stage found them before."""
    spans = protected_spans(text, _protect_pattern(normalize_pack()))
    return [_inside(p, spans) for p in positions]


def test_shipped_protect_patterns_are_token_local() -> None:
    patterns = normalize_pack().settings["protect"]
    assert patterns and all(token_local(p) for p in patterns)


@pytest.mark.parametrize(
    "pattern",
    [
        r"https?://\S+ more",  # a literal space
        r"www\.[^<>]+",  # a negated class without \s
        r"[\w\s]+\.com",  # \s in a class
        r"[A-Za-z\W]+@x",  # \W holds the space
        r"a.b",  # . matches a space
        r"(?<=\s)@\w+",  # looks behind the match
        r"@\w+(?= )",  # looks ahead
        r"^www\.\S+",  # ^ is the text's start, not the token's
        r"\S+$",
        r"(@\w+)\1",  # a back-reference
        r"[a-z]*",  # matches the empty string
        "[\t-\r]x",  # a range of whitespace
    ],
)
def test_patterns_that_may_see_whitespace_are_not_token_local(pattern: str) -> None:
    assert not token_local(pattern)


@given(
    st.lists(
        st.sampled_from(
            [
                "region.Mr",
                "jane.Doe@example.com",
                "https://a.co/x.Y,z",
                "www.bbc.co.uk/a.Bc",
                "@Jens.Stoltenberg",
                "express.co.uk",
                "Node.js",
                "said,Then",
                "a",
                "Mr.Smith",
                "U.S.",
                "x@y",
                "http://",
                ".com",
                "bbc.Co",
                "ab.Cd@ef.gh.com",
            ]
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(
        st.sampled_from([" ", "\n\n", "\t", "\u00a0", "\u2003", ""]), min_size=12, max_size=12
    ),
    st.integers(1, 5),
    st.integers(0, 4),
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@example(["www.a.com/x", "y.Zz"], [""] * 12, 1, 0)  # two tokens glued: one span across both
@example(["a", "https://a.co/x.Y,z"], [" "] * 12, 16, 0)  # the first point deep in a token
def test_protection_by_token_equals_the_whole_text_scan(
    words: list[str], gaps: list[str], stride: int, offset: int
) -> None:
    """Any ascending points (every ``stride``-th position: the stage asks only at its
    insertion points, so a region is often first scanned from a point deep in a token)."""
    text = "".join(w + g for w, g in zip(words, gaps, strict=False))
    positions = list(range(offset, len(text) + 1, stride))
    protection = Protection(text, normalize_pack())
    assert [protection.inside(p) for p in positions] == _whole_text_inside(text, positions)


def test_a_pack_whose_protect_pattern_may_span_whitespace_scans_the_whole_text() -> None:
    pack = normalize_pack()
    wide = replace(pack, settings={**pack.settings, "protect": [r"keep [a-z]+\.[A-Z][a-z]+"]})
    text = "we keep this.Text as it is, but fix that.Text here"
    protection = Protection(text, wide)
    assert protection.whole
    rule = pack.get("space.after-sentence")
    assert insert_spaces(text, [rule], "d", EditLog("t"), wide)[0] == (
        "we keep this.Text as it is, but fix that. Text here"
    )


def test_a_zero_width_user_pattern_still_inserts_where_it_matches() -> None:
    """Shipped patterns consume the punctuation and the space goes where the match ends; an
    older look-around-only pattern (match start == end) still works."""
    pack = normalize_pack()
    rule = pack.get("space.after-sentence")
    zero_width = replace(rule, pattern=r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
    for before, after in rule.examples_fix[:1]:
        assert insert_spaces(before, [zero_width], "d", EditLog("t"), pack)[0] == after


def test_spacing_changes_only_flagged_documents_and_keeps_the_rest_byte_for_byte() -> None:
    texts = [
        "in the region.Mr Stoltenberg said",
        "Nothing to fix here. Or here.",
        "mail jane.Doe@example.com today",
        "in Paris,London and Rome",
    ]
    out, edits, *_ = SpacingStage().process(make_batch(*texts), BatchContext())
    assert out.column("text").to_pylist() == [
        "in the region. Mr Stoltenberg said",
        "Nothing to fix here. Or here.",
        "mail jane.Doe@example.com today",
        "in Paris, London and Rome",
    ]
    assert edits.column("rule").to_pylist() == ["space.after-sentence/2", "space.after-comma/2"]
