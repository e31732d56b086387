"""What issue 12's boilerplate detectors cost: the clean pass (normalize … derive, as the
chain declares it) over the same batches with the boilerplate pack as shipped and with the
pack minus those rules; the issue's bar is at most 15 % of the cleaning stage's time.

Input: JSONL articles (``text`` or ``content``), by default the synthetic 100 MB corpus that
``bench/make_corpus.py`` writes; best of ``--repeat`` runs, one core, batches of 1,000.

Usage::

    python bench/detector_cost.py [--input FILE.jsonl] [--docs 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from newsclean.tasks.pipeline.chain import CHAIN  # noqa: E402
from newsclean.tasks.pipeline.runner import Runner  # noqa: E402
from newsclean.tasks.rules import boilerplate_pack  # noqa: E402
from newsclean.tasks.stages.base import resolve  # noqa: E402
from newsclean.tasks.stages.boilerplate import BoilerplateStage  # noqa: E402
from tests.helpers import make_batch  # noqa: E402

DEFAULT_INPUT = Path("/tmp/newsclean-bench/corpus-jsonl-100mb-seed0-dup0.05-file25/raw")
#: The rules issue 12 added (tests/test_release_parity.py lists the same ids).
ISSUE_12_RULES = {
    "links.related-header", "links.related-header-de", "links.related-header-fr",
    "links.related-header-es", "links.related-header-pt", "links.related-header-it",
    "comments.thread", "comments.thread-intl", "structure.repeated-paragraph",
    "promo.subscribe-intl", "share.share-line", "share.follow-intl", "meta.reading-time",
    "nav.page-navigation", "promo.affiliate-disclosure", "promo.cookie-notice",
    "byline.written-by", "nav.tag-list", "markup.html-residue", "promo.call-to-action",
    "meta.dateline", "byline.tip-line", "nav.edge-menu",
}  # fmt: skip


def read_texts(path: Path, limit: int) -> list[str]:
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    texts: list[str] = []
    for file in files:
        with file.open(encoding="utf-8") as fh:
            for line in itertools.islice(fh, limit - len(texts)):
                record = json.loads(line)
                texts.append(record.get("text") or record.get("content") or "")
        if len(texts) >= limit:
            break
    return texts


def clean_seconds(batches: list, boilerplate: BoilerplateStage) -> float:
    stages = [
        boilerplate if name == "boilerplate" else resolve(name)()
        for name in CHAIN.step("clean-unit").stages
    ]
    runner = Runner(stages, batches[0].schema)
    start = time.perf_counter()
    for batch in batches:
        runner.run(batch)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    texts = read_texts(args.input, args.docs)
    batches = [make_batch(*texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    pack = boilerplate_pack()
    before = dataclasses.replace(
        pack, rules=tuple(r for r in pack.rules if r.name not in ISSUE_12_RULES)
    )
    timings = {"without issue 12 rules": [], "as shipped": []}
    for _ in range(args.repeat):
        timings["without issue 12 rules"].append(clean_seconds(batches, BoilerplateStage(before)))
        timings["as shipped"].append(clean_seconds(batches, BoilerplateStage(pack)))
    best = {k: min(v) for k, v in timings.items()}
    print(f"{len(texts):,} documents, {mb:.1f} MB, clean pass, best of {args.repeat}")
    for name, seconds in best.items():
        print(
            f"  {name:24s} {seconds:7.2f} s  {mb / seconds:6.2f} MB/s  "
            f"{len(texts) / seconds:8,.0f} docs/s"
        )
    extra = best["as shipped"] / best["without issue 12 rules"] - 1
    print(f"  detectors cost {extra:+.1%} of the clean pass")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
