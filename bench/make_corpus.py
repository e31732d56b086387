"""Build a synthetic-but-realistic news corpus of a chosen size for benchmarks.

Why this exists: the real samples in ``/work/shared`` are about 1 MB, far too small
to measure throughput or memory of the cleaning pipeline. Scaling them up by plain
repetition would make almost every document an exact duplicate and hide the cost of
deduplication. Instead this script *recombines real paragraphs* (junk, mojibake,
broken lines and all, left exactly as scraped) into distinct documents, and plants a
known number of exact duplicate copies, so a benchmark run can check both speed and
the dedup count against ``truth.json``.

Layout: the data files go to ``OUT_DIR/raw/`` and ``truth.json`` to ``OUT_DIR/``,
*outside* the raw folder, because newsclean ingests every ``.json`` under its
``RAW_DIR`` and would otherwise clean the truth file as if it were an article.

Properties the benchmarks rely on:

* deterministic for a given ``seed`` (and the same source files);
* streaming: records are written in batches and files rotate at about ``file_mb``,
  so memory stays bounded (a few tens of MB even for multi-GB corpora);
* every non-copy document has a distinct text (checked with a 16-byte digest of its
  paragraph-id sequence), so ``n_exact_dup_copies`` in ``truth.json`` is exact.

Caveat: with about 4,600 source paragraphs every paragraph recurs many times in a
large corpus, so paragraph- or line-level dedup will find far more repeats than a
real crawl would. Only document-level exact duplicates are planted and counted.

Usage::

    python bench/make_corpus.py OUT_DIR --mb 100 --dup-share 0.05 --format jsonl
    # -> OUT_DIR/raw/part-00000.jsonl ..., OUT_DIR/truth.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SOURCE_CSV = Path("/work/shared/corpora/fakenewscorpus/news_sample.csv")
SOURCE_TXT = Path("/work/shared/samples/000_4c60d5582bf9f543.txt")
FIELDS = ("id", "title", "url", "domain", "authors", "content")
FORMATS = ("jsonl", "parquet", "csv")
MB = 1_000_000  # decimal MB, as throughput figures (MB/s) are usually quoted
BATCH_DOCS = 2048  # RNG draws are vectorised per batch: per-doc numpy calls are slow
RAW_SUBDIR = "raw"  # data files live here; truth.json stays one level up, out of RAW_DIR
_SLUG_RE = re.compile(r"[^a-z0-9]+")


class _Sources:
    """Paragraph pool and metadata pools loaded from the real sample files."""

    def __init__(self, csv_path: Path, txt_paths: list[Path]) -> None:
        df = pd.read_csv(csv_path, usecols=["domain", "content", "title", "authors"])
        paragraphs: list[str] = []
        texts = df["content"].dropna().astype(str).tolist()
        texts += [p.read_text(encoding="utf-8") for p in txt_paths]
        for text in texts:
            # Split on newlines (blank lines are then empty and dropped). Lines are kept
            # verbatim, leading/trailing junk included: the cleaner must cope with it.
            paragraphs.extend(line for line in text.split("\n") if line.strip())
        if not paragraphs:
            raise ValueError("no paragraphs found in the source files")
        self.paragraphs = paragraphs
        # Canonical id per distinct string: duplicates in the pool keep their weight
        # (boilerplate is common on the web), yet distinctness is checked on strings.
        canon: dict[str, int] = {}
        ids = [canon.setdefault(p, len(canon)) for p in paragraphs]
        self.canon_ids = np.array(ids, dtype=np.int32)
        self.para_bytes = np.array([len(p.encode("utf-8")) for p in paragraphs], dtype=np.int64)

        meta = df.dropna(subset=["title", "domain"])
        self.titles = meta["title"].astype(str).str.strip().tolist()
        self.domains = meta["domain"].astype(str).str.strip().tolist()
        self.authors: list[str | None] = [
            None if pd.isna(a) or not str(a).strip() else str(a) for a in meta["authors"]
        ]
        self.slugs = [_SLUG_RE.sub("-", t.lower()).strip("-")[:60] or "story" for t in self.titles]

    @property
    def n_rows(self) -> int:
        """Number of metadata rows (title/domain/authors) available."""
        return len(self.titles)


class _Writer:
    """Streams records to rotating files holding about ``file_bytes`` of text each.

    Rotation counts document text bytes (not encoded bytes) so JSONL, CSV and
    Parquet corpora built with the same seed split into the same documents per file.
    """

    def __init__(self, out_dir: Path, fmt: str, file_bytes: int) -> None:
        self.out_dir, self.fmt, self.file_bytes = out_dir, fmt, file_bytes
        self.files: list[str] = []
        self._fh: Any = None
        self._csv: Any = None
        self._pq: Any = None
        self._cur_bytes = 0
        self._buf: list[dict[str, Any]] = []

    def _open(self) -> None:
        name = f"part-{len(self.files):05d}.{self.fmt}"
        self.files.append(name)
        path = self.out_dir / name
        self._cur_bytes = 0
        if self.fmt == "jsonl":
            self._fh = open(path, "wb", buffering=4 * 2**20)  # noqa: SIM115 - closed in _close
        elif self.fmt == "csv":
            self._fh = open(path, "w", encoding="utf-8", newline="", buffering=4 * 2**20)  # noqa: SIM115
            self._csv = csv.writer(self._fh)
            self._csv.writerow(FIELDS)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(f, pa.string()) for f in FIELDS])
            self._pq = pq.ParquetWriter(path, schema, compression="zstd")

    def _flush_parquet(self) -> None:
        if self._buf:
            import pyarrow as pa

            self._pq.write_table(pa.Table.from_pylist(self._buf, schema=self._pq.schema))
            self._buf = []

    def _close(self) -> None:
        if self._pq is not None:
            self._flush_parquet()
            self._pq.close()
            self._pq = None
        if self._fh is not None:
            self._fh.close()
            self._fh = self._csv = None

    def write(self, rec: dict[str, Any], text_bytes: int) -> None:
        """Write one record, rotating to a new file once the current one is full."""
        if self._fh is None and self._pq is None:
            self._open()
        if self.fmt == "jsonl":
            line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
            self._fh.write(line)
        elif self.fmt == "csv":
            self._csv.writerow(["" if rec[f] is None else rec[f] for f in FIELDS])
        else:
            self._buf.append(rec)
            if len(self._buf) >= BATCH_DOCS:
                self._flush_parquet()
        self._cur_bytes += text_bytes
        if self._cur_bytes >= self.file_bytes:
            self._close()

    def close(self) -> None:
        """Flush and close the current file."""
        self._close()


def _doc_stream(
    src: _Sources, rng: np.random.Generator, dup_share: float, stats: dict[str, int]
) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield ``(record, text_bytes)`` forever; the caller stops at its byte budget.

    Originals are remembered compactly (paragraph ids in one flat int32 array plus
    offsets) so a later copy can rebuild any earlier text without keeping strings.
    """
    paras = src.paragraphs
    n_paras = len(paras)
    flat = array("i")  # paragraph indices of all originals, concatenated
    offsets = array("q", [0])  # original j uses flat[offsets[j]:offsets[j + 1]]
    orig_rows = array("i")  # metadata row of original j (its title/authors)
    orig_num = array("q")  # doc number of original j (its title suffix)
    seen: set[bytes] = set()
    copied: set[int] = set()
    n = 0
    while True:
        ks = rng.integers(5, 26, BATCH_DOCS)  # 5..25 paragraphs
        picks = rng.integers(0, n_paras, int(ks.sum()), dtype=np.int32)
        starts = np.concatenate(([0], np.cumsum(ks)[:-1]))
        is_dup = rng.random(BATCH_DOCS) < dup_share
        dup_u = rng.random(BATCH_DOCS)
        rows = rng.integers(0, src.n_rows, BATCH_DOCS)
        for b in range(BATCH_DOCS):
            n_orig = len(orig_rows)
            row = int(rows[b])
            if is_dup[b] and n_orig > 0:
                # Syndicated copy: same text, title and authors as an earlier original,
                # published under another (random real) domain and a new URL.
                j = int(dup_u[b] * n_orig)
                idx = flat[offsets[j] : offsets[j + 1]]
                src_row, num = orig_rows[j], orig_num[j]
                copied.add(j)
                stats["n_exact_dup_copies"] += 1
            else:
                idx_np = picks[starts[b] : starts[b] + ks[b]]
                key = hashlib.blake2b(src.canon_ids[idx_np].tobytes(), digest_size=16).digest()
                while key in seen:  # practically never; keeps the truth exact
                    idx_np = rng.integers(0, n_paras, len(idx_np), dtype=np.int32)
                    key = hashlib.blake2b(src.canon_ids[idx_np].tobytes(), digest_size=16).digest()
                seen.add(key)
                idx = array("i", idx_np.tobytes())
                flat.extend(idx)
                offsets.append(len(flat))
                orig_rows.append(row)
                orig_num.append(n)
                src_row, num = row, n
            text = "\n\n".join([paras[i] for i in idx])
            idx_arr = np.frombuffer(idx, dtype=np.int32)
            text_bytes = int(src.para_bytes[idx_arr].sum()) + 2 * (len(idx) - 1)
            rec = {
                "id": f"doc-{n:09d}",
                "title": f"{src.titles[src_row]} #{num}",
                "url": f"https://{src.domains[row]}/{src.slugs[src_row]}-{n}",
                "domain": src.domains[row],
                "authors": src.authors[src_row],
                "content": text,
            }
            stats["n_docs"] += 1
            stats["n_dup_groups"] = len(copied)
            n += 1
            yield rec, text_bytes


