"""Boilerplate stage: remove credits, captions, footers, share bars and ads, keeping a record.

The rules are data (``rules/boilerplate.toml``). All patterns are combined into one
alternation tried once per paragraph, and only on the paragraphs an RE2 screen over the whole
batch flags (:mod:`~newsclean.tasks.stages.paragraph_screen`: a proven superset of the rules,
one anchored pass in C; 18 separate unanchored RE2 screens had cost more than the whole
Python pass). Rules match whole paragraphs, so a body sentence that merely
mentions "Getty Images" or a source never matches; patterns are RE2-compatible (checked at
load), so they have no look-arounds or back-references.

Each removal is one row whose span is exactly what left the stage's input: the paragraph(s)
and one blank-line separator (:func:`~newsclean.tasks.stages.edits.paragraph_spans`), or the
leading part a ``span`` rule cut from a paragraph.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache

import pyarrow as pa

from newsclean.tasks.rules import Rule, RulePack, boilerplate_pack
from newsclean.tasks.schema import replace_column
from newsclean.tasks.stages.base import BatchContext, Stage, register
from newsclean.tasks.stages.edits import EditLog, StageResult, paragraph_spans
from newsclean.tasks.stages.paragraph_screen import BatchParagraphs, screen_pattern

_SENTENCE_END = tuple('.!?"”’')
_FOLD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4)
def fold(text: str) -> str:
    """Case and punctuation folded form, for comparing a paragraph with the headline.

    The headline check runs twice per document (before and after the other rules), most
    often on the same title and first paragraph: four entries keep one document's folds (and
    bound what the cache holds to four texts)."""
    return _FOLD.sub(" ", text.casefold()).strip()


def _word_count(text: str) -> int:
    return text.count(" ") + 1


@dataclass
class _Doc:
    """One document's paragraphs while rules are applied to it, and its removals as
    ``(rule id, first, last, lo, hi)`` rows in the coordinates of its original paragraphs
    (``cut[i]``: characters a ``span`` rule took from the front of paragraph ``i``)."""

    doc_id: str
    paragraphs: list[str]
    removed: list[bool]
    captions: list[str] = field(default_factory=list)
    source_url: str | None = None
    rows: list[tuple[str, int, int, int, int | None]] = field(default_factory=list)
    cut: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lengths = [len(p) for p in self.paragraphs]
        self.cut = [0] * len(self.paragraphs)

    def alive(self, i: int) -> bool:
        return 0 <= i < len(self.paragraphs) and not self.removed[i]

    def remove(self, rule_id: str, first: int, last: int | None = None) -> None:
        """Paragraphs ``first..last`` leave the text (what is left of them)."""
        last = first if last is None else last
        for i in range(first, last + 1):
            self.removed[i] = True
        self.rows.append((rule_id, first, last, self.cut[first], None))

    def cut_front(self, rule_id: str, i: int, length: int) -> None:
        """The first ``length`` characters of what is left of paragraph ``i`` go."""
        lo = self.cut[i]
        rest = self.paragraphs[i][length:]
        if not rest:
            self.removed[i] = True
            self.rows.append((rule_id, i, i, lo, None))
            return
        self.paragraphs[i] = rest
        self.cut[i] = lo + length
        self.rows.append((rule_id, i, i, lo, lo + length))

    def text(self) -> str:
        return "\n\n".join(
            p for p, gone in zip(self.paragraphs, self.removed, strict=True) if not gone
        )

    def log_rows(self, source: str, log: EditLog) -> None:
        """One edit row per removal: ``before`` is what was removed, its span in ``source``
        (the input text) also covers the blank line or spaces that went with it."""
        spans = paragraph_spans(self.lengths, self.removed, [row[1:] for row in self.rows])
        for (rule_id, *_), (start, end) in zip(self.rows, spans, strict=True):
            log.add(self.doc_id, rule_id, source[start:end].strip(), "", start=start, end=end)


def _matches(rule: Rule, paragraph: str) -> re.Match[str] | None:
    if _word_count(paragraph) > rule.max_words:
        return None
    pattern = rule.compiled()
    return pattern.match(paragraph) if rule.kind == "span" else pattern.fullmatch(paragraph)


def _is_caption(paragraph: str, max_words: int) -> bool:
    """Captions are short and, unlike body paragraphs, do not end like a sentence."""
    return _word_count(paragraph) <= max_words and not paragraph.endswith(_SENTENCE_END)


_NEVER = re.compile(r"(?!)")


def combined_pattern(rules: list[Rule]) -> re.Pattern[str]:
    """All rules as one alternation, tried once per paragraph in C instead of once per rule.

    Branch ``r<i>`` is rule ``i``; whole-paragraph rules end in ``\\Z`` (fullmatch), "span"
    rules only anchor at the start. Named groups are prefixed so they stay unique; the winning
    rule is re-matched on its own to read its groups. No rules: a pattern that never
    matches (an empty alternation would match every paragraph).
    """
    if not rules:
        return _NEVER
    branches = []
    for i, rule in enumerate(rules):
        body = rule.pattern.replace("(?P<", f"(?P<r{i}_")
        if rule.ignore_case:
            body = f"(?i:{body})"
        branches.append(f"(?P<r{i}>{body})" + ("" if rule.kind == "span" else r"\Z"))
    return re.compile("|".join(branches))


#: Rules over several paragraphs, applied after the one-paragraph rules (:class:`_Structure`).
STRUCTURAL_KINDS = ("line", "link-block", "comment-tail", "repeat", "edge", "edge-run")
#: The structural kinds matched as short paragraphs (:class:`_ShortMatcher`).
SHORT_KINDS = ("line", "link-block", "comment-tail")
#: Paragraphs up to this long are tried against every short-paragraph rule (_ShortMatcher).
SHORT_CHARS = 210


def _is_headline_like(paragraph: str, max_words: int) -> bool:
    """An item of a link block: short and not a sentence (headlines do not end in . ! ? :)."""
    stripped = paragraph.rstrip()
    return _word_count(stripped) <= max_words and not stripped.endswith((".", "!", "?", ":", ";"))


class _ShortMatcher:
    """Rules for short paragraphs as anchored alternations, tried only on paragraphs short
    enough (``max_words`` words of 15 characters): every rule for paragraphs of up to
    ``SHORT_CHARS`` characters, only the rules that allow longer ones beyond. A paragraph
    costs a ``len`` and at most one match that fails at its first words."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.max_chars = 15 * max((r.max_words for r in rules), default=0)
        self.combined = combined_pattern(rules) if rules else None
        self.long_rules = [r for r in rules if 15 * r.max_words > SHORT_CHARS]
        self.long = combined_pattern(self.long_rules) if self.long_rules else None

    def first_match(self, paragraph: str) -> Rule | None:
        size = len(paragraph)
        if self.combined is None or size > self.max_chars:
            return None
        rules, pattern = (
            (self.rules, self.combined) if size <= SHORT_CHARS else (self.long_rules, self.long)
        )
        if pattern is None:
            return None
        hit = pattern.match(paragraph)
        if hit is None:
            return None
        first = next(i for i in range(len(rules)) if hit.group(f"r{i}") is not None)
        return next((r for r in rules[first:] if _matches(r, paragraph)), None)


