"""Ingest stage: planning, decoding and reading every supported format into document batches.

Every input is written byte for byte into ``tmp_path``; "real" text comes from the shipped
samples under ``data/raw`` (only ever read, never written).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import itertools
import json
import os
import random
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.schema import DOC_SCHEMA, QUARANTINE_SCHEMA
from newsclean.tasks.storage import ingest as ingest_module
from newsclean.tasks.storage.ingest import (
    DEFAULT_MAX_DOC_BYTES,
    BatchBuilder,
    InputError,
    Plan,
    decode_bytes,
    make_doc_id,
    parse_timestamp,
    parse_txt,
    plan_units,
    read_records,
    read_unit,
    unsupported_quarantine,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
REFERENCE = RAW / "samples" / "000_4c60d5582bf9f543.txt"
FAKENEWS = RAW / "fakenewscorpus" / "news_sample.csv"
REFERENCE_TITLE = (
    "NATO set to ANGER Putin by extending Russian border troops 'for as long as necessary'"
)

REFERENCE_BODY_START = "NATO risks angering Russia"


# --------------------------------------------------------------------------- helpers


def write(raw: Path, name: str, data: bytes | str) -> Path:
    path = raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_plan(raw: Path, plan: Plan, batch_size: int = 5000, max_doc_bytes: int | None = None):
    """Read every unit of ``plan``: (docs, quarantine rows, document batch sizes)."""
    docs: list[dict] = []
    quarantine: list[dict] = []
    sizes: list[int] = []
    limit = DEFAULT_MAX_DOC_BYTES if max_doc_bytes is None else max_doc_bytes
    for unit in plan.units:
        for batch, bad in read_unit(raw, unit, batch_size, limit):
            assert batch.schema == DOC_SCHEMA
            assert bad.schema == QUARANTINE_SCHEMA
            sizes.append(batch.num_rows)
            docs.extend(batch.to_pylist())
            quarantine.extend(bad.to_pylist())
    return docs, quarantine, sizes


def ingest(raw: Path, batch_size: int = 5000, unit_bytes: int = 32 << 20, **kw):
    plan = plan_units(raw, batch_size=batch_size, unit_bytes=unit_bytes)
    docs, quarantine, sizes = read_plan(raw, plan, batch_size, **kw)
    return plan, docs, quarantine, sizes


def by_file(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["source_file"], []).append(row)
    return out


def reference_lines() -> list[str]:
    """Non-blank lines of the reference article, for realistic bodies."""
    return [line for line in REFERENCE.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "raw"
    path.mkdir()
    return path


# --------------------------------------------------------------------------- .txt layout


def test_reference_sample_txt(raw: Path) -> None:
    shutil.copy(REFERENCE, raw / REFERENCE.name)
    plan, docs, quarantine, _ = ingest(raw)
    assert [u.kind for u in plan.units] == ["txt"]
    assert quarantine == []
    [doc] = docs
    assert doc["title"] == REFERENCE_TITLE
    assert doc["text"].startswith(REFERENCE_BODY_START)
    assert doc["url"] is None and doc["domain"] is None
    assert doc["source_file"] == REFERENCE.name
    assert doc["source_record"] == 0
    assert doc["doc_id"] == make_doc_id(REFERENCE.name, 0)
    assert doc["raw_bytes"] == len(doc["text"].encode("utf-8"))
    assert REFERENCE_TITLE not in doc["text"]
    assert doc["authors"] == [] and doc["captions"] == [] and doc["extra"] is None


def test_txt_optional_url_line(raw: Path) -> None:
    body = "\n\n".join(reference_lines()[1:4])
    write(raw, "a.txt", f"{REFERENCE_TITLE}\nhttps://www.Express.co.uk/news/world/1\n\n{body}\n")
    write(raw, "b.txt", f"Second headline\nwww.example.org/story?id=3\n{body}")
    write(raw, "c.txt", f"\n\nThird headline\n\nnot a url: https://x.com/a then text\n{body}")
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    a, b, c = sorted(docs, key=lambda d: d["source_file"])
    assert (a["title"], a["url"], a["domain"]) == (
        REFERENCE_TITLE,
        "https://www.Express.co.uk/news/world/1",
        "express.co.uk",
    )
    assert a["text"] == body + "\n"
    assert (b["url"], b["domain"], b["text"]) == ("www.example.org/story?id=3", "example.org", body)
    # Leading blank lines are skipped; a line with a URL inside prose is body, not the URL line.
    assert c["title"] == "Third headline"
    assert c["url"] is None
    assert c["text"].startswith("not a url: https://x.com/a then text\n")


@pytest.mark.parametrize(
    ("name", "newline"), [("lf", b"\n"), ("crlf", b"\r\n"), ("cr", b"\r"), ("mixed", None)]
)
def test_txt_line_endings_normalized(raw: Path, name: str, newline: bytes | None) -> None:
    lines = [REFERENCE_TITLE, "", *reference_lines()[1:5]]
    if newline is None:
        data = b"".join(
            line.encode() + (b"\r\n", b"\r", b"\n")[i % 3] for i, line in enumerate(lines)
        )
    else:
        data = newline.join(line.encode() for line in lines) + newline
    write(raw, f"{name}.txt", data)
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    [doc] = docs
    assert doc["title"] == REFERENCE_TITLE
    assert "\r" not in doc["text"]
    assert doc["text"].rstrip("\n").split("\n") == lines[2:]


def test_txt_utf8_bom_stripped(raw: Path) -> None:
    write(raw, "bom.txt", codecs.BOM_UTF8 + "Café headline\n\nBody with “quotes”.\n".encode())
    # A BOM file with one stray cp1252 byte falls back to cp1252: the BOM must not turn
    # into "ï»¿" in front of the headline.
    write(raw, "bom_cp1252.txt", codecs.BOM_UTF8 + b"Headline two\n\nBody caf\xe9\n")
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    docs = {d["source_file"]: d for d in docs}
    assert docs["bom.txt"]["title"] == "Café headline"
    assert docs["bom.txt"]["text"] == "Body with “quotes”.\n"
    assert docs["bom_cp1252.txt"]["title"] == "Headline two"
    assert docs["bom_cp1252.txt"]["text"] == "Body café\n"
    assert not any("\ufeff" in (d["title"] + d["text"]) for d in docs.values())


def test_txt_cp1252_decoded_without_replacement(raw: Path) -> None:
    write(raw, "w.txt", b"Caf\xe9 news\r\n\r\nHe said \x93quoted\x94 caf\xe9 \x96 \x80 5\r\n")
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    [doc] = docs
    assert doc["title"] == "Café news"
    assert doc["text"] == "He said “quoted” café – € 5\n"
    assert "\ufffd" not in doc["text"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_txt_utf16_with_bom(raw: Path, codec: str) -> None:
    text = f"Zürich headline\r\n\r\n{reference_lines()[1]}\r\n“Ünïcödé” — done\r\n"
    bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    data = bom[codec] + text.encode(codec)
    assert data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    write(raw, "u16.txt", data)
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    [doc] = docs
    assert doc["title"] == "Zürich headline"
    assert doc["text"] == f"{reference_lines()[1]}\n“Ünïcödé” — done\n"


def test_decode_bytes_prefers_utf8_and_rejects_garbage() -> None:
    assert decode_bytes("café – “x”".encode()) == "café – “x”"
    assert decode_bytes(b"caf\xe9") == "café"
    assert decode_bytes(b"a\r\nb\rc\n") == "a\nb\nc\n"
    assert decode_bytes(codecs.BOM_UTF8 + b"x") == "x"
    assert decode_bytes("ab\r\n".encode("utf-16")) == "ab\n"
    # a stray NUL in text is text (normalize removes it with an edit); NUL runs are binary
    assert decode_bytes(b"text\x00more") == "text\x00more"
    with pytest.raises(InputError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" * 200)
    with pytest.raises(InputError, match=r"undecodable.*0x81"):
        decode_bytes(b"ok \xc3\x28 \x81\x8d\x8f\x90\x9d")
    with pytest.raises(InputError, match="UTF-16"):
        decode_bytes(codecs.BOM_UTF16_LE + b"a\x00b")  # odd byte count
    with pytest.raises(InputError, match="binary"):
        decode_bytes(bytes(range(1, 32)) * 20)


def test_parse_txt_layout() -> None:
    assert parse_txt("T\nhttp://a.b/c\n\nbody\nmore") == ("T", "http://a.b/c", "body\nmore")
    assert parse_txt("\n\n  T  \n\n\nbody") == ("T", None, "body")
    assert parse_txt("T only") == ("T only", None, "")
    assert parse_txt("T\nhttp://a.b/c d\nbody") == ("T", None, "http://a.b/c d\nbody")


# --------------------------------------------------------------------------- bad input


def test_bad_txt_files_quarantined_and_run_goes_on(raw: Path) -> None:
    good = f"{REFERENCE_TITLE}\n\n{reference_lines()[1]}\n"
    junk = bytearray(random.Random(42).randbytes(4096))
    junk[100:104] = b"\x00\x00\x00\x00"
    files = {
        "a_good.txt": good,
        "b_empty.txt": b"",
        "c_whitespace.txt": b"  \r\n\t\n \n",
        "d_headline.txt": "Only a headline\n",
        "e_headline_url.txt": "Only a headline\nhttps://example.com/x\n\n",
        "f_junk.txt": bytes(junk),
        "g_undecodable.txt": b"Headline\n\nbody \xc3\x28 and \x81\x8d\x8f\x90\x9d\n",
        "h_good.txt": good.replace("NATO", "OTAN"),
    }
    for name, data in files.items():
        write(raw, name, data)
    plan, docs, quarantine, _ = ingest(raw)
    assert len(plan.units) == 1 and set(plan.units[0].files) == set(files)
    assert sorted(d["source_file"] for d in docs) == ["a_good.txt", "h_good.txt"]
    reasons = {q["source_file"]: q for q in quarantine}
    assert set(reasons) == set(files) - {"a_good.txt", "h_good.txt"}
    assert len(quarantine) == len(reasons)  # one row per bad file
    expected = {
        "b_empty.txt": ("empty file", None),
        "c_whitespace.txt": ("only whitespace", None),
        "d_headline.txt": ("headline only", 0),
        "e_headline_url.txt": ("headline only", 0),
        "f_junk.txt": ("binary data", None),
        "g_undecodable.txt": ("undecodable", None),
    }
    for name, (needle, record) in expected.items():
        assert needle in reasons[name]["reason"], reasons[name]
        assert reasons[name]["source_record"] == record


def test_binary_junk_without_nul_is_quarantined(raw: Path) -> None:
    rng = random.Random(7)
    write(raw, "junk.txt", bytes(rng.randrange(1, 256) for _ in range(8192)))
    write(raw, "ok.txt", "Title\n\nBody\n")
    _, docs, quarantine, _ = ingest(raw)
    assert [d["source_file"] for d in docs] == ["ok.txt"]
    [row] = quarantine
    assert row["source_file"] == "junk.txt"
    assert "binary" in row["reason"] or "undecodable" in row["reason"]


def test_ignored_and_unsupported_files(raw: Path) -> None:
    for name in [
        "LICENSE",
        "corpus/README.md",
        "corpus/readme.txt",
        "notes.md",
        ".DS_Store",
        ".hidden/story.txt",
        "COPYING",
        "corpus/NOTICE.txt",
        "image.png",
        "corpus/data.xml",
        "archive.tar.gz",
    ]:
        write(raw, name, b"Title\n\nSome body\n")
    write(raw, "corpus/story.txt", "Title\n\nSome body\n")
    write(raw, "license_plates.txt", "Licence plates\n\nA story about plates\n")
    plan, docs, quarantine, _ = ingest(raw)
    assert sorted(plan.ignored) == sorted(
        [
            ".DS_Store",
            ".hidden/story.txt",
            "COPYING",
            "LICENSE",
            "corpus/NOTICE.txt",
            "corpus/README.md",
            "corpus/readme.txt",
            "notes.md",
        ]
    )
    assert sorted(plan.unsupported) == ["archive.tar.gz", "corpus/data.xml", "image.png"]
    assert sorted(d["source_file"] for d in docs) == ["corpus/story.txt", "license_plates.txt"]
    assert quarantine == []
    table = unsupported_quarantine(plan.unsupported)
    assert table.schema == QUARANTINE_SCHEMA
    rows = table.to_pylist()
    assert [r["source_file"] for r in rows] == plan.unsupported
    assert all(r["source_record"] is None for r in rows)
    assert all(r["reason"].startswith("unsupported file type") for r in rows)
    assert all(".parquet" in r["reason"] and ".txt" in r["reason"] for r in rows)
    assert unsupported_quarantine([]).num_rows == 0


def test_file_over_max_doc_bytes(raw: Path) -> None:
    write(raw, "big.txt", "Big\n\n" + "word " * 50)  # 255 bytes: just over
    write(raw, "small.txt", "Small\n\nshort body\n")
    write(raw, "c.jsonl", json.dumps({"text": "x" * 300}) + "\n" + json.dumps({"text": "ok"}))
    _, docs, quarantine, _ = ingest(raw, max_doc_bytes=200)
    assert sorted((d["source_file"], d["source_record"]) for d in docs) == [
        ("c.jsonl", 1),
        ("small.txt", 0),
    ]
    rows = {q["source_file"]: q for q in quarantine}
    assert set(rows) == {"big.txt", "c.jsonl"}
    assert rows["big.txt"]["reason"].startswith("file of 0.0 MB exceeds max_doc_bytes")
    assert rows["big.txt"]["source_record"] is None
    assert "exceeds max_doc_bytes" in rows["c.jsonl"]["reason"]
    assert rows["c.jsonl"]["source_record"] == 0


# --------------------------------------------------------------------------- CSV


def test_csv_alias_mapping(raw: Path) -> None:
    body = reference_lines()[1]
    write(
        raw,
        "a.csv",
        "id,type,headline,content,link,author,date,Extra Col\r\n"
        f'7,fake,{REFERENCE_TITLE},"{body}",https://www.example.com/a,'
        '"Jane Doe, John Roe",2020-01-02T03:04:05+02:00,\r\n'
        "8,satire,Second,Body two,http://news.example.org/b,Alice and Bob,2021-06-01 12:30,x\r\n"
        "9,,Third,Body three,,,not a date,\r\n",
    )
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    first, second, third = docs
    assert first["title"] == REFERENCE_TITLE
    assert first["text"] == body
    assert first["url"] == "https://www.example.com/a"
    assert first["domain"] == "example.com"
    assert first["authors"] == ["Jane Doe, John Roe"]  # as given: the authors stage splits
    assert first["published_at"] == datetime(2020, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert json.loads(first["extra"]) == {"id": "7", "type": "fake"}
    assert second["authors"] == ["Alice and Bob"]
    assert second["published_at"] == datetime(2021, 6, 1, 12, 30, tzinfo=UTC)
    assert second["domain"] == "news.example.org"
    assert json.loads(second["extra"]) == {"id": "8", "type": "satire", "Extra Col": "x"}
    assert third["url"] is None and third["authors"] == [] and third["published_at"] is None
    assert json.loads(third["extra"]) == {"id": "9", "published_unparsed": "not a date"}
    assert [d["source_record"] for d in docs] == [0, 1, 2]


def test_read_records_decodes_only_the_wanted_json_lines(raw: Path, monkeypatch) -> None:
    """The report's examples and `newsclean show` re-read a few records: the same rows as a
    full read gives, from a file whose other lines are never decoded (a broken line among
    them costs nothing), with blank lines and a BOM counted as a full read counts them."""
    frame = pd.read_csv(FAKENEWS, dtype=str, keep_default_na=False).head(60)
    lines = [json.dumps({"title": t, "content": c, "url": u}) for t, c, u in
             zip(frame["title"], frame["content"], frame["url"], strict=True)]  # fmt: skip
    lines[7] = "{not json"  # unwanted, so never decoded
    lines.insert(20, "")  # a blank line still counts as a record number
    write(raw, "news.jsonl", codecs.BOM_UTF8 + "\n".join(lines).encode("utf-8"))
    full = {d["source_record"]: d for d in read_plan(raw, plan_units(raw))[0]}
    wanted = {0, 19, 21, 59}
    decoded: list[bytes] = []
    original = ingest_module._decode_line

    def counting(line: bytes) -> str:
        decoded.append(line)
        return original(line)

    monkeypatch.setattr(ingest_module, "_decode_line", counting)
    found = read_records(raw, {"news.jsonl": wanted})
    assert len(decoded) == len(wanted)  # the other 57 lines were only counted
    assert set(found) == {("news.jsonl", r) for r in wanted}
    for record in wanted:
        assert found[("news.jsonl", record)] == full[record]
    assert found[("news.jsonl", 21)]["title"] == frame["title"][20]  # after the blank line
    assert read_records(raw, {"news.jsonl": {7}}) == {}  # the broken line is not a record
    assert read_records(raw, {"gone.jsonl": {0}}) == {}


def test_fakenewscorpus_sample(raw: Path) -> None:
    shutil.copy(FAKENEWS, raw / "news_sample.csv")
    plan, docs, quarantine, _ = ingest(raw, batch_size=64)
    assert [u.kind for u in plan.units] == ["csv"]
    assert quarantine == []
    assert len(docs) == 250
    assert [d["source_record"] for d in docs] == list(range(250))
    assert len({d["doc_id"] for d in docs}) == 250
    # Same records as pandas reads them (an independent CSV parser).
    frame = pd.read_csv(FAKENEWS, dtype=str, keep_default_na=False)
    assert [d["title"] for d in docs] == [t or None for t in frame["title"]]
    assert [d["text"] for d in docs] == [c.replace("\r\n", "\n") for c in frame["content"]]
    assert [d["url"] for d in docs] == [u or None for u in frame["url"]]
    first = docs[0]
    assert first["title"].startswith("Church Congregation Brings Gift to Waitresses")
    assert first["domain"] == "awm.com"
    assert first["authors"] == ["Ruth Harris"]
    extra = json.loads(first["extra"])
    assert extra["id"] == frame["id"][0]
    assert extra["type"] == "unreliable"
    assert "title" not in extra and "content" not in extra and "url" not in extra
    extras = [json.loads(d["extra"]) for d in docs]
    assert [e.get("id") for e in extras] == list(frame["id"])
    assert [e.get("type") for e in extras] == [t or None for t in frame["type"]]
    assert [e.get("_unnamed") for e in extras] == [str(i) for i in range(250)]


def test_csv_broken_quoting_costs_one_record(raw: Path) -> None:
    write(
        raw,
        "unterminated.csv",
        b'title,content\nA,body a\nB,"unterminated body\nC,body c\nD,body d\n',
    )
    write(
        raw,
        "stray.csv",
        b'title,content\nA,body a\nB,"bad"x\nC,"body, c"\nD,"multi\nline"\nE,"x"y\nF,ok\n',
    )
    _, docs, quarantine, _ = ingest(raw)
    docs_by, bad_by = by_file(docs), by_file(quarantine)
    assert [(d["source_record"], d["title"], d["text"]) for d in docs_by["unterminated.csv"]] == [
        (0, "A", "body a"),
        (2, "C", "body c"),
        (3, "D", "body d"),
    ]
    [row] = bad_by["unterminated.csv"]
    assert row["source_record"] == 1
    assert "broken CSV quoting in line 3" in row["reason"]
    assert [(d["source_record"], d["title"], d["text"]) for d in docs_by["stray.csv"]] == [
        (0, "A", "body a"),
        (2, "C", "body, c"),
        (3, "D", "multi\nline"),
        (5, "F", "ok"),
    ]
    assert [(q["source_record"], q["reason"].split(":")[0]) for q in bad_by["stray.csv"]] == [
        (1, "broken CSV quoting in line 3"),
        (4, "broken CSV quoting in line 7"),
    ]


def test_csv_bad_rows_quarantined_rest_read(raw: Path) -> None:
    write(
        raw,
        "mixed.csv",
        b"title,content,link\n"
        b"A,body a,http://a.com\n"
        b"B,too few fields\n"
        b"C,,http://c.com\n"
        b"D,   ,http://d.com\n"
        b"E,one,two,three\n"
        b"F,bad \x81\x8d bytes \xc3\x28,http://f.com\n"
        b"G,body g,http://g.com\n",
    )
    _, docs, quarantine, _ = ingest(raw)
    assert [(d["source_record"], d["title"]) for d in docs] == [(0, "A"), (6, "G")]
    rows = {q["source_record"]: q["reason"] for q in quarantine}
    assert set(rows) == {1, 2, 3, 4, 5}
    assert rows[1] == "CSV record at line 3 has 2 fields, header has 3"
    assert rows[2] == rows[3] == "record has no body text"
    assert rows[4] == "CSV record at line 6 has 4 fields, header has 3"
    assert "undecodable cell" in rows[5]


def test_csv_cp1252_cell_in_utf8_file(raw: Path) -> None:
    write(
        raw,
        "enc.csv",
        b"title,content\n"
        + "Zürich,“Smart” quotes in UTF-8 — fine\n".encode()
        + b"Caf\xe9,He said \x93quoted\x94 caf\xe9\n"
        + "Ünï,plain again\n".encode(),
    )
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    assert [(d["title"], d["text"]) for d in docs] == [
        ("Zürich", "“Smart” quotes in UTF-8 — fine"),
        ("Café", "He said “quoted” café"),
        ("Ünï", "plain again"),
    ]
    assert not any("\ufffd" in d["text"] or "\ufffd" in d["title"] for d in docs)


def test_csv_embedded_newlines_bom_and_blank_lines(raw: Path) -> None:
    lines = reference_lines()
    assert '"' in lines[2]

    def q(s: str) -> str:
        return s.replace('"', '""')

    write(
        raw,
        "multi.csv",
        codecs.BOM_UTF8
        + b"title,content\r\n"
        + f'"{q(lines[0])}","{q(lines[1])}\r\n\r\n{q(lines[2])}\r\nlast, ""q"""\r\n'.encode()
        + b"\r\n"  # blank line: not a record, not quarantined
        + b'Second,"a\nb"\r\n'
        + b"\r\n\r\n",
    )
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    first, second = docs
    assert first["title"] == lines[0]
    assert first["text"] == f'{lines[1]}\n\n{lines[2]}\nlast, "q"'
    assert first["extra"] is None  # the BOM did not turn the header into "\ufefftitle"
    assert (second["title"], second["text"]) == ("Second", "a\nb")