def make_corpus(
    out_dir: Path,
    target_mb: float,
    dup_share: float = 0.05,
    seed: int = 0,
    fmt: str = "jsonl",
    file_mb: float = 25.0,
    csv_path: Path = SOURCE_CSV,
    txt_paths: list[Path] | None = None,
) -> dict[str, Any]:
    """Write about ``target_mb`` MB (decimal, of UTF-8 text) of news documents.

    Equal files ``part-NNNNN.<fmt>`` of about ``file_mb`` MB of text each go to
    ``out_dir/raw/`` and ``truth.json`` to ``out_dir/`` (not into ``raw/``: a
    pipeline pointed at ``raw/`` must see only data files); the truth dict is also
    returned. ``dup_share`` is the probability that a document is an exact copy of
    an earlier one; the realised count is recorded exactly. Existing ``part-*``
    files in ``out_dir/raw/`` are removed first so a rerun never mixes two corpora.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if not 0.0 <= dup_share < 1.0:
        raise ValueError("dup_share must be in [0, 1)")
    txt_paths = [SOURCE_TXT] if txt_paths is None else txt_paths
    out_dir = Path(out_dir)
    raw_dir = out_dir / RAW_SUBDIR
    raw_dir.mkdir(parents=True, exist_ok=True)
    for old in raw_dir.glob("part-*.*"):
        old.unlink()
    truth_path = out_dir / "truth.json"
    truth_path.unlink(missing_ok=True)  # a half-written corpus must not look complete

    t0 = time.perf_counter()
    src = _Sources(csv_path, txt_paths)
    rng = np.random.default_rng(seed)
    stats = {"n_docs": 0, "n_exact_dup_copies": 0, "n_dup_groups": 0}
    budget = int(target_mb * MB)
    # Equal-sized files (not N full ones plus a small tail): readers that shard by
    # file, like datatrove's with tasks=2, then get balanced work.
    n_files = max(1, round(target_mb / file_mb))
    writer = _Writer(raw_dir, fmt, -(-budget // n_files))
    text_total = 0
    try:
        for rec, text_bytes in _doc_stream(src, rng, dup_share, stats):
            writer.write(rec, text_bytes)
            text_total += text_bytes
            if text_total >= budget:
                break
    finally:
        writer.close()

    truth: dict[str, Any] = {
        "n_docs": stats["n_docs"],
        "n_exact_dup_copies": stats["n_exact_dup_copies"],
        "n_distinct_texts": stats["n_docs"] - stats["n_exact_dup_copies"],
        "n_dup_groups": stats["n_dup_groups"],
        "text_bytes": text_total,
        "file_bytes": sum((raw_dir / f).stat().st_size for f in writer.files),
        "target_mb": target_mb,
        "file_mb": file_mb,
        "seed": seed,
        "dup_share_requested": dup_share,
        "dup_share_realised": stats["n_exact_dup_copies"] / max(stats["n_docs"], 1),
        "format": fmt,
        "raw_dir": RAW_SUBDIR,
        "files": writer.files,
        "fields": list(FIELDS),
        "n_source_paragraphs": len(src.paragraphs),
        "sources": {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in [Path(csv_path), *txt_paths]
        },
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    # Written last, so its presence means the data files are complete.
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the truth dict as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--mb", type=float, default=100.0, help="target MB of document text")
    ap.add_argument("--dup-share", type=float, default=0.05, help="share of exact copies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", dest="fmt", choices=FORMATS, default="jsonl")
    ap.add_argument("--file-mb", type=float, default=25.0, help="approx. MB of text per file")
    args = ap.parse_args(argv)
    truth = make_corpus(args.out_dir, args.mb, args.dup_share, args.seed, args.fmt, args.file_mb)
    summary = {k: v for k, v in truth.items() if k != "files"} | {"n_files": len(truth["files"])}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