class _Structure:
    """The structural rules that run on one language, applied in one pass over a
    document's paragraphs: one combined match per short paragraph finds ``line`` rules
    (the paragraph goes) and ``link-block`` / ``comment-tail`` headers (their runs go
    next), then ``repeat`` and ``edge`` rules run. No rule empties a document."""

    def __init__(self, rules: list[Rule]) -> None:
        self.short = _ShortMatcher([r for r in rules if r.kind in SHORT_KINDS])
        self.repeats = [r for r in rules if r.kind == "repeat"]
        self.edges = [r for r in rules if r.kind == "edge"]
        self.edge_runs = [r for r in rules if r.kind == "edge-run"]

    def apply(self, doc: _Doc, candidates: Sequence[int] | None = None) -> None:
        """``candidates``: the paragraphs a screen found the short rules may match (a
        paragraph a ``span`` rule cut is tried too); None: every paragraph."""
        alive = len(doc.paragraphs) - sum(doc.removed)
        hits: list[tuple[int, Rule]] = []
        for i in _tried(doc, candidates):
            if doc.removed[i]:
                continue
            paragraph = doc.paragraphs[i]
            rule = self.short.first_match(paragraph)
            if rule is None:
                continue
            if rule.kind != "line":
                hits.append((i, rule))  # a header: its run is taken below
            elif alive > 1:
                doc.remove(rule.id, i)
                alive -= 1
        for i, rule in hits:
            if doc.alive(i):
                run = _link_run(doc, i, rule) if rule.kind == "link-block" else _tail(doc, i, rule)
                if run and len(run) < alive:
                    for k in run:
                        doc.remove(rule.id, k)
                    alive -= len(run)
        for rule in self.repeats:
            _repeated_paragraphs(doc, rule)
        for rule in self.edges:
            _at_edges(doc, rule)
        for rule in self.edge_runs:
            _edge_runs(doc, rule)


