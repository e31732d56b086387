"""Derive stage: its columns follow the text exactly as the per-document Python did."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest

from newsclean.tasks.stages.derive import word_counts
from newsclean.tasks.storage.ingest import decode_bytes, parse_txt
from tests.helpers import FAKENEWS, REFERENCE

pytestmark = pytest.mark.unit


def _every_character() -> list[str]:
    return [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]


def test_word_counts_split_at_exactly_what_str_split_splits_at() -> None:
    """Every Unicode character between words, alone, doubled at both ends: the byte-level
    count must equal ``len(text.split())`` for each (U+001C-U+001F, NBSP, U+2000-U+200A,
    U+3000 split; U+200B, curly quotes and dashes do not)."""
    texts = [
        variant
        for ch in _every_character()
        for variant in (f"a{ch}b", ch, f"{ch}{ch}x{ch}y{ch}", f"é{ch}€")
    ]
    got = word_counts(pa.array(texts)).to_numpy()
    want = np.array([len(t.split()) for t in texts])
    wrong = [texts[i] for i in np.flatnonzero(got != want)[:5]]
    assert not wrong, f"counted unlike str.split: {wrong!r}"


def test_word_counts_of_real_articles_nulls_and_slices() -> None:
    title, _, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    fakenews = FAKENEWS.read_text(encoding="utf-8")[:200_000].split("\n")
    texts = [body, title, None, "", "  \n\t ", *fakenews]
    assert word_counts(pa.array(texts)).to_pylist() == [
        0 if t is None else len(t.split()) for t in texts
    ]
    chunked = pa.chunked_array([pa.array(texts[:3]), pa.array(texts[3:])])
    assert word_counts(chunked).to_pylist() == word_counts(pa.array(texts)).to_pylist()
    sliced = pa.array(texts).slice(1, 4)  # an offset into shared buffers
    assert word_counts(sliced).to_pylist() == [len(title.split()), 0, 0, 0]
    assert word_counts(pa.array([], pa.string())).to_pylist() == []
