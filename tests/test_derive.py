"""Derive stage: its columns follow the text exactly as the per-document Python did."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest

from newsclean.tasks.stages.derive import (
    _ASCII_NOISE,
    _UNICODE_NOISE,
    content_hashes,
    fold_for_hash,
    word_counts,
)
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


def _fold_as_before(text: str) -> bytes:
    """The fold as it was defined before the ASCII path (the hashes in published datasets
    and dedup indexes were made with it): lower-case the whole text, then delete."""
    text = text.lower()
    for mark in _UNICODE_NOISE:
        text = text.replace(mark, "")
    return text.encode("utf-8", "surrogatepass").translate(None, _ASCII_NOISE)


def test_the_fold_is_unchanged_for_every_character_and_real_articles() -> None:
    """Every character next to ASCII, a capital sigma (whose lower case depends on what
    follows it) and the noise marks, and real articles: the hash a dataset holds must not
    change, or exact dedup against earlier runs would miss every copy."""
    characters = _every_character()
    blocks = [characters[i : i + 256] for i in range(0, len(characters), 256)]
    contexts = ("A{c}b ", "ΟΔΟΣ{c}Α ", "x{c}—Y’s ")
    texts = ["".join(form.format(c=ch) for ch in block) for block in blocks for form in contexts]
    # the ASCII path: every ASCII character beside every noise mark, a text each
    texts += [f"A{ch}{mark}b" for ch in characters[:128] for mark in _UNICODE_NOISE]
    title, _, body = parse_txt(decode_bytes(REFERENCE.read_bytes()))
    texts += [body, title, *FAKENEWS.read_text(encoding="utf-8")[:300_000].split("\n")]
    wrong = [t for t in texts if fold_for_hash(t) != _fold_as_before(t)]
    assert not wrong, f"folded unlike before: {wrong[:5]!r}"


def test_the_ascii_path_folds_what_the_unicode_path_folds() -> None:
    # curly quotes and dashes go; case, spaces and punctuation fold; letters and digits stay
    assert fold_for_hash("“Shares FELL 3%” – he said…") == b"sharesfell3hesaid"
    assert fold_for_hash("ΟΔΟΣ–Α") == "οδοςα".encode()  # final sigma before the dash: ς
    assert fold_for_hash("ΟΔΟΣΑ") == "οδοσα".encode()
    assert fold_for_hash("Café “Noir”") == "cafénoir".encode()
    hashes = content_hashes(["The “Bank” rose.", "the bank rose", "The Bank rose 1%", None])
    assert hashes[0] == hashes[1] != hashes[2] and hashes[3].as_py() is None
