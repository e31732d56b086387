"""Spacing stage: a space restored where a dropped link glued words, a broken URL joined.

Scrapers that drop a link's markup glue the words on either side ("region.Mr Stoltenberg");
a stray space splits a URL ("…vladimir-putin -crimea-annexation…"). The rules are data
(``insert-space`` and ``url-rejoin`` rules in ``rules/normalize.toml``), each with an RE2
``screen`` evaluated over the whole batch so Python only visits the documents it flags.

Two passes per document, each with exact spans in the text the stage received:

1. every ``insert-space`` rule finds its positions in the same text (the rules' patterns are
   punctuation-then-letter lookarounds that a space inserted elsewhere cannot create or
   destroy, so finding them together equals applying them one after another), outside URLs,
   e-mails, handles and domain names (``protect`` in the pack); a position two rules share is
   the first rule's. Each row shows the word around the insertion, cut at a neighbouring
   insertion so that rows never overlap;
2. ``url-rejoin`` joins URL fragments in the result; its match never contains a space the
   first pass inserted (a fragment starts with ``-``, ``_`` or ``/``), so its span maps back
   to the input exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache

import numpy as np
import pyarrow as pa

from newsclean.tasks.rules import Rule, RulePack, normalize_pack
from newsclean.tasks.schema import replace_column
from newsclean.tasks.stages.base import BatchContext, Stage, register
from newsclean.tasks.stages.edits import EditLog, Shifts, StageResult, word_context
from newsclean.tasks.stages.normalize import screen


@cache
def _protect_pattern(pack: RulePack) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in pack.settings.get("protect", [])))


def protected_spans(text: str, pack: RulePack) -> tuple[list[int], list[int]]:
    """Starts and ends of the URLs, e-mails, handles and domain names in ``text`` (sorted,
    non-overlapping), for O(log n) containment checks."""
    spans = [m.span() for m in _protect_pattern(pack).finditer(text)]
    return [s for s, _ in spans], [e for _, e in spans]


def _inside(pos: int, spans: tuple[list[int], list[int]]) -> bool:
    starts, ends = spans
    i = bisect_right(starts, pos) - 1
    return i >= 0 and starts[i] < pos < ends[i]


def insertion_points(text: str, rules: list[Rule], pack: RulePack) -> list[tuple[int, Rule]]:
    """Sorted ``(position, rule)`` of every space to insert, outside protected spans; a
    position matched by several rules belongs to the first in pack order. Protected spans are
    found once per document and looked up by bisection: linear in the text."""
    claimed: dict[int, Rule] = {}
    spans: tuple[list[int], list[int]] | None = None
    for rule in rules:
        for match in rule.compiled().finditer(text):
            pos = match.start()
            if pos in claimed:
                continue
            spans = spans or protected_spans(text, pack)
            if not _inside(pos, spans):
                claimed[pos] = rule
    return sorted(claimed.items(), key=lambda item: item[0])


def insert_spaces(
    text: str, rules: list[Rule], doc_id: str, log: EditLog, pack: RulePack
) -> tuple[str, Shifts]:
    """Insert the spaces of :func:`insertion_points`, one edit row per space with the word
    around it; returns the new text and the shifts that map it back to ``text``."""
    points = insertion_points(text, rules, pack)
    shifts = Shifts()
    if not points:
        return text, shifts
    positions = [pos for pos, _ in points]
    pieces: list[str] = []
    last = 0
    for k, (pos, rule) in enumerate(points):
        start, end = word_context(text, pos, pos)
        start = max(start, positions[k - 1] if k else 0)
        end = min(end, positions[k + 1] if k + 1 < len(points) else len(text))
        log.add(
            doc_id,
            rule.id,
            text[start:end],
            f"{text[start:pos]} {text[pos:end]}",
            start=start,
            end=end,
        )
        pieces += [text[last:pos], " "]
        shifts.replaced(pos, pos, 1)
        last = pos
    pieces.append(text[last:])
    shifts.next_rule()
    return "".join(pieces), shifts


def rejoin_urls(
    text: str,
    rule: Rule,
    doc_id: str,
    log: EditLog,
    shifts: Shifts | None = None,
    field: str = "text",
) -> str:
    """Join the fragments of a URL split by stray spaces (all of them, in one pass); spans
    are mapped to the stage's input through ``shifts``."""
    shifts = shifts or Shifts()

    def join(match: re.Match[str]) -> str:
        joined = match.group(1) + match.group(2).replace(" ", "")
        start, end = shifts.to_input(match.start()), shifts.to_input(match.end())
        log.add(doc_id, rule.id, match.group(0), joined, start=start, end=end, field=field)
        return joined

    return rule.compiled().sub(join, text)


@register
class SpacingStage(Stage):
    """Missing spaces after sentence punctuation, titles, figures and commas; broken URLs in
    ``text`` and ``url``."""

    name = "spacing"
    version = 1
    description = "spaces restored where links glued words; URLs split by a space joined"
    reads = ("doc_id", "text", "url")
    writes = ("text", "url")

    def __init__(self, pack: RulePack | None = None) -> None:
        self.pack = pack or normalize_pack()
        self.insert_rules = self.pack.by_kind("insert-space")
        (self.url_rule,) = self.pack.by_kind("url-rejoin")

    def resources(self) -> dict[str, str]:
        return {"rules:normalize": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        log = EditLog(self.name)
        doc_ids = batch.column("doc_id").to_pylist()
        column = batch.column("text")
        texts = column.to_pylist()
        flagged: dict[int, list[Rule]] = {}
        for rule in self.insert_rules:
            for i in np.flatnonzero(screen(column, rule.screen)):
                flagged.setdefault(int(i), []).append(rule)
        url_docs = {int(i) for i in np.flatnonzero(screen(column, self.url_rule.screen))}
        for i in sorted(flagged.keys() | url_docs):
            shifts = None
            if i in flagged:
                texts[i], shifts = insert_spaces(texts[i], flagged[i], doc_ids[i], log, self.pack)
            if i in url_docs:
                texts[i] = rejoin_urls(texts[i], self.url_rule, doc_ids[i], log, shifts)
        urls = batch.column("url").to_pylist()
        for i, url in enumerate(urls):
            if url:
                urls[i] = rejoin_urls(url.strip(), self.url_rule, doc_ids[i], log, field="url")
        table = replace_column(batch, "text", texts)
        return StageResult(replace_column(table, "url", urls), log.to_table())
