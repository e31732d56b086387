"""Helpers shared by the tests: paths of the shipped data and one-call stage runners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from newsclean.tasks.pipeline.chain import CHAIN
from newsclean.tasks.pipeline.runner import BatchRun, Runner
from newsclean.tasks.pipeline.steps import run_inline
from newsclean.tasks.pipeline.units import RunInputs, build_stages
from newsclean.tasks.schema import DOC_SCHEMA
from newsclean.tasks.stages.minhash import default_config
from newsclean.tasks.storage.ingest import BatchBuilder

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


def clean_batch(docs: pa.Table) -> BatchRun:
    """The chain's clean pass (``clean-unit``'s stages) over one batch, as a worker runs it."""
    stages = build_stages(CHAIN.step("clean-unit").stages, RunInputs(near_dup=default_config()))
    return Runner(stages, DOC_SCHEMA).run(docs)


def clean_texts(*texts: str, **kw) -> BatchRun:
    return clean_batch(make_batch(*texts, **kw))


def clean_one(text: str, title: str | None = None, domain: str | None = None) -> dict:
    out = clean_batch(make_batch(text, titles=[title], domain=domain))
    row = out.docs.to_pylist()[0] if out.docs.num_rows else {"text": ""}
    row["edits"] = out.edits.to_pylist()
    return row


def run_steps(
    raw: Path,
    out: Path,
    full: bool = False,
    lock_wait: float = 0.0,
    learn: bool = True,
    **params: Any,
) -> dict:
    """One run of the chain's steps as plain functions, in this process (no Prefect, no
    typos unless asked): the same steps in the same order as the flow. Returns the dedup and
    publish counts, the raw-file counts, the run id and the learned-boilerplate info."""
    params.setdefault("typos", False)
    state = run_inline(
        raw_dir=str(raw),
        out_dir=str(out),
        full=full,
        lock_wait=lock_wait,
        learn_boilerplate=learn,
        workers=params.pop("workers", 1),
        **params,
    )
    return {
        **state.dedup,
        **state.published,
        "files": state.scan["files"],
        "run_id": state.run.run_id,
        "boilerplate": state.learned,
        "summary": state.summary,
    }
