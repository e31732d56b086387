"""Incremental, crash-safe, one-writer runs (the flow's steps as plain functions; the kill
test runs them in a real child process and SIGKILLs it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsclean.tasks.schema import SCHEMA_VERSION
from newsclean.tasks.storage import journal, run_state
from tests.helpers import FAKENEWS, REFERENCE, ROOT, run_steps

STABLE = ["doc_id", "title", "text", "url", "domain", "content_hash", "dup_cluster", "n_edits"]


def fakenews_slices(folder: Path, parts: int, rows: int = 250) -> list[Path]:
    """The FakeNewsCorpus sample cut into ``parts`` CSV files (real text, real copies)."""
    corpus = pd.read_csv(FAKENEWS).head(rows)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(parts):
        path = folder / f"slice-{i}.csv"
        corpus.iloc[i::parts].to_csv(path, index=False)
        paths.append(path)
    return paths


def dataset(out: Path) -> dict[str, pd.DataFrame]:
    """Every table, sorted, without the columns that name the run."""
    tables = {}
    for name, key in [
        ("articles", ["doc_id"]),
        ("duplicates", ["doc_id"]),
        ("quarantine", ["source_file", "source_record"]),
        ("edits", ["doc_id", "stage", "rule", "before", "after"]),
        ("dedup_index", ["doc_id"]),
    ]:
        frame = pd.read_parquet(out / name)
        frame = frame.drop(columns=[c for c in ("run_id", "ingested_at") if c in frame])
        tables[name] = frame.sort_values(key).reset_index(drop=True)
    return tables


def assert_same_dataset(left: Path, right: Path) -> None:
    a, b = dataset(left), dataset(right)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_like=True, obj=name)


@pytest.mark.unit
def test_second_run_processes_only_the_new_files(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    first_files = fakenews_slices(raw, 3)
    first = run_steps(raw, out)
    assert first["files"]["new"] == 3 and first["documents"] == sum(
        len(pd.read_csv(p)) for p in first_files
    )
    extra = tmp_path / "more"
    (raw / "day2").mkdir()
    for i, path in enumerate(fakenews_slices(extra, 2, rows=60)):
        path.rename(raw / "day2" / f"new-{i}.csv")  # copies of stories already published
    second = run_steps(raw, out)
    assert second["files"] == {"new": 2, "changed": 0, "unchanged": 3, "reprocessed_for_lineage": 0}
    assert second["documents"] == 60  # only the new files were read
    # Every story was already in the dataset. The copies win the keep policy's last tie
    # (same length, no date; "day2/…" sorts before "slice-…"), so they supersede the old rows:
    # the dataset does not grow, the old rows move to duplicates.
    assert second["exact_duplicates"] == 60 and second["superseded"] == 60
    assert len(pd.read_parquet(out / "articles")) == first["articles"]
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert sorted(manifest["path"]) == [
        "day2/new-0.csv",
        "day2/new-1.csv",
        *(p.name for p in first_files),
    ]
    assert manifest.groupby("run_id").size().to_dict() == {first["run_id"]: 3, second["run_id"]: 2}
    # Two runs give the same dataset as one run over everything.
    one = tmp_path / "one"
    run_steps(raw, one)
    assert sorted(pd.read_parquet(out / "articles")["content_hash"]) == sorted(
        pd.read_parquet(one / "articles")["content_hash"]
    )


@pytest.mark.unit
def test_touched_file_is_not_reprocessed_and_full_reprocesses(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    paths = fakenews_slices(raw, 2, rows=40)
    run_steps(raw, out)
    before = dataset(out)
    os.utime(paths[0], ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes, new mtime
    touched = run_steps(raw, out)
    assert touched["files"]["unchanged"] == 2 and touched["documents"] == 0
    full = run_steps(raw, out, full=True)
    assert full["files"]["changed"] == 2 and full["documents"] == 40
    after = dataset(out)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], check_like=True, obj=name)


@pytest.mark.unit
def test_scan_classifies_files_in_path_order_with_each_file_hash(tmp_path: Path) -> None:
    """The scan hashes files on threads; its lists and manifest rows stay in path order and
    each row holds its own file's hash (not a neighbour's)."""
    from newsclean.tasks.storage import manifest

    raw, out = tmp_path / "raw", tmp_path / "clean"
    names = ["a.txt", "a-b.txt", "b/c.txt", "b/d.txt", "e.txt", "f.txt"]
    for k, name in enumerate(names):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text(f"Headline {k}\n\nBody {k} " * (k + 1), encoding="utf-8")
    first = manifest.scan(raw, out)
    assert first.new == [manifest.relative(p, raw) for p in sorted(raw / n for n in names)]
    assert [r["content_hash"] for r in first.rows] == [
        manifest.file_hash(raw / r["path"]) for r in first.rows
    ]
    rows = pa.Table.from_pylist(
        [{**r, "run_id": "run-1"} for r in first.rows], schema=manifest.MANIFEST_SCHEMA
    )
    out.mkdir()
    pq.write_table(rows, out / manifest.MANIFEST)
    (raw / "b/c.txt").write_text("Headline changed\n\nNew body", encoding="utf-8")
    os.utime(raw / "e.txt", ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes
    second = manifest.scan(raw, out)
    assert second.changed == ["b/c.txt"]
    assert second.unchanged == [n for n in first.new if n != "b/c.txt"]
    assert [r["path"] for r in second.rows] == ["b/c.txt", "e.txt"]
    assert [r.get("run_id") for r in second.rows] == [None, "run-1"]


@pytest.mark.unit
def test_changed_file_supersedes_its_rows_and_their_lineage(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    corpus = pd.read_csv(FAKENEWS).head(40)
    raw.mkdir()
    corpus.iloc[:20].to_csv(raw / "a.csv", index=False)
    pd.concat([corpus.iloc[20:40], corpus.iloc[:3]]).to_csv(raw / "b.csv", index=False)
    run_steps(raw, out)  # b.csv's copies of a.csv's first stories point into a.csv
    corpus.iloc[5:20].to_csv(raw / "a.csv", index=False)  # a.csv lost its first 5 stories
    changed = run_steps(raw, out)
    assert changed["files"]["changed"] == 1 and changed["files"]["reprocessed_for_lineage"] == 1
    reference = tmp_path / "reference"
    run_steps(raw, reference)
    assert_same_dataset(out, reference)


@pytest.mark.unit
def test_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "clean"
    fakenews_slices(raw, 1, rows=5)
    holder = run_state.start_run(str(raw), str(out))
    try:
        with pytest.raises(run_state.OutputBusy, match="another newsclean run is writing"):
            run_steps(raw, out)
        started = time.monotonic()
        with pytest.raises(run_state.OutputBusy):
            run_steps(raw, out, lock_wait=0.6)
        assert time.monotonic() - started >= 0.6
    finally:
        run_state.release(holder)
    assert run_steps(raw, out)["files"]["new"] == 1


CHILD = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from tests.helpers import run_steps
run_steps(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _kill_when(raw: Path, out: Path, ready: callable, timeout: float = 60) -> bool:
    """Start a run in a child process and SIGKILL it as soon as ``ready(out)`` holds;
    returns whether it was killed (False: the run finished first)."""
    code = CHILD.format(root=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", code, str(raw), str(out)])
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        if ready(out):
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            return True
        time.sleep(0.002)
    child.wait()
    return False


def _temp_files(out: Path) -> bool:
    return any(out.glob("articles/.*.tmp")) or any(out.glob("edits/.*.tmp"))


def _staged(out: Path) -> bool:
    return any(out.glob("_staging/*/docs/*.parquet"))


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.parametrize("moment", [_staged, _temp_files])
def test_sigkill_then_rerun_gives_the_dataset_of_one_clean_run(
    tmp_path: Path, moment: callable
) -> None:
    raw = tmp_path / "raw"
    fakenews_slices(raw, 3)
    reference = tmp_path / "reference"
    run_steps(raw, reference)
    out = tmp_path / "clean"
    run_steps(raw, out)  # a first, complete run
    extra = fakenews_slices(tmp_path / "more", 4, rows=250)
    for i, path in enumerate(extra):
        path.rename(raw / f"later-{i}.csv")
    run_steps(raw, reference)
    killed = _kill_when(raw, out, moment)
    assert killed, "the run ended before the kill point: make the input bigger"
    # What a reader sees now is the last committed dataset: no half file, no temp file.
    for table in ("articles", "edits", "duplicates", "quarantine"):
        pd.read_parquet(out / table)
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert not any(p.startswith("later-") for p in manifest["path"])
    recovered = run_steps(raw, out)
    assert recovered["files"]["new"] == 4
    assert not list(out.rglob(".*.tmp")) and not (out / journal.JOURNAL).exists()
    assert_same_dataset(out, reference)


@pytest.mark.unit
def test_journal_left_by_a_killed_commit_is_rolled_forward(tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "raw"
    fakenews_slices(raw, 2, rows=30)
    reference = tmp_path / "reference"
    run_steps(raw, reference)
    out = tmp_path / "clean"
    real_apply = journal._apply

    def die_after_two_renames(out_dir: Path, entries: dict) -> None:
        half = {"renames": entries["renames"][:2], "deletes": []}
        real_apply(out_dir, half)
        raise KeyboardInterrupt("killed mid-commit")

    monkeypatch.setattr(journal, "_apply", die_after_two_renames)
    with pytest.raises(KeyboardInterrupt):
        run_steps(raw, out)
    monkeypatch.setattr(journal, "_apply", real_apply)
    entries = json.loads((out / journal.JOURNAL).read_text())
    assert entries["renames"][-1][1] == "manifest.parquet"  # the manifest is renamed last
    assert not (out / "manifest.parquet").exists()
    second = run_steps(raw, out)  # recovery completes the commit, then nothing is left to do
    assert second["files"]["unchanged"] == 2 and second["documents"] == 0
    assert_same_dataset(out, reference)


@pytest.mark.process
@pytest.mark.slow
def test_two_concurrent_runs_do_not_interleave(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    fakenews_slices(raw, 4)
    reference = tmp_path / "reference"
    run_steps(raw, reference)
    out = tmp_path / "clean"
    code = CHILD.format(root=str(ROOT))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(raw), str(out)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(child.wait(), child.stderr.read()) for child in children]
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code != 0]
    # Either one run was refused with the lock message, or the second started after the
    # first had finished (and found nothing new): never both writing at once.
    assert codes in ([0, 0], [0, 1])
    for err in refused:
        assert "another newsclean run is writing" in err
    assert_same_dataset(out, reference)


@pytest.mark.unit
def test_dataset_of_schema_1_is_migrated_and_not_duplicated(tmp_path: Path) -> None:
    """A dataset written before near-dup dedup (no index, no manifest, duplicates without
    hash/cluster/run columns) is brought up to date; re-running adds nothing."""
    import pyarrow.parquet as pq

    raw, out = tmp_path / "raw", tmp_path / "clean"
    fakenews_slices(raw, 2)
    run_steps(raw, out, learn=False)  # schema 1 had no learned boilerplate either
    articles_before = dataset(out)["articles"]
    for path in (out / "duplicates").glob("*.parquet"):
        old = pq.read_table(path).drop_columns(["dup_cluster", "content_hash", "run_id"])
        pq.write_table(old, path)
    for path in [*(out / "dedup_index").glob("*.parquet"), out / "manifest.parquet"]:
        path.unlink()
    again = run_steps(raw, out)
    assert again["documents"] == 250 and again["already_published"] == 250
    assert again["articles"] == 0 and again["duplicates"] == 0
    duplicates = pd.read_parquet(out / "duplicates")
    assert duplicates["content_hash"].isna().all() and len(duplicates) == 11
    assert (duplicates["dup_cluster"] == duplicates["kept_doc_id"]).all()
    assert sorted(pd.read_parquet(out / "dedup_index")["doc_id"]) == sorted(
        articles_before["doc_id"]
    )


@pytest.mark.unit
def test_edits_of_schema_3_are_migrated_in_place(tmp_path: Path) -> None:
    """Edits written before offsets existed (schema 3) gain ``field``/``start``/``end``/
    ``model_version`` (unknown: null), and a learned removal's old id, whose ``/N`` was the
    model version, becomes the rule's real id with the model version beside it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    raw, out = tmp_path / "raw", tmp_path / "clean"
    raw.mkdir()
    (raw / "news_sample.csv").write_bytes(FAKENEWS.read_bytes())
    run_steps(raw, out)
    before = pd.read_parquet(out / "edits")
    for path in (out / "edits").glob("*.parquet"):
        table = pq.read_table(path)
        # today's id (/2); at schema 3 the id's /N was the model version
        learned = pc.equal(table["rule"], "learned.repeated-line/5")
        rules = pc.if_else(learned, pa.scalar("learned.repeated-line/7"), table["rule"])
        table = table.set_column(table.schema.get_field_index("rule"), "rule", rules)
        old = table.drop_columns(["field", "start", "end", "model_version"])
        meta = {**old.schema.metadata, b"newsclean.schema_version": b"3"}
        pq.write_table(old.replace_schema_metadata(meta), path)
    again = run_steps(raw, out)
    assert again["documents"] == 0 and again["edits"] == 0  # nothing new, nothing doubled
    after = pd.read_parquet(out / "edits")
    assert len(after) == len(before)
    learned = after[after["stage"] == "learned-boilerplate"]
    # the id the rule had when schema 3 was written
    assert len(learned) > 0 and set(learned["rule"]) == {"learned.repeated-line/1"}
    assert set(learned["model_version"]) == {7}
    assert after["start"].isna().all() and after["field"].isna().all()
    assert after[after["stage"] != "learned-boilerplate"]["model_version"].isna().all()
    for path in (out / "edits").glob("*.parquet"):
        assert pq.read_schema(path).metadata[b"newsclean.schema_version"] == SCHEMA_VERSION.encode()


