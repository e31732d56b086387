"""MinHash sketches of clean texts, vectorized over a whole batch (numpy + Arrow).

Why not a per-document loop (datasketch's ``MinHash.update``): a batch of 1,000 news articles
has about 400,000 shingles; hashing them one call at a time costs seconds, while one numpy
expression over the batch costs tens of milliseconds. The sketch is the standard one:

* **tokens**: lower-cased maximal runs of Unicode letters and digits (RE2 ``[\\pL\\pN]+`` in
  Arrow); each distinct token is hashed once per batch (BLAKE2b-64, cached per unique token);
* **shingles**: every run of ``k`` consecutive tokens (a text shorter than ``k`` tokens is one
  shingle), combined into one 64-bit value with a multiply-add and a final avalanche mix;
* **signature** (``hashing`` of ``dedup.near-minhash``), ``P`` 32-bit values per document:
  ``one-permutation`` (/3, :func:`one_permutation_signatures`): each shingle is hashed once
  with the seed and falls into one of ``P`` bins, and each bin keeps its minimum; empty bins
  borrow from a fixed probe sequence of other bins (optimal densification, Shrivastava
  2017). ``k-permutations`` (/1, /2, :func:`signatures`): for each of ``P`` permutations
  ``h_i(x) = a_i·x + b_i mod 2^64`` (``a_i`` odd, from a fixed seed), the minimum over the
  document's shingles, top 32 bits kept — ``P`` multiply-adds per shingle instead of one;
* **bands**: the signature cut into ``b`` bands of ``r`` rows, each hashed to 64 bits, for LSH;
* **number fingerprint**: for every number token, a hash of its context (``w`` words either
  side, numbers masked) and a hash of its value, so that reports that differ only in their
  figures can be told apart (:func:`numbers_conflict`).

Everything is deterministic: the same text gives the same sketch in every run and process.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.stages.base import BatchContext, NewColumn, RunInputs, Stage, register
from newsclean.tasks.stages.dedup_keys import KeyRules, candidate_key_texts, key_rules
from newsclean.tasks.stages.edits import StageResult, empty_edits

_MIX = np.uint64(0x9E3779B97F4A7C15)
_AVALANCHE = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_EDGE = np.uint64(0x5BD1E9955BD1E995)  # "no word here" in a number's context
_NUMBER = np.uint64(0x27D4EB2F165667C5)  # any number, inside a number's context
_CHUNK_SHINGLES = 8_192  # columns of the (permutations x shingles) matrix per step: 8 MB
_TOKEN_CACHE_MAX = 500_000
_token_cache: dict[str, int] = {}


@dataclass(frozen=True)
class NearDupConfig:
    """Parameters of near-duplicate detection: ``dedup.near-minhash`` and
    ``dedup.keep-policy`` in rules/dedup.toml (:func:`default_config`; no defaults here)."""

    rule_id: str
    shingle_words: int
    permutations: int
    threshold: float
    band_rows: int
    candidate_recall: float
    max_bucket_pairs: int
    seed: int
    numbers_must_match: bool
    number_context_words: int
    keep_policy: tuple[str, ...]
    #: The URL and headline candidate keys (``dedup.url-key``, ``dedup.title-key``).
    keys: KeyRules
    #: ``dedup.near-exact``: candidate pairs whose estimate falls at most this far under the
    #: threshold are decided on their true Jaccard similarity (0: never).
    exact_margin: float
    #: How the signature is computed: a key of :data:`SIGNATURE_SCHEMES`.
    hashing: str

    @property
    def rows(self) -> int:
        """Rows per LSH band (chosen from threshold and ``candidate_recall`` when 0)."""
        return self.band_rows or choose_band_rows(
            self.threshold, self.permutations, self.candidate_recall
        )

    @property
    def bands(self) -> int:
        return self.permutations // self.rows

    @property
    def sketch_id(self) -> str:
        """What a stored signature depends on: sketches with another id are not comparable."""
        return (
            f"{self.rule_id};k={self.shingle_words};p={self.permutations};seed={self.seed};"
            f"r={self.rows};w={self.number_context_words};keys={self.keys.key_id};"
            f"h={self.hashing}"
        )

    def with_overrides(self, **overrides: object) -> NearDupConfig:
        known = {k: v for k, v in overrides.items() if v is not None}
        if "keep_policy" in known:
            known["keep_policy"] = tuple(known["keep_policy"])  # type: ignore[arg-type]
        return NearDupConfig(**{**self.__dict__, **known})


@cache
def default_config() -> NearDupConfig:
    """The near-dup settings of the shipped dedup pack."""
    return config_from_pack(pack("dedup"))


def config_from_pack(dedup: RulePack) -> NearDupConfig:
    """The near-dup settings of a dedup pack: its newest ``dedup.near-minhash`` and
    ``dedup.keep-policy``, whatever their versions."""
    rule = dedup.get("dedup.near-minhash")
    fields = NearDupConfig.__dataclass_fields__
    params = {k: v for k, v in rule.params.items() if k in fields}
    # /1 and /2 knew one scheme and had no ``hashing``: a pack that still holds them runs.
    params.setdefault("hashing", "k-permutations")
    if params["hashing"] not in SIGNATURE_SCHEMES:
        raise ValueError(
            f"{rule.id}: hashing = {params['hashing']!r} is not one of {sorted(SIGNATURE_SCHEMES)}"
        )
    policy = dedup.get("dedup.keep-policy").params["order"]
    return NearDupConfig(
        rule_id=rule.id,
        keep_policy=tuple(policy),
        keys=key_rules(dedup),
        exact_margin=float(dedup.get("dedup.near-exact").params["margin"]),
        **params,
    )


def choose_band_rows(threshold: float, permutations: int, candidate_recall: float) -> int:
    """The largest band size ``r`` for which a pair exactly at ``threshold`` still becomes an
    LSH candidate with probability ``1 - (1 - t^r)^b >= candidate_recall`` (``b = P // r``)."""
    best = 1
    for rows in range(1, permutations + 1):
        bands = permutations // rows
        if 1 - (1 - threshold**rows) ** bands >= candidate_recall:
            best = rows
    return best


def candidate_probability(similarity: float, rows: int, bands: int) -> float:
    return 1 - (1 - similarity**rows) ** bands


@cache
def permutation_parameters(permutations: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of the hash family: ``a`` odd, both uniform 64-bit, from the fixed seed."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=permutations, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, size=permutations, dtype=np.uint64, endpoint=False)
    return a, b


# --------------------------------------------------------------------------- tokens


def hash64(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def hash_strings(values: pa.Array) -> np.ndarray:
    """64-bit BLAKE2b of each string, each distinct value hashed once (no cross-batch cache:
    for longer strings, such as whole lines, that repeat less than words do)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.uint64)
    encoded = pc.dictionary_encode(values)
    distinct = np.fromiter(map(hash64, encoded.dictionary.to_pylist()), dtype=np.uint64)
    return distinct[np.asarray(encoded.indices, dtype=np.int64)]


def _token_hashes(dictionary: pa.Array) -> np.ndarray:
    """64-bit hash of each distinct token, cached per token across batches (bounded)."""
    if len(_token_cache) > _TOKEN_CACHE_MAX:
        _token_cache.clear()
    cache_get = _token_cache.get
    out = np.empty(len(dictionary), dtype=np.uint64)
    for i, token in enumerate(dictionary.to_pylist()):
        value = cache_get(token)
        if value is None:
            value = _token_cache[token] = hash64(token)
        out[i] = value
    return out


@dataclass
class Tokens:
    """The batch's tokens, flattened: ``offsets[d]:offsets[d+1]`` are document ``d``'s."""

    offsets: np.ndarray  # int64, len = documents + 1
    hashes: np.ndarray  # uint64 per token
    numeric: np.ndarray  # bool per token: contains a digit


#: Bytes that belong to words: ASCII letters and digits, and every byte of a non-ASCII
#: character (so "café" and "Kyiv's" stay whole); everything else separates words.
_WORD_BYTE = np.zeros(256, dtype=bool)
for _lo, _hi in ((48, 57), (65, 90), (97, 122), (128, 255)):
    _WORD_BYTE[_lo : _hi + 1] = True


def _word_bytes(data: np.ndarray) -> np.ndarray:
    """:data:`_WORD_BYTE` of every byte, by comparisons: 3.7 against 14.5 ms for the 3.5 MB
    of 1,000 news articles by a table lookup (numpy's fancy indexing is per element).
    ``| 0x20`` folds ASCII capitals onto small letters; uint8 arithmetic wraps, so one
    comparison tests a range."""
    letter = (data | np.uint8(0x20)) - np.uint8(ord("a")) < 26
    return letter | (data - np.uint8(ord("0")) < 10) | (data >= 128)


#: Second bytes after 0xC2 that make a separator: NBSP, «, », · (U+00A0, AB, BB, B7).
_C2_SEPARATORS = np.zeros(256, dtype=bool)
_C2_SEPARATORS[[0xA0, 0xAB, 0xBB, 0xB7]] = True


def _unicode_separators(data: np.ndarray, word: np.ndarray) -> None:
    """Unmark the bytes of the non-ASCII punctuation news is full of: the General
    Punctuation block U+2000-U+203F (curly quotes, dashes, ellipsis, bullets: E2 80 xx) and
    NBSP/guillemets/middle dot (C2 xx) — on the bytes, instead of one Arrow pass per mark."""
    if len(data) < 2:
        return
    # The lead bytes first (one comparison over the text), the next byte only at them.
    lead = np.flatnonzero(data[:-2] == 0xE2)
    lead = lead[data[lead + 1] == 0x80]
    for shift in range(3):
        word[lead + shift] = False
    pair = np.flatnonzero(data[:-1] == 0xC2)
    pair = pair[_C2_SEPARATORS[data[pair + 1]]]
    word[pair] = False
    word[pair + 1] = False


def tokenize(texts: pa.Array | pa.ChunkedArray) -> Tokens:
    """Lower-cased words of every text (null = no words), found on the UTF-8 bytes with numpy.

    Measured 2x faster than RE2 ``[^\\pL\\pN]+`` replace + whitespace split in Arrow: word
    boundaries come from byte classes (:func:`_word_bytes`), the separators are dropped by one
    boolean mask, and the words — now contiguous — become an Arrow string array, which
    ``dictionary_encode`` reduces to the distinct words to hash.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    lowered = pc.utf8_lower(pc.fill_null(texts.cast(pa.large_string()), ""))
    n_docs = len(lowered)
    offsets = np.frombuffer(lowered.buffers()[1], dtype=np.int64)[
        lowered.offset : lowered.offset + n_docs + 1
    ]
    data = np.frombuffer(lowered.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    word = _word_bytes(data)
    _unicode_separators(data, word)
    starts_mask = word.copy()
    starts_mask[1:] &= ~word[:-1]
    ends_mask = word.copy()
    ends_mask[:-1] &= ~word[1:]
    inner = offsets[1:-1][offsets[1:-1] < len(data)]  # documents never share a word
    starts_mask[inner] = word[inner]
    before = inner[inner > 0] - 1
    ends_mask[before] = word[before]
    starts = np.flatnonzero(starts_mask)
    ends = np.flatnonzero(ends_mask) + 1
    doc_offsets = np.searchsorted(starts, offsets).astype(np.int64)
    if len(starts) == 0:
        empty = np.empty(0, dtype=np.uint64)
        return Tokens(doc_offsets, empty, np.empty(0, dtype=bool))
    word_offsets = np.concatenate([[0], np.cumsum(ends - starts)])
    words = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(word_offsets), pa.py_buffer(np.compress(word, data))
    )
    encoded = pc.dictionary_encode(words)
    indices = np.asarray(encoded.indices, dtype=np.int64)
    dictionary = encoded.dictionary
    numeric = np.asarray(pc.match_substring_regex(dictionary, r"[0-9]"), dtype=bool)
    return Tokens(doc_offsets, _token_hashes(dictionary)[indices], numeric[indices])


def _avalanche(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(33))
    x = x * _AVALANCHE[0]
    x = x ^ (x >> np.uint64(33))
    x = x * _AVALANCHE[1]
    return x ^ (x >> np.uint64(33))


def combine(parts: list[np.ndarray]) -> np.ndarray:
    """One 64-bit hash of equally long arrays, position by position (order matters)."""
    out = parts[0].copy()
    for part in parts[1:]:
        out *= _MIX
        out += part
    return _avalanche(out)


# --------------------------------------------------------------------------- shingles


def shingles(tokens: Tokens, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, values)``: per document the number of its shingles, and all shingle hashes in
    document order. A document with fewer than ``k`` tokens (but some) has one shingle."""
    h, offsets = tokens.hashes, tokens.offsets
    lengths = np.diff(offsets)
    n = len(h)
    padded = np.concatenate([h, np.zeros(k - 1, dtype=np.uint64)])
    rolling = combine([padded[j : j + n] for j in range(k)]) if n else h
    doc_end = np.repeat(offsets[1:], lengths)
    valid = np.arange(n) + k <= doc_end
    counts = np.maximum(lengths - k + 1, 0)
    short = np.flatnonzero((lengths > 0) & (lengths < k))
    if len(short) == 0:
        return counts, rolling[valid]
    # Rare: texts of 1..k-1 tokens get one shingle each, inserted at their place in order.
    values = rolling[valid]
    extra = [
        combine([h[offsets[d] + j : offsets[d] + j + 1] for j in range(lengths[d])])[0]
        for d in short
    ]
    counts = counts.copy()
    counts[short] = 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    insert_at = starts[short] - np.arange(len(short))
    return counts, np.insert(values, insert_at, np.array(extra, dtype=np.uint64))


def signatures(counts: np.ndarray, values: np.ndarray, config: NearDupConfig) -> np.ndarray:
    """``(documents, permutations)`` uint32 MinHash signatures; a document without shingles
    gets all ``0xFFFFFFFF`` (callers skip it: :func:`sketch_batch` marks it)."""
    a, b = permutation_parameters(config.permutations, config.seed)
    out = np.full((len(counts), config.permutations), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    has = np.flatnonzero(counts > 0)
    if len(has) == 0:
        return out
    ends = np.cumsum(counts)
    starts = ends - counts
    # Permutations x shingles, so that each reduction runs along contiguous memory: measured
    # 7x faster than the shingles x permutations layout, and a buffer reused across chunks.
    buffer = np.empty((config.permutations, _CHUNK_SHINGLES), dtype=np.uint64)
    first = 0
    while first < len(has):
        # Documents [first, last) whose shingles fit the chunk (always at least one document).
        limit = starts[has[first]] + _CHUNK_SHINGLES
        last = max(first + 1, int(np.searchsorted(ends[has], limit, side="right")))
        docs = has[first:last]
        lo, hi = starts[docs[0]], ends[docs[-1]]
        block = buffer[:, : hi - lo] if hi - lo <= _CHUNK_SHINGLES else None
        block = np.multiply(a[:, None], values[None, lo:hi], out=block)
        block += b[:, None]
        mins = np.minimum.reduceat(block, starts[docs] - lo, axis=1)
        out[docs] = (mins >> np.uint64(32)).astype(np.uint32).T
        first = last
    return out


_EMPTY = np.uint32(0xFFFFFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)
#: Probes of the densification before an empty bin takes the next filled bin to its right:
#: only documents with a handful of shingles get that far (a bin is still empty after 64
#: probes with probability (empty share)^64).
_DENSIFY_PROBES = 64


def _scaled(hashes: np.ndarray, size: int) -> np.ndarray:
    """``hashes``' top 32 bits mapped onto ``[0, size)`` (multiply-shift, no modulo bias)."""
    return (((hashes >> np.uint64(32)) * np.uint64(size)) >> np.uint64(32)).astype(np.int64)


@cache
def _probe_table(permutations: int, seed: int) -> np.ndarray:
    """``(bins, probes)`` int64: the bins that empty bin ``j`` borrows from, in order — the
    same for every document, so two documents agree on a borrowed value exactly when they
    agree on the bin it comes from."""
    probe = np.arange(1, _DENSIFY_PROBES + 1, dtype=np.uint64)[None, :] << np.uint64(32)
    bins = np.arange(permutations, dtype=np.uint64)[:, None]
    return _scaled(_avalanche(probe + bins + np.uint64(hash64(f"densify:{seed}"))), permutations)


def one_permutation_signatures(
    counts: np.ndarray, values: np.ndarray, config: NearDupConfig
) -> np.ndarray:
    """``(documents, permutations)`` uint32 one-permutation MinHash signatures; a document
    without shingles gets all ``0xFFFFFFFF``, as in :func:`signatures`.

    Each shingle is mixed with the seed once; its top 32 bits choose one of ``P`` bins and its
    low 32 bits are the value the bin minimises. Why: the k-permutation signature computes
    ``P`` multiply-adds per shingle, 0.87 s for 8,000 news articles; this computes one, 0.13 s.
    Two documents agree in a filled bin with probability their Jaccard similarity, and the
    bins sample the shingles without replacement, so the estimate is no worse. Measured on
    the 4,600 copy pairs of ``bench/make_neardup_corpus.py``: error 0.021 RMS against 0.023
    (0.028 against 0.032 at J 0.7-0.9). Empty bins (documents with fewer shingles than about
    ``3·P``) are filled by :func:`densify`; on texts under 40 words the error is 0.04-0.05
    against 0.03-0.04.
    """
    n, bins = len(counts), config.permutations
    mixed = _avalanche(values ^ np.uint64(hash64(f"one-permutation:{config.seed}")))
    cells = np.repeat(np.arange(n, dtype=np.int64) * bins, counts) + _scaled(mixed, bins)
    flat = np.full(n * bins, _EMPTY, dtype=np.uint32)
    np.minimum.at(flat, cells, (mixed & _LOW32).astype(np.uint32))
    filled = np.zeros(n * bins, dtype=bool)
    filled[cells] = True
    sigs, filled = flat.reshape(n, bins), filled.reshape(n, bins)
    densify(sigs, filled, counts > 0, _probe_table(bins, config.seed))
    return sigs


def densify(sigs: np.ndarray, filled: np.ndarray, has: np.ndarray, probes: np.ndarray) -> None:
    """Fill each empty bin of the documents in ``has`` in place (optimal densification,
    Shrivastava 2017): from the first filled bin of its probe row, else from the next filled
    bin to its right, circularly. The values copied are the bins' own, unchanged."""
    docs, bins = np.nonzero(~filled & has[:, None])
    if len(docs) == 0:
        return
    tried = probes[bins]  # (empty cells, probes)
    hit = filled[docs[:, None], tried]
    first = hit.argmax(axis=1)
    found = hit[np.arange(len(docs)), first]
    source = np.where(found, tried[np.arange(len(docs)), first], -1)
    lost = np.flatnonzero(~found)
    if len(lost):
        width = sigs.shape[1]
        ring = (bins[lost, None] + np.arange(1, width)[None, :]) % width
        nearest = filled[docs[lost, None], ring].argmax(axis=1)
        source[lost] = ring[np.arange(len(lost)), nearest]
    sigs[docs, bins] = sigs[docs, source]


#: ``hashing`` of ``dedup.near-minhash`` -> the function that computes the signatures.
SIGNATURE_SCHEMES = {
    "one-permutation": one_permutation_signatures,
    "k-permutations": signatures,
}


def band_hashes(sigs: np.ndarray, config: NearDupConfig) -> np.ndarray:
    """``(documents, bands)`` uint64: each band of ``rows`` signature values hashed together;
    the band index is mixed in so equal values in different bands never collide."""
    rows = config.rows
    cols = sigs.astype(np.uint64)
    out = np.empty((len(sigs), config.bands), dtype=np.uint64)
    for band in range(config.bands):
        parts = [np.full(len(sigs), np.uint64(band + 1), dtype=np.uint64)]
        parts += [cols[:, band * rows + j] for j in range(rows)]
        out[:, band] = combine(parts)
    return out


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Share of equal signature positions, row by row (the MinHash Jaccard estimate)."""
    return (left == right).mean(axis=1, dtype=np.float64)


#: Pairs whose signatures are taken at once (:func:`pair_jaccard`, and the dedup decision's
#: verifiers): both sides of a step of pairs are 16 MB.
PAIRS_PER_STEP = 16_384


def pair_jaccard(
    sigs: np.ndarray, left: np.ndarray, right: np.ndarray, pairs_per_step: int = PAIRS_PER_STEP
) -> np.ndarray:
    """:func:`estimated_jaccard` of rows ``left[i]`` and ``right[i]`` of ``sigs``, a step of
    pairs at a time: taking both sides of every pair at once held two (pairs, permutations)
    copies, 228 MB for the 223k candidate pairs of 1 GB of news (measured)."""
    out = np.empty(len(left), dtype=np.float64)
    for start in range(0, len(left), pairs_per_step):
        stop = start + pairs_per_step
        out[start:stop] = estimated_jaccard(sigs[left[start:stop]], sigs[right[start:stop]])
    return out


def shingle_sets(texts: list[str | None], k: int, texts_per_step: int = 1_024) -> list[np.ndarray]:
    """Each text's distinct shingle hashes, sorted: the sets the signatures estimate.

    A step of texts at a time: :func:`tokenize` holds several arrays the size of its input's
    bytes, 200 MB for the texts of the close pairs of 1 GB of news in one call (measured);
    each text's set is its own, so the steps give the same sets."""
    sets: list[np.ndarray] = []
    for start in range(0, len(texts), texts_per_step):
        step = texts[start : start + texts_per_step]
        counts, values = shingles(tokenize(pa.array(step, pa.large_string())), k)
        ends = np.cumsum(counts)
        sets += [np.unique(values[end - n : end]) for n, end in zip(counts, ends, strict=True)]
    return sets


def exact_jaccard(left: list[np.ndarray], right: list[np.ndarray]) -> np.ndarray:
    """The true Jaccard similarity of shingle sets, pair by pair (0 when both are empty)."""
    out = np.zeros(len(left), dtype=np.float64)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        common = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - common
        out[i] = common / union if union else 0.0
    return out


# --------------------------------------------------------------------------- numbers


def number_fingerprints(tokens: Tokens, words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets, contexts, values)``: for each number token, the hash of its context
    (``words`` tokens either side, numbers masked, document edges marked) and of its value."""
    h, offsets, numeric = tokens.hashes, tokens.offsets, tokens.numeric
    n = len(h)
    positions = np.flatnonzero(numeric)
    doc_of = np.searchsorted(offsets, positions, side="right") - 1
    masked = np.where(numeric, _NUMBER, h)
    parts = []
    for shift in [*range(-words, 0), *range(1, words + 1)]:
        at = positions + shift
        inside = (at >= offsets[doc_of]) & (at < offsets[doc_of + 1])
        parts.append(np.where(inside, masked[np.clip(at, 0, max(n - 1, 0))], _EDGE))
    contexts = combine(parts) if len(positions) else np.empty(0, dtype=np.uint64)
    per_doc = np.bincount(doc_of, minlength=len(offsets) - 1) if len(positions) else None
    counts = per_doc if per_doc is not None else np.zeros(len(offsets) - 1, dtype=np.int64)
    list_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return list_offsets, contexts, h[positions]


def numbers_conflict(
    contexts_a: list[int], values_a: list[int], contexts_b: list[int], values_b: list[int]
) -> bool:
    """True when some number context occurs in both texts with no value in common: the same
    sentence frame reports different figures ("shares fell 3%" / "shares fell 5%")."""
    if not contexts_a or not contexts_b:
        return False
    seen: dict[int, set[int]] = {}
    for context, value in zip(contexts_a, values_a, strict=True):
        seen.setdefault(context, set()).add(value)
    other: dict[int, set[int]] = {}
    for context, value in zip(contexts_b, values_b, strict=True):
        if context in seen:
            other.setdefault(context, set()).add(value)
    return any(seen[context].isdisjoint(values) for context, values in other.items())


# --------------------------------------------------------------------------- batch


def band_columns(config: NearDupConfig) -> list[str]:
    return [f"band_{i:03d}" for i in range(config.bands)]


def sketch_schema(config: NearDupConfig) -> pa.Schema:
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("has_shingles", pa.bool_()),
            pa.field("signature", pa.binary(4 * config.permutations)),
            *(pa.field(name, pa.uint64()) for name in band_columns(config)),
            pa.field("num_contexts", pa.list_(pa.uint64())),
            pa.field("num_values", pa.list_(pa.uint64())),
            pa.field("url_key", pa.uint64()),
            pa.field("title_key", pa.uint64()),
        ]
    )


#: Document columns the candidate keys come from (:mod:`~newsclean.tasks.stages.dedup_keys`).
KEY_SOURCES = ("title", "url_canonical", "domain")


def key_hashes(texts: list[str | None]) -> pa.Array:
    """Nullable uint64 hash of each key text (None: no key), each distinct text once."""
    present = np.array([t is not None for t in texts], dtype=bool)
    values = np.zeros(len(texts), dtype=np.uint64)
    if present.any():
        values[present] = hash_strings(pa.array([t for t in texts if t is not None], pa.string()))
    return pa.array(values, pa.uint64(), mask=~present)


def sketch_batch(
    doc_ids: pa.Array, texts: pa.Array, config: NearDupConfig, meta: pa.Table | None = None
) -> pa.Table:
    """One row per document: signature, LSH band hashes, number fingerprint, and the URL
    and headline keys from ``meta``'s :data:`KEY_SOURCES` columns (null without ``meta``)."""
    tokens = tokenize(texts)
    counts, values = shingles(tokens, config.shingle_words)
    sigs = SIGNATURE_SCHEMES[config.hashing](counts, values, config)
    bands = band_hashes(sigs, config)
    num_offsets, contexts, numbers = number_fingerprints(tokens, config.number_context_words)
    width = 4 * config.permutations
    columns: dict[str, pa.Array] = {
        "doc_id": doc_ids,
        "has_shingles": pa.array(counts > 0),
        "signature": pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(sigs), [None, pa.py_buffer(np.ascontiguousarray(sigs).data)]
        ),
    }
    for i, name in enumerate(band_columns(config)):
        columns[name] = pa.array(bands[:, i], pa.uint64())
    offsets = pa.array(num_offsets, pa.int32())
    columns["num_contexts"] = pa.ListArray.from_arrays(offsets, pa.array(contexts, pa.uint64()))
    columns["num_values"] = pa.ListArray.from_arrays(offsets, pa.array(numbers, pa.uint64()))
    columns["url_key"], columns["title_key"] = _candidate_keys(meta, len(sigs), config)
    return pa.table(columns, schema=sketch_schema(config))


def _candidate_keys(
    meta: pa.Table | None, n: int, config: NearDupConfig
) -> tuple[pa.Array, pa.Array]:
    if meta is None:
        return pa.nulls(n, pa.uint64()), pa.nulls(n, pa.uint64())
    titles, urls, publishers = (
        meta.column(name).to_pylist() if name in meta.column_names else [None] * n
        for name in KEY_SOURCES
    )
    url_texts, title_texts = candidate_key_texts(titles, urls, publishers, config.keys)
    return key_hashes(url_texts), key_hashes(title_texts)


def signature_matrix(column: pa.Array | pa.ChunkedArray, permutations: int) -> np.ndarray:
    """The ``signature`` column back as a ``(rows, permutations)`` uint32 matrix (no copy of
    the values beyond combining chunks)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.empty((0, permutations), dtype=np.uint32)
    data = column.buffers()[1]
    start = column.offset * 4 * permutations
    flat = np.frombuffer(data, dtype=np.uint32, count=len(column) * permutations, offset=start)
    return flat.reshape(len(column), permutations)


def expected_error(similarity: float, permutations: int) -> float:
    """Standard deviation of the MinHash estimate at a given true similarity."""
    return math.sqrt(similarity * (1 - similarity) / permutations)


@register
class SketchStage(Stage):
    """MinHash signature, LSH bands and number fingerprint of every document's final text:
    staged for the run-wide dedup decision (``near_dup`` input), never published."""

    name = "sketch"
    version = 2
    description = "MinHash over word shingles, LSH bands, number fingerprints, URL/title keys"
    reads = ("doc_id", "text", *KEY_SOURCES)

    def __init__(self, config: NearDupConfig) -> None:
        self.config = config
        schema = sketch_schema(config)
        self.adds = tuple(
            NewColumn(f.name, f.type, "MinHash sketch (staging only)", published=False)
            for f in schema
            if f.name != "doc_id"
        )

    @classmethod
    def build(cls, inputs: RunInputs) -> SketchStage:
        return cls(inputs.get("near_dup") or default_config())

    def resources(self) -> dict[str, str]:
        return {"rules:dedup": pack("dedup").version, "sketch": self.config.sketch_id}

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        sketch = sketch_batch(
            batch.column("doc_id").combine_chunks(), batch.column("text"), self.config, batch
        )
        for name in sketch.column_names[1:]:
            batch = batch.append_column(sketch.schema.field(name), sketch.column(name))
        return StageResult(batch, empty_edits())