def test_csv_empty_and_binary(raw: Path) -> None:
    write(raw, "empty.csv", b"")
    write(raw, "binary.csv", b"title,content\n" + gzip.compress(REFERENCE.read_bytes()))
    write(raw, "ok.csv", b"title,content\nT,body\n")
    _, docs, quarantine, _ = ingest(raw)
    assert [d["source_file"] for d in docs] == ["ok.csv"]
    reasons = {q["source_file"]: q["reason"] for q in quarantine}
    assert reasons["empty.csv"] == "empty file" and len(reasons) == 2
    assert reasons["binary.csv"].startswith("binary data (") and reasons["binary.csv"].endswith(
        "not CSV"
    )


# --------------------------------------------------------------------------- JSONL


def test_jsonl_good_bad_non_object_and_blank_lines(raw: Path) -> None:
    lines = reference_lines()
    content = [
        json.dumps({"title": lines[0], "text": lines[1], "url": "https://www.express.co.uk/a"}),
        "",
        '{"title": "broken", "text": ',
        json.dumps(["not", "an", "object"]),
        "   ",
        json.dumps({"headline": "H", "body": lines[2], "byline": "A; B", "pubdate": 1577836800}),
        "42",
        json.dumps({"title": "no body"}),
        json.dumps({"title": "ms epoch", "text": lines[3], "date": 1577836800123}),
    ]
    write(raw, "a.jsonl", "\n".join(content) + "\n")
    _, docs, quarantine, _ = ingest(raw)
    assert [d["source_record"] for d in docs] == [0, 5, 8]
    assert docs[0]["domain"] == "express.co.uk"
    assert (docs[1]["title"], docs[1]["text"], docs[1]["authors"]) == ("H", lines[2], ["A; B"])
    assert docs[1]["published_at"] == datetime(2020, 1, 1, tzinfo=UTC)
    assert docs[2]["published_at"] == datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    rows = {q["source_record"]: q["reason"] for q in quarantine}
    assert set(rows) == {2, 3, 6, 7}  # blank lines 1 and 4 are skipped silently
    assert rows[2].startswith("bad JSON line 3:")
    assert rows[3] == "JSON record is a list, not an object"
    assert rows[6] == "JSON record is a int, not an object"
    assert rows[7] == "record has no body text"