@pytest.mark.unit
def test_dataset_of_schema_6_gains_republication_counts(tmp_path: Path) -> None:
    """Articles written before ``n_copies``/``publishers`` and duplicates without ``domain``
    (schema 6) are migrated (null), and the next run that commits fills the counts from the
    duplicates as they stand (old copies have no domain: they add no publisher)."""
    import pyarrow.parquet as pq

    raw, out = tmp_path / "raw", tmp_path / "clean"
    fakenews_slices(raw, 2)
    run_steps(raw, out)
    reference = pd.read_parquet(out / "articles").set_index("doc_id")
    assert reference["n_copies"].sum() == len(pd.read_parquet(out / "duplicates"))
    for table, columns in (("articles", ["n_copies", "publishers"]), ("duplicates", ["domain"])):
        for path in (out / table).glob("*.parquet"):
            pq.write_table(pq.read_table(path).drop_columns(columns), path)
    (tmp_path / "more").mkdir()  # a later run with something to commit
    (tmp_path / "more" / "reference.txt").write_bytes(REFERENCE.read_bytes())
    run_steps(tmp_path / "more", out)
    articles = pd.read_parquet(out / "articles").set_index("doc_id")
    assert articles["n_copies"].notna().all()
    shared = reference.index.intersection(articles.index)
    assert (articles.loc[shared, "n_copies"] == reference.loc[shared, "n_copies"]).all()
    assert articles.loc[shared, "publishers"].map(len).ge(1).all()