def _tried(doc: _Doc, candidates: Sequence[int] | None) -> Sequence[int]:
    """The paragraphs to try, in order: the screen's candidates and any a span rule cut
    (the screen saw them whole)."""
    if candidates is None:
        return range(len(doc.paragraphs))
    if not any(doc.cut):
        return candidates
    return sorted({*candidates, *(k for k, n in enumerate(doc.cut) if n)})


def _link_run(doc: _Doc, i: int, rule: Rule) -> list[int]:
    """A link block's header at ``i`` ("Related Articles", "Lesen Sie auch") and the run of
    headline-like paragraphs after it; a body paragraph ends the run."""
    max_words = int(rule.params.get("max_item_words", 14))
    run = [i]
    for j in range(i + 1, len(doc.paragraphs)):
        if not doc.alive(j):
            continue
        if not _is_headline_like(doc.paragraphs[j], max_words):
            break
        run.append(j)
    return run


def _tail(doc: _Doc, i: int, rule: Rule) -> list[int]:
    """A comments header at ``i`` ("Leave a Reply", "3 Comments") and everything after it,
    when at least ``after_share`` of the text comes before it (comment threads follow the
    article) and the tail is at most ``max_tail_share`` of it (else it is article)."""
    sizes = [0 if gone else len(p) for p, gone in zip(doc.paragraphs, doc.removed, strict=True)]
    total, before = sum(sizes), sum(sizes[:i])
    if before < float(rule.params.get("after_share", 0.5)) * total:
        return []
    if total - before > float(rule.params.get("max_tail_share", 1.0)) * total:
        return []
    return [k for k in range(i, len(doc.paragraphs)) if doc.alive(k)]


def _repeated_paragraphs(doc: _Doc, rule: Rule) -> None:
    """A paragraph of ``min_words``+ words printed exactly twice in the same text: the later
    copy goes. Three or more copies are a listing the page repeats on purpose (an event
    blurb under every date) and stay. Paragraphs are compared as they are (one hash each):
    normalize has already folded their whitespace."""
    copies = Counter(doc.paragraphs)
    if max(copies.values(), default=0) < 2:
        return
    min_words = int(rule.params.get("min_words", 8))
    seen: set[str] = set()
    for i, paragraph in enumerate(doc.paragraphs):
        if copies[paragraph] != 2 or not doc.alive(i) or _word_count(paragraph) < min_words:
            continue
        if paragraph in seen:
            doc.remove(rule.id, i)
        seen.add(paragraph)