def test_jsonl_encodings_and_bad_bytes(raw: Path) -> None:
    write(
        raw,
        "enc.jsonl",
        codecs.BOM_UTF8
        + b'{"title": "bom", "text": "first"}\r\n'
        + b'{"title": "cp", "text": "caf\xe9 \x93q\x94"}\r\n'
        + b'{"title": "bad", "text": "\x81\x8d\x8f \xc3\x28"}\r\n'
        + b'{"title": "nul", "text": "a\x00b"}\n'
        + b'{"title": "last", "text": "ok"}',  # no trailing newline
    )
    _, docs, quarantine, _ = ingest(raw)
    assert [(d["source_record"], d["title"], d["text"]) for d in docs] == [
        (0, "bom", "first"),
        (1, "cp", "café “q”"),
        (3, "nul", "a\x00b"),  # a stray NUL is text: normalize removes it with an edit
        (4, "last", "ok"),
    ]
    rows = {q["source_record"]: q["reason"] for q in quarantine}
    assert set(rows) == {2}
    assert "bad JSON line 3" in rows[2] and "undecodable" in rows[2]


def test_jsonl_lines_decode_as_json_loads_does(raw: Path) -> None:
    """One shared lenient decoder reads every line (not ``json.loads`` per line): control
    characters inside strings still pass, and a stray BOM opening a later line keeps
    ``json.loads``'s own reason."""
    write(
        raw,
        "odd.jsonl",
        b'{"title": "tab", "text": "a\tb \x01 c"}\n'
        + codecs.BOM_UTF8
        + b'{"title": "bom inside", "text": "x"}\n'
        + b'  {"title": "spaces", "text": "kept"}  \n',
    )
    _, docs, quarantine, _ = ingest(raw)
    assert [(d["source_record"], d["text"]) for d in docs] == [(0, "a\tb \x01 c"), (2, "kept")]
    rows = {q["source_record"]: q["reason"] for q in quarantine}
    assert rows == {
        1: "bad JSON line 2: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
    }


