"""Learned-boilerplate benchmark: does newsclean remove each publisher's own repeated lines,
and only those?

Why: the learned layer (rule ``learned.repeated-line``, stage ``learned-boilerplate``) removes
a short paragraph once it recurs in enough distinct stories of one publisher. Its two ways
to fail are invisible without ground truth: missing a publisher's masthead or author bio
(recall), and learning a *story's* paragraphs because the story was syndicated or
republished (precision; the bar is zero genuine paragraphs removed). A corpus from
``bench/make_boilerplate_corpus.py`` records every line it inserted, so this script

1. runs the whole CLI (``python -m newsclean.cli run CORPUS/raw --out WORK/clean
   --no-typos``, after wiping ``WORK/clean``) as a subprocess, timing it and sampling its
   process tree's peak memory, and reads the run summary (``runs/*.json``: ``bytes_in``,
   ``seconds``, ``mb_per_s`` and, once the layer exists, its ``boilerplate`` figures);
2. maps each kept article back to its corpus record (``articles.extra`` holds the input's
   ``id``) -- only kept articles are scored: a dropped copy's text is not published;
3. classifies every injected line of a kept article: removed by the learned layer, removed
   by an existing rule, still a paragraph of the clean text, *glued* (inside a longer
   paragraph: reflow joined it to a neighbour before the layer could see it) or otherwise
   altered; and every learned removal: an injected line, a genuine story paragraph, or
   neither;
4. prints recall (learned removals of injected lines / injected lines still present after
   the rule packs), precision (learned removals that are injected lines / all learned
   removals), genuine paragraphs removed (overall, in syndicated stories, in same-publisher
   republications the dedup did not cluster) and removals in the no-domain pool, overall,
   per publisher, by line role, by the line's support (distinct stories of its publisher)
   and for digit-varying lines; then the pipeline's MB/s and the layer's own cost.

Paragraphs are compared after collapsing whitespace (case kept); a paragraph the pipeline
changed more (quotes, mojibake) is matched on its case- and punctuation-folded form, and a
``before`` cut at 2,000 characters by its prefix. It works before the layer exists: recall
is then 0 and it says that no learned removals were found.

Usage::

    python bench/boilerplate.py /tmp/newsclean-bench/bp-corpus --make --publishers 20 --stories 200
    python bench/boilerplate.py /tmp/newsclean-bench/bp-corpus --work /tmp/bp-work
    python bench/boilerplate.py /tmp/bp-cms --make --platforms 3   # lines across publishers

Figures go to stdout and to ``WORK/boilerplate-bench.json`` (``WORK`` defaults to
``CORPUS/bench``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from procmem import measure  # noqa: E402  (bench/ is run as scripts)

#: Both learned rules: a publisher's own lines and lines learned across publishers.
LEARNED_PREFIX = ("learned.repeated-line/", "learned.corpus-line/")
STAGES = ["boilerplate", "learned-boilerplate"]  # the rule packs' removals and the learned
SNIPPET_CHARS = (
    2000  # newsclean.tasks.stages.edits.SNIPPET_CHARS: longer before/after are cut with "…"
)
NO_DOMAIN = "(no domain)"
SUPPORT_BUCKETS = ((1, 2), (3, 4), (5, 9), (10, 49), (50, 10**9))
N_EXAMPLES = 12

_WS = re.compile(r"\s+")
_FOLD = re.compile(r"[\W_]+")


def norm(text: str) -> str:
    """Whitespace collapsed, case and punctuation kept: how a paragraph should survive."""
    return _WS.sub(" ", text).strip()


def fold(text: str) -> str:
    """Case and punctuation folded: the fallback when cleaning changed quotes or mojibake."""
    return _FOLD.sub(" ", text.casefold()).strip()


class _Matcher:
    """Finds which of a document's paragraphs a removed span is, tolerant of cleaning."""

    def __init__(self, paragraphs: Iterable[str]) -> None:
        self.paras = list(paragraphs)
        self.by_norm = {norm(p): i for i, p in enumerate(self.paras)}
        self.by_fold = {fold(p): i for i, p in enumerate(self.paras)}

    def find(self, text: str) -> tuple[int | None, str]:
        """Index of the matching paragraph and how it matched (``norm``, ``fold``, ``prefix``)."""
        key = norm(text)
        if key in self.by_norm:
            return self.by_norm[key], "norm"
        folded = fold(text)
        if folded and folded in self.by_fold:
            return self.by_fold[folded], "fold"
        if len(text) >= SNIPPET_CHARS - 1 and text.endswith("…"):
            head = norm(text[:-1])
            for i, p in enumerate(self.paras):
                if norm(p).startswith(head):
                    return i, "prefix"
        return None, ""


