"""Prefect settings that must be in place *before* prefect is imported.

Measured on these machines (docs/prefect.md): without both telemetry switches an exit can hang
on a slow resolver; PREFECT_HOME's parent must exist or the temporary server times out after
20 s; the temporary server needs a generous start-up timeout on a loaded 2-core machine.
Existing environment values always win, so users and CI can point Prefect elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


@contextmanager
def api_for_worker_processes() -> Iterator[str]:
    """Give worker processes (Dask) the API this process uses, for the duration.

    A process that finds no PREFECT_API_URL starts a temporary server of its own: with Dask,
    every worker did (about +5 s and several SQLite writers per run, measured). So the server
    is resolved here first — the configured one, a test harness's, or Prefect's temporary
    server started once, as the flow itself would — and exported to child processes.
    """
    # Lazy, here and below: this module sets Prefect's environment, so it must be importable
    # (and imported) before Prefect is.
    import prefect.settings
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        with _environment(PREFECT_API_URL=configured):
            yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance a flow run would start lazily
    timeout = prefect.settings.PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    server.start(timeout=timeout)
    try:
        with (
            temporary_settings(updates={PREFECT_API_URL: server.api_url}),
            _environment(PREFECT_API_URL=server.api_url),
        ):
            yield server.api_url
            _drain_to_api()
    finally:
        server.stop()


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
