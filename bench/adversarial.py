"""Hostile text through every stage: seconds per MB per stage on inputs built to blow up
regexes and loops (issue 13, item 3).

Why: a stage that is quadratic in a token's or a paragraph's length passes every test on
real news and takes hours on one scraped blob (a 1 MB "word" once took 127 s in the typo
stage). Each input below is one document of one batch; every stage of the clean pass runs
on it in chain order, then the typo stage with the document forced to English (the worst
case: typos would otherwise skip a text no language identifier calls English). A stage is
linear when its s/MB stays flat as ``--scale`` grows.

Inputs (sizes at ``--scale 1``, as the issue lists them): 1 MB of letters without spaces,
1 MB of "a.", 500k "http://", 100k "(", 300k characters of the reference article's sentences
glued with ".", 200k spaces, 100k "Mr." glued.

Usage::

    python bench/adversarial.py [--scale 1.0] [--only letters,parens]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import pyarrow as pa  # noqa: E402

from newsclean.tasks.pipeline.chain import CHAIN  # noqa: E402
from newsclean.tasks.pipeline.units import RunInputs, build_stages  # noqa: E402
from newsclean.tasks.schema import replace_column  # noqa: E402
from newsclean.tasks.stages.base import BatchContext  # noqa: E402
from newsclean.tasks.stages.minhash import default_config  # noqa: E402
from newsclean.tasks.stages.typos import Corrector, correct_batch  # noqa: E402
from newsclean.tasks.storage.ingest import BatchBuilder  # noqa: E402

REFERENCE = BENCH.parent / "data" / "raw" / "samples" / "000_4c60d5582bf9f543.txt"


def _letters(n: int) -> str:
    r = random.Random(0)
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _glued_sentences(n: int) -> str:
    text = REFERENCE.read_text("utf-8")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20]
    out, i = [], 0
    while sum(map(len, out)) < n:
        out.append(sentences[i % len(sentences)].rstrip("."))
        i += 1
    return ".".join(out)[:n]


INPUTS: dict[str, Callable[[float], str]] = {
    "letters": lambda k: _letters(int(1_000_000 * k)),
    "a-dot": lambda k: "a." * int(500_000 * k),
    "http": lambda k: "http://" * int(500_000 * k),
    "parens": lambda k: "(" * int(100_000 * k),
    "glued-sentences": lambda k: _glued_sentences(int(300_000 * k)),
    "spaces": lambda k: "word" + " " * int(200_000 * k) + "word",
    "mr-dot": lambda k: "Mr." * int(100_000 * k),
}


def one_document(text: str) -> pa.Table:
    builder = BatchBuilder(batch_size=2)
    builder.add("adversarial.txt", 0, title="Hostile input", text=text)
    docs, _ = builder.flush()
    return docs


def stage_seconds(text: str, corrector: Corrector) -> list[tuple[str, float]]:
    """(stage, seconds) for every clean-pass stage in chain order, then the typo stage."""
    stages = build_stages(CHAIN.step("clean-unit").stages, RunInputs(near_dup=default_config()))
    batch, timings = one_document(text), []
    for stage in stages:
        started = time.perf_counter()
        batch = stage.process(batch, BatchContext()).table
        timings.append((stage.name, time.perf_counter() - started))
    if batch.num_rows:
        batch = replace_column(batch, "language", pa.array(["en"] * batch.num_rows))
        score = pa.array([1.0] * batch.num_rows, pa.float32())
        batch = replace_column(batch, "language_score", score)
        started = time.perf_counter()
        correct_batch(batch, corrector=corrector)
        timings.append(("typos", time.perf_counter() - started))
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="input size factor")
    parser.add_argument("--only", default="", help="comma-separated input names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(INPUTS)
    warm = _glued_sentences(5_000).replace(".", ". ")  # dictionaries load here, not timed
    stage_seconds(warm, Corrector())
    print(f"{'input':<16} {'MB':>6} {'stage':<20} {'seconds':>8} {'s/MB':>8}")
    for name in names:
        text = INPUTS[name](args.scale)
        mb = len(text.encode("utf-8")) / 1e6
        total = 0.0
        for stage, seconds in stage_seconds(text, Corrector()):
            total += seconds
            print(f"{name:<16} {mb:>6.2f} {stage:<20} {seconds:>8.3f} {seconds / mb:>8.3f}")
        print(f"{name:<16} {mb:>6.2f} {'(all stages)':<20} {total:>8.3f} {total / mb:>8.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
