"""The structural boilerplate detectors (issue 12) on whole documents: what they remove and,
above all, what they must leave alone (sub-headings, numbered steps, short quotes, a real
sentence starting with "Related", a comments header in mid-article, listings)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from newsclean.tasks.stages.boilerplate import strip_boilerplate
from tests.helpers import make_batch

pytestmark = pytest.mark.unit

BODY = (
    "The council voted on Monday to close the old bridge across the river, which has carried "
    "traffic since 1931, after engineers found cracks in two of its piers."
)
BODY2 = (
    "Drivers will have to use the ring road, which adds about twenty minutes to a trip into "
    "the city centre at rush hour, the transport office said."
)
BODY3 = "A new bridge is planned for 2028, but the money for it has not been found yet."


def cleaned(text: str, language: str | None = "en") -> tuple[str, list[str]]:
    batch = make_batch(text)
    batch = batch.append_column("language", pa.array([language], pa.string()))
    result = strip_boilerplate(batch)
    return result.table.column("text")[0].as_py(), result.edits.column("rule").to_pylist()


@pytest.mark.parametrize(
    "text",
    [
        # sub-headings and short lines inside an article
        f"{BODY}\n\nWhat happens next\n\nThe bridge will close in May.\n\nWhy it matters\n\n{BODY2}",
        # numbered steps after a heading
        f"{BODY}\n\nMethod\n\n1. Preheat the oven\n\n2. Mix the flour and the butter\n\n3. Bake",
        # short quoted lines
        f'{BODY}\n\n"We will rebuild it," she said.\n\n"Not this year."',
        # a genuine sentence that starts with "Related"
        f"{BODY}\n\nRelated research found similar cracks in bridges of the same age.",
        # a comments header in the first half is not a comment thread
        f"Comments\n\n{BODY}\n\n{BODY2}",
        # short lines closing the text without a menu word: an ingredient list
        f"{BODY}\n\nYou will need:\n\nSalt\n\nPepper\n\nOlive oil",
        # a title and a heading opening the text
        f"Bridge Closes\n\nWhat We Know\n\n{BODY}",
        # a paragraph printed three times is a listing
        f"{BODY}\n\nTickets on sale now for the summer festival in the park.\n\n"
        "Tickets on sale now for the summer festival in the park.\n\n"
        "Tickets on sale now for the summer festival in the park.",
    ],
)
def test_article_structure_is_left_alone(text: str) -> None:
    after, rules = cleaned(text)
    assert after == text, rules


def test_a_link_block_and_its_headlines_go_but_the_body_after_it_stays() -> None:
    text = (
        f"{BODY}\n\nRelated Articles\n\nCity Plans New Bridge\n\nTraffic Chaos Expected\n\n"
        "Engineers will inspect the other bridges next week, the council said."
    )
    after, rules = cleaned(text)
    assert after == (
        f"{BODY}\n\nEngineers will inspect the other bridges next week, the council said."
    )
    assert rules == ["links.related-header/2"] * 3


def test_a_comment_thread_at_the_end_goes() -> None:
    text = f"{BODY}\n\n{BODY2}\n\n{BODY3}\n\n2 Comments\n\nGreat piece.\n\nI drive over it daily."
    after, rules = cleaned(text)
    assert after == f"{BODY}\n\n{BODY2}\n\n{BODY3}"
    assert set(rules) == {"comments.thread/2"}


def test_a_document_is_never_emptied() -> None:
    text = "Related Articles\n\nCity Plans New Bridge\n\nTraffic Chaos Expected"
    after, _ = cleaned(text)
    assert after.strip()


def test_phrase_packs_follow_the_documents_language() -> None:
    german = (
        "Der Stadtrat beschloss am Montag, die alte Brücke über den Fluss zu schließen, die "
        "seit 1931 den Verkehr trägt."
    )
    text = f"{german}\n\nLesen Sie auch:\n\nStadt plant neue Brücke\n\nVerkehrschaos erwartet"
    after, rules = cleaned(text, "de")
    assert after == german and set(rules) == {"links.related-header-de/2"}
    # the German header means nothing in an English text, and is left there
    english = f"{BODY}\n\nLesen Sie auch:\n\nStadt plant neue Brücke"
    assert cleaned(english, "en")[0] == english


def test_a_paragraph_printed_twice_keeps_its_first_copy() -> None:
    text = f"{BODY}\n\nThe bridge will close in May.\n\n{BODY}"
    after, rules = cleaned(text)
    assert after == f"{BODY}\n\nThe bridge will close in May."
    assert rules == ["structure.repeated-paragraph/1"]


def test_a_long_paragraph_in_a_language_without_span_rules_is_checked_without_error() -> None:
    """A German text gets a pack without "span" rules: a paragraph over the 3,000 characters
    that only span rules are tried on used to meet an empty alternation that matched it."""
    german = (
        "Angst ist, wirft man einen Blick auf unsere Evolution, ein uraltes Phänomen, "
        "und sie hat uns als Spezies erfolgreich gemacht. "
    ) * 40
    assert len(german) > 3000
    after, rules = cleaned(f"{german}\n\nKurz danach.", "de")
    assert after == f"{german}\n\nKurz danach." and rules == []
