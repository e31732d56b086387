"""Helpers shared by the tests: paths of the shipped data and one-call stage runners."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tasks.ingest import BatchBuilder
from tasks.pipeline import BatchOutput, clean_batch

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
REFERENCE = RAW / "samples" / "000_4c60d5582bf9f543.txt"
FAKENEWS = RAW / "fakenewscorpus" / "news_sample.csv"


def make_batch(
    *texts: str, titles: list[str | None] | None = None, domain: str | None = None
) -> pa.Table:
    """A document batch as ingest produces it, for stage unit tests."""
    builder = BatchBuilder(batch_size=len(texts) + 1)
    for i, text in enumerate(texts):
        title = titles[i] if titles else None
        url = f"https://{domain}/a{i}" if domain else None
        builder.add("test.jsonl", i, title=title, text=text, url=url)
    docs, _ = builder.flush()
    return docs


def clean_texts(*texts: str, **kw) -> BatchOutput:
    return clean_batch(make_batch(*texts, **kw))


def clean_one(text: str, title: str | None = None, domain: str | None = None) -> dict:
    out = clean_batch(make_batch(text, titles=[title], domain=domain))
    row = out.docs.to_pylist()[0] if out.docs.num_rows else {"text": ""}
    row["edits"] = out.edits.to_pylist()
    return row
