"""Cleaning quality on publishers nobody tuned for (issue 12): real extractors' output of real
article pages, before and after newsclean, scored against reviewed gold text.

Why: rules written against one corpus say nothing about the next publisher. This runs six
HTML extractors from PyPI on real pages, cleans each extractor's text with newsclean (the
whole run: clean, typos, dedup, learned boilerplate), and prints per extractor, before and
after cleaning, the scores of ../shared/corpora/README.md so that figures compare:

* tokens are ``\\w+`` runs (case folded); precision and recall over word 4-gram multisets
  against gold ``main_content``, averaged per page, and F1 of those means;
* ``without`` leak: the share of ``without`` snippets (boilerplate) whose folded text (case
  and whitespace) appears in the output; ``with`` kept: the share of ``with`` snippets that do.

Corpora: ``wcxb`` (711 WCXB dev article pages, CC-BY-4.0), split once with ``--seed`` into a
``tune`` half and a ``measure`` half (tune rules on the first, report the second, never tune
on it); ``trafilatura`` (990 pages of trafilatura's eval set, Apache-2.0, with/without
snippets only, no gold text), grouped by the language newsclean identifies.

Extractors (the bench extra: ``pip install -e '.[bench]'``, one package after another if the
resolver trips on ``lxml[html-clean]``): trafilatura, readability-lxml, justext, resiliparse,
newspaper4k, goose3. Their output is cached per corpus and extractor under ``--cache`` (the
extraction takes minutes, the cleaning seconds).

Usage::

    python bench/extraction_quality.py [--corpus wcxb] [--split measure] [--seed 0]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from typos import _table  # noqa: E402  (bench/typos.py: one table printer for the benches)

SHARED = BENCH.parent.parent / "shared" / "corpora"
WCXB = SHARED / "wcxb-dev-articles"
TRAFILATURA = SHARED / "trafilatura-eval"
DEFAULT_CACHE = Path("/tmp/newsclean-bench/extraction-cache")
EXTRACTORS = ("trafilatura", "readability", "justext", "resiliparse", "newspaper4k", "goose3")
_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


# --------------------------------------------------------------------------- pages


@dataclass
class Page:
    """One page: its HTML file, URL and the reviewed truth (gold text may be absent)."""

    page_id: str
    html_path: Path
    url: str
    gold: str | None
    with_snippets: list[str]
    without_snippets: list[str]


def _snippets(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        return [str(v) for v in ast.literal_eval(value)]
    return [value] if isinstance(value, str) and value else []


def wcxb_pages() -> list[Page]:
    pages = []
    for truth_path in sorted((WCXB / "ground-truth").glob("*.json")):
        record = json.loads(truth_path.read_text("utf-8"))
        truth = record["ground_truth"]
        if isinstance(truth, str):
            truth = ast.literal_eval(truth)
        pages.append(
            Page(
                record["file_id"],
                WCXB / "html" / f"{record['file_id']}.html.gz",
                record.get("url") or "",
                truth.get("main_content") or "",
                _snippets(truth.get("with")),
                _snippets(truth.get("without")),
            )
        )
    return pages


def trafilatura_pages() -> list[Page]:
    data = json.loads((TRAFILATURA / "evaldata.json").read_text("utf-8"))
    pages = []
    for key, record in sorted(data.items(), key=lambda kv: kv[1]["file"]):
        url = key.split("::", 1)[-1]
        url = url if url.startswith("http") else f"https://{url}"
        pages.append(
            Page(
                record["file"].split(".")[0],
                TRAFILATURA / "html" / record["file"],
                url,
                None,
                _snippets(record.get("with")),
                _snippets(record.get("without")),
            )
        )
    return pages


def split(pages: list[Page], seed: int) -> dict[str, list[Page]]:
    """A fixed half/half split: the same ``seed`` always gives the same halves."""
    order = sorted(pages, key=lambda p: p.page_id)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return {"tune": order[:half], "measure": order[half:], "all": order}


# --------------------------------------------------------------------------- extraction


def _html(page: Page) -> str:
    raw = gzip.decompress(page.html_path.read_bytes())
    return raw.decode("utf-8", errors="replace")


def _text_of_html(fragment: str) -> str:
    import lxml.html

    # lxml refuses a str that still carries an <?xml encoding=...?> declaration (and bytes
    # without a charset would be read as Latin-1): drop the declaration, keep the str
    fragment = _XML_DECLARATION.sub("", fragment or "") or "<div></div>"
    tree = lxml.html.fromstring(fragment)
    blocks = [
        " ".join(e.text_content().split())
        for e in tree.iter("p", "h1", "h2", "h3", "h4", "li", "blockquote", "pre")
    ]
    return "\n\n".join(b for b in blocks if b) or " ".join(tree.text_content().split())


def extract(extractor: str, html: str, url: str, stoplist: str = "English") -> str:
    """One extractor's text of one page, offline (calls from ../shared/notes)."""
    if extractor == "trafilatura":
        import trafilatura

        return trafilatura.extract(html, url=url) or ""
    if extractor == "readability":
        from readability import Document

        return _text_of_html(Document(html).summary())
    if extractor == "justext":
        import justext

        paragraphs = justext.justext(html.encode("utf-8"), justext.get_stoplist(stoplist))
        return "\n\n".join(p.text for p in paragraphs if not p.is_boilerplate)
    if extractor == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, main_content=True)
    if extractor == "newspaper4k":
        import newspaper

        # fetch_images=False: it would download the top image (no network here: it hangs)
        article = newspaper.Article(url or "https://example.invalid/", fetch_images=False)
        article.download(input_html=html)
        article.parse()
        return article.text or ""
    if extractor == "goose3":
        from goose3 import Goose

        goose = Goose({"enable_image_fetching": False})
        return goose.extract(raw_html=html).cleaned_text or ""
    raise ValueError(extractor)


