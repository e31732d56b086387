"""Dedup decision: one copy per story, exact and near copies, within a run and across runs.

A run-wide step, not a batch stage: it decides over the small keys and fixed-size sketches of
every document of the run and of the published dataset, never over texts. Pure functions of
Arrow tables and a :class:`SketchSource` (the orchestration layer passes the dedup index and
the run's staged sketches, :mod:`newsclean.tasks.storage.dedup_index`).

* **exact**: ``content_hash`` (:mod:`newsclean.tasks.stages.derive`) is BLAKE2b-128 of the
  clean text with case, whitespace and punctuation folded, so copies that differ only in
  curly quotes, spacing or capitals collapse.
* **near**: MinHash signatures (:mod:`~newsclean.tasks.stages.minhash`) are cut into LSH
  bands; documents that
  share a band are candidates; a candidate pair is merged when its estimated Jaccard similarity
  reaches the threshold and no figure differs between the two in the same context.
* **near, just under the threshold** (``dedup.near-exact``): a candidate pair whose estimate
  falls short by at most a margin is decided on the true Jaccard similarity of its shingle
  sets, from the two texts, which the orchestration layer reads for these few pairs only;
* **url / title**: documents of the same publisher with the same canonical URL, or with the
  same normalised headline (:mod:`~newsclean.tasks.stages.dedup_keys`), are candidates too,
  whatever their bands: a truncated copy of a page, a short wire item. Such a pair is merged
  when the shorter text is mostly inside the longer one (:func:`estimated_containment` from the
  MinHash estimate and the lengths) and, for headlines, no figure differs;
* **clusters**: union-find over the merged pairs; per cluster the keep policy picks one copy.

Across runs the same decision includes the kept articles of earlier runs (the dedup index):
a new copy of a story already in the dataset is dropped, and when
the new copy is the better one by the keep policy, the old row is superseded (moved to
``duplicates`` with the new keeper) rather than kept beside it.

The decision works on small per-document keys and fixed-size signatures, and on texts only
for the pairs the exact check settles: memory grows with the number of documents, not with
their bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsclean.tasks.schema import DEDUP_KEY_COLUMNS as KEY_COLUMNS
from newsclean.tasks.schema import DUPLICATE_SCHEMA, STAGED_SCHEMA
from newsclean.tasks.stages import minhash
from newsclean.tasks.stages.minhash import NearDupConfig


class SketchSource(Protocol):
    """Column-wise read access to sketches (the dedup index, or a run's staged sketches):
    what the decision reads beyond keys, one column at a time, so memory stays bounded."""

    def __len__(self) -> int: ...

    def keys(self) -> pa.Table: ...

    def has_shingles(self) -> np.ndarray: ...

    def column(self, name: str) -> pa.ChunkedArray: ...

    def columns(self, names: list[str]) -> pa.Table: ...

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table: ...


class TableSketches:
    """A :class:`SketchSource` over one in-memory sketch table (tests, small runs)."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __len__(self) -> int:
        return self._table.num_rows

    def keys(self) -> pa.Table:
        names = [c for c in [*KEY_COLUMNS, "dup_cluster"] if c in self._table.column_names]
        return self._table.select(names)

    def has_shingles(self) -> np.ndarray:
        return np.asarray(self._table.column("has_shingles"), dtype=bool)

    def column(self, name: str) -> pa.ChunkedArray:
        return self._table.column(name)

    def columns(self, names: list[str]) -> pa.Table:
        return self._table.select(names)

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        return self._table.select(columns).take(pa.array(np.asarray(rows, np.int64)))

    @classmethod
    def empty(cls, config: NearDupConfig) -> TableSketches:
        """No published articles: a decision within the run only."""
        keys = [STAGED_SCHEMA.field(c) for c in KEY_COLUMNS]
        sketch = [f for f in minhash.sketch_schema(config) if f.name != "doc_id"]
        fields = [*keys, pa.field("dup_cluster", pa.string()), *sketch]
        return cls(pa.schema(fields).empty_table())


#: Sketch columns the decision reads for the documents a candidate pair touches.
SKETCH_DETAIL = ["signature", "num_contexts", "num_values", "url_key", "title_key"]
#: The candidate keys beyond MinHash, by the ``duplicates.kind`` they give.
KEY_KINDS = {"url": "url_key", "title": "title_key"}
_LATEST = np.iinfo(np.int64).max  # a missing published_at sorts after every date


# --------------------------------------------------------------------------- inputs


@dataclass
class Documents:
    """Keys and sketches of a set of documents (this run's, or the index's kept articles).

    ``keys`` has :data:`KEY_COLUMNS` (+ ``dup_cluster`` for indexed articles); ``sketch`` is
    row-aligned with it (:func:`~newsclean.tasks.stages.minhash.sketch_schema`): a table, or a
    reader over the staged sketch files that reads one column at a time (a
    :class:`SketchSource`), so that a big run never holds every signature at once.
    """

    keys: pa.Table
    sketch: pa.Table | SketchSource

    def __len__(self) -> int:
        return self.keys.num_rows

    def source(self) -> SketchSource:
        if isinstance(self.sketch, pa.Table):
            return TableSketches(self.sketch)
        return self.sketch


@dataclass
class Decision:
    """What the dedup stage decided for a run.

    ``clusters``: every new document still present (kept or dropped) → ``kept`` flag and
    ``dup_cluster``. ``duplicates``: the dropped copies (new ones, and earlier articles that a
    better new copy supersedes), DUPLICATE_SCHEMA minus the run columns. ``superseded``: the
    earlier articles to retract from ``articles/`` and the index, with their new keeper.
    """

    clusters: pa.Table
    duplicates: pa.Table
    superseded: pa.Table


class UnionFind:
    """Disjoint sets over node numbers 0..n-1 (path halving, union by smaller root)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, node: int) -> int:
        parent = self.parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


# --------------------------------------------------------------------------- candidates


def exact_pairs(hashes: pa.Array, n_new: int) -> np.ndarray:
    """Pairs of nodes with the same content hash (consecutive in hash order), at least one
    of them new. Nodes ``< n_new`` are this run's documents, the rest indexed articles."""
    if len(hashes) < 2:
        return np.empty((0, 2), dtype=np.int64)
    order = np.asarray(pc.sort_indices(hashes), dtype=np.int64)
    ordered = hashes.take(pa.array(order))
    same = np.asarray(
        pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)).fill_null(False)
    )
    left, right = order[:-1][same], order[1:][same]
    pairs = np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)
    return pairs[pairs[:, 0] < n_new]


