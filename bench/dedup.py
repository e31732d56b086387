"""Near-duplicate benchmark: quality, speed and memory of newsclean's dedup, beside datatrove's.

Why: the dedup bars (recall and precision on injected near-copies, documents/s against
datatrove's MinHash dedup, peak memory, re-runs adding nothing) can only be checked on a
corpus whose copies are known. ``bench/make_neardup_corpus.py`` makes one from real
paragraphs; this script

1. times newsclean's dedup stage alone on the corpus's raw ``content`` (what datatrove's
   MinHash dedup also works on): reading the JSONL files, MinHash sketches in a process pool
   (the flow's ``sketch-unit`` stages, one job per file), then LSH, verification, clusters and
   the keep policy (the flow's ``dedup`` step, in a worker), in a subprocess whose whole
   process tree's peak RSS is sampled;
2. scores the clusters against ``truth.parquet``: recall over the copies that should merge
   (true 5-shingle Jaccard >= 0.8), precision of the (dropped, kept) pairs (same story, and
   not a "numbers changed" control), and the share of number-only variants merged;
3. sweeps the threshold (the same signatures, re-banded) to show recall against threshold;
4. optionally (``--vs-datatrove``) runs ``bench/datatrove_minhash.py`` in its own venv on the
   same files and scores its clusters the same way;
5. optionally (``--flow``) runs the whole ``newsclean run --no-typos`` twice on the corpus and
   reports the second run's added rows (must be zero) and the flow's own dedup figures.

Usage::

    python bench/make_neardup_corpus.py /tmp/newsclean-bench/neardup-100k --docs 100000
    python bench/dedup.py /tmp/newsclean-bench/neardup-100k --vs-datatrove --flow

Figures go to stdout and to ``WORK/dedup-bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_DIR))

from dedup_jobs import decide_all, sketch_file  # noqa: E402  (workers import it by name)
from procmem import measure  # noqa: E402

DEFAULT_DT_PYTHON = Path("/work/venv-dt/bin/python")
SWEEP = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


# --------------------------------------------------------------------------- newsclean side


def inner(raw: Path, work: Path, workers: int, keys: bool = True, exact: bool = True) -> None:
    """The measured run (in its own process): sketch in a pool, then decide in a worker."""
    from newsclean.tasks.pipeline import workers as pool
    from newsclean.tasks.stages import minhash

    config = minhash.default_config()
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.parquet"):
        stale.unlink()
    files = sorted(str(p) for p in raw.glob("*.jsonl"))
    started = time.perf_counter()
    jobs = [(f, str(work), config, 1000, keys) for f in files]
    counts = pool.run_many(workers, sketch_file, jobs)
    sketched = time.perf_counter()
    result = pool.run(workers, decide_all, str(work), config, exact)
    done = time.perf_counter()
    pool.shutdown()
    result.update(
        sketch_seconds=round(sketched - started, 2),
        decide_seconds=round(done - sketched, 2),
        seconds=round(done - started, 2),
        sketched=sum(counts),
    )
    (work / "result.json").write_text(json.dumps(result))


# --------------------------------------------------------------------------- scoring


def load_truth(corpus: Path) -> pd.DataFrame:
    return pd.read_parquet(corpus / "truth.parquet")


def clusters_from_pairs(dropped: pd.DataFrame) -> dict[str, str]:
    """doc id → the id of the copy kept for it (kept copies map to themselves implicitly)."""
    return dict(zip(dropped["doc_id"], dropped["kept_doc_id"], strict=True))


def score(truth: pd.DataFrame, kept_of: dict[str, str]) -> dict[str, Any]:
    """Recall over copies that should merge, precision of the reported pairs, controls."""

    def root(doc: str) -> str:
        return kept_of.get(doc, doc)

    merged = np.array(
        [root(c) == root(s) for c, s in zip(truth["copy_id"], truth["source_id"], strict=True)]
    )
    should = truth["should_merge"].to_numpy()
    numbers = (truth["variant"] == "numbers_changed").to_numpy()
    # Precision: a reported (dropped, kept) pair is right when both are the same story (one
    # family: a source and its copies) and neither side is a number-only variant of the other.
    family = dict(zip(truth["copy_id"], truth["source_id"], strict=True))
    number_copies = set(truth.loc[numbers, "copy_id"])
    good = 0
    for doc, kept in kept_of.items():
        same_story = family.get(doc, doc) == family.get(kept, kept)
        good += same_story and doc not in number_copies and kept not in number_copies
    per_variant = (
        pd.DataFrame({"variant": truth["variant"], "merged": merged, "should": should})
        .query("should")
        .groupby("variant")["merged"]
        .mean()
        .round(3)
        .to_dict()
    )
    return {
        "pairs_reported": len(kept_of),
        "precision": round(good / len(kept_of), 4) if kept_of else None,
        "recall_should_merge": round(float(merged[should].mean()), 4),
        "should_merge": int(should.sum()),
        "numbers_changed_merged": round(float(merged[numbers].mean()), 4)
        if numbers.any()
        else None,
        "below_threshold_merged": round(float(merged[~should & ~numbers].mean()), 4),
        "recall_by_variant": per_variant,
    }


def sweep(work: Path, truth: pd.DataFrame) -> list[dict[str, Any]]:
    """Recall and precision against the threshold, from the same signatures re-banded."""
    from newsclean.tasks.stages import minhash
    from newsclean.tasks.stages.dedup import Documents, TableSketches, decide

    keys = pa.concat_tables(pq.read_table(p) for p in sorted(work.glob("*.keys.parquet")))
    sketch = pa.concat_tables(pq.read_table(p) for p in sorted(work.glob("*.sketch.parquet")))
    base = minhash.default_config()
    sigs = minhash.signature_matrix(sketch.column("signature"), base.permutations)
    rows = []
    for threshold in SWEEP:
        config = base.with_overrides(threshold=threshold)
        bands = minhash.band_hashes(sigs, config)
        columns = {n: sketch.column(n) for n in ("doc_id", "has_shingles", "signature")}
        columns.update(
            {n: pa.array(bands[:, i]) for i, n in enumerate(minhash.band_columns(config))}
        )
        columns.update(
            {n: sketch.column(n) for n in ("num_contexts", "num_values", "url_key", "title_key")}
        )
        rebanded = pa.table(columns, schema=minhash.sketch_schema(config))
        started = time.perf_counter()
        decision = decide(Documents(keys, rebanded), TableSketches.empty(config), config)
        seconds = time.perf_counter() - started
        found = score(truth, clusters_from_pairs(decision.duplicates.to_pandas()))
        rows.append(
            {
                "threshold": threshold,
                "bands": f"{config.bands}x{config.rows}",
                "recall": found["recall_should_merge"],
                "precision": found["precision"],
                "numbers_merged": found["numbers_changed_merged"],
                "below_0.8_merged": found["below_threshold_merged"],
                "decide_s": round(seconds, 2),
            }
        )
    return rows


# --------------------------------------------------------------------------- competitors


def run_datatrove(corpus: Path, work: Path, dt_python: Path) -> dict[str, Any]:
    dt_work = work / "datatrove"
    cmd = [
        str(dt_python),
        str(BENCH_DIR / "datatrove_minhash.py"),
        str(corpus / "raw"),
        str(dt_work),
        "--output",
        "none",
    ]
    measured = measure(cmd, work / "datatrove.log", REPO_DIR)
    result = json.loads((dt_work / "result.json").read_text())
    clusters = pd.read_parquet(dt_work / "clusters.parquet")
    kept_of = dict(zip(clusters["removed_id"], clusters["kept_id"], strict=True))
    return {**measured, "documents": result["documents"], "quality": kept_of}


def _table_rows(out: Path) -> dict[str, int]:
    return {
        name: sum(pq.ParquetFile(p).metadata.num_rows for p in (out / name).glob("*.parquet"))
        for name in ("articles", "edits", "duplicates", "quarantine", "dedup_index")
    }


def run_flow_twice(corpus: Path, work: Path) -> dict[str, Any]:
    """The whole CLI twice on the corpus: the second run must add no rows."""
    out = work / "flow-clean"
    if out.exists():
        shutil.rmtree(out)
    cli = [sys.executable, "-m", "newsclean.cli", "run", str(corpus / "raw"), "--out", str(out)]
    first = measure([*cli, "--no-typos"], work / "flow-1.log", REPO_DIR)
    rows_first = _table_rows(out)
    second = measure([*cli, "--no-typos"], work / "flow-2.log", REPO_DIR)
    rows_second = _table_rows(out)
    summaries = sorted((out / "runs").glob("*.json"))
    run1 = json.loads(summaries[0].read_text())
    articles = pd.read_parquet(out / "articles", columns=["doc_id", "extra"])
    duplicates = pd.read_parquet(out / "duplicates", columns=["doc_id", "kept_doc_id"])
    corpus_id = {
        d: json.loads(e)["id"] for d, e in zip(articles["doc_id"], articles["extra"], strict=True)
    }
    return {
        "first_run": {**first, "dedup": run1["dedup"], "kept": run1["kept"]},
        "second_run": second,
        "rows_after_first": rows_first,
        "rows_added_by_second": {k: rows_second[k] - rows_first[k] for k in rows_first},
        "kept_ids": len(corpus_id),
        "dropped": len(duplicates),
    }


# --------------------------------------------------------------------------- main


def _print_score(name: str, docs: int, measured: dict[str, Any], quality: dict[str, Any]) -> None:
    rate = docs / measured["wall_seconds"]
    print(
        f"{name:<10} {docs:>8,} docs  {measured['wall_seconds']:>7.2f} s  {rate:>8,.0f} docs/s  "
        f"peak RSS {measured['peak_rss_mb']:>5,} MB  recall {quality['recall_should_merge']:.4f}  "
        f"precision {quality['precision']:.4f}  number-only merged "
        f"{quality['numbers_changed_merged']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="folder made by make_neardup_corpus.py")
    ap.add_argument("--work", type=Path, default=None, help="scratch (default CORPUS/bench)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--vs-datatrove", action="store_true")
    ap.add_argument("--dt-python", type=Path, default=DEFAULT_DT_PYTHON)
    ap.add_argument("--flow", action="store_true", help="also run the whole CLI twice")
    ap.add_argument(
        "--no-keys", action="store_true", help="MinHash candidates only (no URL/title keys)"
    )
    ap.add_argument(
        "--no-exact",
        action="store_true",
        help="no dedup.near-exact check: the MinHash estimate alone decides",
    )
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = args.work or args.corpus / "bench"
    if args.inner:
        inner(
            args.corpus / "raw",
            work / "newsclean",
            args.workers,
            not args.no_keys,
            not args.no_exact,
        )
        return 0
    work.mkdir(parents=True, exist_ok=True)
    truth = load_truth(args.corpus)
    cmd = [sys.executable, __file__, str(args.corpus), "--work", str(work), "--inner"]
    cmd += ["--no-keys"] if args.no_keys else []
    cmd += ["--no-exact"] if args.no_exact else []
    measured = measure([*cmd, "--workers", str(args.workers)], work / "newsclean.log", REPO_DIR)
    inner_result = json.loads((work / "newsclean" / "result.json").read_text())
    dropped = pd.read_parquet(work / "newsclean" / "duplicates.parquet")
    quality = score(truth, clusters_from_pairs(dropped))
    report: dict[str, Any] = {
        "corpus": str(args.corpus),
        "newsclean": {**measured, **inner_result, "quality": quality},
    }
    print(f"corpus {args.corpus}: {inner_result['documents']:,} documents")
    _print_score("newsclean", inner_result["documents"], measured, quality)
    print(
        f"           sketch {inner_result['sketch_seconds']} s, decide "
        f"{inner_result['decide_seconds']} s (inside the process; wall includes start-up); "
        f"{inner_result.get('texts_read', 0):,} texts read for the exact check"
    )
    if args.vs_datatrove:
        dt = run_datatrove(args.corpus, work, args.dt_python)
        dt_quality = score(truth, dt.pop("quality"))
        report["datatrove"] = {**dt, "quality": dt_quality}
        _print_score("datatrove", dt["documents"], dt, dt_quality)
        ratio = dt["wall_seconds"] / measured["wall_seconds"]
        report["speedup_vs_datatrove"] = round(ratio, 2)
        print(f"newsclean / datatrove documents/s: {ratio:.2f}x")
    print("\nrecall against threshold (same signatures, re-banded):")
    report["sweep"] = sweep(work / "newsclean", truth)
    print(pd.DataFrame(report["sweep"]).to_string(index=False))
    print("\nrecall by variant (should-merge copies):")
    for variant, value in quality["recall_by_variant"].items():
        print(f"  {variant:<40} {value:.3f}")
    if args.flow:
        report["flow"] = run_flow_twice(args.corpus, work)
        flow = report["flow"]
        print(
            f"\nflow (newsclean run --no-typos): first run {flow['first_run']['wall_seconds']} s, "
            f"peak RSS {flow['first_run']['peak_rss_mb']} MB, dedup {flow['first_run']['dedup']}"
        )
        print(f"second run added rows: {flow['rows_added_by_second']}")
    (work / "dedup-bench.json").write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
