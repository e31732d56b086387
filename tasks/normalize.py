"""Normalize stage: Unicode repair, whitespace, glued sentences and broken URLs; reflow.

Two entry points, both plain functions over a batch:

* :func:`normalize_batch` runs before boilerplate removal: character-level repairs that make
  lines comparable (ftfy, entities, invisibles, whitespace, missing spaces, broken URLs).
* :func:`reflow_batch` runs after it: paragraphs broken mid-sentence are joined, once the
  captions and credits that often sit between the two halves are gone.

Speed comes from screening: each repair has an RE2 pattern that pyarrow evaluates over the
whole batch at C speed, and Python only touches the documents it flags. ftfy in particular
(1-3 MB/s) only sees paragraphs that look like mojibake.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import ftfy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.edits import EditLog, StageResult, word_context
from tasks.rules import Rule, RulePack, normalize_pack
from tasks.schema import replace_column

STAGE = "normalize"
REFLOW_STAGE = "reflow"

# Characters that are mojibake when they follow a UTF-8 lead byte read as cp1252/latin-1.
_CP1252_CONTINUATION = (
    r"\x{0080}-\x{00BF}\x{0152}\x{0153}\x{0160}\x{0161}\x{0178}\x{017D}\x{017E}\x{0192}"
    r"\x{02C6}\x{02DC}\x{2013}\x{2014}\x{2018}-\x{201E}\x{2020}-\x{2022}\x{2026}\x{2030}"
    r"\x{2039}\x{203A}\x{20AC}\x{2122}"
)
_MOJIBAKE_RE2 = (
    r"[\x{00C2}-\x{00F4}][" + _CP1252_CONTINUATION + r"]"
    r"|[\x{0080}-\x{009F}\x{FB00}-\x{FB06}\x{FF01}-\x{FF5E}]"
)


def re2_to_python(pattern: str) -> str:
    """Translate RE2's ``\\x{HHHH}`` escapes so one screen pattern serves both engines."""
    return re.sub(r"\\x\{([0-9A-Fa-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08X}", pattern)


_MOJIBAKE_PY = re.compile(re2_to_python(_MOJIBAKE_RE2))
_ENTITY_RE2 = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_ENTITY_PY = re.compile(_ENTITY_RE2)

_INVISIBLE = "\u200b\u2060\ufeff\u00ad\u180e"
_CONTROL = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0E, *range(0x0F, 0x20), 0x7F])
_CONTROL += "".join(chr(c) for c in range(0x80, 0xA0))

_DELETE_TABLE = str.maketrans("", "", _INVISIBLE + _CONTROL.replace("\x85", ""))
_INVISIBLE_RE2 = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in _INVISIBLE) + "]"
_CONTROL_RE2 = r"[\x{0000}-\x{0008}\x{000E}-\x{001F}\x{007F}-\x{009F}]"

_FTFY_CONFIG = ftfy.TextFixerConfig(
    uncurl_quotes=False, unescape_html=False, fix_line_breaks=False, explain=False
)


@cache
def _protect_pattern(pack: RulePack) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in pack.settings.get("protect", [])))


def screen(texts: pa.ChunkedArray | pa.Array, pattern: str) -> np.ndarray:
    """Vectorized RE2 search over a text column; null counts as no match."""
    hits = pc.match_substring_regex(texts, pattern)
    return pc.fill_null(hits, False).to_numpy(zero_copy_only=False)


# --------------------------------------------------------------------------- unicode repairs


def _diff_span(before: str, after: str) -> tuple[str, str]:
    """Smallest differing middle of two strings, widened to whole tokens."""
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    b_start, b_end = word_context(before, prefix, len(before) - suffix)
    a_start, a_end = word_context(after, prefix, len(after) - suffix)
    return before[b_start:b_end], after[a_start:a_end]


def fix_mojibake(text: str, doc_id: str, log: EditLog) -> str:
    """Run ftfy on the lines that look like mojibake; one edit row per repaired line."""
    lines = text.split("\n")
    changed = False
    for i, line in enumerate(lines):
        if not _MOJIBAKE_PY.search(line):
            continue
        fixed = ftfy.fix_text(line, _FTFY_CONFIG)
        if fixed != line:
            before, after = _diff_span(line, fixed)
            log.add(doc_id, "unicode.mojibake/1", before, after)
            lines[i] = fixed
            changed = True
    return "\n".join(lines) if changed else text


