"""Report stage, HTML edition: one self-contained page per run, with charts and examples.

The page is meant to be mailed, attached to a ticket or opened from a CI artifact years later,
so it carries everything inline: CSS in a ``<style>`` block, charts as inline SVG drawn here in
Python, no scripts, fonts, images or links to fetch. A Content-Security-Policy ``<meta>`` forbids
every external load, so a future edit that adds one shows up as a console error in the browser
test instead of silently phoning home.

Article text is untrusted (scraped pages contain ``<script>`` and worse): every string that comes
from the summary goes through :func:`html.escape` before it reaches the page. The output depends
on the input only (no clock, no random ids), so two renders of one summary are byte-identical and
can be diffed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Characters of raw and clean text shown per example; the rest is cut with a note, because a
#: 2 MB scraped page would make the report unusable and says nothing more about the rules.
MAX_EXAMPLE_CHARS = 4_000
#: Edit rows shown per example, for the same reason.
MAX_EXAMPLE_EDITS = 40
#: Characters of one edit's before/after shown in the edits table.
MAX_EDIT_CHARS = 300
#: Bars drawn in one horizontal bar chart; a long tail of rules would make a chart unreadable.
MAX_BARS = 30

#: Dedup figures drawn in the duplicates chart, in this order, with their labels.
DUPLICATE_BARS = (
    ("exact_duplicates", "exact"),
    ("near_duplicates", "near"),
    ("superseded", "superseded"),
    ("already_published", "already published"),
)

BLUE = "#2563eb"
ORANGE = "#ea580c"
GREEN = "#16a34a"
RED = "#dc2626"
PURPLE = "#7c3aed"
GREY = "#6b7280"

#: Approximate width of one 12 px system-font character, to size label columns without a
#: font engine. Generous on purpose: a label column slightly too wide costs nothing.
CHAR_PX = 7.0

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; padding: 24px 16px 48px; background: #f8fafc; color: #0f172a;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
}
main { max-width: 1120px; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 32px 0 12px; border-bottom: 1px solid #e2e8f0;
  padding-bottom: 4px; }
h3 { font-size: 1.05rem; margin: 0 0 4px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
  monospace; font-size: 0.9em; }
.sub { color: #475569; margin: 0 0 16px; overflow-wrap: anywhere; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr));
  gap: 10px; margin: 16px 0; padding: 0; }
.figure { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 10px 12px;
  margin: 0; }
.figure dt { color: #64748b; font-size: 0.8rem; text-transform: uppercase;
  letter-spacing: 0.03em; }
.figure dd { margin: 2px 0 0; font-size: 1.35rem; font-weight: 600;
  font-variant-numeric: tabular-nums; }
.figure .detail { display: block; font-size: 0.8rem; font-weight: 400; color: #64748b; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr));
  gap: 16px; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px 14px;
  margin: 0; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  font-size: 12px; fill: #334155; }
svg.chart .axis-label { fill: #64748b; font-size: 11px; }
svg.chart .empty-message { fill: #64748b; font-size: 13px; font-style: italic; }
svg.chart line.axis { stroke: #94a3b8; }
svg.chart line.grid { stroke: #e2e8f0; }
.empty { color: #64748b; font-style: italic; }
.example { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 14px;
  margin: 0 0 20px; }
.example .meta { color: #64748b; font-size: 0.85rem; margin: 0 0 10px;
  overflow-wrap: anywhere; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.pair h4 { margin: 0 0 4px; font-size: 0.85rem; color: #475569; text-transform: uppercase;
  letter-spacing: 0.03em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; background: #f8fafc;
  border: 1px solid #e2e8f0; border-radius: 6px; padding: 10px; margin: 0;
  font-size: 0.9rem; max-height: 640px; overflow: auto; }
mark.removed { background: #fecaca; color: #7f1d1d; text-decoration: line-through;
  text-decoration-color: #b91c1c; border-radius: 2px; }
mark.changed { background: #fef3c7; color: #78350f; border-radius: 2px; }
.note { color: #92400e; font-size: 0.8rem; margin: 4px 0 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; margin-top: 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e2e8f0;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #f1f5f9; font-weight: 600; }
tbody tr:nth-child(even) td { background: #f8fafc; }
td.none { color: #94a3b8; }
footer { margin-top: 32px; color: #94a3b8; font-size: 0.8rem; }
@media (max-width: 760px) { .pair { grid-template-columns: 1fr; }
  .charts { grid-template-columns: 1fr; } }
"""

