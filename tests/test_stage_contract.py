"""The stage contract: a stage declares what it reads, writes and adds, the runner holds it to
that, and a new stage reaches the output through the chain declaration alone.

``ShoutingHeadlines`` is the example of docs/architecture.md ("adding a stage"), verbatim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.pipeline.chain import CHAIN
from newsclean.tasks.pipeline.runner import ContractError, Runner, check_stages
from newsclean.tasks.pipeline.state import RunParams
from newsclean.tasks.pipeline.steps import run_inline, validate_chain
from newsclean.tasks.schema import DOC_SCHEMA
from newsclean.tasks.stages import BatchContext, EditLog, Stage, StageResult
from newsclean.tasks.stages.base import register, registered, resolve
from newsclean.tasks.stages.normalize import NormalizeStage
from tests.helpers import make_batch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _docs_example() -> str:
    """The code block of docs/architecture.md's "Adding a stage": the test runs exactly it."""
    section = DOCS.read_text(encoding="utf-8").split("## Adding a stage", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


_example: dict = {}
exec(compile(_docs_example(), str(DOCS), "exec"), _example)  # registers "shouting-headlines"
ShoutingHeadlines = _example["ShoutingHeadlines"]


def _write_feed(raw: Path) -> None:
    raw.mkdir(parents=True)
    rows = [
        {"title": "MINISTER RESIGNS OVER EXPENSES", "text": "The minister resigned on Monday."},
        {"title": "Markets rise in Asia", "text": "Shares rose in Tokyo and Hong Kong."},
    ]
    (raw / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _chain_with(reference: str) -> dict[str, list[str]]:
    clean = list(CHAIN.step("clean-unit").stages)
    clean.insert(clean.index("derive"), reference)
    return {"clean-unit": clean}


@pytest.mark.process
@pytest.mark.parametrize(
    ("reference", "workers"),
    [("shouting-headlines", 1), (f"{__name__}:ShoutingHeadlines", 2)],
    ids=["registered-name", "import-path-in-worker-processes"],
)
def test_a_stage_added_to_the_chain_reaches_articles_and_edits(
    tmp_path: Path, reference: str, workers: int
) -> None:
    """The docs' example, named in the chain declaration and nowhere else (by its registered
    name, or by a ``module:Class`` reference that worker processes import too): its column
    and its edits are in the published output."""
    raw, out = tmp_path / "raw", tmp_path / "clean"
    _write_feed(raw)
    state = run_inline(
        raw_dir=str(raw),
        out_dir=str(out),
        typos=False,
        workers=workers,
        stages=_chain_with(reference),
    )
    articles = pd.read_parquet(out / "articles").set_index("source_record")
    assert articles.loc[0, "title"] == "Minister Resigns Over Expenses"
    assert list(articles["title_was_shouting"]) == [True, False]
    assert list(articles.columns)[-1] == "title_was_shouting"  # after the fixed columns
    edits = pd.read_parquet(out / "edits")
    row = edits[edits["stage"] == "shouting-headlines"].iloc[0]
    assert (row["rule"], row["field"], row["start"], row["end"]) == (
        "headline.shouting/1",
        "title",
        0,
        len("MINISTER RESIGNS OVER EXPENSES"),
    )
    assert articles.loc[0, "n_edits"] == (edits["doc_id"] == row["doc_id"]).sum()
    assert state.summary["stages"]["shouting-headlines"]["edits"] == 1
    chain = state.summary["versions"]["chain"]["clean-unit"]
    assert "shouting-headlines/1" in chain


@pytest.mark.unit
def test_stage_references_resolve_by_name_version_or_path() -> None:
    assert resolve("normalize") is NormalizeStage
    assert resolve("normalize/1") is NormalizeStage
    assert resolve(f"{__name__}:ShoutingHeadlines") is ShoutingHeadlines
    with pytest.raises(KeyError, match=r"known: .*boilerplate"):
        resolve("normalise")
    with pytest.raises(KeyError, match="no version 9"):
        resolve("normalize/9")
    assert set(registered()) >= {"normalize", "spacing", "boilerplate", "typos", "sketch"}


@pytest.mark.unit
def test_an_older_stage_version_stays_runnable() -> None:
    class OldNormalize(NormalizeStage):
        version = 0

    register(OldNormalize)
    assert resolve("normalize") is NormalizeStage  # the newest
    assert resolve("normalize/0") is OldNormalize


class _Writes(Stage):
    name, version = "t-writes", 1
    reads = ("doc_id", "text")

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        return StageResult(
            batch.append_column("secret", pa.array([1] * batch.num_rows)),
            EditLog(self.name).to_table(),
        )


class _Changes(Stage):
    name, version = "t-changes", 1
    reads = ("doc_id", "title")

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        index = batch.schema.get_field_index("title")
        titles = pa.array(["x"] * batch.num_rows, pa.string())
        return StageResult(batch.set_column(index, "title", titles), EditLog(self.name).to_table())


class _Silent(Stage):
    name, version = "t-silent", 1
    reads = ("doc_id", "text")
    writes = ("text",)

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        index = batch.schema.get_field_index("text")
        texts = pa.array([t.upper() for t in batch.column("text").to_pylist()])
        return StageResult(batch.set_column(index, "text", texts), EditLog(self.name).to_table())


class _ReadsNothingThere(Stage):
    name, version = "t-reads", 1
    reads = ("doc_id", "sentiment")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("stage", "message"),
    [
        (_Writes(), "wrote columns it does not declare: \\['secret'\\]"),
        (_Changes(), "changed column 'title'"),
        (_Silent(), "changed the text of .* without an edit row"),
    ],
)
def test_a_stage_breaking_its_declaration_fails_loudly(stage: Stage, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        Runner([stage], DOC_SCHEMA).run(make_batch("Some text.", titles=["A title"]))


@pytest.mark.unit
def test_declarations_are_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="t-reads/1 reads or writes \\['sentiment'\\]"):
        check_stages([_ReadsNothingThere()], DOC_SCHEMA)
    params = RunParams(
        raw_dir=str(tmp_path),
        out_dir=str(tmp_path / "clean"),
        stages={"clean-unit": ("normalize", f"{__name__}:_ReadsNothingThere")},
    )
    with pytest.raises(ContractError):
        validate_chain(params.chain(), params, params.near_dup())
    with pytest.raises(ContractError):
        run_inline(params)
    assert not (tmp_path / "clean").exists()  # refused before the output folder was touched
    with pytest.raises(KeyError, match="no step 'clean'"):
        RunParams(stages={"clean": ("normalize",)}).chain()


@pytest.mark.unit
def test_the_shipped_chain_is_valid_and_publishes_the_fixed_columns() -> None:
    params = RunParams()
    schema = validate_chain(params.chain(), params, params.near_dup())
    from newsclean.tasks.schema import ARTICLE_SCHEMA

    assert schema.equals(ARTICLE_SCHEMA)


@pytest.mark.unit
def test_runner_counts_every_stage_and_drops_empty_documents_to_quarantine() -> None:
    from tests.helpers import clean_batch

    out = clean_batch(make_batch("GETTY", "A real sentence that stays.", titles=["t", "u"]))
    assert out.docs.num_rows == 1 and out.quarantine.num_rows == 1
    assert out.quarantine.column("reason")[0].as_py().startswith("no text left")
    stats = out.stats
    assert list(stats) == list(CHAIN.step("clean-unit").stages)
    assert stats["boilerplate"].edits == 1 and stats["boilerplate"].changed == 1
    assert stats["drop-empty"].dropped == 1 and stats["derive"].docs == 1
    assert out.docs.column("n_edits").to_pylist() == [0]


@pytest.mark.unit
def test_staged_files_are_written_by_the_runner_schema(tmp_path: Path) -> None:
    """What a pass stages has exactly the columns its declarations produce."""
    from tests.helpers import clean_batch

    out = clean_batch(make_batch("One sentence.", titles=["t"]))
    pq.write_table(out.docs, tmp_path / "docs.parquet")
    names = pq.read_schema(tmp_path / "docs.parquet").names
    assert names[: len(DOC_SCHEMA)] == DOC_SCHEMA.names
    assert names[len(DOC_SCHEMA) :] == [
        "n_edits",
        "language",
        "language_score",
        "english_spelling",
        "content_hash",
        "word_count",
        "text_chars",
        "url_canonical",
        "author_orgs",
        "published_inferred",
        "page_kind",
        "page_kind_reason",
    ]


@pytest.mark.unit
def test_replace_rows_sets_only_the_given_rows_of_a_chunked_column() -> None:
    """Stages that change a few documents hand only those back to Arrow."""
    import numpy as np

    from newsclean.tasks.schema import replace_rows

    batch = pa.concat_tables([make_batch("one", "two"), make_batch("three", "four")])
    assert batch.column("text").num_chunks == 2
    out = replace_rows(batch, "text", np.array([1, 2]), ["TWO", "THREE"])
    assert out.column("text").to_pylist() == ["one", "TWO", "THREE", "four"]
    assert out.schema.equals(batch.schema)
    assert out.drop_columns(["text"]).equals(batch.drop_columns(["text"]))
    assert replace_rows(batch, "text", np.array([], np.int64), []) is batch
