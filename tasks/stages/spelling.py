"""English spelling stage: whether an English text spells the British or the American way.

Corpora mix British, Indian and American English, and a corrector that knows only one of
them turns ``criticised`` into ``criticized``. This stage finds each English document's
convention from its own words, so that the typo stage never converts between the two and
aims a correction at the document's own form (``critisized`` → ``criticised`` in a British
text).

The evidence is the pairs of one word spelt both ways that symspellpy's and pyspellchecker's
English word lists hold (about 1,000 pairs, built once per process from the lists in ~1 s,
no data of our own):

* ``ise``: -ise/-ize and -yse/-yze, with their -ation, -ed, -ing, -er forms
  (organisation/organization, analyse/analyze);
* ``our``: -our/-or after a stem of 3+ letters (colour/color, not four/for or tours/tors);
* ``re``: -tre/-ter, -bre/-ber, -gre/-ger at the end (centre/center, fibre/fiber);
* ``ll``: a doubled l before -ed/-ing/-er after a stem of 4+ letters ending in a vowel
  (travelled/traveled, cancelling/canceling; never filled/filed);
* ``ence``: -fence/-tence (defence/defense, offence, pretence; not licence/license, which
  British English uses both ways).

Only lower-case tokens count (``Center`` in a name says nothing). A document is ``british``
or ``american`` when one side has at least twice the other's tokens, else null (no or mixed
evidence); non-English documents are null. Classes are kept apart because Oxford spelling
(-ize with -our) is British: the typo stage steers by the class a correction belongs to
first (:func:`class_votes`), then by the document's answer.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version as package_version
from importlib.resources import files

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.stages.base import BatchContext, NewColumn, Stage, register, stored_resource
from newsclean.tasks.stages.edits import StageResult, empty_edits

BRITISH, AMERICAN = "british", "american"
#: symspellpy's English unigram list: the words both spellings are looked up in.
WORD_LIST = "frequency_dictionary_en_82_765.txt"
#: One side must have this many times the other's tokens for a document to have an answer.
DOMINANCE = 2.0
_EDGE_PUNCTUATION = "\"'“”‘’()[],.;:!?…"

#: (class, British pattern, American replacement): the class's British form of a word,
#: rewritten, is its American form.
_CLASSES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("ise", re.compile(r"(?<=[a-z]{2})is(?=(?:e|ed|es|ing|ation|ations|er|ers|able)$)"), "iz"),
    ("ise", re.compile(r"(?<=[a-z]{2})ys(?=(?:e|ed|es|ing)$)"), "yz"),
    ("our", re.compile(r"(?<=[a-z]{3})our(?=(?:s|ed|ing|ite|ites|able|ful|less|er|ers)?$)"), "or"),
    ("re", re.compile(r"(?<=[a-z]{2})([tbg])re(?=s?$)"), r"\1er"),
    ("ll", re.compile(r"(?<=[a-z]{3}[aeiou])ll(?=(?:ed|ing|er|ers)$)"), "l"),
    ("ence", re.compile(r"(?<=[ft])ence(?=s?$)"), "ense"),
)
#: Pairs the patterns find that are two different words, not two spellings of one.
_NOT_VARIANTS = frozenset(
    {"chartres", "eagre", "ombre", "outre", "tigre", "timbre", "timbres", "ventre", "refilled"}
    | {"refilling", "glamour", "glamours", "glamoured", "glamouring"}
)
#: The rarer form of a real pair is at least this share of the other in the word counts.
MIN_COUNTERPART_SHARE = 0.3
CLASSES = tuple(dict.fromkeys(name for name, _, _ in _CLASSES))
#: The letters every match of a class's pattern contains (the table's build skips words
#: without them: 744,000 regex substitutions took 0.4 s of every run's start).
_NEEDLES: dict[re.Pattern[str], str] = {
    pattern: needle
    for (_, pattern, _), needle in zip(
        _CLASSES, ("is", "ys", "our", "re", "ll", "ence"), strict=True
    )
}


def american_forms(word: str) -> set[str]:
    """What ``word`` becomes when one class's British pattern is rewritten the American way
    (empty when it has no British pattern)."""
    forms = {pattern.sub(replacement, word) for _, pattern, replacement in _CLASSES}
    forms.discard(word)
    return forms


def spelling_variants(word: str, other: str) -> bool:
    """Whether two different words are one word spelt the British and the American way
    (politicising, politicizing), by the classes' patterns, listed or not; a dropped letter
    that no class explains (bilion, billion) is a typo, not a variant."""
    return word != other and (other in american_forms(word) or word in american_forms(other))


@dataclass(frozen=True)
class Variant:
    """One spelling of a word: its side, its class and the same word spelt the other way."""

    side: str
    kind: str
    counterpart: str


def _word_counts() -> tuple[dict[str, int], dict[str, int]]:
    """symspellpy's and pyspellchecker's English counts: symspellpy's list lacks many British
    forms (theatre, travelled), pyspellchecker's lacks some (colour); both are needed."""
    symspell = {}
    with (files("symspellpy") / WORD_LIST).open("r", encoding="utf-8") as fh:
        for line in fh:
            word, count = line.split()
            symspell[word] = int(count)
    return symspell, pyspellchecker_counts()