#: Everything external is forbidden; only the inline ``<style>`` may apply.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def render_html(summary: dict[str, Any]) -> str:
    """The run report as one self-contained HTML page (UTF-8 text, no external resources).

    Missing keys are read as empty: the contract says all are present, but a report that
    crashes on an old ``runs/<run_id>.json`` is worse than one with an empty chart.
    """
    run_id = str(summary.get("run_id") or "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>newsclean run {_esc(run_id)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        _header(summary),
        _charts(summary),
        _examples(summary),
        f"<footer>newsclean report for run <code>{_esc(run_id)}</code></footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- formatting


def _esc(value: object) -> str:
    """Text and attribute escaping in one: quotes too, so the same helper is safe everywhere."""
    return html.escape("" if value is None else str(value), quote=True)


def _int(value: object) -> int:
    """A count from the summary; anything unreadable counts as zero rather than crashing."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0


def _float(value: object) -> float | None:
    """A rate from the summary, or None when absent or not a finite number (shown as a dash)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt_float(value: object, digits: int) -> str:
    number = _float(value)
    return "—" if number is None else f"{number:,.{digits}f}"


def _compact(value: float) -> str:
    """Short axis numbers (12.8k, 1.5M): bin edges must fit under a histogram column."""
    value = float(value)
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.0f}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _counts(mapping: object) -> list[tuple[str, int]]:
    """(label, count) pairs of a summary dict, in the dict's order; non-dicts read as empty."""
    if not isinstance(mapping, Mapping):
        return []
    return [(str(key), _int(value)) for key, value in mapping.items()]


def _count_lines(summary: Mapping, key: str, label: str, always: bool = False) -> list[str]:
    """``label: a 3, b 1`` from the summary's counts under ``key`` (most first); no line for
    none unless ``always`` (then "—")."""
    counts = summary.get(key)
    counts = counts if isinstance(counts, Mapping) else {}
    if not counts and not always:
        return []
    shown = ", ".join(f"{name} {n:,}" for name, n in _by_count(_counts(counts)))
    return [f"{label}: {shown or '—'}"]


