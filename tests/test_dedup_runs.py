"""Dedup across runs, on disk: the index, superseded copies, changed records, re-runs.

The flow's steps are called as plain functions (no Prefect), in the flow's order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from newsclean.tasks.stages import minhash
from newsclean.tasks.storage import journal
from newsclean.tasks.storage.layout import published_parts
from tests.helpers import run_steps
from tests.test_dedup import BASE, OTHER, _just_under, article, near_copies, paragraphs

pytestmark = pytest.mark.unit


CONFIG = minhash.default_config()


def clean_run(raw: Path, out: Path) -> dict:
    return run_steps(raw, out)


def table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / name)


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def assert_consistent(out: Path) -> None:
    """The invariants analysts rely on after any sequence of runs."""
    articles, duplicates = table(out, "articles"), table(out, "duplicates")
    index = table(out, "dedup_index")
    assert articles["doc_id"].is_unique and duplicates["doc_id"].is_unique
    assert set(articles["doc_id"]).isdisjoint(duplicates["doc_id"])
    assert set(duplicates["kept_doc_id"]) <= set(articles["doc_id"])
    assert sorted(index["doc_id"]) == sorted(articles["doc_id"])
    clusters = articles.set_index("doc_id")["dup_cluster"]
    assert (duplicates["dup_cluster"].values == clusters[duplicates["kept_doc_id"]].values).all()


@pytest.fixture
def base_text() -> str:
    return "\n\n".join(paragraphs(article(BASE)))


def test_later_shorter_copy_is_dropped_against_the_dataset(tmp_path: Path, base_text: str) -> None:
    out = tmp_path / "clean"
    write_article(tmp_path / "day1", "story", "Newsweek fact check", base_text)
    write_article(tmp_path / "day1", "other", "Open Skies", article(OTHER))
    first = clean_run(tmp_path / "day1", out)
    assert first["articles"] == 2
    write_article(tmp_path / "day2", "copy", "Syndicated", near_copies()["paragraph dropped"])
    second = clean_run(tmp_path / "day2", out)
    assert second["articles"] == 0 and second["near_duplicates"] == 1
    duplicates = table(out, "duplicates")
    kept = table(out, "articles").set_index("source_file").loc["story.txt", "doc_id"]
    assert duplicates[["source_file", "kept_doc_id", "kind"]].values.tolist() == [
        ["copy.txt", kept, "near"]
    ]
    assert_consistent(out)


@pytest.mark.parametrize("later", [False, True], ids=["same run", "next run"])
def test_copy_just_under_the_estimate_is_found_from_its_texts(
    tmp_path: Path, base_text: str, later: bool
) -> None:
    """dedup.near-exact through the run: the texts come from staging (same run) or from the
    published articles (next run, the copy against the dataset)."""
    out = tmp_path / "clean"
    copy, _, _ = _just_under(base_text, 0.8, 0.86)
    write_article(tmp_path / "day1", "story", "Newsweek fact check", base_text)
    write_article(tmp_path / ("day2" if later else "day1"), "copy", "Syndicated", copy)
    counts = clean_run(tmp_path / "day1", out)
    if later:
        counts = clean_run(tmp_path / "day2", out)
    assert counts["near_duplicates"] == 1
    row = table(out, "duplicates").iloc[0]
    assert row["source_file"] == "copy.txt" and row["kind"] == "near"
    assert row["similarity"] >= minhash.default_config().threshold
    assert_consistent(out)


def test_better_later_copy_supersedes_and_lineage_follows(tmp_path: Path, base_text: str) -> None:
    out = tmp_path / "clean"
    write_article(tmp_path / "day1", "story", "Newsweek fact check", base_text)
    write_article(tmp_path / "day1", "story-copy", "Same story", base_text)  # exact copy
    clean_run(tmp_path / "day1", out)
    old = table(out, "articles")
    assert len(old) == 1
    old_id, cluster = old["doc_id"][0], old["dup_cluster"][0]
    longer = near_copies()["paragraph added"]
    write_article(tmp_path / "day2", "longer", "Newsweek fact check, updated", longer)
    second = clean_run(tmp_path / "day2", out)
    assert second["superseded"] == 1
    articles, duplicates = table(out, "articles"), table(out, "duplicates")
    assert articles["source_file"].tolist() == ["longer.txt"]
    new_id = articles["doc_id"][0]
    assert articles["dup_cluster"][0] == cluster  # the cluster id survives the new keeper
    lineage = dict(zip(duplicates["source_file"], duplicates["kept_doc_id"], strict=True))
    assert lineage == {"story.txt": new_id, "story-copy.txt": new_id}
    assert duplicates.set_index("doc_id").loc[old_id, "kind"] == "near"
    assert_consistent(out)
    # The superseded article's edits stay: its row in duplicates still explains it.
    assert old_id in set(table(out, "edits")["doc_id"])


def test_rerun_adds_nothing_and_changed_record_replaces_its_old_version(
    tmp_path: Path, base_text: str
) -> None:
    out, raw = tmp_path / "clean", tmp_path / "raw"
    write_article(raw, "story", "Title", base_text)
    write_article(raw, "other", "Open Skies", article(OTHER))
    clean_run(raw, out)
    files = sorted(p.name for p in out.rglob("*.parquet"))
    again = clean_run(raw, out)
    assert again["files"] == {"new": 0, "changed": 0, "unchanged": 2, "reprocessed_for_lineage": 0}
    assert again["documents"] == 0 and again["articles"] == 0
    assert sorted(p.name for p in out.rglob("*.parquet")) == files
    # The scraper re-fetched "other" and now it holds a different story: same doc_id.
    write_article(raw, "other", "Syria", article(37647))
    third = clean_run(raw, out)
    assert third["files"]["changed"] == 1 and third["articles"] == 1
    articles = table(out, "articles").set_index("source_file")
    assert len(articles) == 2
    assert "Syria" in articles.loc["other.txt", "text"]
    edits = table(out, "edits")
    other_id = articles.loc["other.txt", "doc_id"]
    befores = " ".join(edits.loc[edits["doc_id"] == other_id, "before"].dropna())
    assert "Open Skies" not in befores and "Treaty" not in befores
    assert_consistent(out)


def test_two_runs_keep_what_one_run_keeps(tmp_path: Path, base_text: str) -> None:
    copies = near_copies()
    day1 = {"a": base_text, "b": article(OTHER), "c": copies["boilerplate around"]}
    day2 = {"d": copies["paragraph added"], "e": article(37647), "f": copies["re-wrapped"]}
    for name, text in day1.items():
        write_article(tmp_path / "day1", name, name, text)
        write_article(tmp_path / "all", name, name, text)
    for name, text in day2.items():
        write_article(tmp_path / "day2", name, name, text)
        write_article(tmp_path / "all", name, name, text)
    clean_run(tmp_path / "day1", tmp_path / "two")
    clean_run(tmp_path / "day2", tmp_path / "two")
    clean_run(tmp_path / "all", tmp_path / "one")
    for out in (tmp_path / "two", tmp_path / "one"):
        assert_consistent(out)
    kept_two = sorted(table(tmp_path / "two", "articles")["content_hash"])
    kept_one = sorted(table(tmp_path / "one", "articles")["content_hash"])
    assert kept_two == kept_one and len(kept_one) == 3


def test_stale_index_is_rebuilt_from_the_articles(tmp_path: Path, base_text: str) -> None:
    out = tmp_path / "clean"
    write_article(tmp_path / "day1", "story", "T", base_text)
    clean_run(tmp_path / "day1", out)
    for part in (out / "dedup_index").glob("*.parquet"):
        part.unlink()  # a dataset from before the index, or a lost index
    write_article(tmp_path / "day2", "copy", "T", near_copies()["paragraph dropped"])
    assert clean_run(tmp_path / "day2", out)["near_duplicates"] == 1
    assert_consistent(out)
    name = next((out / "dedup_index").glob("*.parquet")).name
    assert re.match(r"part-.*\.parquet", name)


def test_index_of_an_older_signature_scheme_is_rebuilt_and_still_finds_copies(
    tmp_path: Path, base_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset indexed with ``dedup.near-minhash/2`` (k-permutation signatures) meets a run
    of /3 (one-permutation): the index is rebuilt under the new sketch id, and a copy of an
    article published before is still dropped against it."""
    from newsclean.tasks.pipeline import state
    from newsclean.tasks.storage import dedup_index

    older = CONFIG.with_overrides(hashing="k-permutations", rule_id="dedup.near-minhash/2")
    out = tmp_path / "clean"
    write_article(tmp_path / "day1", "story", "T", base_text)
    with monkeypatch.context() as patch:
        patch.setattr(state, "default_config", lambda: older)
        clean_run(tmp_path / "day1", out)
    parts = list((out / "dedup_index").glob("*.parquet"))
    assert [dedup_index.part_sketch_id(p) for p in parts] == [older.sketch_id]
    write_article(tmp_path / "day2", "copy", "T", near_copies()["paragraph dropped"])
    assert clean_run(tmp_path / "day2", out)["near_duplicates"] == 1
    assert_consistent(out)
    parts = list((out / "dedup_index").glob("*.parquet"))
    assert {dedup_index.part_sketch_id(p) for p in parts} == {CONFIG.sketch_id}


