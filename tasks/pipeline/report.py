"""Report stage: one summary of a run, rendered for the terminal, Prefect and JSON.

The CLI table, the Prefect markdown artifact and ``runs/<run_id>.json`` all come from
:func:`build_summary`, so the three never disagree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.pipeline.report_html import recovery_rows, render_html
from newsclean.tasks.schema import DOC_SCHEMA
from newsclean.tasks.stages.base import BatchContext
from newsclean.tasks.stages.edits import Shifts
from newsclean.tasks.stages.normalize import NormalizeStage
from newsclean.tasks.storage.ingest import read_records
from newsclean.tasks.storage.io import read_parquet, read_rows_where, write_text_atomic
from newsclean.tasks.storage.layout import published_parts, report_path


def build_summary(
    run_id: str,
    raw_dir: str,
    out_dir: str,
    units: Iterable[dict[str, Any]],
    published: dict[str, int],
    ignored: list[str],
    seconds: float,
    dedup: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Totals of a run from the per-unit summaries and the publish counts."""
    units = list(units)
    # Edits as published: a document skipped as already published adds none.
    edits_by_rule: Counter[str] = Counter(published.get("edits_by_rule", {}))
    bytes_in = sum(u["bytes_in"] for u in units)
    docs_in = sum(u["docs_in"] for u in units)
    return {
        "run_id": run_id,
        "raw_dir": raw_dir,
        "out_dir": out_dir,
        "documents_in": docs_in,
        "bytes_in": bytes_in,
        "kept": published["articles"],
        "duplicates": published["duplicates"],
        "dedup": dict(dedup or {}),
        "quarantined": published["quarantine"],
        "edits": published["edits"],
        "edits_by_rule": dict(sorted(edits_by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        "domains": published.get("domains", {}),
        "languages": published.get("languages", {}),
        "page_kinds": published.get("page_kinds", {}),
        "set_aside": published.get("other_languages", 0),
        "set_aside_languages": published.get("set_aside_languages", {}),
        "set_aside_kinds": published.get("set_aside_kinds", {}),
        "lengths": published.get("lengths", {"edges": LENGTH_EDGES, "before": [], "after": []}),
        "quarantine_reasons": published.get("quarantine_reasons", {}),
        "files": {},
        "examples": [],
        "ignored_files": ignored,
        "work_units": len({u["unit"] for u in units}),
        "seconds": round(seconds, 3),
        "mb_per_s": round(bytes_in / 1e6 / seconds, 3) if seconds > 0 else None,
        "docs_per_s": round(docs_in / seconds, 1) if seconds > 0 else None,
    }


#: Dedup figures shown under "duplicates dropped" when not zero.
DEDUP_FIGURES = (
    "exact_duplicates",
    "near_duplicates",
    "superseded",
    "already_published",
    "replaced",
)


def headline_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures shown first, in every rendering."""
    files = summary.get("files") or {}
    seen = (
        [
            (
                "raw files new / changed / unchanged",
                "{new:,} / {changed:,} / {unchanged:,}".format(**files),
            )
        ]
        if {"new", "changed", "unchanged"} <= set(files)
        else []
    )
    learned = summary.get("boilerplate") or {}
    model = (
        [("learned boilerplate lines", f"{learned['learned']:,} (model v{learned['version']})")]
        if "learned" in learned
        else []
    )
    return [
        *recovery_rows(summary.get("recovery") or {}),
        *seen,
        *model,
        ("documents in", f"{summary['documents_in']:,}"),
        *([("kept per language", languages_line(summary))] if summary.get("languages") else []),
        *(
            [("kept per page kind", languages_line(summary, key="page_kinds"))]
            if set(summary.get("page_kinds") or {}) - {"article"}
            else []
        ),
        ("MB in", f"{summary['bytes_in'] / 1e6:,.2f}"),
        ("kept", f"{summary['kept']:,}"),
        *(
            [("set aside: other languages", languages_line(summary, key="set_aside_languages"))]
            if summary.get("set_aside")
            else []
        ),
        *(
            [("set aside: other page kinds", languages_line(summary, key="set_aside_kinds"))]
            if summary.get("set_aside_kinds")
            else []
        ),
        ("duplicates dropped", f"{summary['duplicates']:,}"),
        *(
            (f"  {name.replace('_', ' ')}", f"{summary['dedup'][name]:,}")
            for name in DEDUP_FIGURES
            if summary.get("dedup", {}).get(name)
        ),
        ("quarantined", f"{summary['quarantined']:,}"),
        ("edits", f"{summary['edits']:,}"),
        ("seconds", f"{summary['seconds']:,.2f}"),
        ("MB/s", f"{summary['mb_per_s'] or 0:,.2f}"),
        ("docs/s", f"{summary['docs_per_s'] or 0:,.0f}"),
    ]


def languages_line(summary: dict[str, Any], top: int = 6, key: str = "languages") -> str:
    """``en 240 · de 3 · (unknown) 1``: articles per language (``key``: kept ones, or those
    set aside by ``--languages``), most first."""
    ranked = sorted(summary.get(key, {}).items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{code} {n:,}" for code, n in ranked[:top]]
    rest = sum(n for _, n in ranked[top:])
    return " · ".join([*shown, *([f"others {rest:,}"] if rest else [])])


def to_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# newsclean run `{summary['run_id']}`", "", "| figure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in headline_rows(summary)]
    lines += ["", "## Edits per rule", "", "| rule | edits |", "|---|---:|"]
    lines += [f"| `{rule}` | {n:,} |" for rule, n in summary["edits_by_rule"].items()]
    lines += ["", f"Output: `{summary['out_dir']}`"]
    if summary.get("report_html"):
        lines += ["", f"HTML report: `{summary['report_html']}`"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- report figures

#: Length histogram bins (characters; the last bin takes everything longer).
LENGTH_EDGES = [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000]
TOP_DOMAINS = 20
EXAMPLES = 5
_EXAMPLE_CHARS = 4000
#: Examples come from raw files up to this size (their raw text is re-read for the page).
EXAMPLE_MAX_FILE_BYTES = 64 * 1024 * 1024
#: The raw bytes the examples may re-read in all: re-reading a record streams its whole file,
#: so the report's cost stays the same whatever the run's size (it re-read every file of a
#: 100 MB run, 2 s, measured; small .txt files still give five examples from five files).
EXAMPLE_READ_BYTES = 64 * 1024 * 1024


class UnitFigures:
    """Figures of one unit's published documents, gathered while the writer streams them:
    kept articles per domain, and document lengths before (raw bytes) and after cleaning."""

    def __init__(self) -> None:
        self.domains: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.other_languages: Counter[str] = Counter()
        self.page_kinds: Counter[str] = Counter()
        self.other_kinds: Counter[str] = Counter()
        self.before = np.zeros(len(LENGTH_EDGES) - 1, dtype=np.int64)
        self.after = np.zeros(len(LENGTH_EDGES) - 1, dtype=np.int64)

    def add(self, staged: Any, kept: Any, set_aside: Any = None, other_kinds: Any = None) -> None:
        self.domains.update(d or "(none)" for d in kept.column("domain").to_pylist())
        self.languages.update(c or "(unknown)" for c in kept.column("language").to_pylist())
        if "page_kind" in kept.column_names:
            self.page_kinds.update(k or "(unknown)" for k in kept.column("page_kind").to_pylist())
        if set_aside is not None:
            codes = set_aside.column("language").to_pylist()
            self.other_languages.update(c or "(unknown)" for c in codes)
        if other_kinds is not None:
            self.other_kinds.update(k or "(unknown)" for k in other_kinds["page_kind"].to_pylist())
        self.before += _histogram(staged.column("raw_bytes"))
        self.after += _histogram(staged.column("text_chars"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "domains": dict(self.domains),
            "languages": dict(self.languages),
            "set_aside_languages": dict(self.other_languages),
            "page_kinds": dict(self.page_kinds),
            "set_aside_kinds": dict(self.other_kinds),
            "lengths": {
                "edges": LENGTH_EDGES,
                "before": self.before.tolist(),
                "after": self.after.tolist(),
            },
        }


def _histogram(values: Any) -> np.ndarray:
    data = np.asarray(values.fill_null(0), dtype=np.int64)
    bins = np.clip(np.searchsorted(LENGTH_EDGES, data, side="right") - 1, 0, len(LENGTH_EDGES) - 2)
    return np.bincount(bins, minlength=len(LENGTH_EDGES) - 1)


def merge_unit_figures(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the units' figures; domains beyond the top 20 are pooled as "(other)"."""
    rules: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    other_languages: Counter[str] = Counter()
    page_kinds: Counter[str] = Counter()
    other_kinds: Counter[str] = Counter()
    before = np.zeros(len(LENGTH_EDGES) - 1, dtype=np.int64)
    after = before.copy()
    for unit in figures:
        rules.update(unit["edits_by_rule"])
        domains.update(unit["domains"])
        languages.update(unit.get("languages", {}))
        other_languages.update(unit.get("set_aside_languages", {}))
        page_kinds.update(unit.get("page_kinds", {}))
        other_kinds.update(unit.get("set_aside_kinds", {}))
        before += np.asarray(unit["lengths"]["before"])
        after += np.asarray(unit["lengths"]["after"])
    top = dict(domains.most_common(TOP_DOMAINS))
    rest = sum(domains.values()) - sum(top.values())
    if rest:
        top["(other)"] = rest
    return {
        "edits_by_rule": dict(rules),
        "domains": top,
        "languages": dict(languages.most_common()),
        "set_aside_languages": dict(other_languages.most_common()),
        "page_kinds": dict(page_kinds.most_common()),
        "set_aside_kinds": dict(other_kinds.most_common()),
        "lengths": {"edges": LENGTH_EDGES, "before": before.tolist(), "after": after.tolist()},
    }


def run_examples(
    out_dir: str, raw_dir: str, run_id: str, stage_order: Sequence[str], n: int = EXAMPLES
) -> list[dict]:
    """Before/after examples for the report: this run's kept articles with the most edits
    that removed something. The "before" text is the raw record after the ``normalize``
    stage (re-run on the record re-read from the raw folder: the first text whose positions
    every later edit refers to), and the removed spans are placed from the edits' offsets,
    mapped back through the stages in between (``stage_order``), never searched for."""
    out = Path(out_dir)

    def this_run(table: str) -> list[Path]:
        return [p for p in published_parts(out, table) if p.name.startswith(f"part-{run_id}-")]

    removals = [
        t.filter(pc.equal(t["after"], ""))["doc_id"]
        for t in (read_parquet(p, columns=["doc_id", "after"]) for p in this_run("edits"))
    ]
    if not removals or not this_run("articles"):
        return []
    counts = pc.value_counts(pa.chunked_array(removals, pa.string()).combine_chunks())
    ranked = sorted(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
        key=lambda kv: (-kv[1], kv[0]),
    )
    ids = pa.array([doc for doc, _ in ranked[: 4 * n]], pa.string())
    columns = ["doc_id", "title", "domain", "text", "source_file", "source_record"]
    articles = pa.concat_tables(
        read_rows_where(p, "doc_id", ids, columns) for p in this_run("articles")
    )
    order = {doc: i for i, (doc, _) in enumerate(ranked)}
    raw = Path(raw_dir)

    def cheap_to_reread(row: dict) -> bool:
        """Re-reading one record streams its whole file: prefer files of modest size."""
        path = raw / row["source_file"]
        return path.is_file() and path.stat().st_size <= EXAMPLE_MAX_FILE_BYTES

    candidates = sorted(articles.to_pylist(), key=lambda r: order[r["doc_id"]])
    candidates = _within_budget([r for r in candidates if cheap_to_reread(r)], raw)[: 2 * n]
    chosen_ids = pa.array([r["doc_id"] for r in candidates], pa.string())
    by_doc: dict[str, list[dict]] = {}
    for p in this_run("edits"):
        table = read_parquet(p)
        for row in table.filter(pc.is_in(table["doc_id"], value_set=chosen_ids)).to_pylist():
            by_doc.setdefault(row["doc_id"], []).append(row)
    wanted: dict[str, set[int]] = {}
    for row in candidates:
        wanted.setdefault(row["source_file"], set()).add(row["source_record"])
    raw_rows = read_records(raw, wanted)
    examples = []
    for row in candidates:
        source = raw_rows.get((row["source_file"], row["source_record"]))
        if source is None:
            continue
        example = _example(row, source, by_doc[row["doc_id"]], stage_order)
        if example is not None:
            examples.append(example)
        if len(examples) == n:
            break
    return examples


def _within_budget(candidates: list[dict], raw: Path) -> list[dict]:
    """The candidates (best first) whose raw files, taken in that order, fit in
    :data:`EXAMPLE_READ_BYTES` together (the first file always does)."""
    allowed: set[str] = set()
    spent = 0
    for row in candidates:
        name = row["source_file"]
        if name in allowed:
            continue
        size = (raw / name).stat().st_size
        if allowed and spent + size > EXAMPLE_READ_BYTES:
            continue
        allowed.add(name)
        spent += size
    return [r for r in candidates if r["source_file"] in allowed]


def _example(row: dict, source: dict, edits: list[dict], stage_order: Sequence[str]) -> dict | None:
    """One example, or None when its spans cannot be placed (an edit without a span after
    ``normalize``: a rare repair inside a reflow join)."""
    base = _normalized_text(source)
    spans = placed_spans(edits, stage_order)
    if spans is None:
        return None
    removed = [(lo, hi) for lo, hi, after in spans if after == ""]
    changed = [(lo, hi) for lo, hi, after in spans if after != ""]
    cut = 2 * _EXAMPLE_CHARS
    return {
        "doc_id": row["doc_id"],
        "title": row["title"],
        "domain": row["domain"],
        "before": base[:cut],
        "after": (row["text"] or "")[:cut],
        "removed": [[lo, min(hi, cut)] for lo, hi in removed if lo < cut],
        "changed": [[lo, min(hi, cut)] for lo, hi in changed if lo < cut],
        "edits": [{k: e[k] for k in ("stage", "rule", "before", "after")} for e in edits],
    }


def _normalized_text(record: dict) -> str:
    """The record's text as the stage after ``normalize`` received it."""
    batch = pa.Table.from_pylist([record], schema=DOC_SCHEMA)
    result = NormalizeStage().process(batch, BatchContext())
    return result.table.column("text")[0].as_py() or ""


def placed_spans(
    edits: list[dict], stage_order: Sequence[str]
) -> list[tuple[int, int, str]] | None:
    """Every text edit after ``normalize`` as ``(start, end, after)`` in the coordinates of
    normalize's output: each stage's rows are mapped back through the stages before it
    (:class:`~newsclean.tasks.stages.edits.Shifts`). None if an edit there has no span."""
    shifts = Shifts()
    placed: list[tuple[int, int, str]] = []
    rank = {name: i for i, name in enumerate(stage_order)}
    text_edits = [e for e in edits if (e.get("field") or "text") == "text"]
    for stage in sorted({e["stage"] for e in text_edits}, key=lambda s: rank.get(s, len(rank))):
        if stage == "normalize":
            continue
        rows = sorted((e for e in text_edits if e["stage"] == stage), key=_span_key)
        if any(e["start"] is None for e in rows):
            return None
        for e in rows:
            placed.append((shifts.to_input(e["start"]), shifts.to_input(e["end"]), e["after"]))
        for e in rows:
            shifts.replaced(e["start"], e["end"], len(e["after"] or ""))
        shifts.next_rule()
    return sorted(placed)


def _span_key(edit: dict) -> tuple[int, int]:
    return (edit["start"] if edit["start"] is not None else -1, edit["end"] or -1)


def reason_group(reason: str) -> str:
    """A quarantine reason without its per-record detail ("bad JSON on line 3: …" → "bad
    JSON on line"), so the report can count reasons."""
    head = reason.split(":", 1)[0]
    return re.sub(r"\s*\d+\s*", " ", head).strip()[:80] or "unknown"


def write_html(out_dir: str, summary: dict[str, Any]) -> str:
    """``<out>/reports/<run_id>.html`` (atomic write); returns its path."""
    path = report_path(Path(out_dir), summary["run_id"])
    write_text_atomic(path, render_html(summary))
    return str(path)
