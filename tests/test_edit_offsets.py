"""Edits carry the span they touched in the text their stage received: replaying a stage's rows
on its input gives exactly its output, on every real document shipped, and the report places
every removal from its offsets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from newsclean.tasks.pipeline import report
from newsclean.tasks.pipeline.chain import CHAIN
from newsclean.tasks.pipeline.units import RunInputs, build_stages
from newsclean.tasks.stages import BatchContext
from newsclean.tasks.stages.edits import SNIPPET_CHARS, Shifts, paragraph_spans
from newsclean.tasks.stages.minhash import default_config
from newsclean.tasks.stages.typos import corpus_vocabulary, correct_batch
from newsclean.tasks.storage.ingest import plan_units, read_unit
from tests.helpers import FAKENEWS, RAW, REFERENCE, clean_batch, make_batch, run_steps

pytestmark = pytest.mark.unit


ADVERSARIAL = [
    "GETTY\n\nA caption without a full stop\n\nThe story goes on here.\n\nGETTY",
    "Continued below... Continued below... GETTY\n\nAdvertisement\n\nBody text stays here.",
    "a.Bc.Dd,Ee!Ff x.Yy Mr.Smith 5%.The AB.Cde https://x.com/a -b -c done.",
    "[Disclaimer]\n\nFacebook Twitter\n\nOnly the junk is gone.\n\nAdvertisement",
    "The talks went on, but also\n\non\n\nand\n\ninto the night with the",
]


def ingested(raw: Path) -> pa.Table:
    return pa.concat_tables(
        docs for unit in plan_units(raw).units for docs, _ in read_unit(raw, unit)
    )


def shipped_docs() -> pa.Table:
    adversarial = make_batch(*ADVERSARIAL, titles=["Headline"] * len(ADVERSARIAL))
    return pa.concat_tables([adversarial, ingested(RAW)])


def replay(text: str, rows: list[dict]) -> str:
    """A stage's rows applied right to left to the text it received."""
    for row in sorted(rows, key=lambda r: r["start"], reverse=True):
        text = text[: int(row["start"])] + row["after"] + text[int(row["end"]) :]
    return text


def check_stage(before: pa.Table, after: pa.Table, edits: pa.Table) -> int:
    """Every document's rows replay its input into its output; returns the rows checked."""
    by_doc: dict[str, list[dict]] = {}
    for row in edits.to_pylist():
        by_doc.setdefault(row["doc_id"], []).append(row)
    checked = 0
    for field in ("text", "url"):
        old = dict(zip(before["doc_id"].to_pylist(), before[field].to_pylist(), strict=True))
        new = dict(zip(after["doc_id"].to_pylist(), after[field].to_pylist(), strict=True))
        for doc_id, rows in by_doc.items():
            rows = [r for r in rows if r["field"] == field]
            if field == "url" and not rows:
                continue  # a Source: line's URL fills url as part of that line's removal row
            assert all(r["start"] is not None for r in rows), rows
            source = old[doc_id]
            for r in rows:
                span = source[r["start"] : r["end"]]
                if len(r["before"]) < SNIPPET_CHARS:
                    assert r["before"] in (span, span.strip()), (r, span)
            assert replay(source, rows) == new[doc_id], (doc_id, field)
            checked += len(rows)
    return checked


def test_every_clean_stage_after_normalize_replays_exactly() -> None:
    docs = shipped_docs()
    stages = build_stages(CHAIN.step("clean-unit").stages, RunInputs(near_dup=default_config()))
    checked: dict[str, int] = {}
    for stage in stages:
        result = stage.process(docs, BatchContext())
        if stage.name not in ("normalize", "drop-empty", "derive"):
            checked[stage.name] = check_stage(docs, result.table, result.edits)
        docs = result.table
    assert checked["spacing"] >= 3 and checked["reflow"] >= 2
    assert checked["boilerplate"] >= 300


def test_normalize_rows_have_no_span_and_say_what_they_repaired() -> None:
    out = clean_batch(make_batch("Itâ€™s  a &amp; b\u200b.", titles=["Caf\u00e9"]))
    normalize = [e for e in out.edits.to_pylist() if e["stage"] == "normalize"]
    assert normalize and all(e["start"] is None and e["end"] is None for e in normalize)
    assert {e["rule"] for e in normalize} >= {"unicode.mojibake/1", "unicode.html-entity/1"}


def test_typo_rows_replay_exactly() -> None:
    docs = clean_batch(shipped_docs()).docs
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    assert check_stage(docs, result.table, result.edits) >= 1


