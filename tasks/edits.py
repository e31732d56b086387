"""The audit trail: every removal, insertion, join and word change becomes one row.

Stages append to an :class:`EditLog` while they work on a batch and hand back
``log.to_table()``; the writer publishes the rows to ``data/clean/edits/``.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import pyarrow as pa

from tasks.schema import EDIT_SCHEMA

SNIPPET_CHARS = 2000
"""Longest ``before``/``after`` kept in an edit row; longer ones are cut with an ellipsis so a
removed multi-megabyte blob cannot bloat the audit table."""


def _clip(value: str | None) -> str | None:
    if value is None or len(value) <= SNIPPET_CHARS:
        return value
    return value[: SNIPPET_CHARS - 1] + "…"


class EditLog:
    """Column-wise accumulator of edit rows for one stage over one batch."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._doc_ids: list[str] = []
        self._rules: list[str] = []
        self._befores: list[str | None] = []
        self._afters: list[str | None] = []
        self._counts: list[int] = []
        self._publishers: list[str | None] = []

    def add(
        self,
        doc_id: str,
        rule: str,
        before: str | None,
        after: str | None,
        count: int = 1,
        publisher: str | None = None,
    ) -> None:
        """Record one edit (``count`` > 1 only for counted whitespace-style rows;
        ``publisher`` only for rules learned per publisher)."""
        self._doc_ids.append(doc_id)
        self._rules.append(rule)
        self._befores.append(_clip(before))
        self._afters.append(_clip(after))
        self._counts.append(count)
        self._publishers.append(publisher)

    def __len__(self) -> int:
        return len(self._doc_ids)

    def per_doc(self) -> Counter[str]:
        """Number of edit rows per document (what ``n_edits`` counts)."""
        return Counter(self._doc_ids)

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "doc_id": self._doc_ids,
                "stage": [self.stage] * len(self._doc_ids),
                "rule": self._rules,
                "before": self._befores,
                "after": self._afters,
                "count": pa.array(self._counts, pa.int32()),
                "publisher": pa.array(self._publishers, pa.string()),
            },
            schema=EDIT_SCHEMA,
        )


def empty_edits() -> pa.Table:
    return EDIT_SCHEMA.empty_table()


class StageResult(NamedTuple):
    """What every stage function returns: the new batch and the edits that made it."""

    table: pa.Table
    edits: pa.Table


def word_context(text: str, start: int, end: int, limit: int = 80) -> tuple[int, int]:
    """Widen ``text[start:end]`` to whole space-delimited tokens, for readable before/after.

    At most ``limit`` characters are added on each side, so a giant token (a run of text
    without spaces) cannot make every edit, and every protection check, quadratic.
    """
    floor = max(0, start - limit)
    left = max(text.rfind(" ", floor, start), text.rfind("\n", floor, start))
    left = left + 1 if left >= 0 else floor
    ceiling = min(len(text), end + limit)
    stops = [i for i in (text.find(" ", end, ceiling), text.find("\n", end, ceiling)) if i != -1]
    return left, min(stops) if stops else ceiling