THIRD = 700  # cnnnext.com: a story unlike BASE and OTHER


def write_records(folder: Path, name: str, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def republished(out: Path) -> dict[str, tuple[int, list[str]]]:
    articles = table(out, "articles")
    return {
        row.url: (row.n_copies, list(row.publishers))
        for row in articles[["url", "n_copies", "publishers"]].itertuples()
    }


def test_later_copy_updates_n_copies_and_publishers_in_the_same_commit(
    tmp_path: Path, base_text: str, monkeypatch
) -> None:
    """Day 1 publishes a story; day 2 brings a copy from another site: the day-1 article's
    ``n_copies`` and ``publishers`` change in day 2's journaled commit (a run killed before
    applying it changes nothing; the next run rolls it forward). Taking the copy back (its
    file changed) takes the count back; re-running adds no rows."""
    out = tmp_path / "clean"
    story = {"title": "Newsweek fact check", "text": base_text, "url": "https://a.com/news/story"}
    other = {"title": "Open Skies", "text": article(OTHER), "url": "https://a.com/news/other"}
    write_records(tmp_path / "day1", "a", [story, other])
    clean_run(tmp_path / "day1", out)
    assert republished(out) == {
        story["url"]: (0, ["a.com"]),
        other["url"]: (0, ["a.com"]),
    }
    copy = {**story, "url": "https://www.b.com/world/story?utm_source=rss"}
    write_records(tmp_path / "day2", "b", [copy, {**copy, "url": "https://c.org/story"}])
    day1_part = published_parts(out, "articles")[0]

    def killed(out_dir: Path, entries: dict) -> None:
        raise KeyboardInterrupt("killed before the commit was applied")

    monkeypatch.setattr(journal, "_apply", killed)
    with pytest.raises(KeyboardInterrupt):
        clean_run(tmp_path / "day2", out)
    monkeypatch.undo()
    entries = json.loads((out / journal.JOURNAL).read_text())
    finals = [final for _, final in entries["renames"]]
    assert str(day1_part.relative_to(out)) in finals  # the rewrite of day 1's articles …
    assert any(f.startswith("duplicates/") for f in finals)  # … beside the copies
    assert republished(out)[story["url"]] == (0, ["a.com"])  # nothing applied yet

    clean_run(tmp_path / "day2", out)  # rolls the commit forward, nothing left to do
    assert republished(out)[story["url"]] == (2, ["a.com", "b.com", "c.org"])
    assert republished(out)[other["url"]] == (0, ["a.com"])
    rows = {name: len(table(out, name)) for name in ("articles", "duplicates", "edits")}
    clean_run(tmp_path / "day2", out)
    assert {name: len(table(out, name)) for name in rows} == rows
    assert_consistent(out)

    write_records(tmp_path / "day2", "b", [{**copy, "text": article(THIRD)}])
    clean_run(tmp_path / "day2", out)
    assert republished(out)[story["url"]] == (0, ["a.com"])
    assert_consistent(out)


def test_readme_most_republished_example_runs(tmp_path: Path, base_text: str) -> None:
    """The README's "most republished stories this week" snippet, run as printed (DuckDB and
    pandas) on a dataset where one story of this week was printed by three sites."""
    import datetime as dt

    import duckdb

    out = tmp_path / "clean"
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat()
    story = {"title": "Fact check", "text": base_text, "url": "https://a.com/s", "date": recent}
    write_records(
        tmp_path / "raw",
        "feeds",
        [
            story,
            {**story, "url": "https://b.com/s"},
            {**story, "url": "https://c.com/s"},
            {
                "title": "Open Skies",
                "text": article(OTHER),
                "url": "https://a.com/o",
                "date": recent,
            },
            {"title": "Old", "text": article(THIRD), "url": "https://d.com/x", "date": old},
        ],
    )
    clean_run(tmp_path / "raw", out)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"The most republished stories.*?```python\n(.*?)```", readme, re.S)
    assert block is not None
    code = block.group(1).replace("data/clean", str(out))
    duck, frame = code.split("\n\n", 1)
    articles = pd.read_parquet(out / "articles")
    namespace = {"duckdb": duckdb, "pd": pd, "articles": articles}
    top = eval(duck.strip(), namespace)  # one expression: duckdb.sql("""…""")
    rows = top.fetchall()
    assert [r[:4] for r in rows] == [("Fact check", "a.com", 2, 3), ("Open Skies", "a.com", 0, 1)]
    exec(frame.replace("week.assign", "result = week.assign", 1), namespace)
    assert namespace["result"]["title"].tolist() == ["Fact check", "Open Skies"]
