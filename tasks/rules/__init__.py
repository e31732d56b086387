"""Rule packs: the data that drives every stage.

Every rule lives in one of the TOML files beside this module, with a stable id
(``family.name/N``): ``family.name`` is the rule's name, ``N`` its version. This loader
validates the packs once (ids unique and well formed, patterns compile as Python ``re`` *and*
as RE2, so they are linear-time) and hands the stages typed rules.

Code asks for a rule by **name** (``pack.get("dedup.near-minhash")``) and gets its newest
version; an exact id (``pack.get("dedup.near-minhash/2")``) is for tests and tools. A pack
may keep an older version beside the new one (its examples still run); only the newest
version of each name is *active*, i.e. applied by the stages. Every edit row names the exact
id that made it, and ``fingerprints.json`` pins what each id means (see
:mod:`newsclean.tasks.rules.fingerprint`).

To add a rule, add a ``[[rule]]`` block to the right TOML file; nothing else changes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

RULES_DIR = Path(__file__).resolve().parent
RULE_ID = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*/[0-9]+$")


class RuleError(ValueError):
    """A rule pack is malformed; the message names the rule and the problem."""


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule of a pack, as read from TOML."""

    id: str
    kind: str
    description: str
    pattern: str = ""
    screen: str = ""
    ignore_case: bool = False
    max_words: int = 40
    caption: str = "next"
    domains: tuple[str, ...] = ()
    ends_with: str = ""
    examples_match: tuple[str, ...] = ()
    examples_keep: tuple[str, ...] = ()
    examples_fix: tuple[tuple[str, str], ...] = ()
    code: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The id without its version: what code looks the rule up by."""
        return self.id.rsplit("/", 1)[0]

    @property
    def version(self) -> int:
        return int(self.id.rsplit("/", 1)[1])

    @property
    def flags(self) -> int:
        return re.IGNORECASE if self.ignore_case else 0

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern, self.flags)

    def re2_paragraph_screen(self) -> str:
        """RE2 pattern that finds, in a whole document, a paragraph this rule may match."""
        body = f"(?i:{self.pattern})" if self.ignore_case else f"(?:{self.pattern})"
        if self.kind == "span":
            return f"(?m)^{body}"
        return f"(?m)^{body}$"


@dataclass(frozen=True, eq=False)
class RulePack:
    name: str
    version: str
    rules: tuple[Rule, ...]
    settings: dict[str, Any]

    @property
    def active(self) -> tuple[Rule, ...]:
        """The newest version of every rule name, in pack order: what the stages apply."""
        newest: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.name not in newest or rule.version > newest[rule.name].version:
                newest[rule.name] = rule
        chosen = set(map(id, newest.values()))
        return tuple(r for r in self.rules if id(r) in chosen)

    def by_kind(self, *kinds: str) -> list[Rule]:
        """Active rules of the given kinds, in pack order."""
        return [r for r in self.active if r.kind in kinds]

    def get(self, name: str) -> Rule:
        """The newest version of rule ``name`` (``family.name``), or exactly the id given
        when it carries a version (``family.name/N``)."""
        if "/" in name:
            for rule in self.rules:
                if rule.id == name:
                    return rule
            raise KeyError(f"{self.name}: no rule {name!r}")
        for rule in self.active:
            if rule.name == name:
                return rule
        raise KeyError(f"{self.name}: no rule named {name!r}")

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the pack's rules are written for (``*``: any language)."""
        return tuple(self.settings["languages"])

    def applies_to(self, rule: Rule, language: str | None) -> bool:
        """Whether ``rule`` runs on a text identified as ``language``: a rule with its own
        ``languages`` runs on those; otherwise a pack for any language, a rule the pack lists
        as ``language_neutral`` (agency names, symbols, structure) and a text of unknown
        language (null) run everywhere."""
        own = rule.params.get("languages")
        if own is not None:  # a rule written for some languages (a phrase pack)
            return language is None or "*" in own or language in own
        if language is None or "*" in self.languages or language in self.languages:
            return True
        return rule.name in self.settings.get("language_neutral", [])

    def versions(self) -> dict[str, object]:
        """What a run records of this pack: its version and the exact ids it applied."""
        return {"version": self.version, "rules": [r.id for r in self.active]}


