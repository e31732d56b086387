"""Throughput and memory benchmark of a whole newsclean run, optionally against datatrove.

Why a separate harness: the flow's own summary (``seconds``, ``mb_per_s``) times only
the flow body. A user waits for the whole command, Prefect's temporary server start-up
included, and the workers are spawned processes, so neither the flow's timer nor
``ru_maxrss`` of one process tells what a run costs. This script runs newsclean as a
subprocess, exactly as a user would, and measures from the outside:

* wall seconds of the whole command, and the flow's own ``seconds`` from
  ``OUT/runs/<run_id>.json``; MB/s and docs/s on both;
* peak memory of the whole process tree: ``/proc`` is polled every ~50 ms and RSS is
  summed over the subprocess and all its descendants (Prefect server, worker pool,
  resource tracker); PSS from ``smaps_rollup`` is summed too, since RSS counts pages
  shared between processes once per process;
* a cheap correctness check: exact duplicates in ``OUT/duplicates`` against the number
  of exact copies planted by ``make_corpus.py`` (``truth.json``). newsclean may find
  *more* (cleaning can make two different raw texts identical), so the difference is
  printed, never treated as a failure.

MB always means decimal MB of document text (``text_bytes`` in ``truth.json``) for
both tools, so MB/s figures are comparable; ``datatrove_baseline.py``'s own ``mb_per_s``
counts file bytes (JSON framing and metadata included) and is shown only as a detail.

Corpora are generated once per parameter set under ``--work-dir`` and reused while
their ``truth.json`` matches; outputs are deleted after each run unless ``--keep``.
Every file of a corpus is read once before its first measured run (:func:`warm_page_cache`),
so both tools read it from the page cache and disk speed is not part of the figures: a 1 GB
corpus left cold by other work took newsclean's file scan 27.5 s instead of 5.7 s (measured),
a cost only the tool that happened to run first would pay.

``--cli`` runs newsclean as users do, ``newsclean run RAW --out OUT``, with a temporary
Prefect server (a first run); ``--warm-server`` starts newsclean's warm server before the
first measured run, as a first ``newsclean run`` would, and measures every run on it (a
second run): the server's processes are sampled with each run's tree, since the run uses
them.

``--vs-tree DIR`` runs the same corpora through another checkout of newsclean (an older
release, ``git worktree add /tmp/old <commit>``) with this interpreter, as the tool
``baseline``: the same dependencies, only newsclean's code differs. With ``--repeat N`` every
tool runs N times per corpus, the tools alternating (A B A B), and the table shows medians.
With ``--cli`` the other checkout runs through its own ``newsclean run`` too (when it has
one; before 2026-12-02 it ran the flow module, whose in-process Prefect start made the older
code's start-up look about 9 s slower) and with a resource cache of its own
(``NEWSCLEAN_CACHE_DIR`` in the log folder: the two trees' cache keys differ, so in one
cache each would evict the other's files and rebuild them on every run).

Usage::

    /work/venv/bin/python bench/throughput.py --mb 100 --vs-datatrove
    /work/venv/bin/python bench/throughput.py --mb 100 --vs-datatrove --cli --repeat 2
    /work/venv/bin/python bench/throughput.py --mb 100 --vs-datatrove --warm-server --repeat 2
    /work/venv/bin/python bench/throughput.py --sizes 100,1000      # is peak RSS flat?
    /work/venv/bin/python bench/throughput.py --sizes 100,1000 --vs-tree /tmp/old --repeat 2
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phases import phase_at
from procmem import TreeMemorySampler

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_WORK_DIR = Path("/tmp/newsclean-bench")
DEFAULT_DT_PYTHON = Path("/work/venv-dt/bin/python")
MB = 1_000_000  # decimal, as in make_corpus.py and the flow summary
# Same module source and entry point as ``python -m flows.clean_corpus RAW OUT``, but
# with the worker count and batch size the CLI flags set (the module's main() has no
# flags). Used only when one of them is given, so the default run is the plain command.
FLOW_MODULE = "newsclean.flows.clean_corpus"
FLOW_SNIPPET = (
    "import sys\n"
    "from newsclean.flows.clean_corpus import clean_corpus\n"
    "kw = {'batch_size': int(sys.argv[4])} if int(sys.argv[4]) > 0 else {}\n"
    "s = clean_corpus(raw_dir=sys.argv[1], out_dir=sys.argv[2], "
    "workers_count=int(sys.argv[3]), typos=sys.argv[5] == 'on', **kw)\n"
    "print(s['run_id'])\n"
)


@dataclass
class Measured:
    """What the harness measured from outside one subprocess run."""

    returncode: int
    wall_s: float
    peak_rss: int
    peak_pss: int
    procs_at_peak: int
    at_peak: list[tuple[str, int]]
    max_procs: int
    samples: int
    sampler_cpu_s: float
    stdout: str
    log_path: Path
    peak_time: float = 0.0  # wall clock of the RSS peak
    #: CPU seconds per process role over the run (the forkserver's role covers its workers).
    cpu_by_role: dict[str, float] = field(default_factory=dict)


def run_measured(
    cmd: list[str],
    log_path: Path,
    cwd: Path = REPO_DIR,
    env: dict[str, str] | None = None,
    extra_roots: tuple[int, ...] = (),
) -> Measured:
    """Run ``cmd`` to completion, timing it and sampling its process tree's memory.

    stderr goes to ``log_path`` (Prefect and datatrove log there); stdout is returned
    and appended to the log as well.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as err:
        err.write(f"$ {shlex.join(cmd)}\n")
        err.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            encoding="utf-8",
        )
        sampler = TreeMemorySampler(proc.pid, extra_roots=extra_roots)
        sampler.start()
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - t0
        sampler.stop()
        err.write("\n--- stdout ---\n" + stdout)
    return Measured(
        proc.returncode,
        wall,
        sampler.peak_rss,
        sampler.peak_pss,
        sampler.procs_at_peak,
        sampler.at_peak,
        sampler.max_procs,
        sampler.samples,
        sampler.cpu_seconds,
        stdout,
        log_path,
        sampler.peak_time,
        sampler.cpu_by_role(),
    )


