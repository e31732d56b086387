"""Storage helpers: reading a few rows of a large Parquet file by key."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.storage.io import read_rows_where

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