def _edge_runs(doc: _Doc, rule: Rule) -> None:
    """Runs of ``min_run``+ menu-like paragraphs (at most ``max_words`` words, no sentence
    punctuation, no digits) that open or close the text, one of them a ``menu_words`` entry:
    navigation ("Home", "Blog", "About", "Contact Us") the extractor kept. A single short
    line (a heading) and a list without a menu word (an ingredient list: "Salt", "Pepper")
    stay."""
    max_words, min_run = rule.max_words, int(rule.params.get("min_run", 2))
    menu_words = _menu_words(rule)
    alive = [k for k, gone in enumerate(doc.removed) if not gone]

    def menu(k: int) -> bool:
        text = doc.paragraphs[k].strip()
        return (
            bool(text)
            and _word_count(text) <= max_words
            and not text.endswith((".", "!", "?", ":", ";", ",", '"', "”"))
            and not any(c.isdigit() for c in text)
        )

    for run in (_leading(alive, menu), _leading(alive[::-1], menu)):
        named = any(doc.paragraphs[k].strip().casefold() in menu_words for k in run)
        if named and len(run) >= min_run and len(run) < len(alive):
            for k in run:
                if doc.alive(k):
                    doc.remove(rule.id, k)
            alive = [k for k in alive if k not in run]


@cache
def _menu_words(rule: Rule) -> frozenset[str]:
    """An edge-run rule's menu words, folded once per process instead of once per document."""
    return frozenset(w.casefold() for w in rule.params.get("menu_words", []))


def _leading(indices: list[int], test: Callable[[int], bool]) -> list[int]:
    """The first ``indices`` that pass ``test``, up to the first that does not."""
    run = []
    for k in indices:
        if not test(k):
            break
        run.append(k)
    return run


def _at_edges(doc: _Doc, rule: Rule) -> None:
    """A paragraph the rule matches among the last ``last`` (and first ``first``) kept
    paragraphs: author bios and tip lines sit at the edges of an article, where the same
    sentence inside it would be news."""
    alive = [k for k, gone in enumerate(doc.removed) if not gone]
    first, last = int(rule.params.get("first", 0)), int(rule.params.get("last", 3))
    edges = alive[:first] + alive[max(first, len(alive) - last) :]
    for k in edges:
        paragraph = doc.paragraphs[k]
        if len(paragraph) <= 15 * rule.max_words and _matches(rule, paragraph) and len(alive) > 1:
            doc.remove(rule.id, k)
            alive.remove(k)


