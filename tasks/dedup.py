"""Dedup stage: one copy per story, exact and near copies, within a run and across runs.

* **exact**: ``content_hash`` is BLAKE2b-128 of the clean text with case, whitespace and
  punctuation folded, so copies that differ only in curly quotes, spacing or capitals collapse.
* **near**: MinHash signatures (:mod:`tasks.minhash`) are cut into LSH bands; documents that
  share a band are candidates; a candidate pair is merged when its estimated Jaccard similarity
  reaches the threshold and no figure differs between the two in the same context.
* **clusters**: union-find over the merged pairs; per cluster the keep policy picks one copy.

Across runs the same decision includes the kept articles of earlier runs (the dedup index,
:mod:`tasks.dedup_index`): a new copy of a story already in the dataset is dropped, and when
the new copy is the better one by the keep policy, the old row is superseded (moved to
``duplicates`` with the new keeper) rather than kept beside it.

The decision works on small per-document keys and fixed-size signatures, never on texts:
memory grows with the number of documents, not with their bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks import minhash
from tasks.minhash import NearDupConfig
from tasks.schema import DUPLICATE_SCHEMA, STAGED_SCHEMA

if TYPE_CHECKING:
    from tasks.dedup_index import IndexedArticles

#: Per-document columns the keep decision needs (besides the sketch).
KEY_COLUMNS = [
    "doc_id",
    "content_hash",
    "text_chars",
    "published_at",
    "source_file",
    "source_record",
]
# Everything ASCII that is not a lower-case letter or digit is deleted before hashing, and so is
# the Unicode punctuation scrapers vary most (curly quotes, dashes, ellipses, guillemets).
_ASCII_NOISE = bytes(b for b in range(128) if not (48 <= b <= 57 or 97 <= b <= 122))
_UNICODE_NOISE = (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e"  # quotes
    "\u2013\u2014\u2015\u2026\u00ab\u00bb\u00a0\u2022\u00b7"  # dashes, ellipsis, bullets
)
_LATEST = np.iinfo(np.int64).max  # a missing published_at sorts after every date


def fold_for_hash(text: str) -> bytes:
    """Case, whitespace and punctuation folded UTF-8 bytes of ``text``.

    ``str.lower`` is Unicode-aware; ``bytes.translate`` deletes ASCII noise at memory speed,
    several times faster than a Unicode-class regex over the batch (measured: 56 MB/s).
    """
    text = text.lower()
    for mark in _UNICODE_NOISE:
        if mark in text:
            text = text.replace(mark, "")
    return text.encode("utf-8", "surrogatepass").translate(None, _ASCII_NOISE)


def content_hash(text: str) -> str:
    """128-bit BLAKE2b hex digest of the folded text."""
    return hashlib.blake2b(fold_for_hash(text), digest_size=16).hexdigest()


def content_hashes(texts: list[str | None]) -> pa.Array:
    return pa.array([None if t is None else content_hash(t) for t in texts], pa.string())


def word_counts(texts: list[str | None]) -> pa.Array:
    """Whitespace-separated tokens per text."""
    return pa.array([0 if t is None else len(t.split()) for t in texts], pa.int32())


# --------------------------------------------------------------------------- inputs


@dataclass
class Documents:
    """Keys and sketches of a set of documents (this run's, or the index's kept articles).

    ``keys`` has :data:`KEY_COLUMNS` (+ ``dup_cluster`` for indexed articles); ``sketch`` is
    row-aligned with it (:func:`tasks.minhash.sketch_schema`): a table, or a reader over the
    staged sketch files that reads one column at a time (:class:`IndexedArticles` of parts),
    so that a big run never holds every signature at once.
    """

    keys: pa.Table
    sketch: pa.Table | IndexedArticles

    def __len__(self) -> int:
        return self.keys.num_rows

    def source(self) -> IndexedArticles:
        from tasks.dedup_index import IndexedArticles

        if isinstance(self.sketch, pa.Table):
            return IndexedArticles(table=self.sketch)
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
        for i in np.flatnonzero(accept):
            a, b = numbers[left[i]], numbers[right[i]]
            if minhash.numbers_conflict(a[0], a[1], b[0], b[1]):
                accept[i] = False
    return pairs[accept]


def decide(new: Documents, old: IndexedArticles, config: NearDupConfig) -> Decision:
    """Cluster this run's documents with each other and with the indexed articles, and apply
    the keep policy to every cluster.

    Nodes ``0..n_new-1`` are this run's documents, ``n_new + i`` the indexed article ``i``.
    Only the indexed articles that share a hash or a band with a new document are read beyond
    their keys and band columns, so a large index costs a few columns, not its signatures.
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
    candidates = lsh_candidates(new, OldBands(old.column, old.has_shingles()), config)
    touched = np.concatenate([exact.ravel(), candidates.ravel()])
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
    detail_columns = ["signature", "num_contexts", "num_values"]
    detail = pa.concat_tables(
        [
            new.source().take(touched_new).select(detail_columns),
            old.take(old_needed).select(detail_columns),
        ]
    )
    sigs = minhash.signature_matrix(detail.column("signature"), config.permutations)
    row_of = np.full(n_new + len(old_needed), -1, dtype=np.int64)
    row_of[touched_new] = np.arange(len(touched_new))
    row_of[n_new:] = len(touched_new) + np.arange(len(old_needed))
    near = _verify(compact(candidates), sigs, row_of, _Figures(detail), config)
    edges = np.concatenate([compact(exact), near])
    touched_keys = old_keys.take(pa.array(old_needed, pa.int64()))
    return _clusters(new.keys, touched_keys, edges, sigs, row_of, config.keep_policy)


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
    sigs: np.ndarray,
    row_of: np.ndarray,
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
    similarity = minhash.estimated_jaccard(sigs[row_of[moved]], sigs[row_of[keeper[moved]]])
    hashes = nodes.column("content_hash").to_pylist()
    files = nodes.column("source_file").to_pylist()
    records = nodes.column("source_record").to_pylist()
    duplicates = []
    for node, sim in zip(moved.tolist(), similarity.tolist(), strict=True):
        kept = int(keeper[node])
        exact = hashes[node] == hashes[kept]
        duplicates.append(
            {
                "doc_id": doc_ids[node],
                "kept_doc_id": doc_ids[kept],
                "kind": "exact" if exact else "near",
                "similarity": 1.0 if exact else round(sim, 4),
                "dup_cluster": cluster_id[node],
                "content_hash": hashes[node],
                "source_file": files[node],
                "source_record": records[node],
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


# --------------------------------------------------------------------------- run job

#: What the dedup job stages for the publish step (under the run's staging folder).
DECISIONS = "decisions"  # per docs part, row-aligned: doc_id, action (keep|drop|skip), dup_cluster
DUPLICATES = "duplicates.parquet"  # new duplicate rows (without run_id)
SUPERSEDED = "superseded.parquet"  # published articles a better new copy replaces
REPLACED = "replaced.parquet"  # doc_ids whose source record changed since publication


_SEEN_SCHEMA = pa.schema(
    [("doc_id", pa.string()), ("content_hash", pa.string()), ("source_file", pa.string())]
)


def published_seen(out_dir: Path, retracted_files: list[str] | None = None) -> pa.Table:
    """``doc_id``/``content_hash``/``source_file`` of every document already published (kept
    or dropped), minus the rows of files this run reprocesses (they are being taken back)."""
    from tasks.write import published_parts, read_parquet

    # Kept articles through the index: it holds their hash before learned boilerplate was
    # removed, which is what a re-read of the same raw record hashes to.
    parts = [
        read_parquet(p, columns=_SEEN_SCHEMA.names).cast(_SEEN_SCHEMA)
        for name in ("dedup_index", "duplicates")
        for p in published_parts(out_dir, name)
    ]
    seen = pa.concat_tables(parts) if parts else _SEEN_SCHEMA.empty_table()
    if retracted_files:
        files = pa.array(sorted(retracted_files), pa.string())
        seen = seen.filter(pc.invert(pc.is_in(seen["source_file"], value_set=files)))
    return seen


def _pair_keys(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        table.column("doc_id"), pc.fill_null(table.column("content_hash"), ""), "|"
    )


def run_dedup(
    staging_dir: str,
    out_dir: str,
    config: NearDupConfig,
    retracted_files: list[str] | None = None,
) -> dict[str, int]:
    """Worker job: decide exact and near duplicates of the run against each other and the
    published dataset; stage the decision for the publish step; return counts.

    A document already published unchanged (same doc_id and content hash) is skipped: a
    re-run over the same input adds no rows. A document whose source record now holds another
    text replaces its earlier version. Articles from ``retracted_files`` (raw files this run
    reprocesses) are out of the index for the decision. Runs in a worker process so that the
    key tables never grow the long-lived orchestrating process.
    """
    from tasks import dedup_index
    from tasks.write import read_staged_table, staged_parts, write_parquet_atomic

    staging, out = Path(staging_dir), Path(out_dir)
    keys = read_staged_table(
        staging, "docs", pa.schema([STAGED_SCHEMA.field(c) for c in KEY_COLUMNS])
    )
    sketch_ids = read_staged_table(staging, "sketch", pa.schema([STAGED_SCHEMA.field("doc_id")]))
    if not keys.column("doc_id").equals(sketch_ids.column("doc_id")):
        raise RuntimeError("staged sketches are not aligned with staged documents")
    sketch = dedup_index.IndexedArticles(staged_parts(staging, "sketch"))
    if not dedup_index.is_current(out, config):
        dedup_index.rebuild_index(out, config, write_parquet_atomic)
    seen = published_seen(out, retracted_files)
    skip = np.asarray(pc.is_in(_pair_keys(keys), value_set=_pair_keys(seen)), dtype=bool)
    unknown = seen.filter(pc.is_null(seen["content_hash"]))["doc_id"]  # schema-1 copies
    if len(unknown):
        skip |= np.asarray(pc.is_in(keys["doc_id"], value_set=unknown.combine_chunks()), dtype=bool)
    changed = np.asarray(pc.is_in(keys.column("doc_id"), value_set=seen.column("doc_id")))
    replaced = keys.column("doc_id").filter(pa.array(changed & ~skip))
    excluded = replaced.combine_chunks()
    if retracted_files:
        excluded = pa.concat_arrays([excluded, _article_ids_of(out, retracted_files)])
    index = dedup_index.IndexedArticles(dedup_index.index_parts(out), exclude=excluded)
    todo = pa.array(~skip)
    if skip.any():  # a re-run without a manifest: only the unpublished documents take part
        schema = minhash.sketch_schema(config)
        sketch = read_staged_table(staging, "sketch", schema).filter(todo)
    decision = decide(Documents(keys.filter(todo), sketch), index, config)
    _stage_decisions(staging, keys, skip, decision.clusters)

    write_parquet_atomic(decision.duplicates, staging / DUPLICATES)
    write_parquet_atomic(decision.superseded, staging / SUPERSEDED)
    write_parquet_atomic(pa.table({"doc_id": replaced}), staging / REPLACED)
    kinds = decision.duplicates.column("kind").to_pylist()
    return {
        "documents": keys.num_rows,
        "already_published": int(skip.sum()),
        "exact_duplicates": kinds.count("exact"),
        "near_duplicates": kinds.count("near"),
        "superseded": decision.superseded.num_rows,
        "replaced": len(replaced),
    }


def _article_ids_of(out: Path, files: list[str]) -> pa.Array:
    """doc_ids of the published articles that came from ``files``."""
    from tasks.write import published_parts, read_parquet

    wanted = pa.array(sorted(files), pa.string())
    ids = [
        t.filter(pc.is_in(t["source_file"], value_set=wanted))["doc_id"].combine_chunks()
        for t in (
            read_parquet(p, columns=["doc_id", "source_file"])
            for p in published_parts(out, "articles")
        )
    ]
    return pa.concat_arrays(ids).cast(pa.string()) if ids else pa.array([], pa.string())


def _stage_decisions(staging: Path, keys: pa.Table, skip: np.ndarray, clusters: pa.Table) -> None:
    """One decisions file per staged docs part, row-aligned with it, so that later steps
    (learning, publishing) read a part's decisions beside the part instead of looking every
    document up in a table of the whole run."""
    from tasks.write import staged_parts, write_parquet_atomic

    action = np.full(keys.num_rows, "skip", dtype=object)
    cluster = np.full(keys.num_rows, None, dtype=object)
    todo = np.flatnonzero(~skip)
    kept = np.asarray(clusters.column("kept"), dtype=bool)
    action[todo] = np.where(kept, "keep", "drop")
    cluster[todo] = np.asarray(clusters.column("dup_cluster").to_pylist(), dtype=object)
    start = 0
    for part in staged_parts(staging, "docs"):
        rows = pq.ParquetFile(part).metadata.num_rows
        table = pa.table(
            {
                "doc_id": keys.column("doc_id").slice(start, rows),
                "action": pa.array(action[start : start + rows].tolist(), pa.string()),
                "dup_cluster": pa.array(cluster[start : start + rows].tolist(), pa.string()),
            }
        )
        write_parquet_atomic(table, staging / DECISIONS / part.name)
        start += rows
