"""``newsclean`` command line: one-off local runs of the clean-corpus flow.

Prefect settings are applied before Prefect is imported (see :mod:`newsclean.prefect_env`),
and Prefect's own console logging is kept at WARNING so the progress bar stays readable; the
full logs are in the Prefect UI/API as usual (``--verbose`` shows them here too).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from newsclean.tasks.pipeline.learn_job import list_learned
from newsclean.tasks.pipeline.report import headline_rows
from newsclean.tasks.schema import ANY_PUBLISHER
from newsclean.tasks.settings import RUN, SERVE, SERVER
from newsclean.tasks.stages.dedup import KEEP_CRITERIA
from newsclean.tasks.stages.learned import default_config as learned_config
from newsclean.tasks.stages.minhash import default_config
from newsclean.tasks.stages.pages import PAGE_KINDS
from newsclean.tasks.storage import boilerplate_model

NEAR_DUP = default_config()

app = typer.Typer(
    help="Clean scraped news into deduplicated, analyst-ready Parquet.", no_args_is_help=True
)
console = Console()

#: The dataset folder option every command shares.
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Folder of the Parquet dataset.")]
DEFAULT_OUT = Path(RUN.out_dir)


@app.callback()
def _main() -> None:
    """newsclean: raw scraped articles in, clean Parquet out."""


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"newsclean run {summary['run_id']}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for name, value in headline_rows(summary):
        table.add_row(name, value)
    return table


def _rules_table(summary: dict[str, Any]) -> Table:
    table = Table(title="edits per rule")
    table.add_column("rule")
    table.add_column("edits", justify="right")
    for rule, n in summary["edits_by_rule"].items():
        table.add_row(rule, f"{n:,}")
    return table


@app.command()
def run(
    raw_dir: Annotated[
        Path, typer.Argument(help="Folder of raw articles (.txt, .csv, .jsonl, .json, .parquet).")
    ] = Path(RUN.raw_dir),
    out: OutDir = DEFAULT_OUT,
    batch_size: Annotated[
        int, typer.Option(help="Documents per in-memory batch (bounds worker memory).")
    ] = RUN.batch_size,
    workers: Annotated[
        int, typer.Option(help="Worker processes (0 = one per core).")
    ] = RUN.workers,
    typos: Annotated[
        bool, typer.Option("--typos/--no-typos", help="Correct typos (conservatively).")
    ] = RUN.typos,
    keep_words: Annotated[
        Path | None,
        typer.Option(help="Word-list file (one per line) the typo stage must never change."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help=f"Near-duplicate Jaccard threshold (default {NEAR_DUP.threshold}, "
            "tasks/rules/dedup.toml)."
        ),
    ] = None,
    shingle_words: Annotated[
        int | None,
        typer.Option(help=f"Words per MinHash shingle (default {NEAR_DUP.shingle_words})."),
    ] = None,
    permutations: Annotated[
        int | None,
        typer.Option(help=f"MinHash permutations (default {NEAR_DUP.permutations})."),
    ] = None,
    merge_number_variants: Annotated[
        bool,
        typer.Option(help="Also merge copies that differ only in their figures (off: kept apart)."),
    ] = False,
    keep_policy: Annotated[
        str | None,
        typer.Option(
            help="Which copy of a story to keep, criteria in order, comma-separated "
            f"(default {','.join(NEAR_DUP.keep_policy)}; known: {', '.join(KEEP_CRITERIA)})."
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Reprocess every raw file, not only new/changed ones.")
    ] = False,
    languages: Annotated[
        str | None,
        typer.Option(
            help="Keep only articles in these languages (ISO 639-1, comma-separated: en,de); "
            "the others go to OUT/other_languages/ with the reason."
        ),
    ] = None,
    keep_kinds: Annotated[
        str | None,
        typer.Option(
            help="Keep only these page kinds in OUT/articles/ (comma-separated, among "
            f"{', '.join(PAGE_KINDS)}); the others go to OUT/other_kinds/ with the reason."
        ),
    ] = None,
    lock_wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for another run writing to OUT (0: refuse at once)."),
    ] = RUN.lock_wait,
    runner: Annotated[
        str, typer.Option(help="Task runner: 'local' (process pool) or 'dask' (LocalCluster).")
    ] = "local",
    dask_address: Annotated[
        str | None,
        typer.Option(help="Run on an existing Dask cluster (tcp://host:port); implies dask."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Clean RAW_DIR and add what is new to the dataset in OUT, with the Prefect flow
    (offline: a temporary local server unless PREFECT_API_URL is set)."""
    if not raw_dir.is_dir():
        console.print(f"[red]raw folder {raw_dir} does not exist[/red]")
        raise typer.Exit(2)
    if keep_words is not None and not keep_words.is_file():
        console.print(f"[red]word list {keep_words} does not exist[/red]")
        raise typer.Exit(2)
    if runner not in {"local", "dask"}:
        console.print(f"[red]unknown runner {runner!r}: use 'local' or 'dask'[/red]")
        raise typer.Exit(2)
    policy = [c.strip() for c in keep_policy.split(",") if c.strip()] if keep_policy else None
    if policy and not set(policy) <= set(KEEP_CRITERIA):
        console.print(f"[red]--keep-policy: use criteria among {', '.join(KEEP_CRITERIA)}[/red]")
        raise typer.Exit(2)
    codes = [c.strip().lower() for c in languages.split(",") if c.strip()] if languages else None
    if codes is not None and not (
        codes and all(len(c) == 2 and c.isalpha() and c.isascii() for c in codes)
    ):
        console.print("[red]--languages: give ISO 639-1 codes, comma-separated (en,de)[/red]")
        raise typer.Exit(2)
    kinds = [k.strip().lower() for k in keep_kinds.split(",") if k.strip()] if keep_kinds else None
    if kinds is not None and not (kinds and set(kinds) <= set(PAGE_KINDS)):
        console.print(f"[red]--keep-kinds: give page kinds among {', '.join(PAGE_KINDS)}[/red]")
        raise typer.Exit(2)
    if threshold is not None and not 0 < threshold <= 1:
        console.print("[red]--threshold must be in (0, 1][/red]")
        raise typer.Exit(2)
    from newsclean.tasks.storage.run_state import OutputBusy, check_lock, nothing_new

    try:  # before Prefect starts: a refused or a no-op run costs no server and no traceback
        unchanged = None if full else nothing_new(raw_dir.resolve(), out.resolve(), lock_wait)
        if full:  # nothing_new checked the lock otherwise
            check_lock(out.resolve(), lock_wait)
    except OutputBusy as busy:
        _say_failure(str(busy))
        raise typer.Exit(3) from None
    if unchanged is not None:
        console.print(
            f"nothing new in {raw_dir}: its {len(unchanged.unchanged):,} files are unchanged "
            f"since the runs that processed them; {out} is as it was (--full reprocesses "
            "everything).",
            markup=False,
            soft_wrap=True,
        )
        return
    # At exit the interpreter's last garbage collection walks every object Prefect and the
    # run created: 1.3 s of the demo's 7 s (measured). Frozen objects are skipped; the
    # process's memory goes back to the system as it exits anyway.
    atexit.register(gc.freeze)
    if not verbose:  # the CLI reports every outcome itself; --verbose shows Prefect's logs
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_INTERNAL_LOGGING_LEVEL", "CRITICAL")
    # Lazy: Prefect's settings must be in the environment before it is imported, and
    # `newsclean report`/`show` should not pay Prefect's import time.
    from newsclean.run_server import RunServer

    # The server starts first, without waiting: its start overlaps Prefect's import and the
    # worker pool's loading (RunServer.ready waits for it just before the flow).
    try:
        server = RunServer.begin()
    except (OSError, RuntimeError) as error:  # e.g. PREFECT_HOME not writable
        _say_failure(f"cannot start a Prefect server: {error}")
        raise typer.Exit(4) from None
    local = runner == "local" and not dask_address
    if local:
        from newsclean.tasks.pipeline import workers as worker_pool

        worker_pool.prestart(workers)  # its imports and resources load while Prefect starts
    from newsclean.tasks.storage.run_state import commit_marker

    parameters: dict[str, Any] = {
        "raw_dir": str(raw_dir),
        "out_dir": str(out),
        "batch_size": batch_size,
        "workers_count": workers,
        "typos": typos,
        "keep_words": str(keep_words) if keep_words else None,
        "near_threshold": threshold,
        "shingle_words": shingle_words,
        "permutations": permutations,
        "merge_number_variants": merge_number_variants,
        "keep_policy": policy,
        "full": full,
        "languages": codes,
        "keep_kinds": kinds,
        "lock_wait": lock_wait,
    }
    before = commit_marker(out)
    # The run begins while the server boots and Prefect is imported: its first pass starts in
    # the worker pool now, and the flow adopts it (tasks/pipeline/ahead.py).
    head_start = _begin_ahead(parameters) if local else None
    from newsclean.flows import clean_corpus
    from newsclean.prefect_env import without_flow_heartbeats
    from newsclean.server_watch import ServerWatch
    from newsclean.tasks.pipeline import progress
    from newsclean.tasks.pipeline.steps import (
        abandon_ahead,
        describe_fault,
        server_lost,
    )

    if head_start is not None:
        try:
            head_start.result()
        except OutputBusy as busy:  # another run holds the output folder
            server.close()
            _say_failure(str(busy))
            raise typer.Exit(3) from None
        except Exception:  # the flow meets the same fault and reports it
            pass
    try:
        server.ready(_say_failure)
    except RuntimeError as error:  # no Prefect server: the machine cannot run the flow
        abandon_ahead()
        server.close()
        _say_failure(str(error))
        raise typer.Exit(4) from None
    lost: tuple[int, str] | None = None

    columns = (
        TextColumn("[bold]cleaning"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with (
        server.held(),
        without_flow_heartbeats(),
        Progress(*columns, console=console, transient=False) as bar,
    ):
        job = bar.add_task("clean", total=None)

        def server_gone(reported: bool) -> None:
            committed = reported or commit_marker(out) != before
            _exit_now(*_server_lost_outcome("the server process exited", out, committed))

        watch = ServerWatch(server_gone, died=server.died).start()

        def listen(event: str, data: dict[str, Any]) -> None:
            watch.progressed(event)
            if event == "planned":
                bar.update(job, total=data["total_bytes"])
            elif event == "unit_done" and data.get("step") == "clean-unit":
                bar.advance(job, data["bytes"])

        progress.subscribe(listen)
        try:
            summary = clean_corpus.run(runner, dask_address, **parameters)
        except OutputBusy as busy:  # another run took the lock since the check
            _say_failure(str(busy))
            raise typer.Exit(3) from None
        except Exception as error:
            fault = describe_fault(error, out)
            if fault is not None:  # the machine failed
                _say_failure(fault)
                raise typer.Exit(4) from None
            if not server_lost(error):
                raise
            why = f"{type(error).__name__}: {error}"
            lost = _server_lost_outcome(why, out, committed=commit_marker(out) != before)
        finally:
            watch.stop()
            progress.unsubscribe(listen)
    if lost is not None:
        _exit_now(*lost)
    console.print(_summary_table(summary))
    console.print(_rules_table(summary))
    console.print(
        f"dataset: [bold]{out}[/bold]  (articles/, edits/, duplicates/, quarantine/, dedup_index/)"
    )


def _begin_ahead(parameters: dict[str, Any]) -> Future[bool]:
    """The run's head start (:func:`~newsclean.tasks.pipeline.steps.start_ahead`), begun in a
    thread so that it overlaps Prefect's import in this one; the future re-raises what
    beginning it raised.

    Why a thread: the head start takes the writer lock, scans and hashes the raw files and
    then waits for the forkserver to fork its workers; Prefect's import (about 2.3 s of CPU
    on a warm server's run, measured) needs none of that. Begun after the import, the workers
    started about 1 s later than they could (2026-12-03: the flow began 3.5-4.7 s into a run
    on a warm server).
    """
    from newsclean.tasks.pipeline.state import RunParams
    from newsclean.tasks.pipeline.steps import start_ahead

    pool = ThreadPoolExecutor(1, thread_name_prefix="newsclean-head-start")
    try:
        return pool.submit(lambda: start_ahead(RunParams.of_flow(**parameters)))
    finally:
        pool.shutdown(wait=False)  # the one job runs on; nothing else is submitted


def _say_failure(line: str) -> None:
    """One red line, printed as it is: a path or an error may hold [brackets] rich would
    read as markup."""
    console.print(line, style="red", markup=False, soft_wrap=True)


def _server_lost_outcome(how: str, out: Path, committed: bool) -> tuple[int, str]:
    """Exit code and one line for a run whose Prefect server went away: 5 when the run's
    commit landed (the dataset is complete; only Prefect's record of the run is lost), 6
    when it did not (nothing of it is visible, or a begun commit the next run completes)."""
    from newsclean.tasks.pipeline.steps import uncommitted_state

    why = f"the Prefect server was lost during the run ({how})"
    if committed:
        return 5, f"{why}; the run committed: {out} is complete (newsclean report shows it)"
    return 6, f"{why}; the run did not commit: {uncommitted_state(out)}"


def _exit_now(code: int, message: str) -> None:
    """Say why and exit at once: with its server gone, Prefect would spend minutes at exit
    retrying to deliver queued events, logging each failure. The dataset needs nothing more
    (a commit is journaled; a run that did not commit left nothing visible)."""
    from newsclean.tasks.pipeline import workers

    _say_failure(message)
    console.file.flush()
    workers.shutdown()
    os._exit(code)


def _load_summary(out: Path, run_id: str | None) -> dict[str, Any]:
    runs = sorted((out / "runs").glob("*.json"))
    if run_id:
        runs = [p for p in runs if p.stem.startswith(run_id)]
    if not runs:
        what = f"run {run_id}" if run_id else "any run"
        console.print(f"[red]no summary of {what} in {out / 'runs'}[/red]")
        raise typer.Exit(2)
    return json.loads(runs[-1].read_text())


@app.command()
def report(
    run_id: Annotated[
        str | None, typer.Argument(help="Run id (or its start); default: the latest run.")
    ] = None,
    out: OutDir = DEFAULT_OUT,
) -> None:
    """Print the summary of the latest (or the given) run."""
    summary = _load_summary(out, run_id)
    console.print(_summary_table(summary))
    files = summary.get("files") or {}
    if files:
        console.print(
            "raw files: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in files.items())
        )
    console.print(_rules_table(summary))
    reasons = summary.get("quarantine_reasons") or {}
    if reasons:
        table = Table(title="quarantine reasons")
        table.add_column("reason")
        table.add_column("files/records", justify="right")
        for reason, n in reasons.items():
            table.add_row(reason, f"{n:,}")
        console.print(table)
    if summary.get("report_html"):
        console.print(f"HTML report: [bold]{summary['report_html']}[/bold]")


@app.command()
def show(
    doc_id: Annotated[str, typer.Argument(help="doc_id of an article (or a dropped copy).")],
    out: OutDir = DEFAULT_OUT,
    raw_dir: Annotated[
        Path | None, typer.Option("--raw", help="Raw folder (default: the one its run read).")
    ] = None,
) -> None:
    """One document's raw text beside its clean text, with every edit and its rule."""
    from newsclean import inspect  # lazy: rich panels and ingest only for this command

    found = inspect.find_document(out, doc_id, raw_dir)
    if found is None:
        console.print(f"[red]no document {doc_id} in {out}[/red]")
        raise typer.Exit(2)
    for renderable in inspect.render(found):
        console.print(renderable)


boilerplate_app = typer.Typer(help="The boilerplate learned per publisher.", no_args_is_help=True)
app.add_typer(boilerplate_app, name="boilerplate")

server_app = typer.Typer(
    help="The warm local Prefect server one-off runs reuse (started by the first run, stopped "
    "after [server] idle_seconds unused)."
)
app.add_typer(server_app, name="server")


@server_app.command("status")
def server_status() -> None:
    """Whether the warm server runs, where, since when."""
    import newsclean.prefect_env  # noqa: F401  (PREFECT_HOME)
    from newsclean import warm_server

    record = warm_server.status()
    if record is None:
        console.print("no warm Prefect server is running")
        raise typer.Exit(1)
    console.print(
        f"warm Prefect server {record['url']} (keeper pid {record['pid']}, since "
        f"{record['started']}; stops after {record['idle_seconds']:g} s unused)",
        markup=False,
    )


@server_app.command("start")
def server_start(
    idle: Annotated[
        float, typer.Option(help="Seconds unused after which it stops itself.")
    ] = SERVER.idle_seconds,
) -> None:
    """Start the warm server now (a run would start it too)."""
    import newsclean.prefect_env  # noqa: F401
    from newsclean import warm_server

    record = warm_server.start(idle)
    console.print(f"warm Prefect server {record['url']} (keeper pid {record['pid']})", markup=False)


@server_app.command("stop")
def server_stop() -> None:
    """Stop the warm server (and its keeper)."""
    import newsclean.prefect_env  # noqa: F401
    from newsclean import warm_server

    console.print("stopped" if warm_server.stop() else "no warm Prefect server was running")


@boilerplate_app.command("list")
def boilerplate_list(
    domain: Annotated[str | None, typer.Option(help="Only this publisher's lines.")] = None,
    out: OutDir = DEFAULT_OUT,
) -> None:
    """Lines learned as boilerplate, per publisher, with their evidence; publisher `*` (the
    --domain '*' filter) lists the lines learned across publishers. Steer with
    OUT/boilerplate/allow.txt (never remove) and deny.txt (always remove)."""
    lines, version = list_learned(out, learned_config(), domain)
    table = Table(title=f"learned boilerplate, model version {version} ({lines.num_rows} lines)")
    table.add_column("publisher", no_wrap=True)  # domains stay whole and greppable
    table.add_column("stories", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("first seen", no_wrap=True)
    table.add_column("last seen", no_wrap=True)
    table.add_column("line", overflow="fold", min_width=20)
    for row in lines.to_pylist():
        across = row["publisher"] == ANY_PUBLISHER  # learned.corpus-line: every publisher
        table.add_row(
            f"* ({row['publishers']} publishers)" if across else row["publisher"] or "(no domain)",
            f"{row['stories']:,}",
            "" if across else f"{row['share']:.1%}",
            (row["first_seen"] or "")[:8],  # run ids start with the UTC date
            (row["last_seen"] or "")[:8],
            row["example"] or "(not seen in a kept article since it was learned)",
        )
    console.print(table)
    folder = out / boilerplate_model.MODEL_DIR
    console.print(f"steer: {folder / boilerplate_model.ALLOW}, {folder / boilerplate_model.DENY}")


@app.command()
def serve(
    raw_dir: Annotated[Path, typer.Argument(help="Folder new raw files land in.")] = Path(
        RUN.raw_dir
    ),
    out: OutDir = DEFAULT_OUT,
    cron: Annotated[str | None, typer.Option(help='Cron schedule, e.g. "0 * * * *".')] = None,
    interval: Annotated[
        float | None, typer.Option(help="Run every SECONDS instead of a cron schedule.")
    ] = None,
    port: Annotated[
        int, typer.Option(help="Port of the local Prefect server it starts.")
    ] = SERVE.port,
    name: Annotated[str, typer.Option(help="Deployment name.")] = SERVE.deployment,
    typos: Annotated[bool, typer.Option("--typos/--no-typos")] = RUN.typos,
) -> None:
    """Serve the flow on a schedule; each run cleans only the new and changed raw files.

    Without PREFECT_API_URL, a local `prefect server` is started (SQLite under PREFECT_HOME)
    and stopped on exit (Ctrl-C or SIGTERM)."""
    if (cron is None) == (interval is None):
        console.print("[red]give exactly one of --cron or --interval[/red]")
        raise typer.Exit(2)
    if not raw_dir.is_dir():
        console.print(f"[red]raw folder {raw_dir} does not exist[/red]")
        raise typer.Exit(2)
    from newsclean import serve as serving  # lazy: Prefect only for this command

    serving.serve(raw_dir, out, cron, interval, port, name, {"typos": typos})


if __name__ == "__main__":
    app()
