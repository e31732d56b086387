"""Reference competitor: datatrove's own JSONL -> ftfy -> C4 lines -> Parquet pipeline.

Why: newsclean's throughput and memory figures mean little alone; this runs the
closest off-the-shelf equivalent on the same corpus (from ``bench/make_corpus.py``)
on the same machine, so the two can be compared like for like.

Runs in its OWN venv so datatrove's dependencies can never move newsclean's pins.
Install command that worked (datatrove 0.10.1, Python 3.11; only what these four
steps import, instead of the heavy ``[processing]``/``[io]`` extras that pull in
trafilatura, fasttext, nltk, datasets, ...)::

    python3 -m venv /work/venv-dt
    /work/venv-dt/bin/pip install "datatrove==0.10.1" "ftfy==6.3.1" orjson pyarrow regex

(ftfy is pinned to the version in newsclean's venv so both sides fix text alike.)
Optional, only for ``--tokenizer spacy``: ``/work/venv-dt/bin/pip install spacy``.

Usage::

    /work/venv-dt/bin/python bench/datatrove_baseline.py RAW_DIR OUT_DIR [--tokenizer whitespace]

``RAW_DIR`` is the folder of ``*.jsonl`` files: ``CORPUS/raw`` for a corpus from
``make_corpus.py``. Passing ``CORPUS`` itself also works (its ``raw/`` is used).

C4 settings chosen (``C4QualityFilter``), to clean lines the way C4 does while
dropping as few whole documents as possible, since newsclean cleans news rather
than filtering a web crawl:

* kept, as in C4 (line rules): drop lines without terminal punctuation, lines
  under 3 words, lines with a word over 1000 chars, lines saying "javascript",
  cookie/terms-of-use lines; strip ``[1]``/``[edit]`` citation marks;
* ``filter_curly_bracket=False`` and ``filter_lorem_ipsum=False``: in C4 these drop
  the whole page;
* ``min_num_sentences=1`` instead of C4's 5: only documents left empty by the
  line rules are dropped. The sentence count still runs on every kept line, so
  the cost of C4's sentence splitting stays in the measurement.

Sentence splitting: for English datatrove uses spaCy (``spacy.blank("en")`` plus
its rule-based sentencizer: no model download, but it needs spaCy installed,
which the minimal install above leaves out). ``--tokenizer whitespace`` (default)
passes an offline regex splitter instead: words are whitespace-separated chunks,
sentences end at ``.``/``!``/``?`` (plus closing quotes/brackets) followed by
whitespace. ``--tokenizer none`` sets ``min_num_sentences=-1``: no sentence
splitting at all and no document is dropped, only lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import C4QualityFilter
from datatrove.pipeline.formatters import FTFYFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import ParquetWriter
from datatrove.utils.word_tokenizers import WordTokenizer
from procmem import TreeMemorySampler

MB = 1_000_000
# Explicit output schema: datatrove otherwise infers it from the first document, and
# a first document with ``authors: null`` makes every later batch fail to write.
# Metadata is expanded to flat columns, as newsclean writes them.
OUTPUT_COLUMNS = ("id", "text", "title", "url", "domain", "authors", "file_path")
OUTPUT_SCHEMA = pa.schema([(name, pa.string()) for name in OUTPUT_COLUMNS])
# End of sentence: terminal punctuation, optional closing quotes/brackets, then
# whitespace or end of text.
_SENT_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)")


class WhitespaceSentenceTokenizer(WordTokenizer):
    """Offline English tokenizer: whitespace words, regex sentence ends.

    Exists so the C4 filter's sentence count needs neither nltk's punkt data (a
    run-time download) nor spaCy. Defined here, not in a package, because
    datatrove ships pipelines to workers with dill, which pickles ``__main__``
    classes by value.
    """

    def __init__(self) -> None:
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        """Split on whitespace."""
        return text.split()

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """Return ``(start, end)`` character spans of sentences."""
        spans: list[tuple[int, int]] = []
        start = 0
        for m in _SENT_END.finditer(text):
            if text[start : m.end()].strip():
                spans.append((start, m.end()))
            start = m.end()
        if text[start:].strip():
            spans.append((start, len(text)))
        return spans

    def sent_tokenize(self, text: str) -> list[str]:
        """Return sentences, stripped, empty ones left out."""
        return [text[a:b].strip() for a, b in self.span_tokenize(text)]


def build_c4(tokenizer: str) -> C4QualityFilter:
    """Return the C4 line filter configured as the module docstring explains."""
    if tokenizer == "none":
        language: Any = "en"  # never used: sentence counting is off
        min_sentences = -1
    elif tokenizer == "spacy":
        language = "en"  # datatrove's default: spacy.blank("en") + sentencizer
        min_sentences = 1
    else:
        language = WhitespaceSentenceTokenizer()  # datatrove accepts a WordTokenizer here
        min_sentences = 1
    return C4QualityFilter(
        split_paragraph=True,  # C4: rules apply per line ("\n")
        remove_citations=True,
        filter_no_terminal_punct=True,
        min_num_sentences=min_sentences,
        min_words_per_line=3,
        max_word_length=1000,
        filter_lorem_ipsum=False,  # would drop the whole document
        filter_javascript=True,
        filter_curly_bracket=False,  # would drop the whole document
        filter_policy=True,
        language=language,
    )


def _stat(stats: list[dict[str, Any]], step_prefix: str, key: str) -> int:
    """Pull a counter out of datatrove's merged ``stats.json``."""
    for step in stats:
        if step.get("name", "").split()[-1].lower().startswith(step_prefix.lower()):
            val = step.get("stats", {}).get(key, 0)
            return int(val["total"] if isinstance(val, dict) else val)
    return 0


