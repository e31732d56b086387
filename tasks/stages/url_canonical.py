"""The ``url-canonical`` stage: one URL per story, whatever variant a scraper saved.

The same story appears under many URLs: tracking parameters (``utm_*``, ``fbclid``), AMP and
mobile hosts and paths, fragments, index pages. ``url_canonical`` folds them (rules and their
examples in rules/urls.toml; the pure function is :func:`newsclean.tasks.urls.canonical_url`)
so that analysts can group by it and dedup can use it; ``url`` stays as the scraper gave it.
A canonical link the raw record carries (a ``canonical_url`` column, kept in ``extra``) wins:
the page itself said which URL it is. No edit rows: nothing of the text changes, and the
rule versions used are recorded with every run (the pack is a resource of this stage).
"""

from __future__ import annotations

import pyarrow as pa

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.stages.base import BatchContext, NewColumn, Stage, extra_strings, register
from newsclean.tasks.stages.edits import StageResult, empty_edits
from newsclean.tasks.urls import UrlRules, canonical_url

COLUMN = NewColumn(
    "url_canonical",
    pa.string(),
    "the URL with tracking parameters, AMP/mobile variants, fragments and index pages folded "
    "(or the record's own canonical link); null when there is no http(s) URL",
)


def url_rules(rules: RulePack) -> UrlRules:
    """The pack's active URL rules as plain data, in pack order."""
    active = [r for r in rules.active if r.kind == "url"]
    params = {r.name: r.params for r in active}
    tracking = params.get("url.tracking-params", {})
    return UrlRules(
        steps=tuple(r.name for r in active),
        host_prefixes=tuple(params.get("url.host-fold", {}).get("prefixes", ())),
        tracking_prefixes=tuple(tracking.get("prefixes", ())),
        tracking_names=frozenset(tracking.get("names", ())),
        index_pages=tuple(params.get("url.index-page", {}).get("pages", ())),
    )


def canonical_link(extra: str | None, keys: tuple[str, ...]) -> str | None:
    """The record's own canonical link from its ``extra`` columns, if it has an http(s) one."""
    for value in extra_strings(extra, keys):
        if value.lower().startswith(("http://", "https://")):
            return value
    return None


@register
class UrlCanonicalStage(Stage):
    """``url_canonical`` of every document."""

    name = "url-canonical"
    version = 1
    description = "canonical URL: tracking, AMP/mobile, fragment and index variants folded"
    reads = ("url", "extra")
    adds = (COLUMN,)

    def __init__(self, rules: RulePack | None = None) -> None:
        self.pack = rules or pack("urls")
        self.rules = url_rules(self.pack)
        self.keys = tuple(self.pack.settings.get("canonical_keys", ()))

    def resources(self) -> dict[str, str]:
        return {"rules:urls": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        urls = batch.column("url").to_pylist()
        extras = batch.column("extra").to_pylist()
        values = [
            canonical_url(canonical_link(extra, self.keys) or url, self.rules)
            for url, extra in zip(urls, extras, strict=True)
        ]
        return StageResult(COLUMN.append(batch, values), empty_edits())
