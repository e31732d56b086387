"""The boilerplate stage's RE2 paragraph screen: a superset of what the Python rules match.

If the screen ever missed a paragraph a rule matches, boilerplate would silently stay in the
text; so the tests check the case-folding gaps over every code point, every rule against its
own examples and against real paragraphs, and the stage with and without the screen.
"""

from __future__ import annotations

import _sre
import re
import sys
from re._casefix import _EXTRA_CASES

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from newsclean.tasks.rules import boilerplate_pack
from newsclean.tasks.stages.base import BatchContext
from newsclean.tasks.stages.boilerplate import SHORT_KINDS, BoilerplateStage
from newsclean.tasks.stages.paragraph_screen import (
    CASE_GAPS,
    BatchParagraphs,
    screen_pattern,
    screenable,
)
from tests.helpers import FAKENEWS, REFERENCE, make_batch

pytestmark = pytest.mark.unit

RULES = [r for r in boilerplate_pack().active if r.pattern]


def _rule(pattern: str, ignore_case: bool):
    """A stand-in with the two attributes the screen reads."""
    return type("R", (), {"pattern": pattern, "ignore_case": ignore_case})()


def _demo_texts() -> list[str]:
    """The reference article and the demo's FakeNewsCorpus rows."""
    return [REFERENCE.read_text(encoding="utf-8"), *pd.read_csv(FAKENEWS)["content"].dropna()]


def _python_case_classes() -> dict[int, set[int]]:
    """Characters Python's ignore-case ``re`` treats as one, by their lower-case form."""
    classes: dict[int, set[int]] = {}
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        lower = _sre.unicode_tolower(code)
        if lower != code or lower in classes:
            classes.setdefault(lower, {lower}).add(code)
    for lower, extra in _EXTRA_CASES.items():
        classes.setdefault(lower, {lower}).update(extra)
    return classes


def test_case_gaps_are_every_character_re2_folds_differently() -> None:
    """A subject character Python's ignore-case ``re`` equates with a pattern character
    (one that is not itself a gap: patterns holding a gap are not screened) must be one RE2
    folds onto it too, unless it is in CASE_GAPS; and every gap is such a character."""
    gaps = set()
    for members in _python_case_classes().values():
        chars = sorted(members)
        subjects = pa.array([chr(m) for m in chars])
        for code in chars:
            if chr(code) in CASE_GAPS:
                continue
            folds = pc.match_substring_regex(subjects, f"(?i)^\\x{{{code:x}}}$").to_pylist()
            gaps |= {chr(m) for m, same in zip(chars, folds, strict=True) if not same}
    assert gaps == set(CASE_GAPS)


def test_every_boilerplate_rule_is_screened() -> None:
    """A rule the screen cannot express would switch it off for the whole stage."""
    assert [r.id for r in RULES if not screenable(r.pattern, r.ignore_case)] == []
    stage = BoilerplateStage()
    assert stage.applier.screen is not None
    assert stage.short_screen is not None


@pytest.mark.parametrize(
    ("pattern", "ignore_case"),
    [
        (r"\bGetty", False),  # RE2's \b is ASCII-only
        (r"Photo: \w+", False),
        (r"Source\s*:", False),
        (r"Advertisement$", False),  # Python's $ also matches before a final newline
        (r"[^a-z]+ credit", True),  # a case-folded negated class of letters
        (r"(?i:[^k])", False),
        ("İstanbul", True),
        ("(?m)Photo\n^Credit", False),  # ^ after a line break
        ("(?m:^Photo)", False),
    ],
)
def test_constructs_the_engines_read_differently_are_not_screened(
    pattern: str, ignore_case: bool
) -> None:
    assert not screenable(pattern, ignore_case)
    assert screen_pattern([_rule(pattern, ignore_case)]) is None


def test_a_leading_inline_flag_folds_case_in_the_screen_too() -> None:
    """``(?i)`` at the start of a pattern is a global flag in Python's parser, not a group:
    the screen must still ignore case."""
    rule = _rule("(?i)getty images", False)
    assert _screen_hits([rule], ["GETTY IMAGES", "Getty Images", "Reuters"]) == [True, True, False]


