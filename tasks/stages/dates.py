"""The ``dates`` stage: publication dates analysts can count on.

``published_at`` comes parsed from the input but unchecked: scrapers leave dates after the
crawl (a template's placeholder, a time zone gone wrong), the Unix epoch, a CMS's year 1900.
Each is set to null with an edit (field ``published_at``, ``before`` the value), so nothing
is lost. A missing date is read from the URL's path (``/2017/11/24/``) when it has one, with
``published_inferred`` true and an edit. Rules and real examples: rules/dates.toml.

"Later than the crawl" needs the crawl's time: the record's own (a ``scraped_at`` column, kept
in ``extra``) or else the run's start (the ``ingested_at`` run input), so the same input in
the same run always gives the same dates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.stages.base import (
    BatchContext,
    NewColumn,
    RunInputs,
    Stage,
    extra_strings,
    register,
)
from newsclean.tasks.stages.edits import EditLog, StageResult

INFERRED = NewColumn(
    "published_inferred", pa.bool_(), "published_at was read from the URL: the input had none"
)
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
)}  # fmt: skip


def crawl_time(extra: str | None, keys: tuple[str, ...]) -> datetime | None:
    """When the record was crawled, from its ``extra`` columns (UTC), if it says."""
    for value in extra_strings(extra, keys):
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    return None


class DateChecker:
    """The pack's date rules, read once."""

    def __init__(self, rules: RulePack) -> None:
        by_name = {r.name: r for r in rules.active if r.kind == "date"}
        future, old, url = by_name["date.future"], by_name["date.too-old"], by_name["date.from-url"]
        self.future_id, self.slack = future.id, timedelta(hours=float(future.params["slack_hours"]))
        self.old_id = old.id
        self.min_date = datetime.fromisoformat(str(old.params["min_date"])).replace(tzinfo=UTC)
        self.url_id, self.url_pattern = url.id, url.compiled()
        self.keys = tuple(rules.settings.get("crawl_keys", ()))

    def check(self, published: datetime | None, crawled: datetime | None) -> str | None:
        """The rule that makes ``published`` impossible, or None."""
        if published is None:
            return None
        if published < self.min_date:
            return self.old_id
        if crawled is not None and published > crawled + self.slack:
            return self.future_id
        return None

    def from_url(self, url: str | None, crawled: datetime | None) -> datetime | None:
        """The date a URL's path gives, if it is a real date within the bounds."""
        match = self.url_pattern.search(url or "")
        if match is None:
            return None
        groups = match.groups()
        year, month, day = groups[:3] if groups[0] else groups[3:]
        month = _MONTHS.get(month.lower()[:3]) if not month.isdigit() else int(month)
        try:
            found = datetime(int(year), int(month or 0), int(day), tzinfo=UTC)
        except ValueError:
            return None
        if found < self.min_date or (crawled is not None and found > crawled + self.slack):
            return None
        return found


@register
class DatesStage(Stage):
    """Impossible ``published_at`` set to null; a missing one read from the URL."""

    name = "dates"
    version = 1
    description = (
        "publication dates checked against the crawl and bounds; missing ones from the URL"
    )
    reads = ("doc_id", "published_at", "url", "extra")
    writes = ("published_at",)
    adds = (INFERRED,)

    def __init__(self, rules: RulePack | None = None, ingested_at: datetime | None = None) -> None:
        self.pack = rules or pack("dates")
        self.checker = DateChecker(self.pack)
        self.ingested_at = ingested_at

    @classmethod
    def build(cls, inputs: RunInputs) -> DatesStage:
        return cls(ingested_at=inputs.get("ingested_at"))

    def resources(self) -> dict[str, str]:
        return {"rules:dates": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        log = EditLog(self.name)
        checker = self.checker
        published = batch.column("published_at").to_pylist()
        inferred = [False] * batch.num_rows
        ids, urls = batch.column("doc_id").to_pylist(), batch.column("url").to_pylist()
        extras = batch.column("extra").to_pylist()
        for i, value in enumerate(published):
            crawled = crawl_time(extras[i], checker.keys) or self.ingested_at
            rule = checker.check(value, crawled)
            if rule is not None:
                log.add(ids[i], rule, value.isoformat(), "", field="published_at")
                published[i] = value = None
            if value is None:
                found = checker.from_url(urls[i], crawled)
                if found is not None:
                    log.add(ids[i], checker.url_id, "", found.isoformat(), field="published_at")
                    published[i], inferred[i] = found, True
        index = batch.schema.get_field_index("published_at")
        column = pa.array(published, batch.schema.field(index).type)
        batch = batch.set_column(index, batch.schema.field(index), column)
        return StageResult(INFERRED.append(batch, inferred), log.to_table())
