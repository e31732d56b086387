"""The journaled commit: a run's files become visible together, or not at all.

Every file a run adds or rewrites is first complete under a hidden temp name. The journal (the
list of renames and deletions) is written atomically; then the renames and deletions are
applied and the journal removed. A run killed before the journal exists changed nothing
visible (its temp files are swept by the next run); one killed after it is rolled forward by
the next run (:func:`recover`). The manifest is one of the renames, listed last, so it never
names data that is not in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from newsclean.tasks.storage.io import fsync, temp_path
from newsclean.tasks.storage.layout import INDEX_DIR, MODEL_DIR, TABLES

JOURNAL = "_journal.json"


def commit(out: Path, run_id: str, renames: list[tuple[Path, Path]], deletes: list[Path]) -> None:
    """Make a run's prepared files visible together, crash-safely (see the module doc)."""
    entries = {
        "run_id": run_id,
        "renames": [[str(t.relative_to(out)), str(f.relative_to(out))] for t, f in renames],
        "deletes": [str(d.relative_to(out)) for d in deletes],
    }
    journal = out / JOURNAL
    temp = temp_path(journal)
    temp.write_text(json.dumps(entries))
    fsync(temp)
    os.replace(temp, journal)
    _apply(out, entries)
    journal.unlink()


def _apply(out: Path, entries: dict[str, Any]) -> None:
    """Idempotent: a rename already done (temp gone, final there) is skipped."""
    for temp, final in entries["renames"]:
        if (out / temp).exists():
            os.replace(out / temp, out / final)
    for name in entries["deletes"]:
        (out / name).unlink(missing_ok=True)


def recover(out: Path) -> dict[str, Any]:
    """Finish a commit a killed run left half-done, then sweep temp files of killed runs.
    Called by the next run under the writer lock, before anything else. Returns what it did
    (the run reports it): the renames rolled forward and the run they belonged to, and the
    temp files swept."""
    journal = out / JOURNAL
    rolled, killed_run = 0, None
    if journal.exists():
        entries = json.loads(journal.read_text())
        _apply(out, entries)
        journal.unlink()
        rolled, killed_run = len(entries["renames"]), entries.get("run_id")
    swept = 0
    for folder in [out, *(out / name for name in (*TABLES, INDEX_DIR, MODEL_DIR))]:
        for temp in folder.glob(".*.tmp") if folder.is_dir() else []:
            temp.unlink()
            swept += 1
    return {"rolled_forward": rolled, "rolled_forward_run": killed_run, "temp_files_swept": swept}
