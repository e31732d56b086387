"""The optional line classifier of issue 12, measured before it is built: would a small
trained model find the boilerplate paragraphs that the rules leave in real extractor output?

Why this is a bench and not a stage: the issue allows a classifier only if it beats the rules
on WCXB's measure-only half. This script trains a logistic regression (scikit-learn, the bench
extra) on the **tune** half only and reports, on the **measure** half, how precise its
paragraph removals would be and what they would do to the per-page 4-gram precision and recall
of ``bench/extraction_quality.py``. Its result (2026-12-01): at every threshold more than a
third of the paragraphs it would remove are article text, so nothing ships.

* Paragraphs: each extractor's text after a whole newsclean run (``--no-typos``), split at
  blank lines.
* Label: boilerplate when fewer than half of its word 4-grams are in the page's gold text
  (a paragraph under four words: when its word sequence is not in the gold text).
* Features: 24 line features (length, words, sentence end, title case, capitals, digits,
  punctuation, position from either end, neighbours' length, length against the page's
  median, URL, @, separators, trailing colon, stop-word share, bullet, ©) and the presence of
  each word seen on at least 8 tune pages (the first 40 words, plus the first word).

Usage::

    python bench/line_classifier.py [--seed 0] [--cache /tmp/newsclean-bench/extraction-cache]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import extraction_quality as eq  # noqa: E402

_TOKEN = re.compile(r"\w+")
_END = re.compile(r"[.!?…\"”»)]$")
_STOP_WORDS = (
    "the a an and or of to in on for with is are was were be by that this it as at from he she "
    "they we you i his her their its not but have has had will would said de la le les et des "
    "du der die das und den zu von ist el los las y en que un una il di e che o do da em"
)
_STOP = frozenset(_STOP_WORDS.split(" "))
THRESHOLDS = (0.8, 0.9, 0.95, 0.98)


def cleaned(pages: list[eq.Page], extractor: str, cache: Path, half: str) -> dict[str, str]:
    """newsclean's text of each page for one extractor (cached beside the extractions)."""
    path = cache / "wcxb" / f"cleaned-{extractor}-{half}.json"
    if path.exists():
        return json.loads(path.read_text("utf-8"))
    outputs = eq.extracted("wcxb", eq.wcxb_pages(), extractor, cache)
    texts = eq.clean(pages, outputs, typos=False)
    path.write_text(json.dumps(texts), "utf-8")
    return texts


def label(paragraph: str, gold_tokens: str, gold_grams: set[tuple[str, ...]]) -> int:
    tokens = _TOKEN.findall(paragraph.lower())
    if len(tokens) < 4:
        return int(f" {' '.join(tokens)} " not in gold_tokens)
    grams = [tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)]
    return int(sum(g in gold_grams for g in grams) / len(grams) < 0.5)


def line_features(paras: list[str], i: int) -> list[float]:
    p, n = paras[i], len(paras)
    tokens = _TOKEN.findall(p)
    w, chars = max(len(tokens), 1), max(len(p), 1)
    median = sorted(len(x) for x in paras)[n // 2]
    previous = len(paras[i - 1]) if i > 0 else 0
    following = len(paras[i + 1]) if i + 1 < n else 0
    return [
        math.log1p(len(p)), math.log1p(len(tokens)), float(bool(_END.search(p.strip()))),
        p.count(". ") / w, sum(t[:1].isupper() for t in tokens) / w,
        sum(c.isupper() for c in p) / chars, sum(c.isdigit() for c in p) / chars,
        sum((not c.isalnum()) and not c.isspace() for c in p) / chars,
        i / max(n - 1, 1), float(i == 0), float(i == n - 1), min(n - 1 - i, 5) / 5,
        min(i, 5) / 5, math.log1p(n), float(previous < 80), float(following < 80),
        math.log((len(p) + 1) / (median + 1)), float("http" in p or "www." in p),
        float("@" in p), float("|" in p or "•" in p), float(p.strip().endswith(":")),
        sum(t.lower() in _STOP for t in tokens) / w, float(p.strip()[:1] in "•-*·"),
        float("©" in p),
    ]  # fmt: skip


def words(paragraph: str) -> set[str]:
    tokens = ["#" if t.isdigit() else t for t in _TOKEN.findall(paragraph.lower())]
    return (set(tokens[:40]) | {"^" + tokens[0]}) if tokens else set()


def paragraphs(pages: list[eq.Page], half: str, cache: Path) -> list[dict]:
    rows = []
    for extractor in eq.EXTRACTORS:
        texts = cleaned(pages, extractor, cache, half)
        for page in pages:
            tokens = _TOKEN.findall((page.gold or "").lower())
            gold_tokens = f" {' '.join(tokens)} "
            grams = {tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)}
            paras = [p for p in texts[page.page_id].split("\n\n") if p.strip()]
            for i, p in enumerate(paras):
                rows.append({"extractor": extractor, "page": page.page_id, "index": i,
                             "paras": paras, "y": label(p, gold_tokens, grams)})  # fmt: skip
    return rows


