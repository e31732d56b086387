"""Build a multi-publisher news corpus with *known* per-publisher boilerplate lines.

Why this exists: the rule packs only remove boilerplate that looks the same everywhere
("Share this", copyright footers). Real publishers add their own lines -- a masthead, an
author bio, a tips address, a "Related coverage" link -- that no generic rule can know. A
learned layer finds them by counting, per publisher (``domain``), the short paragraphs that
recur in many *distinct* stories. Scoring it needs a corpus where every inserted line is
known, where lines repeat often enough to be learnable, and where the traps are present:
syndicated stories (the same story, near-copied, at 2-4 publishers or 2-3 times at one
publisher) whose genuine paragraphs must *not* be learned, small publishers where a line
recurs only a few times, and documents with no publisher at all.

Story text is real: paragraphs are spliced by code from sentences of the FakeNewsCorpus
sample and the reference article, exactly as ``make_neardup_corpus.py`` does (its ``_Pool``
and ``_BaseDocs`` are reused), so unrelated stories share little. The boilerplate lines are
made up by code from templates filled with each publisher's invented name, town, staff and
addresses; they avoid every phrase the existing rule packs remove, and every rendered line
is checked against ``tasks/rules/boilerplate.toml`` (a line a rule would catch aborts the
run). Nothing is edited by hand; everything follows from ``--seed``.

Each publisher gets 1-2 header lines, 1-3 footer lines and 0-2 inline lines (inserted
between story paragraphs), and each line appears independently in a fixed share (40-100 %)
of that publisher's documents. Some publishers get a line whose digits change per
document (a year, an issue number, a time) -- one line once digits are folded; slots keep
their digit count (a year stays 4 digits) so folding each digit or each digit run agree.

Layout (``truth.parquet`` and ``meta.json`` stay outside ``raw/`` so a pipeline reading
``raw/`` sees only articles; ``meta.json`` is written last and marks a complete corpus)::

    OUT_DIR/raw/part-00000.jsonl ...   id, title, url, domain, authors, published, content
    OUT_DIR/truth.parquet              one row per document (columns below)
    OUT_DIR/meta.json                  counts, seed, per-publisher lines and their support

``truth.parquet``: ``id``, ``domain`` (null for the no-publisher pool), ``story_id`` (the
base story), ``syndicated`` (the story has more than one document), ``story_kind``
(``single``, ``cross`` = 2-4 publishers, ``same`` = 2-3 times at one publisher, ``pool``),
``copy_index`` (0 = the first copy), ``variant`` (``base``, ``exact``, ``para_dropped``,
``para_added``), ``injected`` (the boilerplate paragraphs inserted, exactly as written, in
text order), ``injected_line_ids`` (parallel: which publisher line each one is),
``genuine`` (the story paragraphs), ``first_copy_id``, ``jaccard_to_first`` and
``body_jaccard_to_first`` (5-word-shingle Jaccard of the whole content, and of the story
paragraphs only, to the story's first copy; null for a first copy).

Usage::

    python bench/make_boilerplate_corpus.py OUT_DIR --publishers 20 --stories 200 --seed 0
    python bench/make_boilerplate_corpus.py OUT_DIR --platforms 3   # + CMS widget lines
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_DIR))
import make_corpus  # noqa: E402  (bench/ is run as scripts, not as a package)
import make_neardup_corpus as neardup  # noqa: E402

SOURCE_CSV = make_corpus.SOURCE_CSV
SOURCE_TXT = make_corpus.SOURCE_TXT
RAW_SUBDIR = make_corpus.RAW_SUBDIR
MAX_STORY_PARAS = 12  # _BaseDocs makes 4-15 paragraphs; stories keep at most 12
EDIT_MIN_PARAS = 6  # a copy drops/adds a paragraph only when the story has this many
CROSS_SHARE = 0.15  # share of (publisher) base stories carried by 2-4 publishers
SAME_SHARE = 0.05  # share republished 2-3 times by the same publisher
POOL_SHARE = 0.03  # share of all documents with no domain and no url
CROSS_SIZES, CROSS_WEIGHTS = (2, 3, 4), (0.5, 0.3, 0.2)
SAME_SIZES, SAME_WEIGHTS = (2, 3), (0.6, 0.4)
COPY_VARIANTS, COPY_WEIGHTS = ("exact", "para_dropped", "para_added"), (0.4, 0.3, 0.3)
SMALL_DOCS = (5, 10)  # documents of a "small" publisher
LARGE_FACTOR = 3  # a "large" publisher has LARGE_FACTOR x --stories documents
NORMAL_SPREAD = (0.5, 1.5)  # a "normal" publisher has this range x --stories
LINE_SHARE = (0.4, 1.0)  # each line's inclusion probability, per publisher line
DIGIT_PUBLISHER_SHARE = 0.3  # publishers given a line whose digits vary per document
LAG_DAYS = 4  # copies appear 0-3 days after the story's first date
EPOCH = neardup.EPOCH
DATE_SPAN_DAYS = neardup.DATE_SPAN_DAYS

#: Phrases the existing rule packs (or the brief) reserve: no generated line may contain one.
FORBIDDEN = (
    "share this", "continue reading", "advertisement", "copyright", "all rights reserved",
    "subscribe", "follow us", "click here", "read more", "source:", "photo", "getty", "©",
    "newsletter", "inbox", "sign up", "credit", "image",
)  # fmt: skip

# --------------------------------------------------------------------------- publishers

_PREFIX = ("Daily", "Morning", "Evening", "Weekly", "Valley", "Coastal", "Northern", "Lakeside",
           "Prairie", "Island")  # fmt: skip
_NOUN = ("Harbor", "Ridge", "Meadow", "Bluff", "Cove", "Summit", "Lantern", "Beacon", "Compass",
         "Anchor", "Heron", "Kestrel", "Juniper", "Cedar", "Granite", "Willow", "Tidewater",
         "Foothill", "Canyon", "Orchard", "Ferry", "Quarry", "Marsh", "Pinewood")  # fmt: skip
_TOWN_A = ("Port", "North", "West", "Upper", "Old", "Fort", "Lower", "East")
_TOWN_B = ("Alder", "Birchmont", "Calder", "Dunmore", "Elsworth", "Fenwick", "Galloway", "Hartwell",
           "Ivybridge", "Kelso", "Larkspur", "Merriton", "Norbury", "Oakhurst", "Penrose",
           "Quillan", "Rosedale", "Stanmere", "Thornbury", "Wexley")  # fmt: skip
_REGIONS = ("the coast", "the valley", "the northern lakes", "the high plains",
            "the river counties", "the foothills", "the islands", "the delta",
            "the lake country", "the border hills")  # fmt: skip
_FIRST = (("Maria", "She"), ("Daniel", "He"), ("Priya", "She"), ("Tomasz", "He"),
          ("Aisha", "She"), ("Kenji", "He"), ("Olga", "She"), ("Marcus", "He"),
          ("Ines", "She"), ("Samuel", "He"), ("Leila", "She"), ("Owen", "He"),
          ("Grace", "She"), ("Rafael", "He"), ("Hannah", "She"), ("Viktor", "He"))  # fmt: skip
_LAST = ("Lopez", "Okafor", "Lindqvist", "Marsh", "Delgado", "Brennan", "Nakamura", "Haddad",
         "Kowalski", "Ferreira", "Abbott", "Whitfield", "Osei", "Calloway", "Duarte",
         "Petrov")  # fmt: skip
_BEATS = ("city hall", "schools", "the courts", "the environment", "transport", "health",
          "housing", "local business", "public safety", "the county board")  # fmt: skip
_STREETS = ("Mill", "Water", "Chapel", "Station", "Market", "Bridge", "Orchard", "Church")
_RELATED = ("{town} council votes on budget", "{town} schools weigh later start times",
            "Flood barriers planned for the {town} waterfront",
            "Bus routes in {town} to change next month",
            "Readers pick the best bakeries in {town}",
            "What the new {town} zoning map means for renters",
            "{town} library extends weekend hours",
            "Ferry fares across {region} to rise in spring")  # fmt: skip

#: Templates per role. ``{name}``, ``{short}``... are publisher fields; ``{year}``, ``{issue}``,
#: ``{hhmm}`` and ``{sid}`` are per-document slots (only in the ``*_DIGITS`` templates).
HEADERS = (
    "{name} — independent news from {region}",
    "{name} | Local reporting for {town} since {founded}",
    "{NAME} · {town} · {Region}",
    "You are reading {name}, the community paper of {town}.",
    "{name}: news, weather and sport for {town} and {region}",
    "Published by the {short} Media Cooperative of {town}",
    "{town} edition of {name}",
)
HEADERS_DIGITS = (
    "Vol. {vol}, No. {issue} — {name}",
    "{name}, {town} edition, {year}",
    "Updated {hhmm} by the {short} night desk",
)
FOOTERS = (
    "{author} covers {beat} for the {short}. {pronoun} has worked at the paper since {since}.",
    "Tips? Our newsroom reads every message at tips@{mail}.example",
    "This story was produced by the {short} staff with support from local readers.",
    "{name} is an independent, reader-funded newsroom based in {town}.",
    "Spotted an error? Write to the standards editor at desk@{mail}.example or call 555-01{nn}.",
    "Letters to the editor go to {house} {street} Street, {town}. Please include a daytime "
    "phone number.",
    "Reporting for this article was supported by the {town} Community Journalism Fund.",
    "The {short} welcomes reader comments that stay on topic and respect other readers.",
    "Membership starts at three dollars a month and keeps the {short} newsroom open.",
)
FOOTERS_DIGITS = (
    "Printed in {town} for {name} readers, {year} edition.",
    "{name} newsdesk, {year}: call 555-01{nn} or write to news@{mail}.example",
    "Story ID {sid}, filed to the {short} archive.",
)
INLINES = (
    "Related coverage: {related}",
    "Also on the {short} site: {related}",
    "Listen: the {short} morning briefing is out every weekday at 7 a.m.",
    "Don't miss our weekend guide to {town}'s markets and festivals.",
    "Map: where {town}'s new bus routes will run",
    "Poll of the week: how should {town} spend its parks budget?",
    "Got a question about this story? Ask the {short} desk at ask@{mail}.example.",
)
ROLE_COUNTS = {"header": (1, 2), "footer": (1, 3), "inline": (0, 2)}
#: Widget text a CMS prints under the articles of every site built on it (``--platforms``):
#: real strings of Webflow and Gravity Forms sites (WCXB pages), not article text.
PLATFORM_LINES = (
    "Oops! Something went wrong while submitting the form.",
    "Thank you! Your submission has been received!",
    "This field is for validation purposes and should be left unchanged.",
)
DOC_SLOTS = ("year", "issue", "hhmm", "sid")


@dataclass
class Line:
    """One boilerplate line of a publisher; ``template`` still holds the per-document slots."""

    line_id: str
    role: str
    template: str
    share: float
    digit_varying: bool

    def render(self, slots: dict[str, str]) -> str:
        """The line as written into one document."""
        return self.template.format(**slots) if self.digit_varying else self.template


@dataclass
class Publisher:
    """A made-up publisher: its identity, size class, document count and lines."""

    index: int
    name: str
    short: str
    domain: str
    town: str
    size_class: str
    n_docs: int
    lines: list[Line] = field(default_factory=list)

    def by_role(self, role: str) -> list[Line]:
        return [ln for ln in self.lines if ln.role == role]


def _rule_checker() -> Callable[[str], str | None]:
    """A function telling which existing boilerplate rule (if any) would remove a line."""
    from newsclean.tasks.rules import boilerplate_pack

    rules = [r for r in boilerplate_pack().rules if r.kind != "headline" and r.pattern]

    def hit(line: str) -> str | None:
        words = line.count(" ") + 1
        for rule in rules:
            if words > rule.max_words:
                continue
            pat = rule.compiled()
            if (pat.match(line) if rule.kind == "span" else pat.fullmatch(line)) is not None:
                return rule.id
        return None

    return hit


def _check_line(text: str, checker: Callable[[str], str | None]) -> None:
    """Abort when a generated line would be caught by a generic rule (the bench would then
    score the rule pack, not the learned layer)."""
    low = text.lower()
    bad = [p for p in FORBIDDEN if p in low]
    rule = checker(text)
    if bad or rule:
        raise ValueError(f"generated line {text!r} hits {bad or rule}: fix the templates")


def _sample_slots(r: random.Random, year: int) -> dict[str, str]:
    """Per-document slot values; every slot keeps its digit count across documents."""
    return {
        "year": str(year),
        "issue": str(r.randint(100, 999)),
        "hhmm": f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
        "sid": str(r.randint(100_000, 999_999)),
    }


def _make_publishers(n_pub: int, stories: int, r: random.Random) -> list[Publisher]:
    """Names, sizes and boilerplate lines of every publisher, all drawn from ``r``."""
    if n_pub < 1 or n_pub > len(_PREFIX) * len(_NOUN):
        raise ValueError(f"publishers must be in 1..{len(_PREFIX) * len(_NOUN)}")
    n_small = max(1, round(0.15 * n_pub)) if n_pub >= 4 else 0
    n_large = 1 if n_pub >= 3 else 0
    classes = ["large"] * n_large + ["small"] * n_small + ["normal"] * (n_pub - n_large - n_small)
    r.shuffle(classes)
    nouns = r.sample(_NOUN, min(n_pub, len(_NOUN)))
    combos = [(a, n) for n in _NOUN for a in _PREFIX]
    r.shuffle(combos)
    # Distinct nouns while they last (the short name is then the noun), else distinct pairs.
    fresh = [(r.choice(_PREFIX), n) for n in nouns]
    picked = fresh if n_pub <= len(_NOUN) else combos[:n_pub]
    noun_count = Counter(n for _, n in picked)
    towns = [f"{a} {b}" for a in _TOWN_A for b in _TOWN_B]
    r.shuffle(towns)
    digit_pubs = set(
        r.sample(range(n_pub), min(n_pub, max(2, round(DIGIT_PUBLISHER_SHARE * n_pub))))
    )
    checker = _rule_checker()
    out: list[Publisher] = []
    for i, ((prefix, noun), size_class) in enumerate(zip(picked, classes, strict=True)):
        name = f"The {prefix} {noun}"
        short = noun if noun_count[noun] == 1 else f"{prefix} {noun}"
        slug = f"{prefix}{noun}".lower()
        town = towns[i % len(towns)]
        region = r.choice(_REGIONS)
        first, pronoun = r.choice(_FIRST)
        fields = {
            "name": name,
            "NAME": name.upper(),
            "short": short,
            "town": town,
            "region": region,
            "Region": region[0].upper() + region[1:],
            "founded": str(r.randint(1890, 1995)),
            "since": str(r.randint(1998, 2015)),
            "author": f"{first} {r.choice(_LAST)}",
            "pronoun": pronoun,
            "beat": r.choice(_BEATS),
            "mail": slug,
            "nn": f"{r.randint(0, 99):02d}",
            "house": str(r.randint(2, 240)),
            "street": r.choice(_STREETS),
            "vol": str(r.randint(12, 140)),
        }
        fields["related"] = r.choice(_RELATED).format(town=town, region=region)
        if size_class == "small":
            n_docs = r.randint(*SMALL_DOCS)
        elif size_class == "large":
            n_docs = LARGE_FACTOR * stories
        else:
            n_docs = r.randint(round(NORMAL_SPREAD[0] * stories), round(NORMAL_SPREAD[1] * stories))
        pub = Publisher(i, name, short, f"the-{prefix}-{noun}.example".lower(), town, size_class,
                        max(1, n_docs))  # fmt: skip
        # Which role carries the digit-varying line (header or footer), if any.
        digit_role = r.choice(("header", "footer")) if i in digit_pubs else None
        for role, pool in (("header", HEADERS), ("inline", INLINES), ("footer", FOOTERS)):
            lo, hi = ROLE_COUNTS[role]
            k = r.randint(lo, hi)
            templates = r.sample(pool, k)
            if role == digit_role:
                digit_pool = HEADERS_DIGITS if role == "header" else FOOTERS_DIGITS
                templates = [*templates[: max(0, k - 1)], r.choice(digit_pool)]
            for j, tpl in enumerate(templates):
                digits = any("{" + s + "}" in tpl for s in DOC_SLOTS)
                keep = {s: "{" + s + "}" for s in DOC_SLOTS}
                text = tpl.format(**fields, **keep)
                line = Line(f"p{i:03d}.{role}.{j}", role, text, round(r.uniform(*LINE_SHARE), 3),
                            digits)  # fmt: skip
                for year in (2016, 2017, 2018):
                    _check_line(line.render(_sample_slots(r, year)), checker)
                pub.lines.append(line)
        out.append(pub)
    return out


def _add_platform_lines(pubs: list[Publisher], platforms: int, seed: int) -> None:
    """Put every publisher but one in ``platforms + 1`` on one of ``platforms`` CMSs, whose
    widget line its documents then print (line id ``pNNN.platform.K``, rendered as a footer):
    what ``learned.corpus-line`` learns across publishers, also for the small publishers the
    per-publisher rule cannot learn from. A separate random stream: without ``--platforms``
    the corpus is byte for byte what it was."""
    if platforms > len(PLATFORM_LINES):
        raise ValueError(f"platforms must be at most {len(PLATFORM_LINES)}")
    r = random.Random(seed + 1)
    for pub in pubs:
        k = pub.index % (platforms + 1)
        if k == platforms:
            continue
        line = Line(f"p{pub.index:03d}.platform.{k}", "footer", PLATFORM_LINES[k],
                    round(r.uniform(*LINE_SHARE), 3), False)  # fmt: skip
        pub.lines.append(line)


# --------------------------------------------------------------------------- planning


@dataclass
class _Story:
    kind: str  # single | cross | same | pool
    publishers: list[int]  # one entry per copy; -1 = no publisher (pool)


def _plan_stories(pubs: list[Publisher], rng: np.random.Generator) -> list[_Story]:
    """Assign every publisher document slot to a story; cross groups, same groups, singles.

    Slots are drawn in proportion to the capacity left, so a large publisher carries more
    syndicated stories and a small one can still get one.
    """
    cap = np.array([p.n_docs for p in pubs], np.int64)
    total = int(cap.sum())
    mean_cross = float(np.dot(CROSS_SIZES, CROSS_WEIGHTS))
    mean_same = float(np.dot(SAME_SIZES, SAME_WEIGHTS))
    per_story = 1 - CROSS_SHARE - SAME_SHARE + CROSS_SHARE * mean_cross + SAME_SHARE * mean_same
    n_base = total / per_story
    stories: list[_Story] = []
    for g in rng.choice(CROSS_SIZES, round(CROSS_SHARE * n_base), p=CROSS_WEIGHTS).tolist():
        avail = np.flatnonzero(cap > 0)
        g = min(int(g), len(avail))
        if g < 2:
            break
        chosen = rng.choice(avail, g, replace=False, p=cap[avail] / cap[avail].sum())
        cap[chosen] -= 1
        stories.append(_Story("cross", [int(c) for c in chosen]))
    for h in rng.choice(SAME_SIZES, round(SAME_SHARE * n_base), p=SAME_WEIGHTS).tolist():
        avail = np.flatnonzero(cap >= 2)
        if not len(avail):
            break
        pub = int(rng.choice(avail, p=cap[avail] / cap[avail].sum()))
        h = min(int(h), int(cap[pub]))
        cap[pub] -= h
        stories.append(_Story("same", [pub] * h))
    for pub, left in enumerate(cap.tolist()):
        stories += [_Story("single", [pub]) for _ in range(left)]
    n_pool = round(POOL_SHARE * total / (1 - POOL_SHARE))
    stories += [_Story("pool", [-1]) for _ in range(n_pool)]
    return [stories[i] for i in rng.permutation(len(stories))]


# --------------------------------------------------------------------------- documents


@dataclass
class _DocPlan:
    """Everything needed to render one document again, in any order."""

    story: int
    copy: int
    publisher: int
    variant: str
    spare: int  # index into the spare paragraphs (para_added), else -1
    seed: int  # paragraph edits and per-document slot values
    wrap_seed: int  # which lines the document gets and where inline lines go
    lag: int


class _Renderer:
    """Builds a document's content and truth from its plan; pure, so a copy's first copy can
    be re-rendered for its Jaccard without keeping texts in memory."""

    def __init__(self, base: neardup._BaseDocs, spare: list[str], pubs: list[Publisher],
                 days: np.ndarray) -> None:  # fmt: skip
        self.base, self.spare, self.pubs, self.days = base, spare, pubs, days

    def story_paragraphs(self, story: int) -> list[str]:
        return self.base.paragraphs(story)[:MAX_STORY_PARAS]

    def date(self, plan: _DocPlan) -> dt.date:
        return EPOCH + dt.timedelta(days=int(self.days[plan.story]) + plan.lag)

    def render(self, plan: _DocPlan) -> tuple[str, list[str], list[str], list[str]]:
        """``(content, genuine, injected, injected_line_ids)`` of one document."""
        r = random.Random(plan.seed)
        paras = self.story_paragraphs(plan.story)
        if plan.variant == "para_dropped":
            del paras[r.randrange(len(paras))]
        elif plan.variant == "para_added":
            paras.insert(r.randint(0, len(paras)), self.spare[plan.spare])
        genuine = list(paras)
        if plan.publisher < 0:
            return "\n\n".join(paras), genuine, [], []
        pub = self.pubs[plan.publisher]
        slots = _sample_slots(r, self.date(plan).year)
        wrap = random.Random(plan.wrap_seed)
        chosen = {
            role: [ln for ln in pub.by_role(role) if wrap.random() < ln.share]
            for role in ("header", "inline", "footer")
        }
        body: list[tuple[str, str | None]] = [(p, None) for p in paras]
        n_gaps = min(len(chosen["inline"]), len(paras) - 1)
        gaps = sorted(wrap.sample(range(1, len(paras)), n_gaps))
        for k, (gap, ln) in enumerate(zip(gaps, chosen["inline"], strict=False)):
            body.insert(gap + k, (ln.render(slots), ln.line_id))
        parts = [(ln.render(slots), ln.line_id) for ln in chosen["header"]]
        parts += body
        parts += [(ln.render(slots), ln.line_id) for ln in chosen["footer"]]
        injected = [t for t, lid in parts if lid is not None]
        line_ids = [lid for _, lid in parts if lid is not None]
        return "\n\n".join(t for t, _ in parts), genuine, injected, line_ids


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def make_boilerplate_corpus(
    out_dir: Path,
    n_publishers: int = 20,
    stories: int = 200,
    seed: int = 0,
    file_docs: int = 1000,
    csv_path: Path = SOURCE_CSV,
    txt_paths: list[Path] | None = None,
    platforms: int = 0,
) -> dict[str, Any]:
    """Write the corpus, ``truth.parquet`` and ``meta.json``; return the meta dict.

    ``stories`` is the document count of a normal publisher (it varies 0.5-1.5x); small
    publishers have 5-10 documents and one large publisher has 3x. Files hold
    ``file_docs`` documents each, in random order, so every publisher spans every file
    and a learner must count across batches.
    """
    if stories < 1 or file_docs < 1:
        raise ValueError("need stories >= 1 and file_docs >= 1")
    txt_paths = [SOURCE_TXT] if txt_paths is None else txt_paths
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    raw_dir = neardup.prepare_output(out_dir)

    rng = np.random.default_rng(seed)
    pubs = _make_publishers(n_publishers, stories, random.Random(int(rng.integers(2**62))))
    if platforms:
        _add_platform_lines(pubs, platforms, seed)
    plan = _plan_stories(pubs, rng)
    n_stories = len(plan)
    n_docs = sum(len(s.publishers) for s in plan)
    pool = neardup._Pool(csv_path, txt_paths)
    # Spare base documents supply paragraphs for "para_added" copies, each used once.
    n_spare_docs = (n_docs - n_stories) // 4 + 1
    base = neardup._BaseDocs(pool, n_stories + n_spare_docs, rng)
    spare = [p for d in range(n_stories, n_stories + n_spare_docs) for p in base.paragraphs(d)]
    rows = rng.integers(0, pool.n_rows, n_stories)
    days = rng.integers(0, DATE_SPAN_DAYS, n_stories)
    renderer = _Renderer(base, spare, pubs, days)

    plans: list[_DocPlan] = []
    first_doc: dict[int, int] = {}
    n_spare_used = 0
    for s, story in enumerate(plan):
        n_par = min(MAX_STORY_PARAS, int(base.n_par[s]))
        for k, pub in enumerate(story.publishers):
            if k == 0:
                variant = "base"
            elif n_par >= EDIT_MIN_PARAS:
                variant = str(rng.choice(COPY_VARIANTS, p=COPY_WEIGHTS))
            else:
                variant = "exact"
            spare_i = -1
            if variant == "para_added":
                spare_i, n_spare_used = n_spare_used, n_spare_used + 1
            lag = 0 if k == 0 else int(rng.integers(0, LAG_DAYS))
            doc_seed, wrap_seed = (int(x) for x in rng.integers(2**62, size=2))
            if k == 0:
                first_doc[s] = len(plans)
            elif story.kind == "same":
                # A republication keeps the publisher's template as the first copy had it
                # (same lines, same inline places); only slot digits and the story change.
                wrap_seed = plans[first_doc[s]].wrap_seed
            plans.append(_DocPlan(s, k, pub, variant, spare_i, doc_seed, wrap_seed, lag))
    perm = rng.permutation(n_docs)  # perm[pos] = plan index written at position pos
    pos_of = np.empty(n_docs, np.int64)
    pos_of[perm] = np.arange(n_docs)

    def doc_id(plan_index: int) -> str:
        return f"doc-{int(pos_of[plan_index]):07d}"

    truth: dict[str, list[Any]] = defaultdict(list)
    files: list[str] = []
    fh: Any = None
    content_bytes = 0
    chars = np.zeros(n_docs, np.int64)
    # (publisher, line id) -> stories / documents / distinct texts; genuine paragraph
    # digests per publisher -> stories (a genuine paragraph in >= 3 stories of one
    # publisher would be learnable by definition: the corpus should have none).
    line_stories: dict[str, set[int]] = defaultdict(set)
    line_docs: Counter[str] = Counter()
    line_texts: dict[str, Counter[str]] = defaultdict(Counter)
    genuine_stories: dict[tuple[int, bytes], set[int]] = defaultdict(set)
    try:
        for pos in range(n_docs):
            if pos % file_docs == 0:
                if fh is not None:
                    fh.close()
                files.append(f"part-{len(files):05d}.jsonl")
                fh = open(raw_dir / files[-1], "wb", buffering=4 * 2**20)  # noqa: SIM115
            pi = int(perm[pos])
            dp = plans[pi]
            story = plan[dp.story]
            content, genuine, injected, line_ids = renderer.render(dp)
            jac = body_jac = None
            if dp.copy > 0:
                first = plans[first_doc[dp.story]]
                f_content, f_genuine, _, _ = renderer.render(first)
                jac = neardup.jaccard(neardup.shingles(content), neardup.shingles(f_content))
                body_jac = neardup.jaccard(
                    neardup.shingles("\n\n".join(genuine)),
                    neardup.shingles("\n\n".join(f_genuine)),
                )
            row = int(rows[dp.story])
            pub = pubs[dp.publisher] if dp.publisher >= 0 else None
            domain = pub.domain if pub else ""
            rec = {
                "id": f"doc-{pos:07d}",
                "title": f"{pool.titles[row]} #{dp.story}",
                "url": f"https://{domain}/{pool.slugs[row]}-{pos}" if pub else "",
                "domain": domain,
                "authors": pool.authors[row],
                "published": renderer.date(dp).isoformat(),
                "content": content,
            }
            fh.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
            chars[pos] = len(content)
            content_bytes += len(content.encode("utf-8"))
            truth["id"].append(rec["id"])
            truth["domain"].append(domain or None)
            truth["story_id"].append(f"story-{dp.story:06d}")
            truth["syndicated"].append(len(story.publishers) > 1)
            truth["story_kind"].append(story.kind)
            truth["copy_index"].append(dp.copy)
            truth["variant"].append(dp.variant)
            truth["injected"].append(injected)
            truth["injected_line_ids"].append(line_ids)
            truth["genuine"].append(genuine)
            truth["first_copy_id"].append(doc_id(first_doc[dp.story]))
            truth["jaccard_to_first"].append(jac)
            truth["body_jaccard_to_first"].append(body_jac)
            for text, lid in zip(injected, line_ids, strict=True):
                line_stories[lid].add(dp.story)
                line_docs[lid] += 1
                line_texts[lid][text] += 1
            if pub is not None:
                for para in genuine:
                    genuine_stories[(pub.index, _digest(para))].add(dp.story)
    finally:
        if fh is not None:
            fh.close()

    table = pa.table(
        {
            "id": pa.array(truth["id"], pa.string()),
            "domain": pa.array(truth["domain"], pa.string()),
            "story_id": pa.array(truth["story_id"], pa.string()),
            "syndicated": pa.array(truth["syndicated"], pa.bool_()),
            "story_kind": pa.array(truth["story_kind"], pa.string()),
            "copy_index": pa.array(truth["copy_index"], pa.int32()),
            "variant": pa.array(truth["variant"], pa.string()),
            "injected": pa.array(truth["injected"], pa.list_(pa.string())),
            "injected_line_ids": pa.array(truth["injected_line_ids"], pa.list_(pa.string())),
            "genuine": pa.array(truth["genuine"], pa.list_(pa.string())),
            "first_copy_id": pa.array(truth["first_copy_id"], pa.string()),
            "jaccard_to_first": pa.array(truth["jaccard_to_first"], pa.float64()),
            "body_jaccard_to_first": pa.array(truth["body_jaccard_to_first"], pa.float64()),
        }
    )
    pq.write_table(table, out_dir / "truth.parquet", compression="zstd")

    meta = _meta(
        pubs, plan, plans, truth, line_stories, line_docs, line_texts, genuine_stories, seed
    )
    meta |= {
        "n_publishers": n_publishers,
        "stories_arg": stories,
        "content_bytes": content_bytes,
        "total_bytes": sum((raw_dir / f).stat().st_size for f in files),
        "content_chars_mean": round(float(chars.mean()), 1),
        "content_chars_p5_p95": [int(x) for x in np.quantile(chars, [0.05, 0.95])],
        "file_docs": file_docs,
        "files": files,
        "raw_dir": RAW_SUBDIR,
        "base_docs_resampled_for_distinctness": base.n_resampled,
        "n_pool_units": len(pool.units),
        "sources": {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in [Path(csv_path), *txt_paths]
        },
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _meta(
    pubs: list[Publisher],
    plan: list[_Story],
    plans: list[_DocPlan],
    truth: dict[str, list[Any]],
    line_stories: dict[str, set[int]],
    line_docs: Counter[str],
    line_texts: dict[str, Counter[str]],
    genuine_stories: dict[tuple[int, bytes], set[int]],
    seed: int,
) -> dict[str, Any]:
    """Counts and per-publisher line lists, with each line's realised support."""
    kinds = Counter(s.kind for s in plan)
    doc_kinds = Counter(truth["story_kind"])
    variants = Counter(truth["variant"])
    pub_stories: dict[int, set[int]] = defaultdict(set)
    for dp in plans:
        pub_stories[dp.publisher].add(dp.story)
    repeats: dict[int, Counter[int]] = defaultdict(Counter)
    for (pub, _), st in genuine_stories.items():
        repeats[pub][min(len(st), 3)] += 1
    same_jac = [
        j for j, k in zip(truth["jaccard_to_first"], truth["story_kind"], strict=True)
        if j is not None and k == "same"
    ]  # fmt: skip
    same_body = [
        j for j, k in zip(truth["body_jaccard_to_first"], truth["story_kind"], strict=True)
        if j is not None and k == "same"
    ]  # fmt: skip
    publishers = []
    for p in pubs:
        n_st = len(pub_stories[p.index])
        lines = []
        for ln in p.lines:
            texts = line_texts.get(ln.line_id, Counter())
            lines.append(
                {
                    "line_id": ln.line_id,
                    "role": ln.role,
                    "text": ln.template,  # per-document slots shown as {year}, {issue}...
                    "digit_varying": ln.digit_varying,
                    "share": ln.share,
                    "n_docs": line_docs[ln.line_id],
                    "n_stories": len(line_stories.get(ln.line_id, ())),
                    "story_share": round(len(line_stories.get(ln.line_id, ())) / max(n_st, 1), 3),
                    "n_distinct_texts": len(texts),
                    "examples": [t for t, _ in texts.most_common(3)],
                }
            )
        publishers.append(
            {
                "domain": p.domain,
                "name": p.name,
                "town": p.town,
                "size_class": p.size_class,
                "n_docs": p.n_docs,
                "n_stories": n_st,
                "genuine_paragraphs_in_2_stories": repeats[p.index][2],
                "genuine_paragraphs_in_3plus_stories": repeats[p.index][3],
                "lines": lines,
            }
        )
    n_pub_stories = sum(v for k, v in kinds.items() if k != "pool")
    return {
        "seed": seed,
        "n_docs": len(truth["id"]),
        "n_stories": len(plan),
        "stories_by_kind": dict(kinds),
        "docs_by_story_kind": dict(doc_kinds),
        "cross_share_of_publisher_stories": round(kinds["cross"] / max(n_pub_stories, 1), 4),
        "same_share_of_publisher_stories": round(kinds["same"] / max(n_pub_stories, 1), 4),
        "pool_docs": doc_kinds["pool"],
        "variants": dict(variants),
        "same_publisher_copy_jaccard": {
            "n": len(same_jac),
            "min": round(min(same_jac), 4) if same_jac else None,
            "below_0_8": sum(j < 0.8 for j in same_jac),
            "body_min": round(min(same_body), 4) if same_body else None,
            "body_below_0_8": sum(j < 0.8 for j in same_body),
        },
        "injected_lines_total": sum(len(x) for x in truth["injected"]),
        "genuine_paragraphs_total": sum(len(x) for x in truth["genuine"]),
        "genuine_paragraphs_in_3plus_stories_of_a_publisher": sum(v[3] for v in repeats.values()),
        "constants": {
            "max_story_paragraphs": MAX_STORY_PARAS,
            "edit_min_paragraphs": EDIT_MIN_PARAS,
            "cross_share": CROSS_SHARE,
            "same_share": SAME_SHARE,
            "pool_share": POOL_SHARE,
            "line_share_range": list(LINE_SHARE),
            "small_docs": list(SMALL_DOCS),
            "large_factor": LARGE_FACTOR,
        },
        "publishers": publishers,
    }


