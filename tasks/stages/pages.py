"""The ``pages`` stage: what kind of page each document is, never a silent drop.

Scrapers save whatever a URL returned: section and tag pages (a list of headlines), photo
galleries, stubs ("Page not found"), paywall teasers. ``page_kind`` says which (``article``,
``listing``, ``gallery``, ``stub``, ``teaser``) and ``page_kind_reason`` why, from the text's
shape (how much of it is prose), its length, a paywall prompt at its end, slide counters, the
URL or title naming a gallery and a URL naming an index (``/tag/…``, ``/category/…/page/3/``).
Rules and examples: rules/pages.toml. Each rule's ``kind`` names its check below; the first
rule in pack order whose check holds names the page. The run summary and report count each
kind; nothing is removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

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
#: A slideshow's counter on a line of its own ("2/5", "3 / 12").
_SLIDE_COUNTER = r"(?m)^\s*\d{1,3} ?/ ?\d{1,3}\s*$"


@dataclass(frozen=True)
class _Shape:
    words: int
    paragraphs: int
    prose_share: float
    median_words: float
    last: str
    slide_counters: int = 0


@dataclass(frozen=True)
class _Page:
    """What a check reads besides the text's shape."""

    url: str
    title: str

    @property
    def label(self) -> str:
        return f"{self.url} | {self.title}"


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
    counters = np.asarray(
        pc.count_substring_regex(pc.fill_null(texts, ""), _SLIDE_COUNTER), dtype=np.int64
    )
    shapes = []
    for i in range(n):
        c = int(count[i])
        if c == 0:
            shapes.append(_Shape(0, 0, 0.0, 0.0, ""))
            continue
        w = words[order[starts[i] : starts[i] + c]]
        median = float(w[c // 2]) if c % 2 else float(w[c // 2 - 1] + w[c // 2]) / 2
        prose = float(prose_total[i] / total[i])
        shapes.append(_Shape(int(total[i]), c, prose, median, last_of[i], int(counters[i])))
    return shapes


def page_kind(text: str, url: str, title: str, rules: RulePack) -> tuple[str, str | None]:
    """(kind, reason) of one page."""
    shape = _shapes(pa.array([text or ""], pa.string()), int(rules.settings["prose_words"]))[0]
    return _kind(shape, _Page(url or "", title or ""), rules)


# --------------------------------------------------------------------------- the checks
# One function per rule kind: the reason (its figures) when the page is of that kind, else
# None. Each is its rule kind's code in rules/pages.toml, so a change to one check needs a
# new version of its rules only.


def _stub(shape: _Shape, page: _Page, rule: Rule) -> str | None:
    if shape.words < rule.max_words and shape.prose_share == 0:
        return f"{shape.words} words, no prose"
    return None


#: A paywall prompt is looked for in the last this many characters of the last paragraph.
PROMPT_CHARS = 300


def _teaser(shape: _Shape, page: _Page, rule: Rule) -> str | None:
    if shape.words <= rule.max_words and rule.compiled().search(shape.last[-PROMPT_CHARS:]):
        return f"{shape.words} words ending in a paywall prompt"
    return None


def _listing(shape: _Shape, page: _Page, rule: Rule) -> str | None:
    p = rule.params
    if (
        shape.paragraphs >= p["min_paragraphs"]
        and shape.prose_share < p["max_prose_share"]
        and shape.median_words <= p["max_median_words"]
    ):
        return (
            f"{shape.paragraphs} paragraphs, {shape.prose_share:.0%} prose, "
            f"median {shape.median_words:g} words"
        )
    return None


def _gallery(shape: _Shape, page: _Page, rule: Rule) -> str | None:
    few_prose = shape.prose_share < rule.params["max_prose_share"]
    slides = shape.slide_counters >= rule.params["min_slide_counters"]
    if not (few_prose or slides) or not rule.compiled().search(page.label):
        return None  # the shape first: most pages are prose, and the search costs more
    if few_prose:
        return f"a gallery URL or title, {shape.prose_share:.0%} prose"
    return f"a gallery URL or title, {shape.slide_counters} slide counters"


def _index(shape: _Shape, page: _Page, rule: Rule) -> str | None:
    try:
        path = urlsplit(page.url).path
    except ValueError:
        return None
    if shape.words <= rule.max_words and rule.compiled().search(path):
        return f"an index URL ({path}), {shape.words} words"
    return None


_Check = Callable[[_Shape, _Page, Rule], str | None]
#: Rule kind → (the page kind it names, its check).
CHECKS: dict[str, tuple[str, _Check]] = {
    "page-stub": ("stub", _stub),
    "page-teaser": ("teaser", _teaser),
    "page-listing": ("listing", _listing),
    "page-gallery": ("gallery", _gallery),
    "page-index": ("listing", _index),
}


def _kind(shape: _Shape, page: _Page, rules: RulePack) -> tuple[str, str | None]:
    for rule in _page_rules(rules):
        kind, check = CHECKS[rule.kind]
        why = check(shape, page, rule)
        if why is not None:
            return kind, f"{rule.id}: {why}"
    return "article", None


@cache
def _page_rules(rules: RulePack) -> tuple[Rule, ...]:
    """The pack's page rules, in pack order (the first that holds names the page)."""
    return tuple(r for r in rules.active if r.kind in CHECKS)


@register
class PageKindStage(Stage):
    """``page_kind`` and ``page_kind_reason`` of every document."""

    name = "pages"
    version = 2
    description = "page kind: article, listing, gallery, stub or teaser, with the reason"
    reads = ("text", "title", "url")
    adds = COLUMNS

    def __init__(self, rules: RulePack | None = None) -> None:
        self.pack = rules or pack("pages")

    def resources(self) -> dict[str, str]:
        return {"rules:pages": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        pages = [
            _Page(url or "", title or "")
            for url, title in zip(
                batch.column("url").to_pylist(), batch.column("title").to_pylist(), strict=True
            )
        ]
        prose_words = int(self.pack.settings["prose_words"])
        shapes = _shapes(batch.column("text").combine_chunks(), prose_words)
        found = [_kind(shape, page, self.pack) for shape, page in zip(shapes, pages, strict=True)]
        batch = COLUMNS[0].append(batch, [kind for kind, _ in found])
        return StageResult(COLUMNS[1].append(batch, [why for _, why in found]), empty_edits())
