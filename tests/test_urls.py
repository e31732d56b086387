"""Canonical URLs (issue 14): every URL rule's own examples, alone and together, real URLs
of the WCXB dev pages, and the record's own canonical link."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from newsclean.tasks.rules import pack
from newsclean.tasks.stages.url_canonical import UrlCanonicalStage, canonical_link, url_rules
from newsclean.tasks.urls import canonical_url
from tests.helpers import make_batch

pytestmark = pytest.mark.unit

RULES = url_rules(pack("urls"))
URL_RULES = [r for r in pack("urls").active if r.kind == "url"]


def alone(name: str):
    return replace(RULES, steps=(name,))


@pytest.mark.parametrize("rule", URL_RULES, ids=lambda r: r.id)
def test_url_rule_examples(rule) -> None:
    assert rule.examples_fix and rule.examples_keep, rule.id
    for before, after in rule.examples_fix:
        assert canonical_url(before, alone(rule.name)) == after, (rule.id, before)
    for url in rule.examples_keep:
        assert canonical_url(url, alone(rule.name)) == url, (rule.id, url)


def test_all_rules_together_fold_one_storys_variants() -> None:
    variants = [
        "https://www.express.co.uk/news/world/881769/Nato-russia?utm_source=twitter",
        "http://express.co.uk/news/world/881769/Nato-russia/",
        "https://m.express.co.uk/amp/news/world/881769/Nato-russia#comments",
        "https://express.co.uk/news/world/881769/Nato-russia/index.html?fbclid=IwAR0",
    ]
    assert {canonical_url(u, RULES) for u in variants} == {
        "https://express.co.uk/news/world/881769/Nato-russia"
    }


def test_what_selects_the_article_is_kept() -> None:
    assert canonical_url("https://example.com/article.php?id=123&utm_medium=x", RULES) == (
        "https://example.com/article.php?id=123"
    )
    assert canonical_url("https://www.example.com/?p=4567", RULES) == "https://example.com/?p=4567"
    assert canonical_url("https://example.com/a?id=1", RULES) != canonical_url(
        "https://example.com/a?id=2", RULES
    )


@pytest.mark.parametrize(
    "url", [None, "", "not a url", "ftp://example.com/a", "https://", "http://[::1"]
)
def test_no_http_url_gives_none(url) -> None:
    assert canonical_url(url, RULES) is None


def test_real_wcxb_urls_are_idempotent_and_keep_their_host() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wcxb-dev-articles"
    paths = sorted((root / "ground-truth").glob("*.json"))
    if not paths:
        pytest.skip("WCXB dev pages not here")
    from newsclean.tasks.urls import domain_of

    urls = [json.loads(p.read_text("utf-8")).get("url") or "" for p in paths]
    for url in urls:
        canonical = canonical_url(url, RULES)
        assert canonical is not None and canonical_url(canonical, RULES) == canonical, url
        assert domain_of(canonical).endswith(domain_of(url).removeprefix("m.")), url


def test_stage_prefers_the_records_canonical_link() -> None:
    batch = make_batch("One story.", "Another story.")
    extra = [json.dumps({"canonical_url": "https://www.example.com/story/?utm_source=rss"}), None]
    urls = ["https://example.com/amp/story?fbclid=1", "https://www.example.org/b/"]
    batch = batch.set_column(batch.schema.get_field_index("url"), "url", pa.array(urls))
    batch = batch.set_column(batch.schema.get_field_index("extra"), "extra", pa.array(extra))
    out = UrlCanonicalStage().process(batch, None).table
    assert out["url_canonical"].to_pylist() == [
        "https://example.com/story",
        "https://example.org/b",
    ]
    assert out["url"].to_pylist() == urls  # url itself is never changed
    assert canonical_link(json.dumps({"og:url": "javascript:void(0)"}), ("og:url",)) is None
    assert canonical_link("{not json", ("canonical_url",)) is None


def test_stage_on_an_empty_batch() -> None:
    batch = make_batch("x").slice(0, 0)
    out = UrlCanonicalStage().process(batch, None).table
    assert out.num_rows == 0 and out.schema.field("url_canonical").type == pa.string()
