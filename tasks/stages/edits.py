"""The audit trail: every removal, insertion, join and word change becomes one row.

Stages append to an :class:`EditLog` while they work on a batch and hand back
``log.to_table()``; the runner collects the rows and the writer publishes them to
``data/clean/edits/``.

Each row carries the span ``[start, end)`` it replaced in the text *the stage received* (its
``field``: ``text``, ``title`` or ``url``), so that an edit can be replayed and a report can
highlight it without searching: ``text[start:end]`` is ``before`` (unless ``before`` was cut at
:data:`SNIPPET_CHARS`), and applying a stage's rows right to left turns its input into its
output. A stage that applies several rules one after another keeps its spans in its input's
coordinates with a :class:`Shifts` map.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from newsclean.tasks.schema import EDIT_SCHEMA

SNIPPET_CHARS = 2000
"""Longest ``before``/``after`` kept in an edit row; longer ones are cut with an ellipsis so a
removed multi-megabyte blob cannot bloat the audit table (``end - start`` stays exact)."""


def _clip(value: str | None) -> str | None:
    if value is None or len(value) <= SNIPPET_CHARS:
        return value
    return value[: SNIPPET_CHARS - 1] + "…"


class EditLog:
    """Column-wise accumulator of edit rows for one stage over one batch."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._columns: dict[str, list] = {name: [] for name in EDIT_SCHEMA.names}

    def add(
        self,
        doc_id: str,
        rule: str,
        before: str | None,
        after: str | None,
        count: int = 1,
        publisher: str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        field: str = "text",
        model_version: int | None = None,
    ) -> None:
        """Record one edit: ``before`` replaced by ``after`` at ``[start, end)`` of ``field``.

        ``count`` > 1 only for counted document-wide rows (no span); ``publisher`` and
        ``model_version`` only for rules learned per publisher."""
        row = self._columns
        row["doc_id"].append(doc_id)
        row["stage"].append(self.stage)
        row["rule"].append(rule)
        row["before"].append(_clip(before))
        row["after"].append(_clip(after))
        row["count"].append(count)
        row["publisher"].append(publisher)
        row["field"].append(field)
        row["start"].append(start)
        row["end"].append(end)
        row["model_version"].append(model_version)

    def __len__(self) -> int:
        return len(self._columns["doc_id"])

    def per_doc(self) -> Counter[str]:
        """Number of edit rows per document (what ``n_edits`` counts)."""
        return Counter(self._columns["doc_id"])

    def to_table(self) -> pa.Table:
        return pa.table(self._columns, schema=EDIT_SCHEMA)


def empty_edits() -> pa.Table:
    return EDIT_SCHEMA.empty_table()


class Shifts:
    """Positions in a text after some replacements, mapped back to the text before them.

    A stage that runs rule after rule over the same text records each rule's replacements
    (in the coordinates of the text that rule saw) here; :meth:`to_input` then gives a later
    rule's position in the stage's input. Replacements are added rule by rule, each rule's
    left to right and non-overlapping; a lookup costs a bisection per earlier rule.
    """

    def __init__(self) -> None:
        self._layers: list[tuple[list[int], list[int]]] = []
        self._pending: tuple[list[int], list[int]] = ([], [])

    def replaced(self, start: int, end: int, new_length: int) -> None:
        """``[start, end)`` of the current text became ``new_length`` characters."""
        ends_after, deltas = self._pending
        shift = new_length - (end - start)
        total = (deltas[-1] if deltas else 0) + shift
        ends_after.append(start + new_length + (deltas[-1] if deltas else 0))
        deltas.append(total)

    def next_rule(self) -> None:
        """The rule being recorded is done: later positions are in the text it produced."""
        if self._pending[0]:
            self._layers.append(self._pending)
        self._pending = ([], [])

    def to_input(self, position: int) -> int:
        """A position in the current text (before the pending rule) in the stage's input."""
        for ends_after, deltas in reversed(self._layers):
            i = bisect_right(ends_after, position) - 1
            if i >= 0:
                position -= deltas[i]
        return position


