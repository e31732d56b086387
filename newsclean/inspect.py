"""``newsclean show``: one document's raw text beside its clean text, with its edits.

The clean text and the edits come from the dataset; the raw text is re-read from the raw
folder the document's run read (recorded in ``runs/<run_id>.json``), so nothing is stored
twice. A dropped copy has no clean text of its own: its lineage is shown instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from newsclean.tasks.storage.ingest import read_records


@dataclass
class Found:
    doc_id: str
    article: dict[str, Any] | None
    duplicate: dict[str, Any] | None
    raw: dict[str, Any] | None
    edits: list[dict[str, Any]] = field(default_factory=list)
    raw_dir: str | None = None


def _rows(folder: Path, column: str, value: str) -> list[dict[str, Any]]:
    if not folder.is_dir() or not any(folder.glob("part-*.parquet")):
        return []
    return pq.read_table(folder, filters=[(column, "=", value)]).to_pylist()


def find_document(out: Path, doc_id: str, raw_dir: Path | None = None) -> Found | None:
    articles = _rows(out / "articles", "doc_id", doc_id)
    duplicates = _rows(out / "duplicates", "doc_id", doc_id)
    if not articles and not duplicates:
        return None
    row = articles[0] if articles else duplicates[0]
    raw_root = raw_dir
    if raw_root is None and row.get("run_id"):
        summary = out / "runs" / f"{row['run_id']}.json"
        if summary.exists():
            raw_root = Path(json.loads(summary.read_text())["raw_dir"])
    raw = None
    if raw_root is not None:
        key = (row["source_file"], row["source_record"])
        raw = read_records(raw_root, {key[0]: {key[1]}}).get(key)
    edits = _rows(out / "edits", "doc_id", doc_id)
    return Found(
        doc_id,
        articles[0] if articles else None,
        duplicates[0] if duplicates else None,
        raw,
        edits,
        str(raw_root) if raw_root else None,
    )


def render(found: Found) -> list[Any]:
    """Rich renderables: a header, the two texts side by side, the edits table."""
    row = found.article or found.duplicate or {}
    head = Text(f"{found.doc_id}  ", style="bold")
    head.append(f"{row.get('source_file')} record {row.get('source_record')}", style="dim")
    parts: list[Any] = [head]
    if found.article:
        parts.append(
            Text(f"title: {found.article.get('title')}   domain: {found.article.get('domain')}")
        )
    if found.duplicate:
        dup = found.duplicate
        parts.append(
            Text(
                f"dropped as a {dup['kind']} copy of {dup['kept_doc_id']} "
                f"(similarity {dup['similarity']:.2f}, cluster {dup['dup_cluster']})",
                style="yellow",
            )
        )
    raw_text = (found.raw or {}).get("text") or (
        "(raw record not found: pass --raw RAW_DIR)"
        if found.raw_dir is None
        else f"(raw record no longer in {found.raw_dir})"
    )
    clean_text = (found.article or {}).get("text") or "(no clean text: a dropped copy)"
    sides = Table.grid(expand=True, padding=(0, 1))
    sides.add_column(ratio=1)
    sides.add_column(ratio=1)
    sides.add_row(Panel(raw_text, title="raw"), Panel(clean_text, title="clean"))
    parts.append(sides)
    edits = Table(title=f"{len(found.edits)} edits")
    edits.add_column("stage", no_wrap=True)
    edits.add_column("rule", no_wrap=True)  # ids stay greppable on a narrow terminal
    edits.add_column("before", overflow="fold")
    edits.add_column("after", overflow="fold")
    for edit in found.edits:
        edits.add_row(edit["stage"], edit["rule"], _short(edit["before"]), _short(edit["after"]))
    parts.append(edits)
    return parts


def _short(value: str | None, limit: int = 200) -> str:
    if value is None:
        return ""
    value = value.replace("\n", "⏎")
    return value if len(value) <= limit else value[: limit - 1] + "…"