def unescape_entities(text: str, doc_id: str, log: EditLog) -> str:
    """Unescape ``&name;`` entities until none is left (double escaping is common)."""
    counts: Counter[tuple[str, str]] = Counter()

    def _replace(match: re.Match[str]) -> str:
        entity = match.group(0)
        plain = html.unescape(entity)
        if plain != entity:
            counts[(entity, plain)] += 1
        return plain

    while True:
        new = _ENTITY_PY.sub(_replace, text)
        if new == text:
            break
        text = new
    for (entity, plain), n in sorted(counts.items()):
        log.add(doc_id, "unicode.html-entity/1", entity, plain, n)
    return text


def _describe_chars(removed: str) -> str:
    return ",".join(f"U+{ord(c):04X}" for c in sorted(set(removed)))


def strip_invisibles(text: str, doc_id: str, log: EditLog) -> str:
    """Delete zero-width and control characters; one counted row per rule and document."""
    cleaned = text.translate(_DELETE_TABLE)
    if cleaned == text:
        return text
    invisible = [c for c in text if c in _INVISIBLE]
    control = [c for c in text if c in _CONTROL and c != "\x85"]
    if invisible:
        log.add(
            doc_id, "unicode.invisible/1", _describe_chars("".join(invisible)), "", len(invisible)
        )
    if control:
        log.add(doc_id, "unicode.control/1", _describe_chars("".join(control)), "", len(control))
    return cleaned


def to_nfc(text: str, doc_id: str, log: EditLog) -> str:
    if unicodedata.is_normalized("NFC", text):
        return text
    fixed = unicodedata.normalize("NFC", text)
    log.add(doc_id, "unicode.nfc/1", None, None, 1)
    return fixed


# --------------------------------------------------------------------------- whitespace


def paragraphs_of(text: str) -> list[str]:
    """Every non-empty line is a paragraph; runs of any Unicode whitespace become one space.

    ``" ".join(line.split())`` is the fastest collapse Python has (C loops, no regex), and it
    already treats NBSP, thin, ideographic and other exotic spaces as spaces.
    """
    out = []
    for line in text.split("\n"):
        collapsed = " ".join(line.split())
        if collapsed:
            out.append(collapsed)
    return out


_LINE_BREAKS = ("\x0b", "\x0c", "\x85", "\u2028", "\u2029")


def normalize_whitespace(text: str, doc_id: str, log: EditLog) -> str:
    """Plain single spaces, stripped lines, exactly one blank line between paragraphs."""
    source = text
    for mark in _LINE_BREAKS:
        if mark in text:
            text = text.replace(mark, "\n")
    result = "\n\n".join(paragraphs_of(text))
    if result != source:
        changed = sum(1 for line in source.split("\n") if line and " ".join(line.split()) != line)
        log.add(doc_id, "whitespace.collapse/1", None, None, max(changed, 1))
    return result


# --------------------------------------------------------------------------- glued text, URLs


def protected_spans(text: str, pack: RulePack) -> tuple[list[int], list[int]]:
    """Starts and ends of the URLs, e-mails, handles and domain names in ``text`` (sorted,
    non-overlapping), for O(log n) containment checks."""
    spans = [m.span() for m in _protect_pattern(pack).finditer(text)]
    return [s for s, _ in spans], [e for _, e in spans]


def _inside(pos: int, spans: tuple[list[int], list[int]]) -> bool:
    starts, ends = spans
    i = bisect_right(starts, pos) - 1
    return i >= 0 and starts[i] < pos < ends[i]