class _Applier:
    """Applies the pack's pattern rules to a document's paragraphs, in pack order."""

    def __init__(self, pack: RulePack) -> None:
        self.caption_max_words = int(pack.settings.get("caption_max_words", 40))
        self.max_paragraph_chars = int(pack.settings.get("max_paragraph_chars", 3000))
        self.rules = [r for r in pack.active if r.kind not in ("headline", *STRUCTURAL_KINDS)]
        self.spans = [r for r in self.rules if r.kind == "span"]
        self.branch_rules = [r for r in self.rules if not r.ends_with]
        self.combined = combined_pattern(self.branch_rules)
        self.combined_spans = combined_pattern(self.spans)
        self.suffixes = tuple({r.ends_with for r in self.rules if r.ends_with})
        self.credit_rules = pack.by_kind("credit")

    @cached_property
    def screen(self) -> str | None:
        """RE2 screen of what :meth:`first_match` can find (a combined branch or a span rule;
        :attr:`suffixes` are screened apart). Built on first use: the stage screens with its
        full pack's applier only, not with each language's."""
        return screen_pattern([r for r in self.rules if not r.ends_with or r.kind == "span"])

    def _is_credit(self, paragraph: str) -> bool:
        return any(_matches(r, paragraph) for r in self.credit_rules)

    def first_match(self, paragraph: str, domain: str | None) -> tuple[Rule, re.Match[str]] | None:
        """The first rule (pack order) that matches and applies to this publisher.

        Fast path: one combined regex call, plus one ``endswith`` for the rules that declare
        ``ends_with`` (scanning patterns kept out of the combined regex: they are slow on the
        long paragraphs that cannot match them anyway). Only from the combined regex's first
        hit on are rules tried one by one, for their groups, publishers and word limits.
        """
        if len(paragraph) > self.max_paragraph_chars:
            pool, branches, regex, suffix = self.spans, self.spans, self.combined_spans, False
        else:
            pool, branches, regex = self.rules, self.branch_rules, self.combined
            suffix = bool(self.suffixes) and paragraph.endswith(self.suffixes)
        hit = regex.match(paragraph)
        if hit is None and not suffix:
            return None
        start = len(pool)
        if hit is not None:
            first = next(r for i, r in enumerate(branches) if hit.group(f"r{i}") is not None)
            start = pool.index(first)
        for k, rule in enumerate(pool):
            if k < start and not (suffix and rule.ends_with):
                continue
            if rule.ends_with and not paragraph.endswith(rule.ends_with):
                continue
            if rule.domains and domain not in rule.domains:
                continue
            match = _matches(rule, paragraph)
            if match:
                return rule, match
        return None

    def apply(self, doc: _Doc, domain: str | None, candidates: Sequence[int] | None = None) -> None:
        """Rules in pack order on every paragraph, or only on ``candidates`` (the paragraphs a
        screen of :attr:`screen` and :attr:`suffixes` found; the others match no rule)."""
        for i in range(len(doc.paragraphs)) if candidates is None else candidates:
            for _ in range(len(self.rules)):  # a "span" removal may uncover another rule
                if not doc.alive(i):
                    break
                found = self.first_match(doc.paragraphs[i], domain)
                if found is None:
                    break
                rule, match = found
                getattr(self, "_" + rule.kind)(doc, i, rule, match)

    def _drop(self, doc: _Doc, i: int, rule: Rule, _match: re.Match[str]) -> None:
        doc.remove(rule.id, i)

    def _credit(self, doc: _Doc, i: int, rule: Rule, _match: re.Match[str]) -> None:
        neighbour = {"next": i + 1, "previous": i - 1}.get(rule.caption, -1)
        if doc.alive(neighbour):
            candidate = doc.paragraphs[neighbour]
            if not self._is_credit(candidate) and _is_caption(candidate, self.caption_max_words):
                doc.captions.append(candidate)
                doc.remove(rule.id, min(i, neighbour), max(i, neighbour))
                return
        doc.remove(rule.id, i)

    def _captioned(self, doc: _Doc, i: int, rule: Rule, match: re.Match[str]) -> None:
        caption = (match.group("caption") or "").strip()
        if caption:
            doc.captions.append(caption)
        self._drop(doc, i, rule, match)

    def _source(self, doc: _Doc, i: int, rule: Rule, match: re.Match[str]) -> None:
        doc.source_url = doc.source_url or match.group("url")
        self._drop(doc, i, rule, match)

    def _span(self, doc: _Doc, i: int, rule: Rule, match: re.Match[str]) -> None:
        paragraph = doc.paragraphs[i]
        rest = paragraph[match.end() :].lstrip()
        doc.cut_front(rule.id, i, len(paragraph) - len(rest))


def _repeated_headline(doc: _Doc, title: str | None, rule: Rule) -> None:
    """Drop leading paragraphs that repeat the headline (scrapers often prepend it)."""
    if not title:
        return
    folded_title = fold(title)
    if not folded_title:
        return
    for i, paragraph in enumerate(doc.paragraphs):
        if doc.removed[i]:
            continue
        if fold(paragraph) != folded_title:
            return
        doc.remove(rule.id, i)


