"""Publication dates (issue 14): every date rule's examples, the demo data, the edits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from newsclean.tasks.rules import pack
from newsclean.tasks.schema import TIMESTAMP
from newsclean.tasks.stages.base import BatchContext
from newsclean.tasks.stages.dates import DatesStage
from tests.helpers import make_batch

pytestmark = pytest.mark.unit

RULES = [r for r in pack("dates").active if r.kind == "date"]
RUN_START = datetime(2026, 12, 1, tzinfo=UTC)


def run(published: str, url: str, crawled: str) -> tuple[str, bool, list[dict]]:
    batch = make_batch("A story.")
    value = datetime.fromisoformat(published) if published else None
    extra = json.dumps({"scraped_at": crawled}) if crawled else None
    for name, column in (
        ("published_at", pa.array([value], TIMESTAMP)),
        ("url", pa.array([url or None], pa.string())),
        ("extra", pa.array([extra], pa.string())),
    ):
        batch = batch.set_column(batch.schema.get_field_index(name), name, column)
    result = DatesStage(ingested_at=RUN_START).process(batch, BatchContext())
    out = result.table["published_at"][0].as_py()
    return (
        (out.isoformat() if out else ""),
        result.table["published_inferred"][0].as_py(),
        (result.edits.to_pylist()),
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_date_rule_examples(rule) -> None:
    assert rule.examples_fix and rule.examples_keep, rule.id
    for published, url, crawled, expected in rule.examples_fix:
        got, inferred, edits = run(published, url, crawled)
        assert got == expected, (rule.id, published, url)
        assert [e["rule"] for e in edits] == [rule.id] and inferred == (
            rule.name == "date.from-url"
        )
    for published, url, crawled in rule.examples_keep:
        got, inferred, edits = run(published, url, crawled)
        assert (got, inferred, edits) == (published, False, []), (rule.id, published, url)


def test_an_impossible_date_keeps_its_value_in_the_edit() -> None:
    got, _, edits = run("2031-05-01T00:00:00+00:00", "", "2018-01-25T16:17:44")
    assert got == "" and edits[0]["before"] == "2031-05-01T00:00:00+00:00"
    assert edits[0]["field"] == "published_at" and edits[0]["after"] == ""


def test_without_a_crawl_time_the_run_start_bounds_the_date() -> None:
    assert run("2027-06-01T00:00:00+00:00", "", "")[0] == ""  # after the run started
    assert run("2026-11-30T08:00:00+00:00", "", "")[0] == "2026-11-30T08:00:00+00:00"


def test_a_given_date_is_never_replaced_by_the_urls() -> None:
    got, inferred, edits = run(
        "2017-11-25T10:00:00+00:00", "https://example.com/2017/11/24/story", ""
    )
    assert (got, inferred, edits) == ("2017-11-25T10:00:00+00:00", False, [])


def test_demo_data_dates(tmp_path) -> None:
    import pandas as pd

    from tests.helpers import RAW, run_steps

    run_steps(RAW, tmp_path / "clean")
    articles = pd.read_parquet(tmp_path / "clean" / "articles")
    inferred = articles[articles["published_inferred"]]
    # FakeNewsCorpus records carry no date; URLs with a whole /YYYY/MM/DD/ give one
    assert len(inferred) > 0
    for url, date in zip(inferred["url"], inferred["published_at"], strict=True):
        assert date.strftime("%Y") in url and date.year >= 1990
    assert articles["published_at"].dropna().max() <= pd.Timestamp("2018-02-03", tz="UTC")