def _by_count(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Largest first, ties by name, so the chart order never depends on dict insertion."""
    return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))


# --------------------------------------------------------------------------- header


def recovery_rows(recovered: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What taking the output folder repaired, when it repaired anything: a killed run's
    commit rolled forward (its data is now complete), its staging or temp files removed."""
    rows = []
    if recovered.get("rolled_forward"):
        run = recovered.get("rolled_forward_run") or "unknown"
        rows.append(
            (
                "recovered a killed run's commit",
                f"run {run}: {recovered['rolled_forward']:,} files rolled forward, now complete",
            )
        )
    swept = recovered.get("temp_files_swept") or 0
    if swept or recovered.get("stale_staging_removed"):
        staging = ", its staging folder" if recovered.get("stale_staging_removed") else ""
        rows.append(("removed leftovers of a killed run", f"{swept:,} temp files{staging}"))
    return rows


def _header(summary: Mapping[str, Any]) -> str:
    dedup = summary.get("dedup") if isinstance(summary.get("dedup"), Mapping) else {}
    files = summary.get("files") if isinstance(summary.get("files"), Mapping) else {}
    recovered = summary.get("recovery") if isinstance(summary.get("recovery"), Mapping) else {}
    dup_detail = " · ".join(
        f"{label} {_int(dedup.get(key)):,}" for key, label in DUPLICATE_BARS[:3]
    )
    figures: list[tuple[str, str, str]] = [
        ("documents in", f"{_int(summary.get('documents_in')):,}", ""),
        ("MB in", f"{_int(summary.get('bytes_in')) / 1e6:,.2f}", ""),
        ("kept", f"{_int(summary.get('kept')):,}", ""),
        ("duplicates dropped", f"{_int(summary.get('duplicates')):,}", dup_detail),
        ("quarantined", f"{_int(summary.get('quarantined')):,}", ""),
        ("edits", f"{_int(summary.get('edits')):,}", ""),
        ("seconds", _fmt_float(summary.get("seconds"), 2), ""),
        ("MB/s", _fmt_float(summary.get("mb_per_s"), 2), ""),
        ("docs/s", _fmt_float(summary.get("docs_per_s"), 0), ""),
    ]
    cards = "\n".join(
        f'<div class="figure" data-figure="{_esc(name)}"><dt>{_esc(name)}</dt>'
        f"<dd>{_esc(value)}"
        + (f'<span class="detail">{_esc(detail)}</span>' if detail else "")
        + "</dd></div>"
        for name, value, detail in figures
    )
    extra = [
        f"raw files: {_int(files.get('new')):,} new, {_int(files.get('changed')):,} changed, "
        f"{_int(files.get('unchanged')):,} unchanged",
        *_count_lines(summary, "languages", "kept per language", always=True),
        *_count_lines(
            summary, "set_aside_languages", "set aside (other languages, other_languages/)"
        ),
        *_count_lines(summary, "page_kinds", "kept per page kind", always=True),
        *_count_lines(summary, "set_aside_kinds", "set aside (other page kinds, other_kinds/)"),
        f"already published: {_int(dedup.get('already_published')):,}",
        f"replaced: {_int(dedup.get('replaced')):,}",
    ]
    return "\n".join(
        [
            "<header>",
            f"<h1>newsclean run <code>{_esc(summary.get('run_id') or '')}</code></h1>",
            f'<p class="sub"><code>{_esc(summary.get("raw_dir") or "")}</code> → '
            f"<code>{_esc(summary.get('out_dir') or '')}</code></p>",
            f'<dl class="figures">\n{cards}\n</dl>',
            f'<p class="sub">{_esc(" · ".join(extra))}</p>',
            *(
                f'<p class="sub recovery"><strong>{_esc(name)}</strong>: {_esc(value)}</p>'
                for name, value in recovery_rows(recovered)
            ),
            "</header>",
        ]
    )


# --------------------------------------------------------------------------- charts


def _charts(summary: Mapping[str, Any]) -> str:
    dedup = summary.get("dedup") if isinstance(summary.get("dedup"), Mapping) else {}
    duplicates = [(label, _int(dedup.get(key))) for key, label in DUPLICATE_BARS]
    cards = [
        _card(
            "Documents kept per domain",
            _hbar_chart(
                "domains",
                "Documents kept per domain",
                _counts(summary.get("domains")),  # already ordered, "(other)" last
                axis="documents kept",
                colour=BLUE,
                empty="No documents kept this run.",
            ),
        ),
        _card(
            "Edits per rule",
            _hbar_chart(
                "rules",
                "Edits per rule",
                _by_count(_counts(summary.get("edits_by_rule"))),
                axis="edits",
                colour=PURPLE,
                empty="No edits this run.",
            ),
        ),
        _card(
            "Duplicates found",
            _hbar_chart(
                "duplicates",
                "Duplicates found",
                duplicates,
                axis="documents",
                colour=GREEN,
                empty="No duplicates found this run.",
            ),
        ),
        _card(
            "Quarantine reasons",
            _hbar_chart(
                "quarantine",
                "Quarantine reasons",
                _by_count(_counts(summary.get("quarantine_reasons"))),
                axis="documents quarantined",
                colour=RED,
                empty="None: nothing was quarantined this run.",
            ),
        ),
        _card(
            "Document length before and after cleaning",
            _length_chart(summary.get("lengths")),
            wide=True,
        ),
    ]
    return '<section aria-label="charts">\n<h2>Charts</h2>\n<div class="charts">\n' + (
        "\n".join(cards) + "\n</div>\n</section>"
    )


def _card(caption: str, svg: str, wide: bool = False) -> str:
    css = "card wide" if wide else "card"
    return f'<figure class="{css}"><figcaption>{_esc(caption)}</figcaption>\n{svg}\n</figure>'


def _svg_open(kind: str, title: str, label: str, width: float, height: float) -> str:
    """The common ``<svg>`` head: tests and screen readers find every chart the same way."""
    return (
        f'<svg class="chart" data-chart="{_esc(kind)}" role="img" aria-label="{_esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}">'
        f"<title>{_esc(label)}</title>"
    )


def _empty_chart(kind: str, title: str, message: str, width: float = 520) -> str:
    """An empty chart keeps its place and says why it is empty, instead of vanishing."""
    height = 60.0
    return (
        _svg_open(kind, title, f"{title}: {message}", width, height)
        + f'<text class="empty-message" x="{width / 2:g}" y="{height / 2 + 4:g}" '
        f'text-anchor="middle">{_esc(message)}</text></svg>'
    )


def _hbar_chart(
    kind: str,
    title: str,
    items: Sequence[tuple[str, int]],
    *,
    axis: str,
    colour: str,
    empty: str,
    width: float = 520,
) -> str:
    """Horizontal bars, one per label, widths proportional to the counts (0 at the left)."""
    if not items or all(value <= 0 for _, value in items):
        return _empty_chart(kind, title, empty, width)
    shown = list(items[:MAX_BARS])
    hidden = items[MAX_BARS:]
    row, top, bottom = 22.0, 8.0, 34.0 + (16.0 if hidden else 0.0)
    label_chars = min(max(len(label) for label, _ in shown), 36)
    label_w = label_chars * CHAR_PX + 12
    value_w = max(len(f"{value:,}") for _, value in shown) * CHAR_PX + 10
    plot_w = max(width - label_w - value_w, 80.0)
    biggest = max(max(value for _, value in shown), 1)
    height = top + row * len(shown) + bottom
    summary = ", ".join(f"{label} {value:,}" for label, value in shown[:10])
    out = [_svg_open(kind, title, f"{title}: {summary}", width, height)]
    for i, (label, value) in enumerate(shown):
        y = top + i * row
        bar_w = plot_w * max(value, 0) / biggest
        out.append(
            f'<g class="row"><title>{_esc(label)}: {value:,}</title>'
            f'<text x="{label_w - 8:g}" y="{y + row / 2 + 4:g}" text-anchor="end">'
            f"{_esc(_clip(label, label_chars))}</text>"
            f'<rect class="bar" data-label="{_esc(label)}" data-value="{value}" '
            f'x="{label_w:g}" y="{y + 3:g}" width="{bar_w:.1f}" height="{row - 6:g}" '
            f'rx="2" fill="{colour}"/>'
            f'<text class="value" x="{label_w + bar_w + 5:.1f}" y="{y + row / 2 + 4:g}">'
            f"{value:,}</text></g>"
        )
    axis_y = top + row * len(shown) + 2
    out.append(
        f'<line class="axis" x1="{label_w:g}" y1="{top:g}" x2="{label_w:g}" y2="{axis_y:g}"/>'
    )
    out.append(
        f'<text class="axis-label" x="{label_w:g}" y="{axis_y + 16:g}">0</text>'
        f'<text class="axis-label" x="{label_w + plot_w:g}" y="{axis_y + 16:g}" '
        f'text-anchor="end">{biggest:,}</text>'
        f'<text class="axis-label" x="{label_w + plot_w / 2:g}" y="{axis_y + 16:g}" '
        f'text-anchor="middle">{_esc(axis)}</text>'
    )
    if hidden:
        rest = sum(value for _, value in hidden)
        out.append(
            f'<text class="axis-label" x="{label_w:g}" y="{axis_y + 32:g}">'
            f"+ {len(hidden):,} more not shown ({rest:,} in all)</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ (at least 1) not below ``value``: counts get whole,
    round gridlines (0, 500, 1000...) rather than 0, 308.5, 617."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def _length_chart(lengths: object, width: float = 1060) -> str:
    """Two-series column histogram: raw length vs clean length, per log-spaced length bin."""
    kind, title = "lengths", "Document length before and after cleaning"
    data = lengths if isinstance(lengths, Mapping) else {}
    edges = [_float(e) or 0.0 for e in (data.get("edges") or [])]
    before = [_int(v) for v in (data.get("before") or [])]
    after = [_int(v) for v in (data.get("after") or [])]
    bins = max(min(len(edges) - 1, max(len(before), len(after))), 0)
    before = (before + [0] * bins)[:bins]
    after = (after + [0] * bins)[:bins]
    if bins == 0 or (not any(before) and not any(after)):
        return _empty_chart(kind, title, "No documents measured this run.", width)

    left, right, top, bottom = 56.0, 16.0, 34.0, 48.0
    plot_h = 220.0
    height = top + plot_h + bottom
    plot_w = width - left - right
    slot = plot_w / bins
    bar_w = max(min(slot * 0.38, 40.0), 1.0)
    step = _nice_step(max(max(before), max(after)) / 4)
    ticks = math.ceil(max(max(before), max(after)) / step)
    y_max = step * ticks
    label = (
        f"{title}: {sum(before):,} documents before, {sum(after):,} after, "
        f"over {bins} length bins from {_compact(edges[0])} to {_compact(edges[bins])} characters"
    )
    out = [_svg_open(kind, title, label, width, height)]
    # Legend, top left.
    for i, (name, colour) in enumerate((("before (raw)", GREY), ("after (clean)", BLUE))):
        x = left + i * 130
        out.append(
            f'<g class="legend-item"><rect x="{x:g}" y="8" width="12" height="12" rx="2" '
            f'fill="{colour}"/><text x="{x + 18:g}" y="18">{_esc(name)}</text></g>'
        )
    # Gridlines and y values.
    for i in range(ticks + 1):
        y = top + plot_h - plot_h * i / ticks
        out.append(
            f'<line class="grid" x1="{left:g}" y1="{y:.1f}" x2="{left + plot_w:g}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 6:g}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_compact(step * i)}</text>"
        )
    for i in range(bins):
        x0 = left + i * slot + slot / 2 - bar_w
        bin_label = f"{_compact(edges[i])}–{_compact(edges[i + 1])} chars"
        for j, (series, values, colour) in enumerate(
            (("before", before, GREY), ("after", after, BLUE))
        ):
            h = plot_h * values[i] / y_max
            out.append(
                f'<rect class="bar" data-series="{series}" data-bin="{i}" '
                f'data-value="{values[i]}" x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{_esc(bin_label)}, {series}: {values[i]:,}</title></rect>"
            )
    base = top + plot_h
    out.append(
        f'<line class="axis" x1="{left:g}" y1="{base:g}" x2="{left + plot_w:g}" y2="{base:g}"/>'
    )
    # Edge labels at bin boundaries; every other one when they would collide.
    every = 1 if slot >= 44 else 2 if slot >= 22 else max(math.ceil(44 / slot), 1)
    for i in range(0, bins + 1, every):
        out.append(
            f'<text class="axis-label" x="{left + i * slot:.1f}" y="{base + 16:g}" '
            f'text-anchor="middle">{_compact(edges[i])}</text>'
        )
    out.append(
        f'<text class="axis-label" x="{left + plot_w / 2:g}" y="{base + 38:g}" '
        'text-anchor="middle">document length in characters (bin edges)</text>'
        f'<text class="axis-label" x="14" y="{top + plot_h / 2:g}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:g})">documents</text>'
    )
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- examples


def _intervals(value: object, length: int) -> list[tuple[int, int]]:
    """``[[start, end], …]`` from a summary as sorted, clipped, non-overlapping intervals
    (the summary is data from disk: anything malformed is skipped)."""
    spans: list[tuple[int, int]] = []
    for item in value if isinstance(value, list) else []:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            continue
        lo, hi = _int(item[0]), _int(item[1])
        lo, hi = max(0, min(lo, length)), max(0, min(hi, length))
        if lo < hi:
            spans.append((lo, hi))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def highlight_spans(
    text: str, removed: object, changed: object = None, limit: int | None = None
) -> str:
    """``text``, escaped, with the ``removed`` spans in ``<mark class="removed">`` and the
    ``changed`` ones (a word corrected, a space restored, a join) in ``<mark class="changed">``.

    Spans are character offsets into ``text`` (from the edit rows, see report.placed_spans);
    where a removed and a changed span overlap the removal wins. Everything is cut at
    ``limit``, a span straddling the cut is marked up to it.
    """
    end_at = len(text) if limit is None else min(limit, len(text))
    gone = _intervals(removed, end_at)
    marks = [(lo, hi, "removed") for lo, hi in gone]
    for lo, hi in _intervals(changed, end_at):
        if not any(lo < g_hi and hi > g_lo for g_lo, g_hi in gone):
            marks.append((lo, hi, "changed"))
    out: list[str] = []
    pos = 0
    for start, end, kind in sorted(marks):
        if start < pos:
            continue
        out.append(_esc(text[pos:start]))
        out.append(f'<mark class="{kind}">{_esc(text[start:end])}</mark>')
        pos = end
    out.append(_esc(text[pos:end_at]))
    return "".join(out)


def _cap_note(text: str) -> str:
    if len(text) <= MAX_EXAMPLE_CHARS:
        return ""
    return (
        f'<p class="note">Showing the first {MAX_EXAMPLE_CHARS:,} of {len(text):,} characters.</p>'
    )


def _examples(summary: Mapping[str, Any]) -> str:
    examples = summary.get("examples")
    examples = [e for e in examples if isinstance(e, Mapping)] if isinstance(examples, list) else []
    head = '<section aria-label="examples">\n<h2>Before and after</h2>'
    if not examples:
        return head + '\n<p class="empty">No examples this run.</p>\n</section>'
    body = "\n".join(_example(i, e) for i, e in enumerate(examples, 1))
    return f"{head}\n{body}\n</section>"


def _example(number: int, example: Mapping[str, Any]) -> str:
    before = str(example.get("before") or "")
    after = str(example.get("after") or "")
    removed = _intervals(example.get("removed"), len(before))
    marked = highlight_spans(before, removed, example.get("changed"), MAX_EXAMPLE_CHARS)
    title = example.get("title")
    meta = [
        f"doc <code>{_esc(example.get('doc_id') or '')}</code>",
        f"domain {_esc(example.get('domain') or '(none)')}",
        f"{len(before):,} → {len(after):,} characters",
        f"{len(removed):,} span{'s' if len(removed) != 1 else ''} removed",
    ]
    return "\n".join(
        [
            f'<article class="example" id="example-{number}">',
            f"<h3>{_esc(title) if title else '<em>(untitled)</em>'}</h3>",
            f'<p class="meta">{" · ".join(meta)}</p>',
            '<div class="pair">',
            "<div><h4>raw, Unicode and whitespace repaired (removed and changed spans marked)"
            f'</h4><div class="text before">{marked}</div>{_cap_note(before)}</div>',
            "<div><h4>clean</h4>"
            f'<div class="text after">{_esc(after[:MAX_EXAMPLE_CHARS])}</div>'
            f"{_cap_note(after)}</div>",
            "</div>",
            _edits_table(example.get("edits")),
            "</article>",
        ]
    )


def _edits_table(edits: object) -> str:
    rows = [e for e in edits if isinstance(e, Mapping)] if isinstance(edits, list) else []
    if not rows:
        return '<p class="empty">No edits in this document.</p>'

    def cell(value: object) -> str:
        if value is None:
            return '<td class="none">—</td>'
        return f'<td class="mono">{_esc(_clip(str(value), MAX_EDIT_CHARS))}</td>'

    body = "\n".join(
        f"<tr><td>{_esc(e.get('stage') or '')}</td><td><code>{_esc(e.get('rule') or '')}"
        f"</code></td>{cell(e.get('before'))}{cell(e.get('after'))}</tr>"
        for e in rows[:MAX_EXAMPLE_EDITS]
    )
    note = (
        f'<p class="note">Showing {MAX_EXAMPLE_EDITS} of {len(rows):,} edits.</p>'
        if len(rows) > MAX_EXAMPLE_EDITS
        else ""
    )
    return (
        "<table><thead><tr><th>stage</th><th>rule</th><th>before</th><th>after</th></tr>"
        f"</thead>\n<tbody>\n{body}\n</tbody></table>{note}"
    )