@register
class BoilerplateStage(Stage):
    """Remove boilerplate paragraphs; captions move to ``captions``, Source URLs fill ``url``."""

    name = "boilerplate"
    version = 2
    description = (
        "credits and captions, source footers, tails, share bars, ads, promos; English phrase "
        "rules only on text not identified as another language"
    )
    reads = ("doc_id", "text", "title", "url", "domain", "captions", "language")
    writes = ("text", "url", "captions")

    def __init__(self, pack: RulePack | None = None) -> None:
        self.pack = pack or boilerplate_pack()
        self.headline_rules = self.pack.by_kind("headline")
        self.applier = _Applier(self.pack)
        self._appliers: dict[str | None, _Applier] = {}
        self._structure: dict[str | None, _Structure] = {}
        # Every language's rules are a subset of the pack's: one screen serves them all.
        self.short_screen = screen_pattern(self.pack.by_kind(*SHORT_KINDS))

    @classmethod
    def preload(cls) -> None:
        """The shipped pack's paragraph screens, built in the process workers fork from
        (:func:`screen_pattern` keeps them per process): about 0.1 s per worker and phase."""
        _ = cls().applier.screen

    def structure_for(self, language: str | None) -> _Structure:
        """The structural rules that run on a text of ``language``, combined once."""
        if language not in self._structure:
            rules = [
                r for r in self.pack.by_kind(*STRUCTURAL_KINDS) if self.pack.applies_to(r, language)
            ]
            self._structure[language] = _Structure(rules)
        return self._structure[language]

    def applier_for(self, language: str | None) -> _Applier:
        """The one-paragraph rules that run on a text of ``language`` (the pack's
        ``languages`` and ``language_neutral``), built once per language."""
        if language not in self._appliers:
            rules = tuple(r for r in self.pack.rules if self.pack.applies_to(r, language))
            if len(rules) == len(self.pack.rules):
                self._appliers[language] = self.applier
            else:
                self._appliers[language] = _Applier(dataclasses.replace(self.pack, rules=rules))
        return self._appliers[language]

    def resources(self) -> dict[str, str]:
        return {"rules:boilerplate": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        log = EditLog(self.name)
        doc_ids = batch.column("doc_id").to_pylist()
        texts = batch.column("text").to_pylist()
        titles = batch.column("title").to_pylist()
        urls = batch.column("url").to_pylist()
        domains = batch.column("domain").to_pylist()
        captions = batch.column("captions").to_pylist()
        languages = batch.column("language").to_pylist()
        split = BatchParagraphs(batch.column("text"))
        applier_at = split.candidates(self.applier.screen, self.applier.suffixes)
        short_at = split.candidates(self.short_screen)
        for i, text in enumerate(texts):
            if not text:
                continue
            paragraphs = text.split("\n\n")
            doc = _Doc(doc_ids[i], paragraphs, [False] * len(paragraphs))
            screened = len(paragraphs) == split.count(i)  # Arrow split it the same way
            for rule in self.headline_rules:
                _repeated_headline(doc, titles[i], rule)
            self.applier_for(languages[i]).apply(
                doc, domains[i], applier_at[i] if applier_at is not None and screened else None
            )
            self.structure_for(languages[i]).apply(
                doc, short_at[i] if short_at is not None and screened else None
            )
            for rule in self.headline_rules:  # junk above a repeated headline is gone now
                _repeated_headline(doc, titles[i], rule)
            if not doc.rows:
                continue
            doc.log_rows(text, log)
            texts[i] = doc.text()
            captions[i] = [*(captions[i] or []), *doc.captions]
            if doc.source_url and not urls[i]:
                urls[i] = doc.source_url
        table = replace_column(batch, "text", texts)
        table = replace_column(table, "url", urls)
        table = replace_column(table, "captions", captions)
        return StageResult(table, log.to_table())


def strip_boilerplate(batch: pa.Table, pack: RulePack | None = None) -> StageResult:
    """:class:`BoilerplateStage` over one batch (tests, tools); a batch without a
    ``language`` column counts as of unknown language (every rule runs)."""
    if "language" not in batch.column_names:
        batch = batch.append_column("language", pa.nulls(batch.num_rows, pa.string()))
        result = BoilerplateStage(pack).process(batch, BatchContext())
        return dataclasses.replace(result, table=result.table.drop_columns(["language"]))
    return BoilerplateStage(pack).process(batch, BatchContext())
