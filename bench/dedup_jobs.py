"""Worker jobs of ``bench/dedup.py`` (spawned workers import them by module name, which a
function defined in the script's ``__main__`` cannot offer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq


def sketch_file(
    path: str, out_dir: str, config: Any, rows: int = 1000, with_keys: bool = True
) -> int:
    """Worker job: keys and MinHash sketches of one JSONL file, as the flow stages them (the
    URL as given stands in for ``url_canonical``: the corpus writes canonical URLs)."""
    from newsclean.tasks.stages import minhash
    from newsclean.tasks.stages.derive import content_hashes

    table = pj.read_json(path).select(["id", "content", "title", "url", "domain"])
    ids = table.column("id").combine_chunks()
    texts = table.column("content").combine_chunks()
    keys = pa.table(
        {
            "doc_id": ids,
            "content_hash": content_hashes(texts.to_pylist()),
            "text_chars": pc.cast(pc.utf8_length(texts), pa.int64()),
            "published_at": pa.nulls(len(ids), pa.timestamp("us", tz="UTC")),
            "source_file": pa.array([Path(path).name] * len(ids)),
            "source_record": pa.array(np.arange(len(ids)), pa.int64()),
            "domain": table.column("domain"),
        }
    )
    meta = table.rename_columns(["id", "content", "title", "url_canonical", "domain"])
    sketches = [
        minhash.sketch_batch(
            ids.slice(i, rows),
            texts.slice(i, rows),
            config,
            meta.slice(i, rows) if with_keys else None,
        )
        for i in range(0, len(ids), rows)
    ]
    name = Path(path).stem
    pq.write_table(keys, Path(out_dir) / f"{name}.keys.parquet")
    pq.write_table(pa.table({"text": texts}), Path(out_dir) / f"{name}.texts.parquet")
    pq.write_table(pa.concat_tables(sketches), Path(out_dir) / f"{name}.sketch.parquet")
    return len(ids)


def decide_all(work: str, config: Any, exact: bool = True) -> dict[str, Any]:
    """Worker job: the dedup decision over every sketched file (empty index); with
    ``exact``, the texts of the pairs just under the threshold are read for
    ``dedup.near-exact`` (as the flow reads them from staging), else the estimate decides."""
    from newsclean.tasks.stages.dedup import Documents, TableSketches, decide

    folder = Path(work)
    keys = pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.keys.parquet")))
    sketch = pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.sketch.parquet")))
    asked: list[int] = []

    def texts(nodes: np.ndarray) -> list[str | None]:
        asked.append(len(nodes))
        parts = sorted(folder.glob("*.texts.parquet"))
        column = pa.concat_tables(pq.read_table(p) for p in parts).column("text")
        return column.take(pa.array(nodes)).to_pylist()

    decision = decide(
        Documents(keys, sketch), TableSketches.empty(config), config, texts if exact else None
    )
    pq.write_table(decision.duplicates, folder / "duplicates.parquet")
    return {
        "documents": keys.num_rows,
        "dropped": decision.duplicates.num_rows,
        "texts_read": sum(asked),
    }
