"""Which paragraphs of a batch a set of Python ``re`` rules may match, found by RE2 in C.

The boilerplate rules match whole paragraphs from their start. Trying them in Python costs a
loop step and a combined-alternation call per paragraph, although most paragraphs match
nothing (one 27 MB unit: the stage took 1.89 s without this screen and 1.17 s with it).
Here the batch's paragraphs are split in Arrow and one anchored RE2 alternation of the rules
runs over all of them; Python then tries only the paragraphs it flags. The answers do not
change, because the screen is a superset of what Python's ``re`` can match:

* a rule is screened only if its syntax tree holds nothing whose meaning differs between
  the engines (:func:`screenable`: no ``\\w \\s \\d \\b``, no ``$`` or ``\\Z``, no ``(?m)``,
  no case-folded negated class of letters); any other rule makes the screen flag every
  paragraph. A leading ``(?i)`` folds case in the screen as in the rule;
* a branch is anchored at the start only, so a prefix match stands for Python's
  ``fullmatch`` as well as its ``match``;
* ignore-case: Python's ``re`` equates a few characters with ASCII letters that RE2's case
  folding does not (:data:`CASE_GAPS`, found by a test over every code point); a paragraph
  holding one is flagged whatever the rules say.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from re import _constants as sre
from re import _parser as sre_parser
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.stages.normalize import screen

#: Characters Python's ignore-case matching equates with other characters (``İ`` and ``ı``
#: with ``i``/``I``) where RE2's case folding does not. ``tests/test_paragraph_screen.py``
#: derives them from every code point of both engines and fails if this list misses one.
CASE_GAPS = "\u0130\u0131"

_SEPARATOR = "\n\n"
_PLAIN = {sre.LITERAL, sre.ANY}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT}
_STARTS = {sre.AT_BEGINNING, sre.AT_BEGINNING_STRING}


def _cased(code: int) -> bool:
    char = chr(code)
    return char.lower() != char or char.upper() != char or char in CASE_GAPS


def _class_is_safe(items: list[tuple[Any, Any]], ignore_case: bool) -> bool:
    """A ``[...]`` class means the same in both engines: no category (``\\w``, ``\\d``...),
    and, when case is ignored, a negated class holds no letter that has another case."""
    if any(op is sre.CATEGORY for op, _ in items):
        return False
    if not ignore_case or not any(op is sre.NEGATE for op, _ in items):
        return True
    for op, value in items:
        if op is sre.LITERAL and _cased(value):
            return False
        if op is sre.RANGE and any(_cased(c) for c in range(value[0], value[1] + 1)):
            return False
    return True


def _tree_is_safe(items: Sequence[tuple[Any, Any]], ignore_case: bool) -> bool:
    for op, value in items:
        if op in _PLAIN:
            continue
        if op is sre.NOT_LITERAL:
            if ignore_case and _cased(value):
                return False
        elif op is sre.IN:
            if not _class_is_safe(value, ignore_case):
                return False
        elif op is sre.BRANCH:
            if not all(_tree_is_safe(branch, ignore_case) for branch in value[1]):
                return False
        elif op is sre.SUBPATTERN:
            _group, add_flags, del_flags, body = value
            if (add_flags | del_flags) & re.MULTILINE:
                return False  # a scoped (?m:...) makes ^ match after line breaks
            inner = bool(
                (ignore_case or add_flags & re.IGNORECASE) and not del_flags & re.IGNORECASE
            )
            if not _tree_is_safe(body, inner):
                return False
        elif op in _REPEATS:
            if not _tree_is_safe(value[2], ignore_case):
                return False
        elif op is not sre.AT or value not in _STARTS:
            return False  # \b, $, \Z, look-arounds, back-references: not screened
    return True


def _parse(pattern: str, ignore_case: bool) -> tuple[Any, bool, int]:
    """The pattern's syntax tree, whether it ignores case (the rule's flag or a leading
    ``(?i)``, which Python's parser keeps as a global flag, not as a group), its flags."""
    tree = sre_parser.parse(pattern, re.IGNORECASE if ignore_case else 0)
    flags = tree.state.flags
    return tree.data, ignore_case or bool(flags & re.IGNORECASE), flags