def test_learned_removals_replay_on_the_published_text(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    raw.mkdir()
    (raw / "news_sample.csv").write_bytes(FAKENEWS.read_bytes())
    run_steps(raw, out)
    edits = pd.read_parquet(out / "edits")
    learned = edits[edits["stage"] == "learned-boilerplate"]
    assert len(learned) >= 5 and learned["model_version"].eq(1).all()
    articles = pd.read_parquet(out / "articles").set_index("doc_id")
    docs = clean_batch(ingested(raw)).docs.to_pandas().set_index("doc_id")
    for doc_id, rows in learned.groupby("doc_id"):
        staged = docs.loc[doc_id, "text"]
        assert replay(staged, rows.to_dict("records")) == articles.loc[doc_id, "text"]


def test_paragraph_spans_take_one_separator_each() -> None:
    paragraphs = ["A", "BB", "CCC", "DDDD"]
    text = "\n\n".join(paragraphs)

    def removed(*which: int) -> str:
        rows = [(i, i, 0, None) for i in which]
        flags = [i in which for i in range(len(paragraphs))]
        spans = paragraph_spans([len(p) for p in paragraphs], flags, rows)
        return replay(text, [{"start": s, "end": e, "after": ""} for s, e in spans])

    assert removed(0) == "BB\n\nCCC\n\nDDDD"
    assert removed(3) == "A\n\nBB\n\nCCC"
    assert removed(1, 2) == "A\n\nDDDD"
    assert removed(2, 3) == "A\n\nBB"
    assert removed(0, 3) == "BB\n\nCCC"
    assert removed(0, 1, 2, 3) == ""


def test_shifts_map_positions_back_through_earlier_replacements() -> None:
    shifts = Shifts()
    shifts.replaced(2, 2, 1)  # "abcdef" -> "ab cdef"
    shifts.replaced(4, 6, 0)  # -> "ab cd"
    shifts.next_rule()
    assert [shifts.to_input(p) for p in (0, 2, 3, 4, 5)] == [0, 2, 2, 3, 6]


def test_report_places_every_removal_of_the_reference_article(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    (raw / "samples").mkdir(parents=True)
    (raw / "samples" / REFERENCE.name).write_bytes(REFERENCE.read_bytes())
    result = run_steps(raw, out, typos=True)
    (example,) = result["summary"]["examples"]
    base = example["before"]
    edits = {e["before"]: e for e in example["edits"] if e["after"] == ""}
    marked = [base[lo:hi].strip() for lo, hi in example["removed"]]
    assert marked == [
        "GETTY\n\nNATO could anger Putin with announcement about troops in Eastern Europe",
        "GETTY\n\nPresident Putin unveils a statue in Crimea as he tries to tighten power grip "
        "on region",
        "GETTY\n\nNato leader Jens Stoltenberg has vowed troops will stay in Eastern Europe as "
        "long as necessary",
        # Marked where it stood after normalize: before the spacing stage joined the URL.
        "Source: https://www.express.co.uk/news/world/881769/Nato-russia-vladimir-putin "
        "-crimea-annexation-world-war-3-eastern-europe-troops",
        "[Disclaimer]",
    ]
    assert {m.replace("putin -crimea", "putin-crimea") for m in marked} <= set(edits)
    changed = [base[lo:hi] for lo, hi in example["changed"]]
    assert "region.Mr" in changed and "Thee" in changed  # spacing and typos, mapped back
    unplaceable = [{"stage": "reflow", "field": "text", "start": None, "end": None, "after": ""}]
    assert report.placed_spans(unplaceable, ["reflow"]) is None  # such a document is skipped


def test_report_examples_reread_a_bounded_share_of_the_raw_files(
    tmp_path: Path, monkeypatch
) -> None:
    """Re-reading a record streams its whole raw file, so the examples come from files that
    fit a byte budget together, best first: the report costs the same whatever the run's
    size. Small files still give every example."""
    import pyarrow.compute as pc

    from tests.helpers import FAKENEWS, clean_texts

    corpus = [str(t) for t in pd.read_csv(FAKENEWS)["content"]][:120]
    cleaned = clean_texts(*corpus)
    removing = cleaned.edits.filter(pc.equal(cleaned.edits["after"], ""))["doc_id"]
    docs = cleaned.docs.filter(pc.is_in(cleaned.docs["doc_id"], value_set=removing.unique()))
    rows = sorted(docs["source_record"].to_pylist())[:6]
    assert len(rows) == 6
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in rows:
        (raw / f"story-{i}.txt").write_text(f"Story {i}\n\n{corpus[i]}\n", encoding="utf-8")

    def example_files(out: Path) -> set[str]:
        examples = run_steps(raw, out)["summary"]["examples"]
        articles = pd.read_parquet(out / "articles").set_index("doc_id")
        return {articles.loc[e["doc_id"], "source_file"] for e in examples}

    assert len(example_files(tmp_path / "all")) == report.EXAMPLES  # small files: no limit
    monkeypatch.setattr(report, "EXAMPLE_READ_BYTES", 1)  # the best example's file only
    assert len(example_files(tmp_path / "bounded")) == 1
