"""Peak memory of a whole process tree, sampled from ``/proc`` (Linux only).

Why a sampler at all: ``resource.getrusage`` cannot say what a multi-process run
holds. ``ru_maxrss`` is a per-process maximum, and ``RUSAGE_CHILDREN`` reports the
largest single waited-for descendant, never the sum of workers alive at the same
moment; workers that are children of a fork server or of a Prefect worker pool are
not even waited for before the run ends. Polling ``/proc`` gives the memory the whole
tree really held at its peak.

Why RSS *and* PSS: RSS summed over processes counts pages shared after ``fork`` once
per process, so it overstates the total; PSS (``smaps_rollup``, shared pages split
between their sharers) does not, but it is expensive to read (see
:class:`TreeMemorySampler`), so both are kept.

Why one module for both benchmarks: ``throughput.py`` runs in newsclean's venv,
``datatrove_baseline.py`` in datatrove's own venv, and both need the same sampler.
This module therefore uses the Python 3.11 standard library only, so that it imports
under either interpreter; keep it that way.

How it is imported: ``bench/`` is not a package. The benchmarks are run as scripts
(``python bench/throughput.py``, ``python bench/datatrove_baseline.py``), and Python
puts the script's folder, ``bench/``, at ``sys.path[0]``; so a plain
``from procmem import TreeMemorySampler`` finds this file from any working
directory. Worker processes that multiprocessing starts with ``spawn`` or
``forkserver`` re-import the main script, but they inherit the parent's
``sys.path``, so the import works there too. ``python -m bench.throughput`` would
not put ``bench/`` on the path and is not supported.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

# Substring of a process's command line -> the role shown in the per-process report.
# First match wins; a process matching none is named after its executable.
ROLE_NEEDLES: tuple[tuple[str, str], ...] = (
    ("resource_tracker", "resource-tracker"),
    ("forkserver", "forkserver"),
    ("spawn_main", "worker"),
    ("newsclean.warm_server", "warm-server-keeper"),
    ("uvicorn", "prefect-server"),
    ("prefect", "prefect-server"),
)


class TreeMemorySampler(threading.Thread):
    """Polls ``/proc`` and keeps the peak summed RSS and PSS of a process tree.

    The tree is ``root_pid`` and all its descendants, found anew at every sample
    so that workers started or ended during the run are counted while they live.

    Why a full ``/proc`` scan for the tree: ``/proc/PID/task/*/children`` needs
    ``CONFIG_PROC_CHILDREN``, which not every kernel has (the bench machine's
    lacks it), and a scan of the few hundred pids of a bench machine costs about a
    millisecond.

    Why PSS only every ``pss_every``-th sample: ``smaps_rollup`` walks the page
    tables of every process, which on a 2-core machine costs the measured run
    noticeable CPU when done 20 times a second for processes of several hundred
    MB. RSS (``statm``, a counter read) is sampled every time. ``pss_every=1``
    reads both at every sample.

    Results, valid after :meth:`stop`: ``peak_rss`` and ``peak_pss`` (bytes),
    ``procs_at_peak`` (tree size at the RSS peak), ``at_peak`` (role label and RSS
    of each process at the RSS peak), ``peak_time`` (its wall-clock time),
    ``max_procs``, ``samples`` and ``cpu_seconds`` (the sampler's own CPU time: its cost
    to the measured run); :meth:`cpu_by_role`, the CPU seconds each role's processes used.

    Why CPU per role: on a 2-core machine a process beside the workers (the Prefect
    server starting up, the main process importing Prefect) takes CPU the workers need,
    and the wall time shows only the sum. ``utime + stime`` of each process is read from
    the same ``stat`` line that gives its parent, so it costs nothing extra; a process's
    last interval before it exits (at most ``interval`` s of CPU) is not seen.
    """

    def __init__(
        self,
        root_pid: int,
        interval: float = 0.05,
        pss_every: int = 5,
        extra_roots: tuple[int, ...] = (),
    ) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        #: Other trees the run uses and pays for (a warm Prefect server it talks to).
        self.extra_roots = extra_roots
        self.interval = interval
        self.pss_every = max(1, pss_every)
        self.peak_rss = 0
        self.peak_pss = 0
        self.procs_at_peak = 0
        self.at_peak: list[tuple[str, int]] = []  # (process label, RSS) at the RSS peak
        self.peak_time = 0.0  # wall clock (time.time()) of the RSS peak
        self.max_procs = 0
        self.samples = 0
        self.cpu_seconds = 0.0
        self._stop_event = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._ticks_per_s = os.sysconf("SC_CLK_TCK")
        self._ticks: dict[int, int] = {}  # pid -> the most utime + stime seen
        #: utime + stime at the first sample of the processes that were already running (the
        #: warm server's): only what they use from then on is the run's.
        self._ticks_before: dict[int, int] = {}
        self._labels: dict[int, str] = {}  # pid -> role, read once per process

    def _tree(self) -> list[int]:
        """Pids of ``root_pid``, the ``extra_roots`` and all their descendants, root first."""
        children: dict[int, list[int]] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    # comm (field 2) may contain spaces and ')': split after the last ')'
                    fields = fh.read().rsplit(")", 1)[1].split()
                ppid, used = int(fields[1]), int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue  # exited between listdir and open
            children.setdefault(ppid, []).append(int(entry))
            ticks[int(entry)] = used
        pids = _descendants([*reversed(self.extra_roots), self.root_pid], children)
        if self.samples == 0:
            running = _descendants(list(self.extra_roots), children)
            self._ticks_before = {pid: ticks[pid] for pid in running if pid in ticks}
        for pid in pids:
            if pid in ticks:
                self._ticks[pid] = max(self._ticks.get(pid, 0), ticks[pid])
        return pids

    def _rss(self, pid: int) -> int:
        """Resident bytes of ``pid``; 0 if it has exited."""
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                return int(fh.read().split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def _pss(pid: int) -> int:
        """Proportional set size of ``pid`` in bytes; 0 if it has exited."""
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            pass
        return 0

    def sample(self) -> None:
        """Take one sample of the tree (may also be called once more after a run)."""
        pids = self._tree()
        per_pid = [(p, self._rss(p)) for p in pids]
        for pid in pids:
            self._label(pid)
        rss = sum(r for _, r in per_pid)
        if self.samples % self.pss_every == 0:
            self.peak_pss = max(self.peak_pss, sum(self._pss(p) for p in pids))
        self.samples += 1
        self.max_procs = max(self.max_procs, len(pids))
        if rss > self.peak_rss:
            self.peak_rss, self.procs_at_peak = rss, len(pids)
            self.peak_time = time.time()
            self.at_peak = [(self._label(p), r) for p, r in per_pid]

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds (user + system) per role, summed over the processes seen; for a
        process that was running before the first sample (the warm server), only what it
        used after it (counting its whole life charged a run with the server's start-up:
        25-29 s instead of 3 s, seen 2026-12-03)."""
        roles: dict[str, float] = {}
        for pid, used in self._ticks.items():
            role = self._label(pid)
            since = used - self._ticks_before.get(pid, 0)
            roles[role] = roles.get(role, 0.0) + since / self._ticks_per_s
        return roles

    def _label(self, pid: int) -> str:
        """Short role name of a process (read once per pid: a process that has exited
        keeps the role it was first seen with)."""
        if pid not in self._labels:
            self._labels[pid] = self._read_label(pid)
        return self._labels[pid]

    def _read_label(self, pid: int) -> str:
        if pid == self.root_pid:
            return "main"
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return "?"
        for needle, label in ROLE_NEEDLES:
            if needle in cmd:
                return label
        return Path(cmd.split(" ", 1)[0]).name or "?"

    def run(self) -> None:
        """Sample until stopped."""
        t0 = time.thread_time()
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)
        self.cpu_seconds = time.thread_time() - t0

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop_event.set()
        self.join()


def _descendants(roots: list[int], children: dict[int, list[int]]) -> list[int]:
    """``roots`` and all their descendants, the last root first."""
    pids, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def measure(cmd: list[str], log: Path, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd`` to completion with its output in ``log``, timing it and sampling its
    process tree's peak RSS; a failure stops the bench with the log's last lines."""
    import subprocess

    with open(log, "w", encoding="utf-8") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=sink, cwd=cwd)
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - started
        sampler.stop()
    if proc.returncode:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"{' '.join(cmd[:4])} failed (exit {proc.returncode}); {log}:\n{tail}")
    return {"wall_seconds": round(wall, 2), "peak_rss_mb": round(sampler.peak_rss / 1e6)}
