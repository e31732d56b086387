"""Ingest fuzzing (issue 13, item 10): generated files of every input format, valid, broken
and hostile, never crash the reader, always give the same rows, and every file is accounted
for (a document or a quarantine row).

The suite runs a short derandomized version (fixed examples, seconds). A long run by hand::

    NEWSCLEAN_FUZZ_EXAMPLES=20000 pytest -m unit tests/test_ingest_fuzz.py -p no:cacheprovider

Formats and damage: ``.txt`` (text in UTF-8, UTF-16 with or without a BOM, cp1252, with NUL
and control bytes, or raw bytes), CSV (records with commas, quotes and newlines in fields,
then a quote dropped or added, a record cut, fields added), JSON Lines (objects, garbage
lines, cut lines, control characters, deep nesting), JSON (arrays, wrappers, garbage) and
Parquet (tables with odd column types and nulls, or a valid file cut short). Real article
text from the shipped FakeNewsCorpus sample is the raw material for the fields.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsclean.tasks.schema import DOC_SCHEMA, QUARANTINE_SCHEMA
from newsclean.tasks.storage.ingest import plan_units, read_unit
from tests.helpers import FAKENEWS, REFERENCE

pytestmark = pytest.mark.unit

EXAMPLES = int(os.environ.get("NEWSCLEAN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 200,  # the suite's run is the same every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _real_lines() -> list[str]:
    lines = REFERENCE.read_text("utf-8").splitlines()
    lines += FAKENEWS.read_text("utf-8").splitlines()[:400]
    return [line for line in lines if line.strip()][:600]


REAL = _real_lines()
HOSTILE = ["\x00", "\x01", "\x1b", '"', '""', ",", "\n", "\r", "\r\n", "\ufeff", "\u2028",
           "\ud7ff", "é", "—", "“", "{", "}", "[", "]", "\\", "GETTY", "http://", "(", "a."]  # fmt: skip

field_text = st.one_of(
    st.sampled_from(REAL),
    st.text(max_size=60),
    st.lists(st.sampled_from(HOSTILE + REAL[:20]), max_size=12).map("".join),
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace" if encoding == "cp1252" else "surrogatepass")


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` as written, or cut, or with bytes flipped, dropped or inserted."""
    kind = draw(st.sampled_from(["none", "none", "cut", "flip", "insert", "drop"]))
    if not data or kind == "none":
        return data
    at = draw(st.integers(0, len(data) - 1))
    if kind == "cut":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data[:at] + data[at + 1 :]


@st.composite
def txt_file(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    lines = draw(st.lists(field_text, min_size=0, max_size=8))
    return draw(damaged(_encode("\n".join(lines), draw(st.sampled_from(ENCODINGS)))))


@st.composite
def csv_file(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from([["title", "content"], ["title", "text", "url"], ["body"]]))
    rows = draw(st.lists(st.lists(field_text, min_size=1, max_size=4), max_size=6))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        writer.writerow((row + [""] * len(header))[: len(header) + draw(st.integers(-1, 1))])
    text = buffer.getvalue()
    if text and draw(st.booleans()):  # a quote lost or added somewhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + text[at + 1 :] if text[at] == '"' else text[:at] + '"' + text[at:]
    return draw(damaged(_encode(text, draw(st.sampled_from(ENCODINGS)))))


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | field_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(field_text, inner, max_size=3),
    max_leaves=8,
)
record = st.fixed_dictionaries(
    {"title": field_text, "text": field_text},
    optional={"url": field_text, "authors": json_value, "published": json_value,
              "domain": field_text, "extra": json_value},
)  # fmt: skip


@st.composite
def jsonl_file(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.sampled_from(["record", "record", "value", "garbage", "deep"]))
        if choice == "record":
            lines.append(json.dumps(draw(record), ensure_ascii=draw(st.booleans())))
        elif choice == "value":
            lines.append(json.dumps(draw(json_value)))
        elif choice == "deep":
            lines.append("[" * draw(st.integers(100, 5000)))
        else:
            lines.append(draw(field_text))
    return draw(damaged(_encode("\n".join(lines), draw(st.sampled_from(ENCODINGS)))))


@st.composite
def json_file(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(record, max_size=5))
    shape = draw(st.sampled_from(["list", "wrapped", "one", "value"]))
    value = {"list": records, "wrapped": {"articles": records},
             "one": records[0] if records else {}, "value": draw(json_value)}[shape]  # fmt: skip
    return draw(damaged(_encode(json.dumps(value), draw(st.sampled_from(ENCODINGS)))))