def test_jsonl_lone_surrogate_and_odd_values_do_not_crash_the_unit(raw: Path) -> None:
    content = [
        json.dumps({"title": "a", "text": "ok one"}),
        '{"title": "b", "text": "half an emoji \\ud83d here"}',
        '{"title": "c \\udc00", "text": "bad title"}',
        json.dumps({"title": "d", "text": "huge epoch", "date": 10**17}),
        json.dumps({"title": "e", "text": "bool date", "date": True}),
        '{"title": "f", "text": "whole emoji \\ud83d\\ude00", "tags": {"k": [1, null]}}',
    ]
    write(raw, "s.jsonl", "\n".join(content))
    _, docs, quarantine, _ = ingest(raw)
    assert [d["title"] for d in docs] == ["a", "d", "e", "f"]
    assert docs[3]["text"] == "whole emoji 😀"
    assert json.loads(docs[3]["extra"]) == {"tags": {"k": [1, None]}}
    assert docs[1]["published_at"] is None
    assert json.loads(docs[1]["extra"]) == {"published_unparsed": str(10**17)}
    assert docs[2]["published_at"] is None
    rows = {q["source_record"]: q["reason"] for q in quarantine}
    assert set(rows) == {1, 2}
    assert "body" in rows[1] and "surrogate" in rows[1]
    assert "title" in rows[2] and "surrogate" in rows[2]