def insert_spaces(text: str, rule: Rule, doc_id: str, log: EditLog, pack: RulePack) -> str:
    """Insert a space at every match of ``rule`` outside URLs, e-mails and domain names.

    Protected spans are found once per document and looked up by bisection, and the result
    is assembled in one pass: linear in the text, whatever it holds.
    """
    pieces: list[str] = []
    last = 0
    spans: tuple[list[int], list[int]] | None = None
    for match in rule.compiled().finditer(text):
        pos = match.start()
        spans = spans or protected_spans(text, pack)
        if _inside(pos, spans):
            continue
        start, end = word_context(text, pos, pos)
        pieces += [text[last:pos], " "]
        last = pos
        log.add(doc_id, rule.id, text[start:end], f"{text[start:pos]} {text[pos:end]}")
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def rejoin_urls(text: str, rule: Rule, doc_id: str, log: EditLog) -> str:
    """Join the fragments of a URL split by stray spaces (all of them, in one pass)."""

    def join(match: re.Match[str]) -> str:
        joined = match.group(1) + match.group(2).replace(" ", "")
        log.add(doc_id, rule.id, match.group(0), joined)
        return joined

    return rule.compiled().sub(join, text)


# --------------------------------------------------------------------------- batch functions


_CHARACTER_SCREEN = "|".join((_ENTITY_RE2, _MOJIBAKE_RE2, _INVISIBLE_RE2, _CONTROL_RE2))
_CHARACTER_REPAIRS: list[tuple[re.Pattern[str], Callable[[str, str, EditLog], str]]] = [
    (_ENTITY_PY, unescape_entities),
    (_MOJIBAKE_PY, fix_mojibake),
    (re.compile(re2_to_python(_INVISIBLE_RE2 + "|" + _CONTROL_RE2)), strip_invisibles),
]


_CHARACTER_PY = re.compile(re2_to_python(_CHARACTER_SCREEN))


def repair_characters(text: str, doc_id: str, log: EditLog) -> str:
    """Entities, mojibake, invisibles and controls, then whitespace, until nothing changes.

    One pass is not always a fixed point: removing a control character or collapsing a space
    can bring two mojibake halves together (ftfy reads some spaces as mangled NBSPs), and
    ftfy itself may need a second pass. Three passes are the most real text needs.
    """
    for _ in range(3):
        before = text
        for pattern, repair in _CHARACTER_REPAIRS:
            if pattern.search(text):
                text = repair(text, doc_id, log)
        text = normalize_whitespace(to_nfc(text, doc_id, log), doc_id, log)
        if text == before:
            break
    return text


def normalize_title(title: str, doc_id: str, log: EditLog) -> str:
    """Titles are one line: the same character repairs as the text (each one an edit row with
    the whole title before and after), then newlines and space runs collapse."""
    if _CHARACTER_PY.search(title):
        title = repair_characters(title, doc_id, log)
    return " ".join(title.split())


def _glue_steps(pack: RulePack) -> list[tuple[str, Callable[[str, str, EditLog], str]]]:
    """(RE2 screen, per-document repair) for the rules that run on normalized whitespace."""
    steps: list[tuple[str, Callable[[str, str, EditLog], str]]] = []
    for rule in pack.by_kind("insert-space"):
        steps.append((rule.screen, lambda t, d, lg, r=rule: insert_spaces(t, r, d, lg, pack)))
    for rule in pack.by_kind("url-rejoin"):
        steps.append((rule.screen, lambda t, d, lg, r=rule: rejoin_urls(t, r, d, lg)))
    return steps


def normalize_batch(batch: pa.Table, pack: RulePack | None = None) -> StageResult:
    """Character-level repairs of ``text``, ``title`` and ``url`` of every document."""
    pack = pack or normalize_pack()
    log = EditLog(STAGE)
    doc_ids = batch.column("doc_id").to_pylist()
    texts = batch.column("text").to_pylist()
    for i, text in enumerate(texts):
        if text is not None:
            texts[i] = normalize_whitespace(to_nfc(text, doc_ids[i], log), doc_ids[i], log)
    # Screen after whitespace: ftfy reads some spaces as mangled NBSPs, so it must see the
    # final spacing (and repair_characters normalizes whitespace again after each pass).
    for i in np.flatnonzero(screen(pa.array(texts, pa.string()), _CHARACTER_SCREEN)):
        texts[i] = repair_characters(texts[i], doc_ids[i], log)
    spaced = pa.array(texts, pa.string())
    for pattern, repair in _glue_steps(pack):
        for i in np.flatnonzero(screen(spaced, pattern)):
            texts[i] = repair(texts[i], doc_ids[i], log)
    titles = batch.column("title").to_pylist()
    urls = batch.column("url").to_pylist()
    (url_rule,) = pack.by_kind("url-rejoin")
    for i, doc_id in enumerate(doc_ids):
        if titles[i]:
            titles[i] = normalize_title(titles[i], doc_id, log) or None  # blank: no title
        if urls[i]:
            urls[i] = rejoin_urls(urls[i].strip(), url_rule, doc_id, log)
    table = replace_column(batch, "text", texts)
    table = replace_column(table, "title", titles)
    table = replace_column(table, "url", urls)
    return StageResult(table, log.to_table())


