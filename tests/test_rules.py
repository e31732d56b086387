"""Every rule in the packs is exercised through the examples it carries, positive and negative,
and the loader rejects malformed packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsclean.tasks.rules import RuleError, boilerplate_pack, load_pack, normalize_pack
from newsclean.tasks.stages.boilerplate import _Applier, _matches
from newsclean.tasks.stages.edits import EditLog
from newsclean.tasks.stages.reflow import ReflowParams, reflow_text
from newsclean.tasks.stages.spacing import insert_spaces, rejoin_urls

BOILERPLATE = [r for r in boilerplate_pack().rules if r.kind != "headline"]
SPACE_RULES = normalize_pack().by_kind("insert-space")
PATTERN_RULES = [r for r in normalize_pack().rules if r.kind != "builtin"]


def test_every_pattern_rule_has_positive_and_negative_examples() -> None:
    for rule in BOILERPLATE:
        assert rule.examples_match and rule.examples_keep, rule.id
    for rule in PATTERN_RULES:
        assert rule.examples_fix and rule.examples_keep, rule.id


def test_rule_ids_are_unique_across_packs() -> None:
    ids = boilerplate_pack().ids + normalize_pack().ids
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("rule", BOILERPLATE, ids=lambda r: r.id)
def test_boilerplate_rule_matches_its_examples(rule) -> None:
    for example in rule.examples_match:
        assert _matches(rule, example), f"{rule.id} should match {example!r}"


@pytest.mark.parametrize("rule", BOILERPLATE, ids=lambda r: r.id)
def test_boilerplate_rule_keeps_its_negative_examples(rule) -> None:
    for example in rule.examples_keep:
        assert not _matches(rule, example), f"{rule.id} must not match {example!r}"


@pytest.mark.parametrize("rule", BOILERPLATE, ids=lambda r: r.id)
def test_combined_matcher_agrees_with_each_rule(rule) -> None:
    """The one-regex fast path finds the same rule as matching the rules one by one."""
    applier = _Applier(boilerplate_pack())
    domain = rule.domains[0] if rule.domains else None
    for example in rule.examples_match:
        found = applier.first_match(example, domain)
        assert found is not None, example
    for example in rule.examples_keep:
        found = applier.first_match(example, domain)
        assert found is None or found[0].id != rule.id, example


def test_domain_scoped_rule_only_applies_to_its_publisher() -> None:
    applier = _Applier(boilerplate_pack())
    line = "Headline: Bitcoin & Blockchain Searches Exceed Trump! Blockchain Stocks Are Next!"
    assert applier.first_match(line, "beforeitsnews.com") is not None
    assert applier.first_match(line, "example.com") is None


@pytest.mark.parametrize("rule", SPACE_RULES, ids=lambda r: r.id)
def test_space_rule_examples(rule) -> None:
    pack = normalize_pack()
    for before, after in rule.examples_fix:
        log = EditLog("t")
        assert insert_spaces(before, [rule], "d", log, pack)[0] == after
        assert len(log) >= 1
    for text in rule.examples_keep:
        assert insert_spaces(text, [rule], "d", EditLog("t"), pack)[0] == text


def test_url_rejoin_examples() -> None:
    (rule,) = normalize_pack().by_kind("url-rejoin")
    for before, after in rule.examples_fix:
        assert rejoin_urls(before, rule, "d", EditLog("t")) == after
    for text in rule.examples_keep:
        assert rejoin_urls(text, rule, "d", EditLog("t")) == text


def test_reflow_examples() -> None:
    rule = normalize_pack().get("paragraph.join-broken")
    params = ReflowParams.from_rule(rule)
    for before, after in rule.examples_fix:
        assert reflow_text(before, rule, params, "d", EditLog("t")) == after
    for text in rule.examples_keep:
        assert reflow_text(text, rule, params, "d", EditLog("t")) == text


def _write_pack(tmp_path: Path, body: str) -> Path:
    (tmp_path / "custom.toml").write_text('version = "1"\n' + body)
    return tmp_path


def test_loader_rejects_bad_id(tmp_path: Path) -> None:
    d = _write_pack(tmp_path, '[[rule]]\nid = "NoVersion"\nkind = "drop"\npattern = "x"\n')
    with pytest.raises(RuleError, match="bad rule id"):
        load_pack("custom", d)


def test_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    rule = '[[rule]]\nid = "a.b/1"\nkind = "drop"\npattern = "x"\n'
    with pytest.raises(RuleError, match="duplicate"):
        load_pack("custom", _write_pack(tmp_path, rule + rule))


def test_loader_rejects_lookaround_patterns(tmp_path: Path) -> None:
    """Look-arounds are not RE2: rejecting them keeps every boilerplate pattern linear-time."""
    d = _write_pack(
        tmp_path, "[[rule]]\nid = \"a.b/1\"\nkind = \"drop\"\npattern = '''(?<=x)y'''\n"
    )
    with pytest.raises(RuleError, match="RE2"):
        load_pack("custom", d)
