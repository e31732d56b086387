"""Run bookkeeping: run ids, the staging folder, the run summary file.

A run stages its work under ``<out>/_staging/<run_id>/`` (hidden from Parquet readers) and
removes it once the dataset is published; a staging folder left by a killed run is stale and
is cleared by the next run.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks import write


@dataclass(frozen=True)
class RunContext:
    run_id: str
    raw_dir: str
    out_dir: str
    staging_dir: str
    ingested_at: datetime


def new_run_id(now: datetime, raw_dir: Path) -> str:
    """Sortable by time; the suffix tells runs over different raw folders apart."""
    suffix = hashlib.blake2b(str(raw_dir).encode(), digest_size=3).hexdigest()
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{suffix}"


def start_run(raw_dir: str, out_dir: str) -> RunContext:
    raw = Path(raw_dir).resolve()
    if not raw.is_dir():
        raise FileNotFoundError(f"raw folder {raw} does not exist")
    out = Path(out_dir).resolve()
    now = datetime.now(UTC)
    run_id = new_run_id(now, raw)
    staging_root = out / write.STAGING
    if staging_root.exists():
        shutil.rmtree(staging_root)  # left by a killed run: never published, safe to drop
    staging = staging_root / run_id
    staging.mkdir(parents=True)
    return RunContext(run_id, str(raw), str(out), str(staging), now)


def finish_run(run: RunContext, summary: dict[str, Any]) -> None:
    write.write_run_summary(Path(run.out_dir), run.run_id, summary)
    write.remove_staging(Path(run.staging_dir).parent)