# --------------------------------------------------------------------------- corpus


def _load_make_corpus() -> Any:
    """Import ``bench/make_corpus.py`` by path (``bench`` is not a package)."""
    spec = importlib.util.spec_from_file_location("make_corpus", BENCH_DIR / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_is_current(corpus_dir: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """The corpus's truth dict if it was made with ``params`` and is complete, else None.

    ``truth.json`` is written last by ``make_corpus``, so its presence plus matching
    parameters and file sizes mean the corpus can be reused as is.
    """
    try:
        truth = json.loads((corpus_dir / "truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if any(truth.get(k) != v for k, v in params.items()):
        return None
    raw = corpus_dir / truth.get("raw_dir", "raw")
    try:
        on_disk = sum((raw / name).stat().st_size for name in truth["files"])
    except (OSError, KeyError):
        return None
    return truth if on_disk == truth["file_bytes"] else None


def ensure_corpus(
    work_dir: Path, mb: float, fmt: str, dup_share: float, seed: int, file_mb: float
) -> tuple[Path, dict[str, Any], bool]:
    """Return ``(corpus_dir, truth, reused)``, generating the corpus when needed."""
    corpus_dir = work_dir / f"corpus-{fmt}-{mb:g}mb-seed{seed}-dup{dup_share:g}-file{file_mb:g}"
    params = {
        "target_mb": mb,
        "format": fmt,
        "dup_share_requested": dup_share,
        "seed": seed,
        "file_mb": file_mb,
    }
    truth = corpus_is_current(corpus_dir, params)
    if truth is not None:
        return corpus_dir, truth, True
    print(f"generating {mb:g} MB {fmt} corpus in {corpus_dir} ...", flush=True)
    truth = _load_make_corpus().make_corpus(corpus_dir, mb, dup_share, seed, fmt, file_mb)
    return corpus_dir, truth, False


def warm_page_cache(raw: Path) -> tuple[int, float]:
    """Read every file under ``raw`` once (unmeasured); returns (bytes, seconds)."""
    started, total = time.perf_counter(), 0
    for path in sorted(raw.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                while block := fh.read(1 << 24):
                    total += len(block)
    return total, time.perf_counter() - started


# --------------------------------------------------------------------------- runs


@dataclass
class ToolRun:
    """One tool's figures on one corpus, ready for the tables."""

    tool: str
    mb: float  # text MB of the corpus
    docs: int  # documents in the corpus
    measured: Measured
    inner_s: float | None  # the tool's own timer (flow body / executor.run)
    command: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the subprocess succeeded and reported its own figures."""
        return self.measured.returncode == 0 and self.inner_s is not None


def count_exact_duplicates(out_dir: Path) -> int:
    """Rows with ``kind == "exact"`` in ``OUT/duplicates/*.parquet``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0
    for path in sorted((out_dir / "duplicates").glob("*.parquet")):
        kinds = pq.read_table(path, columns=["kind"]).column("kind")
        total += int(pc.sum(pc.equal(kinds, "exact")).as_py() or 0)
    return total


def run_newsclean(
    raw_dir: Path,
    out_dir: Path,
    truth: dict[str, Any],
    workers: int,
    batch_size: int | None,
    python: str,
    log_dir: Path,
    typos: bool = True,
    tree: Path | None = None,
    tool: str = "newsclean",
    cli: bool = False,
    server: tuple[int, ...] = (),
) -> ToolRun:
    """Run the clean-corpus flow in a subprocess of ``python`` and collect its figures;
    with ``tree``, the flow of that other checkout (its folder first on the path). With
    ``cli``, the command users run, ``newsclean run``: on the warm server whose keeper pid
    is ``server`` (its memory counted with the run's), else with a temporary server."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # one run per folder: runs/ and duplicates/ stay unambiguous
    module, snippet, cwd, env = FLOW_MODULE, FLOW_SNIPPET, REPO_DIR, None
    if cli and (tree is None or (tree / "newsclean" / "cli.py").exists()):
        cmd = [python, "-m", "newsclean.cli", "run", str(raw_dir), "--out", str(out_dir)]
        cmd += ["--workers", str(workers), "--typos" if typos else "--no-typos"]
        cmd += ["--batch-size", str(batch_size)] if batch_size else []
        env = {**os.environ, "NEWSCLEAN_WARM_SERVER": "1" if server else "0"}
        if tree is not None:  # the other checkout's own CLI, with a resource cache of its own
            # (the two trees' cache keys differ, and each would evict the other's files)
            cwd = tree
            env |= {"PYTHONPATH": str(tree), "NEWSCLEAN_CACHE_DIR": str(log_dir / f"cache-{tool}")}
        return _collect(tool, cmd, out_dir, truth, log_dir, cwd, env, server)
    if tree is not None:
        cwd, env = tree, {**os.environ, "PYTHONPATH": str(tree)}
        if not (tree / "newsclean" / "flows").exists():  # before newsclean.flows existed
            module = "flows.clean_corpus"
            snippet = FLOW_SNIPPET.replace("newsclean.flows.clean_corpus", module)
    if workers == 0 and batch_size is None and typos:
        cmd = [python, "-m", module, str(raw_dir), str(out_dir)]
    else:
        cmd = [python, "-c", snippet, str(raw_dir), str(out_dir), str(workers)]
        cmd += [str(batch_size or 0), "on" if typos else "off"]
    return _collect(tool, cmd, out_dir, truth, log_dir, cwd, env)


def _collect(
    tool: str,
    cmd: list[str],
    out_dir: Path,
    truth: dict[str, Any],
    log_dir: Path,
    cwd: Path,
    env: dict[str, str] | None,
    server: tuple[int, ...] = (),
) -> ToolRun:
    """Run one newsclean command measured, then read its run summary."""
    mb = truth["text_bytes"] / MB
    m = run_measured(cmd, log_dir / f"{tool}-{mb:g}mb.log", cwd=cwd, env=env, extra_roots=server)
    summary: dict[str, Any] = {}
    runs = sorted((out_dir / "runs").glob("*.json")) if m.returncode == 0 else []
    if runs:
        summary = json.loads(runs[-1].read_text(encoding="utf-8"))
    extra: dict[str, Any] = {"summary": summary, "peak_phase": _peak_phase(m, cwd, env)}
    if summary:
        extra["exact_dups_found"] = count_exact_duplicates(out_dir)
    return ToolRun(
        tool,
        mb,
        truth["n_docs"],
        m,
        summary.get("seconds"),
        shlex.join(cmd if cmd[1] == "-m" else [*cmd[:2], "<FLOW_SNIPPET>", *cmd[3:]])
        + (" (on the warm server)" if server else ""),
        extra,
    )


def _peak_phase(m: Measured, cwd: Path, env: dict[str, str] | None) -> str | None:
    """The flow step(s) running at the memory peak, from the run's Prefect database (the
    PREFECT_HOME the command used: its environment's, else ``<cwd>/.prefect``)."""
    home = (env or os.environ).get("PREFECT_HOME") or str(cwd / ".prefect")
    db = Path(home) / "prefect.db"
    if m.returncode != 0 or not m.peak_time or not db.exists():
        return None
    return phase_at(db, datetime.fromtimestamp(m.peak_time, UTC))


def run_datatrove(
    raw_dir: Path, out_dir: Path, truth: dict[str, Any], python: str, log_dir: Path
) -> ToolRun:
    """Run ``datatrove_baseline.py`` in the datatrove venv and collect its figures."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    cmd = [python, str(BENCH_DIR / "datatrove_baseline.py"), str(raw_dir), str(out_dir)]
    mb = truth["text_bytes"] / MB
    m = run_measured(cmd, log_dir / f"datatrove-{mb:g}mb.log")
    figures: dict[str, Any] = {}
    text = m.stdout.strip()
    start = 0 if text.startswith("{") else text.rfind("\n{") + 1
    if m.returncode == 0 and start >= 0:
        try:
            figures = json.loads(text[start:])
        except ValueError:
            figures = {}
    return ToolRun(
        "datatrove", mb, truth["n_docs"], m, figures.get("seconds"), shlex.join(cmd), figures
    )


# --------------------------------------------------------------------------- output


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / MB:,.0f}"


def _rate(amount: float, seconds: float | None, fmt: str) -> str:
    return format(amount / seconds, fmt) if seconds else "-"


def describe(run: ToolRun, truth: dict[str, Any]) -> list[str]:
    """Detail lines for one run (figures the table has no room for)."""
    m = run.measured
    lines = [f"{run.tool} on {run.mb:,.1f} MB / {run.docs:,} docs", f"  command: {run.command}"]
    if m.returncode != 0:
        lines.append(f"  FAILED: exit code {m.returncode}; log: {m.log_path}")
        return lines
    inner = "executor.run()" if run.tool == "datatrove" else "flow (summary seconds)"
    lines += [
        f"  wall (whole command)     {m.wall_s:8.1f} s  {_rate(run.mb, m.wall_s, '7.2f')} MB/s"
        f"  {_rate(run.docs, m.wall_s, '9,.0f')} docs/s",
    ]
    if run.inner_s is not None:
        lines.append(
            f"  {inner:<24} {run.inner_s:8.1f} s  {_rate(run.mb, run.inner_s, '7.2f')} MB/s"
            f"  {_rate(run.docs, run.inner_s, '9,.0f')} docs/s"
            f"   (start-up/shut-down {m.wall_s - run.inner_s:.1f} s)"
        )
    lines.append(
        f"  peak tree RSS {_mb(m.peak_rss)} MB ({m.procs_at_peak} procs), peak tree PSS "
        f"{_mb(m.peak_pss)} MB; {m.samples} samples, sampler CPU {m.sampler_cpu_s:.1f} s"
    )
    by_role = ", ".join(
        f"{name} {_mb(rss)}" for name, rss in sorted(m.at_peak, key=lambda x: -x[1])
    )
    lines.append(f"  RSS MB per process at the peak: {by_role}")
    cpu = ", ".join(
        f"{name} {seconds:.1f}"
        for name, seconds in sorted(m.cpu_by_role.items(), key=lambda x: -x[1])
    )
    lines.append(f"  CPU s per process role: {cpu} (total {sum(m.cpu_by_role.values()):.1f})")
    if run.extra.get("peak_phase"):
        lines.append(f"  the peak came in: {run.extra['peak_phase']}")
    if run.tool in ("newsclean", "baseline"):
        s = run.extra.get("summary", {})
        if not s:
            lines.append(f"  no runs/*.json summary found; log: {m.log_path}")
            return lines
        found, planted = run.extra["exact_dups_found"], truth["n_exact_dup_copies"]
        lines += [
            f"  summary: documents_in {s['documents_in']:,} (truth {truth['n_docs']:,}),"
            f" bytes_in {s['bytes_in'] / MB:,.1f} MB, kept {s['kept']:,},"
            f" quarantined {s['quarantined']:,}, work units {s.get('work_units', '?')}",
            f"  exact duplicates: truth {planted:,}, found {found:,}"
            f" (difference {found - planted:+,})",
        ]
        if s["documents_in"] != truth["n_docs"]:
            lines.append("  WARNING: documents_in differs from the corpus's document count")
        lines += stage_budget(s.get("stages", {}), run.mb)
    else:
        f = run.extra
        if f:
            lines.append(
                f"  baseline's own report: {f.get('mb_per_s')} MB/s of file bytes, docs out "
                f"{f.get('docs_out', 0):,}, C4 dropped {f.get('c4_dropped', 0):,}, "
                f"its own tree RSS {f.get('peak_rss_tree_sum_mb')} MB"
            )
    return lines


def stage_budget(stages: dict[str, dict[str, Any]], mb: float, per_line: int = 6) -> list[str]:
    """Where the run's CPU went: each stage's seconds summed over all workers and batches
    (the run summary's ``stages``), largest first, with its share and its cost per 100 MB.

    Why: the wall time says how far a bar is; this says which stage to profile first, and,
    compared across sizes, whether each stage's cost grows linearly with the input.
    """
    timed = sorted(((n, v.get("seconds", 0.0)) for n, v in stages.items()), key=lambda x: -x[1])
    total = sum(seconds for _, seconds in timed)
    if not total:
        return []
    cells = [f"{n} {sec:.1f} ({sec / total:.0%})" for n, sec in timed]
    lines = [f"  stage CPU {total:.1f} s over all workers ({total / mb * 100:.1f} s per 100 MB):"]
    for i in range(0, len(cells), per_line):
        lines.append("    " + " · ".join(cells[i : i + per_line]))
    return lines


def median_runs(runs: list[ToolRun]) -> list[ToolRun]:
    """One run per tool and size: the one with the median wall time (of the repeats)."""
    out = []
    for key in dict.fromkeys((r.mb, r.tool) for r in runs):
        group = sorted((r for r in runs if (r.mb, r.tool) == key), key=lambda r: r.measured.wall_s)
        out.append(group[(len(group) - 1) // 2])
    return out


def _ratio_row(label: str, a: ToolRun, b: ToolRun) -> str:
    """Speed of ``a`` relative to ``b`` (>1: ``a`` is faster) and memory ``a``/``b``."""
    speed_wall = b.measured.wall_s / a.measured.wall_s  # MB/s ratio = inverse time ratio
    speed_inner = b.inner_s / a.inner_s  # type: ignore[operator]
    return (
        f"{label:<20} {'':>6} {'':>7} {speed_wall:6.2f}x {speed_wall:7.2f}x "
        f"{'':>7} {speed_inner:6.2f}x {speed_inner:7.2f}x "
        f"{a.measured.peak_rss / b.measured.peak_rss:6.2f}x "
        f"{a.measured.peak_pss / max(b.measured.peak_pss, 1):6.2f}x"
    )


def table(runs: list[ToolRun]) -> list[str]:
    """Side-by-side table; with two tools on a size, ratio rows (newsclean first)."""
    head = (
        f"{'tool':<20} {'MB':>6} {'wall s':>7} {'MB/s':>7} {'docs/s':>8} "
        f"{'inner s':>7} {'MB/s':>7} {'docs/s':>8} {'RSS MB':>7} {'PSS MB':>7}"
    )
    out = [head, "-" * len(head)]
    for size in dict.fromkeys(r.mb for r in runs):
        group = {r.tool: r for r in runs if r.mb == size}
        for r in group.values():
            m = r.measured
            if m.returncode != 0:
                out.append(
                    f"{r.tool:<20} {r.mb:6.0f}  FAILED (exit {m.returncode}), see {m.log_path}"
                )
                continue
            inner = f"{r.inner_s:7.1f}" if r.inner_s is not None else f"{'-':>7}"
            out.append(
                f"{r.tool:<20} {r.mb:6.0f} {m.wall_s:7.1f} {_rate(r.mb, m.wall_s, '7.2f')} "
                f"{_rate(r.docs, m.wall_s, '8,.0f')} {inner} {_rate(r.mb, r.inner_s, '7.2f')} "
                f"{_rate(r.docs, r.inner_s, '8,.0f')} {_mb(m.peak_rss):>7} {_mb(m.peak_pss):>7}"
            )
        nc = group.get("newsclean")
        for other, label in (("datatrove", "ratio nc/dt"), ("baseline", "ratio nc/baseline")):
            b = group.get(other)
            if nc and b and nc.ok and b.ok:
                out.append(_ratio_row(label, nc, b))
    return out


def git_state() -> str:
    """Short commit and whether the work tree is dirty: the code measured."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def machine() -> str:
    """CPU count and RAM, since both bound the figures."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kib = int(fh.readline().split()[1])
        ram = f"{kib * 1024 / 1e9:.0f} GB RAM"
    except (OSError, IndexError, ValueError):
        ram = "RAM unknown"
    return f"{os.cpu_count()} CPUs, {ram}, Python {platform.python_version()}"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--mb", type=float, default=100.0, help="corpus size, MB of text")
    size.add_argument("--sizes", help="comma-separated sizes in MB, e.g. 100,1000")
    ap.add_argument("--format", dest="fmt", choices=("jsonl", "parquet", "csv"), default="jsonl")
    ap.add_argument("--workers", type=int, default=0, help="newsclean workers (0 = its default)")
    ap.add_argument("--no-typos", action="store_true", help="run newsclean without the typo stage")
    ap.add_argument("--batch-size", type=int, default=None, help="newsclean batch size")
    ap.add_argument("--dup-share", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file-mb", type=float, default=25.0, help="MB of text per corpus file")
    ap.add_argument("--vs-datatrove", action="store_true", help="also run the datatrove baseline")
    ap.add_argument(
        "--vs-tree", type=Path, default=None, help="also run another newsclean checkout"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool and size (medians)")
    ap.add_argument("--datatrove-python", default=str(DEFAULT_DT_PYTHON))
    ap.add_argument(
        "--python", default=sys.executable, help="interpreter for newsclean (default: this one)"
    )
    ap.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    ap.add_argument("--keep", action="store_true", help="keep the tools' output folders")
    ap.add_argument("--cli", action="store_true", help="run newsclean as users do: `newsclean run`")
    ap.add_argument(
        "--warm-server",
        action="store_true",
        help="`newsclean run` on a warm Prefect server started before the first run (a second"
        " run); its processes' memory is counted with each run's",
    )
    args = ap.parse_args(argv)
    args.cli = args.cli or args.warm_server
    args.size_list = (
        [float(s) for s in args.sizes.split(",") if s.strip()] if args.sizes else [args.mb]
    )
    if args.vs_datatrove and args.fmt != "jsonl":
        ap.error("--vs-datatrove needs --format jsonl (the baseline reads JSONL only)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print plain-text results; exit 1 if a run failed."""
    args = parse_args(argv)
    work = args.work_dir.resolve()
    started = datetime.now(UTC)
    print(f"newsclean throughput bench, {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}; code: {git_state()}")
    print(f"argv: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    runs: list[ToolRun] = []
    server = start_warm_server() if args.warm_server else None
    try:
        for mb in args.size_list:
            runs += bench_size(args, work, mb, server)
    finally:
        if server is not None and server[1]:
            from newsclean import warm_server  # imported with its settings above

            warm_server.stop()
    print(
        "\nMB = decimal MB of document text; wall = whole command incl. interpreter and"
        " Prefect start-up;\ninner = the tool's own timer; RSS/PSS = peak sums over the"
        " process tree\n(RSS sampled every 50 ms, PSS every 250 ms)."
    )
    if args.repeat > 1:
        print(f"(medians of {args.repeat} runs per tool and size, by wall time)")
    print("\n".join(table(median_runs(runs))))
    return 0 if all(r.ok for r in runs) else 1


def start_warm_server() -> tuple[int, bool]:
    """Start newsclean's warm Prefect server (outside any measured run) as a user's first
    run would; returns its keeper's pid and whether this bench started it."""
    import newsclean.prefect_env  # noqa: F401  (PREFECT_HOME and telemetry, as for runs)
    from newsclean import warm_server

    before = warm_server.status()
    started = time.perf_counter()
    record = before or warm_server.start()
    seconds = time.perf_counter() - started
    print(
        f"warm Prefect server {record['url']} (keeper pid {record['pid']}): "
        + ("already running" if before else f"started in {seconds:.1f} s"),
        flush=True,
    )
    return int(record["pid"]), before is None


def bench_size(
    args: argparse.Namespace, work: Path, mb: float, server: tuple[int, bool] | None
) -> list[ToolRun]:
    """Every tool's runs on the corpus of ``mb`` MB, alternating."""
    runs: list[ToolRun] = []
    corpus, truth, reused = ensure_corpus(
        work, mb, args.fmt, args.dup_share, args.seed, args.file_mb
    )
    raw = corpus / truth.get("raw_dir", "raw")
    warmed, warm_s = warm_page_cache(raw)
    print(f"page cache: read {warmed / MB:,.1f} MB of raw files in {warm_s:.1f} s", flush=True)
    print(
        f"\ncorpus {raw} ({'reused' if reused else 'generated'}): {len(truth['files'])} "
        f"{args.fmt} files, {truth['text_bytes'] / MB:,.1f} MB text, "
        f"{truth['file_bytes'] / MB:,.1f} MB on disk, {truth['n_docs']:,} docs, "
        f"{truth['n_exact_dup_copies']:,} exact copies planted",
        flush=True,
    )
    flow = functools.partial(
        run_newsclean,
        raw_dir=raw,
        truth=truth,
        workers=args.workers,
        batch_size=args.batch_size,
        python=args.python,
        log_dir=work / "logs",
        typos=not args.no_typos,
    )
    for _ in range(args.repeat):
        pair = [
            flow(
                out_dir=work / "out-newsclean",
                cli=args.cli,
                server=(server[0],) if server else (),
            )
        ]
        if args.vs_tree:
            tree = args.vs_tree.resolve()
            pair.append(
                flow(
                    out_dir=work / "out-baseline",
                    tree=tree,
                    tool="baseline",
                    cli=args.cli,
                    server=(server[0],) if server else (),
                )
            )
        if args.vs_datatrove:
            pair.append(
                run_datatrove(
                    raw, work / "out-datatrove", truth, args.datatrove_python, work / "logs"
                )
            )
        for run in pair:
            print("\n".join(describe(run, truth)), flush=True)
        if not args.keep:
            for name in ("out-newsclean", "out-baseline", "out-datatrove"):
                shutil.rmtree(work / name, ignore_errors=True)
        runs += pair
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