def test_empty_jsonl_is_quarantined(raw: Path) -> None:
    write(raw, "empty.jsonl", b"")
    write(raw, "ok.jsonl", json.dumps({"text": "body"}) + "\n")
    plan, docs, quarantine, _ = ingest(raw)
    assert sorted(u.files[0] for u in plan.units) == ["empty.jsonl", "ok.jsonl"]
    assert [d["source_file"] for d in docs] == ["ok.jsonl"]
    assert quarantine == [
        {"source_file": "empty.jsonl", "source_record": None, "reason": "empty file"}
    ]


def _jsonl_corpus(raw: Path) -> bytes:
    rng = random.Random(3)
    lines = reference_lines()
    out = [codecs.BOM_UTF8]
    for i in range(60):
        if i % 9 == 4:
            out.append(b"\n")
        elif i % 13 == 6:
            out.append(b'{"title": "broken", \r\n')
        elif i % 17 == 8:
            out.append(b"[1, 2]\n")
        else:
            text = " ".join(rng.sample(lines, rng.randint(1, 4)))
            rec = {"title": f"T{i}", "text": text, "n": i}
            out.append(json.dumps(rec, ensure_ascii=i % 2 == 0).encode() + b"\n")
    out.append(json.dumps({"title": "tail", "text": "no newline at end"}).encode())
    data = b"".join(out)
    write(raw, "big.jsonl", data)
    return data