def _screen_hits(rules: list, paragraphs: list[str]) -> list[bool]:
    pattern = screen_pattern(rules)
    assert pattern is not None
    found = BatchParagraphs(pa.array(["\n\n".join(paragraphs)])).candidates(pattern)
    assert found is not None
    hit = set(found[0])
    return [i in hit for i in range(len(paragraphs))]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_screen_finds_every_example_the_rule_matches(rule) -> None:
    examples = [e for e in rule.examples_match if "\n\n" not in e]
    if not examples:
        pytest.skip("no one-paragraph examples")
    assert all(_screen_hits([rule], examples))


def _real_paragraphs() -> list[str]:
    return [p.strip() for t in _demo_texts() for p in re.split(r"\n\s*\n", t) if p.strip()]


def test_screen_is_a_superset_on_real_paragraphs() -> None:
    """Every paragraph of the demo data a rule matches in Python is a screen candidate,
    with ``İ``/``ı`` mixed in (Python folds them onto i, RE2 does not)."""
    paragraphs = _real_paragraphs()
    paragraphs += [p.replace("i", "ı").replace("I", "İ") for p in paragraphs[:400]]
    for rule in RULES:
        compiled = rule.compiled()
        screened = _screen_hits([rule], paragraphs)
        missed = [
            p for p, hit in zip(paragraphs, screened, strict=True) if not hit and compiled.match(p)
        ]
        assert missed == [], rule.id


def test_screened_stage_equals_the_unscreened_one() -> None:
    """The stage with its screens and with them off (every paragraph tried) gives the same
    texts, captions, URLs and edit rows on the demo articles."""
    batch = make_batch(*_demo_texts())
    batch = batch.append_column("language", pa.array(["en"] * batch.num_rows))
    screened = BoilerplateStage().process(batch, BatchContext())
    plain = BoilerplateStage()
    plain.applier.screen = None
    plain.short_screen = None
    unscreened = plain.process(batch, BatchContext())
    assert screened.table.equals(unscreened.table)
    assert screened.edits.equals(unscreened.edits)
    assert screened.edits.num_rows > 0


def test_short_screen_covers_every_language() -> None:
    """One screen serves every language's structural rules (a superset of each)."""
    pack = boilerplate_pack()
    assert {r.id for r in pack.by_kind(*SHORT_KINDS)} >= {
        r.id for r in pack.by_kind(*SHORT_KINDS) if pack.applies_to(r, "de")
    }


def test_paragraphs_split_like_python() -> None:
    texts = ["a\n\nb", "a\n\n\n\nb", "\n\na", "a", "", "x\n\n\ny"]
    split = BatchParagraphs(pa.array([*texts, None]))
    assert [split.count(i) for i in range(len(texts))] == [len(t.split("\n\n")) for t in texts]
    assert split.count(len(texts)) == 0


def test_a_screen_is_built_once_per_process_and_keyed_by_pattern_and_case(monkeypatch) -> None:
    """The boilerplate stage is built several times a run (the chain's check, the articles'
    schema, the run's versions, every worker): its screens are parsed once. The cache key is
    each rule's pattern *and* its case flag: the same pattern folded gets a screen of its own."""
    from newsclean.tasks.stages import paragraph_screen

    BoilerplateStage().applier.screen  # noqa: B018 (built, and cached, here if not before)
    parsed: list[str] = []
    real_parse = paragraph_screen._parse
    monkeypatch.setattr(
        paragraph_screen, "_parse", lambda p, i: parsed.append(p) or real_parse(p, i)
    )
    stage = BoilerplateStage()
    assert stage.applier.screen is not None and stage.short_screen is not None
    assert parsed == []
    exact, folded = _rule("Getty Images", False), _rule("Getty Images", True)
    assert _screen_hits([exact], ["GETTY IMAGES", "Getty Images"]) == [False, True]
    assert _screen_hits([folded], ["GETTY IMAGES", "Getty Images"]) == [True, True]