def paragraph_spans(
    lengths: list[int], removed: list[bool], rows: list[tuple[int, int, int, int | None]]
) -> list[tuple[int, int]]:
    """Exact spans, in ``"\n\n".join(paragraphs)``, of removals made paragraph by paragraph.

    ``rows`` are ``(first, last, lo, hi)``: one edit took paragraphs ``first..last`` from
    character ``lo`` of ``first`` to character ``hi`` of ``last`` (``None``: to its end);
    ``removed`` says which paragraphs are gone in the end. A removed paragraph takes one
    separator with it, the following one while a kept paragraph follows, else the preceding
    one, so that replaying the rows gives exactly the kept paragraphs joined again.
    """
    starts, position = [], 0
    for length in lengths:
        starts.append(position)
        position += length + 2
    alive_after = [False] * len(lengths)
    for i in range(len(lengths) - 2, -1, -1):
        alive_after[i] = alive_after[i + 1] or not removed[i + 1]
    opened: set[int] = set()
    spans = []
    for first, last, lo, hi in rows:
        start = starts[first] + lo
        end = starts[last] + (lengths[last] if hi is None else hi)
        if hi is None and removed[last] and alive_after[last]:
            end += 2
        first_row = lo == 0 and first not in opened and first > 0
        if first_row and removed[first] and not alive_after[last]:
            start -= 2
        opened.add(first)
        spans.append((start, end))
    return _without_overlaps(spans)


def _without_overlaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans cut so that none starts inside another (a caption taken with a credit line that
    a ``span`` rule had already shortened): every character is attributed to one row."""
    out = list(spans)
    reach = 0
    for k in sorted(range(len(out)), key=lambda k: out[k]):
        start, end = out[k]
        if start < reach:
            start = min(reach, end)
        out[k] = (start, end)
        reach = max(reach, end)
    return out


class StageResult(NamedTuple):
    """What every stage returns: the new batch and the edits that made it; a filter stage
    also says which rows stay (``keep``) and why the others go (``reason``)."""

    table: pa.Table
    edits: pa.Table
    keep: np.ndarray | None = None
    reason: str = ""


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


def compact_edits(edits: pa.Table, doc_ids: pa.Array) -> pa.Table:
    """The edits of ``doc_ids`` (documents a filter dropped: quarantined, left without text)
    as one counted row per document, stage and rule, the others untouched.

    Why: the audit of a dropped document only has to say what emptied it; 200,000 removed
    "GETTY" lines of one junk file must not become 200,000 rows of ``edits/``. The row keeps
    the first ``before``/``after`` as an example and sums ``count``; it has no span (the
    document is not published, so there is nothing to replay).
    """
    import pyarrow.compute as pc

    if edits.num_rows == 0 or len(doc_ids) == 0:
        return edits
    dropped = pc.is_in(edits["doc_id"], value_set=doc_ids)
    if not pc.any(dropped).as_py():
        return edits
    rows = edits.filter(dropped)
    keys = ["doc_id", "stage", "rule"]
    firsts = ["before", "after", "publisher", "field", "model_version"]
    grouped = rows.group_by(keys, use_threads=False).aggregate(
        [("count", "sum"), *[(name, "first") for name in firsts]]
    )
    compact = pa.table(
        {
            **{name: grouped[name] for name in keys},
            **{name: grouped[f"{name}_first"] for name in ("before", "after")},
            "count": pc.cast(grouped["count_sum"], pa.int32()),
            **{name: grouped[f"{name}_first"] for name in ("publisher", "field")},
            "start": pa.nulls(grouped.num_rows, pa.int64()),
            "end": pa.nulls(grouped.num_rows, pa.int64()),
            "model_version": grouped["model_version_first"],
        }
    )
    return pa.concat_tables([edits.filter(pc.invert(dropped)), compact.cast(EDIT_SCHEMA)])