@pytest.mark.process
def test_a_run_with_nothing_new_returns_before_prefect_starts(tmp_path: Path) -> None:
    """Every raw file unchanged since the manifest: `newsclean run` prints one line and exits
    0 without importing Prefect (a no-op run took 14.5 s for the server alone), and writes
    nothing."""
    raw, out = tmp_path / "raw", tmp_path / "clean"
    fakenews_slices(raw, 2, rows=40)
    run_steps(raw, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "newsclean.cli", "run", str(raw),
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nothing new in") and "2 files" in lines[0]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "prefect" not in imported
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == before


@pytest.mark.unit
def test_nothing_new_only_when_a_run_would_do_nothing(tmp_path: Path) -> None:
    """A changed or new file, a commit to roll forward, staging left by a killed run or a file
    to migrate all need a real run."""
    import pyarrow.parquet as pq

    from newsclean.tasks.storage.run_state import nothing_new

    raw, out = tmp_path / "raw", tmp_path / "clean"
    assert nothing_new(raw, out) is None  # no dataset yet
    paths = fakenews_slices(raw, 2, rows=40)
    run_steps(raw, out)
    assert nothing_new(raw, out) is not None
    (out / journal.JOURNAL).write_text("{}")
    assert nothing_new(raw, out) is None
    (out / journal.JOURNAL).unlink()
    (out / "_staging").mkdir()
    assert nothing_new(raw, out) is None
    (out / "_staging").rmdir()
    part = next((out / "duplicates").glob("*.parquet"))
    original = part.read_bytes()
    pq.write_table(pq.read_table(part).drop_columns(["domain"]), part)  # schema 6
    assert nothing_new(raw, out) is None
    part.write_bytes(original)
    assert nothing_new(raw, out) is not None
    (raw / "new.txt").write_text("Title\n\nA new story.\n")
    assert nothing_new(raw, out) is None
    (raw / "new.txt").unlink()
    os.utime(paths[0], ns=(1, 1))  # touched: the manifest's stat must be recorded
    assert nothing_new(raw, out) is None
