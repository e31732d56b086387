"""Reference competitor for near-dup dedup: datatrove's four-stage MinHash on JSONL.

Why: newsclean's dedup figures (speed, memory, what it removes) mean little alone;
this runs datatrove's MinHash deduplication, the usual off-the-shelf choice, on the
same corpus (from ``bench/make_corpus.py``) on the same machine, and writes what it
found in a form another script can compare with newsclean's duplicate list.

Runs in datatrove's OWN venv (the one ``bench/datatrove_baseline.py`` uses), so its
dependencies can never move newsclean's pins. ``datatrove.pipeline.dedup`` imports
``tokenizers`` (for an exact-substring step this script does not use) and the MinHash
config hashes shingles with ``xxhash`` by default; neither is in the minimal install
of ``datatrove_baseline.py``. Install command that worked (datatrove 0.10.1, Python
3.11; it installed tokenizers 0.23.3 and xxhash 3.8.2 and left datatrove at 0.10.1)::

    /work/venv-dt/bin/pip install "datatrove==0.10.1" tokenizers "xxhash<4"

(``xxhash<4`` is datatrove's own bound, from its ``processing`` extra.)
Optional, only for ``--tokenizer spacy``: ``/work/venv-dt/bin/pip install spacy``.

Usage::

    /work/venv-dt/bin/python bench/datatrove_minhash.py RAW_DIR WORK_DIR [--tasks 2] [--workers 2]

``RAW_DIR`` is the folder of ``*.jsonl`` files: ``CORPUS/raw`` for a corpus from
``make_corpus.py`` (``CORPUS`` itself also works: its ``raw/`` is used). Each record's
``content`` is the text and ``id`` the document id; the other keys are metadata.
Everything is written under ``WORK_DIR`` (its sub-folders listed below are wiped
first, so a rerun redoes all the work).

Stages, timed one by one (datatrove runs each as its own executor, one after another):

1. ``signatures``: ``JsonlReader`` -> MinHash signature of each document, written per
   bucket and sorted; ``--tasks`` tasks on ``--workers`` processes. A task reads whole
   files (``files[rank::tasks]``), so a corpus of a single file keeps one core idle.
2. ``buckets``: per bucket, a merge of the sorted signatures finds documents whose
   ``hashes_per_bucket`` minhashes are all equal; ``num_buckets`` tasks (datatrove
   requires a multiple of it) on ``--workers`` processes.
3. ``cluster``: union-find over all matched pairs, one task (datatrove requires it).
   In each cluster the union-find root is kept, every other member goes to a
   ``.remove`` list. ``save_cluster_id=True``, so cluster ids are written as well.
4. ``filter``: ``JsonlReader`` again -> ``MinhashDedupFilter`` drops the listed
   documents (its ``exclusion_writer`` writes the dropped ids) -> the kept documents
   are written (``--output parquet``, the default, as newsclean writes Parquet; or
   ``jsonl``; or ``none`` to time the dedup without writing a corpus).

Configuration (``MinhashConfig``), chosen to be comparable with newsclean:

* ``n_grams=5``: shingles of 5 words (datatrove's default too);
* 128 permutations as ``num_buckets=16`` x ``hashes_per_bucket=8``: 128 in total like
  newsclean, with datatrove's own band width of 8 (its default is 14 x 8 = 112), so
  the LSH curve keeps datatrove's shape: a pair with Jaccard similarity s is matched
  with probability 1 - (1 - s**8)**16, about 0.95 at s = 0.8, 0.61 at s = 0.7, 0.06
  at s = 0.5 (threshold near (1/16)**(1/8) = 0.71). ``--num-buckets`` and
  ``--hashes-per-bucket`` (and ``--n-grams``) override;
* 64-bit hashes: ``HashConfig(precision=64, hash_fc="xxhash")``, the 0.10.1 default,
  set explicitly (older datatrove spelled this ``use_64bit_hashes=True``);
* text normalisation: datatrove's default ``TextNormConfig`` (lower case, whitespace
  folded, punctuation removed, diacritics stripped, every digit run replaced by
  ``0``) before shingling. The digit step makes copies that differ only in their
  figures identical; newsclean keeps such reports apart on purpose.
  ``--no-norm-numbers`` turns that step off (``TextNormConfig(norm_numbers=False)``)
  for a comparison on those copies; the default is datatrove's own.

Word tokenizer: for English datatrove's default is spaCy (``spacy.blank("en")``),
which the minimal install leaves out. ``--tokenizer whitespace`` (default) passes a
plain ``str.split`` tokenizer instead, like ``datatrove_baseline.py`` does. It is
applied to the already-normalised text (no punctuation, single spaces), so it splits
words almost exactly as spaCy would there. ``--tokenizer spacy`` uses datatrove's
default (needs spaCy installed).

How removed/kept ids are derived: datatrove's stage-3 files name a document by
``(stage-1 task, index of the document in that task's stream)``, not by its id. So
stage 1 runs one extra step ahead of the signature step, ``RecordIds``, which writes
each task's document ids in stream order (``ids/NNNNN.jsonl``). The ``.clusters``
files (index, cluster id) and ``.remove`` files (index) of stage 3 are then decoded
with those lists: each cluster's member not in ``.remove`` is the one kept (the
union-find root), and each removed member is paired with it. As a check, the removed
ids decoded this way must equal the ids stage 4's ``exclusion_writer`` wrote.

Caveats for a comparison:

* which member datatrove keeps is whatever ends up as the union-find root (union by
  size, in the order the bucket files list the pairs), not a content rule such as
  newsclean's "longest text": compare cluster membership and removed counts, not
  which id was kept;
* clusters are transitive (A~B and B~C make one cluster), so a removed document can
  be far less similar to its cluster's kept one than to the member it matched;
* LSH matches on one equal band of 8 minhashes, so some pairs well under the
  threshold are matched too (on the recombined-paragraph corpora of
  ``make_corpus.py``, pairs with 5-gram Jaccard down to about 0.2 were);
* documents of fewer than ``n_grams`` words get no signature and are never removed;
* stages 1, 2 and 4 each start their own process pool (``--workers`` > 1), and that
  start-up is in their time; stage 3 runs in this process.

Outputs in ``WORK_DIR``:

* ``result.json``: ``documents``, ``seconds`` (all four stages, wall clock),
  ``docs_per_s``, ``stage_seconds``, ``peak_rss_mb`` (summed RSS of this process and
  all its workers at the peak, sampled from ``/proc`` by ``procmem``), ``removed_ids``
  (sorted), plus per-stage peaks, PSS, cluster counts, the configuration, and the
  counts from ``truth.json`` when the corpus has one;
* ``clusters.parquet``: one row per removed document: ``removed_id``, ``kept_id``,
  ``cluster_id`` (datatrove's), ``cluster_size``;
* working folders: ``signatures/``, ``buckets/``, ``remove_ids/``, ``ids/``,
  ``removed/``, ``output/``, ``logs/`` (datatrove's logs and ``stats.json`` per stage).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer
from datatrove_baseline import resolve_raw_dir
from procmem import TreeMemorySampler

MB = 1_000_000
STAGES = ("signatures", "buckets", "cluster", "filter")
# Sub-folders of WORK_DIR this script owns; wiped before a run.
WORK_SUBDIRS = ("signatures", "buckets", "remove_ids", "ids", "removed", "output", "logs")
# Explicit output schema: datatrove otherwise infers it from the first document, and a
# first document with ``authors: null`` makes every later batch fail to write.
OUTPUT_COLUMNS = ("id", "text", "title", "url", "domain", "authors", "published", "file_path")
OUTPUT_SCHEMA = pa.schema([(name, pa.string()) for name in OUTPUT_COLUMNS])


class WhitespaceWordTokenizer(WordTokenizer):
    """Offline tokenizer: words are whitespace-separated chunks.

    MinHash only calls ``word_tokenize``; the sentence methods exist because the base
    class requires them. Defined here, not in a package, because datatrove ships
    pipelines to workers with dill, which pickles ``__main__`` classes by value.
    """

    def __init__(self) -> None:
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        """Split on whitespace."""
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        """The whole text as one sentence (unused by MinHash)."""
        return [text.strip()] if text.strip() else []

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """The whole text as one span (unused by MinHash)."""
        return [(0, len(text))] if text.strip() else []


class RecordIds(PipelineStep):
    """Pass-through step writing each task's document ids, in stream order.

    Stage 3 names documents by (task, index in the task's stream); this list turns
    that back into ids. One JSON string per line, in ``ids/{rank:05d}.jsonl``.
    """

    type = "📝 - BENCH"
    name = "record ids"

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Write ``doc.id`` of every document and yield it on unchanged."""
        path = Path(self.folder) / f"{rank:05d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for doc in data:
                fh.write(json.dumps(doc.id) + "\n")
                yield doc


def id_only(self: Any, document: Document) -> dict[str, Any]:
    """``exclusion_writer`` adapter: keep only the id of each removed document."""
    return {"id": document.id}


def _stat(stats: list[dict[str, Any]], step_name: str, key: str) -> int:
    """Pull a counter out of datatrove's merged ``stats.json``.

    ``step_name`` is matched case-insensitively anywhere in the step's name (e.g.
    ``"jsonl"`` for the reader, ``"stage 4"`` for ``MinhashDedupFilter``).
    """
    for step in stats:
        if step_name.lower() in step.get("name", "").lower():
            val = step.get("stats", {}).get(key, 0)
            return int(val["total"] if isinstance(val, dict) else val)
    return 0


def _stage_stats(logs_dir: Path) -> list[dict[str, Any]]:
    path = logs_dir / "stats.json"
    return json.loads(path.read_text()) if path.exists() else []


def _read_u32(path: Path) -> list[int]:
    """Little-endian uint32 values of one of datatrove's stage-3 files."""
    data = path.read_bytes()
    return list(struct.unpack(f"<{len(data) // 4}I", data))


def decode_clusters(work_dir: Path) -> list[dict[str, Any]]:
    """(removed_id, kept_id, cluster_id, cluster_size) rows from stage-3 files.

    See the module docstring: ``.clusters`` hold (index, cluster id) pairs per
    stage-1 task, ``.remove`` the removed indices; ``ids/`` maps indices to ids.
    """
    rm_dir = work_dir / "remove_ids"
    ids: dict[int, list[str]] = {}
    for path in sorted((work_dir / "ids").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            ids[int(path.stem)] = [json.loads(line) for line in fh]
    removed: set[tuple[int, int]] = set()
    for path in rm_dir.glob("*.remove"):
        removed.update((int(path.stem), idx) for idx in _read_u32(path))
    members: dict[int, list[tuple[int, int]]] = {}
    for path in rm_dir.glob("*.clusters"):
        vals = _read_u32(path)
        task = int(path.stem)
        for idx, cid in zip(vals[0::2], vals[1::2], strict=True):
            members.setdefault(cid, []).append((task, idx))
    rows = []
    for cid, docs in sorted(members.items()):
        kept = [d for d in docs if d not in removed]
        if len(kept) != 1:
            raise RuntimeError(f"cluster {cid}: {len(kept)} kept members, expected 1")
        kept_id = ids[kept[0][0]][kept[0][1]]
        rows.extend(
            {
                "removed_id": ids[task][idx],
                "kept_id": kept_id,
                "cluster_id": cid,
                "cluster_size": len(docs),
            }
            for task, idx in sorted(docs)
            if (task, idx) in removed
        )
    if len(rows) != len(removed):
        raise RuntimeError(f"{len(removed)} removed documents but {len(rows)} in clusters")
    return rows


def _timed(
    name: str, executor: LocalPipelineExecutor, figures: dict[str, dict[str, float]]
) -> None:
    """Run one stage, recording its wall time and the tree's peak memory."""
    # This process's own tree (workers, fork server); every 0.1 s with PSS at every
    # sample, as datatrove_baseline.py samples, so the figures stay comparable.
    sampler = TreeMemorySampler(os.getpid(), interval=0.1, pss_every=1)
    sampler.start()
    t0 = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - t0
    sampler.stop()
    figures[name] = {
        "seconds": seconds,
        "peak_rss": sampler.peak_rss,
        "peak_pss": sampler.peak_pss,
        "procs_at_peak": sampler.procs_at_peak,
    }


def run(
    raw_dir: Path,
    work_dir: Path,
    *,
    tasks: int = 2,
    workers: int = 2,
    n_grams: int = 5,
    num_buckets: int = 16,
    hashes_per_bucket: int = 8,
    tokenizer: str = "whitespace",
    norm_numbers: bool = True,
    output: str = "parquet",
    start_method: str = "forkserver",
) -> dict[str, Any]:
    """Run the four MinHash stages and return the figures (also saved in WORK_DIR)."""
    raw_dir = resolve_raw_dir(raw_dir)
    inputs = sorted(raw_dir.glob("*.jsonl"))
    if not inputs:
        raise SystemExit(f"no *.jsonl files in {raw_dir}")
    in_bytes = sum(p.stat().st_size for p in inputs)
    work_dir.mkdir(parents=True, exist_ok=True)
    for sub in WORK_SUBDIRS:
        shutil.rmtree(work_dir / sub, ignore_errors=True)
    d = {sub: str(work_dir / sub) for sub in WORK_SUBDIRS}
    logs = work_dir / "logs"

    config = MinhashConfig(
        n_grams=n_grams,
        num_buckets=num_buckets,
        hashes_per_bucket=hashes_per_bucket,
        seed=1,
        norm_config=TextNormConfig(norm_numbers=norm_numbers),
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )
    language: Any = WhitespaceWordTokenizer() if tokenizer == "whitespace" else "en"

    def reader() -> JsonlReader:
        # glob: only the data files, whatever else someone puts in the folder. Stages
        # 1 and 4 must read the same documents in the same order, task by task.
        return JsonlReader(str(raw_dir), text_key="content", id_key="id", glob_pattern="*.jsonl")

    def executor(name: str, pipeline: list[Any], n_tasks: int, n_workers: int) -> Any:
        return LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=n_tasks,
            workers=n_workers,
            logging_dir=str(logs / name),
            skip_completed=False,  # a rerun into the same WORK_DIR must redo the work
            start_method=start_method,
        )

    writers: dict[str, Callable[[], Any]] = {
        "parquet": lambda: ParquetWriter(d["output"], expand_metadata=True, schema=OUTPUT_SCHEMA),
        "jsonl": lambda: JsonlWriter(d["output"], expand_metadata=True),
        "none": lambda: None,
    }
    out_writer = writers[output]()
    stage_pipelines = {
        "signatures": (
            [
                reader(),
                RecordIds(d["ids"]),
                MinhashDedupSignature(d["signatures"], config=config, language=language),
            ],
            tasks,
            workers,
        ),
        "buckets": (
            [MinhashDedupBuckets(d["signatures"], d["buckets"], config=config)],
            num_buckets,  # datatrove: tasks must be a multiple of num_buckets
            workers,
        ),
        "cluster": (
            [
                MinhashDedupCluster(
                    d["buckets"], d["remove_ids"], config=config, save_cluster_id=True
                )
            ],
            1,  # datatrove: world size must be 1 for clustering
            1,
        ),
        "filter": (
            [
                reader(),
                MinhashDedupFilter(
                    d["remove_ids"],
                    exclusion_writer=JsonlWriter(
                        d["removed"],
                        output_filename="${rank}.jsonl",
                        compression=None,
                        adapter=id_only,
                    ),
                ),
                *([out_writer] if out_writer is not None else []),
            ],
            tasks,
            workers,
        ),
    }

    stage_figures: dict[str, dict[str, float]] = {}
    for name in STAGES:
        pipeline, n_tasks, n_workers = stage_pipelines[name]
        _timed(name, executor(name, pipeline, n_tasks, n_workers), stage_figures)
    seconds = sum(f["seconds"] for f in stage_figures.values())

    rows = decode_clusters(work_dir)
    removed_ids = sorted(r["removed_id"] for r in rows)
    excluded: list[str] = []
    for path in sorted((work_dir / "removed").glob("*.jsonl")):
        excluded.extend(json.loads(line)["id"] for line in path.read_text().splitlines())
    if sorted(excluded) != removed_ids:
        raise RuntimeError(
            f"exclusion_writer wrote {len(excluded)} ids, stage-3 files decode to "
            f"{len(removed_ids)}: the two routes disagree"
        )
    cluster_table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("removed_id", pa.string()),
                ("kept_id", pa.string()),
                ("cluster_id", pa.int64()),
                ("cluster_size", pa.int64()),
            ]
        ),
    )
    pq.write_table(cluster_table, work_dir / "clusters.parquet")

    sig_stats = _stage_stats(logs / "signatures")
    filter_stats = _stage_stats(logs / "filter")
    documents = _stat(sig_stats, "jsonl", "documents")
    peak = max(stage_figures.values(), key=lambda f: f["peak_rss"])
    result: dict[str, Any] = {
        "documents": documents,
        "seconds": round(seconds, 2),
        "docs_per_s": round(documents / seconds, 1),
        "stage_seconds": {k: round(f["seconds"], 2) for k, f in stage_figures.items()},
        "peak_rss_mb": round(peak["peak_rss"] / MB, 1),
        "peak_pss_mb": round(max(f["peak_pss"] for f in stage_figures.values()) / MB, 1),
        "procs_at_peak": peak["procs_at_peak"],
        "stage_peak_rss_mb": {k: round(f["peak_rss"] / MB, 1) for k, f in stage_figures.items()},
        "input_dir": str(raw_dir),
        "input_files": len(inputs),
        "input_mb": round(in_bytes / MB, 1),
        "mb_per_s": round(in_bytes / MB / seconds, 2),
        "n_removed": len(removed_ids),
        "n_clusters": len({r["cluster_id"] for r in rows}),
        "docs_kept": _stat(filter_stats, "stage 4", "forwarded"),
        "config": {
            "n_grams": n_grams,
            "num_buckets": num_buckets,
            "hashes_per_bucket": hashes_per_bucket,
            "permutations": num_buckets * hashes_per_bucket,
            "hash": "xxhash64",
            "tokenizer": tokenizer,
            "norm_numbers": norm_numbers,
            "tasks": tasks,
            "workers": workers,
            "output": output,
            "start_method": start_method,
        },
    }
    truth_path = raw_dir.parent / "truth.json"
    if truth_path.exists():
        truth = json.loads(truth_path.read_text())
        result["truth"] = {
            k: truth.get(k) for k in ("n_docs", "n_exact_dup_copies", "n_dup_groups")
        }
    result["removed_ids"] = removed_ids
    (work_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints a summary, writes result.json and clusters.parquet."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw_dir", type=Path, help="folder of *.jsonl (or a corpus with raw/)")
    ap.add_argument("work_dir", type=Path)
    ap.add_argument("--tasks", type=int, default=2, help="tasks of stages 1 and 4")
    ap.add_argument("--workers", type=int, default=2, help="processes of stages 1, 2 and 4")
    ap.add_argument("--n-grams", type=int, default=5)
    ap.add_argument("--num-buckets", type=int, default=16)
    ap.add_argument("--hashes-per-bucket", type=int, default=8)
    ap.add_argument("--tokenizer", choices=("whitespace", "spacy"), default="whitespace")
    ap.add_argument(
        "--no-norm-numbers",
        dest="norm_numbers",
        action="store_false",
        help="keep digits as they are (datatrove's default replaces each digit run by 0)",
    )
    ap.add_argument(
        "--output",
        choices=("parquet", "jsonl", "none"),
        default="parquet",
        help="how stage 4 writes the kept documents (none: not at all)",
    )
    ap.add_argument(
        "--start-method",
        choices=("forkserver", "fork", "spawn"),
        default="forkserver",
        help="multiprocess start method (datatrove's default: forkserver)",
    )
    args = ap.parse_args(argv)
    r = run(
        args.raw_dir,
        args.work_dir,
        tasks=args.tasks,
        workers=args.workers,
        n_grams=args.n_grams,
        num_buckets=args.num_buckets,
        hashes_per_bucket=args.hashes_per_bucket,
        tokenizer=args.tokenizer,
        norm_numbers=args.norm_numbers,
        output=args.output,
        start_method=args.start_method,
    )
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in r["stage_seconds"].items())
    lines = [
        f"datatrove MinHash on {r['input_dir']} ({r['input_files']} files, {r['input_mb']} MB)",
        f"documents: {r['documents']}  removed: {r['n_removed']} in {r['n_clusters']} clusters",
        f"total: {r['seconds']:.2f}s  {r['docs_per_s']} docs/s  {r['mb_per_s']} MB/s",
        f"stages: {stages}",
        f"peak RSS (process tree): {r['peak_rss_mb']} MB  (PSS {r['peak_pss_mb']} MB)",
    ]
    if "truth" in r:
        lines.append(f"truth.json: {r['truth']}")
    lines.append(f"wrote {args.work_dir / 'result.json'} and {args.work_dir / 'clusters.parquet'}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
