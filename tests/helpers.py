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


def run_steps(
    raw: Path, out: Path, full: bool = False, lock_wait: float = 0.0, learn: bool = True
) -> dict:
    """One run of the flow's steps as plain functions, in this process (no Prefect): scan,
    plan, clean, sketch, dedup, learn boilerplate, publish — what ``clean_corpus`` composes,
    without typos."""
    from tasks import (
        dedup,
        ingest,
        learned_boilerplate,
        manifest,
        minhash,
        pipeline,
        run_state,
        write,
    )

    config = minhash.default_config()
    run = run_state.start_run(str(raw), str(out), lock_wait)
    try:
        scan = manifest.plan_incremental(run.raw_dir, run.out_dir, run.staging_dir, full)
        plan = ingest.plan_units(
            Path(run.raw_dir), 1000, ingest.DEFAULT_UNIT_BYTES, set(scan["process"])
        )
        for unit in plan.units:
            pipeline.process_unit(run.raw_dir, run.staging_dir, unit, 1000)
            pipeline.sketch_unit(run.staging_dir, unit.index, config)
        counts = dedup.run_dedup(run.staging_dir, run.out_dir, config, scan["retract"])
        learned = (
            learned_boilerplate.learn(
                run.staging_dir,
                run.out_dir,
                run.run_id,
                learned_boilerplate.default_config(),
                scan["retract"],
            )
            if learn
            else {}
        )
        published = write.publish_run(
            Path(run.out_dir),
            Path(run.staging_dir),
            run.run_id,
            plan.unsupported,
            run.ingested_at,
            config,
            1,
            scan["retract"],
            [],
        )
        run_state.finish_run(run, {"run_id": run.run_id})
    finally:
        run_state.release(run)
    return {
        **counts,
        **published,
        "files": scan["files"],
        "run_id": run.run_id,
        "boilerplate": learned,
    }
