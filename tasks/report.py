"""Report stage: one summary of a run, rendered for the terminal, Prefect and JSON.

The CLI table, the Prefect markdown artifact and ``runs/<run_id>.json`` all come from
:func:`build_summary`, so the three never disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


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
    return [
        ("documents in", f"{summary['documents_in']:,}"),
        ("MB in", f"{summary['bytes_in'] / 1e6:,.2f}"),
        ("kept", f"{summary['kept']:,}"),
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


def to_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# newsclean run `{summary['run_id']}`", "", "| figure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in headline_rows(summary)]
    lines += ["", "## Edits per rule", "", "| rule | edits |", "|---|---:|"]
    lines += [f"| `{rule}` | {n:,} |" for rule, n in summary["edits_by_rule"].items()]
    lines += ["", f"Output: `{summary['out_dir']}`"]
    return "\n".join(lines)