def bucket_pairs(values: np.ndarray, nodes: np.ndarray, n_new: int, max_pairs: int) -> np.ndarray:
    """Candidate pairs among nodes sharing a band value, at least one of them new.

    Buckets of two (nearly all) are paired vectorized; a bigger bucket gives all its pairs up
    to ``max_pairs`` members, beyond that a chain (each member linked to the next and to the
    first), which keeps the work linear on a pathological bucket.
    """
    if len(values) < 2:
        return np.empty((0, 2), dtype=np.int64)
    order = np.argsort(values, kind="stable")
    values, nodes = values[order], nodes[order]
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(values)]]))
    pairs = [np.stack([nodes[starts[sizes == 2]], nodes[starts[sizes == 2] + 1]], axis=1)]
    for start, size in zip(starts[sizes > 2], sizes[sizes > 2], strict=True):
        members = nodes[start : start + size]
        if size <= max_pairs:
            i, j = np.triu_indices(size, k=1)
            pairs.append(np.stack([members[i], members[j]], axis=1))
        else:
            pairs.append(np.stack([members[:-1], members[1:]], axis=1))
            pairs.append(np.stack([np.full(size - 1, members[0]), members[1:]], axis=1))
    found = np.concatenate(pairs)
    found = np.stack([found.min(axis=1), found.max(axis=1)], axis=1)
    return found[found[:, 0] < n_new]