@st.composite
def parquet_file(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 5))
    columns = {
        "title": pa.array([draw(field_text) for _ in range(n)], pa.string()),
        "text": draw(st.sampled_from([
            pa.array([draw(field_text) for _ in range(n)], pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array(list(range(n)), pa.int64()),
            pa.array([[draw(field_text)] for _ in range(n)], pa.list_(pa.string())),
            pa.array([draw(field_text).encode("utf-8", "surrogatepass") for _ in range(n)]),
        ])),
        "published": pa.array([draw(st.integers(-(2**40), 2**40)) for _ in range(n)]),
    }  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink, row_group_size=max(1, draw(st.integers(1, 3))))
    data = sink.getvalue()
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


#: What ``str()`` of bytes or of a list of strings looks like.
REPR = re.compile(r"""b'.*'|b".*"|\[(['"]).*\1\]""", re.DOTALL)

FORMATS = {
    ".txt": txt_file(), ".csv": csv_file(), ".jsonl": jsonl_file(), ".json": json_file(),
    ".parquet": parquet_file(),
}  # fmt: skip


def _ingest(raw: Path) -> tuple[list[dict], list[dict]]:
    plan = plan_units(raw, batch_size=3, unit_bytes=256)  # tiny units: ranges are cut too
    docs, quarantine = [], []
    for unit in plan.units:
        for batch, bad in read_unit(raw, unit, 3, 1 << 20):
            assert batch.schema == DOC_SCHEMA and bad.schema == QUARANTINE_SCHEMA
            docs += batch.to_pylist()
            quarantine += bad.to_pylist()
    return docs, quarantine


@FUZZ
@given(files=st.lists(st.sampled_from(sorted(FORMATS)), min_size=1, max_size=4).flatmap(
    lambda suffixes: st.tuples(*(FORMATS[s].map(lambda data, s=s: (s, data)) for s in suffixes))
))  # fmt: skip
def test_item10_any_file_of_any_format_is_read_or_quarantined(
    files: tuple[tuple[str, bytes], ...],
) -> None:
    raw = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        names = []
        for i, (suffix, data) in enumerate(files):
            (raw / f"f{i}{suffix}").write_bytes(data)
            names.append(f"f{i}{suffix}")
        docs, quarantine = _ingest(raw)
        again = _ingest(raw)
        assert (docs, quarantine) == again  # same input, same rows
        seen = {d["source_file"] for d in docs} | {q["source_file"] for q in quarantine}
        assert seen == set(names)  # no file vanishes
        records = [(d["source_file"], d["source_record"]) for d in docs]
        records += [(q["source_file"], q["source_record"]) for q in quarantine
                    if q["source_record"] is not None]  # fmt: skip
        assert len(records) == len(set(records))  # a record is a document or a reason, once
        for doc in docs:  # text, never the repr of bytes or a list a table stored
            assert isinstance(doc["text"], str) and doc["text"]
            assert not REPR.fullmatch(doc["text"]), doc["text"]
    finally:
        shutil.rmtree(raw, ignore_errors=True)


def _parquet(**columns: pa.Array) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


FOUND = {  # what the long runs found, each now one quarantine row or a readable document
    "header-only.csv": (b"title,content\n", "no records (a CSV header only)"),
    "lone-bom-byte.csv": (b"\xef", "no records (not even a CSV header)"),
    "empty-list.json": (b"[]", "no records (an empty JSON list)"),
    "no-rows.parquet": (_parquet(text=pa.array([], pa.string())), "no records (a Parquet"),
    "blank.jsonl": (b"\r", "no records (only blank lines)"),
    "bom-body.jsonl": (json.dumps({"text": "\ufeff"}).encode(), "record has no body text"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_item10_what_the_fuzzer_found_is_accounted_for(tmp_path: Path, name: str) -> None:
    data, reason = FOUND[name]
    (tmp_path / name).write_bytes(data)
    docs, quarantine = _ingest(tmp_path)
    assert docs == [] and len(quarantine) == 1 and quarantine[0]["reason"].startswith(reason)


def test_item10_binary_and_list_columns_are_text(tmp_path: Path) -> None:
    (tmp_path / "odd.parquet").write_bytes(
        _parquet(
            title=pa.array([b"Caf\xc3\xa9 news", b"Caf\xe9 news"]),
            text=pa.array([["First paragraph.", "Second."], ["One part."]]),
        )
    )
    docs, quarantine = _ingest(tmp_path)
    assert quarantine == []
    assert [(d["title"], d["text"]) for d in docs] == [
        ("Café news", "First paragraph.\n\nSecond."),
        ("Café news", "One part."),  # cp1252 bytes decoded too
    ]
