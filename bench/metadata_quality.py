"""Metadata analysts can trust (issue 14): extractors' authors and dates of real article
pages, before and after newsclean, against WCXB's reviewed ``author`` and ``publish_date``.

Why: an author field of "By Jane Smith | Senior Reporter" or a date later than the crawl is
what scrapers hand over; newsclean's ``authors`` and ``dates`` stages are meant to fix those
without losing real names and dates. This runs extractors that return metadata (trafilatura,
newspaper4k, goose3: the bench extra) over the 711 WCXB dev pages, feeds each extractor's
records (URL, text, author, date) through one whole newsclean run, and prints per extractor:

* **authors**, on pages whose gold has an author: the share whose field names exactly the
  gold bylines (the case-folded word multiset of the names, "and"/"&" ignored), before (the
  extractor's string or list) and after (``authors`` plus ``author_orgs``: WCXB's gold
  names people and teams alike, "Camphouse Team"); on pages whose gold has none: the share
  that still carry an author (a job title, a slogan, a site name);
* **dates**, on pages whose gold has a date: the share whose calendar date equals it
  (and within one day, as time zones move a date across midnight), before (the extractor's
  date) and after (``published_at``, including dates ``published_inferred`` from the URL);
  and the share that have any date at all.

A page the run drops as a copy counts with its kept copy's fields. Extractor output is
cached under ``--cache`` (``wcxb/meta-<extractor>.jsonl``).

Usage::

    python bench/metadata_quality.py [--extractors trafilatura,newspaper4k,goose3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from extraction_quality import DEFAULT_CACHE, WCXB  # noqa: E402
from typos import _table  # noqa: E402

EXTRACTORS = ("trafilatura", "newspaper4k", "goose3")
_NAME_TOKEN = re.compile(r"\w+")
_JOINERS = {"and", "&"}


def gold_pages() -> list[dict[str, Any]]:
    pages = []
    for path in sorted((WCXB / "ground-truth").glob("*.json")):
        record = json.loads(path.read_text("utf-8"))
        truth = record["ground_truth"]
        pages.append(
            {
                "page": record["file_id"],
                "url": record.get("url") or "",
                "author": truth.get("author") or None,
                "date": truth.get("publish_date") or None,
                "text": truth.get("main_content") or "",
            }
        )
    return pages


def _metadata(extractor: str, html: str, url: str) -> dict[str, Any]:
    """One extractor's text, author(s) and date of one page, offline."""
    if extractor == "trafilatura":
        import trafilatura

        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        if doc is None:
            return {"text": "", "author": None, "date": None}
        found = doc if isinstance(doc, dict) else doc.as_dict()
        return {"text": found.get("text") or "", "author": found.get("author"),
                "date": found.get("date")}  # fmt: skip
    if extractor == "newspaper4k":
        import newspaper

        article = newspaper.Article(url or "https://example.invalid/", fetch_images=False)
        article.download(input_html=html)
        article.parse()
        published = article.publish_date
        return {"text": article.text or "", "author": list(article.authors) or None,
                "date": published.isoformat() if published else None}  # fmt: skip
    if extractor == "goose3":
        from goose3 import Goose

        article = Goose({"enable_image_fetching": False}).extract(raw_html=html)
        return {"text": article.cleaned_text or "", "author": list(article.authors) or None,
                "date": article.publish_date or None}  # fmt: skip
    raise ValueError(extractor)


def _extract_one(args: tuple[str, str, str]) -> tuple[str, dict[str, Any]]:
    extractor, page_id, url = args
    html = gzip.decompress((WCXB / "html" / f"{page_id}.html.gz").read_bytes())
    try:
        return page_id, _metadata(extractor, html.decode("utf-8", errors="replace"), url)
    except Exception as error:  # the extractor's own failure on a page
        print(f"  {extractor} failed on {page_id}: {type(error).__name__}", file=sys.stderr)
        return page_id, {"text": "", "author": None, "date": None}


def extracted(pages: list[dict], extractor: str, cache: Path) -> dict[str, dict[str, Any]]:
    path = cache / "wcxb" / f"meta-{extractor}.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            done[row.pop("page")] = row
    todo = [(extractor, p["page"], p["url"]) for p in pages if p["page"] not in done]
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(2) as pool, path.open("a", encoding="utf-8") as out:
            for page_id, row in pool.map(_extract_one, todo, chunksize=8):
                done[page_id] = row
                out.write(json.dumps({"page": page_id, **row}, ensure_ascii=False) + "\n")
    return {p["page"]: done[p["page"]] for p in pages}


