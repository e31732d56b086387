"""Typo stage: conservative, vocabulary-level typo correction with an audit trail.

The corpus vocabulary must be known before any batch is corrected, so the flow counts words
while cleaning (:func:`vocabulary_table`), sums them over the run (the ``merge-vocabulary``
step) and then runs this stage as a second pass over the staged batches.

Design, from measurements on news text (../shared/notes/typos-whitespace-ftfy.md):

* decide once per word *type* for the whole batch, then rewrite only the documents that
  contain a flagged type: a per-token Python loop runs at 0.3-0.65 MB/s;
* general spell-checkers change 2-6 % of clean news words (Mr→Or, NATO→nate, Kyiv→kid), so a
  word is only touched when every guard lets it through: no digits, URLs, handles, hashtags,
  domains, ALL-CAPS, MixedCase, contractions, hyphenated parts; capitalised words (names) only
  at a sentence start and only by the curated layers;
* layers, each a rule in the edits table: ``typo.curated`` (codespell's unambiguous list),
  ``typo.edit-distance`` (symspellpy, distance 1, unknown words only),
  ``typo.real-word`` (a short confusion list checked against bigram counts).

Each correction is one row with the word's exact span in the stage's input.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version as package_version
from importlib.resources import files

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.rules import RulePack, pack
from newsclean.tasks.schema import replace_rows
from newsclean.tasks.stages.base import (
    BatchContext,
    RunInputs,
    Stage,
    register,
    stored_resource,
)
from newsclean.tasks.stages.edits import EditLog, StageResult
from newsclean.tasks.stages.language import (
    LanguageStage,
    in_other_language,
    load_paragraph_identifier,
    paragraph_identifier_version,
)
from newsclean.tasks.stages.spelling import (
    AMERICAN,
    BRITISH,
    SpellingStage,
    class_votes,
    pyspellchecker_counts,
    spelling_variants,
    steer,
)
from newsclean.tasks.stages.spelling import decide as decide_spelling

#: The bundled dictionaries the layers read (recorded by every run with their packages).
SYMSPELL_DICTIONARY = "frequency_dictionary_en_82_765.txt"
SYMSPELL_BIGRAMS = "frequency_bigramdictionary_en_243_342.txt"
_CORE = re.compile(r"^([\"'“‘(\[]*)([A-Za-z]+)([^A-Za-z]*)$")
_UNSAFE = re.compile(r"[0-9@#_/\\]|://|www\.|\.(?:com|org|net|gov|edu|co|uk|io)\b", re.IGNORECASE)
#: Per-worker memo sizes: about 100 bytes an entry, so at most ~30 MB per cache.
MAX_CACHED_CHUNKS = 300_000
_FOREIGN_LETTER = re.compile(r"(?![\x00-\x7f])[^\W\d_]")  # a letter outside ASCII: é, ü, ñ
_SENTENCE_END = (".", "!", "?", "…", '."', ".”", "?”", "!”", ".'", ".’")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "r", "rs", "er", "ers", "ly", "ness", "ment", "ments")
_PREFIXES = (
    "un",
    "re",
    "pre",
    "non",
    "anti",
    "co",
    "e",
    "de",
    "dis",
    "over",
    "under",
    "mis",
    "sub",
    "super",
    "inter",
    "multi",
    "post",
    "self",
    "micro",
    "cyber",
    "mega",
    "counter",
    "out",
    "on",
    "in",
    "up",
    "off",
    "down",
)


def typos_pack() -> RulePack:
    return pack("typos")


def word_frequencies() -> dict[str, int]:
    """symspellpy's bundled English unigram counts (82,834 lower-case words), shared with its
    distance-1 index rather than loaded twice."""
    return _symspell(1).words


@stored_resource("pyspellchecker", "symspellpy")
def extra_known_words() -> frozenset[str]:
    """pyspellchecker's English list (160k words from subtitles, American spellings included):
    symspellpy's list leans British and lacks rumor, color, skeptical, so without this the
    edit-distance layer would "correct" American spellings. Used only as known words."""
    return frozenset(w for w in pyspellchecker_counts() if w not in word_frequencies())


@cache
def bigram_frequencies() -> dict[tuple[str, str], int]:
    """symspellpy's bundled bigram counts, only the pairs that contain a word of the
    confusion list: the real-word layer needs nothing else, and all 242,342 pairs would cost
    every worker about 40 MB."""
    rule = typos_pack().get("typo.real-word")
    words = {w for pair in rule.params["confusions"] for w in pair}
    pairs = {}
    resource = files("symspellpy") / SYMSPELL_BIGRAMS
    with resource.open("r", encoding="utf-8") as fh:  # streamed: the file is 5 MB
        for line in fh:
            first, second, count = line.split()
            if first in words or second in words:
                pairs[(first, second)] = int(count)
    return pairs


#: QWERTY rows: a slip hits a key next to the one meant (same row or the rows beside).
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    where = {c: (r, i) for r, row in enumerate(_KEYBOARD_ROWS) for i, c in enumerate(row)}
    return {
        c: frozenset(
            o for o, (r2, i2) in where.items() if o != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1
        )
        for c, (r, i) in where.items()
    }


_NEAR_KEYS = _keyboard_neighbours()


def slip_weight(typo: str, word: str, unlikely: float) -> float:
    """How plausible ``typo`` is as a slip of the finger for ``word`` one edit away: 1 for
    two letters swapped, a letter dropped, a neighbouring key hit instead of or beside the
    right one, or a letter typed twice; ``unlikely`` for any other single edit (``oot`` for
    "out": o and u are two keys apart, so a dialect spelling, not a slip). Words two edits
    apart get ``unlikely`` too unless one letter was moved (``fomr`` for "from"); the caller
    weighs two edits against one besides."""
    if len(typo) == len(word):
        diff = [i for i, (a, b) in enumerate(zip(typo, word, strict=True)) if a != b]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and typo[diff[0]] == word[diff[1]]:
            return 1.0 if typo[diff[1]] == word[diff[0]] else unlikely  # swapped
        if len(diff) == 1:
            return 1.0 if typo[diff[0]] in _NEAR_KEYS.get(word[diff[0]], ()) else unlikely
        moved = sorted(typo) == sorted(word) and len(diff) <= 4
        return 1.0 if moved and _one_letter_moved(typo, word) else unlikely
    if len(typo) == len(word) - 1:  # a letter dropped
        return 1.0 if any(typo == word[:i] + word[i + 1 :] for i in range(len(word))) else unlikely
    if len(typo) == len(word) + 1:  # a letter added: doubled, or a key beside its neighbour
        for i in range(len(typo)):
            if typo[:i] + typo[i + 1 :] == word:
                extra, beside = typo[i], typo[max(i - 1, 0) : i] + typo[i + 1 : i + 2]
                if any(extra == b or extra in _NEAR_KEYS.get(b, ()) for b in beside):
                    return 1.0
        return unlikely
    return unlikely


def _one_letter_moved(typo: str, word: str) -> bool:
    return any(
        typo == (word[:i] + word[i + 1 :])[:j] + word[i] + (word[:i] + word[i + 1 :])[j:]
        for i in range(len(word))
        for j in range(len(word))
    )


@dataclass(frozen=True)
class BigramIndex:
    """symspellpy's 242,342 bigram counts as sorted int64 keys: ~6 MB per worker instead of
    ~40 MB as a dict of string pairs. Pairs not in the list count 0 (the list keeps only pairs
    seen 6.4 million times or more on the web)."""

    ids: dict[str, int]
    keys: np.ndarray
    counts: np.ndarray

    def count(self, first: str, second: str) -> int:
        a, b = self.ids.get(first), self.ids.get(second)
        if a is None or b is None:
            return 0
        key = a * len(self.ids) + b
        i = int(np.searchsorted(self.keys, key))
        return int(self.counts[i]) if i < len(self.keys) and self.keys[i] == key else 0


@stored_resource("symspellpy", "pyarrow")
def bigram_index() -> BigramIndex:
    """The whole bigram list, for the context layer (read once per process, parsed in Arrow:
    a Python loop over its 242,342 lines took 0.3 s of every run's start)."""
    from pyarrow import csv

    with (files("symspellpy") / SYMSPELL_BIGRAMS).open("rb") as fh:
        table = csv.read_csv(
            fh,
            read_options=csv.ReadOptions(column_names=["first", "second", "count"]),
            parse_options=csv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=csv.ConvertOptions(
                column_types={"first": pa.string(), "second": pa.string(), "count": pa.int64()}
            ),
        )
    first, second = table.column("first"), table.column("second")
    words = pc.unique(pa.chunked_array([*first.chunks, *second.chunks]))
    words = words.take(pc.sort_indices(words))
    ids = {w: i for i, w in enumerate(words.to_pylist())}
    a = pc.index_in(first, value_set=words).to_numpy().astype(np.int64)
    b = pc.index_in(second, value_set=words).to_numpy().astype(np.int64)
    keys = a * len(ids) + b
    counts = table.column("count").to_numpy()
    order = np.argsort(keys)
    return BigramIndex(ids, keys[order], counts[order])


@cache
def _total_frequency() -> int:
    """All word counts of symspellpy's list summed: the N of chance pair estimates."""
    return sum(word_frequencies().values())


@stored_resource("symspellpy", "pyarrow")
def _context_symspell():
    """A distance-2 index over the bigram list's words of 2-7 letters: the candidates a 4- or
    5-letter typo may stand for (``fomr`` → from, form). Small (~15k words): the main index
    at distance 2 would cost ~150 MB per worker."""
    from symspellpy import SymSpell  # lazy: symspellpy loads only where typos run

    checker = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    frequencies = word_frequencies()
    for word in bigram_index().ids:
        if 2 <= len(word) <= 7 and word.isalpha() and word in frequencies:
            checker.create_dictionary_entry(word, frequencies[word])
    return checker


@stored_resource("codespell", "symspellpy")
def curated_corrections() -> dict[str, str]:
    """codespell's comma-free ``typo->fix`` entries, read from the installed package (its data
    is CC BY-SA 3.0, derived from Wikipedia: read at run time, never copied into this repo).

    Entries whose "typo" is a known word (symspellpy's list, the pack's keep list) are
    dropped: that removes British spellings (despatch, instal) and names (Handel→handle).
    """
    pack = typos_pack()
    keep = set(pack.settings.get("keep", {}).get("words", []))
    known = word_frequencies()
    text = (files("codespell_lib") / "data" / "dictionary.txt").read_text("utf-8")
    corrections = {}
    for line in text.splitlines():
        typo, _, fix = line.partition("->")
        if not fix or "," in fix or " " in fix or not typo.isalpha() or not typo.islower():
            continue
        if typo in known or typo in keep or not fix.isalpha():
            continue
        corrections[typo] = fix
    return corrections


def _match_case(original: str, fix: str) -> str:
    if original[:1].isupper():
        return fix[:1].upper() + fix[1:]
    return fix


@dataclass(frozen=True)
class Chunk:
    """A whitespace-delimited chunk split into leading punctuation, word core and trailer."""

    lead: str
    core: str
    trail: str

    @classmethod
    def parse(cls, chunk: str) -> Chunk | None:
        """The word inside a chunk, or None when any guard says the chunk is not prose."""
        if _UNSAFE.search(chunk) or (not chunk.isascii() and _FOREIGN_LETTER.search(chunk)):
            return None  # URLs, handles, figures; non-English letters (café, Zürich)
        match = _CORE.match(chunk)
        if match is None:
            return None
        lead, core, trail = match.groups()
        if len(core) < 3 or trail.startswith(("'", "’", "-")):
            return None  # short words, possessives/contractions, hyphenated parts
        if core.isupper() or (not core.islower() and not core[1:].islower()):
            return None  # ACRONYMS and MixedCase
        return cls(lead, core, trail)


@dataclass
class Corrector:
    """Per-type decisions given the run's corpus vocabulary; one per worker and run, so its
    memo of decisions serves every batch the worker corrects."""

    corpus_counts: Mapping[str, int] = field(default_factory=dict)
    never_change: frozenset[str] = frozenset()
    pack: RulePack = field(default_factory=typos_pack)

    def __post_init__(self) -> None:
        self.curated_rule = self.pack.get("typo.curated")
        self.edit_rule = self.pack.get("typo.edit-distance")
        self.real_word_rule = self.pack.get("typo.real-word")
        self.context_rule = self.pack.get("typo.context")
        self._context_candidates: dict[str, tuple[tuple[str, int], ...]] = {}
        self._context_decisions: dict[tuple[str | None, str, str | None], str | None] = {}
        self.confusions = dict(self.real_word_rule.params["confusions"])
        self.keep = set(self.pack.settings.get("keep", {}).get("words", [])) | self.never_change
        self._decisions: dict[tuple[str, bool], tuple[str, str] | None] = {}
        self.chunk_flags: dict[str, bool] = {}
        self.flagged_chunks: set[str] = set()  # the chunks chunk_flags says True for
        self._eligible: dict[str, bool] = {}
        self.max_chunk_chars = int(self.pack.settings["max_chunk_chars"])

    def _known(self, word: str) -> bool:
        return word in word_frequencies() or word in extra_known_words() or word in self.keep

    def _morphology_known(self, word: str) -> bool:
        """Inflections and compounds of known words are words (paycuts, storylines)."""
        for suffix in _SUFFIXES:  # stems of 4+ letters: "maor" is not "mao" + r
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 4 and self._known(stem):
                return True
        for prefix in _PREFIXES:  # the rest 4+ letters: "een" is not e + "en"
            rest = word[len(prefix) :]
            if word.startswith(prefix) and len(rest) >= 4 and self._known(rest):
                return True
        return any(
            self._known(word[:i]) and self._known(word[i:]) and i >= 3 and len(word) - i >= 3
            for i in range(3, len(word) - 2)
        )

    def _corpus_keeps(self, word: str, candidate: str, override_ratio: float) -> bool:
        """The corpus uses ``word`` often (it is this corpus's word, a name or a variant),
        unless ``candidate`` is ``override_ratio`` times more frequent there (a repeated typo
        such as "teh" stays correctable)."""
        seen = self.corpus_counts.get(word, 0)
        if seen < int(self.edit_rule.params["corpus_keep_count"]):
            return False
        return self.corpus_counts.get(candidate, 0) < seen * override_ratio

    def _edit_distance(self, word: str) -> str | None:
        from symspellpy import Verbosity  # lazy: symspellpy loads only where typos run

        params = self.edit_rule.params
        if len(word) < int(params["min_length"]) or self._morphology_known(word):
            return None
        suggestions = _symspell(int(params["max_edit_distance"])).lookup(
            word, Verbosity.CLOSEST, max_edit_distance=int(params["max_edit_distance"])
        )
        if not suggestions:
            return None
        best = suggestions[0]
        runner_up = suggestions[1].count if len(suggestions) > 1 else 0
        if best.count < float(params["dominance"]) * runner_up:
            return None
        if self._corpus_keeps(word, best.term, float(params["corpus_override_ratio"])):
            return None
        if spelling_variants(word, best.term):
            return None  # politicising is not a typo of politicizing: never convert variants
        if not params["unlikely_edits"] and slip_weight(word, best.term, 0.0) < 1.0:
            return None  # paratha is no slip for maratha, bhindi none for hindi
        return best.term

    def decide(self, core: str, sentence_start: bool) -> tuple[str, str] | None:
        """(correction, rule id) for a word type, or None to leave it alone (memoized: a
        run's vocabulary is fixed, so a type is decided once per worker, not per batch)."""
        key = (core, sentence_start)
        if len(self._decisions) > MAX_CACHED_CHUNKS:
            self._decisions.clear()
        if key not in self._decisions:
            self._decisions[key] = self._decide(core, sentence_start)
        return self._decisions[key]

    def _decide(self, core: str, sentence_start: bool) -> tuple[str, str] | None:
        word = core.lower()
        if word in self.keep or (core[0].isupper() and not sentence_start):
            return None
        fix = curated_corrections().get(word)
        ratio = float(self.curated_rule.params["corpus_override_ratio"])
        if fix and not self._corpus_keeps(word, fix, ratio):
            return _match_case(core, fix), self.curated_rule.id
        if core[0].isupper() or self._known(word) or word in curated_corrections():
            return None
        fix = self._edit_distance(word)
        return (_match_case(core, fix), self.edit_rule.id) if fix else None

    def context_eligible(self, core: str) -> bool:
        """A word the context layer may correct: a lower-case word of ``min_length``+ letters
        that no dictionary, inflection or other layer explains (a capitalised one may be a
        name even at a sentence start: "Nad" is Welsh)."""
        word = core
        if len(word) < int(self.context_rule.params["min_length"]) or not core.islower():
            return False
        if word in self.keep or word in curated_corrections() or self._known(word):
            return False
        return not self._compound_or_inflection(word)

    def eligible_for_context(self, core: str) -> bool:
        """:meth:`context_eligible`, decided once per word type and worker (a flagged word
        recurs in many documents; the check tries every split of the word)."""
        found = self._eligible.get(core)
        if found is None:
            if len(self._eligible) > MAX_CACHED_CHUNKS:
                self._eligible.clear()
            found = self._eligible[core] = self.context_eligible(core)
        return found

    def _compound_or_inflection(self, word: str) -> bool:
        """Stricter than :meth:`_morphology_known`, since context is evidence of its own: an
        inflection of a 4+ letter stem, un-, re- or a prefix of 3+ letters on a known word of
        4+ letters (``unsecure``), or two known words of 4+ letters (``colast`` is no
        co + last, ``etire`` no e + tire)."""
        for suffix in _SUFFIXES:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 4 and self._known(stem):
                return True
        for prefix in _PREFIXES:
            rest = word[len(prefix) :]
            if (
                (len(prefix) >= 3 or prefix in ("un", "re"))
                and word.startswith(prefix)
                and len(rest) >= 4
                and self._known(rest)
            ):
                return True
        return any(self._known(word[:i]) and self._known(word[i:]) for i in range(4, len(word) - 3))

    def candidates(self, word: str) -> tuple[tuple[str, int], ...]:
        """(word, distance) of the bigram list's words within reach of ``word``: distance 2
        for 4-5 letters (``fomr`` → from), distance 1 otherwise. Memoized per word."""
        found = self._context_candidates.get(word)
        if found is None:
            from symspellpy import Verbosity  # lazy: symspellpy loads only where typos run

            if len(self._context_candidates) > MAX_CACHED_CHUNKS:
                self._context_candidates.clear()
            distance = 2 if 4 <= len(word) <= 5 else 1
            index = _context_symspell() if len(word) <= 5 else _symspell(1)
            suggestions = index.lookup(word, Verbosity.ALL, max_edit_distance=distance)
            ids = bigram_index().ids
            found = tuple(
                (s.term, s.distance) for s in suggestions if s.term in ids and s.term != word
            )
            self._context_candidates[word] = found
        return found

    def context(self, previous: str | None, core: str, following: str | None) -> str | None:
        """:meth:`_context` memoized per (previous, word, following): decided once per
        distinct context in a worker, not per occurrence."""
        key = (previous, core, following)
        if key not in self._context_decisions:
            if len(self._context_decisions) > MAX_CACHED_CHUNKS:
                self._context_decisions.clear()
            self._context_decisions[key] = self._context(previous, core, following)
        return self._context_decisions[key]

    def _context(self, previous: str | None, core: str, following: str | None) -> str | None:
        """Correction of an unknown word from its neighbours, else None.

        Each candidate ``c`` is scored as a trigram estimate from bigram counts,
        ``n(previous, c) * n(c, following) / n(c)``, where a pair too rare to be listed counts
        what chance predicts, ``n(a) * n(b) / N``, capped at ``unlisted_pair_count`` (below
        the list's cut-off), and a candidate that no slip of the finger explains
        (:func:`slip_weight`) is weighted by ``unlikely_edit_weight``, one two edits away by
        ``two_edit_weight``. The best must have a listed pair of ``min_evidence`` (weighted
        the same way) and ``dominance`` times the runner-up's score ("hvea been" →
        "have been"); else the run's own corpus may decide (:meth:`_corpus_support`).
        """
        word = core.lower()
        params = self.context_rule.params
        if previous is None and following is None:
            return self._corpus_support(word, core)
        bigrams, frequencies = bigram_index(), word_frequencies()
        cap, total = float(params["unlisted_pair_count"]), _total_frequency()

        def pair(first: str, second: str) -> tuple[float, int]:
            listed = bigrams.count(first, second)
            if listed:
                return float(listed), listed
            chance = frequencies.get(first, 1) * frequencies.get(second, 1) / total
            return min(cap, chance), 0

        scored = []
        for candidate, distance in self.candidates(word):
            if word == candidate + "s":
                continue  # an unlisted plural ("18-29 year olds"), not a slip
            left, left_listed = pair(previous, candidate) if previous else (1.0, 0)
            right, right_listed = pair(candidate, following) if following else (1.0, 0)
            prior = float(params["two_edit_weight"]) if distance > 1 else 1.0
            prior *= slip_weight(word, candidate, float(params["unlikely_edit_weight"]))
            score = left * right / (frequencies.get(candidate, 1) if previous and following else 1)
            # the evidence is weighed like the score: "than haute" is no "than have"
            scored.append((score * prior, max(left_listed, right_listed) * prior, candidate))
        if not scored:
            return None
        scored.sort()
        best, evidence, fix = scored[-1]
        runner_up = scored[-2][0] if len(scored) > 1 else 0.0
        dominant = best >= float(params["dominance"]) * runner_up
        if evidence < float(params["min_evidence"]) or not dominant:
            return self._corpus_support(word, core)
        if self._corpus_keeps(word, fix, float(params["corpus_override_ratio"])):
            return None
        return _match_case(core, fix)

    def _corpus_support(self, word: str, core: str) -> str | None:
        """Without bigram evidence, the run's own corpus: a word of ``corpus_min_length``+
        letters with exactly one candidate a single slip of the finger explains, which the
        corpus uses ``corpus_min_count``+ times and ``corpus_override_ratio`` times more
        often than the word (``protestwrs`` beside 40 ``protesters``)."""
        params = self.context_rule.params
        if len(word) < int(params["corpus_min_length"]):
            return None
        slips = [
            c
            for c, distance in self.candidates(word)
            if distance == 1 and slip_weight(word, c, 0.0) == 1.0 and word != c + "s"
        ]
        if len(slips) != 1:
            return None
        fix, seen = slips[0], self.corpus_counts.get(slips[0], 0)
        ratio = float(params["corpus_override_ratio"])
        if seen < int(params["corpus_min_count"]) or seen < ratio * self.corpus_counts.get(word, 1):
            return None
        return _match_case(core, fix)

    def real_word(self, previous: str | None, core: str, following: str | None) -> str | None:
        """Correction of a real-word confusion from bigram evidence, else None: no pair the
        word forms with a neighbour may occur in the bigram list, and at least one pair the
        correction forms must occur ``min_bigram_count`` times."""
        word = core.lower()
        fix = self.confusions.get(word)
        if fix is None:
            return None
        bigrams = bigram_frequencies()
        pairs = [((previous, word), (previous, fix))] if previous else []
        pairs += [((word, following), (fix, following))] if following else []
        if any(bigrams.get(original, 0) for original, _ in pairs):
            return None  # the original pair is real English: leave it
        floor = int(self.real_word_rule.params["min_bigram_count"])
        if any(bigrams.get(corrected, 0) >= floor for _, corrected in pairs):
            return _match_case(core, fix)
        return None


@stored_resource("symspellpy")
def _symspell(max_edit_distance: int):
    from symspellpy import SymSpell  # lazy: symspellpy loads only where typos run

    # prefix_length 5 instead of 7: same suggestions at distance 1, index 27 MB instead of
    # 67 MB per worker (measured).
    checker = SymSpell(max_dictionary_edit_distance=max_edit_distance, prefix_length=5)
    path = files("symspellpy") / SYMSPELL_DICTIONARY
    checker.load_dictionary(str(path), term_index=0, count_index=1)
    return checker


_WORD_EDGE_PUNCTUATION = "\"'“”‘’()[],.;:!?…"


def vocabulary_table(texts: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Lower-case word counts of a batch as an Arrow table (word, count): counted in C, no
    per-token Python loop. Words are split at Unicode whitespace and never empty.

    Why in two steps: over a whole unit, Arrow's Unicode split is 3x slower than its ASCII
    one (0.35 against 0.13 s for a 28 MB unit of news, measured), and nearly every separator
    is ASCII. So the text is split at ASCII whitespace and counted first; only the distinct
    tokens (tens of thousands per unit, not millions) are lower-cased, split again at Unicode
    whitespace, trimmed and summed. The words and counts are those of one Unicode split of
    the lower-cased text (lower-casing maps each character on its own and never makes or
    removes whitespace).
    """
    distinct = pc.value_counts(pc.list_flatten(pc.ascii_split_whitespace(texts)))
    pieces = pc.utf8_split_whitespace(pc.utf8_lower(distinct.field("values")))
    words = pc.utf8_trim(pc.list_flatten(pieces), characters=_WORD_EDGE_PUNCTUATION)
    counts = pc.take(distinct.field("counts"), pc.list_parent_indices(pieces))
    table = pa.table({"word": words, "count": counts}).filter(pc.not_equal(words, ""))
    summed = table.group_by("word", use_threads=False).aggregate([("count", "sum")])
    return summed.rename_columns(["word", "count"])


def corpus_vocabulary(texts: pa.Array | pa.ChunkedArray) -> Counter[str]:
    """:func:`vocabulary_table` as a Counter (tests, small corpora)."""
    table = vocabulary_table(texts)
    pairs = zip(table.column("word").to_pylist(), table.column("count").to_pylist(), strict=True)
    return Counter(dict(pairs))


class BatchChunks:
    """The whitespace-separated chunks of a batch's texts, and which texts hold given ones.

    Why in two steps, as :func:`vocabulary_table`: the texts are split at ASCII whitespace
    (Arrow's Unicode split is 2x slower) and the tokens dictionary-encoded; only the distinct
    tokens are split again at Unicode whitespace. A text holds a chunk exactly when one of its
    tokens does, so the chunks and the texts found are those of one Unicode split of the
    texts, and the texts are found by a lookup per distinct token instead of a set test per
    token (500 news articles: 30 against 41 ms, measured).
    """

    def __init__(self, texts: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()  # one dictionary for the whole batch
        tokens = pc.ascii_split_whitespace(texts)
        self._text_of_token = np.asarray(pc.list_parent_indices(tokens), dtype=np.int64)
        encoded = pc.dictionary_encode(pc.list_flatten(tokens))
        self._token_ids = np.asarray(encoded.indices, dtype=np.int64)
        self._pieces = pc.utf8_split_whitespace(encoded.dictionary)
        self._chunks = pc.list_flatten(self._pieces)

    def distinct(self) -> list[str]:
        """Every distinct chunk (an empty one too, where whitespace repeats)."""
        return pc.unique(self._chunks).to_pylist()

    def documents_with(self, chunks: set[str]) -> np.ndarray:
        """The positions (ascending) of the texts that hold any of ``chunks``."""
        hit = pc.is_in(self._chunks, value_set=pa.array(sorted(chunks), pa.string()))
        owners = np.asarray(pc.filter(pc.list_parent_indices(self._pieces), hit), dtype=np.int64)
        token_hit = np.zeros(len(self._pieces), dtype=bool)
        token_hit[owners] = True
        return np.unique(self._text_of_token[token_hit[self._token_ids]])


def _sentence_start(previous_chunk: str | None) -> bool:
    return previous_chunk is None or previous_chunk.endswith(_SENTENCE_END)


def _plain(chunk: str | None) -> str | None:
    if chunk is None:
        return None
    parsed = Chunk.parse(chunk)
    return parsed.core.lower() if parsed and not parsed.lead else None


def flagged_chunks(chunk_types: Iterable[str], corrector: Corrector) -> set[str]:
    """The distinct chunks that may need a correction, decided once per type.

    Context-free decisions are final here; a capitalised word (only at a sentence start) and
    a real-word confusion (only with bigram evidence) are flagged and settled in context.
    """
    known = corrector.chunk_flags  # chunk -> flagged?, kept across the worker's batches
    flagged = corrector.flagged_chunks
    if len(known) > MAX_CACHED_CHUNKS:  # bounded: a big run has millions of distinct chunks
        known.clear()
        flagged.clear()
    longest = corrector.max_chunk_chars  # longer chunks are never words: not even cached
    types = set(chunk_types)
    # Set operations in C: only the chunks not seen before reach Python (a slice of 500
    # documents has tens of thousands of distinct chunks, nearly all seen already).
    for chunk in types - known.keys():
        if len(chunk) <= longest:
            needs = known[chunk] = _needs_context(chunk, corrector)
            if needs:
                flagged.add(chunk)
    return types & flagged


def _needs_context(chunk: str, corrector: Corrector) -> bool:
    if len(chunk) > corrector.max_chunk_chars:
        return False  # never a word: bounded work per chunk, whatever the input
    parsed = Chunk.parse(chunk)
    if parsed is None:
        return False
    core = parsed.core
    if core.lower() in corrector.confusions:
        return True
    if corrector.decide(core, sentence_start=core[0].isupper()) is not None:
        return True
    return corrector.eligible_for_context(core)  # the memo correct_text reads too


#: A text with more flagged types than this is split once instead of searched type by type.
_MAX_SEARCHED_TYPES = 16
_SEPARATORS = re.compile(r"(\s+)")
_SEPARATOR_AND_CHUNK = re.compile(r"(\s*)(\S*)")


def flagged_spans(text: str, flagged: set[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of every whitespace-delimited chunk of ``text`` that is in
    ``flagged``, in text order.

    ``str.split`` and a set intersection (C speed) say which flagged types the text holds;
    each is then found with ``str.find``. A typical document holds one or two, so this skips
    the per-chunk Python loop over its hundreds of words (measured: 3× faster on real news).
    Many types, or finds inside longer chunks beyond a budget linear in the text (adversarial
    text), fall back to one split of the text: the work stays linear either way.
    """
    present = flagged.intersection(text.split())
    if not present:
        return []
    if len(present) <= _MAX_SEARCHED_TYPES:
        spans = _found_spans(text, present, budget=len(text) // 16 + 64)
        if spans is not None:
            return spans
    return _split_spans(text, present)


def _found_spans(text: str, present: set[str], budget: int) -> list[tuple[int, int]] | None:
    """The spans by ``str.find``, or None once more than ``budget`` finds were needed."""
    spans: list[tuple[int, int]] = []
    size = len(text)
    for chunk in present:
        start = text.find(chunk)
        while start != -1:
            budget -= 1
            if budget < 0:
                return None
            end = start + len(chunk)
            if (start == 0 or text[start - 1].isspace()) and (end == size or text[end].isspace()):
                spans.append((start, end))
            start = text.find(chunk, start + 1)
    spans.sort()
    return spans


def _split_spans(text: str, present: set[str]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for i, part in enumerate(_SEPARATORS.split(text)):
        if i % 2 == 0 and part in present:
            spans.append((position, position + len(part)))
        position += len(part)
    return spans


def _chunk_before(text: str, start: int, fixed: dict[int, tuple[int, str]]) -> str | None:
    """The chunk before the one at ``start`` as already corrected, or None when the chunk
    begins a paragraph (the text's first chunk, or a line break before it). Text that starts
    with whitespace has an empty first chunk, as ``re.split`` gives."""
    if start == 0:
        return None
    gap = start
    while gap > 0 and text[gap - 1].isspace():
        gap -= 1
    if "\n" in text[gap:start]:
        return None
    begin = gap
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    corrected = fixed.get(begin)
    return corrected[1] if corrected else text[begin:gap]


def _chunk_after(text: str, end: int) -> str | None:
    """The chunk after the one ending at ``end`` (empty when only whitespace follows), or
    None at the text's end or across a line break."""
    if end == len(text):
        return None
    match = _SEPARATOR_AND_CHUNK.match(text, end)
    assert match is not None  # both groups may be empty
    separator, chunk = match.groups()
    return None if "\n" in separator else chunk


def correct_text(
    text: str,
    flagged: set[str],
    corrector: Corrector,
    doc_id: str,
    log: EditLog,
    languages: frozenset[str] = frozenset({"en"}),
    spelling: str | None = None,
) -> str:
    """Rewrite the flagged chunks of one document; whitespace and punctuation stay as they are.
    Each row's span is the word's place in ``text``. A chunk in a paragraph identified as
    another language than ``languages`` (a quote in German) is left alone. A correction
    that has a British and an American spelling takes the document's (:class:`_DocumentSpelling`,
    ``spelling`` being the document's or its publisher's convention). A word's left
    neighbour is read as already corrected, its right one as written."""
    spans = flagged_spans(text, flagged)
    if not spans:
        return text
    fixed: dict[int, tuple[int, str]] = {}  # chunk start -> (its end, the corrected chunk)
    foreign = _ForeignParagraphs(text, languages)
    side_for = _DocumentSpelling(text, spelling)
    for start, end in spans:
        parsed = Chunk.parse(text[start:end])
        assert parsed is not None
        previous = _chunk_before(text, start, fixed)
        decision = corrector.decide(parsed.core, _sentence_start(previous))
        if decision is not None:
            fix, rule = decision
            fix = steer(fix, side_for)
        else:
            following = _chunk_after(text, end)
            fix = corrector.real_word(
                _plain(previous), parsed.core, None if parsed.trail else _plain(following)
            )
            rule = corrector.real_word_rule.id
            if (
                fix is None
                and _context_allowed(parsed)
                and corrector.eligible_for_context(parsed.core)
            ):
                left, right = _neighbours(parsed, previous, following)
                fix = corrector.context(left, parsed.core, right)
                fix = steer(fix, side_for) if fix else None
                rule = corrector.context_rule.id
        if fix and fix != parsed.core and not foreign(start):
            word = start + len(parsed.lead)
            log.add(doc_id, rule, parsed.core, fix, start=word, end=word + len(parsed.core))
            fixed[start] = (end, parsed.lead + fix + parsed.trail)
    return _spliced(text, fixed) if fixed else text


def _spliced(text: str, fixed: dict[int, tuple[int, str]]) -> str:
    pieces, last = [], 0
    for start in sorted(fixed):
        end, chunk = fixed[start]
        pieces += [text[last:start], chunk]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


_QUOTES = "\"'“”‘’«»„"


def _context_allowed(parsed: Chunk) -> bool:
    """Words outside quotes: a quoted one is a word being mentioned (‘pwp’), not used."""
    return not any(q in parsed.lead or q in parsed.trail for q in _QUOTES)


def _neighbours(
    parsed: Chunk, previous: str | None, following: str | None
) -> tuple[str | None, str | None]:
    """The plain lower-case words right beside a word with no punctuation between: a bigram
    across a comma or a full stop is no evidence."""
    plain = previous and not parsed.lead and _WORD_CHUNK.fullmatch(previous)
    left = previous.lower() if plain else None
    right = None
    if following is not None and not parsed.trail:
        match = _WORD_START.match(following)
        right = match.group(0).lower() if match else None
    return left, right


#: A neighbour is a plain word: letters only (a left one), or letters then punctuation.
_WORD_CHUNK = re.compile(r"[A-Za-z]+")
_WORD_START = re.compile(r"[A-Za-z]+(?=[^A-Za-z0-9'’-]*$)")


class _DocumentSpelling:
    """The spelling a document uses for a class of variant words (-ise/-ize, -our/-or...):
    its own words of that class first (Oxford spelling is -ize with -our), then its overall
    convention, then its publisher's; each counted once per document, only when asked."""

    def __init__(self, text: str, fallback: str | None) -> None:
        self.text = text
        self.fallback = fallback
        self.votes: dict[str, tuple[int, int]] | None = None

    def __call__(self, kind: str) -> str | None:
        if self.votes is None:
            self.votes = class_votes(self.text)
        return decide_spelling(*self.votes[kind]) or self.fallback


class _ForeignParagraphs:
    """Whether a position of a text lies in a paragraph of another language, each
    paragraph identified once, and only when a correction would land in it."""

    def __init__(self, text: str, languages: frozenset[str]) -> None:
        self.text = text
        self.languages = languages
        self.known: dict[int, bool] = {}

    def __call__(self, offset: int) -> bool:
        start = self.text.rfind("\n\n", 0, offset) + 1
        if start not in self.known:
            end = self.text.find("\n\n", offset)
            paragraph = self.text[start : end if end != -1 else len(self.text)]
            self.known[start] = in_other_language(paragraph, self.languages)
        return self.known[start]


def correct_batch(
    batch: pa.Table,
    corpus_counts: Mapping[str, int] | None = None,
    never_change: Iterable[str] = (),
    corrector: Corrector | None = None,
) -> StageResult:
    """Correct typos in ``text`` (titles are left alone: headline capitalisation defeats the
    name guard). Types are decided once for the batch; only documents that contain a flagged
    type are rewritten. Pass a ``corrector`` to reuse its decisions across batches. A batch
    without a ``language`` column is identified here first."""
    if corrector is None:
        corrector = Corrector(corpus_counts or {}, frozenset(w.lower() for w in never_change))
    if "language" not in batch.column_names:
        batch = LanguageStage().process(batch, BatchContext()).table
    if "english_spelling" not in batch.column_names:
        batch = SpellingStage().process(batch, BatchContext()).table
    return TypoStage(corrector).process(batch, BatchContext())


@register
class TypoStage(Stage):
    """Conservative typo correction with the run's corpus vocabulary (``corrector`` input)."""

    name = "typos"
    version = 3
    description = (
        "curated misspellings, edit distance 1 on unknown words, real-word confusions; only "
        "in documents and paragraphs of a language with dictionaries (English); corrections "
        "spelt the document's way (British or American)"
    )
    reads = ("doc_id", "text", "language", "language_score", "english_spelling", "domain")
    writes = ("text",)

    def __init__(self, corrector: Corrector) -> None:
        self.corrector = corrector
        settings = corrector.pack.settings
        self.languages = frozenset(settings.get("languages", ["en"]))
        self.min_score = float(settings.get("min_language_score", 0.9))

    @classmethod
    def build(cls, inputs: RunInputs) -> TypoStage:
        return cls(inputs["corrector"])

    @classmethod
    def preload(cls) -> None:
        """symspellpy's index and bigram list, the curated and known-word lists, the
        spelling variants and the paragraph identifier: about 2 s and 150 MB per process."""
        _symspell(1)
        extra_known_words()
        bigram_frequencies()
        bigram_index()
        _context_symspell()
        curated_corrections()
        SpellingStage.preload()
        load_paragraph_identifier()

    def resources(self) -> dict[str, str]:
        return {
            "rules:typos": self.corrector.pack.version,
            "symspellpy": f"{package_version('symspellpy')} {SYMSPELL_DICTIONARY}",
            "codespell": package_version("codespell"),
            "pyspellchecker": package_version("pyspellchecker"),
            "py3langid": paragraph_identifier_version(),
        }

    def _eligible(self, batch: pa.Table) -> pa.Array:
        """Rows identified, surely enough, as a language the layers have dictionaries for."""
        language = pc.is_in(batch.column("language"), value_set=pa.array(sorted(self.languages)))
        sure = pc.greater_equal(batch.column("language_score"), self.min_score)
        return pc.fill_null(pc.and_(language, sure), False)

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        corrector = self.corrector
        log = EditLog(self.name)
        rows = pc.indices_nonzero(self._eligible(batch))
        chunks = BatchChunks(batch.column("text").take(rows))
        flagged = flagged_chunks(chunks.distinct(), corrector)
        if not flagged:
            return StageResult(batch, log.to_table())
        fix = np.asarray(rows, dtype=np.int64)[chunks.documents_with(flagged)]
        del chunks
        doc_ids = batch.column("doc_id").to_pylist()
        spellings = _spelling_or_publishers(batch)
        texts = batch.column("text").take(pa.array(fix)).to_pylist()  # only these leave Arrow
        for k, row in enumerate(fix.tolist()):
            texts[k] = correct_text(
                texts[k], flagged, corrector, doc_ids[row], log, self.languages, spellings[row]
            )
        return StageResult(replace_rows(batch, "text", fix, texts), log.to_table())


def _spelling_or_publishers(batch: pa.Table) -> list[str | None]:
    """Each row's ``english_spelling``, or where it has none, its publisher's in this batch
    (the convention most of the publisher's decided documents share): a short article
    seldom has a variant word of its own."""
    spellings = batch.column("english_spelling").to_pylist()
    domains = batch.column("domain").to_pylist()
    votes: dict[str, Counter[str]] = {}
    for domain, spelling in zip(domains, spellings, strict=True):
        if domain and spelling:
            votes.setdefault(domain, Counter())[spelling] += 1
    publisher = {domain: decide_spelling(c[BRITISH], c[AMERICAN]) for domain, c in votes.items()}
    return [
        spelling or publisher.get(domain or "")
        for domain, spelling in zip(domains, spellings, strict=True)
    ]


def parse_word_list(text: str) -> list[str]:
    """A plain word list: one word per line, '#' comments and blank lines ignored."""
    words = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line)
    return words
