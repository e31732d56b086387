"""Every rule in the packs is exercised through the examples it carries, positive and negative,
and the loader rejects malformed packs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from newsclean.tasks.rules import RuleError, boilerplate_pack, load_pack, normalize_pack
from newsclean.tasks.stages.boilerplate import (
    STRUCTURAL_KINDS,
    _Applier,
    _matches,
    _ShortMatcher,
    strip_boilerplate,
)
from newsclean.tasks.stages.edits import EditLog
from newsclean.tasks.stages.reflow import ReflowParams, reflow_text
from newsclean.tasks.stages.spacing import insert_spaces, rejoin_urls

pytestmark = pytest.mark.unit


BOILERPLATE = [
    r for r in boilerplate_pack().rules if r.kind not in ("headline", "repeat", "edge-run")
]
#: Rules over several paragraphs: their header patterns are checked like the others, their
#: whole effect by their ``examples.fix`` documents.
STRUCTURAL = [
    r for r in boilerplate_pack().rules if r.kind in STRUCTURAL_KINDS and r.kind != "line"
]
LINES = boilerplate_pack().by_kind("line")
SPACE_RULES = normalize_pack().by_kind("insert-space")
PATTERN_RULES = [r for r in normalize_pack().rules if r.kind != "builtin"]


def test_every_pattern_rule_has_positive_and_negative_examples() -> None:
    for rule in BOILERPLATE:
        assert rule.examples_match and rule.examples_keep, rule.id
    for rule in STRUCTURAL:
        assert rule.examples_fix, rule.id
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
    if rule.kind in STRUCTURAL_KINDS:
        return  # not in the one-paragraph matcher: see test_structural_rules_fix_their_examples
    applier = _Applier(boilerplate_pack())
    domain = rule.domains[0] if rule.domains else None
    for example in rule.examples_match:
        found = applier.first_match(example, domain)
        assert found is not None, example
    for example in rule.examples_keep:
        found = applier.first_match(example, domain)
        assert found is None or found[0].id != rule.id, example


def test_line_rules_find_their_examples_together() -> None:
    """The ``line`` rules run as one alternation: each example is found by its own rule,
    no negative example by any."""
    lines = _ShortMatcher(LINES)
    for rule in LINES:
        for example in rule.examples_match:
            found = lines.first_match(example)
            assert found is not None and found.id == rule.id, (rule.id, example)
        for example in rule.examples_keep:
            found = lines.first_match(example)
            assert found is None, (rule.id, example, found and found.id)


@pytest.mark.parametrize("rule", STRUCTURAL, ids=lambda r: r.id)
def test_structural_rules_fix_their_examples(rule) -> None:
    """A whole document before and after, with the rule's own language, and one edit row
    per removed paragraph naming the rule."""
    from tests.helpers import make_batch

    language = (rule.params.get("languages") or ["en"])[0]
    for before, after in rule.examples_fix:
        batch = make_batch(before)
        batch = batch.append_column("language", pa.array([language], pa.string()))
        result = strip_boilerplate(batch)
        assert result.table.column("text").to_pylist() == [after], rule.id
        assert rule.id in set(result.edits.column("rule").to_pylist())


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
    (tmp_path / "custom.toml").write_text('version = "1"\nlanguages = ["*"]\n' + body)
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


def test_loading_every_pack_does_not_import_pandas() -> None:
    """The run's main process loads and checks every pack (the chain's validation, the
    versions it records) and needs no pandas otherwise: importing it cost 0.7 s and about
    60 MB there. A fresh interpreter, because this one has pandas already."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from newsclean.tasks.rules import PACKS, pack\n"
        "assert all(pack(name).rules for name in PACKS)\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------- versions


