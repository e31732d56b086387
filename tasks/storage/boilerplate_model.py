"""Files of the learned-boilerplate model: ``<out>/boilerplate/``.

* ``model.parquet``: per publisher and line (hash), its words, distinct stories, first and last
  run seen, an example and whether it is learned; rows of publisher ``*`` are lines counted
  across publishers, with the number of ``publishers`` printing them as their own repeated
  line; ``publishers.parquet``: stories per publisher. Both carry the model version in their
  metadata; the next version is staged by the ``learn-boilerplate`` step and committed with
  the data it cleaned.
* ``allow.txt`` / ``deny.txt``: lines users protect or force, ``text`` or ``domain | text``.

What the lines mean and how they are learned is the stage layer's
(:mod:`newsclean.tasks.stages.learned`); this module only reads and writes the files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from newsclean.tasks.schema import ANY_PUBLISHER

MODEL_DIR = "boilerplate"
MODEL = "model.parquet"
PUBLISHERS = "publishers.parquet"
ALLOW, DENY = "allow.txt", "deny.txt"
VERSION_KEY = b"newsclean.boilerplate_version"

MODEL_SCHEMA = pa.schema(
    [
        pa.field("publisher", pa.string()),
        pa.field("line_hash", pa.uint64()),
        pa.field("words", pa.int32()),
        pa.field("stories", pa.int64()),
        pa.field("first_seen", pa.string()),
        pa.field("last_seen", pa.string()),
        pa.field("example", pa.string()),
        pa.field("learned", pa.bool_()),
        # rows of publisher "*" only (learned.corpus-line): publishers repeating the line
        pa.field("publishers", pa.int32()),
    ]
)
PUBLISHER_SCHEMA = pa.schema([pa.field("publisher", pa.string()), pa.field("stories", pa.int64())])
#: The staged learned set: one 64-bit (publisher, line) key per learned or deny-listed line.
LEARNED_SET_SCHEMA = pa.schema([pa.field("key", pa.uint64())])


def model_version(path: Path) -> int:
    """The model version a model, publisher or learned-set file was written with (0: none)."""
    return int((pq.read_schema(path).metadata or {}).get(VERSION_KEY, b"0"))


def read_model(out: Path) -> tuple[pa.Table, pa.Table, int]:
    """The last committed model, its stories per publisher and its version (0: none)."""
    folder = out / MODEL_DIR
    if not (folder / MODEL).exists():
        return MODEL_SCHEMA.empty_table(), PUBLISHER_SCHEMA.empty_table(), 0
    model = pq.ParquetFile(folder / MODEL).read()
    for name in MODEL_SCHEMA.names:  # a model written before a column existed: null there
        if name not in model.column_names:
            kind = MODEL_SCHEMA.field(name).type
            model = model.append_column(name, pa.nulls(model.num_rows, kind))
    model = model.select(MODEL_SCHEMA.names).cast(MODEL_SCHEMA)
    publishers = pq.ParquetFile(folder / PUBLISHERS).read().cast(PUBLISHER_SCHEMA)
    return model, publishers, model_version(folder / MODEL)


def read_list(path: Path) -> list[tuple[str, str]]:
    """``(publisher, line)`` entries of an allow/deny file: ``line`` (every publisher:
    :data:`ANY_PUBLISHER`) or ``domain | line``; ``#`` starts a comment line."""
    if not path.exists():
        return []
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        publisher, sep, text = line.partition(" | ")
        entries.append((publisher.strip(), text.strip()) if sep else (ANY_PUBLISHER, line))
    return entries


def read_lists(out: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The allow and deny entries of a dataset."""
    folder = out / MODEL_DIR
    return read_list(folder / ALLOW), read_list(folder / DENY)


def ensure_list_files(out: Path) -> None:
    """Create commented, empty allow/deny files so that users find where to steer."""
    folder = out / MODEL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    notes = {
        ALLOW: "Lines never removed as learned boilerplate (a recurring quote, a legal clause).",
        DENY: "Lines always removed as boilerplate, learned or not.",
    }
    for name, purpose in notes.items():
        path = folder / name
        if not path.exists():
            path.write_text(
                f"# {purpose}\n# One per line: `text` (every publisher) or `domain | text`.\n"
                "# Case, digits and spacing do not matter.\n",
                encoding="utf-8",
            )