def lsh_candidates(new: Documents, old_bands: OldBands, config: NearDupConfig) -> np.ndarray:
    """Unique candidate pairs over every band (new × new and new × indexed)."""
    n_new = len(new)
    names = minhash.band_columns(config)
    # The run's own band columns in one read (about 170 bytes per document), the index's one
    # band at a time (it can be far bigger than a run).
    bands = new.source().columns(["has_shingles", *names])
    new_nodes = np.flatnonzero(np.asarray(bands.column("has_shingles"), dtype=bool))
    found = []
    for name in names:
        new_values = np.asarray(bands.column(name), dtype=np.uint64)[new_nodes]
        old_nodes, old_values = old_bands(name)
        values = np.concatenate([new_values, old_values])
        nodes = np.concatenate([new_nodes, old_nodes + n_new])
        found.append(bucket_pairs(values, nodes, n_new, config.max_bucket_pairs))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found), axis=0)


def key_candidates(
    new_keys: pa.Array, new_has: np.ndarray, old_keys: pa.Array, old_has: np.ndarray,
    config: NearDupConfig,
) -> np.ndarray:  # fmt: skip
    """Pairs of documents (with shingles) that share a non-null key, at least one of them
    new (``new_*``: this run's documents, ``old_*``: the indexed articles); a big bucket is
    chained like an LSH bucket (:func:`bucket_pairs`)."""
    n_new = len(new_keys)
    new_nodes = np.flatnonzero(new_has & np.asarray(new_keys.is_valid(), dtype=bool))
    old_nodes = np.flatnonzero(old_has & np.asarray(old_keys.is_valid(), dtype=bool))
    values = np.concatenate(
        [
            np.asarray(new_keys.fill_null(0), dtype=np.uint64)[new_nodes],
            np.asarray(old_keys.fill_null(0), dtype=np.uint64)[old_nodes],
        ]
    )
    nodes = np.concatenate([new_nodes, old_nodes + n_new]).astype(np.int64)
    pairs = bucket_pairs(values, nodes, n_new, config.max_bucket_pairs)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def _all_key_candidates(
    new: Documents, old: SketchSource, old_has: np.ndarray, config: NearDupConfig
) -> dict[str, np.ndarray]:
    """:func:`key_candidates` of every key in :data:`KEY_KINDS`, each source read once."""
    columns = list(KEY_KINDS.values())
    own = new.source().columns(["has_shingles", *columns])
    new_has = np.asarray(own.column("has_shingles"), dtype=bool)
    indexed = old.columns(columns)
    return {
        kind: key_candidates(
            own.column(column).combine_chunks(),
            new_has,
            indexed.column(column).combine_chunks().cast(pa.uint64()),
            old_has,
            config,
        )
        for kind, column in KEY_KINDS.items()
    }