# --------------------------------------------------------------------------- running


def run_pipeline(corpus: Path, work: Path) -> dict[str, Any]:
    """The whole CLI on ``CORPUS/raw`` into a fresh ``WORK/clean``, timed and memory-sampled."""
    clean = work / "clean"
    if clean.exists():
        shutil.rmtree(clean)
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "newsclean.cli", "run", str(corpus / "raw"), "--out", str(clean)]
    cmd.append("--no-typos")
    log = work / "newsclean.log"
    return {"cmd": cmd, **measure(cmd, log, cwd=REPO_DIR), "log": str(log)}


def read_run_summary(clean: Path) -> dict[str, Any]:
    """The run's ``runs/<run_id>.json`` (the latest one), or ``{}`` when there is none."""
    runs = sorted((clean / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text(encoding="utf-8")) if runs else {}


def load_outputs(clean: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Kept articles, boilerplate-stage edits and duplicates of the run."""
    articles = pd.read_parquet(
        clean / "articles", columns=["doc_id", "domain", "text", "extra", "dup_cluster"]
    )
    edits = pd.read_parquet(
        clean / "edits",
        columns=["doc_id", "stage", "rule", "before"],
        filters=[("stage", "in", STAGES)],
    )
    dup_dir = clean / "duplicates"
    duplicates = (
        pd.read_parquet(dup_dir, columns=["doc_id", "kept_doc_id", "kind"])
        if dup_dir.exists() and any(dup_dir.glob("*.parquet"))
        else pd.DataFrame(columns=["doc_id", "kept_doc_id", "kind"])
    )
    return articles, edits, duplicates


def corpus_id(extra: str | None) -> str | None:
    """The input record's ``id``, kept by ingest in the ``extra`` JSON column."""
    if not extra:
        return None
    try:
        value = json.loads(extra).get("id")
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None else None


# --------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    """Counts for one group of documents (overall, a publisher, a role...)."""

    docs: int = 0
    injected: int = 0  # injected lines in kept documents
    by_rules: int = 0  # ... removed by an existing rule (no longer there for the layer)
    learned_hit: int = 0  # ... removed by the learned layer
    in_text: int = 0  # ... still a paragraph of the clean text
    glued: int = 0  # ... inside a longer paragraph (reflow joined it to a neighbour)
    altered: int = 0  # ... none of the above
    learned: int = 0  # learned removals (paragraphs)
    learned_injected: int = 0
    learned_genuine: int = 0
    learned_other: int = 0
    genuine: int = 0  # genuine paragraphs in kept documents
    genuine_by_rules: int = 0

    @property
    def present(self) -> int:
        """Injected lines the learned layer could still remove."""
        return self.injected - self.by_rules

    def recall(self) -> float | None:
        return round(self.learned_hit / self.present, 4) if self.present else None

    def precision(self) -> float | None:
        return round(self.learned_injected / self.learned, 4) if self.learned else None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.update(present=self.present, recall=self.recall(), precision=self.precision())
        return out


@dataclass
class Scores:
    """Every figure of the scoring pass."""

    overall: Tally = field(default_factory=Tally)
    publisher: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    role: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    support: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    digits: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    genuine_removed: Counter[str] = field(default_factory=Counter)
    match_kinds: Counter[str] = field(default_factory=Counter)
    lines_hit: set[str] = field(default_factory=set)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def _bucket(support: int) -> str:
    for lo, hi in SUPPORT_BUCKETS:
        if lo <= support <= hi:
            return f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"
    return "0"


def _pieces(befores: Iterable[str]) -> list[str]:
    """Removed paragraphs: one edit may hold several (a credit and its caption)."""
    return [p for b in befores for p in b.split("\n\n") if p.strip()]


def _example(kind: str, scores: Scores, **row: Any) -> None:
    if len(scores.examples[kind]) < N_EXAMPLES:
        scores.examples[kind].append({k: str(v)[:300] for k, v in row.items()})


def score(
    truth: pd.DataFrame,
    articles: pd.DataFrame,
    edits: pd.DataFrame,
    unclustered: set[str],
    line_support: dict[str, int],
    digit_lines: set[str],
) -> Scores:
    """Classify every injected line and every learned removal of the kept articles."""
    is_learned = edits["rule"].str.startswith(LEARNED_PREFIX)
    learned_by_doc = edits[is_learned].groupby("doc_id")["before"].apply(list).to_dict()
    rules_by_doc = edits[~is_learned].groupby("doc_id")["before"].apply(list).to_dict()
    truth_by_id = truth.set_index("id").to_dict("index")
    s = Scores()
    for doc_id, cid, text in zip(
        articles["doc_id"], articles["cid"], articles["text"], strict=True
    ):
        t = truth_by_id.get(cid) if cid is not None else None
        if t is None:
            continue
        pub = t["domain"] if isinstance(t["domain"], str) else NO_DOMAIN
        kind = t["story_kind"]
        injected, line_ids = list(t["injected"]), list(t["injected_line_ids"])
        genuine = list(t["genuine"])
        learned = _pieces(learned_by_doc.get(doc_id, []))
        by_rules = _pieces(rules_by_doc.get(doc_id, []))
        inj_m, gen_m = _Matcher(injected), _Matcher(genuine)
        text_m = _Matcher((text or "").split("\n\n"))
        learned_hits: set[int] = set()
        groups = [s.overall, s.publisher[pub]]
        for g in groups:
            g.docs += 1
            g.genuine += len(genuine)
        for para in learned:
            i, how = inj_m.find(para)
            s.match_kinds[how or "none"] += 1
            for g in groups:
                g.learned += 1
            if i is not None:
                learned_hits.add(i)
                for g in groups:
                    g.learned_injected += 1
                continue
            j, _ = gen_m.find(para)
            if j is not None:
                for g in groups:
                    g.learned_genuine += 1
                s.genuine_removed["all"] += 1
                s.genuine_removed[f"story_kind={kind}"] += 1
                if t["syndicated"]:
                    s.genuine_removed["syndicated"] += 1
                if t["story_id"] in unclustered:
                    s.genuine_removed["same_publisher_unclustered"] += 1
                _example("genuine_removed", s, id=cid, domain=pub, kind=kind, before=para)
            else:
                for g in groups:
                    g.learned_other += 1
                _example("other_removed", s, id=cid, domain=pub, before=para)
        rules_hits = {i for i, _ in (inj_m.find(p) for p in by_rules) if i is not None}
        for p in by_rules:
            j, _ = gen_m.find(p)
            if j is not None and inj_m.find(p)[0] is None:
                for g in groups:
                    g.genuine_by_rules += 1
        for i, (line, lid) in enumerate(zip(injected, line_ids, strict=True)):
            role = lid.split(".")[1]
            line_groups = [
                *groups,
                s.role[role],
                s.support[_bucket(line_support.get(lid, 0))],
                s.digits["digit-varying" if lid in digit_lines else "fixed"],
            ]
            for g in line_groups:
                g.injected += 1
            if i in learned_hits:
                s.lines_hit.add(lid)
                for g in line_groups:
                    g.learned_hit += 1
            elif i in rules_hits:
                for g in line_groups:
                    g.by_rules += 1
                _example("caught_by_rules", s, id=cid, domain=pub, line=line)
            elif text_m.find(line)[0] is not None:
                for g in line_groups:
                    g.in_text += 1
            elif norm(line) in norm(text or ""):
                for g in line_groups:
                    g.glued += 1
                _example("glued", s, id=cid, domain=pub, line=line)
            else:
                for g in line_groups:
                    g.altered += 1
                _example("altered", s, id=cid, domain=pub, line=line)
    return s


def dedup_context(truth: pd.DataFrame, kept_ids: set[str]) -> tuple[dict[str, Any], set[str]]:
    """How the dedup treated the syndicated stories, and the same-publisher stories of which
    more than one copy was kept at that publisher (their paragraphs count more than once)."""
    kept = truth[truth["id"].isin(kept_ids)]
    per_story = kept.groupby(["story_id", "story_kind"]).size().rename("kept").reset_index()
    same = per_story[per_story["story_kind"] == "same"]
    unclustered = set(same.loc[same["kept"] > 1, "story_id"])
    docs = truth.groupby("story_kind").size().to_dict()
    kept_docs = kept.groupby("story_kind").size().to_dict()
    cross = per_story[per_story["story_kind"] == "cross"]
    return {
        "docs_by_story_kind": {k: int(v) for k, v in docs.items()},
        "kept_by_story_kind": {k: int(v) for k, v in kept_docs.items()},
        "cross_stories_with_more_than_one_kept": int((cross["kept"] > 1).sum()),
        "same_stories": len(same),
        "same_stories_unclustered": len(unclustered),
    }, unclustered


def line_tables(truth: pd.DataFrame, meta: dict[str, Any]) -> tuple[dict[str, int], set[str]]:
    """Support of each line (distinct stories of its publisher that carry it) and the ids of
    the lines whose digits vary per document."""
    exploded = truth[["story_id", "injected_line_ids"]].explode("injected_line_ids").dropna()
    support = exploded.groupby("injected_line_ids")["story_id"].nunique().to_dict()
    digits = {
        ln["line_id"]
        for p in meta.get("publishers", [])
        for ln in p["lines"]
        if ln["digit_varying"]
    }
    return {k: int(v) for k, v in support.items()}, digits


# --------------------------------------------------------------------------- report


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _header(first: str, with_class: bool = False) -> str:
    """Column heads: docs kept; injected lines: in kept docs, caught by existing rules,
    removed by the learned layer, still a paragraph of the text, glued into a longer one,
    otherwise altered; recall; learned removals, precision, of them genuine paragraphs and
    unmatched paragraphs."""
    cls = f"{'class':6} " if with_class else ""
    return (
        f"{first:30} {cls}{'docs':>5} {'inj':>6} {'rules':>5} {'learn':>6} {'intext':>6} "
        f"{'glued':>5} {'alter':>5} {'recall':>6} {'remov':>6} {'prec':>6} {'genu':>5} "
        f"{'other':>5}"
    )


def _row(name: str, t: Tally, cls: str | None = None, lines_only: bool = False) -> str:
    """One table row; ``lines_only`` groups (role, support) have no documents or removals of
    their own: those columns show "-"."""
    dash = f"{'-':>5}"
    removals = (
        f"{dash:>6} {dash:>6} {dash} {dash}"
        if lines_only
        else f"{t.learned:>6} {_fmt(t.precision())} {t.learned_genuine:>5} {t.learned_other:>5}"
    )
    return (
        f"{name[:30]:30} {'' if cls is None else f'{cls:6} '}"
        f"{dash if lines_only else f'{t.docs:>5}'} {t.injected:>6} {t.by_rules:>5} "
        f"{t.learned_hit:>6} {t.in_text:>6} {t.glued:>5} {t.altered:>5} {_fmt(t.recall())} "
        f"{removals}"
    )


def print_report(report: dict[str, Any], scores: Scores, meta: dict[str, Any]) -> None:
    run, summary = report["run"], report["run_summary"]
    o = scores.overall
    print(
        f"newsclean run --no-typos: wall {run['wall_seconds']} s, flow "
        f"{summary.get('seconds')} s, {summary.get('bytes_in', 0) / 1e6:.1f} MB in, "
        f"{summary.get('mb_per_s')} MB/s (flow), "
        f"{report['mb_per_s_wall']} MB/s (wall), peak RSS {run['peak_rss_mb']} MB"
    )
    bp = summary.get("boilerplate")
    if bp:
        print(f"learned layer (run summary 'boilerplate'): {json.dumps(bp, default=str)}")
        cost = report.get("learned_layer_cost", {})
        if cost:
            print(
                f"  its cost: {cost.get('seconds')} s = {cost.get('share_of_flow')} of the flow, "
                f"{cost.get('mb_per_s')} MB/s over the input"
            )
    else:
        print("learned layer: no 'boilerplate' figures in the run summary")
    d = report["dedup"]
    print(
        f"documents in {summary.get('documents_in')}, kept {report['kept_scored']} scored "
        f"(duplicates dropped {report['duplicates']}); same-publisher republished stories "
        f"{d['same_stories']}, of which {d['same_stories_unclustered']} left with > 1 kept copy"
    )
    if not o.learned:
        print(
            f"\nNO LEARNED REMOVALS FOUND (no edits rule starting {LEARNED_PREFIX!r} on kept "
            "articles): the layer is absent or removed nothing; recall is 0."
        )
    print(
        f"\noverall: injected lines in kept docs {o.injected:,}, caught by existing rules "
        f"{o.by_rules:,}, present {o.present:,}, removed by learned layer {o.learned_hit:,}, "
        f"still in text {o.in_text:,}, glued to a neighbour by reflow {o.glued:,}, otherwise "
        f"altered {o.altered:,}"
    )
    print(
        f"recall {o.recall()}  precision {o.precision()}  learned removals {o.learned:,} "
        f"(injected {o.learned_injected:,}, genuine {o.learned_genuine:,}, other "
        f"{o.learned_other:,}); distinct lines learned {len(scores.lines_hit)} of "
        f"{report['lines_total']} ({report['lines_learnable']} with support >= 3)"
    )
    g = report["genuine_removed"]
    print(
        f"genuine paragraphs removed by the learned layer: {g.get('all', 0)} (bar: 0); in "
        f"syndicated stories {g.get('syndicated', 0)}, cross-publisher "
        f"{g.get('story_kind=cross', 0)}, same-publisher {g.get('story_kind=same', 0)} "
        f"(unclustered {g.get('same_publisher_unclustered', 0)}); genuine removed by existing "
        f"rules {o.genuine_by_rules} (not the layer's doing)"
    )
    pool = scores.publisher.get(NO_DOMAIN, Tally())
    print(f"no-domain pool: {pool.docs} kept docs, learned removals {pool.learned} (bar: 0)")
    classes = {p["domain"]: p["size_class"] for p in meta.get("publishers", [])}
    print()
    print(_header("publisher", with_class=True))
    for pub in sorted(scores.publisher, key=lambda p: (p == NO_DOMAIN, p)):
        print(_row(pub, scores.publisher[pub], classes.get(pub, "-")))
    print(_row("ALL", o, ""))
    for title, groups in (
        ("line role", scores.role),
        ("line support (stories)", scores.support),
        ("line digits", scores.digits),
    ):
        print()
        print(_header(title))
        for name in sorted(groups, key=lambda k: (len(k), k)):
            print(_row(name, groups[name], lines_only=True))
    for kind, rows in scores.examples.items():
        print(f"\nexamples: {kind}")
        for row in rows[:5]:
            print("  ", json.dumps(row, ensure_ascii=False)[:240])


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="folder made by make_boilerplate_corpus.py")
    ap.add_argument("--work", type=Path, default=None, help="scratch (default CORPUS/bench)")
    ap.add_argument("--make", action="store_true", help="generate the corpus first")
    ap.add_argument("--publishers", type=int, default=20, help="with --make")
    ap.add_argument("--stories", type=int, default=200, help="with --make")
    ap.add_argument("--seed", type=int, default=0, help="with --make")
    ap.add_argument("--platforms", type=int, default=0, help="with --make: CMS widget lines")
    args = ap.parse_args(argv)
    corpus: Path = args.corpus
    work: Path = args.work or corpus / "bench"
    if args.make:
        import make_boilerplate_corpus as maker

        made = maker.make_boilerplate_corpus(
            corpus, args.publishers, args.stories, args.seed, platforms=args.platforms
        )
        print(maker._summary(made), end="\n\n")
    if not (corpus / "meta.json").exists():
        raise SystemExit(f"{corpus}/meta.json missing: generate the corpus (or pass --make)")
    meta = json.loads((corpus / "meta.json").read_text(encoding="utf-8"))
    truth = pd.read_parquet(corpus / "truth.parquet")

    run = run_pipeline(corpus, work)
    clean = work / "clean"
    summary = read_run_summary(clean)
    articles, edits, duplicates = load_outputs(clean)
    articles["cid"] = [corpus_id(e) for e in articles["extra"]]
    kept_ids = {c for c in articles["cid"] if c is not None}
    dedup, unclustered = dedup_context(truth, kept_ids)
    support, digit_lines = line_tables(truth, meta)
    scores = score(truth, articles, edits, unclustered, support, digit_lines)

    kept_doc_ids = set(articles["doc_id"])
    learned_rows = edits[edits["rule"].str.startswith(LEARNED_PREFIX)]
    bytes_in = summary.get("bytes_in") or meta.get("total_bytes", 0)
    report: dict[str, Any] = {
        "corpus": str(corpus),
        "work": str(work),
        "run": run,
        "run_summary": {k: v for k, v in summary.items() if k not in ("examples", "lengths")},
        "mb_per_s_wall": round(bytes_in / 1e6 / run["wall_seconds"], 3),
        "kept_scored": scores.overall.docs,
        "articles": len(articles),
        "duplicates": len(duplicates),
        "dedup": dedup,
        "learned_rules": learned_rows["rule"].value_counts().to_dict(),
        "learned_rows_on_dropped_copies": int((~learned_rows["doc_id"].isin(kept_doc_ids)).sum()),
        "overall": scores.overall.as_dict(),
        "per_publisher": {k: v.as_dict() for k, v in sorted(scores.publisher.items())},
        "by_role": {k: v.as_dict() for k, v in sorted(scores.role.items())},
        "by_support": {k: v.as_dict() for k, v in sorted(scores.support.items())},
        "by_digits": {k: v.as_dict() for k, v in sorted(scores.digits.items())},
        "genuine_removed": dict(scores.genuine_removed),
        "learned_match_kinds": dict(scores.match_kinds),
        "lines_total": len(support),
        "lines_learnable": sum(v >= 3 for v in support.values()),
        "lines_learned": sorted(scores.lines_hit),
        "examples": dict(scores.examples),
        "no_learned_removals": scores.overall.learned == 0,
    }
    bp = summary.get("boilerplate") or {}
    if isinstance(bp, dict) and bp.get("seconds") is not None:
        secs = float(bp["seconds"])
        flow = summary.get("seconds") or 0
        report["learned_layer_cost"] = {
            "seconds": secs,
            "share_of_flow": round(secs / flow, 3) if flow else None,
            "mb_per_s": round(bytes_in / 1e6 / secs, 1) if secs > 0 else None,
        }
    print_report(report, scores, meta)
    out = work / "boilerplate-bench.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
