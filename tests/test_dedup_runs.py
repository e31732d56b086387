"""Dedup across runs, on disk: the index, superseded copies, changed records, re-runs.

The flow's steps are called as plain functions (no Prefect), in the flow's order."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from newsclean.tasks.stages import minhash
from tests.helpers import run_steps
from tests.test_dedup import BASE, OTHER, article, near_copies, paragraphs

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
