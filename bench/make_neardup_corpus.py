"""Build a news corpus with *known* near-duplicates, to measure a near-dup detector.

Why this exists: ``make_corpus.py`` plants exact copies only, so it cannot tell how well
a MinHash (shingle Jaccard) detector finds edited re-posts, nor whether it wrongly merges
unrelated stories or reports that differ only in their figures. This script writes
distinct base documents recombined by code from the real sample paragraphs, then injects
copies made by known transformations and records, for every copy, its source and the
exact 5-word-shingle Jaccard between the two texts, so recall and precision can be scored.

Base documents: paragraphs are mostly *spliced* by code from 2-5 real sentences of
different source paragraphs (a few whole real paragraphs are kept), so with only ~8,000
distinct source sentences a paragraph still rarely repeats and two unrelated documents
share few shingles. The max Jaccard over a random sample of unrelated base pairs is
measured and written to ``meta.json``. The real text is never edited by hand: splitting,
splicing and every variation below are done by code from a fixed seed.

Copies (``--near-share`` of the records, in families of 1-4 copies per source), one
``variant`` each: ``para_added``, ``para_dropped`` (sources with >= 6 paragraphs),
``headline_changed``, ``rewrapped`` (whitespace only), ``boilerplate_around``,
``word_edits`` (~1 % of words substituted or deleted), two of these joined by ``+``,
and the negative control ``numbers_changed`` (every digit run replaced, sources with >= 3
numbers, always ``should_merge = False``, always a family of its own). ``--exact-share``
more records are exact copies (variant ``exact``) under another id, url and domain.
For the other variants ``should_merge = true_jaccard >= 0.8``.

``true_jaccard`` is the Jaccard of the *sets* of 5-token shingles of the two ``content``
strings, tokens being ``re.findall(r"[^\\W_]+", text.lower())``; a text with fewer than 5
tokens is one shingle of all its tokens. It is measured on the raw text written here, not
on what a cleaning pipeline makes of it.

Layout (``truth.parquet`` and ``meta.json`` stay outside ``raw/`` so a pipeline reading
``raw/`` sees only articles; ``meta.json`` is written last and marks a complete corpus)::

    OUT_DIR/raw/part-00000.jsonl ...   id, title, url, domain, authors, published, content
    OUT_DIR/truth.parquet              copy_id, source_id, variant, true_jaccard, should_merge
    OUT_DIR/meta.json                  counts per variant, Jaccard stats, seed, bytes, timing

Usage::

    python bench/make_neardup_corpus.py OUT_DIR --docs 100000 --near-share 0.2 --seed 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import make_corpus  # bench/ is run as scripts, not as a package

SOURCE_CSV = make_corpus.SOURCE_CSV
SOURCE_TXT = make_corpus.SOURCE_TXT
RAW_SUBDIR = make_corpus.RAW_SUBDIR
SHINGLE = 5
MERGE_THRESHOLD = 0.8
MIN_PARA_WORDS = 8  # shorter source paragraphs (bylines, "Share this") are not used
MIN_UNIT_WORDS = 4  # shorter sentence fragments ("Mr.", "U.S.") are glued to the next one
MAX_UNIT_WORDS = 120  # longer "sentences" are unpunctuated dumps: left out of the pool
MAX_ADDED_WORDS = 120  # para_added inserts a paragraph of ordinary length
WHOLE_PARA_SHARE = 0.05  # share of base paragraphs that are a whole real paragraph
EPOCH = dt.date(2016, 1, 1)
DATE_SPAN_DAYS = 3 * 365

#: Single transformations that may also be combined in pairs; the order is the order in
#: which they are applied (structure first, whitespace last).
SINGLE = (
    "para_dropped",
    "para_added",
    "word_edits",
    "headline_changed",
    "boilerplate_around",
    "rewrapped",
)
COMBOS = tuple("+".join(sorted((a, b))) for i, a in enumerate(SINGLE) for b in SINGLE[i + 1 :])
#: Share of the near copies per kind; ``combo`` is spread evenly over ``COMBOS``.
NEAR_WEIGHTS = {
    "para_added": 0.12,
    "para_dropped": 0.12,
    "headline_changed": 0.08,
    "rewrapped": 0.10,
    "boilerplate_around": 0.12,
    "word_edits": 0.14,
    "combo": 0.22,
    "numbers_changed": 0.10,
}
#: Copies per family (a family is one source plus these copies).
FAMILY_SIZES = (1, 2, 3, 4)
FAMILY_WEIGHTS = (0.55, 0.25, 0.13, 0.07)

_TOKEN_RE = re.compile(r"[^\W_]+")
_DIGITS_RE = re.compile(r"[0-9]+")
_WORD_CORE_RE = re.compile(r"[^\W_]+")
_VOCAB_RE = re.compile(r"^[a-z]{3,14}$")
# Sentence boundary: whitespace after . ! or ? (optionally closing quote/bracket) and
# before an upper-case letter, digit or opening quote.
_SENT_SPLIT_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(\[]?[A-Z0-9])")

_SITE_A = (
    "Daily", "Morning", "Evening", "National", "Global", "Metro", "Valley", "Coastal",
    "Capital", "Independent", "Northern", "Western", "City", "County", "Free", "Liberty",
)  # fmt: skip
_SITE_B = (
    "News", "Herald", "Post", "Times", "Chronicle", "Gazette", "Tribune", "Observer",
    "Dispatch", "Journal", "Ledger", "Courier", "Record", "Sentinel", "Press", "Report",
)  # fmt: skip
_SECTIONS = (
    "Politics", "World", "US News", "Business", "Opinion", "Health", "Science", "Local",
    "Tech", "Entertainment", "Economy", "Crime",
)  # fmt: skip
_HEADERS = (
    "{site} | {section}",
    "{section} | {site} | {date}",
    "Posted on {date} by {site} Staff",
    "From {site} — {date}",
    "Home » {section} » {site}",
    "{SITE} — {section}",
)
_FOOTERS = (
    "Share this article",
    "Share this: Facebook | Twitter | Email | Print",
    "Copyright {year} {site}. All rights reserved.",
    "© {year} {site}. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "Read more: {url}",
    "Follow {site} on Twitter: @{handle}",
    "Sign up for the {site} newsletter to get the day's top stories.",
    "This article originally appeared on {site}.",
    "Related: {related}",
)


# --------------------------------------------------------------------------- shingles


def shingles(text: str) -> set[tuple[str, ...]]:
    """Set of 5-token shingles; a text of fewer than 5 tokens is one shingle of them all."""
    toks = _TOKEN_RE.findall(text.lower())
    if len(toks) < SHINGLE:
        return {tuple(toks)}
    return set(zip(*(toks[i:] for i in range(SHINGLE)), strict=False))


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


# --------------------------------------------------------------------------- sources


class _Pool:
    """Sentence units, whole paragraphs (as unit sequences) and metadata from the samples."""

    def __init__(self, csv_path: Path, txt_paths: list[Path]) -> None:
        src = make_corpus._Sources(csv_path, txt_paths)
        canon: dict[str, int] = {}
        units: list[str] = []
        whole: list[tuple[int, ...]] = []
        seen_para: set[str] = set()
        for para in src.paragraphs:
            para = para.strip()
            if len(para.split()) < MIN_PARA_WORDS or para in seen_para:
                continue
            seen_para.add(para)
            ids: list[int] = []
            ok = True
            for sent in _split_sentences(para):
                if len(sent.split()) > MAX_UNIT_WORDS:
                    ok = False  # the paragraph is not kept whole; its other units are
                    continue
                uid = canon.get(sent)
                if uid is None:
                    uid = canon[sent] = len(units)
                    units.append(sent)
                ids.append(uid)
            if ok and ids:
                whole.append(tuple(ids))
        self.units = units
        self.whole = whole
        self.unit_numbers = np.array([len(_DIGITS_RE.findall(u)) for u in units], np.int32)
        vocab = {t for u in units for t in _TOKEN_RE.findall(u.lower()) if _VOCAB_RE.match(t)}
        self.vocab = sorted(vocab)
        self.titles = src.titles
        self.domains = sorted(set(src.domains))
        self.authors = src.authors
        self.slugs = src.slugs
        self.n_rows = src.n_rows
        self.n_source_paragraphs = len(src.paragraphs)


def _split_sentences(para: str) -> list[str]:
    """Split a paragraph into sentence units, gluing short fragments to their neighbour."""
    out: list[str] = []
    carry = ""
    for piece in _SENT_SPLIT_RE.split(para):
        piece = f"{carry} {piece}" if carry else piece
        if len(piece.split()) < MIN_UNIT_WORDS:
            carry = piece
            continue
        out.append(piece)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out


# --------------------------------------------------------------------------- base docs


class _BaseDocs:
    """Compact structure of the base documents: unit ids per paragraph per document.

    Document ``d`` has paragraphs ``doc_off[d]:doc_off[d + 1]``; paragraph ``p`` has
    units ``flat[para_off[p]:para_off[p + 1]]``. Texts are rebuilt on demand.
    """

    def __init__(self, pool: _Pool, n_docs: int, rng: np.random.Generator) -> None:
        n_units = len(pool.units)
        n_par = np.minimum(15, 4 + rng.poisson(3.0, n_docs))
        n_p = int(n_par.sum())
        is_whole = rng.random(n_p) < WHOLE_PARA_SHARE
        whole_pick = rng.integers(0, len(pool.whole), n_p)
        whole_len = np.array([len(w) for w in pool.whole], np.int64)
        spliced_len = np.clip(2 + rng.poisson(1.0, n_p), 2, 5)
        para_len = np.where(is_whole, whole_len[whole_pick], spliced_len)
        self.para_off = np.concatenate(([0], np.cumsum(para_len))).astype(np.int64)
        self.doc_off = np.concatenate(([0], np.cumsum(n_par))).astype(np.int64)
        flat = rng.integers(0, n_units, int(para_len.sum()), dtype=np.int32)
        for p in np.flatnonzero(is_whole):
            flat[self.para_off[p] : self.para_off[p + 1]] = pool.whole[whole_pick[p]]
        self.flat = flat
        self.n_par = n_par
        self.units = pool.units
        self.n_resampled = self._make_distinct(rng, n_units)
        per_para = np.add.reduceat(pool.unit_numbers[flat], self.para_off[:-1])
        self.n_numbers = np.add.reduceat(per_para, self.doc_off[:-1])

    def _key(self, d: int) -> bytes:
        p0, p1 = self.doc_off[d], self.doc_off[d + 1]
        lens = np.diff(self.para_off[p0 : p1 + 1])
        body = self.flat[self.para_off[p0] : self.para_off[p1]]
        return hashlib.blake2b(body.tobytes() + lens.tobytes(), digest_size=16).digest()

    def _make_distinct(self, rng: np.random.Generator, n_units: int) -> int:
        """Resample the units of any document whose unit sequence repeats an earlier one."""
        seen: set[bytes] = set()
        resampled = 0
        for d in range(len(self.n_par)):
            key = self._key(d)
            while key in seen:  # practically never; keeps "distinct base texts" exact
                a, b = self.para_off[self.doc_off[d]], self.para_off[self.doc_off[d + 1]]
                self.flat[a:b] = rng.integers(0, n_units, b - a, dtype=np.int32)
                key = self._key(d)
                resampled += 1
            seen.add(key)
        return resampled

    def __len__(self) -> int:
        return len(self.n_par)

    def paragraphs(self, d: int) -> list[str]:
        """The paragraphs of base document ``d``."""
        units, flat, off = self.units, self.flat, self.para_off
        return [
            " ".join([units[u] for u in flat[off[p] : off[p + 1]].tolist()])
            for p in range(int(self.doc_off[d]), int(self.doc_off[d + 1]))
        ]

    def text(self, d: int) -> str:
        """The content of base document ``d``."""
        return "\n\n".join(self.paragraphs(d))


# --------------------------------------------------------------------------- variants


def _drop_paragraph(paras: list[str], r: random.Random, ctx: _Ctx) -> list[str]:
    i = r.randrange(len(paras))
    return paras[:i] + paras[i + 1 :]


def _add_paragraph(paras: list[str], r: random.Random, ctx: _Ctx) -> list[str]:
    """Insert a paragraph of ordinary length (<= 120 words) from another base document."""
    extra = ""
    while not extra:
        other = r.randrange(len(ctx.base) - 1)
        other += other >= ctx.source  # any base document but the source
        fits = [p for p in ctx.base.paragraphs(other) if len(p.split()) <= MAX_ADDED_WORDS]
        extra = r.choice(fits) if fits else ""
    i = r.randint(0, len(paras))
    return [*paras[:i], extra, *paras[i:]]


def _edit_words(paras: list[str], r: random.Random, ctx: _Ctx) -> list[str]:
    """Substitute (70 %) or delete (30 %) about 1 % of the words."""
    words = [p.split(" ") for p in paras]
    slots = [
        (i, j) for i, ws in enumerate(words) for j, w in enumerate(ws) if _WORD_CORE_RE.search(w)
    ]
    n_edits = max(1, round(len(slots) * r.uniform(0.007, 0.013)))
    deleted: set[tuple[int, int]] = set()
    for i, j in r.sample(slots, min(n_edits, len(slots))):
        if r.random() < 0.3:
            deleted.add((i, j))
            continue
        old = words[i][j]
        core = _WORD_CORE_RE.search(old)
        assert core is not None  # slots hold words with a letter or digit
        new = r.choice(ctx.vocab)
        while new == core.group().lower():
            new = r.choice(ctx.vocab)
        if core.group()[0].isupper():
            new = new.capitalize()
        words[i][j] = old[: core.start()] + new + old[core.end() :]
    return [
        " ".join(w for j, w in enumerate(ws) if (i, j) not in deleted) for i, ws in enumerate(words)
    ]


def _boilerplate(paras: list[str], r: random.Random, ctx: _Ctx) -> list[str]:
    a, b = r.choice(_SITE_A), r.choice(_SITE_B)
    site = r.choice((f"The {a} {b}", f"{a} {b}", f"{a} {b} Online"))
    section = r.choice(_SECTIONS)
    slug = make_corpus._SLUG_RE.sub("-", ctx.title.lower()).strip("-")[:60] or "story"
    fields = {
        "site": site,
        "SITE": site.upper(),
        "section": section,
        "date": f"{ctx.date:%B} {ctx.date.day}, {ctx.date.year}",
        "year": str(ctx.date.year),
        "url": f"https://www.{a}{b}.example.com/{section.lower().replace(' ', '-')}/{slug}"
        f"-{r.randrange(10**5, 10**6)}".lower(),
        "handle": f"{a}{b}".lower(),
        "related": r.choice(ctx.titles),
    }
    header = r.choice(_HEADERS).format(**fields)
    footers = [f.format(**fields) for f in r.sample(_FOOTERS, r.randint(1, 3))]
    return [header, *paras, *footers]


def _rewrap(paras: list[str], r: random.Random, ctx: _Ctx) -> list[str]:
    """Break lines at ~``width`` chars, add double and trailing spaces; tokens unchanged."""
    width = r.randint(60, 80)
    out = []
    for para in paras:
        lines: list[str] = []
        line = ""
        for word in para.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line + (" " if r.random() < 0.3 else ""))
                line = word
            else:
                sep = "  " if line and r.random() < 0.04 else " "
                line = f"{line}{sep}{word}" if line else word
        lines.append(line + (" " if r.random() < 0.3 else ""))
        out.append("\n".join(lines))
    return out


def _change_numbers(text: str, r: random.Random) -> str:
    """Replace every digit run with a different, plausible one (same run, same new value).

    Years (1900-2099) move by 1-5, single digits become another digit, other numbers move
    by up to 10 % (at least 1) and keep their digit count, leading zeros included.
    """
    mapping: dict[str, str] = {}

    def new_value(old: str) -> str:
        v, n = int(old), len(old)
        if n == 1:
            return str(r.choice([d for d in range(10) if d != v]))
        lo, hi = (1, 5) if n == 4 and 1900 <= v <= 2099 else (1, max(1, v // 10))
        for _ in range(20):
            w = v + r.choice((-1, 1)) * r.randint(lo, hi)
            s = str(w).zfill(n) if old[0] == "0" else str(w)
            if w >= 0 and len(s) == n and s != old:
                return s
        return old[:-1] + str((int(old[-1]) + 1) % 10)  # practically never reached

    def repl(m: re.Match[str]) -> str:
        old = m.group()
        if old not in mapping:
            mapping[old] = new_value(old)
        return mapping[old]

    return _DIGITS_RE.sub(repl, text)


class _Ctx:
    """What a transformation may need besides the paragraphs."""

    def __init__(
        self, base: _BaseDocs, vocab: list[str], titles: list[str], source: int,
        title: str, date: dt.date,
    ) -> None:  # fmt: skip
        self.base, self.vocab, self.titles = base, vocab, titles
        self.source, self.title, self.date = source, title, date


_Transform = Callable[[list[str], random.Random, _Ctx], list[str]]
_TRANSFORMS: dict[str, _Transform] = {
    "para_dropped": _drop_paragraph,
    "para_added": _add_paragraph,
    "word_edits": _edit_words,
    "boilerplate_around": _boilerplate,
    "rewrapped": _rewrap,
}


def apply_variant(variant: str, paras: list[str], r: random.Random, ctx: _Ctx) -> str:
    """Content of a copy: the named transformations applied in ``SINGLE`` order."""
    if variant == "numbers_changed":
        return _change_numbers("\n\n".join(paras), r)
    parts = set(variant.split("+"))
    for name in SINGLE:
        if name in parts and name in _TRANSFORMS:
            paras = _TRANSFORMS[name](paras, r, ctx)
    return "\n\n".join(paras)


# --------------------------------------------------------------------------- planning


def _allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``weights`` into integers (largest remainder, deterministic)."""
    norm = sum(weights.values())
    raw = {k: total * w / norm for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    rest = total - sum(counts.values())
    for k in sorted(raw, key=lambda k: (counts[k] - raw[k], k))[:rest]:
        counts[k] += 1
    return counts


def _plan_copies(
    base: _BaseDocs, n_near: int, n_exact: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """Variant and source (base index) of every copy; each source heads one family."""
    counts = _allocate(n_near, NEAR_WEIGHTS)
    variants: list[str] = []
    for kind, n in counts.items():
        if kind == "combo":
            variants += [COMBOS[i] for i in rng.integers(0, len(COMBOS), n)]
        elif kind != "numbers_changed":
            variants += [kind] * n
    variants += ["exact"] * n_exact
    variants = [variants[i] for i in rng.permutation(len(variants))]
    # numbers_changed copies are families of their own: a family is then either all
    # "same story" or a source plus its figure-changed negative control.
    families: list[list[str]] = [["numbers_changed"] for _ in range(counts["numbers_changed"])]
    sizes = rng.choice(FAMILY_SIZES, size=len(variants) + 1, p=FAMILY_WEIGHTS)
    i = 0
    for s in sizes:
        if i >= len(variants):
            break
        families.append(variants[i : i + int(s)])
        i += int(s)
    families = [families[i] for i in rng.permutation(len(families))]

    order = rng.permutation(len(base))
    used = np.zeros(len(base), bool)
    queues = {
        "any": order,
        "para6": order[base.n_par[order] >= 6],
        "num3": order[base.n_numbers[order] >= 3],
    }
    heads = dict.fromkeys(queues, 0)
    out_variants: list[str] = []
    out_sources: list[int] = []
    for fam in families:
        if "numbers_changed" in fam:
            need = "num3"
        elif any("para_dropped" in v for v in fam):
            need = "para6"
        else:
            need = "any"
        q = queues[need]
        while heads[need] < len(q) and used[q[heads[need]]]:
            heads[need] += 1
        if heads[need] >= len(q):
            raise ValueError(f"not enough base documents eligible as sources ({need})")
        src = int(q[heads[need]])
        used[src] = True
        out_variants += fam
        out_sources += [src] * len(fam)
    return out_variants, np.array(out_sources, np.int64)


# --------------------------------------------------------------------------- main


def _unrelated_pairs(
    base: _BaseDocs, n_pairs: int, rng: np.random.Generator
) -> dict[str, float | int]:
    """Jaccard over a random sample of distinct pairs of (unrelated) base documents."""
    n = len(base)
    if n < 2:
        return {"n_pairs": 0}
    pool_size = min(n, max(2, n_pairs // 2))
    members = rng.choice(n, size=pool_size, replace=False)
    target = min(n_pairs, pool_size * (pool_size - 1) // 2)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < target:
        a = rng.integers(0, pool_size, 2 * target)
        b = rng.integers(0, pool_size, 2 * target)
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            if x != y:
                pairs.add((min(x, y), max(x, y)))
                if len(pairs) >= target:
                    break
    # Shingle sets are kept as sorted 64-bit hash arrays (tuples of strings would take
    # over 1 GB for 25,000 documents); a hash collision is practically impossible.
    cache: dict[int, np.ndarray] = {}

    def sh(i: int) -> np.ndarray:
        if i not in cache:
            hashes = [hash(s) for s in shingles(base.text(int(members[i])))]
            cache[i] = np.unique(np.array(hashes, np.int64))
        return cache[i]

    def jac(a: np.ndarray, b: np.ndarray) -> float:
        inter = len(np.intersect1d(a, b, assume_unique=True))
        return inter / (len(a) + len(b) - inter)

    js = np.array([jac(sh(x), sh(y)) for x, y in sorted(pairs)])
    return {
        "n_pairs": len(js),
        "n_docs_sampled": pool_size,
        "max": round(float(js.max()), 4),
        "mean": round(float(js.mean()), 6),
        "p99_9": round(float(np.quantile(js, 0.999)), 4),
        "n_above_0_1": int((js > 0.1).sum()),
    }


def prepare_output(out_dir: Path) -> Path:
    """Empty the corpus folder of an earlier corpus (data files, truth, meta); returns the
    raw folder. ``meta.json`` is written last, so its presence marks a complete corpus."""
    raw_dir = out_dir / RAW_SUBDIR
    raw_dir.mkdir(parents=True, exist_ok=True)
    for old in raw_dir.glob("part-*.*"):
        old.unlink()
    (out_dir / "meta.json").unlink(missing_ok=True)
    (out_dir / "truth.parquet").unlink(missing_ok=True)
    return raw_dir


def make_neardup_corpus(
    out_dir: Path,
    n_docs: int = 100_000,
    near_share: float = 0.2,
    exact_share: float = 0.03,
    seed: int = 0,
    file_docs: int = 10_000,
    unrelated_pairs: int = 50_000,
    csv_path: Path = SOURCE_CSV,
    txt_paths: list[Path] | None = None,
) -> dict[str, Any]:
    """Write the corpus, ``truth.parquet`` and ``meta.json``; return the meta dict."""
    if near_share < 0 or exact_share < 0 or near_share + exact_share >= 0.8:
        raise ValueError("need near_share, exact_share >= 0 and near_share + exact_share < 0.8")
    if n_docs < 10 or file_docs < 1:
        raise ValueError("need docs >= 10 and file_docs >= 1")
    txt_paths = [SOURCE_TXT] if txt_paths is None else txt_paths
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    raw_dir = prepare_output(out_dir)

    pool = _Pool(csv_path, txt_paths)
    rng = np.random.default_rng(seed)
    n_near = round(n_docs * near_share)
    n_exact = round(n_docs * exact_share)
    n_base = n_docs - n_near - n_exact
    base = _BaseDocs(pool, n_base, rng)
    variants, sources = _plan_copies(base, n_near, n_exact, rng)
    n_copies = len(variants)

    # Metadata: a real title/authors row and a date per base doc; domain per record.
    rows = rng.integers(0, pool.n_rows, n_base)
    days = rng.integers(0, DATE_SPAN_DAYS, n_base)
    domains = rng.integers(0, len(pool.domains), n_docs)
    copy_lag = rng.integers(0, 4, n_copies)
    copy_seeds = rng.integers(0, 2**62, n_copies)
    perm = rng.permutation(n_docs)  # perm[pos] = record (base d < n_base, copy n_base + c)
    pos_of = np.empty(n_docs, np.int64)
    pos_of[perm] = np.arange(n_docs)
    for c in np.flatnonzero(np.array([v == "exact" for v in variants], bool)):
        src_dom = domains[pos_of[sources[c]]]  # exact copies move to another domain
        if domains[pos_of[n_base + c]] == src_dom:
            domains[pos_of[n_base + c]] = (src_dom + 1) % len(pool.domains)

    def doc_id(pos: int) -> str:
        return f"doc-{pos:09d}"

    def base_title(d: int) -> str:
        return f"{pool.titles[rows[d]]} #{pos_of[d]}"

    truth: dict[str, list[Any]] = {k: [] for k in ("copy_id", "source_id", "variant")}
    truth |= {"true_jaccard": [], "should_merge": []}
    files: list[str] = []
    fh: Any = None
    content_bytes = 0
    chars = np.zeros(n_docs, np.int64)
    try:
        for pos in range(n_docs):
            if pos % file_docs == 0:
                if fh is not None:
                    fh.close()
                files.append(f"part-{len(files):05d}.jsonl")
                fh = open(raw_dir / files[-1], "wb", buffering=4 * 2**20)  # noqa: SIM115
            rec_no = int(perm[pos])
            d = rec_no if rec_no < n_base else int(sources[rec_no - n_base])
            row = int(rows[d])
            title = base_title(d)
            slug = pool.slugs[row]
            date = EPOCH + dt.timedelta(days=int(days[d]))
            if rec_no < n_base:
                content = base.text(d)
            else:
                c = rec_no - n_base
                variant = variants[c]
                r = random.Random(int(copy_seeds[c]))
                date += dt.timedelta(days=int(copy_lag[c]))
                src_paras = base.paragraphs(d)
                src_text = "\n\n".join(src_paras)
                if "headline_changed" in variant:
                    new_row = r.randrange(pool.n_rows)
                    while pool.titles[new_row] == pool.titles[row]:
                        new_row = r.randrange(pool.n_rows)
                    title, slug = f"{pool.titles[new_row]} #{pos}", pool.slugs[new_row]
                if variant == "exact":
                    content, jac = src_text, 1.0
                else:
                    ctx = _Ctx(base, pool.vocab, pool.titles, d, title, date)
                    content = apply_variant(variant, src_paras, r, ctx)
                    jac = jaccard(shingles(content), shingles(src_text))
                merge = variant != "numbers_changed" and jac >= MERGE_THRESHOLD
                truth["copy_id"].append(doc_id(pos))
                truth["source_id"].append(doc_id(int(pos_of[d])))
                truth["variant"].append(variant)
                truth["true_jaccard"].append(jac)
                truth["should_merge"].append(merge)
            domain = pool.domains[domains[pos]]
            rec = {
                "id": doc_id(pos),
                "title": title,
                "url": f"https://{domain}/{slug}-{pos}",
                "domain": domain,
                "authors": pool.authors[row],
                "published": date.isoformat(),
                "content": content,
            }
            fh.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
            chars[pos] = len(content)
            content_bytes += len(content.encode("utf-8"))
    finally:
        if fh is not None:
            fh.close()

    table = pa.table(
        {
            "copy_id": pa.array(truth["copy_id"], pa.string()),
            "source_id": pa.array(truth["source_id"], pa.string()),
            "variant": pa.array(truth["variant"], pa.string()),
            "true_jaccard": pa.array(truth["true_jaccard"], pa.float64()),
            "should_merge": pa.array(truth["should_merge"], pa.bool_()),
        }
    ).sort_by("copy_id")
    pq.write_table(table, out_dir / "truth.parquet", compression="zstd")

    per_variant: dict[str, dict[str, Any]] = {}
    jv = np.array(truth["true_jaccard"])
    mv = np.array(truth["should_merge"], bool)
    vv = np.array(truth["variant"], object)
    for v in sorted(set(truth["variant"])):
        m = vv == v
        per_variant[v] = {
            "n": int(m.sum()),
            "jaccard_mean": round(float(jv[m].mean()), 4),
            "jaccard_min": round(float(jv[m].min()), 4),
            "jaccard_max": round(float(jv[m].max()), 4),
            "n_should_merge": int(mv[m].sum()),
        }
    copy_pos = pos_of[n_base:]
    src_pos = pos_of[sources]
    meta: dict[str, Any] = {
        "n_docs": n_docs,
        "n_base_docs": n_base,
        "n_copies": n_copies,
        "n_near_copies": n_near,
        "n_exact_copies": n_exact,
        "n_source_docs": len(set(sources.tolist())),
        "n_should_merge": int(mv.sum()),
        "n_should_not_merge": int((~mv).sum()),
        "variants": per_variant,
        "unrelated_base_pairs": _unrelated_pairs(base, unrelated_pairs, rng),
        "n_copies_adjacent_to_source": int((np.abs(copy_pos - src_pos) == 1).sum()),
        "content_chars_mean": round(float(chars.mean()), 1),
        "content_chars_p5_p95": [int(x) for x in np.quantile(chars, [0.05, 0.95])],
        "base_paragraphs_mean": round(float(base.n_par.mean()), 2),
        "base_docs_resampled_for_distinctness": base.n_resampled,
        "content_bytes": content_bytes,
        "total_bytes": sum((raw_dir / f).stat().st_size for f in files),
        "seed": seed,
        "near_share": near_share,
        "exact_share": exact_share,
        "file_docs": file_docs,
        "shingle": {"k": SHINGLE, "token_regex": _TOKEN_RE.pattern, "lowercase": True},
        "merge_threshold": MERGE_THRESHOLD,
        "raw_dir": RAW_SUBDIR,
        "files": files,
        "n_pool_units": len(pool.units),
        "n_pool_whole_paragraphs": len(pool.whole),
        "n_source_paragraphs": pool.n_source_paragraphs,
        "sources": {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in [Path(csv_path), *txt_paths]
        },
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _summary(meta: dict[str, Any]) -> str:
    lines = [
        f"docs {meta['n_docs']:,} (base {meta['n_base_docs']:,}, copies {meta['n_copies']:,} "
        f"from {meta['n_source_docs']:,} sources) in {len(meta['files'])} files, "
        f"{meta['total_bytes'] / 1e6:.1f} MB, content mean {meta['content_chars_mean']:.0f} "
        f"chars, {meta['generate_seconds']} s",
        f"{'variant':42} {'n':>6} {'J mean':>7} {'J min':>6} {'merge':>6}",
    ]
    for v, s in meta["variants"].items():
        lines.append(
            f"{v:42} {s['n']:>6} {s['jaccard_mean']:>7.3f} {s['jaccard_min']:>6.3f} "
            f"{s['n_should_merge']:>6}"
        )
    u = meta["unrelated_base_pairs"]
    if u["n_pairs"]:
        lines.append(
            f"unrelated base pairs: {u['n_pairs']:,} over {u['n_docs_sampled']:,} docs, "
            f"max Jaccard {u['max']:.4f}, mean {u['mean']:.5f}, >0.1: {u['n_above_0_1']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints a short summary (the full one is meta.json)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--docs", type=int, default=100_000, help="total records written")
    ap.add_argument("--near-share", type=float, default=0.2, help="share of near copies")
    ap.add_argument("--exact-share", type=float, default=0.03, help="share of exact copies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file-docs", type=int, default=10_000, help="records per file")
    ap.add_argument("--unrelated-pairs", type=int, default=50_000, help="pairs to check")
    args = ap.parse_args(argv)
    meta = make_neardup_corpus(
        args.out_dir, args.docs, args.near_share, args.exact_share, args.seed,
        args.file_docs, args.unrelated_pairs,
    )  # fmt: skip
    print(_summary(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
