"""Prefect settings that must be in place *before* prefect is imported.

Measured on these machines (docs/prefect.md): without both telemetry switches an exit can hang
on a slow resolver; PREFECT_HOME's parent must exist or the temporary server times out after
20 s; the temporary server needs a generous start-up timeout on a loaded 2-core machine.
Existing environment values always win, so users and CI can point Prefect elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from inspect import isawaitable
from pathlib import Path

DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def configure(home: Path | None = None) -> Path:
    """Set telemetry off and a working PREFECT_HOME; returns the PREFECT_HOME in use."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    chosen = os.environ.get("PREFECT_HOME") or str(home or Path.cwd() / ".prefect")
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(path)
    return path


#: What Prefect's own temporary server (``SubprocessASGIServer``) sets for its process: no UI,
#: an ephemeral, final server.
_SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
SERVER_LOG = "newsclean-temporary-server.log"
#: uvicorn's exit status when its port is in use (Prefect's own start retries on it too).
PORT_TAKEN = 3


class PortTaken(RuntimeError):
    """Another process bound the port chosen for the server before it did: launch again."""


@dataclass
class TemporaryServer:
    """Prefect's temporary API server (the same uvicorn command Prefect runs), started by
    newsclean without importing Prefect.

    Why: when Prefect starts it lazily, inside the flow call, the run first imports Prefect's
    whole server package in-process only to spawn it (1.7 s, measured) and then waits for its
    start (4.1 s) with nothing else to do. Launched as a run's first step, the server boots
    while the run imports Prefect and its worker pool loads the stages' resources; the run
    waits for it (:meth:`wait_ready`) only just before the flow starts. The process is this
    process's child, so the run can tell when it dies (:meth:`exited`). It reads its settings
    from the environment and PREFECT_HOME's profile itself, as any Prefect process does.
    """

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def launch(cls) -> TemporaryServer:
        port = free_port()
        spec = importlib.util.find_spec("prefect")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("prefect is not installed")
        app_dir = Path(next(iter(spec.submodule_search_locations))).parent
        command = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        log = Path(os.environ["PREFECT_HOME"]) / SERVER_LOG
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **_SERVER_ENVIRONMENT},
            )  # fmt: skip
        return cls(process, f"http://127.0.0.1:{port}/api", log)

    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_ready(self, timeout: float | None = None) -> None:
        """Return once the API answers; fail with the server's own output if it exits or
        does not answer in ``timeout`` s (default: Prefect's start-up timeout setting)."""
        limit = timeout or float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
        deadline = time.monotonic() + limit
        while not api_healthy(self.url):
            if self.exited() and self.process.returncode == PORT_TAKEN:
                raise PortTaken(f"port of {self.url} taken before the server could bind it")
            if self.exited():
                raise RuntimeError(
                    f"the temporary Prefect server exited ({self.process.returncode}): "
                    f"{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the temporary Prefect server did not answer in {limit:.0f} s")
            time.sleep(0.05)  # a run waits on this loop; a health check costs a millisecond

    def stop(self) -> None:
        if self.exited():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return " | ".join(lines[-3:]) or f"no output (see {self.log})"


def free_port() -> int:
    """A port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def temporary_api(server: TemporaryServer | None = None) -> Iterator[TemporaryServer]:
    """A temporary Prefect server for the duration, exported as ``PREFECT_API_URL`` to this
    process and its children: ``server`` (launched earlier) or one launched now. Queued logs
    and events are sent before it stops (see :func:`_drain_to_api`)."""
    server = server or TemporaryServer.launch()
    try:
        with _environment(PREFECT_API_URL=server.url):
            yield server
            if "prefect" in sys.modules and not server.exited():
                _drain_to_api()
    finally:
        server.stop()


@contextmanager
def api_for_worker_processes() -> Iterator[str]:
    """Give worker processes (Dask) the API this process uses, for the duration.

    A process that finds no PREFECT_API_URL starts a temporary server of its own: with Dask,
    every worker did (about +5 s and several SQLite writers per run, measured). So the server
    is resolved here first — the configured one, a test harness's, or a temporary server
    started once (:class:`TemporaryServer`) — and exported to child processes.
    """
    # Lazy: this module sets Prefect's environment, so it must be importable (and imported)
    # before Prefect is.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        with _environment(PREFECT_API_URL=configured):
            yield configured
        return
    with temporary_api() as server:
        server.wait_ready()
        with temporary_settings(updates={PREFECT_API_URL: server.url}):  # Prefect is imported
            yield server.url
            _drain_to_api()


@contextmanager
def without_flow_heartbeats() -> Iterator[None]:
    """No flow-run heartbeats for the duration (Prefect's ``flows.heartbeat_frequency``).

    Why: a flow run's heartbeat thread sleeps in one-second steps and the run joins it at its
    end, so every run ended up to 1 s late (0.6 s of the demo's, measured). Heartbeats let a
    server mark a run whose process vanished as crashed; a ``newsclean run`` runs its flow
    in its own process and watches its server itself (:mod:`newsclean.server_watch`), so the
    CLI turns them off for its one run. Deployments served by ``newsclean serve`` keep them.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _drain_to_api() -> None:
    """Send queued logs and events before the server goes: otherwise they are retried against
    a stopped server at exit (a 75 s hang, measured), as prefect_test_harness also avoids."""
    from prefect.events.worker import EventsWorker  # lazy: see api_for_worker_processes
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.instance().drain(), EventsWorker.drain_all()):
            if isawaitable(result):
                await result

    with suppress(RuntimeError):  # a worker that never started has nothing to drain
        run_coro_as_sync(drain())


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


configure()