def cleaned(pages: list[dict], found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """page -> newsclean's ``authors`` and ``published_at`` after one whole run over the
    extractor's records (a dropped copy gets its kept copy's fields)."""
    import pyarrow.parquet as pq

    from newsclean.tasks.pipeline.steps import run_inline

    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw", Path(tmp) / "clean"
        raw.mkdir()
        with (raw / "pages.jsonl").open("w", encoding="utf-8") as fh:
            for page in pages:
                row = found[page["page"]]
                record = {
                    "id": page["page"],
                    "url": page["url"],
                    "text": row["text"] or page["text"],
                    "author": row["author"],
                    "date": row["date"],
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        run_inline(raw_dir=str(raw), out_dir=str(out), typos=False, workers=2)
        columns = ["doc_id", "source_record", "authors", "author_orgs", "published_at"]
        articles = pq.read_table(out / "articles", columns=columns).to_pylist()
        for row in articles:  # WCXB's gold author names people and organisations alike
            row["bylines"] = (row["authors"] or []) + (row["author_orgs"] or [])
        by_doc = {a["doc_id"]: a for a in articles}
        by_record = {a["source_record"]: a for a in articles}
        if list((out / "duplicates").glob("*.parquet")):
            dups = pq.read_table(out / "duplicates", columns=["source_record", "kept_doc_id"])
            for dup in dups.to_pylist():
                by_record.setdefault(dup["source_record"], by_doc.get(dup["kept_doc_id"], {}))
    empty = {"authors": None, "bylines": None, "published_at": None}
    return {p["page"]: by_record.get(i, empty) for i, p in enumerate(pages)}


def name_words(value: Any) -> Counter[str]:
    """The case-folded words of an author field (a string or a list of names)."""
    names = value if isinstance(value, list) else [value] if value else []
    words = (w for name in names for w in _NAME_TOKEN.findall(str(name).casefold()))
    return Counter(w for w in words if w not in _JOINERS)


def calendar_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value))
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def scores(pages: list[dict], fields: dict[str, dict[str, Any]], author: str, when: str) -> dict:
    """The shares of the module doc for one set of fields (``author``/``when``: their keys)."""
    named = [p for p in pages if p["author"]]
    unnamed = [p for p in pages if not p["author"]]
    dated = [p for p in pages if calendar_date(p["date"])]

    def share(hits: int, of: list) -> float:
        return hits / len(of) if of else 0.0

    same_date = one_day = any_date = 0
    for page in dated:
        found = calendar_date(fields[page["page"]].get(when))
        gold = calendar_date(page["date"])
        any_date += found is not None
        same_date += found == gold
        one_day += found is not None and gold is not None and abs((found - gold).days) <= 1
    return {
        "authors_match": share(
            sum(
                name_words(fields[p["page"]].get(author)) == name_words(p["author"]) for p in named
            ),
            named,
        ),
        "false_author": share(
            sum(bool(name_words(fields[p["page"]].get(author))) for p in unnamed), unnamed
        ),
        "date_match": share(same_date, dated),
        "date_within_1d": share(one_day, dated),
        "date_present": share(any_date, dated),
        "n_named": len(named),
        "n_unnamed": len(unnamed),
        "n_dated": len(dated),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractors", default=",".join(EXTRACTORS))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    if not WCXB.exists():
        print(f"WCXB dev pages not found at {WCXB}", file=sys.stderr)
        return 2
    pages = gold_pages()
    rows = []
    for extractor in args.extractors.split(","):
        found = extracted(pages, extractor, args.cache)
        before = scores(pages, found, "author", "date")
        after = scores(pages, cleaned(pages, found), "bylines", "published_at")
        rows.append(
            [
                extractor,
                f"{before['authors_match']:.1%} → {after['authors_match']:.1%}",
                f"{before['false_author']:.1%} → {after['false_author']:.1%}",
                f"{before['date_match']:.1%} → {after['date_match']:.1%}",
                f"{before['date_within_1d']:.1%} → {after['date_within_1d']:.1%}",
                f"{before['date_present']:.1%} → {after['date_present']:.1%}",
            ]
        )
    print(
        f"WCXB dev: {before['n_named']} pages with a gold author, {before['n_unnamed']} "
        f"without; {before['n_dated']} with a gold date. Before → after newsclean."
    )
    header = ["extractor", "authors = gold", "author where gold has none", "date = gold",
              "date within 1 day", "has a date"]  # fmt: skip
    print(_table([header, *rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
