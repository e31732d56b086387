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
import statistics
from dataclasses import dataclass

import pyarrow as pa

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.stages.base import BatchContext, NewColumn, Stage, register
from newsclean.tasks.stages.edits import StageResult, empty_edits

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


def _shape(text: str, prose_words: int) -> _Shape:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    counts = [len(p.split()) for p in paragraphs]
    words = sum(counts)
    prose = sum(
        n for p, n in zip(paragraphs, counts, strict=True)
        if n >= prose_words and _SENTENCE_END.search(p)
    )  # fmt: skip
    return _Shape(
        words, len(paragraphs), prose / words if words else 0.0,
        statistics.median(counts) if counts else 0.0, paragraphs[-1] if paragraphs else "",
    )  # fmt: skip


def page_kind(text: str, label: str, rules: RulePack) -> tuple[str, str | None]:
    """(kind, reason) of one page; ``label`` is its URL and title, for the gallery rule."""
    by_name = {r.name: r for r in rules.active if r.kind == "page"}
    shape = _shape(text or "", int(rules.settings["prose_words"]))
    stub, teaser = by_name["page.stub"], by_name["page.teaser"]
    listing, gallery = by_name["page.listing"], by_name["page.gallery"]
    if shape.words < stub.max_words and shape.prose_share == 0:
        return "stub", f"{stub.id}: {shape.words} words, no prose"
    if shape.words <= teaser.max_words and teaser.compiled().search(shape.last):
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
        texts = batch.column("text").to_pylist()
        labels = [
            f"{url or ''} | {title or ''}"
            for url, title in zip(
                batch.column("url").to_pylist(), batch.column("title").to_pylist(), strict=True
            )
        ]
        found = [
            page_kind(t or "", label, self.pack) for t, label in zip(texts, labels, strict=True)
        ]
        kinds = pa.array([k for k, _ in found], pa.string())
        reasons = pa.array([r for _, r in found], pa.string())
        batch = batch.append_column(COLUMNS[0].field(), kinds)
        return StageResult(batch.append_column(COLUMNS[1].field(), reasons), empty_edits())