def _summary(meta: dict[str, Any]) -> str:
    k = meta["stories_by_kind"]
    sj = meta["same_publisher_copy_jaccard"]
    out = [
        f"docs {meta['n_docs']:,} from {meta['n_stories']:,} stories "
        f"(single {k.get('single', 0):,}, cross-publisher {k.get('cross', 0):,}, "
        f"same-publisher {k.get('same', 0):,}, no-domain pool {k.get('pool', 0):,}) in "
        f"{len(meta['files'])} files, {meta['total_bytes'] / 1e6:.1f} MB, content mean "
        f"{meta['content_chars_mean']:.0f} chars, {meta['generate_seconds']} s",
        f"syndicated: {meta['cross_share_of_publisher_stories']:.1%} of publisher stories "
        f"cross-publisher, {meta['same_share_of_publisher_stories']:.1%} same-publisher "
        f"(copy Jaccard to first: min {sj['min']}, {sj['below_0_8']} of {sj['n']} below 0.8, "
        f"story text only {sj['body_below_0_8']}); "
        f"variants {meta['variants']}",
        f"injected lines {meta['injected_lines_total']:,}, genuine paragraphs "
        f"{meta['genuine_paragraphs_total']:,}; genuine paragraphs in >= 3 stories of one "
        f"publisher: {meta['genuine_paragraphs_in_3plus_stories_of_a_publisher']}",
        f"{'domain':32} {'class':6} {'docs':>5} {'stor':>5} {'h/i/f':>6} "
        f"{'digits':>6} {'min story share':>15} {'min stories':>11}",
    ]
    for p in meta["publishers"]:
        roles = Counter(ln["role"] for ln in p["lines"])
        shares = [ln["story_share"] for ln in p["lines"]]
        supports = [ln["n_stories"] for ln in p["lines"]]
        out.append(
            f"{p['domain']:32} {p['size_class']:6} {p['n_docs']:>5} {p['n_stories']:>5} "
            f"{roles['header']}/{roles['inline']}/{roles['footer']:<2} "
            f"{sum(ln['digit_varying'] for ln in p['lines']):>6} "
            f"{min(shares):>15.2f} {min(supports):>11}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints a short summary (the full one is meta.json)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--publishers", type=int, default=20)
    ap.add_argument("--stories", type=int, default=200, help="documents of a normal publisher")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file-docs", type=int, default=1000, help="records per file")
    ap.add_argument("--platforms", type=int, default=0, help="CMS widget lines shared by sites")
    args = ap.parse_args(argv)
    meta = make_boilerplate_corpus(
        args.out_dir, args.publishers, args.stories, args.seed, args.file_docs,
        platforms=args.platforms,
    )  # fmt: skip
    print(_summary(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
