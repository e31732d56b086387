"""Write the NTREX test sample: the first documents of NTREX-128 in every shipped language.

Why a script: tests must run where ../shared/ is not (a clone on another machine), and real
text may not be hand-edited into a test. This derives ``tests/data/ntrex-sample.jsonl`` (one
record per document and language: ``lang``, ``doc``, ``text`` with one sentence per
paragraph) from ``../shared/corpora/ntrex-news`` and copies its licence (CC BY-SA 4.0) beside
it. Run from the repository root::

    python bench/make_ntrex_sample.py [--docs 6]
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "corpora" / "ntrex-news"
TARGET = REPO / "tests" / "data" / "ntrex-sample.jsonl"
LANGUAGES = {
    "eng-GB": "en", "eng-US": "en", "eng-IN": "en", "deu": "de", "fra": "fr", "spa": "es",
    "por": "pt", "ita": "it", "nld": "nl", "rus": "ru", "ind": "id", "ces": "cs", "pol": "pl",
    "tur": "tr",
}  # fmt: skip


def load_documents(variety: str, source: Path = SOURCE) -> dict[str, list[str]]:
    """NTREX's documents of one variety (``eng-GB``, ``deu``...): id -> its sentences."""
    ids = [line.split("\t")[0] for line in (source / "DOCUMENT_IDS.tsv").read_text().splitlines()]
    lines = (source / f"newstest2019-ref.{variety}.txt").read_text("utf-8").splitlines()
    docs: dict[str, list[str]] = defaultdict(list)
    for doc, line in zip(ids, lines, strict=True):
        docs[doc].append(line)
    return dict(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=6, help="documents per language")
    args = parser.parse_args()
    with TARGET.open("w", encoding="utf-8") as out:
        for name, code in LANGUAGES.items():
            docs = load_documents(name)
            for doc in list(docs)[: args.docs]:
                record = {"variety": name, "lang": code, "doc": doc, "text": "\n\n".join(docs[doc])}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    shutil.copy(SOURCE / "LICENSE.md", TARGET.with_name("ntrex-sample.LICENSE.md"))
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
