"""A compact, comparable snapshot of a dataset's analyst tables (articles, duplicates,
quarantine): one short hash per row and column, run-specific columns left out.

Why: a refactor must not change what analysts read. ``tests/test_release_parity.py`` compares
the current code's output on the shipped demo data with the snapshot the previous release
wrote (``tests/data/release-<version>-demo.json``); columns added since then are ignored, any
other difference names the document and column. Regenerate a snapshot from a release's own
output, never from the code under test::

    git archive <release commit> | tar -x -C /tmp/release && cd /tmp/release
    python -m flows.clean_corpus data/raw /tmp/release-out     # that release's entry point
    python tests/release_snapshot.py /tmp/release-out > tests/data/release-<version>-demo.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Columns that differ between any two runs (ids and times of the run itself).
RUN_COLUMNS = {"run_id", "ingested_at"}
#: Row key per table (quarantine rows have none: they are compared as a sorted multiset).
KEYS = {"articles": "doc_id", "duplicates": "doc_id"}


def _digest(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def _read(folder: Path) -> pa.Table:
    parts = sorted(folder.glob("part-*.parquet"))
    tables = [pq.ParquetFile(p).read() for p in parts]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def snapshot(out_dir: Path) -> dict[str, Any]:
    """``{"articles": {doc_id: {column: hash}}, "duplicates": …, "quarantine": [hash, …]}``."""
    result: dict[str, Any] = {}
    for name in ("articles", "duplicates", "quarantine"):
        rows = _read(out_dir / name).to_pylist()
        rows = [{k: v for k, v in row.items() if k not in RUN_COLUMNS} for row in rows]
        key = KEYS.get(name)
        if key is None:
            result[name] = sorted(_digest(row) for row in rows)
        else:
            result[name] = {
                row[key]: {col: _digest(val) for col, val in sorted(row.items())} for row in rows
            }
    return result


if __name__ == "__main__":
    json.dump(snapshot(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
