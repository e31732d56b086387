"""Shared fixtures. Prefect is imported only inside the harness fixture: importing it at module
level costs seconds for every unit-test run (docs/prefect.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import newsclean.prefect_env  # noqa: F401  (telemetry off, PREFECT_HOME, before any prefect import)
from tasks.ingest import BatchBuilder
from tasks.pipeline import BatchOutput, clean_batch

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
REFERENCE = RAW / "samples" / "000_4c60d5582bf9f543.txt"
FAKENEWS = RAW / "fakenewscorpus" / "news_sample.csv"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def demo_raw(tmp_path: Path) -> Path:
    """A private copy of the shipped demo data (tests never write into data/raw)."""
    target = tmp_path / "raw"
    shutil.copytree(RAW, target)
    return target


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
