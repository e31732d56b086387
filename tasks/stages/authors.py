"""The ``authors`` stage: people in ``authors``, organisations in ``author_orgs``.

Scrapers fill the author field with whatever stood near the byline: "By", job titles ("Senior
Reporter"), time words ("Hours Ago Jon Russell"), addresses and handles, agencies, a site's
slogan; and a plain split at commas breaks "Smith, John" and "Dylan Bailey, MS, RD" apart.
The rules (rules/authors.toml, with real examples) clean item by item; every removal or
change is an edit of field ``authors`` (``before`` the item, ``after`` what is left, "" when
it goes), and an organisation moves to ``author_orgs`` rather than disappearing.
"""

from __future__ import annotations

import html
import re

import pyarrow as pa

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.stages.base import BatchContext, NewColumn, Stage, register
from newsclean.tasks.stages.edits import EditLog, StageResult

ORGS = NewColumn(
    "author_orgs",
    pa.list_(pa.string()),
    "organisations named in the author field (agencies, publications), kept apart from people",
)
_SEPARATORS = re.compile(r"\s*(?:;|\||\s&\s|,?\s+and\s+|\s+und\s+|\s+et\s+|\s+y\s+)\s*", re.I)
_CREDENTIAL = re.compile(r"^(?:[A-Z][A-Za-z]?\.?)+(?:[ -]?[A-Z0-9]+\.?)*$|^(?:jr|sr|ii|iii|iv)\.?$")
_EDGE = " \t\r\n,.;:|-–—·•/"


def split_field(value: str) -> list[str]:
    """One author field's people: split at separators and commas, except that a comma
    followed by a single word or by credentials keeps it with the name before it."""
    segments: list[str] = []
    for part in _SEPARATORS.split(value):
        for piece in part.split(","):
            piece = piece.strip()
            if not piece:
                continue
            words = piece.split()
            with_name = segments and (len(words) == 1 or _CREDENTIAL.match(piece))
            if with_name and not _ends_sentence(segments[-1]):
                segments[-1] = f"{segments[-1]}, {piece}"
            else:
                segments.append(piece)
    return segments


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "!", "?")) and not _CREDENTIAL.match(text.split()[-1])


class AuthorCleaner:
    """The pack's author rules, compiled once."""

    def __init__(self, rules: RulePack) -> None:
        self.rules = rules
        by_name = {r.name: r for r in rules.active if r.kind == "author"}
        self.split_id = by_name["author.split"].id
        self.patterns = [
            (by_name[name].id, by_name[name].compiled())
            for name in (
                "author.byline-prefix",
                "author.time-words",
                "author.contact",
                "author.placeholder",
            )
        ]
        self.entities_id = rules.get("author.entities").id
        role, org, sentence = (
            by_name["author.role"],
            by_name["author.org"],
            by_name["author.not-a-name"],
        )
        self.role_id, self.roles = role.id, frozenset(role.params["roles"])
        self.org_id, self.org_words = org.id, frozenset(org.params["words"])
        self.agencies = frozenset(org.params["agencies"])
        self.sentence_id, self.sentence_words = sentence.id, frozenset(sentence.params["words"])

    def decoded(self, items: list[str], doc_id: str, log: EditLog) -> list[str]:
        """The items with HTML entities decoded (before any split: "&amp;" holds a ";")."""
        out = []
        for item in items:
            value = html.unescape(item) if item and "&" in item else item
            if value != item:
                log.add(doc_id, self.entities_id, item, value, field="authors")
            out.append(value)
        return out

    def clean(self, items: list[str], doc_id: str, log: EditLog) -> tuple[list[str], list[str]]:
        """(people, organisations) of one document's author items, edits logged."""
        people: list[str] = []
        orgs: list[str] = []
        for item in items:
            for segment in split_field(item) if item else ():
                kind, value = self._item(segment, doc_id, log)
                into = people if kind == "person" else orgs if kind == "org" else None
                if into is not None and value not in into:
                    into.append(value)
        return people, orgs

    def _item(self, segment: str, doc_id: str, log: EditLog) -> tuple[str, str]:
        value = segment
        for rule_id, pattern in self.patterns:
            if not pattern.search(value):
                continue
            cleaned = " ".join(pattern.sub(" ", value).strip(_EDGE).split())
            if cleaned != value:
                log.add(doc_id, rule_id, value, cleaned, field="authors")
                value = cleaned
        if not value:
            return "gone", ""
        words = [w.strip(_EDGE).lower() for w in value.split()]
        if any(w in self.sentence_words for w in words):
            log.add(doc_id, self.sentence_id, value, "", field="authors")
            return "gone", ""
        if words and words[-1] in self.roles:
            log.add(doc_id, self.role_id, value, "", field="authors")
            return "gone", ""
        if value.lower() in self.agencies or any(w in self.org_words for w in words):
            log.add(doc_id, self.org_id, value, "", field="authors")
            return "org", value
        return "person", value


@register
class AuthorStage(Stage):
    """Clean ``authors``; add ``author_orgs``."""

    name = "authors"
    version = 1
    description = "authors cleaned of bylines, roles, time words, contacts; organisations apart"
    reads = ("doc_id", "authors")
    writes = ("authors",)
    adds = (ORGS,)

    def __init__(self, rules: RulePack | None = None) -> None:
        self.pack = rules or pack("authors")
        self.cleaner = AuthorCleaner(self.pack)

    def resources(self) -> dict[str, str]:
        return {"rules:authors": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        log = EditLog(self.name)
        people, orgs = [], []
        for doc_id, items in zip(
            batch.column("doc_id").to_pylist(), batch.column("authors").to_pylist(), strict=True
        ):
            decoded = self.cleaner.decoded(items or [], doc_id, log)
            kept, found = self.cleaner.clean(decoded, doc_id, log)
            people.append(kept)
            orgs.append(found)
        index = batch.schema.get_field_index("authors")
        batch = batch.set_column(
            index, batch.schema.field(index), pa.array(people, pa.list_(pa.string()))
        )
        return StageResult(ORGS.append(batch, orgs), log.to_table())