# --------------------------------------------------------------------------- reflow


@dataclass(frozen=True)
class ReflowParams:
    terminal: frozenset[str]
    function_words: frozenset[str]
    min_words: int
    min_words_function_word: int

    @classmethod
    def from_rule(cls, rule: Rule) -> ReflowParams:
        p = rule.params
        return cls(
            terminal=frozenset(p["terminal"]),
            function_words=frozenset(p["function_words"]),
            min_words=int(p["min_words"]),
            min_words_function_word=int(p["min_words_function_word"]),
        )


_NOT_PROSE = re.compile(r"^(?:https?://|www\.|@|#)|^[\d\s.,:;%$€£/+-]+$")


def _looks_like_prose_break(current: str, following: str, params: ReflowParams) -> bool:
    """Guards shared by both join conditions: the first part must stop inside a sentence (on
    a letter or comma, not a figure, symbol or ALL-CAPS heading) and neither part may be a
    URL, handle or figure line, or a separator like "xxxxxxxx"."""
    last, first_word = current[-1], following.split(" ", 1)[0]
    last_word = current.rsplit(" ", 1)[-1]
    return (
        not _NOT_PROSE.search(last_word)
        and (last.isalpha() or last == ",")
        and last not in params.terminal
        and current.upper() != current
        and len(set(first_word.lower())) > 1
        and not _NOT_PROSE.search(current)
        and not _NOT_PROSE.search(following)
    )


def _should_join(current: str, following: str, params: ReflowParams) -> bool:
    if not _looks_like_prose_break(current, following, params):
        return False
    words = current.split()
    if following[0].islower() and len(words) >= params.min_words:
        return True
    return (
        words[-1].lower() in params.function_words and len(words) >= params.min_words_function_word
    )


def _tail(text: str, words: int = 3) -> str:
    return " ".join(text.split(" ")[-words:])


def _head(text: str, words: int = 3) -> str:
    return " ".join(text.split(" ")[:words])


def reflow_text(text: str, rule: Rule, params: ReflowParams, doc_id: str, log: EditLog) -> str:
    """Join paragraphs broken mid-sentence, left to right so chains of breaks join in one pass."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) < 2:
        return text
    out = [paragraphs[0]]
    for following in paragraphs[1:]:
        current = out[-1]
        if current and following and _should_join(current, following, params):
            log.add(
                doc_id,
                rule.id,
                f"{_tail(current)}\n\n{_head(following)}",
                f"{_tail(current)} {_head(following)}",
            )
            joined = f"{current} {following}"
            if _CHARACTER_PY.search(joined):  # the join may bring two mojibake halves together
                joined = repair_characters(joined, doc_id, log)
            out[-1] = joined
        else:
            out.append(following)
    return "\n\n".join(out)


def reflow_batch(batch: pa.Table, pack: RulePack | None = None) -> StageResult:
    """Join paragraphs broken mid-sentence (runs after boilerplate removal)."""
    pack = pack or normalize_pack()
    rule = pack.by_kind("reflow")[0]
    params = ReflowParams.from_rule(rule)
    log = EditLog(REFLOW_STAGE)
    doc_ids = batch.column("doc_id").to_pylist()
    texts = batch.column("text").to_pylist()
    for i, text in enumerate(texts):
        if text:
            texts[i] = reflow_text(text, rule, params, doc_ids[i], log)
    return StageResult(replace_column(batch, "text", texts), log.to_table())
