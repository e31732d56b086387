"""The ``dedup`` step: the run's documents against each other and the published dataset.

Reads the run's staged keys and sketches and the dedup index (storage), asks the decision
(:func:`newsclean.tasks.stages.dedup.decide`) and stages its outcome for the publish step: one
decisions file per staged docs part, row-aligned (``keep``, ``drop`` or ``skip``), the new
duplicate rows, the articles a better new copy supersedes, the records that changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsclean.tasks.pipeline.index_build import rebuild_index
from newsclean.tasks.pipeline.memory import release_memory
from newsclean.tasks.schema import DEDUP_KEY_COLUMNS, STAGED_SCHEMA
from newsclean.tasks.stages import minhash
from newsclean.tasks.stages.dedup import Documents, decide
from newsclean.tasks.stages.minhash import NearDupConfig
from newsclean.tasks.storage import dedup_index
from newsclean.tasks.storage.io import read_parquet, read_rows_where, write_staged
from newsclean.tasks.storage.layout import (
    ARTICLE_TABLES,
    DUPLICATES,
    INDEX_DIR,
    REPLACED,
    SUPERSEDED,
    published_parts,
    read_staged_table,
    sibling,
    staged_parts,
)

_SEEN_SCHEMA = pa.schema(
    [("doc_id", pa.string()), ("content_hash", pa.string()), ("source_file", pa.string())]
)


def published_seen(out_dir: Path, retracted_files: list[str] | None = None) -> pa.Table:
    """``doc_id``/``content_hash``/``source_file`` of every document already published (kept
    or dropped), minus the rows of files this run reprocesses (they are being taken back)."""
    # Kept articles through the index: it holds their hash before learned boilerplate was
    # removed, which is what a re-read of the same raw record hashes to.
    parts = [
        read_parquet(p, columns=_SEEN_SCHEMA.names).cast(_SEEN_SCHEMA)
        for name in (INDEX_DIR, "duplicates")
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
    staging, out = Path(staging_dir), Path(out_dir)
    keys = read_staged_table(
        staging, "docs", pa.schema([STAGED_SCHEMA.field(c) for c in DEDUP_KEY_COLUMNS])
    )
    sketch_ids = read_staged_table(staging, "sketch", pa.schema([STAGED_SCHEMA.field("doc_id")]))
    if not keys.column("doc_id").equals(sketch_ids.column("doc_id")):
        raise RuntimeError("staged sketches are not aligned with staged documents")
    sketch_schema = minhash.sketch_schema(config)
    sketch = dedup_index.IndexedArticles(staged_parts(staging, "sketch"), sketch_schema)
    if not dedup_index.is_current(out, config.sketch_id):
        rebuild_index(out, config)
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
    index = dedup_index.IndexedArticles(
        dedup_index.index_parts(out),
        dedup_index.index_schema(sketch_schema, config.sketch_id),
        exclude=excluded,
    )
    todo = pa.array(~skip)
    sketches: pa.Table | dedup_index.IndexedArticles = sketch
    if skip.any():  # a re-run without a manifest: only the unpublished documents take part
        sketches = read_staged_table(staging, "sketch", sketch_schema).filter(todo)
    texts = _TextLookup(staging, out, np.flatnonzero(~skip), index)
    decision = decide(Documents(keys.filter(todo), sketches), index, config, texts)
    del sketches, texts, index
    release_memory()  # the decision's buffers: the staging below needs little
    _stage_decisions(staging, keys, skip, decision.clusters)

    write_staged(decision.duplicates, staging / DUPLICATES)
    write_staged(decision.superseded, staging / SUPERSEDED)
    write_staged(pa.table({"doc_id": replaced}), staging / REPLACED)
    kinds = decision.duplicates.column("kind").to_pylist()
    return {
        "documents": keys.num_rows,
        "already_published": int(skip.sum()),
        "exact_duplicates": kinds.count("exact"),
        "near_duplicates": kinds.count("near"),
        "superseded": decision.superseded.num_rows,
        "replaced": len(replaced),
    }


class _TextLookup:
    """Texts of decision nodes for ``dedup.near-exact``, read only when asked: a new document
    from its staged docs part, an indexed article from the published file that holds it.

    ``rows`` maps a new node to its row in the staging order; the index maps an old node to
    its doc_id. Indexed articles are looked up in every published table that keeps text
    (an article set aside by language or kind is indexed too); one the dataset no longer
    holds gives None, and its pair is left to the estimate.
    """

    def __init__(
        self, staging: Path, out: Path, rows: np.ndarray, index: dedup_index.IndexedArticles
    ) -> None:
        self.staging, self.out, self.rows, self.index = staging, out, rows, index

    def __call__(self, nodes: np.ndarray) -> list[str | None]:
        nodes = np.asarray(nodes, dtype=np.int64)
        found: dict[int, str | None] = {}
        new = nodes[nodes < len(self.rows)]
        found.update(zip(new.tolist(), self._staged(self.rows[new]), strict=True))
        old = nodes[nodes >= len(self.rows)]
        if len(old):
            local = old - len(self.rows)
            order = np.argsort(local)
            ids = self.index.take(local[order], ["doc_id"]).column("doc_id").to_pylist()
            texts = self._published(ids)
            found.update(zip(old[order].tolist(), (texts.get(i) for i in ids), strict=True))
        return [found[n] for n in nodes.tolist()]

    def _staged(self, rows: np.ndarray) -> list[str | None]:
        """Texts of staged rows (staging order), reading only the parts that hold them."""
        out: dict[int, str | None] = {}
        start = 0
        for part in staged_parts(self.staging, "docs"):
            size = pq.ParquetFile(part).metadata.num_rows
            inside = rows[(rows >= start) & (rows < start + size)]
            if len(inside):
                column = read_parquet(part, columns=["text"]).column("text")
                taken = column.take(pa.array(inside - start)).to_pylist()
                out.update(zip(inside.tolist(), taken, strict=True))
            start += size
        return [out[r] for r in rows.tolist()]

    def _published(self, doc_ids: list[str]) -> dict[str, str | None]:
        wanted = pa.array(sorted(set(doc_ids)), pa.string())
        texts: dict[str, str | None] = {}
        for table in ARTICLE_TABLES:
            for part in published_parts(self.out, table):
                rows = read_rows_where(part, "doc_id", wanted, ["doc_id", "text"])
                texts.update(zip(rows["doc_id"].to_pylist(), rows["text"].to_pylist(), strict=True))
        return texts


def _article_ids_of(out: Path, files: list[str]) -> pa.Array:
    """doc_ids of the published articles that came from ``files``."""
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
        write_staged(table, sibling(part, "decisions"))
        start += rows