def resolve_raw_dir(path: Path) -> Path:
    """The folder holding the JSONL files: ``path`` itself, or ``path/raw``.

    ``make_corpus.py`` writes data to ``CORPUS/raw/`` and ``truth.json`` to
    ``CORPUS/``; accepting either folder keeps older invocations working.
    """
    if not any(path.glob("*.jsonl")) and any((path / "raw").glob("*.jsonl")):
        return path / "raw"
    return path


def run(
    corpus_dir: Path, out_dir: Path, tokenizer: str = "whitespace", start_method: str = "forkserver"
) -> dict[str, Any]:
    """Run the datatrove pipeline with 2 tasks on 2 workers and return the figures."""
    corpus_dir = resolve_raw_dir(corpus_dir)
    inputs = sorted(corpus_dir.glob("*.jsonl"))
    if not inputs:
        raise SystemExit(f"no *.jsonl files in {corpus_dir}")
    in_bytes = sum(p.stat().st_size for p in inputs)
    data_dir, logs_dir = out_dir / "data", out_dir / "logs"
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob("*.parquet"):
        old.unlink()

    executor = LocalPipelineExecutor(
        pipeline=[
            # glob: only the data files, whatever else someone puts in the folder
            JsonlReader(str(corpus_dir), text_key="content", id_key="id", glob_pattern="*.jsonl"),
            FTFYFormatter(),  # datatrove defaults (keeps curly quotes, fixes mojibake)
            build_c4(tokenizer),
            # otherwise datatrove defaults: snappy, content-defined chunking, page index
            ParquetWriter(str(data_dir), expand_metadata=True, schema=OUTPUT_SCHEMA),
        ],
        tasks=2,
        workers=2,
        logging_dir=str(logs_dir),
        skip_completed=False,  # a rerun into the same OUT_DIR must redo the work
        start_method=start_method,
    )
    # This process's own tree (workers, fork server); every 0.1 s with PSS at every
    # sample, as this script always sampled, so its figures stay comparable.
    sampler = TreeMemorySampler(os.getpid(), interval=0.1, pss_every=1)
    sampler.start()
    t0 = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - t0
    sampler.stop()

    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stats = json.loads((logs_dir / "stats.json").read_text())
    docs_in = _stat(stats, "jsonl", "documents")
    out_bytes = sum(p.stat().st_size for p in data_dir.glob("*.parquet"))
    return {
        "input_dir": str(corpus_dir),
        "input_files": len(inputs),
        "input_mb": round(in_bytes / MB, 1),
        "seconds": round(seconds, 2),
        "mb_per_s": round(in_bytes / MB / seconds, 2),
        "docs_in": docs_in,
        "docs_per_s": round(docs_in / seconds, 1),
        "docs_out": _stat(stats, "parquet", "total"),
        "c4_dropped": _stat(stats, "quality", "dropped"),
        "c4_lines_total": _stat(stats, "quality", "line-total"),
        "c4_lines_kept": _stat(stats, "quality", "line-kept"),
        "output_mb": round(out_bytes / MB, 1),
        "peak_rss_self_mb": round(self_kb * 1024 / MB, 1),
        "peak_rss_largest_child_mb": round(child_kb * 1024 / MB, 1),
        "peak_rss_tree_sum_mb": round(sampler.peak_rss / MB, 1),
        "peak_pss_tree_sum_mb": round(sampler.peak_pss / MB, 1),
        "procs_at_tree_peak": sampler.procs_at_peak,
        "tokenizer": tokenizer,
        "start_method": start_method,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the figures as JSON on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus_dir", type=Path, help="folder of *.jsonl (or a corpus with raw/)")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--tokenizer", choices=("whitespace", "spacy", "none"), default="whitespace")
    ap.add_argument(
        "--start-method",
        choices=("forkserver", "fork", "spawn"),
        default="forkserver",
        help="multiprocess start method (datatrove's default: forkserver)",
    )
    args = ap.parse_args(argv)
    figures = run(args.corpus_dir, args.out_dir, args.tokenizer, args.start_method)
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
