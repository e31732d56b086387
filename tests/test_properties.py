"""Properties over arbitrary text: cleaning never raises and is idempotent.

Idempotence matters beyond tidiness: re-running newsclean on its own output (or a re-scrape
of an already clean copy) must not keep eating text.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import clean_one

JUNK = [
    "GETTY",
    "Getty Images",
    "AP",
    "Source: https://www.express.co.uk/news/world/1/a -b",
    "[Disclaimer]",
    "Facebook Twitter Pinterest",
    "Continue reading",
    "Advertisement",
    "% of readers think this story is Fact. Add your two cents.",
    "Credit…Jane Doe/Reuters",
    "region.Mr Stoltenberg",
    "but also",
    "across the North Atlantic.",
    "&amp;",
    "&amp;amp;",
    "Â£",
    "â€™",
    "\u200b",
    "\u00ad",
    "\u00a0",
    "\x07",
    "\r\n",
    "\n",
    "\n\n",
    "  ",
    "Mr.Smith",
    "(Image: GETTY)",
    "Image caption A caption",
    "Continued below... text",
    "https://a.com/x",
    "Thee are fears",
    "5%.The",
    "word,word",
    "(c) The clause",
    "Copyright © Someone",
    "Headline: Bitcoin",
    "“",
    "”",
    "’",
    "…",
    "x" * 50,
]
junk_text = st.lists(
    st.one_of(st.sampled_from(JUNK), st.text(min_size=1, max_size=30)), min_size=1, max_size=40
).map(" ".join) | st.lists(st.sampled_from(JUNK), min_size=1, max_size=30).map("\n\n".join)

TITLES = st.one_of(
    st.none(), st.sampled_from(["GETTY", "A headline", "Headline: Bitcoin"]), st.text(max_size=20)
)


# derandomize: CI must not fail on a draw nobody can reproduce; 24,000 random examples were
# run by hand while developing (see docs/testing.md for the command).
@pytest.mark.unit
@pytest.mark.slow
@settings(
    max_examples=500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=st.one_of(st.text(max_size=400), junk_text), title=TITLES)
def test_clean_never_raises_and_is_idempotent(text: str, title: str | None) -> None:
    first = clean_one(text, title=title, domain="beforeitsnews.com")
    if not first["text"]:
        return  # all junk: quarantined, nothing to re-clean
    second = clean_one(first["text"], title=first["title"], domain="beforeitsnews.com")
    assert second["text"] == first["text"]
    assert second["title"] == first["title"]
    assert second["edits"] == []


@pytest.mark.unit
@settings(max_examples=50, deadline=None)
@given(st.sampled_from(JUNK), st.integers(min_value=1000, max_value=20000))
def test_adversarial_repetition_does_not_hang(piece: str, repeat: int) -> None:
    """Long runs of rule-bait (no blank lines: one giant paragraph) stay linear-time."""
    clean_one((piece + " ") * (repeat // max(len(piece), 1) + 1))


@pytest.mark.parametrize(
    "text",
    [
        "aa.Bb" * 100_000,  # 100,000 glued sentences in one token
        "https://x.com/a -b" * 30_000,  # a URL broken 30,000 times
        "https://a.com/" + "a/" * 200_000 + " -x",  # one 400 kB URL
        "a." * 250_000 + "com",  # a 500 kB dotted "domain"
        "x" * 1_000_000,  # a 1 MB word
        ("GETTY " * 200_000).strip(),  # rule bait with no paragraph breaks
    ],
    ids=["glued", "url-breaks", "long-url", "dots", "long-word", "getty-run"],
)
@pytest.mark.unit
def test_giant_adversarial_documents_complete(text: str) -> None:
    """Each repair is linear in the text: these finish in about a second instead of hanging."""
    row = clean_one(text)
    assert row["text"]