@pytest.mark.parametrize("unit_bytes", [1, 7, 64, 500, 1999, 4096])
def test_jsonl_byte_range_units_match_single_unit(raw: Path, unit_bytes: int) -> None:
    data = _jsonl_corpus(raw)
    one_plan, one_docs, one_bad, _ = ingest(raw)
    assert len(one_plan.units) == 1
    plan, docs, bad, _ = ingest(raw, unit_bytes=unit_bytes)
    if unit_bytes < len(data) // 2:
        assert len(plan.units) > 1
    # Ranges tile the file exactly: contiguous, non-overlapping, line-aligned.
    ranges = [(u.start, u.stop, u.first_record) for u in plan.units]
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    for (_, stop, _), (start, _, first_record) in itertools.pairwise(ranges):
        assert stop == start
        assert data[start - 1 : start] == b"\n"
        assert first_record == data[:start].count(b"\n")
    assert docs == one_docs
    assert bad == one_bad
    # Every line accounted for exactly once (blank lines produce nothing).
    records = sorted([d["source_record"] for d in docs] + [q["source_record"] for q in bad])
    lines = data.split(b"\n")
    assert records == [i for i, line in enumerate(lines) if line.strip()]
    assert len({d["doc_id"] for d in docs}) == len(docs)
    assert [json.loads(d["extra"])["n"] for d in docs[:-1]] == [
        d["source_record"] for d in docs[:-1]
    ]


# --------------------------------------------------------------------------- .json


def test_json_shapes(raw: Path) -> None:
    lines = reference_lines()
    write(raw, "array.json", json.dumps([{"title": "a0", "text": lines[1]}, {"text": lines[2]}]))
    write(
        raw,
        "wrapped.json",
        json.dumps(
            {
                "source": "x",
                "articles": [
                    {"headline": "w0", "article_text": lines[3], "link": "https://b.example/1"},
                    "not an object",
                    {"headline": "w2", "article_text": lines[4]},
                ],
            },
            indent=2,
        ),
    )
    write(raw, "single.json", json.dumps({"title": "s", "maintext": lines[5], "lang": "en"}))
    write(raw, "lines.json", json.dumps({"text": "l0"}) + "\n" + json.dumps({"text": "l1"}))
    write(raw, "broken.json", b'{"title": "x", "text": ')
    write(raw, "empty.json", b"  \n")
    write(raw, "u16.json", json.dumps({"title": "Zürich", "text": "ü"}).encode("utf-16"))
    _, docs, quarantine, _ = ingest(raw)
    got = {(d["source_file"], d["source_record"]): d for d in docs}
    assert sorted(got) == [
        ("array.json", 0),
        ("array.json", 1),
        ("lines.json", 0),
        ("lines.json", 1),
        ("single.json", 0),
        ("u16.json", 0),
        ("wrapped.json", 0),
        ("wrapped.json", 2),
    ]
    assert (got["array.json", 0]["title"], got["array.json", 0]["text"]) == ("a0", lines[1])
    assert got["array.json", 1]["title"] is None
    assert got["wrapped.json", 0]["title"] == "w0"
    assert got["wrapped.json", 0]["domain"] == "b.example"
    assert got["wrapped.json", 2]["text"] == lines[4]
    assert json.loads(got["single.json", 0]["extra"]) == {"lang": "en"}
    assert got["single.json", 0]["text"] == lines[5]
    assert got["u16.json", 0]["title"] == "Zürich"
    rows = {(q["source_file"], q["source_record"]): q["reason"] for q in quarantine}
    assert rows.keys() == {("wrapped.json", 1), ("broken.json", None), ("empty.json", None)}
    assert rows["wrapped.json", 1] == "JSON record is a str, not an object"
    assert rows["broken.json", None].startswith("bad JSON")
    assert rows["empty.json", None] == "empty file"


