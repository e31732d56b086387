"""Acceptance bench of issue 11 (languages): identification, no edits on other languages, no
false changes on British and American news, and typo recall with real misspellings injected.

Why a bench and not a test: the figures need all of NTREX (123 documents × 14 varieties, in
../shared/corpora/ntrex-news, CC BY-SA 4.0) and the misspelling lists bench/typos.py fetches;
tests run a small sample of the same checks (tests/test_language.py).

What it prints, against the issue's bars:

1. language identification on every NTREX document (the ``language`` stage's
   :func:`identify`, CLD2; bar ≥ 99 %) and on every sentence longer than 100 characters
   (:func:`identify_paragraph`, py3langid, what the typo stage asks of a paragraph; bar
   ≥ 97 %), per variety;
2. typo edits on each non-English variety after the clean chain (bar: 0);
3. typo edits on eng-GB, eng-US and eng-IN, per 10k tokens: professionally edited text, so
   every edit counts as a false change (bar ≤ 0.3);
4. precision and recall with misspellings injected (bench/typos.py's method) into English
   news: NTREX eng-GB + eng-US and the Lee corpus (ABC news). Lists: ``common`` (Wikipedia's
   list: CIRCULAR, codespell was seeded from it), ``independent`` (nlpaug's natural-noise
   learner errors), ``keyboard`` (bench/typos.py's slip generator). Bars: precision ≥ 0.97,
   recall ≥ 0.85 (common) and ≥ 0.75 (keyboard).

Usage::

    python bench/language.py [--rate 0.01] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import make_ntrex_sample as ntrex  # noqa: E402
import typos as typo_bench  # noqa: E402

from newsclean.tasks.stages.language import identify, identify_paragraph  # noqa: E402
from newsclean.tasks.stages.typos import corpus_vocabulary, correct_batch  # noqa: E402
from tests.helpers import clean_batch, make_batch  # noqa: E402

ENGLISH = ("eng-GB", "eng-US", "eng-IN")
TRAFILATURA = BENCH.parent.parent / "shared" / "corpora" / "trafilatura-eval" / "evaldata.json"


def documents(variety: str) -> list[str]:
    return ["\n\n".join(s) for s in ntrex.load_documents(variety).values()]


def identification() -> list[list[str]]:
    rows = [["variety", "docs", "docs right", "sentences>100", "sentences right"]]
    totals = [0, 0, 0, 0]
    for variety, code in ntrex.LANGUAGES.items():
        docs = ntrex.load_documents(variety)
        right = sum(identify("\n\n".join(s))[0] == code for s in docs.values())
        long = [line for s in docs.values() for line in s if len(line) > 100]
        long_right = sum(identify_paragraph(line) == code for line in long)
        rows.append([
            variety, str(len(docs)), f"{right / len(docs):.1%}", str(len(long)),
            f"{long_right / len(long):.1%}",
        ])  # fmt: skip
        totals = [
            a + b for a, b in zip(totals, (len(docs), right, len(long), long_right), strict=True)
        ]
    rows.append([
        "all", str(totals[0]), f"{totals[1] / totals[0]:.1%}", str(totals[2]),
        f"{totals[3] / totals[2]:.1%}",
    ])  # fmt: skip
    return rows


def typo_edits(variety: str) -> tuple[int, int, list[tuple[str, str]]]:
    """(edits, tokens, changes) of the typo stage on a variety after the clean chain."""
    docs = clean_batch(make_batch(*documents(variety))).docs
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    tokens = sum(len(t.split()) for t in docs.column("text").to_pylist())
    changes = [(e["before"], e["after"]) for e in result.edits.to_pylist()]
    return result.edits.num_rows, tokens, changes


def trafilatura_pages() -> list[str]:
    """Each eval page's reviewed "must be in the extraction" snippets as one document (real
    pages of 990 sites, about 700 German; the snippets are text the page really has)."""
    import ast
    import json

    pages = json.loads(TRAFILATURA.read_text("utf-8"))
    docs = []
    for page in pages.values():
        snippets = page.get("with") or []
        if isinstance(snippets, str):
            snippets = ast.literal_eval(snippets) if snippets.startswith("[") else [snippets]
        if snippets:
            docs.append("\n\n".join(snippets))
    return docs


def page_edits() -> list[list[str]]:
    """Typo edits on the trafilatura eval pages, by identified language."""
    docs = clean_batch(make_batch(*trafilatura_pages())).docs
    result = correct_batch(docs, corpus_vocabulary(docs.column("text")))
    language_of = dict(
        zip(docs.column("doc_id").to_pylist(), docs.column("language").to_pylist(), strict=True)
    )
    pages = Counter(c or "(unknown)" for c in docs.column("language").to_pylist())
    edits = Counter(
        language_of[d] or "(unknown)" for d in result.edits.column("doc_id").to_pylist()
    )
    rows = [["language", "pages", "typo edits"]]
    for code, n in pages.most_common(8):
        rows.append([code, str(n), str(edits[code])])
    rest = [c for c in pages if c not in dict(pages.most_common(8))]
    rows.append(["others", str(sum(pages[c] for c in rest)), str(sum(edits[c] for c in rest))])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=typo_bench.DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)

    print("1. language identification on NTREX (bars: documents ≥ 99 %, sentences ≥ 97 %)")
    print(typo_bench._table(identification()))

    print("\n2. typo edits on other languages after the clean chain (bar: 0)")
    rows = [["variety", "edits", "tokens"]]
    for variety in ntrex.LANGUAGES:
        if variety not in ENGLISH:
            edits, tokens, _ = typo_edits(variety)
            rows.append([variety, str(edits), f"{tokens:,}"])
    print(typo_bench._table(rows))
    if TRAFILATURA.exists():
        print("\n2b. typo edits on trafilatura's eval pages (their reviewed snippets), by language")
        print(typo_bench._table(page_edits()))

    print("\n3. false changes on professionally edited English (bar: ≤ 0.3 per 10k tokens)")
    rows = [["variety", "edits", "tokens", "per 10k", "changes"]]
    for variety in ENGLISH:
        edits, tokens, changes = typo_edits(variety)
        shown = ", ".join(f"{b}→{a}" for b, a in changes[:6]) or "-"
        rows.append([variety, str(edits), f"{tokens:,}", f"{1e4 * edits / tokens:.2f}", shown])
    print(typo_bench._table(rows))

    print("\n4. misspellings injected into English news (bars: precision ≥ 0.97; recall ≥ 0.85")
    print("   common, ≥ 0.75 keyboard); 'common' is CIRCULAR with the curated layer")
    wheels = typo_bench.fetch_wheels(args.data_dir)
    known = typo_bench.known_words()
    corpora = {
        "NTREX eng-GB+US": documents("eng-GB") + documents("eng-US"),
        "Lee (ABC news)": typo_bench.read_lee(wheels["gensim"]),
    }
    rows = [["corpus", "list", "injected", "TP", "wrong", "untouched", "other FP", "P", "R"]]
    by_rule: Counter[str] = Counter()
    for corpus, docs in corpora.items():
        lists = {
            "common": typo_bench.load_common(wheels["misspellings"], known),
            "independent": typo_bench.load_independent(wheels["nlpaug"], known),
            "keyboard": typo_bench.keyboard_slips(typo_bench.corpus_words(docs), known, args.seed),
        }
        for name, misspellings in lists.items():
            score, run = typo_bench.score_list(name, docs, misspellings, args.rate, args.seed)
            by_rule.update(c.rule for c in run.changes)
            rows.append([
                corpus, name, str(score.injected), str(len(score.tp)), str(len(score.wrong)),
                str(len(score.untouched)), str(len(score.other)), f"{score.precision:.3f}",
                f"{score.recall:.3f}",
            ])  # fmt: skip
    print(typo_bench._table(rows))
    print(
        "changes by rule over all injected runs: "
        + ", ".join(f"{r} {n}" for r, n in by_rule.most_common())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