def _extract_one(args: tuple[str, str, str, str]) -> tuple[str, str]:
    extractor, page_id, path, url = args
    html = gzip.decompress(Path(path).read_bytes()).decode("utf-8", errors="replace")
    try:
        stoplist = "English"
        if extractor == "justext":
            from newsclean.tasks.stages.language import identify

            code, _ = identify(_text_of_html(html)[:3000])
            stoplist = JUSTEXT_STOPLISTS.get(code or "en", "English")
        return page_id, extract(extractor, html, url, stoplist)
    except Exception as error:  # an extractor's own failure on a page: empty output
        print(f"  {extractor} failed on {page_id}: {type(error).__name__}", file=sys.stderr)
        return page_id, ""


JUSTEXT_STOPLISTS = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese",
    "it": "Italian", "pl": "Polish", "nl": "Dutch", "ru": "Russian",
}  # fmt: skip


def extracted(corpus: str, pages: list[Page], extractor: str, cache: Path) -> dict[str, str]:
    """page_id -> the extractor's text, from the cache or extracted now (2 processes)."""
    path = cache / corpus / f"{extractor}.jsonl"
    done: dict[str, str] = {}
    if path.exists():
        for line in path.read_text("utf-8").split("\n"):
            if not line:
                continue
            row = json.loads(line)
            done[row["page"]] = row["text"]
    todo = [(extractor, p.page_id, str(p.html_path), p.url) for p in pages if p.page_id not in done]
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(2) as pool, path.open("a", encoding="utf-8") as out:
            for page_id, text in pool.map(_extract_one, todo, chunksize=8):
                done[page_id] = text
                out.write(json.dumps({"page": page_id, "text": text}, ensure_ascii=False) + "\n")
    return {p.page_id: done[p.page_id] for p in pages}


# --------------------------------------------------------------------------- cleaning


def clean(pages: list[Page], texts: dict[str, str], typos: bool = True) -> dict[str, str]:
    """page_id -> newsclean's text: one whole run over the pages as a JSONL raw file, so
    every stage runs as it would for a user (a page dropped as a duplicate gets the text of
    the copy kept; a page emptied or quarantined gets "")."""
    from newsclean.tasks.pipeline.steps import run_inline

    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw", Path(tmp) / "clean"
        raw.mkdir()
        with (raw / "pages.jsonl").open("w", encoding="utf-8") as fh:
            for page in pages:
                record = {"id": page.page_id, "url": page.url, "text": texts[page.page_id]}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        run_inline(raw_dir=str(raw), out_dir=str(out), typos=typos, workers=2)
        return _cleaned_by_page(pages, out)