# --------------------------------------------------------------------------- Parquet


def _parquet_table(n: int, odd_types: bool = False) -> pa.Table:
    """``odd_types`` adds extra columns json cannot encode natively (date32, decimal)."""
    lines = reference_lines()
    odd = {
        "crawl_date": pa.array([date(2021, 1, 1 + i % 28) for i in range(n)], pa.date32()),
        "price": pa.array([Decimal("1.50")] * n, pa.decimal128(5, 2)),
    }
    return pa.table(
        {
            "headline": [f"H{i}" for i in range(n)],
            "body": [f"{lines[i % len(lines)]} ({i})" for i in range(n)],
            "link": [f"https://www.site{i % 3}.com/a/{i}" for i in range(n)],
            "byline": [["Ann Lee", "Bo Chan"] if i % 2 else [] for i in range(n)],
            "pubdate": pa.array(
                [datetime(2020, 1, 1, i % 24, tzinfo=UTC) for i in range(n)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "score": list(range(n)),
            **(odd if odd_types else {}),
        }
    )


def test_parquet_aliases(raw: Path) -> None:
    pq.write_table(_parquet_table(5, odd_types=True), raw / "a.parquet")
    plan, docs, quarantine, _ = ingest(raw)
    assert [u.kind for u in plan.units] == ["parquet"]
    assert quarantine == []
    assert [d["title"] for d in docs] == ["H0", "H1", "H2", "H3", "H4"]
    second = docs[1]
    assert second["text"] == f"{reference_lines()[1]} (1)"
    assert second["url"] == "https://www.site1.com/a/1"
    assert second["domain"] == "site1.com"
    assert second["authors"] == ["Ann Lee", "Bo Chan"]
    assert docs[0]["authors"] == []
    assert second["published_at"] == datetime(2020, 1, 1, 1, tzinfo=UTC)
    assert json.loads(second["extra"]) == {"crawl_date": "2021-01-02", "price": "1.50", "score": 1}


def test_truncated_parquet_quarantined(raw: Path) -> None:
    pq.write_table(_parquet_table(40), raw / "cut.parquet")
    data = (raw / "cut.parquet").read_bytes()
    (raw / "cut.parquet").write_bytes(data[: len(data) // 2])
    pq.write_table(_parquet_table(3), raw / "ok.parquet")
    write(raw, "garbage.pq", b"PAR1 this is not parquet at all")
    _, docs, quarantine, _ = ingest(raw)
    assert {d["source_file"] for d in docs} == {"ok.parquet"}
    assert len(docs) == 3
    rows = {q["source_file"]: q for q in quarantine}
    assert set(rows) == {"cut.parquet", "garbage.pq"}
    for row in rows.values():
        assert row["source_record"] is None
        assert "truncated or corrupt" in row["reason"]


def test_parquet_row_groups_split_into_units(raw: Path) -> None:
    table = _parquet_table(45)
    pq.write_table(table, raw / "groups.parquet", row_group_size=10)
    one_plan, one_docs, _, _ = ingest(raw)
    assert len(one_plan.units) == 1
    plan, docs, quarantine, sizes = ingest(raw, unit_bytes=1, batch_size=4)
    assert quarantine == []
    assert [(u.start, u.stop, u.first_record) for u in plan.units] == [
        (0, 1, 0),
        (1, 2, 10),
        (2, 3, 20),
        (3, 4, 30),
        (4, 5, 40),
    ]
    assert [d["source_record"] for d in docs] == list(range(45))
    assert [d["title"] for d in docs] == table["headline"].to_pylist()
    assert docs == one_docs
    assert max(sizes) <= 4


# --------------------------------------------------------------------------- ids, batches


def test_doc_id_deterministic_and_distinct(raw: Path) -> None:
    assert make_doc_id("a.jsonl", 3) == make_doc_id("a.jsonl", 3)
    assert make_doc_id("a.jsonl", 3) != make_doc_id("a.jsonl", 4)
    assert make_doc_id("a.jsonl", 3) != make_doc_id("b.jsonl", 3)
    assert make_doc_id("a.jsonl", 13) != make_doc_id("a.jsonl1", 3)
    write(raw, "a.jsonl", "\n".join(json.dumps({"text": f"body {i}"}) for i in range(20)))
    write(raw, "x/one.txt", "T\n\nbody\n")
    write(raw, "y/one.txt", "T\n\nbody\n")
    _, first, _, _ = ingest(raw)
    _, again, _, _ = ingest(raw, batch_size=3)
    assert [d["doc_id"] for d in first] == [d["doc_id"] for d in again]
    assert len({d["doc_id"] for d in first}) == len(first) == 22
    assert all(d["doc_id"] == make_doc_id(d["source_file"], d["source_record"]) for d in first)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt", "parquet"])
def test_batch_size_respected(raw: Path, fmt: str) -> None:
    n = 23
    if fmt == "jsonl":
        write(raw, "a.jsonl", "".join(json.dumps({"text": f"b{i}"}) + "\n" for i in range(n)))
    elif fmt == "csv":
        write(raw, "a.csv", "text\n" + "".join(f"b{i}\n" for i in range(n)))
    elif fmt == "txt":
        for i in range(n):
            write(raw, f"{i:02d}.txt", f"T{i}\n\nb{i}\n")
    else:
        pq.write_table(pa.table({"text": [f"b{i}" for i in range(n)]}), raw / "a.parquet")
    plan, docs, _, sizes = ingest(raw, batch_size=5)
    assert len(docs) == n
    assert sorted(d["text"].strip() for d in docs) == sorted(f"b{i}" for i in range(n))
    assert all(size <= 5 for size in sizes)
    assert sum(sizes) == n
    if fmt == "txt":  # txt files are grouped at most batch_size per unit
        assert [len(u.files) for u in plan.units] == [5, 5, 5, 5, 3]
    else:
        assert sizes == [5, 5, 5, 5, 3]


def test_batch_builder_flush_resets() -> None:
    builder = BatchBuilder(batch_size=2)
    builder.add("f", 0, title="t", text="body", published="2020-01-01")
    builder.add("f", 1, title=None, text="   ")
    assert len(builder) == 1 and not builder.full()
    docs, bad = builder.flush()
    assert docs.num_rows == 1 and bad.to_pylist() == [
        {"source_file": "f", "source_record": 1, "reason": "record has no body text"}
    ]
    assert docs["published_at"].to_pylist() == [datetime(2020, 1, 1, tzinfo=UTC)]
    assert len(builder) == 0 and builder.quarantine == []
    docs, bad = builder.flush()
    assert docs.num_rows == 0 and bad.num_rows == 0


def test_parse_timestamp_edges() -> None:
    assert parse_timestamp("2020-01-02T03:04:05+02:00") == datetime(2020, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert parse_timestamp(1577836800) == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_timestamp(1577836800123.0) == datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    for bad in [None, "", "garbage", float("nan"), float("inf"), 10**17, -(10**20), True, 1e300]:
        assert parse_timestamp(bad) is None, bad


# --------------------------------------------------------------------------- giant line


def test_giant_single_line_bodies(raw: Path) -> None:
    body = ("word " * 1_000_000).strip() + "!"
    assert len(body) > 4_900_000
    write(raw, "g.txt", f"Giant\n\n{body}")
    write(raw, "g.jsonl", json.dumps({"title": "Giant", "text": body}) + "\n")
    write(raw, "g.csv", f"title,text\nGiant,{body}\n")
    write(raw, "g.json", json.dumps([{"title": "Giant", "text": body}]))
    _, docs, quarantine, _ = ingest(raw)
    assert quarantine == []
    assert sorted(d["source_file"] for d in docs) == ["g.csv", "g.json", "g.jsonl", "g.txt"]
    for doc in docs:
        assert doc["title"] == "Giant"
        assert doc["text"] == body
        assert doc["raw_bytes"] == len(body)


# --------------------------------------------------------------------------- read-only


def _snapshot(root: Path) -> dict[str, tuple[str, int, int, int] | str]:
    out: dict[str, tuple[str, int, int, int] | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            out[rel] = "dir"
            continue
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[rel] = (digest, st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_raw_folder_is_never_modified(raw: Path) -> None:
    shutil.copytree(RAW, raw, dirs_exist_ok=True)
    _jsonl_corpus(raw)
    pq.write_table(_parquet_table(30), raw / "p.parquet", row_group_size=7)
    cut = (raw / "p.parquet").read_bytes()
    write(raw, "cut.parquet", cut[: len(cut) // 2])
    write(raw, "bad.csv", b'title,content\nA,"open\nB,b\n')
    write(raw, "cp.txt", b"T\n\ncaf\xe9\r\n")
    write(raw, "empty.txt", b"")
    write(raw, "empty.jsonl", b"")
    write(raw, "junk.txt", b"\x00\x01\x02" * 50)
    write(raw, "image.png", b"\x89PNG\r\n")
    write(raw, ".hidden", b"x")
    old = 1_000_000_000
    for path in raw.rglob("*"):
        os.utime(path, ns=(old * 10**9, old * 10**9))
    before = _snapshot(raw)
    plan, docs, quarantine, _ = ingest(raw, batch_size=50, unit_bytes=2000)
    assert len(plan.units) > 5 and len(docs) > 250 and quarantine
    assert _snapshot(raw) == before


def test_shipped_raw_data_untouched() -> None:
    before = _snapshot(RAW)
    plan, docs, quarantine, _ = ingest(RAW)
    assert plan.ignored == ["fakenewscorpus/LICENSE"]
    assert plan.unsupported == []
    assert len(docs) == 251 and quarantine == []
    assert _snapshot(RAW) == before


def test_stray_cp1252_line_in_utf8_file_leaves_other_lines_utf8() -> None:
    data = "Café headline\n\nA “quoted” line in UTF-8.\n".encode() + b"A \x93cp1252\x94 line.\n"
    text = decode_bytes(data)
    assert text == "Café headline\n\nA “quoted” line in UTF-8.\nA “cp1252” line.\n"


@pytest.mark.parametrize("word", ["now", "Today", " yesterday "])
def test_relative_dates_are_not_the_run_time(word: str) -> None:
    """pandas reads "now" as the current time: that would make runs non-deterministic."""
    assert parse_timestamp(word) is None


def test_oversized_json_document_is_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsclean.tasks.storage.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "MAX_JSON_DOCUMENT_BYTES", 100)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "big.json").write_text(json.dumps([{"title": "t", "text": "body " * 50}]))
    (unit,) = plan_units(raw).units
    ((docs, quarantine),) = list(read_unit(raw, unit))
    assert docs.num_rows == 0
    assert "write it as JSON Lines" in quarantine.column("reason")[0].as_py()