def screenable(pattern: str, ignore_case: bool) -> bool:
    """Whether RE2 matches every string Python's ``re`` matches with this pattern."""
    if any(c in CASE_GAPS for c in pattern):
        return False
    data, folded, flags = _parse(pattern, ignore_case)
    return not flags & re.MULTILINE and _tree_is_safe(data, folded)


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _class(items: list[tuple[Any, Any]]) -> str:
    negated = any(op is sre.NEGATE for op, _ in items)
    members = "".join(
        _char(value) if op is sre.LITERAL else f"{_char(value[0])}-{_char(value[1])}"
        for op, value in items
        if op is not sre.NEGATE
    )
    return f"[{'^' if negated else ''}{members}]"


def _repeat(low: int, high: int) -> str:
    """A looser quantifier: counted ones (``{0,400}``) would blow up RE2's automaton."""
    if low == high == 1:
        return ""
    if low == 0:
        return "?" if high == 1 else "*"
    return "+"


def _emit(items: Sequence[tuple[Any, Any]]) -> str:
    """RE2 text of a screenable tree that matches at least what the tree matches."""
    out = []
    for op, value in items:
        if op is sre.LITERAL:
            out.append(_char(value))
        elif op is sre.NOT_LITERAL:
            out.append(f"[^{_char(value)}]")
        elif op is sre.ANY:
            out.append("(?s:.)")
        elif op is sre.IN:
            out.append(_class(value))
        elif op is sre.BRANCH:
            out.append("(?:" + "|".join(_emit(branch) for branch in value[1]) + ")")
        elif op is sre.SUBPATTERN:
            _group, add_flags, del_flags, body = value
            flag = "i" if add_flags & re.IGNORECASE else "-i" if del_flags & re.IGNORECASE else ""
            out.append(f"(?{flag}:{_emit(body)})")
        elif op in _REPEATS:
            low, high, body = value
            out.append(f"(?:{_emit(body)}){_repeat(low, high)}")
        else:  # a start anchor (the only other node screenable() lets through)
            out.append("^")
    return "".join(out)


def screen_pattern(rules: Sequence[Any]) -> str | None:
    """One anchored RE2 alternation that matches at least every paragraph one of the rules
    (``rule.pattern``, ``rule.ignore_case``) matches from its start, or None when a rule cannot
    be screened (then every paragraph may match). It is rebuilt from each pattern's syntax
    tree with counted repetitions loosened (``{0,400}`` → ``*``) and no named groups."""
    return _screen_of(tuple((rule.pattern, rule.ignore_case) for rule in rules))


@functools.lru_cache(maxsize=64)
def _screen_of(patterns: tuple[tuple[str, bool], ...]) -> str | None:
    """:func:`screen_pattern` of these (pattern, ignore case) pairs, built once per process:
    parsing every rule's syntax tree took 0.25-0.33 s, and a run builds the boilerplate stage
    several times (the chain's check, the articles' schema, the run's versions, each worker)."""
    branches = []
    for pattern, ignore_case in patterns:
        if not screenable(pattern, ignore_case):
            return None
        data, folded, _flags = _parse(pattern, ignore_case)
        body = _emit(data)
        branches.append(f"(?i:{body})" if folded else f"(?:{body})")
    return "^(?:" + "|".join(branches) + ")" if branches else "^(?!)"


class BatchParagraphs:
    """The ``"\\n\\n"`` paragraphs of a batch's texts, split once in Arrow."""

    def __init__(self, texts: pa.ChunkedArray | pa.Array) -> None:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        lists = pc.split_pattern(texts, _SEPARATOR)
        self.offsets = np.asarray(lists.offsets)
        self.flat = lists.values
        self._gaps = screen(self.flat, f"[{CASE_GAPS}]")

    def count(self, row: int) -> int:
        """Paragraphs of text ``row`` as Arrow split it (0 for a null text)."""
        return int(self.offsets[row + 1] - self.offsets[row])

    def candidates(
        self, pattern: str | None, suffixes: Sequence[str] = ()
    ) -> list[list[int]] | None:
        """Per text, the indices of the paragraphs that match ``pattern`` or end in one of
        ``suffixes`` (or hold a :data:`CASE_GAPS` character); None: every paragraph."""
        if pattern is None:
            return None
        mask = screen(self.flat, pattern) | self._gaps
        for suffix in suffixes:
            mask |= np.asarray(pc.fill_null(pc.ends_with(self.flat, suffix), False), dtype=bool)
        rows = len(self.offsets) - 1
        found: list[list[int]] = [[] for _ in range(rows)]
        hits = np.flatnonzero(mask)
        owners = np.searchsorted(self.offsets, hits, side="right") - 1
        for row, local in zip(owners.tolist(), (hits - self.offsets[owners]).tolist(), strict=True):
            found[row].append(local)
        return found
