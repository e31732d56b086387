"""HTML run report: escaping, highlighting, charts, and the page as headless Chromium draws it.

The pure tests read the page with :class:`html.parser.HTMLParser`, so they check structure
(which tags and attributes exist) rather than substrings. The browser tests open the page in
Debian's ``chromium``: they fail, never skip, when it is missing, because a report that only
parses in Python has not been shown to render. The screenshot is decoded here (zlib + PNG
unfiltering, no Pillow) to count the chart colours actually painted.
"""

from __future__ import annotations

import copy
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from newsclean.tasks.pipeline import report_html
from newsclean.tasks.pipeline.report import build_summary
from newsclean.tasks.pipeline.report_html import highlight_spans, render_html

CHARTS = {"domains", "rules", "duplicates", "lengths", "quarantine"}
XSS = "<script>alert(1)</script>"

# A short Express-style article as the stages after normalize see it: a credit line, a caption
# and a "Source:" footer, which the boilerplate stage removes; the report marks them from the
# edits' offsets (computed here as run_examples does, from where each removal stood).
CAPTION_LOGGED = "Prince Harry at the WellChild Awards in London (Image: GETTY)"
SOURCE_LOGGED = "Source: https://www.express.co.uk/news/royal/1441729/prince-harry-wellchild-awards"
CAPTION_RAW, SOURCE_RAW = CAPTION_LOGGED, SOURCE_LOGGED
BEFORE = (
    "PRINCE HARRY arrived at the WellChild Awards in London on Tuesday evening without the "
    "Duchess of Sussex, who stayed in California with their two children.\n\n"
    "GETTY\n\n"
    f"{CAPTION_RAW}\n\n"
    "The Duke, 36, has been patron of the charity since 2007 and has rarely missed the "
    "ceremony, which celebrates seriously ill children and the people who care for them.\n\n"
    'A royal source said: "He would not miss it for there sake."\n\n'
    f"{SOURCE_RAW}"
)


def spans_of(text: str, removed: list[str]) -> list[list[int]]:
    """The offsets an example carries for these removals (first occurrence, in order)."""
    spans, cursor = [], 0
    for span in removed:
        start = text.index(span, cursor)
        spans.append([start, start + len(span)])
        cursor = start + len(span)
    return spans


AFTER = (
    "PRINCE HARRY arrived at the WellChild Awards in London on Tuesday evening without the "
    "Duchess of Sussex, who stayed in California with their two children.\n\n"
    "The Duke, 36, has been patron of the charity since 2007 and has rarely missed the "
    "ceremony, which celebrates seriously ill children and the people who care for them.\n\n"
    'A royal source said: "He would not miss it for their sake."'
)


def realistic_summary() -> dict[str, Any]:
    """One run over a FakeNewsCorpus-sized sample, shaped like the flow's summary."""
    return {
        "run_id": "20261125T011700123Z-67e164",
        "raw_dir": "data/raw",
        "out_dir": "data/clean",
        "documents_in": 12_840,
        "bytes_in": 48_213_004,
        "kept": 11_020,
        "duplicates": 1_650,
        "quarantined": 170,
        "edits": 9_312,
        "seconds": 41.7,
        "mb_per_s": 1.156,
        "docs_per_s": 307.9,
        "edits_by_rule": {
            "whitespace.collapse/1": 4_400,
            "caption.credit-line/1": 2_210,
            "source.url-line/1": 1_830,
            "ad.beforeitsnews-headline/1": 752,
            "typo.real-word/1": 120,
        },
        "dedup": {
            "exact_duplicates": 1_200,
            "near_duplicates": 380,
            "superseded": 70,
            "already_published": 15,
            "replaced": 3,
            "documents": 12_670,
        },
        "domains": {
            "express.co.uk": 3_100,
            "beforeitsnews.com": 2_750,
            "infowars.com": 1_200,
            "theguardian.com": 980,
            "(other)": 2_990,
            "(none)": 0,
        },
        "lengths": {
            "edges": [0, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400],
            "before": [40, 120, 600, 1800, 3300, 3100, 2100, 900, 300, 60, 20],
            "after": [90, 210, 800, 2100, 3400, 2900, 1700, 600, 160, 30, 10],
        },
        "quarantine_reasons": {
            "empty file": 120,
            "binary data (NUL bytes), not text": 38,
            "undecodable cell: neither UTF-8 nor cp1252 (invalid start byte)": 12,
        },
        "files": {"new": 14, "changed": 2, "unchanged": 230},
        "examples": [
            {
                "doc_id": "9f2c61d0a4b7e3c5",
                "title": "Prince Harry arrives alone at WellChild Awards",
                "domain": "express.co.uk",
                "before": BEFORE,
                "after": AFTER,
                "removed": spans_of(BEFORE, ["GETTY", CAPTION_LOGGED, SOURCE_LOGGED]),
                "changed": spans_of(BEFORE, ["there"]),
                "edits": [
                    {
                        "stage": "reflow",
                        "rule": "whitespace.collapse/1",
                        "before": "  ",
                        "after": " ",
                    },
                    {
                        "stage": "boilerplate",
                        "rule": "caption.credit-line/1",
                        "before": "GETTY",
                        "after": None,
                    },
                    {
                        "stage": "boilerplate",
                        "rule": "caption.credit-line/1",
                        "before": CAPTION_LOGGED,
                        "after": None,
                    },
                    {
                        "stage": "boilerplate",
                        "rule": "source.url-line/1",
                        "before": SOURCE_LOGGED,
                        "after": None,
                    },
                    {
                        "stage": "typos",
                        "rule": "typo.real-word/1",
                        "before": "there",
                        "after": "their",
                    },
                ],
            }
        ],
    }


