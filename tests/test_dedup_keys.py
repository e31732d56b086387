"""Dedup candidates beyond MinHash: the same page under one canonical URL, the same story
under one headline (``dedup.url-key``, ``dedup.title-key``), and the republication counts.

Copies are made by code from real FakeNewsCorpus articles (a truncated copy: its first
paragraphs; a wire item with one word changed), cleaned as the flow cleans them; headline
keys are checked against WCXB's real ``<title>`` tags and reviewed headlines.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from newsclean.tasks.rules import pack
from newsclean.tasks.schema import DEDUP_KEY_COLUMNS
from newsclean.tasks.stages import minhash
from newsclean.tasks.stages.dedup import (
    Documents,
    TableSketches,
    decide,
    estimated_containment,
    republication,
    sorted_lists,
)
from newsclean.tasks.stages.dedup_keys import key_rules, title_key_text, url_key_text
from newsclean.tasks.storage.ingest import BatchBuilder
from tests.helpers import clean_batch
from tests.test_dedup import BASE, OTHER, article, index_table, paragraphs

pytestmark = pytest.mark.unit

CONFIG = minhash.default_config()
RULES = key_rules(pack("dedup"))
WCXB = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wcxb-dev-articles"


def documents(rows: list[dict]) -> Documents:
    """Clean records (``title``, ``text``, ``url``) as the flow does, then key and sketch
    them with their URL and headline keys."""
    builder = BatchBuilder(batch_size=len(rows) + 1)
    for i, row in enumerate(rows):
        builder.add("wire.jsonl", i, **row)
    docs = clean_batch(builder.flush()[0]).docs
    assert docs.num_rows == len(rows)
    sketch = minhash.sketch_batch(
        docs.column("doc_id").combine_chunks(), docs.column("text"), CONFIG, docs
    )
    return Documents(docs.select(DEDUP_KEY_COLUMNS), sketch)


def decide_alone(docs: Documents) -> list[dict]:
    empty = TableSketches(index_table(docs.keys.slice(0, 0), docs.sketch.slice(0, 0)))
    return decide(docs, empty, CONFIG).duplicates.to_pylist()


def base_paragraphs() -> list[str]:
    return paragraphs(article(BASE))


# --------------------------------------------------------------------------- the keys


def test_title_key_rule_examples() -> None:
    rule = pack("dedup").get("dedup.title-key")
    for before, after in rule.examples_fix:
        assert title_key_text(before, RULES) == after, before
    for title in rule.examples_keep:
        assert title_key_text(title, RULES) is None, title


def test_url_key_rule_examples() -> None:
    rule = pack("dedup").get("dedup.url-key")
    for (publisher, url), key in rule.examples_fix:
        assert url_key_text(publisher, url) == key
    for url in rule.examples_keep:
        assert url_key_text("express.co.uk", url) is None, url


def test_a_headline_that_is_mostly_a_long_site_name_keeps_its_own_words() -> None:
    title = (
        "The health benefits of intermittent fasting | Harvard T.H. Chan School of Public Health"
    )
    assert title_key_text(title, RULES) == "the health benefits of intermittent fasting"
    huge = title_key_text("word " * 100_000 + "| Site", RULES)  # read up to 1,000 characters
    assert huge is not None and len(huge) <= 1000


@pytest.mark.skipif(not WCXB.exists(), reason="WCXB dev pages not here")
def test_wcxb_title_tags_key_like_their_reviewed_headlines() -> None:
    """A page's ``<title>`` (site name and all) gives the key of its reviewed headline on
    most WCXB pages; the rest have other words in the headline, which no rule can fold."""
    same = compared = 0
    for truth in sorted((WCXB / "ground-truth").glob("*.json")):
        gold = json.loads(truth.read_text())["ground_truth"].get("title")
        raw = gzip.decompress((WCXB / "html" / f"{truth.stem}.html.gz").read_bytes())
        page = raw.decode("utf-8", "replace")
        tag = re.search(r"<title[^>]*>(.*?)</title>", page, re.S | re.I)
        gold_key = title_key_text(gold, RULES)
        if not tag or gold_key is None:
            continue
        compared += 1
        same += title_key_text(html.unescape(" ".join(tag.group(1).split())), RULES) == gold_key
    assert compared > 600
    assert same / compared >= 0.74, (same, compared)  # measured 508/667 = 0.76


def test_containment_of_a_truncated_copy() -> None:
    jaccard = pa.array([0.1, 0.1, 0.0]).to_numpy()
    contained = estimated_containment(jaccard, [1000, 1000, 500], [100, 10_000, 500])
    assert contained.round(2).tolist() == [1.0, 1.0, 0.0]


# --------------------------------------------------------------------------- the decision


def test_truncated_copy_under_the_same_canonical_url_is_dropped_as_url() -> None:
    """The first three paragraphs of a real story, crawled again with tracking parameters
    and an AMP path: MinHash alone misses it (Jaccard about 0.15), the URL key finds it."""
    full = "\n\n".join(base_paragraphs())
    teaser = "\n\n".join(base_paragraphs()[:3])
    url = "https://www.washingtonexaminer.com/news/2017/11/story-slug"
    docs = documents(
        [
            {"title": "Story", "text": full, "url": url},
            {"title": "Story", "text": teaser, "url": url + "/amp?utm_source=twitter"},
        ]
    )
    rows = decide_alone(docs)
    assert [(r["kind"], r["kept_doc_id"]) for r in rows] == [
        ("url", docs.keys["doc_id"][0].as_py())
    ]
    assert rows[0]["similarity"] < CONFIG.threshold
    assert rows[0]["domain"] == "washingtonexaminer.com"


def test_same_url_with_another_story_is_not_merged() -> None:
    """A URL the site reused (or a canonical link every page shares) pairs two texts that
    have nothing in common: no merge."""
    url = "https://example.com/news/latest"
    docs = documents(
        [
            {"title": "One", "text": "\n\n".join(base_paragraphs()), "url": url},
            {"title": "Two", "text": "\n\n".join(paragraphs(article(OTHER))), "url": url},
        ]
    )
    assert decide_alone(docs) == []


def test_home_page_canonical_links_pair_nothing() -> None:
    docs = documents(
        [
            {
                "title": "a",
                "text": "\n\n".join(base_paragraphs()[:3]),
                "url": "https://example.com/",
            },
            {"title": "b", "text": "\n\n".join(base_paragraphs()), "url": "https://example.com"},
        ]
    )
    assert docs.sketch["url_key"].null_count == 2
    assert decide_alone(docs) == []


def wire_item() -> str:
    """A short wire item: the first two sentences of a real story."""
    first = base_paragraphs()[0]
    return " ".join(re.split(r"(?<=[.!?”])\s+", first)[:2])


def test_short_wire_item_republished_under_the_same_headline_is_dropped_as_title() -> None:
    item = wire_item()
    words = item.split()
    edited = " ".join([*words[:8], "reportedly", *words[9:]])  # one word changed
    docs = documents(
        [
            {
                "title": "Trump aide quits over Russia probe | Washington Examiner",
                "text": item,
                "url": "https://washingtonexaminer.com/a/1",
            },
            {
                "title": "Trump Aide Quits Over Russia Probe - Daily Wire",
                "text": edited,
                "url": "https://dailywire.com/news/2",
            },
        ]
    )
    rows = decide_alone(docs)
    assert [r["kind"] for r in rows] == ["title"]
    assert rows[0]["similarity"] < CONFIG.threshold  # MinHash alone would not merge them


def test_same_headline_over_other_words_or_other_figures_is_not_merged() -> None:
    item = next(p for p in base_paragraphs() if re.search(r"\d", p))  # a short item, figures
    other = " ".join(re.split(r"(?<=[.!?”])\s+", paragraphs(article(OTHER))[0])[:2])
    figures = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), item)
    assert figures != item
    title = "Weekly roundup of the news"
    docs = documents(
        [
            {"title": title, "text": item, "url": "https://a.com/1"},
            {"title": title, "text": other, "url": "https://b.com/2"},
        ]
    )
    assert decide_alone(docs) == []
    docs = documents(
        [
            {"title": title, "text": item, "url": "https://a.com/1"},
            {"title": title, "text": figures, "url": "https://b.com/2"},
        ]
    )
    assert decide_alone(docs) == []


def test_truncated_copy_of_an_indexed_article_is_dropped_in_a_later_run() -> None:
    url = "https://washingtonexaminer.com/news/story-slug"
    first = documents([{"title": "Story", "text": "\n\n".join(base_paragraphs()), "url": url}])
    index = TableSketches(index_table(first.keys, first.sketch))
    later = documents(
        [{"title": "Story", "text": "\n\n".join(base_paragraphs()[:2]), "url": url + "#top"}]
    )
    rows = decide(later, index, CONFIG).duplicates.to_pylist()
    assert [(r["kind"], r["kept_doc_id"]) for r in rows] == [
        ("url", first.keys["doc_id"][0].as_py())
    ]


# --------------------------------------------------------------------------- republication


def test_republication_counts_copies_and_distinct_publishers() -> None:
    articles = pa.table({"doc_id": ["a", "b", "c"], "domain": ["x.com", None, "y.com"]})
    copies = pa.table(
        {
            "kept_doc_id": ["a", "a", "a", "b", "zz"],
            "domain": ["z.com", "x.com", None, "y.com", "q.com"],
        }
    )
    n_copies, publishers = republication(articles, copies)
    assert n_copies.to_pylist() == [3, 1, 0]
    assert publishers.to_pylist() == [["x.com", "z.com"], ["y.com"], ["y.com"]]


def test_publishers_are_sorted_whatever_order_the_copies_come_in() -> None:
    """A story of the FakeNewsCorpus sample kept at beforeitsnews.com with copies at
    newsmax.com and christianpost.com: Arrow's ``distinct`` gave some such lists unsorted, so
    the same article got two orders in one run and its file was rewritten for nothing."""
    domains = ["beforeitsnews.com", "newsmax.com", "christianpost.com", "washingtonexaminer.com"]
    kept = [f"doc-{i:04d}" for i in range(3000)]
    articles = pa.table({"doc_id": kept, "domain": [domains[i % 4] for i in range(3000)]})
    copies = pa.table(  # copies listed newest first, some of them far from their keeper
        {
            "kept_doc_id": [kept[(i * 7919) % 3000] for i in range(2000)][::-1],
            "domain": [domains[(i * 3) % 4] for i in range(2000)],
        }
    )
    _, publishers = republication(articles, copies)
    lists = publishers.to_pylist()
    assert all(names == sorted(set(names)) for names in lists)
    assert sum(len(names) > 1 for names in lists) > 500  # many rows had something to order
    _, again = republication(articles.slice(1000, 500), copies)  # a unit's part alone
    assert again.to_pylist() == lists[1000:1500]
    empty = pa.array([["b", "a"], None, [], ["c"]], pa.list_(pa.string()))
    assert sorted_lists(empty).to_pylist() == [["a", "b"], None, [], ["c"]]


def test_key_pairs_verified_a_step_at_a_time_give_the_same_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """URL-key pairs are verified a step at a time too: one pair per step finds the same
    truncated copy as one step."""
    full = "\n\n".join(base_paragraphs())
    url = "https://www.washingtonexaminer.com/news/2017/11/story-slug"
    teasers = ["\n\n".join(base_paragraphs()[:n]) for n in (3, 4)]
    docs = documents(
        [{"title": "Story", "text": full, "url": url}]
        + [
            {"title": "Story", "text": t, "url": f"{url}{tail}"}
            for t, tail in zip(
                teasers, ("/amp?utm_source=twitter", "?utm_medium=email"), strict=True
            )
        ]
    )
    whole = decide_alone(docs)
    assert [r["kind"] for r in whole] == ["url", "url"]
    monkeypatch.setattr(minhash, "PAIRS_PER_STEP", 1)
    assert decide_alone(docs) == whole