def test_rules_are_looked_up_by_name_and_the_newest_version_is_active(tmp_path: Path) -> None:
    body = (
        '[[rule]]\nid = "promo.plug/1"\nkind = "drop"\npattern = "old plug"\n'
        '[[rule]]\nid = "promo.plug/2"\nkind = "drop"\npattern = "new plug"\n'
        '[[rule]]\nid = "promo.other/1"\nkind = "drop"\npattern = "x"\n'
    )
    custom = load_pack("custom", _write_pack(tmp_path, body))
    assert custom.get("promo.plug").id == "promo.plug/2"
    assert custom.get("promo.plug/1").pattern == "old plug"  # exact ids still resolve
    assert [r.id for r in custom.active] == ["promo.plug/2", "promo.other/1"]
    assert [r.id for r in custom.by_kind("drop")] == ["promo.plug/2", "promo.other/1"]
    with pytest.raises(KeyError, match=r"no rule named 'promo\.none'"):
        custom.get("promo.none")


def test_a_dedup_rule_renamed_to_a_new_version_is_used(tmp_path: Path) -> None:
    """The dedup pack's header tells users to bump ``/N`` when a sketch setting changes:
    that must just work (it raised KeyError when code asked for ``/1``)."""
    from newsclean.tasks.rules import RULES_DIR, pack
    from newsclean.tasks.stages import minhash

    text = (RULES_DIR / "dedup.toml").read_text()
    assert '"dedup.near-minhash/3"' in text
    text = text.replace('"dedup.near-minhash/3"', '"dedup.near-minhash/4"')
    text = text.replace("shingle_words = 5", "shingle_words = 4")
    (tmp_path / "dedup.toml").write_text(text)
    config = minhash.config_from_pack(load_pack("dedup", tmp_path))
    shipped = minhash.config_from_pack(pack("dedup"))
    assert config.rule_id == "dedup.near-minhash/4" and config.shingle_words == 4
    assert config.sketch_id != shipped.sketch_id  # so the index is rebuilt


def test_every_rule_id_is_pinned_to_its_behaviour() -> None:
    from newsclean.tasks.rules import fingerprint

    changed, new = fingerprint.differences(fingerprint.current(), fingerprint.pinned())
    assert changed == [], f"rules changed without a new version: {changed}"
    assert new == [], (
        f"rules not pinned yet (python -m newsclean.tasks.rules.fingerprint --add): {new}"
    )


def test_a_changed_pattern_or_code_changes_the_fingerprint(tmp_path: Path) -> None:
    from newsclean.tasks.rules import RULES_DIR, fingerprint

    original = (RULES_DIR / "boilerplate.toml").read_text()
    pinned = fingerprint.pinned()

    def fingerprint_with(text: str) -> str:
        (tmp_path / "boilerplate.toml").write_text(text)
        custom = load_pack("boilerplate", tmp_path)
        return fingerprint.fingerprint(custom.get("caption.credit-line/1"), custom)

    assert fingerprint_with(original) == pinned["caption.credit-line/1"]
    docs_only = original.replace(
        "A paragraph that is only an image credit", "Only an image credit"
    ).replace('examples.keep = ["Getty Images said', 'examples.keep = ["Getty Images noted')
    assert fingerprint_with(docs_only) == pinned["caption.credit-line/1"]  # docs never count
    new_pattern = original.replace("|rex features|rex|", "|rex features|rex|dpa|", 1)
    assert fingerprint_with(new_pattern) != pinned["caption.credit-line/1"]
    other_code = original.replace(
        '"newsclean.tasks.stages.boilerplate:_is_caption",',
        '"newsclean.tasks.stages.boilerplate:_word_count",',
    )
    assert fingerprint_with(other_code) != pinned["caption.credit-line/1"]


def test_fingerprint_tool_refuses_to_repin_a_changed_rule(tmp_path: Path, monkeypatch) -> None:
    from newsclean.tasks.rules import fingerprint

    pins = fingerprint.pinned()
    stale = {**pins, "caption.credit-line/1": "0" * 20}
    monkeypatch.setattr(fingerprint, "PINS", tmp_path / "pins.json")
    (tmp_path / "pins.json").write_text(json.dumps(stale))
    monkeypatch.setattr(fingerprint, "pinned", lambda: stale)
    assert fingerprint.main(["--add"]) == 1
    assert json.loads((tmp_path / "pins.json").read_text()) == stale  # nothing re-pinned