def empty_summary() -> dict[str, Any]:
    """A run that read nothing: every key present, every value empty or zero."""
    return {
        "run_id": "20261125T020000000Z-000000",
        "raw_dir": "data/raw",
        "out_dir": "data/clean",
        "documents_in": 0,
        "bytes_in": 0,
        "kept": 0,
        "duplicates": 0,
        "quarantined": 0,
        "edits": 0,
        "seconds": 0.0,
        "mb_per_s": None,
        "docs_per_s": None,
        "edits_by_rule": {},
        "dedup": {},
        "domains": {},
        "lengths": {"edges": [], "before": [], "after": []},
        "quarantine_reasons": {},
        "files": {"new": 0, "changed": 0, "unchanged": 0},
        "examples": [],
    }


# --------------------------------------------------------------------------- page reader


class Page(HTMLParser):
    """Tags, attributes, per-chart bars and texts, and the ``<mark>`` contents of one page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.charts: dict[str, dict[str, Any]] = {}
        self.marks: list[str] = []
        self.data: list[str] = []
        self._chart: str | None = None
        self._in_text = False
        self._svg_children = 0
        self._in_mark = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "svg" and "data-chart" in attributes:
            self._chart = attributes["data-chart"]
            self._svg_children = 0
            self.charts[self._chart] = {
                "svg": attributes,
                "first_child": None,
                "bars": [],
                "texts": [],
            }
            return
        if self._chart is not None:
            chart = self.charts[self._chart]
            if self._svg_children == 0:
                chart["first_child"] = tag
            self._svg_children += 1
            if tag == "rect" and attributes.get("class") == "bar":
                chart["bars"].append(attributes)
            self._in_text = tag == "text"
            if self._in_text:
                chart["texts"].append("")
        if tag == "mark" and attributes.get("class") == "removed":
            self._in_mark = True
            self.marks.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "text":
            self._in_text = False
        elif tag == "mark":
            self._in_mark = False

    def handle_data(self, data: str) -> None:
        self.data.append(data)
        if self._chart is not None and self._in_text:
            self.charts[self._chart]["texts"][-1] += data
        if self._in_mark:
            self.marks[-1] += data

    @property
    def text(self) -> str:
        return "".join(self.data)


# --------------------------------------------------------------------------- pure tests


@pytest.mark.unit
def test_untrusted_text_is_escaped_everywhere() -> None:
    summary = realistic_summary()
    summary["run_id"] = f"run{XSS}"
    summary["domains"] = {'"><img src=x onerror=alert(1)>': 5, "express.co.uk": 3}
    summary["edits_by_rule"] = {f"rule{XSS}": 2}
    summary["quarantine_reasons"] = {f"bad {XSS}": 1}
    example = summary["examples"][0]
    example["title"] = f"Harry {XSS}"
    example["before"] = f"Intro {XSS} text.\n\nGETTY\n\nMore."
    example["after"] = f"Intro {XSS} text.\n\nMore."
    example["removed"] = spans_of(example["before"], ["GETTY"])
    example["edits"][0]["before"] = XSS

    page_html = render_html(summary)
    page = Page(page_html)

    assert XSS not in page_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_html
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link"}
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    # The text survives intact for the reader, only as text.
    assert f"Harry {XSS}" in page.text
    assert f"Intro {XSS} text." in page.text
    assert page.charts["domains"]["bars"][0]["data-label"] == '"><img src=x onerror=alert(1)>'


@pytest.mark.unit
def test_page_is_self_contained() -> None:
    page_html = render_html(realistic_summary())
    page = Page(page_html)
    for tag, attrs in page.tags:
        assert tag not in {"script", "link", "img", "iframe", "object", "embed", "base"}, tag
        assert not {"src", "href", "srcset", "action"} & attrs.keys(), (tag, attrs)
    assert "url(" not in page_html and "@import" not in page_html
    csp = [a["content"] for t, a in page.tags if t == "meta" and "http-equiv" in a]
    assert csp == [report_html.CSP]
    assert "default-src 'none'" in csp[0]


@pytest.mark.unit
def test_span_is_highlighted_from_its_offsets() -> None:
    marked = highlight_spans("Story.\n\nGETTY\n\nMore <b>.", [[8, 13]])
    assert marked == 'Story.\n\n<mark class="removed">GETTY</mark>\n\nMore &lt;b&gt;.'


@pytest.mark.unit
def test_marks_follow_offsets_never_the_text() -> None:
    # A removed "AP" credit line marks that line, not every "AP" in the story.
    text = "AP\n\nThe AP reported the vote.\n\nAP"
    assert Page(highlight_spans(text, [[0, 2]])).marks == ["AP"]
    assert highlight_spans(text, [[0, 2]]).count("<mark") == 1
    assert highlight_spans(text, [[31, 33]]).endswith('<mark class="removed">AP</mark>')


@pytest.mark.unit
def test_removed_wins_over_changed_and_bad_spans_are_skipped() -> None:
    text = "one two three four"
    marked = highlight_spans(text, [[4, 13], [4, 7]], [[8, 13], [14, 18]])
    assert Page(marked).marks == ["two three"]  # Page.marks: the removed ones
    assert '<mark class="changed">four</mark>' in marked
    # Spans from disk that make no sense are ignored, never raised on.
    junk = [[5, 2], ["a", 3], [1], None, [-4, 3], [16, 999]]
    assert Page(highlight_spans(text, junk)).marks == ["one", "ur"]
    assert highlight_spans("plain <text>", []) == "plain &lt;text&gt;"


@pytest.mark.unit
def test_every_chart_is_present_and_accessible() -> None:
    page = Page(render_html(realistic_summary()))
    assert set(page.charts) == CHARTS
    for name, chart in page.charts.items():
        svg = chart["svg"]
        assert svg["class"] == "chart" and svg["role"] == "img", name
        assert svg["aria-label"].strip(), name
        assert chart["first_child"] == "title", name
        assert chart["texts"], name
    assert "express.co.uk" in page.charts["domains"]["texts"]
    assert "caption.credit-line/1" in page.charts["rules"]["texts"]
    assert {"exact", "near", "superseded", "already published"} <= set(
        page.charts["duplicates"]["texts"]
    )
    assert "empty file" in page.charts["quarantine"]["texts"]
    assert {"before (raw)", "after (clean)"} <= set(page.charts["lengths"]["texts"])


@pytest.mark.unit
@pytest.mark.parametrize("chart", ["domains", "rules", "duplicates", "quarantine"])
def test_bar_widths_are_proportional(chart: str) -> None:
    bars = Page(render_html(realistic_summary())).charts[chart]["bars"]
    assert len(bars) >= 3
    widths = {b["data-label"]: float(b["width"]) for b in bars}
    values = {b["data-label"]: int(b["data-value"]) for b in bars}
    assert max(widths, key=widths.__getitem__) == max(values, key=values.__getitem__)
    top = max(values.values())
    full = max(widths.values())
    for label, value in values.items():
        assert widths[label] == pytest.approx(full * value / top, abs=0.11), label


@pytest.mark.unit
def test_bar_values_follow_the_summary() -> None:
    summary = realistic_summary()
    charts = Page(render_html(summary)).charts
    domains = [(b["data-label"], int(b["data-value"])) for b in charts["domains"]["bars"]]
    assert domains == list(summary["domains"].items())  # given order kept: "(other)" stays last
    rules = [(b["data-label"], int(b["data-value"])) for b in charts["rules"]["bars"]]
    assert rules == sorted(summary["edits_by_rule"].items(), key=lambda kv: -kv[1])
    duplicates = [int(b["data-value"]) for b in charts["duplicates"]["bars"]]
    assert duplicates == [1_200, 380, 70, 15]


@pytest.mark.unit
def test_length_histogram_has_both_series_to_scale() -> None:
    summary = realistic_summary()
    bars = Page(render_html(summary)).charts["lengths"]["bars"]
    bins = len(summary["lengths"]["edges"]) - 1
    for series in ("before", "after"):
        drawn = sorted(
            (b for b in bars if b["data-series"] == series), key=lambda b: int(b["data-bin"])
        )
        assert [int(b["data-value"]) for b in drawn] == summary["lengths"][series]
        assert len(drawn) == bins
    heights = [(int(b["data-value"]), float(b["height"])) for b in bars]
    scale = max(h for _, h in heights) / max(v for v, _ in heights)
    tallest = max(heights, key=lambda vh: vh[1])
    assert tallest[0] == 3_400
    for value, height in heights:
        assert height == pytest.approx(value * scale, rel=0.02, abs=0.11)


@pytest.mark.unit
def test_headline_figures() -> None:
    page = Page(render_html(realistic_summary()))
    text = re.sub(r"\s+", " ", page.text)
    assert "20261125T011700123Z-67e164" in text
    for expected in ("12,840", "48.21", "11,020", "1,650", "170", "9,312", "41.70", "1.16", "308"):
        assert expected in text
    assert "exact 1,200 · near 380 · superseded 70" in text
    assert "14 new, 2 changed, 230 unchanged" in text


@pytest.mark.unit
def test_example_shows_raw_with_marks_clean_text_and_edits() -> None:
    page_html = render_html(realistic_summary())
    page = Page(page_html)
    assert page.marks == ["GETTY", CAPTION_RAW, SOURCE_RAW]
    assert "for their sake" in page.text and "Source:" in page.text
    rows = re.findall(r"<tr><td>(\w+)</td><td><code>([^<]+)</code>", page_html)
    assert rows == [
        ("reflow", "whitespace.collapse/1"),
        ("boilerplate", "caption.credit-line/1"),
        ("boilerplate", "caption.credit-line/1"),
        ("boilerplate", "source.url-line/1"),
        ("typos", "typo.real-word/1"),
    ]


@pytest.mark.unit
def test_long_texts_are_capped_with_a_note() -> None:
    summary = realistic_summary()
    filler = "The minister said the talks would resume next week. " * 400  # ~21,000 chars
    span = "Advertisement - story continues below"
    before = filler[:3_990] + span + filler[3_990:]
    removed = [[3_990, 3_990 + len(span)]]
    summary["examples"][0].update(before=before, after=filler, removed=removed, edits=[])
    page = Page(render_html(summary))
    assert f"Showing the first 4,000 of {len(before):,} characters." in page.text
    assert f"Showing the first 4,000 of {len(filler):,} characters." in page.text
    assert page.marks == [span[:10]]  # the span straddles the cut: marked up to it
    assert "No edits in this document." in page.text
    assert len(page.text) < 15_000


@pytest.mark.unit
def test_empty_summary_renders_nothing_this_run() -> None:
    page = Page(render_html(empty_summary()))
    assert set(page.charts) == CHARTS
    assert all(not chart["bars"] for chart in page.charts.values())
    text = page.text
    for message in (
        "No documents kept this run.",
        "No edits this run.",
        "No duplicates found this run.",
        "None: nothing was quarantined this run.",
        "No documents measured this run.",
        "No examples this run.",
    ):
        assert message in text
    assert "—" in text  # MB/s and docs/s unknown


@pytest.mark.unit
def test_summary_from_build_summary_renders() -> None:
    """An older runs/<run_id>.json (no charts keys) still renders instead of crashing."""
    units = [{"unit": "a.csv", "bytes_in": 2_000_000, "docs_in": 10}]
    published = {"articles": 9, "duplicates": 1, "quarantine": 0, "edits": 4}
    summary = build_summary("r1", "raw", "out", units, published, [], 2.0, {"exact_duplicates": 1})
    page = Page(render_html(summary))
    assert set(page.charts) == CHARTS
    assert [int(b["data-value"]) for b in page.charts["duplicates"]["bars"]] == [1, 0, 0, 0]


@pytest.mark.unit
def test_mismatched_histogram_lists_do_not_crash() -> None:
    summary = realistic_summary()
    summary["lengths"] = {"edges": [0, 100, 200, 400], "before": [5, 7], "after": [1, 2, 3, 4]}
    bars = Page(render_html(summary)).charts["lengths"]["bars"]
    assert sorted(int(b["data-value"]) for b in bars) == [0, 1, 2, 3, 5, 7]


@pytest.mark.unit
def test_output_is_deterministic() -> None:
    summary = realistic_summary()
    first = render_html(summary)
    assert render_html(copy.deepcopy(summary)) == first
    assert summary == realistic_summary()  # the input is not mutated
    assert render_html(summary) != render_html(empty_summary())


# --------------------------------------------------------------------------- browser tests

CONSOLE_PROBLEM = re.compile(r":CONSOLE|Uncaught|SyntaxError|Content Security Policy")


def chromium() -> str:
    """The Chromium binary, or a failure that says how to get it: a skip would hide that the
    report was never opened in a browser."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        pytest.fail(
            "chromium not found: the HTML report tests need headless Chromium. "
            "Install it with `apt-get update && apt-get install -y chromium` (Debian).",
            pytrace=False,
        )
    return found


