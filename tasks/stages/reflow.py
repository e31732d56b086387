"""Reflow stage: paragraphs broken mid-sentence are joined.

Runs after boilerplate removal, once the captions and credits that often sit between the two
halves of a sentence are gone ("…but also" / GETTY / caption / "across the North Atlantic.").
The rule (``paragraph.join-broken`` in ``rules/normalize.toml``) joins when the first part
stops inside a sentence and the next starts lower-case, or the first ends in a function word.

Each join is one row whose span covers the last words before the break and the first words
after it in the stage's input (cut at the previous join, so rows never overlap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from newsclean.tasks.rules import Rule, RulePack, normalize_pack
from newsclean.tasks.schema import replace_rows
from newsclean.tasks.stages.base import BatchContext, Stage, register
from newsclean.tasks.stages.edits import EditLog, StageResult
from newsclean.tasks.stages.normalize import CHARACTER_PATTERN, repair_characters


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
    last = current[-1]
    if not (last.isalpha() or last == ",") or last in params.terminal:
        return False  # most paragraphs end a sentence: decided without splitting or searching
    first_word = following.split(" ", 1)[0]
    last_word = current.rsplit(" ", 1)[-1]
    return (
        not _NOT_PROSE.search(last_word)
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


def _tail_length(text: str, words: int = 3) -> int:
    """Characters of the last ``words`` space-separated words of ``text``."""
    return len(" ".join(text.split(" ")[-words:]))


def _head_length(text: str, words: int = 3) -> int:
    return len(" ".join(text.split(" ")[:words]))


def reflow_text(text: str, rule: Rule, params: ReflowParams, doc_id: str, log: EditLog) -> str:
    """Join paragraphs broken mid-sentence, left to right so chains of breaks join in one
    pass. Spans are offsets in ``text``: a paragraph's place there is known as it is read."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) < 2:
        return text
    out = [paragraphs[0]]
    position = len(paragraphs[0])  # where the separator before ``following`` starts
    last_end = 0  # the previous row's end: rows never overlap
    for following in paragraphs[1:]:
        current = out[-1]
        if current and following and _should_join(current, following, params):
            start = max(position - _tail_length(current), last_end)
            end = position + 2 + _head_length(following)
            log.add(
                doc_id,
                rule.id,
                text[start:end],
                f"{text[start:position]} {text[position + 2 : end]}",
                start=start,
                end=end,
            )
            last_end = end
            joined = f"{current} {following}"
            if CHARACTER_PATTERN.search(joined):  # the join may bring mojibake halves together
                joined = repair_characters(joined, doc_id, log)
            out[-1] = joined
        else:
            out.append(following)
        position += 2 + len(following)
    return "\n\n".join(out)


@register
class ReflowStage(Stage):
    """Paragraphs broken mid-sentence joined (after boilerplate removal)."""

    name = "reflow"
    version = 1
    description = "paragraphs broken mid-sentence are joined"
    reads = ("doc_id", "text")
    writes = ("text",)

    def __init__(self, pack: RulePack | None = None) -> None:
        self.pack = pack or normalize_pack()
        self.rule = self.pack.get("paragraph.join-broken")
        self.params = ReflowParams.from_rule(self.rule)

    def resources(self) -> dict[str, str]:
        return {"rules:normalize": self.pack.version}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        log = EditLog(self.name)
        doc_ids = batch.column("doc_id").to_pylist()
        texts = batch.column("text").to_pylist()
        rows, joined = [], []
        for i, text in enumerate(texts):
            if text:
                after = reflow_text(text, self.rule, self.params, doc_ids[i], log)
                if after is not text and after != text:  # only changed texts go back to Arrow
                    rows.append(i)
                    joined.append(after)
        table = replace_rows(batch, "text", np.asarray(rows, np.int64), joined)
        return StageResult(table, log.to_table())
