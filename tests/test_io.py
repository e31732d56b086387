"""Storage helpers: reading a few rows of a large Parquet file by key; staged and published
writes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.storage.io import (
    SCHEMA_VERSION_KEY,
    read_parquet,
    read_rows_where,
    write_parquet_atomic,
    write_staged,
)

pytestmark = pytest.mark.unit


def test_rows_by_key_come_from_their_row_groups_only(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "part.parquet"
    table = pa.table({"doc_id": [f"d{i:03d}" for i in range(100)], "text": ["x" * 50] * 100})
    pq.write_table(table, path, row_group_size=10)
    read: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, groups, *args, **kwargs):
        read.append(list(groups))
        return original(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    wanted = pa.array(["d005", "d073", "d074", "missing"])
    rows = read_rows_where(path, "doc_id", wanted, ["doc_id", "text"])
    assert rows["doc_id"].to_pylist() == ["d005", "d073", "d074"]
    assert read == [[0, 7]]  # two of the ten row groups
    none = read_rows_where(path, "doc_id", pa.array(["missing"]), ["doc_id", "text"])
    assert none.num_rows == 0 and none.column_names == ["doc_id", "text"]


def _codecs(path: Path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


def test_staged_files_are_uncompressed_and_published_files_zstd(tmp_path: Path) -> None:
    """Staging is read back by the run's next passes and deleted: no codec. What the dataset
    keeps is zstd. Both round-trip the same rows and carry newsclean's metadata."""
    texts = ["Thee are fears in the region.Mr Stoltenberg said.", "ünïcödé “quotes”", None]
    table = pa.table({"doc_id": ["a", "b", "c"], "text": texts, "word_count": [9, 2, 0]})
    staged = write_staged(table, tmp_path / "staging" / "docs" / "0.parquet", {"k": "v"})
    published = write_parquet_atomic(table, tmp_path / "articles" / "0.parquet", {"k": "v"})
    assert _codecs(staged) == {"UNCOMPRESSED"}
    assert _codecs(published) == {"ZSTD"}
    for path in (staged, published):
        back = read_parquet(path)
        assert back.to_pylist() == table.to_pylist()
        assert SCHEMA_VERSION_KEY.encode() in back.schema.metadata
        assert back.schema.metadata[b"k"] == b"v"
    assert not list(tmp_path.rglob("*.tmp"))  # the temp names were renamed into place