def run_chromium(
    page: Path, profile: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run on ``page`` with console messages logged to stderr."""
    command = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",  # never the invoking user's profile
        "--no-first-run",
        "--disable-background-networking",
        "--force-color-profile=srgb",  # the screenshot's colours equal the CSS colours
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def console_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE_PROBLEM.search(line)]


def png_colours(path: Path) -> tuple[int, int, Counter[bytes]]:
    """Width, height and pixel count per RGB colour of an 8-bit RGB/RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    counts: Counter[bytes] = Counter()
    previous = bytearray(stride)
    for y in range(height):
        offset = y * (stride + 1)
        kind_byte, row = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        unfilter(kind_byte, row, previous, channels)
        counts.update(bytes(row[i : i + 3]) for i in range(0, stride, channels))
        previous = row
    return width, height, counts


def unfilter(kind: int, row: bytearray, up: bytearray, bpp: int) -> None:
    """Undo one PNG row filter in place (PNG spec, section 9)."""
    if kind == 1:
        for i in range(bpp, len(row)):
            row[i] = (row[i] + row[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(len(row)):
            row[i] = (row[i] + up[i]) & 0xFF
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + up[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b, c = up[i], up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        assert kind == 0, f"unknown PNG filter {kind}"


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    summary = realistic_summary()
    summary["examples"][0]["title"] = f"Prince Harry {XSS} arrives alone"
    before = BEFORE.replace("PRINCE HARRY", f"PRINCE HARRY {XSS}")
    summary["examples"][0]["before"] = before
    summary["examples"][0]["removed"] = spans_of(before, ["GETTY", CAPTION_LOGGED, SOURCE_LOGGED])
    summary["examples"][0]["changed"] = spans_of(before, ["there"])
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(summary), encoding="utf-8")
    return path


@pytest.mark.browser
def test_chromium_screenshot_shows_the_charts(report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    result = run_chromium(
        report_file, tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,2000"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert png.exists(), result.stderr[-3000:]
    assert png.stat().st_size > 10_000
    assert console_problems(result.stderr) == []
    width, height, colours = png_colours(png)
    assert (width, height) == (1280, 2000)
    assert len(colours) > 50, "screenshot is (nearly) blank"
    painted = {
        "domains": report_html.BLUE,
        "rules": report_html.PURPLE,
        "duplicates": report_html.GREEN,
        "quarantine": report_html.RED,
        "lengths (before)": report_html.GREY,
        "removed-span highlight": "#fecaca",
    }
    for what, hex_colour in painted.items():
        pixels = colours[bytes.fromhex(hex_colour.lstrip("#"))]
        assert pixels > 1_000, f"{what}: only {pixels} pixels of {hex_colour}"


@pytest.mark.browser
def test_chromium_dom_has_charts_and_marks_and_no_console_errors(
    report_file: Path, tmp_path: Path
) -> None:
    result = run_chromium(report_file, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-3000:]
    assert console_problems(result.stderr) == []
    dom = result.stdout
    assert set(re.findall(r'data-chart="(\w+)"', dom)) == CHARTS
    assert len(re.findall(r"<svg[^>]*\bdata-chart=", dom)) == 5
    assert dom.count('<mark class="removed">') == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom  # the browser built no script element from article text


@pytest.mark.browser
def test_console_check_catches_a_broken_page(report_file: Path, tmp_path: Path) -> None:
    """The "no console errors" assertions above are only worth something if a broken page
    trips them: an inline script and an external image must both be reported (and blocked)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        report_file.read_text(encoding="utf-8").replace(
            "<main>", '<main><script>broken(</script><img src="https://example.invalid/x.png">'
        ),
        encoding="utf-8",
    )
    result = run_chromium(bad, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-3000:]
    problems = console_problems(result.stderr)
    assert any("inline script" in line for line in problems), result.stderr[-3000:]
    assert any("example.invalid" in line for line in problems), result.stderr[-3000:]