def estimated_containment(jaccard: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Share of the shorter text's shingles found in the longer one, from the Jaccard
    estimate ``J`` and the two sizes (characters stand in for shingle counts):
    ``|A∩B| = J(|A|+|B|)/(1+J)``, over ``min(|A|,|B|)``, at most 1."""
    left = np.maximum(np.asarray(left, dtype=np.float64), 1.0)
    right = np.maximum(np.asarray(right, dtype=np.float64), 1.0)
    shared = jaccard * (left + right) / (1.0 + jaccard)
    return np.minimum(shared / np.minimum(left, right), 1.0)


class OldBands:
    """Band columns of the indexed articles that have shingles (read one band at a time)."""

    def __init__(self, loader: Callable[[str], pa.ChunkedArray], has_shingles: np.ndarray) -> None:
        self._loader = loader
        self._rows = np.flatnonzero(has_shingles)

    def __call__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if len(self._rows) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
        return self._rows, np.asarray(self._loader(name), dtype=np.uint64)[self._rows]


# --------------------------------------------------------------------------- decision


#: Keep-policy criteria by name: (sort columns, order). ``policy`` in rules/dedup.toml lists
#: them in priority order; ``doc_id`` always breaks the last tie, so the order is total.
KEEP_CRITERIA: dict[str, list[tuple[str, str]]] = {
    "longest": [("length", "descending")],
    "shortest": [("length", "ascending")],
    "earliest_published": [("published_first", "ascending")],
    "latest_published": [("published_last", "descending")],
    "earliest_source": [("file", "ascending"), ("record", "ascending")],
}


def keep_rank(keys: pa.Table, policy: tuple[str, ...] = ()) -> np.ndarray:
    """Position of every document in keep-policy order (0 = the copy to keep first).

    Default policy: the most complete copy (longest clean text), then the earliest
    ``published_at`` (a missing date counts as latest), then the earliest source (file path,
    then record), then the smaller doc_id — a total order, so the keeper never depends on
    batch order. A missing date always loses to a known one.
    """
    policy = policy or ("longest", "earliest_published", "earliest_source")
    unknown = [name for name in policy if name not in KEEP_CRITERIA]
    if unknown:
        raise ValueError(f"unknown keep-policy criteria {unknown}; known: {list(KEEP_CRITERIA)}")
    published = pc.cast(keys.column("published_at"), pa.int64())
    table = pa.table(
        {
            "length": keys.column("text_chars"),
            "published_first": published.fill_null(_LATEST),
            "published_last": published.fill_null(-_LATEST),
            "file": keys.column("source_file"),
            "record": keys.column("source_record").fill_null(-1),
            "doc_id": keys.column("doc_id"),
        }
    )
    sort_keys = [key for name in policy for key in KEEP_CRITERIA[name]]
    order = pc.sort_indices(table, sort_keys=[*sort_keys, ("doc_id", "ascending")])
    rank = np.empty(table.num_rows, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(table.num_rows)
    return rank


def _in_steps(verify: Callable[..., np.ndarray], pairs: np.ndarray, *args: object) -> np.ndarray:
    """``verify(pairs, *args)`` on a step of pairs at a time, the kept pairs in order.

    Why: a verifier takes both sides' signatures of every pair it is given, two
    (pairs, permutations) copies: 240 MB of the dedup worker's 900 MB peak for the candidate
    pairs of 1 GB of news, more for a larger run (measured). Every verifier decides each
    pair on its own, so the steps give the same pairs as one call. The step is
    :data:`minhash.PAIRS_PER_STEP`, :func:`minhash.pair_jaccard`'s: ``_verify`` itself cannot
    call that, because a change to it gives ``dedup.near-minhash`` a new version, whose id is
    part of the sketch id, and every dataset would rebuild its dedup index.
    """
    step = minhash.PAIRS_PER_STEP
    if len(pairs) <= step:
        return verify(pairs, *args)
    return np.concatenate([verify(pairs[i : i + step], *args) for i in range(0, len(pairs), step)])


def _verify(
    pairs: np.ndarray,
    sigs: np.ndarray,
    row_of: np.ndarray,
    numbers: _Figures,
    config: NearDupConfig,
) -> np.ndarray:
    """The candidate pairs (nodes) whose estimated Jaccard reaches the threshold and whose
    figures agree; ``row_of`` maps a node to its row of ``sigs`` and ``numbers``."""
    if len(pairs) == 0:
        return pairs
    left, right = row_of[pairs[:, 0]], row_of[pairs[:, 1]]
    accept = minhash.estimated_jaccard(sigs[left], sigs[right]) >= config.threshold
    if config.numbers_must_match:
        _reject_conflicting_figures(accept, left, right, numbers)
    return pairs[accept]


#: Texts of decision nodes (this run's documents ``0..n_new-1``, then the indexed articles),
#: given by the orchestration layer, which reads them from staging and the dataset.
TextSource = Callable[[np.ndarray], list[str | None]]


def _confirm_close_pairs(
    pairs: np.ndarray,
    sigs: np.ndarray,
    row_of: np.ndarray,
    numbers: _Figures,
    config: NearDupConfig,
    texts: TextSource,
) -> tuple[np.ndarray, np.ndarray]:
    """``dedup.near-exact``: of the candidate pairs (nodes) whose estimate falls under the
    threshold by at most the margin, those whose true shingle-set Jaccard reaches it and
    whose figures agree; returns them and their true similarities. Only these pairs' texts
    are read: a few per thousand documents."""
    empty = np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    if len(pairs) == 0 or config.exact_margin <= 0:
        return empty
    left, right = row_of[pairs[:, 0]], row_of[pairs[:, 1]]
    estimate = minhash.pair_jaccard(sigs, left, right)
    close = np.flatnonzero(
        (estimate < config.threshold) & (estimate >= config.threshold - config.exact_margin)
    )
    if len(close) == 0:
        return empty
    nodes = np.unique(pairs[close].ravel())
    sets = dict(
        zip(nodes.tolist(), minhash.shingle_sets(texts(nodes), config.shingle_words), strict=True)
    )
    similarity = minhash.exact_jaccard(
        [sets[a] for a in pairs[close, 0].tolist()], [sets[b] for b in pairs[close, 1].tolist()]
    )
    accept = similarity >= config.threshold
    if config.numbers_must_match:
        accepted = np.zeros(len(pairs), dtype=bool)
        accepted[close] = accept
        _reject_conflicting_figures(accepted, left, right, numbers)
        accept = accepted[close]
    return pairs[close[accept]], similarity[accept]


def _reject_conflicting_figures(
    accept: np.ndarray, left: np.ndarray, right: np.ndarray, numbers: _Figures
) -> None:
    """Unset ``accept`` for the accepted pairs of rows whose figures differ in a context
    (the near-dup and the headline-key verification share it)."""
    for i in np.flatnonzero(accept):
        a, b = numbers[left[i]], numbers[right[i]]
        if minhash.numbers_conflict(a[0], a[1], b[0], b[1]):
            accept[i] = False


def _verify_contained(
    pairs: np.ndarray,
    sigs: np.ndarray,
    row_of: np.ndarray,
    chars: np.ndarray,
    min_containment: float,
    numbers: _Figures | None,
) -> np.ndarray:
    """The key pairs (nodes) whose shorter text is mostly inside the longer one and, when
    ``numbers`` is given, whose figures agree. ``chars`` is per row of ``sigs``."""
    if len(pairs) == 0:
        return pairs
    left, right = row_of[pairs[:, 0]], row_of[pairs[:, 1]]
    jaccard = minhash.estimated_jaccard(sigs[left], sigs[right])
    accept = estimated_containment(jaccard, chars[left], chars[right]) >= min_containment
    if numbers is not None:
        _reject_conflicting_figures(accept, left, right, numbers)
    return pairs[accept]


def decide(
    new: Documents, old: SketchSource, config: NearDupConfig, texts: TextSource | None = None
) -> Decision:
    """Cluster this run's documents with each other and with the indexed articles, and apply
    the keep policy to every cluster.

    Nodes ``0..n_new-1`` are this run's documents, ``n_new + i`` the indexed article ``i``.
    Only the indexed articles that share a hash or a band with a new document are read beyond
    their keys and band columns, so a large index costs a few columns, not its signatures.
    ``texts`` gives nodes' texts for the ``dedup.near-exact`` check of pairs just under the
    threshold (without it, the estimate alone decides).
    """
    n_new = len(new)
    old_keys = old.keys()
    hashes = pa.concat_arrays(
        [
            new.keys.column("content_hash").combine_chunks().cast(pa.string()),
            old_keys.column("content_hash").combine_chunks().cast(pa.string()),
        ]
    )
    exact = exact_pairs(hashes, n_new)
    old_has = old.has_shingles()
    candidates = lsh_candidates(new, OldBands(old.column, old_has), config)
    by_key = _all_key_candidates(new, old, old_has, config)
    touched = np.concatenate(
        [exact.ravel(), candidates.ravel(), *(pairs.ravel() for pairs in by_key.values())]
    )
    old_needed = np.unique(touched[touched >= n_new]) - n_new

    def compact(pairs: np.ndarray) -> np.ndarray:
        """Node numbers → rows of the (new + touched indexed) arrays below."""
        out = pairs.copy()
        is_old = out >= n_new
        out[is_old] = n_new + np.searchsorted(old_needed, out[is_old] - n_new)
        return out

    # Signatures and figures only of the documents a pair touches: at 290k documents,
    # materialising everyone's (as Python lists, for the figures) took 1.8 GB (measured).
    touched_new = np.unique(touched[touched < n_new])
    detail = pa.concat_tables(
        [new.source().take(touched_new, SKETCH_DETAIL), old.take(old_needed, SKETCH_DETAIL)]
    )
    sigs = minhash.signature_matrix(detail.column("signature"), config.permutations)
    row_of = np.full(n_new + len(old_needed), -1, dtype=np.int64)
    row_of[touched_new] = np.arange(len(touched_new))
    row_of[n_new:] = len(touched_new) + np.arange(len(old_needed))
    figures = _Figures(detail)
    candidate_rows = compact(candidates)
    near = _in_steps(_verify, candidate_rows, sigs, row_of, figures, config)
    confirmed, true_similarity = np.empty((0, 2), dtype=np.int64), np.empty(0)
    if texts is not None:

        def texts_of(rows: np.ndarray) -> list[str | None]:
            """Texts by compacted row: an indexed article's row back to its node number."""
            nodes = rows.copy()
            nodes[rows >= n_new] = n_new + old_needed[rows[rows >= n_new] - n_new]
            return texts(nodes)

        confirmed, true_similarity = _confirm_close_pairs(
            candidate_rows, sigs, row_of, figures, config, texts_of
        )
    touched_keys = old_keys.take(pa.array(old_needed, pa.int64()))
    chars = np.concatenate(
        [
            np.asarray(new.keys.column("text_chars").fill_null(0), dtype=np.int64)[touched_new],
            np.asarray(touched_keys.column("text_chars").fill_null(0), dtype=np.int64),
        ]
    )
    rules = config.keys
    by_url = _in_steps(
        _verify_contained,
        compact(by_key["url"]),
        sigs,
        row_of,
        chars,
        rules.url_min_containment,
        None,
    )
    by_title = _in_steps(
        _verify_contained,
        compact(by_key["title"]),
        sigs,
        row_of,
        chars,
        rules.title_min_containment,
        figures if config.numbers_must_match else None,
    )
    edges = np.concatenate([compact(exact), near, confirmed, by_url, by_title])
    exact_similarity = {
        (a, b): sim
        for (a, b), sim in zip(
            np.sort(confirmed, axis=1).tolist(), true_similarity.tolist(), strict=True
        )
    }
    links = _Links(sigs, row_of, detail, config.threshold, exact_similarity)
    return _clusters(new.keys, touched_keys, edges, links, config.keep_policy)


class _Links:
    """Why a dropped copy belongs with its keeper, for ``duplicates.kind`` and
    ``similarity``: the MinHash estimate between the two, and their URL and headline keys."""

    def __init__(
        self,
        sigs: np.ndarray,
        row_of: np.ndarray,
        detail: pa.Table,
        threshold: float,
        exact: dict[tuple[int, int], float] | None = None,
    ) -> None:
        self.sigs, self.row_of, self.threshold = sigs, row_of, threshold
        #: True similarities of the pairs ``dedup.near-exact`` confirmed (sorted node pairs).
        self.exact = exact or {}
        self.keys = {
            kind: np.asarray(detail.column(column).combine_chunks().fill_null(0), np.uint64)
            for kind, column in KEY_KINDS.items()
        }

    def similarity(self, nodes: np.ndarray, keepers: np.ndarray) -> np.ndarray:
        """The MinHash estimate, or the true similarity where the exact check computed it."""
        estimate = minhash.estimated_jaccard(
            self.sigs[self.row_of[nodes]], self.sigs[self.row_of[keepers]]
        )
        if not self.exact:
            return estimate
        for i, (a, b) in enumerate(zip(nodes.tolist(), keepers.tolist(), strict=True)):
            estimate[i] = self.exact.get((min(a, b), max(a, b)), estimate[i])
        return estimate

    def kind(self, node: int, keeper: int, similarity: float) -> str:
        """``near`` when the texts reach the threshold, else the key they share (a chain of
        near pairs that joined the two counts as ``near``)."""
        if similarity >= self.threshold:
            return "near"
        a, b = self.row_of[node], self.row_of[keeper]
        for kind, values in self.keys.items():
            if values[a] != 0 and values[a] == values[b]:
                return kind
        return "near"


class _Figures:
    """Number fingerprints of a few rows, converted to Python only when asked for."""

    def __init__(self, detail: pa.Table) -> None:
        self._contexts = detail.column("num_contexts").combine_chunks()
        self._values = detail.column("num_values").combine_chunks()

    def __getitem__(self, row: int) -> tuple[list[int], list[int]]:
        return self._contexts[row].as_py() or [], self._values[row].as_py() or []


def _clusters(
    new_keys: pa.Table,
    old_keys: pa.Table,
    edges: np.ndarray,
    links: _Links,
    policy: tuple[str, ...],
) -> Decision:
    """Union-find over the merged pairs, then one keeper per cluster by :func:`keep_rank`.

    Rows ``0..n_new-1`` are this run's documents, the rest the indexed articles they touch.
    """
    n_new = new_keys.num_rows
    schema = new_keys.select(KEY_COLUMNS).schema
    nodes = pa.concat_tables(
        [new_keys.select(KEY_COLUMNS), old_keys.select(KEY_COLUMNS).cast(schema)]
    )
    union = UnionFind(nodes.num_rows)
    for a, b in edges.tolist():
        union.union(a, b)
    label = union.labels()
    order = np.lexsort((keep_rank(nodes, policy), label))
    first = np.concatenate([[True], label[order][1:] != label[order][:-1]])[: len(label)]
    keeper_of = np.empty(len(label), dtype=np.int64)
    keeper_of[label[order][first]] = order[first]
    keeper = keeper_of[label]
    doc_ids = nodes.column("doc_id").to_pylist()
    cluster_id = _cluster_ids(label, keeper, doc_ids, old_keys.column("dup_cluster").to_pylist())
    moved = np.flatnonzero(keeper != np.arange(len(label)))
    similarity = links.similarity(moved, keeper[moved])

    # Only the dropped copies' (and their keepers') fields become Python objects, not four
    # lists of every node's (290k strings each at 1 GB of news; this and the steps above took
    # the decision's peak from 874 to 721 MB there, measured together).
    def of_moved(name: str, rows: np.ndarray = moved) -> list:
        return nodes.column(name).take(pa.array(rows, pa.int64())).to_pylist()

    fields = zip(
        moved.tolist(),
        similarity.tolist(),
        of_moved("content_hash"),
        of_moved("content_hash", keeper[moved]),
        of_moved("source_file"),
        of_moved("source_record"),
        of_moved("domain"),
        strict=True,
    )
    duplicates = []
    for node, sim, content_hash, kept_hash, source_file, source_record, domain in fields:
        kept = int(keeper[node])
        exact = content_hash == kept_hash
        duplicates.append(
            {
                "doc_id": doc_ids[node],
                "kept_doc_id": doc_ids[kept],
                "kind": "exact" if exact else links.kind(node, kept, sim),
                "similarity": 1.0 if exact else round(sim, 4),
                "dup_cluster": cluster_id[node],
                "content_hash": content_hash,
                "source_file": source_file,
                "source_record": source_record,
                "domain": domain,
            }
        )
    clusters = pa.table(
        {
            "doc_id": pa.array(doc_ids[:n_new], pa.string()),
            "kept": pa.array(keeper[:n_new] == np.arange(n_new)),
            "dup_cluster": pa.array(cluster_id[:n_new], pa.string()),
        }
    )
    gone = moved[moved >= n_new].tolist()
    superseded = pa.table(
        {
            "doc_id": pa.array([doc_ids[n] for n in gone], pa.string()),
            "kept_doc_id": pa.array([doc_ids[keeper[n]] for n in gone], pa.string()),
            "dup_cluster": pa.array([cluster_id[n] for n in gone], pa.string()),
        }
    )
    duplicates_table = pa.Table.from_pylist(duplicates, schema=duplicate_rows_schema())
    return Decision(clusters, duplicates_table, superseded)


def _cluster_ids(
    label: np.ndarray, keeper: np.ndarray, doc_ids: list[str], old_cluster: list[str | None]
) -> list[str]:
    """A cluster id never changes once published: an indexed keeper's ``dup_cluster``, else
    the smallest ``dup_cluster`` among indexed members, else the smallest member doc_id."""
    n_new = len(doc_ids) - len(old_cluster)
    own = doc_ids[:n_new] + [c or d for c, d in zip(old_cluster, doc_ids[n_new:], strict=True)]
    smallest_new: dict[int, str] = {}
    smallest_old: dict[int, str] = {}
    for node, lab in enumerate(label.tolist()):
        best = smallest_new if node < n_new else smallest_old
        if lab not in best or own[node] < best[lab]:
            best[lab] = own[node]
    ids = []
    for node, lab in enumerate(label.tolist()):
        kept = int(keeper[node])
        if kept >= n_new:
            ids.append(own[kept])
        else:
            ids.append(smallest_old.get(lab, smallest_new.get(lab, "")))
    return ids


def duplicate_rows_schema() -> pa.Schema:
    """DUPLICATE_SCHEMA without the run columns the writer adds."""
    return pa.schema([f for f in DUPLICATE_SCHEMA if f.name not in {"run_id"}])


def republication(articles: pa.Table, copies: pa.Table) -> tuple[pa.Array, pa.Array]:
    """``(n_copies, publishers)`` of each article, row-aligned with ``articles``
    (``doc_id``, ``domain``): how many dropped copies (``copies``: ``kept_doc_id``,
    ``domain``) point at it, and the distinct domains that printed it (its own and its
    copies', sorted; a copy of unknown domain adds none)."""
    ids = articles.column("doc_id").combine_chunks().cast(pa.string())
    own = pa.table(
        {
            "kept": ids,
            "domain": articles.column("domain").cast(pa.string()),
            "copy": pa.array(np.zeros(len(ids), dtype=np.int32)),
        }
    )
    pointing = copies.filter(pc.is_in(copies.column("kept_doc_id"), value_set=ids))
    dropped = pa.table(
        {
            "kept": pointing.column("kept_doc_id").cast(pa.string()),
            "domain": pointing.column("domain").cast(pa.string()),
            "copy": pa.array(np.ones(pointing.num_rows, dtype=np.int32)),
        }
    )
    both = pa.concat_tables([own, dropped])
    grouped = both.group_by("kept", use_threads=False).aggregate(
        [("copy", "sum"), ("domain", "distinct", pc.CountOptions(mode="only_valid"))]
    )
    at = pc.index_in(ids, value_set=grouped.column("kept"))
    n_copies = pc.cast(grouped.column("copy_sum").take(at), pa.int32())
    publishers = grouped.column("domain_distinct").take(at).cast(pa.list_(pa.string()))
    return n_copies.combine_chunks(), sorted_lists(publishers.combine_chunks())


def sorted_lists(lists: pa.ListArray) -> pa.ListArray:
    """Each row's list sorted. Why not trust the input's order: Arrow's ``distinct``
    aggregate does not keep it, even single-threaded over sorted rows (3 of 6,886 articles of
    a 25 MB run came out unsorted, and a finishing job that compared them with its own
    recount rewrote the whole articles file for the order alone)."""
    flat = pa.table({"row": pc.list_parent_indices(lists), "value": pc.list_flatten(lists)})
    ordered = flat.sort_by([("row", "ascending"), ("value", "ascending")])
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    values = ordered.column("value").combine_chunks()
    return pa.ListArray.from_arrays(offsets, values, type=lists.type, mask=lists.is_null())
