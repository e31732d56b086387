"""Where everything lives in an output folder (the contract, see README):

    articles/     part-<run_id>-NNNNN.parquet   clean, deduplicated articles
    edits/        part-<run_id>-NNNNN.parquet   one row per edit
    duplicates/   part-<run_id>-00000.parquet   dropped copies with the kept doc_id
    quarantine/   part-<run_id>-00000.parquet   rejected input with the reason
    other_languages/, other_kinds/              articles set aside by --languages, --keep-kinds
    dedup_index/  part-<run_id>-NNNNN.parquet   keys + sketches of kept articles
    boilerplate/  model.parquet, publishers.parquet, allow.txt, deny.txt
    manifest.parquet                            raw files processed
    runs/         <run_id>.json                 the run's summary
    reports/      <run_id>.html                 the run's report
    _staging/     <run_id>/...                  work in progress (hidden from readers)
    _journal.json                               a commit in progress (see journal.py)

and, inside a run's staging folder, one file per work unit and batch for each kind of staged
data (``docs``, ``edits``, ``quarantine``, ``vocab``, ``sketch``, ``decisions``) plus the
run-wide files the steps hand each other.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from newsclean.tasks.storage.io import read_parquet

#: Analyst tables, one folder each.
TABLES = ("articles", "edits", "duplicates", "quarantine", "other_languages", "other_kinds")
#: Clean articles in a language the run was not asked to keep (``--languages``), with why.
OTHER_LANGUAGES = "other_languages"
#: Clean documents of a page kind the run was not asked to keep (``--keep-kinds``), with why.
OTHER_KINDS = "other_kinds"
#: Set-aside tables: the articles schema plus ``set_aside_reason``.
SET_ASIDE_TABLES = (OTHER_LANGUAGES, OTHER_KINDS)
#: Tables in the articles schema: every kept article is in one of them.
ARTICLE_TABLES = ("articles", *SET_ASIDE_TABLES)
INDEX_DIR = "dedup_index"
MODEL_DIR = "boilerplate"
STAGING = "_staging"
RUNS_DIR = "runs"
REPORTS_DIR = "reports"

#: Staged per unit and batch (``part-<unit>-<batch>.parquet``), row-aligned with ``docs``
#: where they are per document (``sketch``, ``decisions``).
STAGED_KINDS = ("docs", "edits", "quarantine", "vocab", "sketch", "decisions")
#: Run-wide files under the staging folder.
SCAN_ROWS = "scan_rows.json"  # this run's manifest rows, from the scan step
VOCABULARY = "vocabulary.parquet"  # the run's corpus word counts, for the typo pass
DUPLICATES = "duplicates.parquet"  # new duplicate rows (without run_id)
SUPERSEDED = "superseded.parquet"  # published articles a better new copy replaces
REPLACED = "replaced.parquet"  # doc_ids whose source record changed since publication
LEARNED = "learned.parquet"  # the learned-boilerplate set this run applies
STAGED_MODEL = "model-next.parquet"  # the next learned-boilerplate model, for the commit
STAGED_PUBLISHERS = "publishers-next.parquet"


def part_name(unit: int, part: int) -> str:
    return f"part-{unit:05d}-{part:04d}.parquet"


def staging_paths(staging_dir: Path, unit: int, part: int) -> dict[str, Path]:
    """Every staged kind's file for one unit and batch."""
    name = part_name(unit, part)
    return {kind: staging_dir / kind / name for kind in STAGED_KINDS}


def staged_unit_parts(staging_dir: Path, kind: str, unit: int) -> list[Path]:
    """One work unit's staged files of one kind, in batch order."""
    return sorted((staging_dir / kind).glob(f"part-{unit:05d}-*.parquet"))


def staged_parts(staging_dir: Path, kind: str) -> list[Path]:
    """Staged files of one kind, in a deterministic order (unit, then part)."""
    return sorted((staging_dir / kind).glob("part-*.parquet"))


def parts_by_unit(staging_dir: Path, kind: str) -> dict[str, list[str]]:
    """Staged part files grouped by work unit (``part-<unit>-<batch>.parquet``)."""
    groups: dict[str, list[str]] = {}
    for path in staged_parts(staging_dir, kind):
        groups.setdefault(path.name.rsplit("-", 1)[0], []).append(str(path))
    return groups


def sibling(part: Path, kind: str) -> Path:
    """The staged file of another kind for the same unit and batch as ``part``."""
    return part.parent.parent / kind / part.name


def read_staged_table(staging_dir: Path, kind: str, schema: pa.Schema) -> pa.Table:
    """The columns of ``schema`` from every staged part of one kind, in staging order (the
    dedup key and sketch tables: row-aligned, as each sketch part mirrors its docs part)."""
    parts = [read_parquet(p, columns=schema.names) for p in staged_parts(staging_dir, kind)]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def published_parts(out_dir: Path, table: str) -> list[Path]:
    """The published files of one table, oldest run first."""
    return sorted((out_dir / table).glob("part-*.parquet"))


def final_name(out_dir: Path, table: str, run_id: str, index: int) -> Path:
    """Where a run's ``index``-th file of a table is published."""
    return out_dir / table / f"part-{run_id}-{index:05d}.parquet"


def run_summary_path(out_dir: Path, run_id: str) -> Path:
    return out_dir / RUNS_DIR / f"{run_id}.json"


def report_path(out_dir: Path, run_id: str) -> Path:
    return out_dir / REPORTS_DIR / f"{run_id}.html"


def remove_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)
