"""Hostile input (issue 13): each test is named after the issue's item it covers and
asserts the work done or the outcome, never the clock."""

from __future__ import annotations

import pytest

from newsclean.tasks.stages import typos

pytestmark = pytest.mark.unit


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> tuple[typos.Corrector, list[str]]:
    """A corrector whose dictionary lookups are counted: the work a word costs."""
    corrector = typos.Corrector()
    lookups: list[str] = []
    known = typos.Corrector._known

    def counting(self: typos.Corrector, word: str) -> bool:
        lookups.append(word)
        return known(self, word)

    monkeypatch.setattr(typos.Corrector, "_known", counting)
    return corrector, lookups


def test_item3_a_long_token_is_never_a_typo_candidate(counted) -> None:
    """A "word" of n letters once cost two dictionary lookups of up to n letters per split
    point (quadratic: a 1 MB one took minutes; bench/adversarial.py has the 1 MB case)."""
    corrector, lookups = counted
    blob = "abcdefghij" * 2_000  # 20,000 letters without a space
    assert typos.flagged_chunks([blob, blob[:51]], corrector) == set()
    assert lookups == []  # no work at all beyond the length check
    assert blob not in corrector.chunk_flags  # and nothing this size is cached


def test_item3_words_up_to_the_bound_are_still_decided(counted) -> None:
    corrector, lookups = counted
    assert typos.flagged_chunks(["recieved", "antidisestablishmentarianism,"], corrector) == {
        "recieved"
    }
    assert lookups  # the guard above is not vacuous: ordinary words are looked up
    lookups.clear()
    at_bound = "x" * (corrector.max_chunk_chars - 1) + "q"
    typos.flagged_chunks([at_bound], corrector)  # the longest chunk decided: bounded work
    assert len(lookups) <= 4 * corrector.max_chunk_chars
