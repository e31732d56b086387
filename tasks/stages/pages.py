"""The ``pages`` stage: what kind of page each document is, never a silent drop.

Scrapers save whatever a URL returned: section and tag pages (a list of headlines), photo
galleries, stubs ("Page not found"), paywall teasers. ``page_kind`` says which (``article``,
``listing``, ``gallery``, ``stub``, ``teaser``) and ``page_kind_reason`` why, from the text's
shape (how much of it is prose), its length, a paywall prompt at its end and the URL or title
naming a gallery. Rules and examples: rules/pages.toml. The run summary and report count each
kind; nothing is removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.rules import Rule, RulePack, pack
from newsclean.tasks.stages.base import BatchContext, NewColumn, Stage, register
from newsclean.tasks.stages.edits import StageResult, empty_edits

#: Every ``page_kind`` value (what ``--keep-kinds`` chooses from).
PAGE_KINDS = ("article", "stub", "teaser", "listing", "gallery")

COLUMNS = (
    NewColumn("page_kind", pa.string(), "article, listing, gallery, stub or teaser"),
    NewColumn(
        "page_kind_reason", pa.string(), "why a page is not an article (the rule and its figures)"
    ),
)
_SENTENCE_END = re.compile(r"[.!?…\"”»)]\s*$")


@dataclass(frozen=True)
class _Shape:
    words: int
    paragraphs: int
    prose_share: float
    median_words: float
    last: str


def _shapes(texts: pa.Array, prose_words: int) -> list[_Shape]:
    """Every text's shape from Arrow kernels over its paragraphs (splitting and counting
    words per paragraph in Python cost 9 % of the clean pass): words, paragraphs, the share
    of words in prose paragraphs, the median paragraph's words, the last paragraph."""
    lists = pc.split_pattern(pc.fill_null(texts, ""), "\n\n")
    parent = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    paragraphs = pc.list_flatten(lists)
    # Words as spaces + 1 in the trimmed paragraph: text reaching this stage has its
    # whitespace collapsed by normalize (a regex count or a split cost 4 to 6 times more).
    trimmed = pc.utf8_trim_whitespace(pc.fill_null(paragraphs, ""))
    gaps = pc.add(pc.count_substring(trimmed, " "), pc.count_substring(trimmed, "\n"))
    nonblank = np.asarray(pc.greater(pc.utf8_length(trimmed), 0), dtype=bool)
    words = (np.asarray(gaps, dtype=np.int64) + 1) * nonblank
    ends = np.asarray(pc.match_substring_regex(paragraphs, _SENTENCE_END.pattern), dtype=bool)
    keep = words > 0  # a blank paragraph is none
    parent, words, ends = parent[keep], words[keep], ends[keep]
    kept_text = paragraphs.filter(pa.array(keep))
    n = len(texts)
    total = np.bincount(parent, weights=words, minlength=n)
    count = np.bincount(parent, minlength=n)
    prose_total = np.bincount(parent, weights=words * ((words >= prose_words) & ends), minlength=n)
    order = np.lexsort((words, parent))  # by document, then words: a median by position
    starts = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    has = count > 0
    lasts = kept_text.take(pa.array((starts + count - 1)[has])).to_pylist()
    last_of = dict(zip(np.flatnonzero(has).tolist(), lasts, strict=True))
    shapes = []
    for i in range(n):
        c = int(count[i])
        if c == 0:
            shapes.append(_Shape(0, 0, 0.0, 0.0, ""))
            continue
        w = words[order[starts[i] : starts[i] + c]]
        median = float(w[c // 2]) if c % 2 else float(w[c // 2 - 1] + w[c // 2]) / 2
        shapes.append(
            _Shape(int(total[i]), c, float(prose_total[i] / total[i]), median, last_of[i])
        )
    return shapes


def page_kind(text: str, label: str, rules: RulePack) -> tuple[str, str | None]:
    """(kind, reason) of one page; ``label`` is its URL and title, for the gallery rule."""
    shape = _shapes(pa.array([text or ""], pa.string()), int(rules.settings["prose_words"]))[0]
    return _kind(shape, label, rules)


@cache
def _page_rules(rules: RulePack) -> dict[str, Rule]:
    return {r.name: r for r in rules.active if r.kind == "page"}


#: A paywall prompt closes the text: only the last paragraph's end is searched for one.
PROMPT_CHARS = 300


def _kind(shape: _Shape, label: str, rules: RulePack) -> tuple[str, str | None]:
    by_name = _page_rules(rules)
    stub, teaser = by_name["page.stub"], by_name["page.teaser"]
    listing, gallery = by_name["page.listing"], by_name["page.gallery"]
    if shape.words < stub.max_words and shape.prose_share == 0:
        return "stub", f"{stub.id}: {shape.words} words, no prose"
    if shape.words <= teaser.max_words and teaser.compiled().search(shape.last[-PROMPT_CHARS:]):
        return "teaser", f"{teaser.id}: {shape.words} words ending in a paywall prompt"
    p = listing.params
    if (
        shape.paragraphs >= p["min_paragraphs"]
        and shape.prose_share < p["max_prose_share"]
        and shape.median_words <= p["max_median_words"]
    ):
        return "listing", (
            f"{listing.id}: {shape.paragraphs} paragraphs, {shape.prose_share:.0%} prose, "
            f"median {shape.median_words:g} words"
        )
    if gallery.compiled().search(label) and shape.prose_share < gallery.params["max_prose_share"]:
        return "gallery", f"{gallery.id}: a gallery URL or title, {shape.prose_share:.0%} prose"
    return "article", None


@register
class PageKindStage(Stage):
    """``page_kind`` and ``page_kind_reason`` of every document."""

    name = "pages"
    version = 1
    description = "page kind: article, listing, gallery, stub or teaser, with the reason"
    reads = ("text", "title", "url")
    adds = COLUMNS

    def __init__(self, rules: RulePack | None = None) -> None:
        self.pack = rules or pack("pages")

    def resources(self) -> dict[str, str]:
        return {"rules:pages": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        labels = [
            f"{url or ''} | {title or ''}"
            for url, title in zip(
                batch.column("url").to_pylist(), batch.column("title").to_pylist(), strict=True
            )
        ]
        prose_words = int(self.pack.settings["prose_words"])
        shapes = _shapes(batch.column("text").combine_chunks(), prose_words)
        found = [
            _kind(shape, label, self.pack) for shape, label in zip(shapes, labels, strict=True)
        ]
        batch = COLUMNS[0].append(batch, [kind for kind, _ in found])
        return StageResult(COLUMNS[1].append(batch, [why for _, why in found]), empty_edits())