@cache
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


@cache
def _one_empty_string() -> pa.StringArray:
    """``[""]`` built from buffers. Why not ``pa.array([""])``: converting a Python list makes
    pyarrow import pandas (to ask whether the list is a Series), 0.7 s of the run's main
    process, which needs no pandas otherwise (measured on the demo run)."""
    return pa.StringArray.from_buffers(1, pa.py_buffer(bytes(8)), pa.py_buffer(b""))


def _check_re2(rule_id: str, pattern: str) -> None:
    try:
        pc.match_substring_regex(_one_empty_string(), pattern)
    except pa.ArrowInvalid as exc:
        raise RuleError(f"{rule_id}: pattern is not valid RE2 (no look-arounds): {exc}") from exc


_KNOWN_KEYS = {
    "id",
    "kind",
    "description",
    "pattern",
    "screen",
    "ignore_case",
    "max_words",
    "caption",
    "domains",
    "ends_with",
    "examples",
    "code",
}


def _parse_rule(raw: dict[str, Any], pack: str) -> Rule:
    rule_id = raw.get("id", "")
    if not RULE_ID.match(rule_id):
        raise RuleError(f"{pack}: bad rule id {rule_id!r} (want family.name/N)")
    examples = raw.get("examples", {})
    rule = Rule(
        id=rule_id,
        kind=raw["kind"],
        description=raw.get("description", ""),
        pattern=raw.get("pattern", ""),
        screen=raw.get("screen", ""),
        ignore_case=raw.get("ignore_case", False),
        max_words=raw.get("max_words", 40),
        caption=raw.get("caption", "next"),
        domains=tuple(raw.get("domains", ())),
        ends_with=raw.get("ends_with", ""),
        examples_match=tuple(examples.get("match", ())),
        examples_keep=tuple(examples.get("keep", ())),
        examples_fix=tuple(tuple(pair) for pair in examples.get("fix", ())),
        code=tuple(raw.get("code", ())),
        params={k: v for k, v in raw.items() if k not in _KNOWN_KEYS},
    )
    try:
        if rule.pattern:
            rule.compiled()
    except re.error as exc:
        raise RuleError(f"{rule_id}: pattern does not compile: {exc}") from exc
    return rule


def load_pack(name: str, directory: Path = RULES_DIR) -> RulePack:
    """Load and validate ``<name>.toml``."""
    path = directory / f"{name}.toml"
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    rules = tuple(_parse_rule(r, name) for r in raw.get("rule", []))
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"{name}: duplicate rule ids {sorted(dupes)}")
    for rule in rules:
        if rule.screen:
            _check_re2(rule.id, rule.screen)
        if rule.pattern and rule.kind not in {"insert-space", "url-rejoin"}:
            _check_re2(rule.id, rule.re2_paragraph_screen())
    settings = {k: v for k, v in raw.items() if k != "rule"}
    languages = settings.get("languages")
    if not (
        isinstance(languages, list) and languages and all(isinstance(c, str) for c in languages)
    ):
        raise ValueError(f'rule pack {name}: declare `languages` (ISO 639-1 codes, or ["*"])')
    neutral = set(settings.get("language_neutral", [])) - {r.name for r in rules}
    if neutral:
        raise ValueError(f"rule pack {name}: language_neutral names no rule: {sorted(neutral)}")
    return RulePack(name=name, version=str(raw.get("version", "0")), rules=rules, settings=settings)


PACKS = (
    "normalize", "boilerplate", "typos", "dedup", "learned", "urls", "authors", "dates", "pages",
)  # fmt: skip


@cache
def pack(name: str) -> RulePack:
    """A shipped pack, loaded and validated once per process."""
    return load_pack(name)


def boilerplate_pack() -> RulePack:
    return pack("boilerplate")


def normalize_pack() -> RulePack:
    return pack("normalize")
