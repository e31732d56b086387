"""Run bookkeeping: run ids, the one-writer lock, crash recovery, the staging folder.

* **One writer.** A run holds an exclusive ``flock`` on ``<out>/.newsclean.lock`` from start to
  end; a second run on the same output folder waits up to ``lock_wait`` seconds and then
  refuses with a message naming the holder. The kernel drops the lock when a process dies
  (SIGKILL included), so a crashed run never blocks the next one.
* **Crash recovery.** A run stages its work under ``<out>/_staging/<run_id>/`` (hidden from
  Parquet readers) and publishes through a journal (:mod:`newsclean.tasks.storage.journal`).
  The next run, under the lock, first finishes a journal left by a run killed while
  publishing (roll forward: every file it names was complete before the journal was
  written), then removes stale staging folders and hidden temp files of killed runs, then
  migrates files of an older schema (:mod:`newsclean.tasks.storage.migrate`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from newsclean.tasks.storage import journal, manifest, migrate
from newsclean.tasks.storage.io import write_text_atomic
from newsclean.tasks.storage.layout import RUNS_DIR, STAGING, remove_staging, run_summary_path
from newsclean.tasks.storage.manifest import MANIFEST

LOCK_FILE = ".newsclean.lock"
_held: dict[str, TextIO] = {}


class OutputBusy(RuntimeError):
    """Another run is writing to the same output folder."""


@dataclass(frozen=True)
class RunContext:
    run_id: str
    raw_dir: str
    out_dir: str
    staging_dir: str
    ingested_at: datetime
    #: What taking the output folder repaired: a killed run's commit rolled forward, temp
    #: files and staging swept (:func:`journal.recover`); reported by the run.
    recovered: dict[str, Any] = field(default_factory=dict)


def new_run_id(now: datetime, raw_dir: Path) -> str:
    """Sortable by time; the suffix tells runs over different raw folders apart."""
    suffix = hashlib.blake2b(str(raw_dir).encode(), digest_size=3).hexdigest()
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{suffix}"


def _locked(out: Path, wait_seconds: float) -> TextIO:
    """The lock file, flock-ed, waiting up to ``wait_seconds``; :class:`OutputBusy` naming
    the holder otherwise."""
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                current = handle.read().strip() or "unknown"
                handle.close()
                raise OutputBusy(
                    f"another newsclean run is writing to {out} ({current}); this one was "
                    f"not started: retry when it ends, or wait for it with --lock-wait SECONDS"
                ) from None
            time.sleep(0.2)


def check_lock(out: Path, wait_seconds: float = 0.0) -> None:
    """Fail fast, before any orchestration starts, when another run holds the writer lock
    (waiting up to ``wait_seconds`` for it); the run takes the lock itself afterwards."""
    _locked(out, wait_seconds).close()


def acquire_lock(out: Path, holder: dict[str, Any], wait_seconds: float = 0.0) -> TextIO:
    """Take the output folder's writer lock, waiting up to ``wait_seconds``."""
    handle = _locked(out, wait_seconds)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder))
    handle.flush()
    return handle


def nothing_new(raw_dir: Path, out_dir: Path, lock_wait: float = 0.0) -> manifest.Scan | None:
    """The scan of ``raw_dir`` when a run would have nothing to do — every file unchanged
    since the manifest, no commit to roll forward, no staging left by a killed run, no file
    to migrate — else None. Checked under the writer lock (:class:`OutputBusy` when another
    run holds it), before any orchestration starts: a no-op run then costs a directory scan,
    and any other run has had its lock check."""
    lock = acquire_lock(out_dir, {"check": "nothing new?", "pid": os.getpid()}, lock_wait)
    try:
        if not (out_dir / MANIFEST).exists():
            return None
        if (out_dir / journal.JOURNAL).exists() or (out_dir / STAGING).exists():
            return None
        if migrate.pending(out_dir):
            return None
        scan = manifest.scan(raw_dir, out_dir)
        return None if scan.new or scan.changed or scan.rows else scan
    finally:
        lock.close()


def start_run(raw_dir: str, out_dir: str, lock_wait: float = 0.0) -> RunContext:
    raw = Path(raw_dir).resolve()
    if not raw.is_dir():
        raise FileNotFoundError(f"raw folder {raw} does not exist")
    out = Path(out_dir).resolve()
    now = datetime.now(UTC)
    run_id = new_run_id(now, raw)
    holder = {"run_id": run_id, "pid": os.getpid(), "started": now.isoformat()}
    lock = acquire_lock(out, holder, lock_wait)
    try:
        recovered = journal.recover(out)
        migrate.migrate(out)
        staging_root = out / STAGING
        recovered["stale_staging_removed"] = staging_root.exists()
        if staging_root.exists():
            shutil.rmtree(staging_root)  # left by a killed run: never published, safe to drop
        staging = staging_root / run_id
        staging.mkdir(parents=True)
    except BaseException:
        lock.close()
        raise
    _held[run_id] = lock
    return RunContext(run_id, str(raw), str(out), str(staging), now, recovered)


def commit_marker(out: Path) -> tuple[int, tuple[str, ...]]:
    """What changes when a run commits: the manifest's modification time (it is renamed
    last in every commit) and the run summaries written after it."""
    manifest_file = out / MANIFEST
    stamp = manifest_file.stat().st_mtime_ns if manifest_file.exists() else 0
    runs = out / RUNS_DIR
    return stamp, tuple(sorted(p.name for p in runs.glob("*.json"))) if runs.is_dir() else ()


def discard_staging(run: RunContext) -> bool:
    """Drop a failed run's staging at once, unless a commit journal may still need it (the
    next run rolls that commit forward); returns whether it was dropped."""
    if (Path(run.out_dir) / journal.JOURNAL).exists():
        return False
    remove_staging(Path(run.staging_dir).parent)
    return True


def finish_run(run: RunContext, summary: dict[str, Any]) -> None:
    """Write ``runs/<run_id>.json`` (the run's figures and versions) and drop its staging."""
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    write_text_atomic(run_summary_path(Path(run.out_dir), run.run_id), text)
    remove_staging(Path(run.staging_dir).parent)


def release(run: RunContext) -> None:
    """Drop the writer lock (idempotent; also dropped by the kernel if the process dies)."""
    lock = _held.pop(run.run_id, None)
    if lock is not None:
        lock.close()