def pyspellchecker_counts() -> dict[str, int]:
    """pyspellchecker's English word counts (160k words), read from the package's JSON
    rather than by building a SpellChecker (less memory). Not cached: its callers keep only
    what they derive from it."""
    resource = files("spellchecker") / "resources" / "en.json.gz"
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def _real_pair(british: str, american: str, lists: tuple[dict[str, int], ...]) -> bool:
    """Both forms are in use: -ise words that American English spells -ise too (surprise,
    expertise, merchandise) have an -ize form far rarer than themselves."""
    if british in _NOT_VARIANTS:
        return False
    for counts in lists:
        if british in counts and american in counts:
            return counts[american] >= MIN_COUNTERPART_SHARE * counts[british]
    return True


@stored_resource("pyspellchecker", "symspellpy")
def variant_table() -> dict[str, Variant]:
    """Every listed word that has a counterpart in the other spelling, both ways round."""
    symspell, spellchecker = _word_counts()
    words = symspell.keys() | spellchecker.keys()
    table: dict[str, Variant] = {}
    for word in sorted(words):
        if len(word) < 5 or not word.isalpha():
            continue
        for kind, pattern, replacement in _CLASSES:
            if _NEEDLES[pattern] not in word:
                continue  # the pattern cannot match: a substring test is 10× cheaper than sub
            american = pattern.sub(replacement, word)
            if american == word or american not in words or american in table:
                continue
            if _real_pair(word, american, (spellchecker, symspell)):
                table[word] = Variant(BRITISH, kind, american)
                table[american] = Variant(AMERICAN, kind, word)
            break
    return table


@cache
def _evidence_words() -> tuple[pa.Array, int]:
    """Every variant word, British ones first, and how many are British: one ``index_in``
    then tells a token's side."""
    table = variant_table()
    british = sorted(w for w, v in table.items() if v.side == BRITISH)
    american = sorted(w for w, v in table.items() if v.side == AMERICAN)
    return pa.array(british + american, pa.string()), len(british)


def decide(british: int, american: int) -> str | None:
    """The side the evidence clearly favours, or None."""
    if british >= max(1, DOMINANCE * american):
        return BRITISH
    if american >= max(1, DOMINANCE * british):
        return AMERICAN
    return None


def side_counts(texts: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Per document, the number of British and of American evidence tokens (counted in
    Arrow: one pass over the batch's tokens, no per-token Python)."""
    tokens = pc.utf8_split_whitespace(texts)
    parents = pc.list_parent_indices(tokens)
    words = pc.utf8_trim(pc.list_flatten(tokens), characters=_EDGE_PUNCTUATION)
    value_set, n_british = _evidence_words()
    index = pc.index_in(words, value_set=value_set)
    found = pc.is_valid(index)
    docs = pc.filter(parents, found).to_numpy(zero_copy_only=False)
    british = pc.filter(index, found).to_numpy(zero_copy_only=False) < n_british
    n = len(texts)
    return {
        BRITISH: np.bincount(docs[british], minlength=n),
        AMERICAN: np.bincount(docs[~british], minlength=n),
    }


def class_votes(text: str) -> dict[str, tuple[int, int]]:
    """(British, American) evidence tokens of one text per class (the typo stage asks this
    only of documents it corrects)."""
    table = variant_table()
    votes = {kind: [0, 0] for kind in CLASSES}
    for chunk in text.split():
        variant = table.get(chunk.strip(_EDGE_PUNCTUATION))
        if variant is not None:
            votes[variant.kind][0 if variant.side == BRITISH else 1] += 1
    return {kind: (b, a) for kind, (b, a) in votes.items()}


def steer(fix: str, side_for: Callable[[str], str | None]) -> str:
    """``fix`` spelt the way ``side_for(class)`` says the document spells that class of
    words (``criticized`` → ``criticised`` for a British text); unchanged when the word has
    no other spelling or the document has no answer."""
    variant = variant_table().get(fix.lower())
    if variant is None:
        return fix
    wanted = side_for(variant.kind)
    if wanted is None or wanted == variant.side:
        return fix
    counterpart = variant.counterpart
    return counterpart[:1].upper() + counterpart[1:] if fix[:1].isupper() else counterpart


COLUMN = NewColumn(
    "english_spelling",
    pa.string(),
    "spelling convention of an English text: british, american, or null (no clear evidence)",
)


@register
class SpellingStage(Stage):
    """``english_spelling`` of every English document, from its own -ise/-ize, -our/-or,
    -re/-er, doubled-l and -ence/-ense words."""

    name = "spelling"
    version = 1
    description = "British or American spelling of each English document, from its own words"
    reads = ("text", "language")
    adds = (COLUMN,)

    def resources(self) -> dict[str, str]:
        return {
            "symspellpy": f"{package_version('symspellpy')} {WORD_LIST}",
            "pyspellchecker": package_version("pyspellchecker"),
        }

    @classmethod
    def preload(cls) -> None:
        """The variant table, built from two word lists (about 0.6 s per process)."""
        _evidence_words()

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        counts = side_counts(batch.column("text"))
        english = pc.fill_null(pc.equal(batch.column("language"), "en"), False).to_pylist()
        sides = [
            decide(int(b), int(a)) if is_english else None
            for b, a, is_english in zip(counts[BRITISH], counts[AMERICAN], english, strict=True)
        ]
        column = pa.array(sides, pa.string())
        return StageResult(batch.append_column(COLUMN.field(), column), empty_edits())