def _cleaned_by_page(pages: list[Page], out: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    articles = pq.read_table(out / "articles", columns=["doc_id", "text", "source_record"])
    by_doc = dict(zip(articles["doc_id"].to_pylist(), articles["text"].to_pylist(), strict=True))
    by_record = dict(
        zip(articles["source_record"].to_pylist(), articles["text"].to_pylist(), strict=True)
    )
    if (out / "duplicates").exists() and list((out / "duplicates").glob("*.parquet")):
        dups = pq.read_table(out / "duplicates", columns=["source_record", "kept_doc_id"])
        for record, kept in zip(
            dups["source_record"].to_pylist(), dups["kept_doc_id"].to_pylist(), strict=True
        ):
            by_record.setdefault(record, by_doc.get(kept, ""))
    return {page.page_id: by_record.get(i, "") or "" for i, page in enumerate(pages)}


# --------------------------------------------------------------------------- scores


def _grams(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text.lower())
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


@dataclass
class Scores:
    """Per-page means and snippet shares of one extractor's output."""

    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    leaked: int = 0
    without: int = 0
    kept: int = 0
    with_: int = 0

    def add(self, page: Page, text: str) -> None:
        if page.gold is not None:
            out, gold = _grams(text), _grams(page.gold)
            common = sum((out & gold).values())
            self.precision.append(common / sum(out.values()) if out else float(not gold))
            self.recall.append(common / sum(gold.values()) if gold else 1.0)
        folded = _fold(text)
        self.without += len(page.without_snippets)
        self.leaked += sum(_fold(s) in folded for s in page.without_snippets if _fold(s))
        self.with_ += len(page.with_snippets)
        self.kept += sum(_fold(s) in folded for s in page.with_snippets if _fold(s))

    @property
    def p(self) -> float:
        return sum(self.precision) / len(self.precision) if self.precision else float("nan")

    @property
    def r(self) -> float:
        return sum(self.recall) / len(self.recall) if self.recall else float("nan")

    @property
    def f1(self) -> float:
        return 2 * self.p * self.r / (self.p + self.r) if self.p + self.r else 0.0

    @property
    def leak(self) -> float:
        return self.leaked / self.without if self.without else 0.0

    @property
    def kept_share(self) -> float:
        return self.kept / self.with_ if self.with_ else 1.0


def score(pages: Iterable[Page], texts: dict[str, str]) -> Scores:
    scores = Scores()
    for page in pages:
        scores.add(page, texts[page.page_id])
    return scores


def wcxb_report(
    pages: list[Page], outputs: dict[str, dict[str, str]], cleaned: dict[str, dict[str, str]]
) -> str:
    rows = [["extractor", "P raw", "P clean", "ΔP", "R raw", "R clean", "ΔR", "F1 raw", "F1 clean",
             "leak raw", "leak clean", "kept raw", "kept clean"]]  # fmt: skip
    gains: list[tuple[float, float]] = []
    for name in outputs:
        raw, new = score(pages, outputs[name]), score(pages, cleaned[name])
        gains.append((new.p - raw.p, new.r - raw.r))
        rows.append([
            name, f"{raw.p:.3f}", f"{new.p:.3f}", f"{new.p - raw.p:+.3f}", f"{raw.r:.3f}",
            f"{new.r:.3f}", f"{new.r - raw.r:+.3f}", f"{raw.f1:.3f}", f"{new.f1:.3f}",
            f"{raw.leak:.1%}", f"{new.leak:.1%}", f"{raw.kept_share:.1%}", f"{new.kept_share:.1%}",
        ])  # fmt: skip
    mean_p = sum(g[0] for g in gains) / len(gains)
    mean_r = sum(g[1] for g in gains) / len(gains)
    return (
        _table(rows)
        + f"\nmean ΔP {mean_p:+.4f}, mean ΔR {mean_r:+.4f} over {len(gains)} extractors"
    )


def language_report(
    pages: list[Page], outputs: dict[str, dict[str, str]], cleaned: dict[str, dict[str, str]]
) -> str:
    from newsclean.tasks.stages.language import identify

    language = {p.page_id: identify("\n".join(p.with_snippets))[0] or "(unknown)" for p in pages}
    groups = {"de": [p for p in pages if language[p.page_id] == "de"],
              "en": [p for p in pages if language[p.page_id] == "en"],
              "other": [p for p in pages if language[p.page_id] not in ("de", "en")]}  # fmt: skip
    rows = [["extractor", "pages", "leak raw", "leak clean", "kept raw", "kept clean"]]
    for name in outputs:
        for group, members in groups.items():
            raw, new = score(members, outputs[name]), score(members, cleaned[name])
            rows.append([
                f"{name} {group}", str(len(members)), f"{raw.leak:.1%}", f"{new.leak:.1%}",
                f"{raw.kept_share:.1%}", f"{new.kept_share:.1%}",
            ])  # fmt: skip
    return _table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("wcxb", "trafilatura"), default="wcxb")
    parser.add_argument("--split", choices=("tune", "measure", "all"), default="measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extractors", default=",".join(EXTRACTORS))
    parser.add_argument("--limit", type=int, default=0, help="first N pages of the split")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-typos", action="store_true")
    args = parser.parse_args(argv)

    pages = wcxb_pages() if args.corpus == "wcxb" else trafilatura_pages()
    chosen = split(pages, args.seed)[args.split] if args.corpus == "wcxb" else pages
    chosen = chosen[: args.limit] if args.limit else chosen
    names = [n for n in args.extractors.split(",") if n]
    outputs = {n: extracted(args.corpus, pages, n, args.cache) for n in names}
    cleaned = {n: clean(chosen, outputs[n], typos=not args.no_typos) for n in names}
    which = f"split {args.split} (seed {args.seed})" if args.corpus == "wcxb" else "all pages"
    print(f"{args.corpus}, {which}: {len(chosen)} pages")
    report: Callable[..., str] = wcxb_report if args.corpus == "wcxb" else language_report
    print(report(chosen, outputs, cleaned))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