def matrix(rows: list[dict], vocabulary: dict[str, int] | None = None):
    import scipy.sparse as sparse

    dense = np.array([line_features(r["paras"], r["index"]) for r in rows])
    bags = [words(r["paras"][r["index"]]) for r in rows]
    if vocabulary is None:
        pages_of: dict[str, set[str]] = defaultdict(set)
        for r, bag in zip(rows, bags, strict=True):
            for word in bag:
                pages_of[word].add(r["page"])
        frequent = sorted(w for w, pages in pages_of.items() if len(pages) >= 8)
        vocabulary = {w: k for k, w in enumerate(frequent)}
    at = [(j, vocabulary[w]) for j, bag in enumerate(bags) for w in bag if w in vocabulary]
    rows_, cols = zip(*at, strict=True) if at else ((), ())
    bag_matrix = sparse.csr_matrix(
        (np.ones(len(rows_)), (rows_, cols)), shape=(len(rows), len(vocabulary))
    )
    return sparse.hstack([sparse.csr_matrix(dense), bag_matrix]).tocsr(), vocabulary


def page_scores(rows: list[dict], remove: np.ndarray, pages: list[eq.Page]) -> tuple[float, float]:
    """Mean per-page ΔP and ΔR (4-gram multisets) over extractors × pages if ``remove``d."""
    gold = {p.page_id: eq._grams(p.gold or "") for p in pages}
    by_doc: dict[tuple[str, str], list[tuple[dict, bool]]] = defaultdict(list)
    for r, cut in zip(rows, remove, strict=True):
        by_doc[(r["extractor"], r["page"])].append((r, bool(cut)))
    dp = dr = 0.0
    for (_, page), items in by_doc.items():
        if not any(cut for _, cut in items):
            continue
        paras = items[0][0]["paras"]
        kept = [paras[r["index"]] for r, cut in items if not cut]
        g = gold[page]

        def pr(text: str, g: dict = g) -> tuple[float, float]:
            out = eq._grams(text)
            common = sum((out & g).values())
            total = sum(g.values())
            return (common / sum(out.values()) if out else 0.0), (common / total if total else 1.0)

        (p0, r0), (p1, r1) = pr("\n\n".join(paras)), pr("\n\n".join(kept))
        dp, dr = dp + p1 - p0, dr + r1 - r0
    n = len(pages) * len(eq.EXTRACTORS)
    return dp / n, dr / n


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=eq.DEFAULT_CACHE)
    parser.add_argument("--c", type=float, default=0.3, help="inverse regularisation")
    args = parser.parse_args(argv)
    halves = eq.split(eq.wcxb_pages(), args.seed)
    tune = paragraphs(halves["tune"], "tune", args.cache)
    measure = paragraphs(halves["measure"], "measure", args.cache)
    x_tune, vocabulary = matrix(tune)
    x_measure, _ = matrix(measure, vocabulary)
    y_tune = np.array([r["y"] for r in tune])
    y_measure = np.array([r["y"] for r in measure])
    model = LogisticRegression(C=args.c, max_iter=3000).fit(x_tune, y_tune)
    score = model.predict_proba(x_measure)[:, 1]
    print(
        f"tune: {len(tune):,} paragraphs ({y_tune.sum():,} boilerplate), {len(vocabulary):,} "
        f"words; measure: {len(measure):,} ({y_measure.sum():,})"
    )
    rows = [["threshold", "removed", "precision", "recall", "article paragraphs", "ΔP", "ΔR"]]
    for threshold in THRESHOLDS:
        cut = score > threshold
        hits = int((cut & (y_measure == 1)).sum())
        dp, dr = page_scores(measure, cut, halves["measure"])
        rows.append([f"{threshold}", f"{cut.sum():,}", f"{hits / max(cut.sum(), 1):.3f}",
                     f"{hits / max(y_measure.sum(), 1):.3f}", f"{int(cut.sum()) - hits:,}",
                     f"{dp:+.4f}", f"{dr:+.4f}"])  # fmt: skip
    print(eq._table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
