"""Candidate keys for dedup beyond MinHash: the canonical URL and the normalised headline.

MinHash finds copies whose texts overlap a lot; it misses a truncated copy of a page (the
first paragraphs only: low Jaccard, yet the same page) and a short wire item whose few
shingles one changed word spoils. Two keys catch them as *candidates*; the dedup decision
(:mod:`newsclean.tasks.stages.dedup`) still verifies each pair by its texts:

* ``url_key``: the publisher and ``url_canonical`` (``dedup.url-key``): the same publisher's
  same page. A URL without a path is no key (a home page, or a CMS whose canonical link
  always names the home page, would otherwise pair every story of the site);
* ``title_key``: the headline with a site-name suffix removed and case and punctuation folded
  (``dedup.title-key``); fewer than ``min_words`` words is no key ("Live updates").

Both are stored as 64-bit hashes (``url_key``, ``title_key``) in the sketch (staged, and in
the dedup index for later runs); a null is no key. Pure functions of strings and parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsclean.tasks.rules import RulePack

_APOSTROPHES = re.compile(r"['’ʼ`´]")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class KeyRules:
    """Parameters of ``dedup.url-key`` and ``dedup.title-key`` (rules/dedup.toml)."""

    url_rule: str
    url_min_containment: float
    title_rule: str
    title_min_containment: float
    separators: tuple[str, ...]
    max_prefix_words: int
    min_words: int

    @property
    def key_id(self) -> str:
        """What stored keys depend on (part of the sketch id: other keys are not comparable)."""
        return f"{self.url_rule},{self.title_rule}"


def key_rules(dedup: RulePack) -> KeyRules:
    """The newest ``dedup.url-key`` and ``dedup.title-key`` of a dedup pack."""
    url, title = dedup.get("dedup.url-key"), dedup.get("dedup.title-key")
    return KeyRules(
        url_rule=url.id,
        url_min_containment=float(url.params["min_containment"]),
        title_rule=title.id,
        title_min_containment=float(title.params["min_containment"]),
        separators=tuple(title.params["separators"]),
        max_prefix_words=int(title.params["max_prefix_words"]),
        min_words=int(title.params["min_words"]),
    )


def _words(text: str) -> list[str]:
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.casefold())).split()


def headline_part(title: str, rules: KeyRules) -> str:
    """The headline without the site name. A title cut at its separators keeps its first
    part ("Brexit talks stall | The Guardian", "… | 7 On Your Side - ABC7 New York"), after
    short leading parts that a longer part follows ("Frommers | The 10 Best Airfare Sites");
    the whole title when that part is too short to be a key ("2014 – Earth Changes – …")."""
    parts = [title]
    for separator in rules.separators:
        parts = [piece for part in parts for piece in part.split(separator)]
    if len(parts) == 1:
        return title
    sizes = [len(_words(part)) for part in parts]
    first = 0
    while (
        first < len(parts) - 1
        and sizes[first] <= rules.max_prefix_words
        and max(sizes[first + 1 :]) > sizes[first]
    ):
        first += 1
    return parts[first] if sizes[first] >= rules.min_words else title


def title_key_text(title: str | None, rules: KeyRules) -> str | None:
    """The folded headline that ``title_key`` hashes; None when it is too short to tell
    stories apart. Bounded work: a headline is cut at 1,000 characters first."""
    if not title:
        return None
    words = _words(headline_part(title[:1000], rules))
    return " ".join(words) if len(words) >= rules.min_words else None


def url_key_text(publisher: str | None, url_canonical: str | None) -> str | None:
    """``"<publisher> <url_canonical>"``, or None for a URL that names no page of its own
    (no path beyond ``/`` and no query)."""
    if not url_canonical:
        return None
    try:
        parts = urlsplit(url_canonical)
    except ValueError:
        return None
    if parts.path.strip("/") == "" and not parts.query:
        return None
    return f"{publisher or ''} {url_canonical}"


def candidate_key_texts(
    titles: list[str | None],
    urls: list[str | None],
    publishers: list[str | None],
    rules: KeyRules,
) -> tuple[list[str | None], list[str | None]]:
    """``(url key texts, title key texts)`` per document (None: no key); the sketch hashes
    them (:func:`newsclean.tasks.stages.minhash.sketch_batch`)."""
    url_texts = [url_key_text(p, u) for p, u in zip(publishers, urls, strict=True)]
    return url_texts, [title_key_text(t, rules) for t in titles]
